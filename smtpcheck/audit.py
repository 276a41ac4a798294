"""One audit run: what was asked, what was observed (each thing once), and the result.

Observation is the expensive part (SSH, DNS, SMTP). It happens here, concurrently, at most once
per host however many controls read it; the controls in ``checks/`` only evaluate.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from smtpcheck.catalogue import Layer
from smtpcheck.config import AuditConfig
from smtpcheck.credentials.controls import host_evidence
from smtpcheck.credentials.evaluate import HostEvidence
from smtpcheck.credentials.host import probe_plan
from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.credentials.system import system_mail_deployments
from smtpcheck.findings import Finding, Status
from smtpcheck.history import compare, key_id, load_or_create_key, read_trend
from smtpcheck.mailauth.client import DnsClient
from smtpcheck.mailauth.domain import DomainFacts, fetch_all_domain_facts, sending_domains
from smtpcheck.mailauth.resolver import make_dns_client
from smtpcheck.mailauth.zonefile import load_zone_file
from smtpcheck.providers import Provider
from smtpcheck.relay.delivery import MailboxSettings, fetch_delivery, mailbox_settings
from smtpcheck.relay.network import dns_resolve
from smtpcheck.relay.targets import (
    RelayEvidence,
    RelayTarget,
    deployed_from_settings,
    plan_relay_targets,
    run_relay_target,
)
from smtpcheck.remote.facts import (
    ConnectionFactory,
    HostObservation,
    fetch_host_facts,
    open_connection,
)
from smtpcheck.result import AuditResult
from smtpcheck.scope import DomainScope, HostScope, RelayScope, Scope
from smtpcheck.secrets import REDACTOR, Secret, environment, use_fingerprint_key
from smtpcheck.targets import HostTarget


@dataclass(frozen=True)
class DomainTarget:
    """A sending domain to check, with the provider that sends for it."""

    name: str
    provider: Provider | None
    used_by: tuple[str, ...]  # where the domain came from: hosts, settings, --domain


def build_dns_client(config: AuditConfig) -> DnsClient:
    """One client per run (each question asked once); a zone file answers for its own zone."""
    client = make_dns_client(
        config.nameservers, timeout=config.dns_timeout, retries=config.dns_retries
    )
    if config.zone_file is not None:
        return load_zone_file(config.zone_file, fallback=client)
    return client


def _size_text(size: int) -> str:
    return f"{size // 1024} KiB" if size >= 1024 and size % 1024 == 0 else f"{size} bytes"


class Audit:
    """The state of one run, shared by the plugin, the checks and the CLI."""

    def __init__(
        self,
        config: AuditConfig,
        environ: Mapping[str, str] | None = None,
        *,
        connect: ConnectionFactory = open_connection,
    ) -> None:
        self.config = config
        self.environ = environment(environ)  # its repr shows no value (tracebacks, -l)
        self.connect = connect
        self.fingerprint_key = _fingerprint_key(config)
        use_fingerprint_key(self.fingerprint_key)  # before any fingerprint is made
        # how pytest narrowed the controls (-k/-m, or checks not run): set at the session's end
        self.selection: str | None = None
        self.collects_elsewhere = False  # the pytest-xdist controller: workers collect
        # a line per target as it finishes, with how many have, of how many
        self.progress: Callable[[str, int, int], None] | None = None
        self._finished = 0
        self._expected: Counter[str] = Counter()  # controls to evaluate per target
        self._recorded: dict[str, list[Finding]] = {}
        self.durations: dict[tuple[str, str], float] = {}  # (control, target) -> seconds
        self.started_at = datetime.now(UTC)
        self.findings: list[Finding] = []
        self.result: AuditResult | None = None
        self.nothing_evaluated = False  # the session ended without one finding
        self._lock = threading.RLock()  # re-entered: domain targets need the hosts' facts
        self._observations: dict[str, HostObservation] | None = None
        self._pending: dict[str, Future[HostObservation]] | None = None  # being observed
        self._pool: ThreadPoolExecutor | None = None  # observing them
        self._evidence: dict[str, HostEvidence] = {}
        self.dns = build_dns_client(config)  # a bad zone file is a ConfigError here
        self._domains: tuple[DomainTarget, ...] | None = None
        self._domain_facts: dict[str, DomainFacts] | None = None
        mailbox = config.sections.get("mailbox")
        self.mailbox: MailboxSettings | None = (
            mailbox_settings(mailbox, self.environ) if mailbox is not None else None
        )  # a bad [mailbox] table, or its password variable unset, is a ConfigError here
        self._relays: tuple[RelayTarget, ...] | None = None
        self._relay_evidence: dict[str, RelayEvidence] | None = None

    @property
    def host_targets(self) -> tuple[HostTarget, ...]:
        """Hosts whose credential controls run (the host layer)."""
        return self.config.targets if Layer.HOST in self.config.layers else ()

    def start_observing(self) -> None:
        """Start observing every host, ``--jobs`` at a time, without waiting: the checks of
        the first hosts run while later ones are observed (each host once, in target order)."""
        with self._lock:
            if self._observations is not None or self._pending is not None:
                return
            targets = self.config.targets
            workers = max(1, min(self.config.jobs, len(targets)))
            pool = ThreadPoolExecutor(workers, thread_name_prefix="smtpcheck-host")
            self._pending = {t.name: pool.submit(self._observe, t) for t in targets}
            pool.shutdown(wait=False)  # the queued hosts are still observed; then it ends
            self._pool = pool

    def stop_observing(self) -> None:
        """The session has ended (its checks are done, or it was interrupted or stopped early):
        hosts still queued are not connected to any more, and the process does not wait for
        them to exit; a host being observed finishes (its timeouts bound it)."""
        with self._lock:
            pool = self._pool
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)

    def observe_hosts(self) -> Mapping[str, HostObservation]:
        """Every host observed once, ``--jobs`` at a time; later calls return the same facts."""
        with self._lock:
            if self._observations is None:
                self.start_observing()
                pending = self._pending or {}
                self._observations = {name: done.result() for name, done in pending.items()}
            return self._observations

    def _observation(self, name: str) -> HostObservation:
        """One host's facts, waiting for that host only."""
        with self._lock:
            if self._observations is not None:
                return self._observations[name]
            self.start_observing()
            pending = (self._pending or {})[name]
        return pending.result()

    @property
    def needs_observations(self) -> bool:
        """Whether any layer that runs reads the hosts' facts (relay targets do too, but the
        relay layer never runs split across processes)."""
        layers = self.config.layers
        return bool(self.config.targets) and (Layer.HOST in layers or Layer.DNS in layers)

    def adopt_observations(self, observations: Mapping[str, HostObservation]) -> None:
        """Use facts another process of this run gathered (the pytest-xdist controller's),
        so that this one connects to no host."""
        with self._lock:
            self._observations = dict(observations)

    def _observe(self, target: HostTarget) -> HostObservation:
        return fetch_host_facts(
            target,
            self.config.ssh,
            self.environ,
            probe_plan(target),
            connect=self.connect,
            max_bytes=self.config.max_file_bytes,
        )

    def host_evidence(self, target: HostTarget) -> HostEvidence:
        """The observation of ``target`` and the reading of its credential file (cached)."""
        observation = self._observation(target.name)
        with self._lock:
            cached = self._evidence.get(target.name)
            if cached is not None:
                return cached
            evidence = host_evidence(
                observation,
                self.config.expected,
                self.config.providers,
                web_users=self.config.web_users,
                max_note=_size_text(self.config.max_file_bytes),
                require_app_file=self.config.require_credential_file,
            )
            self._evidence[target.name] = evidence
            return evidence

    def domain_targets(self) -> tuple[DomainTarget, ...]:
        """Every sending domain once: the build-time from-address's, --domain, and the
        from-address of each way a host sends (its application, its system mail). Finding the
        hosts' ones means observing the hosts."""
        if Layer.DNS not in self.config.layers:
            return ()
        if self._domains is None:
            self._domains = tuple(self._derive_domains())
        return self._domains

    def _derive_domains(self) -> list[DomainTarget]:
        expected = self.config.expected
        used_by: dict[str, list[str]] = {}
        providers: dict[str, list[Provider]] = {}
        shard = self.config.shard
        if expected.from_domain and (shard is None or shard.first):  # one shard checks it
            used_by.setdefault(expected.from_domain, []).append("build-time settings")
            if expected.provider is not None:
                providers.setdefault(expected.from_domain, []).append(expected.provider)
        for domain in self.config.domains if shard is None or shard.first else ():
            used_by.setdefault(domain, []).append("--domain")
        for target in self.config.targets:
            for who, deployed in self._sending_paths(target):
                if not deployed.from_address:
                    continue
                for domain in sending_domains([deployed.from_address]):
                    used_by.setdefault(domain, []).append(who)
                    if deployed.provider is not None:
                        providers.setdefault(domain, []).append(deployed.provider)
        return [
            DomainTarget(
                name=domain,
                provider=next(iter(providers.get(domain, [])), expected.provider),
                used_by=tuple(dict.fromkeys(sources)),
            )
            for domain, sources in used_by.items()
        ]

    def _deployed(self, target: HostTarget) -> DeployedSmtp | None:
        reading = self.host_evidence(target).reading
        return reading.deployed if reading is not None else None

    def domain_facts(self, target: DomainTarget) -> DomainFacts:
        """The DNS facts of ``target``; all domains are fetched together on first use."""
        with self._lock:
            if self._domain_facts is None:
                domains = self.domain_targets()
                facts = fetch_all_domain_facts([(d.name, d.provider) for d in domains], self.dns)
                self._domain_facts = {d.name: f for d, f in zip(domains, facts, strict=True)}
            return self._domain_facts[target.name]

    def relay_targets(self) -> tuple[RelayTarget, ...]:
        """One relay test per distinct credential set on the hosts (each host's deployed
        values), or, with no hosts, the build-time settings themselves."""
        if Layer.RELAY not in self.config.layers:
            return ()
        if self._relays is None:
            deployments = [
                path for target in self.config.targets for path in self._sending_paths(target)
            ]
            if not self.config.targets:
                settings = deployed_from_settings(self.config.expected)
                deployments = [("build-time settings", settings)] if settings else []
            relays = plan_relay_targets(deployments, self.config.providers)
            if self.config.shard is not None:  # "credential set 2" is numbered per shard
                suffix = f" (shard {self.config.shard})"
                relays = [replace(target, name=target.name + suffix) for target in relays]
            self._relays = tuple(relays)
        return self._relays

    def _sending_paths(self, target: HostTarget) -> list[tuple[str, DeployedSmtp]]:
        """Each way ``target`` sends with credentials: its application (when the application
        can load its file), named by the host, and its system mail, "host (system mail: …)"."""
        evidence = self.host_evidence(target)
        paths = []
        deployed = self._deployed(target)
        loadable = evidence.reading is None or evidence.reading.loadable is not False
        if deployed is not None and deployed.username and deployed.password and loadable:
            paths.append((target.name, deployed))
        return paths + system_mail_deployments(evidence)

    def _derived_domains(self) -> tuple[DomainTarget, ...] | None:
        """The domain targets this session derived (None: none), or, in the xdist controller,
        those its workers derived (derived again here from the same facts)."""
        if self._domains is None and self.collects_elsewhere:
            with contextlib.suppress(Exception):  # its error finding is already recorded
                self.domain_targets()
        return self._domains

    def planned_targets(self) -> dict[Layer, tuple[str, ...] | None]:
        """Each layer run's target names, as far as this session derived them: None for a
        layer whose targets it never derived (none of that layer's checks was collected)."""
        planned: dict[Layer, tuple[str, ...] | None] = {}
        if Layer.HOST in self.config.layers:
            planned[Layer.HOST] = tuple(target.name for target in self.config.targets)
        if Layer.DNS in self.config.layers:
            domains = self._derived_domains()
            planned[Layer.DNS] = None if domains is None else tuple(d.name for d in domains)
        if Layer.RELAY in self.config.layers:
            relays = self._relays
            planned[Layer.RELAY] = None if relays is None else tuple(r.name for r in relays)
        return planned

    def relay_evidence(self, target: RelayTarget) -> RelayEvidence:
        """The session (and delivery) of ``target``; every target runs together on first use."""
        with self._lock:
            if self._relay_evidence is None:
                self._relay_evidence = self._run_relays(self.relay_targets())
            return self._relay_evidence[target.name]

    def _run_relays(self, targets: tuple[RelayTarget, ...]) -> dict[str, RelayEvidence]:
        resolve = dns_resolve(self.dns)
        recipient, send = self.config.expected.to_address, not self.config.no_send
        workers = max(1, min(self.config.jobs, len(targets)))
        with ThreadPoolExecutor(workers, thread_name_prefix="smtpcheck-relay") as pool:
            sessions = list(pool.map(
                lambda t: run_relay_target(t, recipient=recipient, send=send, resolve=resolve),
                targets,
            ))  # fmt: skip
            mailbox = self.mailbox
            deliveries = list(pool.map(
                lambda s: fetch_delivery(mailbox, s.token, sent_at=s.sent_at, dkim_dns=self.dns)
                if mailbox is not None and s.accepted and s.token else None,
                sessions,
            ))  # fmt: skip
        return {
            target.name: RelayEvidence(session, delivery)
            for target, session, delivery in zip(targets, sessions, deliveries, strict=True)
        }

    def expect(self, targets: Iterable[str]) -> None:
        """The targets of the controls about to run, one per control: each target's line is
        printed once all of its controls have a finding."""
        self._expected = Counter(targets)

    def record(self, finding: Finding) -> None:
        with self._lock:
            self.findings.append(finding)
            done = self._recorded.setdefault(finding.target, [])
            done.append(finding)
            if len(done) == self._expected.get(finding.target):
                self._finished += 1
                if self.progress is not None:
                    line = self._finished_line(finding.target, done)
                    self.progress(line, self._finished, len(self._expected))

    def _finished_line(self, target: str, findings: list[Finding]) -> str:
        counts = Counter(f.status.value for f in findings)
        shown = ", ".join(f"{counts[s.value]} {s.value}" for s in Status if counts[s.value])
        seconds = (datetime.now(UTC) - self.started_at).total_seconds()
        return f"{target}: {shown} ({seconds:.1f} s)"

    def scope(self) -> Scope:
        """What this run covered, from what it derived (nothing is observed for it)."""
        config = self.config
        relays = self._relays or ()
        domains = self._derived_domains()
        return Scope(
            layers=tuple(layer for layer in Layer if layer in config.layers),
            hosts=tuple(
                HostScope(t.name, t.url, t.app.value, self._generation(t.name))
                for t in config.targets
            ),
            domains=tuple(
                DomainScope(d.name, d.provider.name if d.provider else None, d.used_by)
                for d in domains or ()
            ),
            relays=tuple(_relay_scope(r) for r in relays),
            expected_sources=config.expected.sources,
            no_send=config.no_send,
            delivery=self.mailbox is not None,
            selection=self.selection,
            fingerprint_key=self._key_id(),
            shard=str(config.shard) if config.shard is not None else None,
        )

    def _key_id(self) -> str | None:
        key = self.fingerprint_key
        return key_id(bytes.fromhex(key.reveal())) if key is not None else None

    def _generation(self, name: str) -> str:
        evidence = self._evidence.get(name)
        if evidence is None:
            return "not observed"
        if evidence.app_file is None:
            return "not reached"
        if evidence.app_file.generation is not None:
            return evidence.app_file.generation
        if evidence.generation_cd:
            return "C/D (settings in ~/runtime or services/email)"
        if evidence.reading is not None:
            return evidence.reading.shape
        return "credential file not found"

    def finish(self, *, complete: bool = True) -> AuditResult:
        over_time = self.config.over_time
        baseline = over_time.baseline
        diff = compare(self.findings, baseline, self._key_id()) if baseline else None
        trend = read_trend(over_time.history) if over_time.history is not None else ()
        self.result = AuditResult.of(
            self.findings,
            self.started_at,
            complete=complete,
            fail_on=self.config.fail_on,
            scope=self.scope(),
            waivers=over_time.waivers,
            diff=diff,
            fail_on_new=over_time.fail_on_new,
            trend=trend,
            durations=self.durations,
        )
        return self.result


def _fingerprint_key(config: AuditConfig) -> Secret | None:
    """The run's fingerprint key: the one the config found, or a new one made now (0600) where
    the config said it goes (an audit makes it; checking the config makes nothing)."""
    over_time = config.over_time
    if over_time.fingerprint_key is not None or over_time.key_file is None:
        return over_time.fingerprint_key
    key = Secret(load_or_create_key(over_time.key_file).hex())
    REDACTOR.register(key)
    return key


def _relay_scope(target: RelayTarget) -> RelayScope:
    endpoint = target.endpoint
    if endpoint is None:
        return RelayScope(target.name, None, None, target.hosts)
    where = f"{endpoint.host}:{endpoint.port} ({endpoint.tls.value})"
    return RelayScope(target.name, where, endpoint.provider_name, target.hosts)
