"""Two nightly runs of the lab with a fix and a new defect between them (issue 9 "done when"):
the diff shows exactly one fixed and one new finding in the terminal, report.json, report.html
and the GitHub step summary; waivers hold until their expiry day (a frozen clock)."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from smtpcheck import waivers
from smtpcheck.cli import main
from smtpcheck.lab import seeds
from smtpcheck.lab.sshd import LabHost, SshLab
from smtpcheck.secrets import encoded_forms
from smtpcheck.targets import App
from tests.lab.conftest import CREDS

WRONG = "Cnry-nightly-7e7e:WRONG"  # the new defect: a deployed password that differs


@dataclass(frozen=True)
class Night:
    lab: SshLab
    fixed: LabHost  # CRED-02 fails on the first night (0644), passes on the second
    broken: LabHost  # compliant on the first night, CRED-04 fails on the second
    inventory: Path


@pytest.fixture
def night(ssh_lab: SshLab, tmp_path: Path) -> Night:
    fixed = ssh_lab.add_host("night-fixed")
    broken = ssh_lab.add_host("night-broken")
    seeds.seed_credentials(fixed, App.WORDPRESS, seeds.labelled_file(CREDS), mode=0o644)
    seeds.seed_credentials(broken, App.MOODLE, seeds.labelled_file(CREDS))
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(
        f'[defaults]\nidentity_file = "{ssh_lab.client_key}"\nsudo = true\n\n'
        f'[[hosts]]\nname = "fixed"\nurl = "{fixed.url()}"\napp = "wordpress"\n\n'
        f'[[hosts]]\nname = "broken"\nurl = "{broken.url()}"\napp = "moodle"\n'
    )
    return Night(ssh_lab, fixed, broken, inventory)


def _run(night: Night, tmp_path: Path, reports: str, *extra: str,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "smtpcheck", "audit", "--inventory", str(night.inventory),
         "--known-hosts", str(night.lab.known_hosts), "--layers", "host",
         "--report-dir", str(tmp_path / reports), "--history", str(tmp_path / "history"),
         *extra],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, **CREDS.environment(), **(env or {})},
    )  # fmt: skip


def test_the_second_night_shows_one_fixed_and_one_new_finding(night: Night, tmp_path: Path) -> None:
    first = _run(night, tmp_path, "night1")
    assert first.returncode == 1, first.stdout + first.stderr  # CRED-02 fails on "fixed"
    seeds.seed_credentials(night.fixed, App.WORDPRESS, seeds.labelled_file(CREDS))  # 0400
    wrong = replace(CREDS, password=WRONG)
    seeds.seed_credentials(night.broken, App.MOODLE, seeds.labelled_file(wrong))
    summary = tmp_path / "step-summary.md"

    second = _run(night, tmp_path, "night2", env={
        "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_ACTIONS": "true"})  # fmt: skip

    assert second.returncode == 1, second.stdout + second.stderr
    report = json.loads((tmp_path / "night2" / "report.json").read_text())
    counts = report["diff"]["counts"]
    assert (counts["new"], counts["fixed"]) == (1, 1), counts
    marked = {(f["control_id"], f["target"]): f["change"] for f in report["findings"]
              if f["change"] in ("new", "fixed")}  # fmt: skip
    assert marked == {("CRED-02", "fixed"): "fixed", ("CRED-04", "broken"): "new"}
    # the baseline was the first night, taken from the history without --baseline
    assert report["diff"]["baseline"].endswith("report.json")
    assert report["scope"]["fingerprint_key"]  # keyed: comparable across runs
    notes = {(f["control_id"], f["target"]): f["credential_change"]
             for f in report["findings"] if f["credential_change"]}  # fmt: skip
    assert notes[("CRED-04", "broken")].startswith("password changed since")
    assert notes[("CRED-04", "fixed")].startswith("password unchanged since")
    # the terminal shows the diff before the problems
    out = second.stdout
    assert "since " in out, out + second.stderr
    since = out.index("since ")
    assert "1 new, 1 fixed" in out[since:].splitlines()[0]
    assert out.index("CRED-02   fixed:") < out.index("problems:")
    assert "[new]" in out and "[fixed]" in out
    assert "::error title=CRED-04" in out  # a GitHub annotation for the new fail
    # the history holds both nights, each with its reports
    index = json.loads((tmp_path / "history" / "index.json").read_text())
    assert len(index["runs"]) == 2
    assert (tmp_path / "history" / "fingerprint.key").stat().st_mode & 0o777 == 0o600
    step = summary.read_text()
    assert "CRED-04" in step and "new" in step and "fixed" in step
    html = (tmp_path / "night2" / "report.html").read_text()
    assert "fixed" in html and "new" in html
    for artifact in [out, second.stderr, step, html, json.dumps(report)]:
        for form in encoded_forms(WRONG) | encoded_forms(CREDS.password):
            assert form not in artifact


def test_fail_on_new_ignores_last_nights_fails(night: Night, tmp_path: Path) -> None:
    assert _run(night, tmp_path, "night1").returncode == 1  # CRED-02 fails on "fixed"

    again = _run(night, tmp_path, "night2", "--fail-on-new")

    assert again.returncode == 0, again.stdout + again.stderr  # nothing new
    report = json.loads((tmp_path / "night2" / "report.json").read_text())
    assert report["fail_on_new"] is True and report["summary"]["fail"] >= 1


def test_a_waiver_holds_until_its_expiry_day_and_is_shown(
    night: Night, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    waiver_file = tmp_path / "waivers.toml"
    waiver_file.write_text(
        '[[waiver]]\ncontrol = "CRED-02"\ntarget = "fix*"\n'
        'justification = "file mode fixed by the next deploy (CHG-77)"\nexpires = 2027-03-31\n'
        '\n[[waiver]]\ncontrol = "CRED-05"\ntarget = "broken"\n'
        'justification = "checked by hand"\nexpires = 2027-03-31\nrun = false\n'
    )
    for name, value in CREDS.environment().items():
        monkeypatch.setenv(name, value)
    args = ["audit", "--inventory", str(night.inventory), "--known-hosts",
            str(night.lab.known_hosts), "--layers", "host",
            "--waivers", str(waiver_file)]  # fmt: skip

    monkeypatch.setattr(waivers, "today_utc", lambda: dt.date(2027, 3, 31))
    assert main([*args, "--report-dir", str(tmp_path / "before")]) == 0
    out = capsys.readouterr().out
    assert "[waived until 2027-03-31]" in out
    report = json.loads((tmp_path / "before" / "report.json").read_text())
    waived = [f for f in report["findings"] if f["waiver"]]
    assert {(f["control_id"], f["target"], f["status"]) for f in waived} == {
        ("CRED-02", "fixed", "fail"), ("CRED-05", "broken", "skip")}  # fmt: skip
    skipped = next(f for f in waived if f["control_id"] == "CRED-05")
    assert skipped["summary"].startswith("not run: waived until 2027-03-31")
    assert len(report["waivers"]) == 2

    monkeypatch.setattr(waivers, "today_utc", lambda: dt.date(2027, 4, 1))
    assert main([*args, "--report-dir", str(tmp_path / "after")]) == 1
    report = json.loads((tmp_path / "after" / "report.json").read_text())
    lapsed = next(f for f in report["findings"] if f["control_id"] == "CRED-02"
                  and f["target"] == "fixed")  # fmt: skip
    assert lapsed["waiver"]["expired"] is True and lapsed["waiver"]["active"] is False
    ran = next(f for f in report["findings"] if f["control_id"] == "CRED-05"
               and f["target"] == "broken")  # fmt: skip
    assert not ran["summary"].startswith("not run")  # run = false lapsed too: evaluated again
    assert "[waiver expired 2027-03-31]" in capsys.readouterr().out
