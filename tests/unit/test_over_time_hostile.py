"""Red team of the over-time code (waivers, baseline, history, merge, CI outputs, terminal):
inputs as a hostile or unlucky operator, CI system, host, DNS server or relay makes them.

Each test reproduces one attack: a false pass (exit 0 or "Compliant" where a fail or error
should gate), a secret leak, a traceback instead of one line and exit status 2, a lost report,
or hostile text reaching an output raw. Each failed before its fix.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import threading
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpcheck import cli, runner
from smtpcheck.catalogue import Layer
from smtpcheck.console import render_summary
from smtpcheck.errors import ConfigError
from smtpcheck.findings import ExitStatus, Finding, Severity, Status
from smtpcheck.history import (
    INDEX,
    check_history_dir,
    check_key_file,
    compare,
    latest_report,
    read_baseline,
    read_trend,
    record_run,
)
from smtpcheck.merge import merge_shards
from smtpcheck.reports import publish, write_reports
from smtpcheck.reports.github import render_annotations, render_step_summary
from smtpcheck.reports.sarif_report import render_sarif
from smtpcheck.result import AuditResult
from smtpcheck.scope import DomainScope, HostScope, Scope
from smtpcheck.secrets import REDACTOR, Secret
from smtpcheck.waivers import Waiver, parse_waivers

STARTED = dt.datetime(2027, 1, 1, 2, 0, tzinfo=dt.UTC)
TODAY = dt.date(2027, 1, 1)
CANARY = "CanaryPw-7f3e:q9 Zx"  # as the lab plants one: ':' and a space, never in any output
WHOLE = Scope(layers=tuple(Layer))


def _f(control: str, target: str, status: Status, summary: str = "", **evidence: Any) -> Finding:
    return Finding(control, target, status, Severity.HIGH, summary or f"{control} {status}",
                   evidence)  # fmt: skip


def _one_line(message: str) -> str:
    assert message and "\n" not in message.rstrip("\n"), message
    assert "Traceback" not in message
    return message


@pytest.fixture
def canary() -> str:
    REDACTOR.register(Secret(CANARY))
    return CANARY  # the autouse fixture of tests/conftest.py forgets it afterwards


# --- 1. false passes -------------------------------------------------------------------------


def _baseline_of(tmp_path: Path, findings: list[Finding]) -> Path:
    return write_reports(AuditResult.of(findings, STARTED), tmp_path / "base")["json"]


@pytest.mark.parametrize("before", [Status.WARN, Status.ERROR])
def test_a_fail_that_was_a_warn_or_an_error_is_new_and_gates_fail_on_new(
    tmp_path: Path, before: Status
) -> None:
    """FIXED (history.compare): a warn escalated to a fail, or a control that errored last
    night (proved nothing) and fails now, was "changed", so --fail-on-new let it exit 0."""
    baseline = read_baseline(_baseline_of(tmp_path, [_f("CRED-02", "web1", before)]))
    now = [_f("CRED-02", "web1", Status.FAIL)]

    diff = compare(now, baseline, None)
    result = AuditResult.of(now, STARTED, diff=diff, fail_on_new=True, scope=WHOLE)

    assert diff.changes[("CRED-02", "web1")] == "new"
    assert result.exit_status is ExitStatus.FINDINGS and result.verdict == "Not compliant"


def test_a_fail_that_was_a_fail_is_still_not_new(tmp_path: Path) -> None:
    baseline = read_baseline(_baseline_of(tmp_path, [_f("CRED-02", "web1", Status.FAIL)]))
    now = [_f("CRED-02", "web1", Status.FAIL)]

    result = AuditResult.of(now, STARTED, diff=compare(now, baseline, None), fail_on_new=True)

    assert result.exit_status is ExitStatus.OK  # the documented --fail-on-new behaviour


def test_a_skip_in_the_baseline_in_place_of_a_fail_makes_the_fail_new(tmp_path: Path) -> None:
    path = _baseline_of(tmp_path, [_f("CRED-02", "web1", Status.FAIL)])
    path.write_text(path.read_text().replace('"status": "fail"', '"status": "skip"'))
    now = [_f("CRED-02", "web1", Status.FAIL)]

    diff = compare(now, read_baseline(path), None)

    assert AuditResult.of(now, STARTED, diff=diff, fail_on_new=True).exit_status == 1


@pytest.mark.parametrize("version", ["true", "1.0", '"1"', "[1]"])
def test_a_baseline_of_schema_version_true_or_1_0_is_refused(tmp_path: Path, version: str) -> None:
    """FIXED (history.read_baseline, merge.read_shard): True == 1 == 1.0 in Python."""
    path = tmp_path / "report.json"
    path.write_text(f'{{"schema_version": {version}, "findings": []}}')

    with pytest.raises(ConfigError, match="schema_version 1") as caught:
        read_baseline(path)
    _one_line(str(caught.value))


def test_the_waiver_holds_through_its_expiry_day_in_utc(monkeypatch: pytest.MonkeyPatch) -> None:
    waiver = parse_waivers(
        '[[waiver]]\ncontrol = "CRED-02"\ntarget = "web1"\njustification = "CHG-1"\n'
        "expires = 2027-03-31\n",
        "w.toml",
    )
    fail = [_f("CRED-02", "web1", Status.FAIL)]

    class Clock(dt.datetime):
        moment = dt.datetime(2027, 3, 31, 23, 59, 59, tzinfo=dt.UTC)

        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Clock:
            return cls.fromtimestamp(cls.moment.timestamp(), tz)

    clock = SimpleNamespace(datetime=Clock, date=dt.date, UTC=dt.UTC)
    monkeypatch.setattr("smtpcheck.waivers.dt", clock)  # what waivers.today_utc reads
    assert AuditResult.of(fail, STARTED, waivers=waiver).exit_status is ExitStatus.OK
    # 00:30 on 1 April in UTC is still 31 March in New York: the waiver has lapsed anyway
    Clock.moment = dt.datetime(2027, 4, 1, 0, 30, tzinfo=dt.UTC)
    assert AuditResult.of(fail, STARTED, waivers=waiver).exit_status is ExitStatus.FINDINGS


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('control = "CRED-99"', "unknown control"),
        ('control = "*"', "unknown control"),
        ('control = "CRED-0?"', "unknown control"),
        ('control = ""', "non-empty"),
        ('control = "CRED-02"\nexpires = 2027-03-31T00:00:00Z', "not a date and time"),
        ('control = "CRED-02"\nexpires = "2027-02-30"', "a date such as"),
        ('control = "CRED-02"\nexpires = 20270331', "a date such as"),
        ('control = "CRED-02"\nrun = "false"', "true or false"),
    ],
)
def test_a_waiver_that_is_not_exactly_one_known_control_is_refused(text: str, message: str) -> None:
    defaults = {"target": '"web1"', "justification": '"x"', "expires": "2027-03-31"}
    lines = [text] + [f"{k} = {v}" for k, v in defaults.items() if f"{k} =" not in text]
    with pytest.raises(ConfigError, match=message) as caught:
        parse_waivers("[[waiver]]\n" + "\n".join(lines) + "\n", "w.toml")
    _one_line(str(caught.value))


def test_a_glob_waiver_matches_whole_names_case_sensitively_and_never_another_control() -> None:
    waiver = Waiver("CRED-02", "web[12]*", "x", dt.date(2030, 1, 1))

    assert waiver.matches("CRED-02", "web1.example") and waiver.matches("CRED-02", "web2")
    assert not waiver.matches("CRED-02", "WEB1") and not waiver.matches("CRED-02", "xweb1")
    assert not waiver.matches("CRED-03", "web1") and not waiver.matches("cred-02", "web1")
    # a target that is itself named like a glob is matched as a glob only: no over-match
    assert not Waiver("CRED-02", "web[1]", "x", TODAY).matches("CRED-02", "web[1]")


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=400))
def test_any_waiver_text_is_a_waiver_list_or_one_config_error(text: str) -> None:
    try:
        parsed = parse_waivers(text, "w.toml")
    except ConfigError as exc:
        _one_line(str(exc))
    else:
        assert all(isinstance(w, Waiver) for w in parsed)


_FIELD = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                   st.text(max_size=20), st.lists(st.integers(), max_size=2),
                   st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))  # fmt: skip


@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    row=st.fixed_dictionaries(
        {},
        optional={
            "control_id": _FIELD,
            "target": _FIELD,
            "status": st.sampled_from(["fail", "pass", "error", "warn", "skip", "x", 1]),
            "evidence": _FIELD,
        },
    ),
    version=st.sampled_from([1, 1.0, True, "1", None]),
)
def test_any_baseline_is_a_baseline_or_one_config_error(
    tmp_path: Path, row: dict[str, Any], version: Any
) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"schema_version": version, "findings": [row]}))
    try:
        baseline = read_baseline(path)
    except ConfigError as exc:
        _one_line(str(exc))
    else:
        assert version == 1 and type(version) is int and len(baseline.findings) == 1


# --- merge ------------------------------------------------------------------------------------


HOST_AND_DNS = (Layer.HOST, Layer.DNS)


def _shard(tmp_path: Path, k: int, n: int, findings: list[Finding], *, host: str = "",
           layers: tuple[Layer, ...] = HOST_AND_DNS, name: str = "") -> Path:  # fmt: skip
    host = host or f"web{k}"
    scope = Scope(layers=layers, shard=f"{k}/{n}",
                  hosts=(HostScope(host, f"ssh://{host}", "wordpress", "A/B"),),
                  domains=(DomainScope("example.org", "Mailjet", (host,)),))  # fmt: skip
    result = AuditResult.of(findings, STARTED, scope=scope)
    return write_reports(result, tmp_path / (name or f"shard{k}"))["json"]


def _edit(path: Path, change: Callable[[dict[str, Any]], None]) -> Path:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))
    return path


def _two(tmp_path: Path) -> tuple[Path, Path]:
    return (_shard(tmp_path, 1, 2, [_f("CRED-02", "web1", Status.PASS)]),
            _shard(tmp_path, 2, 2, [_f("CRED-02", "web2", Status.FAIL)]))  # fmt: skip


@pytest.mark.parametrize("shard", ["0/2", "3/2", "²/2", "01/2", " 1/2", "1/2 ", "1/99999999999"])
def test_a_shard_label_that_is_not_k_of_n_is_one_config_error(tmp_path: Path, shard: str) -> None:
    """FIXED (merge.read_shard): "²/2" was a ValueError traceback, "1/99999999999" listed every
    missing shard (memory, minutes), "0/2" and "3/2" were merged as extra shards."""
    one, two = _two(tmp_path)
    _edit(one, lambda d: d["scope"].update(shard=shard))

    with pytest.raises(ConfigError) as caught:
        merge_shards([one, two])
    _one_line(str(caught.value))


def test_an_extra_shard_beyond_n_is_refused(tmp_path: Path) -> None:
    """FIXED (merge.read_shard): 1/2, 2/2 and a "3/2" (another run's) merged as complete."""
    one, two = _two(tmp_path)
    extra = _shard(tmp_path, 3, 2, [_f("CRED-02", "web3", Status.PASS)])

    with pytest.raises(ConfigError, match="K must be 1 to N"):
        merge_shards([one, two, extra])


def test_a_huge_n_is_refused_at_once(tmp_path: Path) -> None:
    """FIXED (merge): every shard claiming N = 10**11 listed 10**11 missing shard numbers
    (minutes of CPU, gigabytes) before saying so."""
    one, two = _two(tmp_path)
    for path, label in ((one, "1/99999999999"), (two, "2/99999999999")):

        def relabel(document: dict[str, Any], label: str = label) -> None:
            document["scope"]["shard"] = label

        _edit(path, relabel)
    caught: list[BaseException] = []

    def merge() -> None:
        try:
            merge_shards([one, two])
        except ConfigError as exc:
            caught.append(exc)

    assert _returns_within(5, merge) and caught and "shard" in str(caught[0])


def test_shards_with_an_unknown_gate_are_refused(tmp_path: Path) -> None:
    """FIXED (merge.read_shard): fail_on "bogus" in every shard was a ValueError traceback."""
    paths = _two(tmp_path)
    for path in paths:
        _edit(path, lambda d: d.update(fail_on="bogus"))

    with pytest.raises(ConfigError, match="not a --fail-on value"):
        merge_shards(list(paths))


def test_the_same_shard_twice_under_two_directories_is_refused(tmp_path: Path) -> None:
    one, two = _two(tmp_path)
    copy = tmp_path / "elsewhere" / "report.json"
    copy.parent.mkdir()
    copy.write_text(one.read_text())

    with pytest.raises(ConfigError, match="given twice"):
        merge_shards([one, copy, two])


def test_shards_of_two_different_splits_or_runs_are_refused(tmp_path: Path) -> None:
    """FIXED (merge.check_complete): shard 1/2 of tonight's split and shard 2/2 of another
    (the same host in both) made one "complete" audit."""
    one = _shard(tmp_path, 1, 2, [_f("CRED-02", "web1", Status.PASS)])
    other = _shard(tmp_path, 2, 2, [_f("CRED-02", "web1", Status.PASS)], host="web1")

    with pytest.raises(ConfigError, match="in two shards"):
        merge_shards([one, other])


def test_shards_that_ran_different_layers_do_not_merge_into_a_whole_audit(tmp_path: Path) -> None:
    """FIXED (merge): layers were a union, so shard 1 with every layer and shard 2 with
    --layers host made "Compliant", though shard 2's domains and relay were never checked."""
    one = _shard(tmp_path, 1, 2, [_f("CRED-02", "web1", Status.PASS)], layers=tuple(Layer))
    two = _shard(tmp_path, 2, 2, [_f("CRED-02", "web2", Status.PASS)], layers=(Layer.HOST,))

    with pytest.raises(ConfigError, match="different --layers"):
        merge_shards([one, two])


def test_a_shard_report_emptied_of_findings_is_refused(tmp_path: Path) -> None:
    """FIXED (merge.read_shard): a shard whose findings were removed merged as clean. (A run
    that evaluates nothing writes no report, so an empty one was never a real shard.)"""
    one, two = _two(tmp_path)
    _edit(two, lambda d: d.update(findings=[]))

    with pytest.raises(ConfigError, match="no findings"):
        merge_shards([one, two])


def test_a_problem_whose_change_was_lost_is_new_under_fail_on_new(tmp_path: Path) -> None:
    """FIXED (merge._change): with --fail-on-new, a fail row without "change" counted as not
    new, so the merged run exited 0."""
    one, two = _two(tmp_path)

    def lose(document: dict[str, Any]) -> None:
        document.update(fail_on_new=True, diff={"baseline": "b", "baseline_started_at": "x"})
        for row in document["findings"]:
            row.pop("change", None)

    for path in (one, two):
        _edit(path, lose)

    assert merge_shards([one, two]).exit_status is ExitStatus.FINDINGS


def test_a_duplicate_finding_new_to_either_shard_stays_new(tmp_path: Path) -> None:
    domain = [_f("SPF-01", "example.org", Status.FAIL)]
    one = _shard(tmp_path, 1, 2, [_f("CRED-02", "web1", Status.PASS), *domain])
    two = _shard(tmp_path, 2, 2, [_f("CRED-02", "web2", Status.PASS), *domain])
    for path, change in ((one, "unchanged"), (two, "new")):

        def mark(document: dict[str, Any], change: str = change) -> None:
            document.update(fail_on_new=True, diff={"baseline": "b", "baseline_started_at": "x"})
            for row in document["findings"]:
                row["change"] = change if row["status"] == "fail" else "unchanged"

        _edit(path, mark)

    assert merge_shards([one, two]).exit_status is ExitStatus.FINDINGS


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["findings"][0].update(evidence=["a", "list"]),
        lambda d: d["findings"][0].update(evidence="text"),
        lambda d: d["findings"][0].update(summary=12),
        lambda d: d["findings"][0].update(control_id=7),
        lambda d: d["findings"][0].update(target=None),
        lambda d: d["findings"][0].update(references="abc"),
        lambda d: d["findings"][0].update(change="worse"),
        lambda d: d["findings"].append("not a finding"),
        lambda d: d.update(started_at="2027-01-01T00:00:00"),
        lambda d: d.update(waivers=[{"control": "CRED-02"}]),
        lambda d: d.update(targets=[["host"]]),
    ],
)
def test_a_tampered_shard_report_is_one_line_and_exit_2(
    tmp_path: Path, tamper: Callable[[dict[str, Any]], None], capsys: pytest.CaptureFixture[str]
) -> None:
    """FIXED (merge): evidence of another type (AttributeError), an int summary or control id
    (TypeError when sorting), an unknown change, a diff without its baseline, a naive time
    next to an aware one, an unknown fail_on: each was a traceback."""
    one, two = _two(tmp_path)
    _edit(two, tamper)

    status = cli.main(["merge", str(one), str(two), "--report-dir", str(tmp_path / "out")])

    err = capsys.readouterr().err
    assert status == ExitStatus.USAGE
    assert _one_line(err).startswith("smtpcheck: error: ")


def test_shard_diffs_without_their_baseline_still_merge(tmp_path: Path) -> None:
    """FIXED (merge): diff["baseline"] was a KeyError traceback."""
    paths = _two(tmp_path)
    for path in paths:
        _edit(path, lambda d: d.update(diff={"counts": {}}))

    result = merge_shards(list(paths))

    assert result.diff is not None and result.exit_status is ExitStatus.FINDINGS


def test_merge_of_a_directory_without_report_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, _ = _two(tmp_path)
    (tmp_path / "empty").mkdir()

    assert cli.main(["merge", str(one.parent), str(tmp_path / "empty")]) == 2
    assert "cannot read shard report" in _one_line(capsys.readouterr().err)


def test_merge_of_a_fifo_does_not_hang(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one, _ = _two(tmp_path)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)

    assert cli.main(["merge", str(one), str(fifo)]) == 2
    assert "not a regular file" in _one_line(capsys.readouterr().err)


def test_merge_into_a_report_dir_that_is_a_file_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    one, two = _two(tmp_path)
    (tmp_path / "file").write_text("")

    try:
        status = cli.main(["merge", str(one), str(two), "--report-dir", str(tmp_path / "file")])
    except OSError as exc:
        pytest.fail(f"traceback: {exc!r}")
    assert status == 2 and _one_line(capsys.readouterr().err)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(row=st.dictionaries(st.sampled_from(["control_id", "target", "status", "severity",
                                            "summary", "evidence", "references", "change",
                                            "remediation"]), _FIELD, max_size=9))  # fmt: skip
def test_any_shard_finding_merges_or_is_one_config_error(
    tmp_path: Path, row: dict[str, Any]
) -> None:
    one, two = _two(tmp_path)
    _edit(two, lambda d: d["findings"].append(row))
    try:
        result = merge_shards([one, two])
    except ConfigError as exc:
        _one_line(str(exc))
    else:
        render_summary(result, tmp_path, 2)
        render_step_summary(result)


# --- history ----------------------------------------------------------------------------------


def _history_with_one_run(tmp_path: Path, status: Status = Status.FAIL) -> Path:
    history = tmp_path / "history"
    written = write_reports(AuditResult.of([_f("CRED-02", "a", status)], STARTED), tmp_path / "r")
    record_run(history, STARTED, written, {})
    return history


@pytest.mark.parametrize("name", ["..", ".", "", "../history/..", "20270101T020000Z/../.."])
def test_an_index_entry_naming_the_parent_is_not_read(tmp_path: Path, name: str) -> None:
    """FIXED (history._runs): only "/" was refused, so {"dir": ".."} read the report.json
    beside the history directory as the baseline and the trend."""
    history = tmp_path / "history"
    history.mkdir()
    write_reports(AuditResult.of([_f("CRED-02", "a", Status.FAIL)], STARTED), tmp_path)
    (history / INDEX).write_text(json.dumps({"runs": [{"dir": name}]}))

    assert latest_report(history) is None
    assert read_trend(history) == ()


@pytest.mark.parametrize(
    "index", ['{"runs": 5}', '{"runs": "x"}', "[]", "{", "\xff", '{"runs": {"dir": "a"}}']
)
def test_a_broken_index_is_one_config_error_before_the_audit(tmp_path: Path, index: str) -> None:
    """FIXED (history): {"runs": 5} was a TypeError traceback while loading the config; any
    other broken index read as "no runs" and was then overwritten (the history lost)."""
    history = _history_with_one_run(tmp_path)
    (history / INDEX).write_bytes(index.encode("utf-8", "surrogateescape").replace(
        b"\xc3\xbf", b"\xff"))  # fmt: skip

    with pytest.raises(ConfigError, match="history index") as caught:
        check_history_dir(history, "--history")
    _one_line(str(caught.value))
    assert latest_report(history) is None  # and reading it never raises


def test_a_broken_index_found_at_the_end_of_a_run_is_kept_beside(tmp_path: Path) -> None:
    history = _history_with_one_run(tmp_path)
    (history / INDEX).write_text("{ half written")
    written = write_reports(AuditResult.of([], STARTED), tmp_path / "r2")

    record_run(history, STARTED + dt.timedelta(days=1), written, {})

    kept = [p for p in history.iterdir() if p.name.startswith(f"{INDEX}.broken-")]
    assert len(kept) == 1 and kept[0].read_text() == "{ half written"
    assert json.loads((history / INDEX).read_text())["runs"][0]["dir"] == "20270102T020000Z"


def _returns_within(seconds: float, action: Callable[[], object]) -> bool:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive()


def test_a_fifo_index_or_run_report_does_not_hang_the_run(tmp_path: Path) -> None:
    """FIXED (history): index.json and each run's report.json (the trend, read at the end of
    every audit) were read with read_text: a FIFO there hung the audit forever."""
    history = _history_with_one_run(tmp_path)
    run_report = history / "20270101T020000Z" / "report.json"
    run_report.unlink()
    os.mkfifo(run_report)
    assert _returns_within(5, lambda: read_trend(history))

    (history / INDEX).unlink()
    os.mkfifo(history / INDEX)
    assert _returns_within(5, lambda: latest_report(history))
    with pytest.raises(ConfigError, match="not a regular file"):
        check_history_dir(history, "--history")


@pytest.mark.parametrize("kind", ["binary", "huge", "fifo", "directory"])
def test_a_bad_baseline_file_is_one_config_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "report.json"
    if kind == "binary":
        path.write_bytes(b"\x00\xff\xfe" * 10)
    elif kind == "huge":
        with path.open("wb") as out:
            out.truncate((64 << 20) + 1)
    elif kind == "fifo":
        os.mkfifo(path)
    else:
        path.mkdir()

    with pytest.raises(ConfigError) as caught:
        read_baseline(path)
    _one_line(str(caught.value))


def test_a_key_file_never_shows_its_content(tmp_path: Path) -> None:
    key = tmp_path / "fingerprint.key"
    key.write_text(f"zz{CANARY}")
    key.chmod(0o600)
    with pytest.raises(ConfigError) as caught:
        check_key_file(key)
    assert CANARY not in str(caught.value) and "zz" not in str(caught.value)

    key.unlink()
    (tmp_path / "real.key").write_text("ab" * 32)
    (tmp_path / "real.key").chmod(0o600)
    key.symlink_to(tmp_path / "real.key")
    with pytest.raises(ConfigError, match="not a regular file"):
        check_key_file(key)
    assert "ab" * 32 not in repr(check_key_file(tmp_path / "real.key"))


# --- 4. nothing lost --------------------------------------------------------------------------


def _config(tmp_path: Path, *, history: Path | None = None,
            extra: tuple[str, ...] = ()) -> Any:  # fmt: skip
    over_time = SimpleNamespace(extra_reports=extra, history=history)
    return SimpleNamespace(over_time=over_time, report_dir=tmp_path / "reports")


def _problem_result() -> AuditResult:
    return AuditResult.of([_f("CRED-02", "web1", Status.FAIL)], STARTED, scope=WHOLE)


def test_a_step_summary_that_is_a_directory_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "summary").mkdir()

    publish(
        _problem_result(), _config(tmp_path), {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary")}
    )

    assert "GITHUB_STEP_SUMMARY" in _one_line(capsys.readouterr().err)
    assert {p.name for p in (tmp_path / "reports").iterdir()} == {
        "report.json", "report.html", "junit.xml"}  # fmt: skip


def test_an_unwritable_history_or_a_failing_extra_report_loses_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "history").write_text("a file, not a directory")

    def broken(result: AuditResult) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr("smtpcheck.reports.sarif_report.render_sarif", broken)
    publish(_problem_result(), _config(tmp_path, history=tmp_path / "history", extra=("sarif",
            "codequality")), {})  # fmt: skip

    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("smtpcheck: warning: ") for line in err)
    names = {p.name for p in (tmp_path / "reports").iterdir()}
    assert {"report.json", "report.html", "junit.xml", "gl-code-quality-report.json"} <= names
    assert json.loads((tmp_path / "reports" / "report.json").read_text())["exit_status"] == 1


# --- 2. secrets -------------------------------------------------------------------------------


def test_annotations_from_the_cli_path_are_scrubbed(
    canary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = AuditResult.of([_f("CRED-02", "web1", Status.FAIL, f"file holds {canary}")], STARTED)
    audit = SimpleNamespace(environ={"GITHUB_ACTIONS": "true"}, result=result)

    runner.github_annotations(audit)  # type: ignore[arg-type]

    out = capsys.readouterr().out
    assert out.startswith("::error title=CRED-02 web1::") and canary not in out


def test_findings_are_scrubbed_in_every_ci_output(canary: str, tmp_path: Path) -> None:
    finding = _f("CRED-02", "web1", Status.FAIL, f"echo {canary}", excerpt=canary[:10])
    result = AuditResult.of([finding], STARTED, scope=WHOLE)

    written = write_reports(result, tmp_path, ("sarif", "codequality"))
    publish(result, _config(tmp_path), {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})

    for path in [*written.values(), tmp_path / "summary.md"]:
        assert canary[:10] not in path.read_text(), path.name
    assert canary[:10] not in "\n".join(render_summary(result, tmp_path, 2))


def _waived_with(justification: str) -> AuditResult:
    waiver = Waiver("CRED-02", "web1", justification, dt.date(2030, 1, 1))
    return AuditResult.of([_f("CRED-02", "web1", Status.FAIL)], STARTED, scope=WHOLE,
                          waivers=[waiver], today=TODAY)  # fmt: skip


def test_a_password_pasted_into_a_waiver_justification_is_redacted(
    canary: str, tmp_path: Path
) -> None:
    result = _waived_with(f"temporary password {canary} until CHG-7")

    written = write_reports(result, tmp_path, ("sarif",))
    publish(result, _config(tmp_path), {"GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")})

    leaks = [p.name for p in [*written.values(), tmp_path / "summary.md"]
             if canary in p.read_text()]  # fmt: skip
    assert leaks == []


def test_a_merge_output_never_carries_the_fingerprint_key(tmp_path: Path) -> None:
    key = "cd" * 32
    one, two = _two(tmp_path)
    result = merge_shards([one, two])
    written = write_reports(result, tmp_path / "merged", ("sarif", "codequality"))

    assert all(key not in p.read_text() for p in written.values())
    assert result.scope is not None and result.scope.fingerprint_key is None  # no key in them


# --- 5. hostile text --------------------------------------------------------------------------

HOSTILE = [
    "\x1b]8;;https://evil.example\x07click\x1b]8;;\x07",
    "\x1b[2J\x1b[31mred",
    "line\rOVERWRITTEN",
    "a\n::error title=forged::injected",
    "%0A::warning::x %25",
    "| cell | <img src=x onerror=alert(1)> <!-- ",
    "[link](javascript:alert(1)) **bold** `code`",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_is_inert_in_the_terminal_with_and_without_colour(text: str) -> None:
    result = AuditResult.of([_f("CRED-02", text, Status.FAIL, text)], STARTED, scope=WHOLE)

    for verbosity in (-1, 0, 2):
        for colour in (False, True):
            lines = render_summary(result, Path("r"), verbosity, colour=colour)
            printed = "\n".join(lines)
            # the only ESC is smtpcheck's own colour around the status word
            assert re.sub(r"\x1b\[(?:3[1-5]|2|0)m", "", printed).count("\x1b") == 0
            assert "\r" not in printed and all("\n" not in line for line in lines)


def _table_widths(markdown: str) -> list[int]:
    """Each table's width; a row of another width than its header fails the test."""
    widths: list[int] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("| "):
            cells = len(re.split(r"(?<!\\)\|", line)) - 2
            if not previous.startswith("| "):
                widths.append(cells)
            assert cells == widths[-1], line
        previous = line
    return widths


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_text_cannot_forge_a_workflow_command_or_break_the_summary(text: str) -> None:
    waiver = Waiver("CRED-02", "*", text, dt.date(2030, 1, 1))
    findings = [_f("CRED-02", text, Status.FAIL, text), _f("SPF-01", text, Status.WARN, text)]
    result = AuditResult.of(findings, STARTED, scope=WHOLE, waivers=[waiver], today=TODAY)

    lines = render_annotations(result)
    assert len(lines) == 1 and lines[0].startswith("::warning title=SPF-01 ")
    title, _, message = lines[0].removeprefix("::warning title=").partition("::")
    assert "::" not in title and "\r" not in message and "\n" not in message
    markdown = render_step_summary(result)
    assert "<img" not in markdown and "<!--" not in markdown and "\x1b" not in markdown
    assert _table_widths(markdown) == [7, 6]  # counts; problems: every row its header's width


def test_bidi_controls_do_not_reach_the_terminal() -> None:
    spoof = "web1\u202e:gnissap"
    result = AuditResult.of([_f("CRED-02", spoof, Status.FAIL, spoof)], STARTED, scope=WHOLE)

    printed = "\n".join(render_summary(result, Path("r")))

    assert not re.search("[\u200e\u200f\u202a-\u202e\u2066-\u2069]", printed)


@settings(max_examples=100, deadline=None)
@given(text=st.text(max_size=300), big=st.booleans())
def test_any_text_keeps_every_output_structured(text: str, big: bool) -> None:
    text = text * 400 if big and text else text
    findings = [
        _f("CRED-02", text or "t", Status.FAIL, text),
        _f("DNS-05", "d", Status.ERROR, text),
    ]
    result = AuditResult.of(findings, STARTED, scope=WHOLE)

    json.loads(render_sarif(result))
    for line in render_annotations(result):
        assert "\n" not in line and "\r" not in line and len(line) < 20_000
    assert all(len(line) < 20_000 for line in render_step_summary(result).splitlines())
    assert all("\x1b" not in line for line in render_summary(result, Path("r")))
