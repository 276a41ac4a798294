"""The relay tests of a run: one per distinct credential set across the fleet (SPEC §4).

Hosts that share (endpoint, user, password, from) send one message between them, on the port
their application uses. With no hosts, the build-time settings themselves are tested against the
provider's endpoint, on a port the provider declares: its ``settings_port`` if the operator set
one, else its preferred TLS port (implicit TLS on 465 when it serves 465, else STARTTLS on 587).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace

from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.providers import ProviderCatalogue
from smtpcheck.relay.delivery import Delivery
from smtpcheck.relay.endpoint import (
    EndpointProblem,
    RelayEndpoint,
    plan_relay_jobs,
    relay_target,
    settings_port,
)
from smtpcheck.relay.model import RelaySession
from smtpcheck.relay.network import Resolver
from smtpcheck.relay.session import run_relay_session, session_for_problem
from smtpcheck.settings import Expected


@dataclass(frozen=True)
class RelayTarget:
    """One relay test: an endpoint (or why none could be derived) and who shares it."""

    name: str
    deployed: DeployedSmtp
    hosts: tuple[str, ...]
    endpoint: RelayEndpoint | None = None
    problem: EndpointProblem | None = None


@dataclass(frozen=True)
class RelayEvidence:
    """What SMTP-01…05 judge for one target."""

    session: RelaySession
    delivery: Delivery | None  # None: no mailbox configured (SMTP-05 is opt-in)


def deployed_from_settings(expected: Expected) -> DeployedSmtp | None:
    """The build-time settings as a credential set, when they are complete enough to send, on
    the provider's :func:`~smtpcheck.relay.endpoint.settings_port` with the TLS mode its
    profile declares there (a STARTTLS-only relay is not tested with implicit TLS on 465)."""
    provider = expected.provider
    if provider is None or not expected.username or expected.password is None:
        return None
    port = settings_port(provider)
    return DeployedSmtp(
        source="build-time settings",
        shape="SYSTEM_EMAIL_* settings",
        provider=provider,
        host=None,
        port=port,
        tls=provider.tls_for(port),
        username=expected.username,
        password=expected.password,
        from_address=expected.from_address,
    )


def plan_relay_targets(
    deployments: Iterable[tuple[str, DeployedSmtp]], catalogue: ProviderCatalogue
) -> list[RelayTarget]:
    """One target per relay job, then one per host whose endpoint could not be derived.

    Names are unique: two credential sets that differ only in their password get a suffix.
    """
    deployed = list(deployments)
    jobs, problems = plan_relay_jobs(deployed, catalogue)
    by_host = dict(deployed)
    targets = [
        RelayTarget(relay_target(j.endpoint, j.deployed), j.deployed, j.hosts, j.endpoint)
        for j in jobs
    ]
    targets += [RelayTarget(p.target, by_host[host], (host,), problem=p) for host, p in problems]
    counts = Counter(target.name for target in targets)
    seen: Counter[str] = Counter()
    unique = []
    for target in targets:
        seen[target.name] += 1
        if counts[target.name] > 1:
            target = replace(target, name=f"{target.name} [credential set {seen[target.name]}]")
        unique.append(target)
    return unique


def run_relay_target(
    target: RelayTarget, *, recipient: str | None, send: bool, resolve: Resolver
) -> RelaySession:
    """The SMTP session of one target (never raises for a relay problem)."""
    if target.endpoint is None:
        assert target.problem is not None
        return session_for_problem(
            target.problem, target.deployed, recipient=recipient, send=send, hosts=target.hosts
        )
    return run_relay_session(
        target.endpoint,
        target.deployed,
        recipient=recipient,
        send=send,
        dns_resolve=resolve,
        hosts=target.hosts,
        target=target.name,
    )
