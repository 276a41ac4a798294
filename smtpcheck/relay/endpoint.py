"""Where a host's mail goes: the relay endpoint derived from its credential file.

A :class:`~smtpcheck.credentials.model.DeployedSmtp` already says what the application would do:
for Joomla the host, effective port (25 when the toolkit's ``smtp_port`` is ignored) and TLS mode
of ``smtpsecure``; for the labelled files (WordPress, Moodle, Drupal) the provider code and port
465, with no host (the provider's endpoint is used; SES region eu-west-1 as in the toolkit).
:func:`resolve_endpoint` turns that into a :class:`RelayEndpoint`, the unit the relay controls
(SPEC §4, SMTP-01…05) are evaluated on, or an :class:`EndpointProblem` when none can be derived.

Operator and lab overrides come from the provider's config table (``[providers.<key>]``; these
keys, :data:`~smtpcheck.providers.RELAY_KEYS`, land in ``Provider.extra``; a key no layer reads
is refused when the configuration is loaded):

``connect_address = "127.0.0.1"``
    Connect to this address instead of resolving the host name. SNI and the certificate check
    still use the host name, so a lab relay for ``in-v3.mailjet.com`` on 127.0.0.1 must present
    a certificate for ``in-v3.mailjet.com`` (issued by a CA in ``ca_file``).
``port_map = {465 = 10465, 587 = 10587}``
    Connect to the mapped port; findings still name the deployed port.
``ca_file = "/etc/ssl/lab-ca.pem"``
    Trust only the CAs in this PEM bundle: it *replaces* the system trust store (a relay with a
    publicly trusted certificate then fails verification unless its CA is in the file).
    Verification is never turned off. A file that holds no PEM certificate is refused.
``timeout = 20``
    Seconds allowed for each network operation of a session (default 30; finite, up to a day).
``ehlo_name = "checker.example.com"``
    The name announced in EHLO (RFC 5321 §4.1.1.1; default: this machine's host name).
``settings_port = 587``
    With no hosts, the port the build-time settings are tested on; one of the provider's
    ``ports`` (default: :meth:`~smtpcheck.providers.Provider.preferred_port`, implicit TLS 465
    when the provider serves it). Hosts are always tested on the port their application uses.
"""

from __future__ import annotations

import ssl
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.errors import ConfigError
from smtpcheck.providers import (
    Provider,
    ProviderCatalogue,
    TlsMode,
    default_tls,
    parse_port,
    parse_seconds,
)
from smtpcheck.secrets import fingerprint

DEFAULT_TIMEOUT = 30.0


@dataclass(frozen=True)
class RelayOverrides:
    """The relay-layer settings of one provider's config table, validated."""

    connect_address: str | None = None
    port_map: tuple[tuple[int, int], ...] = ()
    ca_file: str | None = None
    timeout: float | None = None
    ehlo_name: str | None = None
    settings_port: int | None = None


def _optional_str(key: str, extra: Mapping[str, Any], name: str) -> str | None:
    value = extra.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ConfigError(f"providers.{key}.{name} must be a string")
    return value


def relay_overrides(provider: Provider) -> RelayOverrides:
    """The relay overrides in ``provider.extra``; a ConfigError names the bad key.

    When the configuration is loaded, :func:`checked_relay_overrides` also reads the CA file.
    """
    extra, key = provider.extra, provider.key
    raw_map = extra.get("port_map", {})
    if not isinstance(raw_map, Mapping):
        raise ConfigError(f"providers.{key}.port_map must be a table like {{465 = 10465}}")
    where = f"providers.{key}.port_map"
    port_map = tuple(
        sorted((parse_port(k, where), parse_port(v, where)) for k, v in raw_map.items())
    )
    timeout = extra.get("timeout")
    if timeout is not None:
        timeout = parse_seconds(timeout, f"providers.{key}.timeout")
    ca_file = _optional_str(key, extra, "ca_file")
    if ca_file is not None and not Path(ca_file).is_file():
        raise ConfigError(f"providers.{key}.ca_file: {ca_file} is not a readable file")
    tested_port = extra.get("settings_port")
    if tested_port is not None:
        tested_port = _settings_port(provider, tested_port)
    return RelayOverrides(
        connect_address=_optional_str(key, extra, "connect_address"),
        port_map=port_map,
        ca_file=ca_file,
        timeout=timeout,
        ehlo_name=_optional_str(key, extra, "ehlo_name"),
        settings_port=tested_port,
    )


def checked_relay_overrides(provider: Provider) -> RelayOverrides:
    """:func:`relay_overrides`, and the CA file loaded as the session will load it (a PEM
    bundle of certificates: ``/etc/passwd`` is refused). Call it when the configuration is
    loaded, so that a bad value is exit status 2 before any host or relay is contacted."""
    overrides = relay_overrides(provider)
    if overrides.ca_file is not None:
        _check_ca_file(provider.key, overrides.ca_file)
    return overrides


def _check_ca_file(key: str, ca_file: str) -> None:
    where = f"providers.{key}.ca_file"
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except ssl.SSLError as exc:
        reason = (exc.reason or str(exc)).replace("_", " ").lower()
        raise ConfigError(
            f"{where}: {ca_file} is not a PEM certificate bundle ({reason})"
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where}: cannot read {ca_file} ({exc})") from None
    if not context.cert_store_stats()["x509"]:  # e.g. only a CRL: nothing would be trusted
        raise ConfigError(f"{where}: {ca_file} is not a PEM certificate bundle (no certificate)")


def _settings_port(provider: Provider, value: object) -> int:
    where = f"providers.{provider.key}.settings_port"
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ConfigError(f"{where} must be a port number")
    port = parse_port(value, where)
    if port not in provider.ports:
        served = ", ".join(str(p) for p in sorted(provider.ports))
        raise ConfigError(
            f"{where}: {provider.name} declares no port {port} (its ports: {served}); "
            f"add it to providers.{provider.key}.ports with its tls mode"
        )
    return port


def settings_port(provider: Provider) -> int:
    """The port the build-time settings are tested on with no hosts: ``settings_port`` if the
    operator set it, else the provider's preferred TLS port (implicit 465 when served)."""
    return relay_overrides(provider).settings_port or provider.preferred_port().port


@dataclass(frozen=True)
class RelayEndpoint:
    """One relay endpoint as an application on the host would use it. Frozen and hashable."""

    host: str  # the name the application uses: SNI and certificate host name (RFC 6125)
    port: int  # the deployed (effective) port
    tls: TlsMode  # as the application would connect; NONE is a defect, never attempted
    provider_key: str | None = None
    provider_name: str | None = None
    region: str | None = None  # SES: from the host name
    auth_mechanisms: tuple[str, ...] = ()  # the provider's, in order of preference
    connect_address: str | None = None
    connect_port: int | None = None  # from port_map; None: the deployed port
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    ehlo_name: str | None = None
    notes: tuple[str, ...] = ()  # facts about the endpoint worth a line of evidence

    @property
    def dial_port(self) -> int:
        """The port actually connected to."""
        return self.connect_port or self.port

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class EndpointProblem:
    """No endpoint can be derived from a credential file; evaluated as a failing SMTP-01."""

    target: str
    reason: str
    remediation: str


def _current(provider: Provider | None, catalogue: ProviderCatalogue) -> Provider | None:
    """The provider as this run's catalogue has it (overrides applied)."""
    if provider is None:
        return None
    return catalogue.get(provider.key) or provider


def _is_joomla(deployed: DeployedSmtp) -> bool:
    return deployed.source.endswith("configuration.php")


def _notes(
    deployed: DeployedSmtp, port: int, provider: Provider | None, host: str, tls: TlsMode
) -> list[str]:
    notes: list[str] = []
    if provider is None:
        notes.append(f"{host} is not a relay of any provider in the catalogue")
    elif port not in provider.ports:
        served = ", ".join(str(p) for p in sorted(provider.ports))
        notes.append(f"{provider.name} is not known to serve port {port} (known: {served})")
    else:
        profile = provider.ports[port]
        if tls is not TlsMode.NONE and profile.tls is not tls:
            notes.append(
                f"{provider.name} serves port {port} with {profile.tls.value} TLS, "
                f"the application would use {tls.value}"
            )
    if port == 25 and _is_joomla(deployed):
        notes.append(
            "port 25 is Joomla's default when configuration.php sets no $smtpport "
            "(the toolkit's generation C writes $smtp_port, which Joomla ignores)"
        )
    if tls is TlsMode.NONE:
        notes.append("the application would send AUTH without TLS")
    return notes


def resolve_endpoint(
    deployed: DeployedSmtp, catalogue: ProviderCatalogue
) -> RelayEndpoint | EndpointProblem:
    """The relay endpoint the host's application would use, with the provider's overrides."""
    provider = _current(deployed.provider, catalogue)
    if provider is None and deployed.host:
        provider = catalogue.for_host(deployed.host)
    host = (deployed.host or (provider.endpoint if provider else "")).strip().rstrip(".")
    source = f"{deployed.source} ({deployed.shape})"
    if not host:
        return EndpointProblem(
            target=deployed.source,
            reason=f"{source} names neither a known provider nor a relay host",
            remediation="Set EMAIL PROVIDER to 1 (SendPulse), 2 (Mailjet) or 3 (Amazon SES), "
            "or for Joomla $smtphost to the provider's relay host.",
        )
    if deployed.port is None:
        return EndpointProblem(
            target=host,
            reason=f"{source} gives no usable port for {host}",
            remediation="Set the port to the provider's implicit-TLS submission port 465 "
            "(RFC 8314) — for Joomla under $smtpport, the property Joomla reads.",
        )
    tls = deployed.tls or (
        provider.tls_for(deployed.port) if provider else default_tls(deployed.port)
    )
    overrides = relay_overrides(provider) if provider else RelayOverrides()
    return RelayEndpoint(
        host=host.lower(),
        port=deployed.port,
        tls=tls,
        provider_key=provider.key if provider else None,
        provider_name=provider.name if provider else None,
        region=provider.region(host) if provider else None,
        auth_mechanisms=provider.auth_mechanisms if provider else (),
        connect_address=overrides.connect_address,
        connect_port=dict(overrides.port_map).get(deployed.port),
        ca_file=overrides.ca_file,
        timeout=overrides.timeout or DEFAULT_TIMEOUT,
        ehlo_name=overrides.ehlo_name,
        notes=tuple(_notes(deployed, deployed.port, provider, host, tls)),
    )


@dataclass(frozen=True)
class RelayJobKey:
    """What makes two hosts' relay tests the same test: endpoint, user, password, from.

    The password enters as a salted fingerprint (:func:`smtpcheck.secrets.fingerprint`), so the
    key can be printed, logged and hashed. The salt is per process: group in one process.
    """

    endpoint: RelayEndpoint
    username: str | None
    password: str | None  # a fingerprint, never the password
    from_address: str | None


def relay_job_key(endpoint: RelayEndpoint, deployed: DeployedSmtp) -> Hashable:
    """The grouping key: hosts with equal keys send one test message between them (SPEC §4)."""
    password = fingerprint(deployed.password) if deployed.password else None
    return RelayJobKey(endpoint, deployed.username, password, deployed.from_address)


def short_user(username: str | None) -> str:
    """A user name shortened for a target label (API keys are long; they are not secrets)."""
    if not username:
        return "no user"
    return username if len(username) <= 12 else username[:8] + "…"


def relay_target(endpoint: RelayEndpoint, deployed: DeployedSmtp) -> str:
    """The readable target of the relay findings, e.g. ``in-v3.mailjet.com:465 (user 0123abcd…,
    from noreply@example.com)``. The password is never part of it."""
    sender = f", from {deployed.from_address}" if deployed.from_address else ""
    return f"{endpoint} (user {short_user(deployed.username)}{sender})"


@dataclass(frozen=True)
class RelayJob:
    """One relay test to run, and the hosts whose credential files it stands for."""

    endpoint: RelayEndpoint
    deployed: DeployedSmtp  # the first host's settings (all hosts of the job share them)
    hosts: tuple[str, ...]


def plan_relay_jobs(
    deployments: Iterable[tuple[str, DeployedSmtp]], catalogue: ProviderCatalogue
) -> tuple[list[RelayJob], list[tuple[str, EndpointProblem]]]:
    """Group ``(host, deployed)`` pairs into one job per :func:`relay_job_key`.

    Returns the jobs in first-seen order and, per host, the endpoint problems.
    """
    jobs: dict[Hashable, RelayJob] = {}
    problems: list[tuple[str, EndpointProblem]] = []
    for host, deployed in deployments:
        endpoint = resolve_endpoint(deployed, catalogue)
        if isinstance(endpoint, EndpointProblem):
            problems.append((host, endpoint))
            continue
        key = relay_job_key(endpoint, deployed)
        job = jobs.get(key)
        jobs[key] = (
            RelayJob(endpoint, deployed, (host,))
            if job is None
            else RelayJob(job.endpoint, job.deployed, (*job.hosts, host))
        )
    return list(jobs.values()), problems
