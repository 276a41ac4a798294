"""GitHub Actions: the job summary (Markdown for ``$GITHUB_STEP_SUMMARY``) and workflow-command
annotations (``::error``/``::warning`` lines on stdout).

Summaries, targets and justifications come from hosts, DNS records, relays and files, so every
such value is made inert before it is placed: in Markdown, control characters and line breaks
are flattened, ``&``, ``<`` and ``>`` become entities (no raw HTML, no comment that swallows the
rest of the page) and the characters that make inline Markdown (``|`` above all, which would
split a table cell) are backslash-escaped; cells are capped. In a workflow command, values are
escaped as GitHub's toolkit does (``%``, CR and LF in the message; also ``:`` and ``,`` in a
property), so that no text can end the command early or start another on a new line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from smtpcheck.findings import ROOT_CAUSE, SEVERITY_RANK, STATUS_RANK, Finding, Status
from smtpcheck.history import Change
from smtpcheck.reports.sarif_report import PROBLEM_STATUSES, plain_text, problems
from smtpcheck.result import AuditResult

MAX_ROWS = 200  # per table; report.html and report.json hold every finding
MAX_SUMMARY = 300
MAX_TARGET = 100
MAX_WAIVER = 160
MAX_MESSAGE = 2000  # of an annotation's summary, before escaping
MAX_TITLE = 200

_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")
_MARKDOWN = re.compile(r"[\\`*_\[\]|~$&<>]")
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def markdown_text(text: str, limit: int | None = None) -> str:
    """``text`` as inert inline Markdown, on one line, at most ``limit`` characters of it."""
    flat = plain_text(_BREAKS.sub(" ", text))
    if limit is not None and len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return _MARKDOWN.sub(lambda m: _ENTITIES.get(m.group(), "\\" + m.group()), flat)


def _row(cells: Iterable[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]], more: str) -> list[str]:
    lines = [_row(header), _row("---" for _ in header)]
    lines += [_row(row) for row in rows[:MAX_ROWS]]
    if len(rows) > MAX_ROWS:
        lines += ["", f"… and {len(rows) - MAX_ROWS} more {more} (see report.html)."]
    return lines


def _waiver_cell(result: AuditResult, finding: Finding) -> str:
    waiver = result.waiver_of(finding)
    return markdown_text(waiver.label(), MAX_WAIVER) if waiver is not None else ""


def _finding_cells(result: AuditResult, finding: Finding) -> list[str]:
    return [
        finding.status.value.upper(),
        finding.severity.value,
        markdown_text(finding.control_id, 20),
        markdown_text(finding.target, MAX_TARGET),
        markdown_text(finding.summary, MAX_SUMMARY),
        _waiver_cell(result, finding),
    ]


def _heading(result: AuditResult) -> list[str]:
    lines = [f"## smtpcheck: {result.verdict} (exit status {int(result.exit_status)})", ""]
    if not result.complete:
        lines += ["**The run ended before every check ran.**", ""]
    lines += [f"Gate: {markdown_text(result.gate)}", ""]
    if result.scope is not None:
        lines += ["**Scope**", ""] + [f"- {markdown_text(line)}" for line in result.scope.lines()]
    else:
        lines += ["**Scope**: unknown (this run did not record what it covered)"]
    return [*lines, ""]


def _counts(result: AuditResult) -> list[str]:
    counts = result.summary.to_dict()
    counts["waived"] = sum(1 for waiver in result.waived.values() if waiver.active)
    header = [name.replace("_", " ") for name in counts]
    return [*_table(header, [[str(n) for n in counts.values()]], "counts"), ""]


def _diff(result: AuditResult) -> list[str]:
    diff = result.diff
    if diff is None:
        return []
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in diff.counts().items())
    lines = [
        "### Against the baseline",
        "",
        f"Baseline {markdown_text(diff.baseline, MAX_TARGET)} of "
        f"{markdown_text(diff.baseline_started_at[:19])}: {counts}.",
        "",
    ]
    listed = [f for f in result.findings if result.change_of(f) in (Change.NEW, Change.FIXED)]
    listed.sort(key=lambda f: result.change_of(f) is not Change.NEW)  # new first, then fixed
    if listed:
        rows = [[str(result.change_of(f)), *_finding_cells(result, f)[:5]] for f in listed]
        header = ["change", "status", "severity", "control", "target", "summary"]
        lines += [*_table(header, rows, "new or fixed findings"), ""]
    return lines


def _findings(result: AuditResult) -> list[str]:
    """Problems first, the most severe first; passes and skips after them, folded away."""
    found = [f for f in result.findings if f.status in PROBLEM_STATUSES]
    found.sort(key=lambda f: (SEVERITY_RANK[f.severity], STATUS_RANK[f.status]))
    header = ["status", "severity", "control", "target", "summary", "waiver"]
    lines = ["### Problems", ""]
    if found:
        rows = [_finding_cells(result, f) for f in found]
        lines += [*_table(header, rows, "problems"), ""]
    else:
        lines += ["No control failed, errored or warned.", ""]
    rest = [f for f in result.findings if f.status not in PROBLEM_STATUSES]
    if rest:
        rows = [_finding_cells(result, f) for f in rest]
        lines += [
            "<details><summary>Passed or not applicable: " + str(len(rest)) + "</summary>",
            "",
            *_table(header, rows, "findings"),
            "",
            "</details>",
            "",
        ]
    return lines


def render_step_summary(result: AuditResult) -> str:
    """The job summary: verdict and exit status, scope, counts, the diff against the baseline
    (when there is one), then the problems, most severe first."""
    lines = [*_heading(result), *_counts(result), *_diff(result), *_findings(result)]
    return "\n".join(lines) + "\n"


# --- annotations --------------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """A workflow command's message, as GitHub's toolkit escapes it (``escapeData``)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """A workflow command's property value (``escapeProperty``): also ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def _capped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _message(result: AuditResult, finding: Finding) -> str:
    marks = []
    if result.change_of(finding) is Change.NEW:
        marks.append("new since the baseline")
    waiver = result.waiver_of(finding)
    if waiver is not None and waiver.expired:
        marks.append(f"waiver expired {waiver.waiver.expires.isoformat()}")
    text = _capped(finding.summary, MAX_MESSAGE)
    return text + (f" [{'; '.join(marks)}]" if marks else "")


def render_annotations(result: AuditResult) -> list[str]:
    """One ``::error`` (fail, error) or ``::warning`` (warn) line per problem that no active
    waiver covers. GitHub shows only the first few annotations of a step, so the most severe
    come first, and the controls that an error kept from running (``root_cause``) last."""
    shown = [
        f for f in problems(result) if not ((w := result.waiver_of(f)) is not None and w.active)
    ]
    shown.sort(
        key=lambda f: (ROOT_CAUSE in f.evidence, SEVERITY_RANK[f.severity], STATUS_RANK[f.status])
    )
    lines = []
    for finding in shown:
        command = "warning" if finding.status is Status.WARN else "error"
        title = _capped(f"{finding.control_id} {finding.target}", MAX_TITLE)
        title = escape_property(plain_text(title, keep="\r\n"))
        message = escape_data(plain_text(_message(result, finding), keep="\r\n"))
        lines.append(f"::{command} title={title}::{message}")
    return lines
