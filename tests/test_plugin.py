"""The pytest plugin through pytester: inert unless asked, findings collected, crashes kept.

Hosts here are ``local://`` (this machine, whose /var/www holds no credential file): a real
observation without any server.
"""

from __future__ import annotations

import html
import json
import logging
import os
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import NoReturn

import pytest

from smtpcheck.audit import Audit, DomainTarget
from smtpcheck.config import AuditOptions, load_audit_config
from smtpcheck.credentials.controls import HOST_CONTROLS
from smtpcheck.credentials.evaluate import HostEvidence
from smtpcheck.errors import HostUnreachable
from smtpcheck.findings import ExitStatus, Finding
from smtpcheck.remote.facts import HostObservation
from smtpcheck.runner import checks_dir, run_audit
from smtpcheck.targets import HostTarget

CHECKS = checks_dir()


def _run_checks(
    pytester: pytest.Pytester, *extra: str, where: str = str(CHECKS)
) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        where, "-c", str(CHECKS / "pytest.ini"), "--rootdir", str(CHECKS),
        "--hosts", "local://", "--app", "wordpress", "--layers", "host",
        "--report-dir", str(pytester.path / "reports"), *extra,
    )  # fmt: skip


def _report(pytester: pytest.Pytester) -> dict[str, object]:
    data: dict[str, object] = json.loads((pytester.path / "reports" / "report.json").read_text())
    return data


def test_plugin_is_inert_in_an_ordinary_test_run(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok():\n    assert True\n")
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()
    assert "smtpcheck:" not in result.stdout.str()


def test_checks_run_on_local_host(pytester: pytest.Pytester) -> None:
    if Path("/var/www/wordpresssmtp").exists():
        pytest.fail("this machine's /var/www must stay empty (the lab bind-mounts its own)")
    result = _run_checks(pytester)
    result.assert_outcomes(failed=1, skipped=8)  # CRED-02…05, and no toolkit files here
    report = _report(pytester)
    assert report["summary"] == {
        "pass": 0, "fail": 1, "warn": 0, "skip": 8, "error": 0, "not_evaluated": 0
    }  # fmt: skip
    assert "no credential file at /var/www/wordpresssmtp" in result.stdout.str()


@pytest.mark.parametrize(
    ("expression", "controls"),
    [("CRED-02", ["CRED-02"]), ("SYS-01 or SYS-02", ["SYS-01", "SYS-02"]), ("NOPE-99", [])],
)
def test_controls_are_selected_by_id(
    pytester: pytest.Pytester, expression: str, controls: list[str]
) -> None:
    """-k CRED-02 selects that control (it used to select nothing and write a green report)."""
    result = _run_checks(pytester, "-k", expression)
    if not controls:  # names no control: nothing evaluated, so no report
        assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED
        assert not (pytester.path / "reports" / "report.json").exists()
        return
    findings = _report(pytester)["findings"]
    assert isinstance(findings, list)
    assert sorted(f["control_id"] for f in findings) == controls


def test_a_session_stopped_early_is_never_complete(pytester: pytest.Pytester) -> None:
    """-x (or --maxfail) ends the session at the first fail with pytest's TESTS_FAILED: the
    controls after it never ran, so the run is incomplete and gates whatever --fail-on says
    (it was reported complete, and exited 0 under --fail-on critical: a false pass)."""
    result = _run_checks(pytester, "-x", "--fail-on", "critical")

    report = _report(pytester)
    findings = report["findings"]
    assert isinstance(findings, list)
    assert [f["control_id"] for f in findings] == ["CRED-01"]  # a high fail, and then
    assert report["complete"] is False  # the session stopped
    assert report["exit_status"] == 1
    assert result.ret != pytest.ExitCode.OK


CRED_01 = "test_credentials.py::test_credential_file_present[local://]"


@pytest.mark.parametrize(
    ("extra", "where"),
    [
        pytest.param(["--deselect", CRED_01], str(CHECKS), id="deselect-the-fail"),
        pytest.param([], f"{CHECKS}/test_credentials.py::test_credentials_match_build_settings",
                     id="one-node-id"),
        pytest.param(["-o", "python_functions=test_credentials_match*"], str(CHECKS),
                     id="ini-override"),
    ],
)  # fmt: skip
def test_checks_left_out_other_than_by_k_narrow_the_scope(
    pytester: pytest.Pytester, extra: list[str], where: str
) -> None:
    """Leaving CRED-01's fail out by --deselect, a node id or an ini override used to give a
    "Compliant" report of the whole audit; like -k, it is now a narrowed scope."""
    _run_checks(pytester, *extra, where=where)

    report = _report(pytester)
    scope = report["scope"]
    assert isinstance(scope, dict)
    assert scope["whole_audit"] is False
    assert "not run or not collected" in str(scope["selection"])
    assert "CRED-01" not in {f["control_id"] for f in report["findings"]}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param(["--setup-only", "--waivers", "waivers.toml"], id="setup-only"),
        pytest.param(["-n", "2", "-p", "crash_worker"], id="crashed-xdist-worker"),
        pytest.param(["broken/test_broken.py", "--continue-on-collection-errors", "--deselect",
                      CRED_01], id="collection-error"),
    ],
)  # fmt: skip
def test_a_session_with_checks_that_never_reported_is_incomplete_and_gates(
    pytester: pytest.Pytester, extra: list[str]
) -> None:
    """A check that did not report (no body run under --setup-only, a worker killed mid-check)
    or a module that did not collect: the run cannot vouch for what it did not see. Each one
    used to exit 0 with a complete report (the worker's check missing from it)."""
    pytester.makefile(".toml", waivers='[[waiver]]\ncontrol = "SYS-02"\ntarget = "*"\n'
                      'justification = "t"\nexpires = 2099-01-01\nrun = false\n')  # fmt: skip
    pytester.makepyfile(crash_worker="""
        import os
        def pytest_runtest_call(item):  # as an OOM-killed xdist worker
            if hasattr(item.config, "workerinput") and "file_present" in item.nodeid:
                os._exit(9)
    """)  # fmt: skip
    (pytester.path / "broken").mkdir()
    (pytester.path / "broken" / "test_broken.py").write_text("import no_such_module_here\n")
    pytester.syspathinsert()

    result = _run_checks(pytester, *extra)

    report = _report(pytester)
    assert report["complete"] is False
    assert report["exit_status"] == 1
    assert result.ret != pytest.ExitCode.OK


@pytest.mark.parametrize("address", ["noreply@bücher.example", "noreply@example.com."])
def test_a_from_domain_spelt_otherwise_does_not_narrow_the_scope(
    tmp_path: Path, address: str
) -> None:
    """The DNS findings name the domain as the checks spell it (IDNA, no final dot); every
    DNS check ran, so the scope is not narrowed by "checks not run" (it was, by all 12)."""
    environ = {"SYSTEM_FROMEMAIL_ADDRESS": address, "SYSTEM_EMAIL_PROVIDER": "2"}
    options = AuditOptions(hosts="local://", app="wordpress", layers="host,dns",
                           nameservers=["127.0.0.1:9"], dns_timeout=0.3,
                           report_dir=tmp_path / "reports")  # fmt: skip

    run_audit(Audit(load_audit_config(options, environ), environ), -1)

    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert {f["control_id"] for f in report["findings"]} >= {"SPF-01", "DMARC-01"}
    assert report["scope"]["selection"] is None
    assert report["complete"] is True


def test_an_xdist_run_of_domains_only_is_not_narrowed_by_checks_not_run(
    pytester: pytest.Pytester,
) -> None:
    """With no hosts, the xdist controller still derives the domains its workers checked (it
    reported all 12 DNS checks as not run, and no target)."""
    pytester.runpytest_subprocess(
        str(CHECKS), "-c", str(CHECKS / "pytest.ini"), "--rootdir", str(CHECKS), "-n", "2",
        "--layers", "dns", "--domain", "example.org", "--nameserver", "127.0.0.1:9",
        "--dns-timeout", "0.3", "--report-dir", str(pytester.path / "reports"),
    )  # fmt: skip

    report = _report(pytester)
    scope, targets = report["scope"], report["targets"]
    assert isinstance(scope, dict) and isinstance(targets, list)
    assert scope["selection"] is None
    assert [t["name"] for t in targets] == ["example.org"]


def test_an_xdist_run_records_its_k_selection(pytester: pytest.Pytester) -> None:
    """Under -n the controller collects nothing: the -k that picked the controls is still the
    scope's (the report said the whole audit)."""
    _run_checks(pytester, "-n", "2", "-k", "CRED-02")

    scope = _report(pytester)["scope"]
    assert isinstance(scope, dict)
    assert scope["selection"] == "-k CRED-02"


def test_the_cli_audit_takes_no_pytest_options_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CI job's PYTEST_ADDOPTS (or PYTEST_PLUGINS) is meant for its own tests: ``smtpcheck
    audit`` runs every control whatever it says, and leaves it as it was."""
    monkeypatch.setenv("PYTEST_ADDOPTS", "-x --collect-only")
    monkeypatch.setenv("PYTEST_PLUGINS", "no_such_plugin_module")
    options = AuditOptions(hosts="local://", app="wordpress", layers="host",
                           report_dir=tmp_path / "reports")  # fmt: skip

    status = run_audit(Audit(load_audit_config(options, environ={}), environ={}))

    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert len(report["findings"]) == len(HOST_CONTROLS)  # not stopped after CRED-01's fail
    assert report["complete"] is True
    assert status == ExitStatus.FINDINGS
    assert os.environ["PYTEST_ADDOPTS"] == "-x --collect-only"
    assert os.environ["PYTEST_PLUGINS"] == "no_such_plugin_module"


def test_a_run_that_evaluates_nothing_writes_no_report_and_is_not_green(
    pytester: pytest.Pytester,
) -> None:
    """--collect-only used to overwrite report.html with an empty "Compliant" report."""
    _run_checks(pytester)
    before = (pytester.path / "reports" / "report.html").read_text()

    result = _run_checks(pytester, "--collect-only")

    assert result.ret != pytest.ExitCode.OK
    assert (pytester.path / "reports" / "report.html").read_text() == before
    assert "no control was evaluated: no report written" in result.stdout.str()


def test_the_relay_layer_is_refused_under_xdist(pytester: pytest.Pytester) -> None:
    """Issue 8 item 14: every worker used to send its own test message per credential set."""
    result = pytester.runpytest_subprocess(
        str(CHECKS), "-c", str(CHECKS / "pytest.ini"), "--rootdir", str(CHECKS),
        "--hosts", "local://", "--app", "wordpress", "--layers", "host,relay", "-n", "2",
        "--report-dir", str(pytester.path / "reports"),
    )  # fmt: skip
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "the relay layer cannot run under pytest -n" in result.stderr.str()
    assert not (pytester.path / "reports").exists()


def test_same_findings_under_xdist(pytester: pytest.Pytester) -> None:
    result = _run_checks(pytester, "-n", "2")
    result.assert_outcomes(failed=1, skipped=8)
    findings = _report(pytester)["findings"]
    assert isinstance(findings, list)
    assert sorted(f["control_id"] for f in findings) == sorted(HOST_CONTROLS)


def test_a_crashing_check_becomes_an_error_finding(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_crash="""
import pytest

@pytest.mark.control("CRED-01")
def test_crash(server, verdict):
    raise RuntimeError("boom")
"""
    )
    result = pytester.runpytest_subprocess(
        "--hosts", "local://", "--app", "wordpress", "--layers", "host",
        "--report-dir", str(pytester.path / "reports"),
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    findings = _report(pytester)["findings"]
    assert findings == [
        {
            "control_id": "CRED-01",
            "target": "local://",
            "status": "error",
            "severity": "high",
            "summary": "the check itself failed: RuntimeError: boom",
            "evidence": {},
            "remediation": "This is a bug in smtpcheck: please report it with the JSON report.",
            "references": [],
            "layer": "host",
            "waiver": None,
            "change": None,
            "credential_change": None,
        }
    ]


@pytest.mark.parametrize("verbosity", ["-q", "-vvv"])
def test_hostile_text_reaches_the_terminal_escaped(
    pytester: pytest.Pytester, verbosity: str
) -> None:
    """Issue 8 item 9: a banner's ESC]0;…BEL and ESC[2J went raw to the terminal through
    pytest's own fail/skip lines."""
    pytester.makepyfile(
        test_hostile=r"""
import pytest
from smtpcheck.catalogue import get_control
from smtpcheck.findings import Status

@pytest.mark.control("CRED-01")
def test_fail(server, verdict):
    verdict(get_control("CRED-01").finding(server.target, Status.FAIL,
            "banner \x1b]0;pwned\x07\x1b[2J\r over"))

@pytest.mark.control("CRED-02")
def test_skip(server, verdict):
    verdict(get_control("CRED-02").finding(server.target, Status.SKIP, "skip \x1b[31m red"))
"""
    )
    result = pytester.runpytest_subprocess(
        "--hosts", "local://", "--app", "wordpress", "--layers", "host", "-rA", verbosity,
        "--report-dir", str(pytester.path / "reports"),
    )  # fmt: skip
    output = result.stdout.str() + result.stderr.str()
    assert "\x1b" not in output.replace("\\x1b", "") and "\x07" not in output
    assert "banner \\x1b]0;pwned\\x07\\x1b[2J\\x0d over" in output


def test_a_check_whose_fixture_crashes_becomes_an_error_finding(pytester: pytest.Pytester) -> None:
    """A target fixture (``domain``, ``relay``...) that raises runs before ``verdict``: the control
    must still give an ``error`` finding, or the run reports nothing and exits 0."""
    pytester.makepyfile(
        test_crash="""
import pytest

@pytest.fixture
def broken(server):
    raise RuntimeError("boom in setup")

@pytest.mark.control("CRED-01")
def test_crash(server, broken, verdict):
    pass
"""
    )
    result = pytester.runpytest_subprocess(
        "--hosts", "local://", "--app", "wordpress", "--layers", "host",
        "--report-dir", str(pytester.path / "reports"),
    )  # fmt: skip
    result.assert_outcomes(errors=1)
    report = _report(pytester)
    assert report["summary"] == {
        "pass": 0, "fail": 0, "warn": 0, "skip": 0, "error": 1, "not_evaluated": 0
    }  # fmt: skip
    findings = report["findings"]
    assert isinstance(findings, list)
    assert [(f["control_id"], f["target"], f["status"], f["summary"]) for f in findings] == [
        ("CRED-01", "local://", "error", "the check itself failed: RuntimeError: boom in setup")
    ]


def test_findings_leave_the_check_scrubbed_whatever_the_secret_holds(
    pytester: pytest.Pytester,
) -> None:
    """user_properties reach pytest's own --junitxml and the reports: a secret with characters
    JSON escapes (" \\ ö) must be scrubbed as a value, not in serialised text."""
    pytester.makepyfile(
        test_leak="""
import pytest
from smtpcheck.findings import Finding, Severity, Status
from smtpcheck.secrets import REDACTOR, Secret

CANARY = 'Cnry-q"u\\\\o-p\u00f6ss'

@pytest.mark.control("CRED-04")
def test_leak(server, verdict):
    REDACTOR.register(Secret(CANARY))
    verdict(Finding("CRED-04", "local://", Status.FAIL, Severity.HIGH, "differs: " + CANARY,
                    {"file_has": CANARY}))
"""
    )
    result = pytester.runpytest_subprocess(
        "--hosts", "local://", "--app", "wordpress", "--layers", "host",
        "--report-dir", str(pytester.path / "reports"), "--junitxml", "pytest-junit.xml",
    )  # fmt: skip
    result.assert_outcomes(failed=1)
    canary = 'Cnry-q"u\\o-p\u00f6ss'
    finding = _report(pytester)["findings"][0]  # type: ignore[index]
    assert finding["summary"] == "differs: <redacted>"
    assert finding["evidence"] == {"file_has": "<redacted>"}
    junit = (pytester.path / "pytest-junit.xml").read_text(encoding="utf-8")
    assert "file_has" in junit
    assert canary not in html.unescape(junit)
    assert canary not in result.stdout.str()


def test_usage_error_in_pytest_mode(pytester: pytest.Pytester) -> None:
    result = _run_checks(pytester, "--layers", "nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --layers: 'nope' is not a layer*"])


def test_plugin_leaves_other_tests_fixture_names_alone(pytester: pytest.Pytester) -> None:
    """Another project's tests may use a parameter or fixture called ``server``."""
    pytester.makepyfile(
        """
import pytest

@pytest.mark.parametrize("server", ["127.0.0.1:53", "[::1]:5353"])
def test_parametrized(server):
    assert ":" in server

@pytest.fixture
def verdict():
    return 42

def test_own_fixture(verdict):
    assert verdict == 42
"""
    )
    result = pytester.runpytest_subprocess()
    result.assert_outcomes(passed=3)
    assert not (pytester.path / "reports").exists()
    assert "smtpcheck:" not in result.stdout.str()


def test_an_audit_that_cannot_collect_its_checks_does_not_exit_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Targets are derived while pytest collects the checks: a bug there is a collection error,
    after which the session still finishes and writes an empty report. Exit 0 would tell CI
    that every control passed."""

    def broken(self: Audit) -> tuple[DomainTarget, ...]:
        raise RuntimeError("bug while deriving the sending domains")

    monkeypatch.setattr(Audit, "domain_targets", broken)
    options = AuditOptions(hosts="local://", app="wordpress", layers="host,dns",
                           report_dir=tmp_path / "reports")  # fmt: skip
    audit = Audit(load_audit_config(options, environ={}), environ={})

    status = run_audit(audit)

    assert status == ExitStatus.FINDINGS
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    errors = [f for f in report["findings"] if f["target"] == "(domain targets)"]
    assert {f["status"] for f in errors} == {"error"} and len(errors) == 12  # one per DNS control
    assert "bug while deriving the sending domains" in errors[0]["summary"]
    hosts = {f["control_id"] for f in report["findings"] if f["target"] == "local://"}
    assert "CRED-01" in hosts  # the host layer still ran
    assert report["exit_status"] == 1


def test_a_quiet_audit_prints_no_library_noise_and_still_reports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Below ``-vv`` pytest's logging and warnings plugins are off (issue 10: per-item cost):
    paramiko's log records and library warnings, which its transport threads emit whenever
    they like, must stay off stderr as they did under those plugins; a check's own print stays
    captured."""
    control, record = HOST_CONTROLS["CRED-01"], Audit.record

    def printing(evidence: HostEvidence) -> Finding:
        print("print noise")
        return control(evidence)

    def noisy(self: Audit, finding: Finding) -> None:  # between items: nothing captures
        logging.getLogger("paramiko.transport").error("Exception (client): banner noise")
        warnings.warn("deprecated cipher noise", UserWarning, stacklevel=1)
        record(self, finding)

    monkeypatch.setitem(HOST_CONTROLS, "CRED-01", printing)
    monkeypatch.setattr(Audit, "record", noisy)
    # as outside this test run: no root handler (logging's last resort prints on stderr) and
    # warnings shown on stderr, not recorded by this test's own pytest
    monkeypatch.setattr(logging.getLogger(), "handlers", [])
    monkeypatch.setattr(warnings, "showwarning", _show_on_stderr)
    options = AuditOptions(hosts="local://", app="wordpress", layers="host",
                           report_dir=tmp_path / "reports")  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("always")
        status = run_audit(Audit(load_audit_config(options, environ={}), environ={}))
        logging.getLogger("paramiko").error("after the audit: shown")

    out, err = capsys.readouterr()
    assert "noise" not in out + err
    assert "local://: 1 fail, 8 skip" in out  # the run's own story is still told
    assert "after the audit: shown" in err  # the silencer is gone once the audit ends
    report = json.loads((tmp_path / "reports" / "report.json").read_text())
    assert status == report["exit_status"] == ExitStatus.FINDINGS


def _show_on_stderr(message: Warning | str, category: type[Warning], *args: object) -> None:
    print(f"{category.__name__}: {message}", file=sys.stderr)


def test_the_cli_audit_observes_the_hosts_while_pytest_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 10: ``smtpcheck audit`` starts the hosts' SSH work before pytest collects the
    checks (a real fleet waits on the network meanwhile), not when the first check runs."""
    observing = threading.Event()
    observe = Audit._observe

    def recording(self: Audit, target: HostTarget) -> HostObservation:
        observing.set()
        return observe(self, target)

    seen: list[bool] = []

    class AtCollection:
        def pytest_collection(self, session: pytest.Session) -> None:
            seen.append(observing.wait(5))  # without the early start: nothing yet, ever

    real_main = pytest.main

    def main(args: list[str], plugins: list[object]) -> int | pytest.ExitCode:
        return real_main(args, plugins=[*plugins, AtCollection()])

    monkeypatch.setattr(Audit, "_observe", recording)
    monkeypatch.setattr(pytest, "main", main)
    options = AuditOptions(hosts="local://", app="wordpress", layers="host",
                           report_dir=tmp_path / "reports")  # fmt: skip

    status = run_audit(Audit(load_audit_config(options, environ={}), environ={}))

    assert seen == [True]
    assert status == ExitStatus.FINDINGS  # and the audit ran to its end: this machine's
    assert (tmp_path / "reports" / "report.json").is_file()  # /var/www has no credential file


def test_an_interrupted_audit_connects_to_no_host_still_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ctrl-C during an audit ends it then: the hosts still waiting for a worker are dropped,
    not each connected to before the process can exit (at --jobs 8 and 1,000 hosts, minutes)."""
    interrupted = threading.Event()

    def interrupt(self: Audit, target: HostTarget) -> HostEvidence:
        interrupted.set()
        raise KeyboardInterrupt

    monkeypatch.setattr(Audit, "host_evidence", interrupt)
    audit, names, connects = _slow_unreachable_hosts(tmp_path, after=interrupted)

    status = run_audit(audit, -1)
    _join_host_threads()

    assert status == 130  # interrupted before any finding: no report, and not a usage error
    assert 1 <= len(connects) < len(names)
    assert connects == names[: len(connects)]  # in target order, the rest never tried
    assert "interrupted before any control was evaluated" in capsys.readouterr().err


def test_an_audit_whose_pytest_stops_before_its_session_drops_the_queued_hosts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Hosts are observed from before pytest starts: a Ctrl-C during pytest's own start-up (no
    session, so no session end) must not leave the queue to be connected to before exit."""

    def interrupted_at_start(args: list[str], plugins: list[object]) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(pytest, "main", interrupted_at_start)
    audit, names, connects = _slow_unreachable_hosts(tmp_path)

    with pytest.raises(KeyboardInterrupt):  # cli.main turns it into exit status 130
        run_audit(audit, -1)
    _join_host_threads()

    assert len(connects) < len(names)


def _slow_unreachable_hosts(
    tmp_path: Path, after: threading.Event | None = None
) -> tuple[Audit, list[str], list[str | None]]:
    """An audit of 10 hosts at --jobs 1, each unreachable 0.2 s after its connect begins (or
    after ``after`` is set); and the hosts connected to, in order, as they are."""
    names = [f"web{n}" for n in range(10)]
    connects: list[str | None] = []

    def slow_unreachable(target: HostTarget, options: object) -> NoReturn:
        connects.append(target.host)
        if after is not None:
            after.wait(10)
        time.sleep(0.2)  # the session's end, meanwhile, drops the queue
        raise HostUnreachable(f"{target.name}: no route to host")

    options = AuditOptions(hosts=",".join(names), app="wordpress", layers="host", jobs=1,
                           report_dir=tmp_path / "reports")  # fmt: skip
    audit = Audit(load_audit_config(options, environ={}), environ={}, connect=slow_unreachable)
    return audit, names, connects


def _join_host_threads() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("smtpcheck-host"):
            thread.join(10)
