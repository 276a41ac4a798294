"""The terminal summary printed at the end of a run (plugin and CLI)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from smtpcheck.findings import ROOT_CAUSE, SEVERITY_RANK, STATUS_RANK, Finding, Status
from smtpcheck.history import Change
from smtpcheck.reports import REPORTERS
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTOR
from smtpcheck.text import terminal_safe

_SHOWN_BY_DEFAULT = (Status.FAIL, Status.ERROR, Status.WARN)


def _mark(result: AuditResult, finding: Finding) -> str:
    """`` [new]``, `` [waived until 2027-03-31]``: what the diff and the waivers say of it."""
    marks = []
    change = result.change_of(finding)
    if change is not None and change is not Change.UNCHANGED:
        marks.append(change.value)
    waiver = result.waiver_of(finding)
    if waiver is not None:
        state = "waiver expired" if waiver.expired else "waived until"
        marks.append(f"{state} {waiver.waiver.expires.isoformat()}")
    return f" [{'; '.join(marks)}]" if marks else ""


_COLOURS = {Status.PASS: "32", Status.FAIL: "31", Status.ERROR: "35", Status.WARN: "33",
            Status.SKIP: "2"}  # fmt: skip


def _line(result: AuditResult, finding: Finding) -> str:
    status = finding.status.value.upper()
    return (
        f"  {status:<5} {finding.control_id:<9} {finding.target}: {finding.summary}"
        f"{_mark(result, finding)}"
    )


def _painted(line: str) -> str:
    """A finding line with its status word coloured. Only the start of the line is looked
    at, which smtpcheck wrote; the rest was made terminal-safe first."""
    for status, code in _COLOURS.items():
        word = f"  {status.value.upper():<5} "
        if line.startswith(word):
            return f"  \x1b[{code}m{word[2:-1]}\x1b[0m {line[len(word) :]}"
    return line


def verdict_line(result: AuditResult) -> str:
    counts = ", ".join(f"{n} {status}" for status, n in result.summary.to_dict().items())
    waived = sum(1 for w in result.waived.values() if w.active)
    also = f", {waived} waived" if waived else ""
    return f"smtpcheck: {result.verdict}: {counts}{also} (exit status {result.exit_status.value})"


def render_summary(
    result: AuditResult, report_dir: Path, verbosity: int = 0, *, colour: bool = False
) -> list[str]:
    """The end of a run for a person: scope, the diff against the baseline, the problems
    (most severe first), one verdict line, the report paths. ``verbosity`` -1 (``-q``): only
    the problems and the verdict; 1: every finding; 2: their evidence and remediation."""
    result = replace(
        result, findings=tuple(f.scrubbed(REDACTOR.scrub_data) for f in result.findings)
    )
    lines = [""]
    if verbosity >= 0:
        if result.scope is not None:
            lines += [f"scope: {line}" for line in result.scope.lines()]
        if result.diff is not None:
            counts = ", ".join(f"{n} {name}" for name, n in result.diff.counts().items())
            lines.append(f"since {result.diff.baseline_started_at[:19]}: {counts}")
            for finding in result.findings:
                change = result.change_of(finding)
                if change in (Change.NEW, Change.FIXED):
                    lines.append(_line(result, finding))
    shown = [
        f
        for f in result.findings
        if verbosity > 0 or (f.status in _SHOWN_BY_DEFAULT and ROOT_CAUSE not in f.evidence)
    ]  # by default one cause is one line: the "not evaluated" that follow it are counted
    if verbosity <= 0:  # problems first, the most severe first
        shown.sort(key=lambda f: (STATUS_RANK[f.status], SEVERITY_RANK[f.severity]))
    if shown and verbosity >= 0:
        lines.append("problems:" if verbosity <= 0 else "findings:")
    for finding in shown:
        lines.append(_line(result, finding))
        if verbosity > 1:
            lines += [f"        {key}: {value}" for key, value in finding.evidence.items()]
            if finding.remediation and finding.is_problem:
                lines.append(f"        remediation: {finding.remediation}")
    lines.append(verdict_line(result))
    if verbosity >= 0:
        reports = " ".join(str(report_dir / filename) for filename, _ in REPORTERS.values())
        lines.append(f"reports: {reports}")
    safe = [terminal_safe(line) for line in lines]  # values were scrubbed; counts never are
    return [_painted(line) for line in safe] if colour else safe
