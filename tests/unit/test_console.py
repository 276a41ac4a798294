"""The terminal story (issue 9 §6): scope, diff first, problems by severity, one verdict line;
-q prints only problems and the verdict; colour touches only smtpcheck's own status words."""

from __future__ import annotations

import datetime as dt
import re
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType

import pytest

from smtpcheck.catalogue import Layer
from smtpcheck.console import render_summary
from smtpcheck.findings import ROOT_CAUSE, EvidenceValue, Finding, Severity, Status
from smtpcheck.history import Change, Diff
from smtpcheck.result import AuditResult
from smtpcheck.runner import _Progress
from smtpcheck.scope import HostScope, Scope
from smtpcheck.waivers import Waiver

STARTED = datetime(2027, 1, 1, tzinfo=UTC)
HOSTILE = "\x1b]0;owned\x07\x1b[2J banner"


def _f(control: str, target: str, status: Status, severity: Severity = Severity.HIGH,
       summary: str = "", **evidence: EvidenceValue) -> Finding:  # fmt: skip
    return Finding(control, target, status, severity, summary or f"{control} {status}", evidence)


FINDINGS = [
    _f("CRED-02", "web1", Status.FAIL, Severity.MEDIUM),
    _f("CRED-04", "web1", Status.FAIL, Severity.CRITICAL),
    _f("CRED-01", "web2", Status.ERROR, summary="could not inspect the host"),
    Finding(
        "CRED-03", "web2", Status.ERROR, Severity.HIGH, "not evaluated", {ROOT_CAUSE: "CRED-01"}
    ),
    _f("DMARC-03", "example.org", Status.WARN, Severity.MEDIUM, summary=HOSTILE),
    _f("SPF-01", "example.org", Status.PASS),
]
SCOPE = Scope(layers=(Layer.HOST, Layer.DNS), hosts=(HostScope("web1", "ssh://web1",
              "wordpress", "A/B"), HostScope("web2", "ssh://web2", "joomla", "C")))  # fmt: skip
DIFF = Diff("base.json", "2026-12-31T02:00:00+00:00", MappingProxyType({
    ("CRED-04", "web1"): Change.NEW, ("SPF-01", "example.org"): Change.FIXED,
    ("CRED-02", "web1"): Change.UNCHANGED}))  # fmt: skip


def _result() -> AuditResult:
    waiver = Waiver("DMARC-03", "*.org", "moving to p=reject", dt.date(2027, 3, 31))
    return AuditResult.of(FINDINGS, STARTED, scope=SCOPE, diff=DIFF, waivers=[waiver],
                          today=dt.date(2027, 1, 1))  # fmt: skip


def test_scope_then_diff_then_problems_by_severity_then_the_verdict() -> None:
    lines = render_summary(_result(), Path("reports"))
    text = "\n".join(lines)

    assert "scope: layers run: host, dns" in text and "scope: not run: relay" in text
    assert "scope: narrowed: the relay layer was not run" in text
    assert "scope: 2 host(s): 1 joomla, 1 wordpress" in text
    since = next(i for i, line in enumerate(lines) if line.startswith("since 2026-12-31"))
    problems = lines.index("problems:")
    assert since < problems
    assert "1 new, 1 fixed, 0 changed, 1 unchanged" in lines[since]
    problem_lines = lines[problems + 1 : -2]
    assert [line.split()[1] for line in problem_lines] == ["CRED-01", "CRED-04", "CRED-02",
                                                          "DMARC-03"]  # fmt: skip
    assert "[new]" in problem_lines[1]
    assert "[waived until 2027-03-31]" in problem_lines[3]
    # one cause, one line: the control it kept from running is only counted
    assert "CRED-03" not in text
    assert lines[-2].startswith("smtpcheck: Not compliant: 1 pass, 2 fail, 1 warn, 0 skip, "
                                "1 error, 1 not_evaluated, 1 waived")  # fmt: skip
    assert lines[-1].startswith("reports: ")


def test_quiet_prints_only_the_problems_and_the_verdict() -> None:
    lines = [line for line in render_summary(_result(), Path("r"), -1) if line]

    assert [line.split()[1] for line in lines[:-1]] == ["CRED-01", "CRED-04", "CRED-02",
                                                       "DMARC-03"]  # fmt: skip
    assert lines[-1].startswith("smtpcheck: Not compliant")


def test_a_narrowed_clean_run_is_never_called_plain_compliant() -> None:
    result = AuditResult.of([_f("SPF-01", "example.org", Status.PASS)], STARTED, scope=SCOPE)

    assert result.verdict == "Compliant within a narrowed scope"
    whole = AuditResult.of(result.findings, STARTED,
                           scope=Scope(layers=tuple(Layer)))  # fmt: skip
    assert whole.verdict == "Compliant"


def test_colour_paints_status_words_only_and_hostile_escapes_stay_escaped() -> None:
    plain = render_summary(_result(), Path("r"), colour=False)
    painted = render_summary(_result(), Path("r"), colour=True)

    assert not any("\x1b" in line for line in plain)
    dmarc = next(line for line in painted if "DMARC-03" in line)
    assert dmarc.startswith("  \x1b[33mWARN \x1b[0m DMARC-03")
    assert dmarc.count("\x1b") == 2  # ours; the banner's ESC and BEL are shown as \xNN
    assert "\\x1b]0;owned\\x07" in dmarc
    unpainted = [re.sub("\x1b\\[[0-9]+m", "", line) for line in painted]
    assert unpainted == plain  # colour adds nothing else


def test_the_progress_bar_is_drawn_only_on_a_terminal_and_cleared_at_the_end(
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain, bar = _Progress(bar=False), _Progress(bar=True)

    for done in (1, 2):
        plain(f"web{done}: 9 pass (0.{done} s)", done, 2)
    ci = capsys.readouterr().out
    for done in (1, 2):
        bar(f"web{done}: 9 pass (0.{done} s)", done, 2)
    terminal = capsys.readouterr().out

    assert ci == "  web1: 9 pass (0.1 s)\n  web2: 9 pass (0.2 s)\n"  # CI logs: lines only
    assert "\x1b" not in ci and "[" not in ci
    assert "[###############...............] 1/2" in terminal
    assert "\r\x1b[K  web2" in terminal  # the bar is replaced by the next line
    assert terminal.endswith("2/2\r\x1b[K")  # and cleared when every target is done


def test_progress_lines_show_hostile_target_names_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _Progress(bar=False)(f"{HOSTILE}: 1 fail", 1, 1)

    assert "\x1b" not in capsys.readouterr().out
