"""Baseline diff, the history directory and keyed fingerprints (issue 9 §3)."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from smtpcheck.errors import ConfigError
from smtpcheck.findings import EvidenceValue, ExitStatus, Finding, Severity, Status
from smtpcheck.history import (
    Change,
    compare,
    key_id,
    latest_report,
    load_or_create_key,
    read_baseline,
    read_trend,
    record_run,
)
from smtpcheck.reports import write_reports
from smtpcheck.result import AuditResult
from smtpcheck.secrets import Secret, fingerprint, use_fingerprint_key

STARTED = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)


def _f(control: str, target: str, status: Status, **evidence: EvidenceValue) -> Finding:
    return Finding(control, target, status, Severity.HIGH, f"{control} {status}", evidence)


def _baseline(tmp_path: Path, findings: list[Finding], name: str = "base") -> Path:
    written = write_reports(AuditResult.of(findings, STARTED), tmp_path / name)
    return written["json"]


def test_each_finding_is_new_fixed_changed_or_unchanged(tmp_path: Path) -> None:
    before = [
        _f("CRED-02", "a", Status.FAIL, mode="0644"),
        _f("CRED-02", "b", Status.PASS, mode="0600"),
        _f("CRED-04", "a", Status.FAIL, differs="password"),
        _f("CRED-04", "b", Status.PASS),
        _f("SPF-01", "gone.example", Status.FAIL),
    ]
    after = [
        _f("CRED-02", "a", Status.PASS, mode="0600"),  # fixed
        _f("CRED-02", "b", Status.FAIL, mode="0644"),  # new: a problem that was not one
        _f("CRED-04", "a", Status.FAIL, differs="from address"),  # changed: evidence differs
        _f("CRED-04", "b", Status.PASS),  # unchanged
        _f("CRED-01", "c", Status.ERROR),  # new: not in the baseline, a problem
        _f("CRED-01", "d", Status.PASS),  # not in the baseline, fine: unchanged
    ]
    diff = compare(after, read_baseline(_baseline(tmp_path, before)), key_id=None)

    assert dict(diff.changes) == {
        ("CRED-02", "a"): Change.FIXED,
        ("CRED-02", "b"): Change.NEW,
        ("CRED-04", "a"): Change.CHANGED,
        ("CRED-04", "b"): Change.UNCHANGED,
        ("CRED-01", "c"): Change.NEW,
        ("CRED-01", "d"): Change.UNCHANGED,
    }
    assert diff.gone == (("SPF-01", "gone.example"),)
    assert diff.counts() == {"new": 2, "fixed": 1, "changed": 1, "unchanged": 2,
                             "not_in_this_run": 1}  # fmt: skip


def test_evidence_that_differs_on_every_run_is_not_a_change(tmp_path: Path) -> None:
    before = [_f("SMTP-04", "relay", Status.PASS, queue_id="1ACD9", timings_ms=("connect: 3",),
                 token="smtpcheck-1", host="in-v3.mailjet.com")]  # fmt: skip
    after = [_f("SMTP-04", "relay", Status.PASS, queue_id="15C57", timings_ms=("connect: 9",),
                token="smtpcheck-2", host="in-v3.mailjet.com")]  # fmt: skip
    moved = [_f("SMTP-04", "relay", Status.PASS, queue_id="15C57", host="in.mailjet.com")]
    baseline = read_baseline(_baseline(tmp_path, before))

    assert compare(after, baseline, None).changes[("SMTP-04", "relay")] is Change.UNCHANGED
    assert compare(moved, baseline, None).changes[("SMTP-04", "relay")] is Change.CHANGED


def test_fingerprints_compare_only_under_one_key(tmp_path: Path) -> None:
    key = Secret(os.urandom(32).hex())
    use_fingerprint_key(key)
    try:
        same = fingerprint(Secret("s3cret-pw"))
        other = fingerprint(Secret("n3w-pw"))
        assert same == fingerprint(Secret("s3cret-pw"))  # stable under the key
    finally:
        use_fingerprint_key(None)
    assert fingerprint(Secret("s3cret-pw")) != same  # without the key: another value
    kid = key_id(bytes.fromhex(key.reveal()))
    before = [_f("CRED-04", "a", Status.PASS, password_fingerprint=same)]
    path = _baseline(tmp_path, before)
    document = json.loads(path.read_text())
    document["scope"] = {"fingerprint_key": kid}  # as a keyed run writes it
    path.write_text(json.dumps(document))
    baseline = read_baseline(path)

    unchanged = compare([_f("CRED-04", "a", Status.PASS, password_fingerprint=same)], baseline, kid)
    changed = compare([_f("CRED-04", "a", Status.PASS, password_fingerprint=other)], baseline, kid)
    unkeyed = compare([_f("CRED-04", "a", Status.PASS, password_fingerprint=other)], baseline, None)

    assert unchanged.credentials[("CRED-04", "a")] == (
        "password unchanged since the baseline run of 2027-01-01"
    )
    assert changed.changes[("CRED-04", "a")] is Change.CHANGED
    assert changed.credentials[("CRED-04", "a")].startswith("password changed since")
    # per-run salts: every fingerprint differs, so they say nothing and change nothing
    assert unkeyed.changes[("CRED-04", "a")] is Change.UNCHANGED and not unkeyed.credentials


def test_the_key_file_is_created_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "fingerprint.key"

    key = load_or_create_key(path)

    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key


@pytest.mark.parametrize(
    ("content", "mode", "message"),
    [("ab" * 32, 0o644, "readable or writable by others"),
     ("not hex", 0o600, "not a hex key"),
     ("abcd", 0o600, "shorter than 16 bytes")],
)  # fmt: skip
def test_a_bad_key_file_is_refused(tmp_path: Path, content: str, mode: int, message: str) -> None:
    path = tmp_path / "k"
    path.write_text(content)
    path.chmod(mode)

    with pytest.raises(ConfigError, match=message):
        load_or_create_key(path)


def test_a_symlinked_key_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("ab" * 32)
    (tmp_path / "real").chmod(0o600)
    (tmp_path / "k").symlink_to(tmp_path / "real")

    with pytest.raises(ConfigError, match="not a regular file"):
        load_or_create_key(tmp_path / "k")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{", "not JSON"), ('{"schema_version": 2, "findings": []}', "schema_version 1"),
     ('{"schema_version": 1, "findings": {}}', "not a list"),
     ('{"schema_version": 1, "findings": [{"control_id": "X"}]}', "lacks"),
     ('{"schema_version": 1, "findings": [{"control_id": "X", "target": "t",'
      ' "status": "green"}]}', "bad status"),
     # found by hypothesis in CI: a hostile id must not break the one-line message
     ('{"schema_version": 1, "findings": [{"control_id": "\\n", "target": "",'
      ' "status": "fail", "evidence": null}]}', "a finding of '\\n' has a bad status")],
)  # fmt: skip
def test_a_bad_baseline_is_one_config_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(content)

    with pytest.raises(ConfigError) as raised:
        read_baseline(path)
    assert message in str(raised.value) and "\n" not in str(raised.value)


def test_runs_are_kept_by_utc_time_and_the_latest_is_the_next_baseline(tmp_path: Path) -> None:
    history = tmp_path / "history"
    for day, status in enumerate((Status.FAIL, Status.PASS, Status.WARN)):
        started = STARTED + timedelta(days=day)
        result = AuditResult.of([_f("CRED-02", "a", status)], started)
        written = write_reports(result, tmp_path / f"reports{day}")
        record_run(history, started, written, {"exit_status": int(result.exit_status)})

    runs = json.loads((history / "index.json").read_text())["runs"]
    assert [run["dir"] for run in runs] == ["20270101T020000Z", "20270102T020000Z",
                                            "20270103T020000Z"]  # fmt: skip
    assert sorted(p.name for p in (history / "20270102T020000Z").iterdir()) == [
        "junit.xml", "report.html", "report.json"]  # fmt: skip
    assert latest_report(history) == history / "20270103T020000Z" / "report.json"
    trend = read_trend(history, limit=2)
    assert [point.statuses["CRED-02"] for point in trend] == ["pass", "warn"]


def test_two_runs_in_one_second_are_both_kept(tmp_path: Path) -> None:
    written = write_reports(AuditResult.of([], STARTED), tmp_path / "r")
    first = record_run(tmp_path / "h", STARTED, written, {})
    second = record_run(tmp_path / "h", STARTED, written, {})

    assert first != second and second.name == "20270101T020000Z-2"
    assert latest_report(tmp_path / "h") == second / "report.json"


def test_an_index_naming_paths_outside_the_history_is_ignored(tmp_path: Path) -> None:
    history = tmp_path / "h"
    history.mkdir()
    (history / "index.json").write_text(json.dumps({"runs": [{"dir": "../../etc"}]}))

    assert latest_report(history) is None
    assert read_trend(history) == ()


def test_fail_on_new_gates_only_on_new_fails_but_always_on_errors(tmp_path: Path) -> None:
    baseline = read_baseline(_baseline(tmp_path, [_f("CRED-02", "a", Status.FAIL),
                                                  _f("CRED-01", "b", Status.ERROR)]))  # fmt: skip
    old_fail = [_f("CRED-02", "a", Status.FAIL)]
    new_fail = [*old_fail, _f("CRED-02", "c", Status.FAIL)]
    old_error = [_f("CRED-01", "b", Status.ERROR)]

    def status(findings: list[Finding]) -> ExitStatus:
        diff = compare(findings, baseline, None)
        return AuditResult.of(findings, STARTED, diff=diff, fail_on_new=True).exit_status

    assert status(old_fail) is ExitStatus.OK
    assert status(new_fail) is ExitStatus.FINDINGS
    assert status(old_error) is ExitStatus.FINDINGS  # a run that could not look is never green
    plain = AuditResult.of(old_fail, STARTED, diff=compare(old_fail, baseline, None))
    assert plain.exit_status is ExitStatus.FINDINGS  # without --fail-on-new: every fail
