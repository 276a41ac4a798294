"""The pytest plugin: thin, and inert unless a test asks for a target fixture.

``pytest checks/ -p smtpcheck.plugin --hosts URL --app wordpress`` works like
``smtpcheck audit`` (``--hosts``, ``--sudo``, ``--ssh-identity-file`` and ``--ssh-config`` are
testinfra's own options, read here). Each check records exactly one finding through the
``verdict`` fixture; findings travel in ``user_properties`` (they survive pytest-xdist) and are
collected in ``pytest_runtest_logreport``. Reports are written once, at the end of the session,
by the process that owns the session (not by xdist workers).
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from smtpcheck import waivers
from smtpcheck.audit import Audit, DomainTarget
from smtpcheck.catalogue import CONTROLS, Layer, get_control
from smtpcheck.choices import OPTIONAL_REPORTS
from smtpcheck.config import AuditOptions, load_audit_config
from smtpcheck.console import render_summary
from smtpcheck.credentials.evaluate import HostEvidence
from smtpcheck.errors import ConfigError
from smtpcheck.findings import FAIL_ON, ExitStatus, Finding, Severity, Status
from smtpcheck.mailauth.domain import DomainFacts
from smtpcheck.providers import expand_path
from smtpcheck.relay.targets import RelayEvidence, RelayTarget
from smtpcheck.reports import publish
from smtpcheck.secrets import REDACTOR, environment
from smtpcheck.targets import HostTarget
from smtpcheck.text import terminal_safe

AUDIT = pytest.StashKey[Audit]()
TARGET_TYPES: dict[str, type] = {
    "server": HostTarget,
    "domain": DomainTarget,
    "relay": RelayTarget,
}
TARGET_FIXTURES = tuple(TARGET_TYPES)
FINDING = "smtpcheck_finding"
PENDING = "smtpcheck_pending"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("smtpcheck", "smtpcheck audit (hosts: testinfra's --hosts)")
    group.addoption("--app", dest="smtpcheck_app", help="application of every --hosts host")
    group.addoption("--inventory", dest="smtpcheck_inventory", help="TOML host inventory")
    group.addoption("--adt-template", dest="smtpcheck_adt_template", help="ADT template file")
    group.addoption("--config", dest="smtpcheck_config", help="smtpcheck TOML config file")
    group.addoption("--nameserver", dest="smtpcheck_nameservers", action="append", default=[])
    group.addoption("--domain", dest="smtpcheck_domains", action="append", default=[])
    group.addoption("--layers", dest="smtpcheck_layers", help="host,dns,relay (default all)")
    group.addoption("--no-send", dest="smtpcheck_no_send", action="store_true")
    group.addoption("--report-dir", dest="smtpcheck_report_dir", help="default reports/")
    group.addoption("--jobs", dest="smtpcheck_jobs", type=int, help="hosts audited at once")
    group.addoption("--known-hosts", dest="smtpcheck_known_hosts")
    group.addoption("--accept-new-host-keys", dest="smtpcheck_accept_new", action="store_true")
    group.addoption("--zone-file", dest="smtpcheck_zone_file", help="BIND zone file pre-flight")
    group.addoption("--dns-timeout", dest="smtpcheck_dns_timeout", type=float)
    group.addoption(
        "--sudo-password-env", dest="smtpcheck_sudo_password_env",
        help="environment variable holding the sudo password",
    )  # fmt: skip
    group.addoption(
        "--fail-on", dest="smtpcheck_fail_on", choices=FAIL_ON,
        help="exit 1 only for fails of this severity or above (warn: warns too)",
    )  # fmt: skip
    group.addoption("--waivers", dest="smtpcheck_waivers", help="TOML waivers file")
    group.addoption("--baseline", dest="smtpcheck_baseline", help="earlier report.json")
    group.addoption("--history", dest="smtpcheck_history", help="directory of kept runs")
    group.addoption("--fingerprint-key", dest="smtpcheck_fingerprint_key")
    group.addoption("--fail-on-new", dest="smtpcheck_fail_on_new", action="store_true")
    group.addoption("--shard", dest="smtpcheck_shard", help="K/N: part K of N of the hosts")
    group.addoption(
        "--extra-report", dest="smtpcheck_extra_reports", action="append", default=[],
        choices=OPTIONAL_REPORTS, help="also write this report (repeatable)",
    )  # fmt: skip


_OWN_OPTIONS = (
    "smtpcheck_app", "smtpcheck_inventory", "smtpcheck_adt_template", "smtpcheck_config",
    "smtpcheck_nameservers", "smtpcheck_domains", "smtpcheck_layers", "smtpcheck_no_send",
    "smtpcheck_report_dir", "smtpcheck_jobs", "smtpcheck_known_hosts", "smtpcheck_accept_new",
    "smtpcheck_sudo_password_env", "smtpcheck_zone_file", "smtpcheck_dns_timeout",
    "smtpcheck_fail_on", "smtpcheck_waivers", "smtpcheck_baseline", "smtpcheck_history",
    "smtpcheck_fingerprint_key", "smtpcheck_fail_on_new", "smtpcheck_extra_reports",
    "smtpcheck_shard",
)  # fmt: skip


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "control(id): the smtpcheck control a check evaluates")
    config.pluginmanager.register(FindingCollector(config), "smtpcheck-findings")
    if any(config.getoption(name, default=None) for name in _OWN_OPTIONS):
        audit = get_audit(config)  # validate now: a bad option is a usage error, not later
        distributed = config.getoption("numprocesses", default=None) or hasattr(
            config, "workerinput"
        )
        if distributed and Layer.RELAY in audit.config.layers:
            # Each xdist worker builds its own audit: each would send its own test message.
            raise pytest.UsageError(
                "smtpcheck: the relay layer cannot run under pytest -n (each worker would send "
                "its own test message); use --layers host,dns with -n, or run without -n"
            )
        workerinput = getattr(config, "workerinput", None)
        if workerinput is not None and _OBSERVATIONS in workerinput:
            # Written by this run's own controller (below), over xdist's pipe to its workers.
            audit.adopt_observations(pickle.loads(workerinput[_OBSERVATIONS]))  # noqa: S301
        elif distributed and workerinput is None:  # the xdist controller: workers collect
            audit.collects_elsewhere = True
            if audit.needs_observations:
                config.pluginmanager.register(XdistController(audit), "smtpcheck-xdist")


_OBSERVATIONS = "smtpcheck_observations"


class XdistController:
    """Registered in the pytest-xdist controller: every host is observed once, here, and its
    facts handed to each worker as it starts, so no worker connects to any host (one SSH
    command per host under ``-n`` as without it). Workers collect the same tests from the
    same facts."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit
        self._payload: bytes | None = None

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        if self._payload is None:
            # Our own facts to our own worker processes, through xdist's pipe: never shown.
            self._payload = pickle.dumps(dict(self.audit.observe_hosts()))
        node.workerinput[_OBSERVATIONS] = self._payload


def _path(value: str | None) -> Path | None:
    return expand_path(value, "a path option") if value else None


def options_from_pytest(config: pytest.Config) -> AuditOptions:
    """The smtpcheck options of a pytest run (and testinfra's SSH options)."""

    def get(name: str) -> Any:
        return config.getoption(name, default=None)

    return AuditOptions(
        hosts=get("hosts"),
        app=get("smtpcheck_app"),
        inventory=_path(get("smtpcheck_inventory")),
        adt_template=_path(get("smtpcheck_adt_template")),
        config=_path(get("smtpcheck_config")),
        nameservers=tuple(get("smtpcheck_nameservers") or ()),
        domains=tuple(get("smtpcheck_domains") or ()),
        layers=get("smtpcheck_layers"),
        no_send=bool(get("smtpcheck_no_send")),
        report_dir=_path(get("smtpcheck_report_dir")),
        jobs=get("smtpcheck_jobs"),
        known_hosts=_path(get("smtpcheck_known_hosts")),
        accept_new_host_keys=bool(get("smtpcheck_accept_new")),
        ssh_identity_file=_path(get("ssh_identity_file")),
        ssh_config=_path(get("ssh_config")),
        sudo=bool(get("sudo")),
        sudo_password_env=get("smtpcheck_sudo_password_env"),
        zone_file=_path(get("smtpcheck_zone_file")),
        dns_timeout=get("smtpcheck_dns_timeout"),
        fail_on=get("smtpcheck_fail_on"),
        waivers=_path(get("smtpcheck_waivers")),
        baseline=_path(get("smtpcheck_baseline")),
        history=_path(get("smtpcheck_history")),
        fingerprint_key=_path(get("smtpcheck_fingerprint_key")),
        fail_on_new=bool(get("smtpcheck_fail_on_new")),
        extra_reports=tuple(get("smtpcheck_extra_reports") or ()),
        shard=get("smtpcheck_shard"),
    )


def get_audit(config: pytest.Config) -> Audit:
    """The run's Audit: the one the CLI registered, or one built from the options on first use."""
    audit = config.stash.get(AUDIT, None)
    if audit is None:
        try:
            environ = environment()  # its repr shows no value, should a traceback print it
            audit = Audit(load_audit_config(options_from_pytest(config), environ), environ)
        except ConfigError as exc:
            raise pytest.UsageError(REDACTOR.scrub(str(exc))) from None
        config.stash[AUDIT] = audit
    return audit


class CliAudit:
    """Registered by ``smtpcheck audit``: hands its already validated Audit to the session."""

    def __init__(self, audit: Audit) -> None:
        self.audit = audit

    def pytest_configure(self, config: pytest.Config) -> None:
        config.stash[AUDIT] = self.audit


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Only controls (tests marked @pytest.mark.control) get targets: the plugin is installed
    # for every pytest run on the machine and must leave other projects' tests alone.
    if metafunc.definition.get_closest_marker("control") is None:
        return
    for name in TARGET_FIXTURES:
        if name in metafunc.fixturenames:
            audit = get_audit(metafunc.config)
            try:
                targets = _targets(audit, name)
            except Exception as exc:  # noqa: BLE001 - a bug deriving one layer's targets
                # must not lose the other layers: this control gets an error finding instead.
                audit.record(_derivation_error(metafunc, name, exc))
                targets = ()
            metafunc.parametrize(name, targets, ids=[t.name for t in targets], indirect=True)


def _derivation_error(metafunc: pytest.Metafunc, fixture: str, exc: Exception) -> Finding:
    marker = metafunc.definition.get_closest_marker("control")
    control = get_control(str(marker.args[0])) if marker else None
    reason = REDACTOR.scrub(f"{type(exc).__name__}: {exc}").splitlines()[0][:200]
    return Finding(
        control_id=control.id if control else metafunc.function.__name__,
        target=f"({fixture} targets)",
        status=Status.ERROR,
        severity=Severity.HIGH,
        summary=f"not evaluated: the {fixture} targets could not be derived: {reason}",
        remediation="This is a bug in smtpcheck: please report it with the JSON report.",
    )


def _targets(audit: Audit, fixture: str) -> Sequence[HostTarget | DomainTarget | RelayTarget]:
    """The targets a target fixture is parametrised with, one layer each."""
    if fixture == "server":
        return audit.host_targets
    if fixture == "domain":
        return audit.domain_targets()
    return audit.relay_targets()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Checks with no target (e.g. no hosts given) are deselected, not reported as skipped.
    Each check answers to its control id, so ``-k CRED-02`` or ``-k "SYS-01 or SYS-02"``
    selects controls (this runs before pytest's own -k selection)."""
    for item in items:
        if item.get_closest_marker("control") is not None:
            item.extra_keyword_matches.add(_control_id(item))
    audit = config.stash.get(AUDIT, None)
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        (kept if _has_targets(item) else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
    if audit is not None:
        _host_major(audit, items)
        audit.expect(_target_of(item) for item in items if item.get_closest_marker("control"))


def _selection(config: pytest.Config) -> str | None:
    """pytest's -k / -m expressions, when they picked the controls."""
    given = [
        f"{flag} {value}"
        for flag, value in (("-k", config.option.keyword), ("-m", config.option.markexpr))
        if value
    ]
    return " ".join(given) or None


def _not_evaluated(audit: Audit, evaluated: set[tuple[str, str]]) -> int:
    """How many (control, target) pairs of the layers run no check reported on (``evaluated``:
    by the names the checks were parametrized with): deselected (``--deselect``, ``--lf``),
    never collected (a node id, ``--ignore``, an ``-o`` override), or never reached. A layer
    whose targets were never derived had none of its checks collected: each of its controls
    counts once."""
    missing = 0
    for layer, targets in audit.planned_targets().items():
        controls = [control.id for control in CONTROLS.values() if control.layer is layer]
        names = ("(not collected)",) if targets is None else targets
        missing += sum((control, name) not in evaluated for control in controls for name in names)
    return missing


def _host_major(audit: Audit, items: list[pytest.Item]) -> None:
    """A host's controls run together, hosts in the order they are observed (the others keep
    their places): its checks run as soon as its facts are in, while later hosts are observed."""
    order = {target.name: n for n, target in enumerate(audit.config.targets)}
    places = [n for n, item in enumerate(items) if _host_of(item) is not None]
    hosts = sorted((items[n] for n in places), key=lambda item: order.get(_target_of(item), 0))
    for n, item in zip(places, hosts, strict=True):
        items[n] = item


def _host_of(item: pytest.Item) -> HostTarget | None:
    param = getattr(getattr(item, "callspec", None), "params", {}).get("server")
    return param if isinstance(param, HostTarget) else None


@pytest.hookimpl(tryfirst=True)
def pytest_runtestloop(session: pytest.Session) -> None:
    """Hosts are observed in the background from the first check on (not at collection: a
    ``--collect-only`` run connects to no host)."""
    audit = session.config.stash.get(AUDIT, None)
    if session.config.option.collectonly or audit is None or audit.collects_elsewhere:
        return
    if any(_host_of(item) is not None for item in session.items):
        audit.start_observing()


def _not_run(audit: Audit, item: pytest.Item) -> Finding | None:
    """A ``skip`` finding for a control an active ``run = false`` waiver keeps from running."""
    if item.get_closest_marker("control") is None or not audit.config.over_time.waivers:
        return None
    control_id, target = _control_id(item), _target_of(item)
    applied = waivers.waiver_for(
        audit.config.over_time.waivers, control_id, target, waivers.today_utc()
    )
    if applied is None or applied.expired or applied.waiver.run:
        return None
    control = get_control(control_id)
    return Finding(
        control_id=control_id,
        target=target,
        status=Status.SKIP,
        severity=control.severity if control else Severity.INFO,
        summary=f"not run: waived until {applied.waiver.expires.isoformat()} "
        f"({applied.waiver.justification})",
        evidence={"waiver": applied.waiver.where},
    )


def _has_targets(item: pytest.Item) -> bool:
    """False for a control whose target parameter got no value (an empty parameter set)."""
    if item.get_closest_marker("control") is None:
        return True
    fixtures = getattr(item, "fixturenames", ())
    params = getattr(getattr(item, "callspec", None), "params", {})
    return all(
        isinstance(params.get(name), TARGET_TYPES[name])
        for name in TARGET_FIXTURES
        if name in fixtures
    )


@pytest.fixture
def server(request: pytest.FixtureRequest) -> HostEvidence:
    """One web server's evidence (observed once per run, all hosts concurrently)."""
    target: HostTarget = request.param
    return get_audit(request.config).host_evidence(target)


@pytest.fixture
def relay(request: pytest.FixtureRequest) -> RelayEvidence:
    """One relay test's session and delivery (all targets run once, together)."""
    target: RelayTarget = request.param
    return get_audit(request.config).relay_evidence(target)


@pytest.fixture
def domain(request: pytest.FixtureRequest) -> DomainFacts:
    """One sending domain's DNS facts (every domain fetched once, together)."""
    target: DomainTarget = request.param
    return get_audit(request.config).domain_facts(target)


def _target_of(item: pytest.Item) -> str:
    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return "?"
    for name in TARGET_FIXTURES:
        param = callspec.params.get(name)
        if param is not None:
            return str(getattr(param, "name", param))
    return "?"


def _control_id(item: pytest.Item) -> str:
    marker = item.get_closest_marker("control")
    return str(marker.args[0]) if marker else item.name


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Mark a control as pending before any fixture runs: a target fixture that raises (the
    ``domain`` fixture fetching DNS, say) must still leave an ``error`` finding."""
    if item.get_closest_marker("control") is None:
        return
    item.user_properties.append(
        (PENDING, {"control_id": _control_id(item), "target": _target_of(item)})
    )
    audit = item.config.stash.get(AUDIT, None)
    waived = _not_run(audit, item) if audit is not None else None
    if waived is not None:  # skipped here, before its target fixture observes anything; its
        # finding travels in the report like every other (and so survives pytest-xdist)
        scrubbed = waived.scrubbed(REDACTOR.scrub_data).to_dict()
        item.user_properties.append((FINDING, scrubbed))
        pytest.skip(terminal_safe(scrubbed["summary"]))


@pytest.fixture
def verdict(request: pytest.FixtureRequest) -> Callable[[Finding], None]:
    """Record a check's one finding and turn its status into the pytest outcome."""
    control_id = _control_id(request.node)

    def judge(finding: Finding) -> None:
        if finding.control_id != control_id:
            raise AssertionError(f"check for {control_id} produced {finding.control_id}")
        # Scrubbed on the way out, values only: user_properties reach pytest's own --junitxml.
        scrubbed = finding.scrubbed(REDACTOR.scrub_data).to_dict()
        request.node.user_properties.append((FINDING, scrubbed))
        if finding.status is Status.SKIP:
            pytest.skip(terminal_safe(scrubbed["summary"]))
        if finding.is_problem:
            # pytest prints this on the terminal: a banner's ESC sequences must not reach it.
            summary = terminal_safe(scrubbed["summary"])
            pytest.fail(f"{finding.status.value}: {summary}", pytrace=False)

    return judge


def _crash_finding(report: pytest.TestReport) -> Finding | None:
    """A check that raised before recording gives an ``error`` finding, never a lost control."""
    properties: dict[str, Any] = dict(report.user_properties)
    pending = properties.get(PENDING)
    if pending is None or not report.failed:
        return None
    crash = getattr(report.longrepr, "reprcrash", None)
    reason = str(getattr(crash, "message", "")) if crash is not None else ""
    first_line = REDACTOR.scrub(str(reason)).splitlines()[0][:200] if reason else "unknown"
    return Finding(
        control_id=pending["control_id"],
        target=pending["target"],
        status=Status.ERROR,
        severity=Severity.HIGH,
        summary=f"the check itself failed: {first_line}",
        remediation="This is a bug in smtpcheck: please report it with the JSON report.",
    )


class FindingCollector:
    """Collects findings from test reports (here, or from xdist workers) and writes the reports
    once at the end of the session (pytest's junitxml plugin has the same shape)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        # What the session was to run and what reported: a run is complete only when every
        # scheduled check reported, and every failure left a finding (a crashed xdist worker's
        # item fails with no finding; a collection error is no check's failure).
        self.scheduled: set[str] = set()  # node ids
        self.reported: set[str] = set()
        self.unexplained = 0  # failed reports (and collection errors) that left no finding
        self.evaluated: set[tuple[str, str]] = set()  # (control, target) with a finding

    @pytest.hookimpl(trylast=True)
    def pytest_collection_finish(self, session: pytest.Session) -> None:
        marked = (item for item in session.items if item.get_closest_marker("control"))
        self.scheduled.update(item.nodeid for item in marked)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node: Any, ids: Sequence[str]) -> None:
        self.scheduled.update(ids)  # the controller collects nothing: its workers' items

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.unexplained += 1

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties: dict[str, Any] = dict(report.user_properties)
        if report.when == "teardown":
            return
        if report.when != "setup" or not report.passed:  # a result, not only a set-up
            self.reported.add(report.nodeid)
        if PENDING not in properties:
            if report.failed:
                self.unexplained += 1
            return
        audit = get_audit(self.config)
        key = (properties[PENDING]["control_id"], properties[PENDING]["target"])
        audit.durations[key] = audit.durations.get(key, 0.0) + report.duration  # for JUnit
        if report.when == "setup" and report.passed:
            return
        if FINDING in properties:
            if report.when == "call" or report.skipped:  # skipped in setup: a run = false waiver
                audit.record(Finding.from_dict(properties[FINDING]))
                self.evaluated.add(key)
        elif (crash := _crash_finding(report)) is not None:
            audit.record(crash)
            self.evaluated.add(key)

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        audit = self.config.stash.get(AUDIT, None)
        if audit is not None:  # an interrupted audit ends now, not once every host is observed
            audit.stop_observing()
        if audit is None or hasattr(self.config, "workerinput"):
            return
        if not audit.findings:
            # Nothing was evaluated (--collect-only, a -k that selects no control, no target):
            # no report, so that no earlier report is replaced by an empty "Compliant" one.
            audit.nothing_evaluated = True
            if exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.NO_TESTS_COLLECTED
            return
        # -x, --maxfail, --setup-only or a crashed worker leave checks that never reported;
        # a run that did not see them cannot vouch for what they check
        unreported = len(self.scheduled - self.reported)
        finished = exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED)
        complete = finished and not unreported and not self.unexplained
        audit.selection = _selection(self.config)  # here: the xdist controller collects nothing
        if audit.selection is None and (missing := _not_evaluated(audit, self.evaluated)):
            audit.selection = f"pytest: {missing} check(s) of the audit not run or not collected"
        result = audit.finish(complete=complete)
        publish(result, audit.config, audit.environ)
        if complete and result.exit_status is ExitStatus.OK:
            session.exitstatus = pytest.ExitCode.OK  # --fail-on: the fails left do not gate
        elif result.exit_status is not ExitStatus.OK and session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED  # e.g. --setup-only: nothing failed

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        audit = self.config.stash.get(AUDIT, None)
        if audit is not None and audit.nothing_evaluated:
            terminalreporter.write_line(
                "smtpcheck: no control was evaluated: no report written (not a compliant run)"
            )
        if audit is None or audit.result is None:
            return
        for line in render_summary(
            audit.result, audit.config.report_dir, self.config.option.verbose
        ):
            terminalreporter.write_line(line)
