"""Reporters: pure ``render(result) -> text`` functions behind a small registry.

Adding a format is one module, one registry line and one golden test. Counts and the exit status
come from the :class:`~smtpcheck.result.AuditResult`; no reporter re-derives them. Every
finding's values are scrubbed by the redactor before it is rendered (a second line of defence:
evidence never holds a secret by construction); the rendered text is written atomically and
never rewritten afterwards, so a secret equal to a word of the format cannot corrupt it.
"""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from smtpcheck.history import record_run
from smtpcheck.reports.html_report import render_html
from smtpcheck.reports.json_report import render_json
from smtpcheck.reports.junit_report import render_junit
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTOR
from smtpcheck.text import terminal_safe

if TYPE_CHECKING:
    from smtpcheck.config import AuditConfig

Renderer = Callable[[AuditResult], str]

REPORTERS: Mapping[str, tuple[str, Renderer]] = {
    "json": ("report.json", render_json),
    "junit": ("junit.xml", render_junit),
    "html": ("report.html", render_html),
}


def _optional() -> Mapping[str, tuple[str, Renderer]]:
    from smtpcheck.reports.codequality_report import render_codequality
    from smtpcheck.reports.sarif_report import render_sarif

    return {
        "sarif": ("report.sarif", render_sarif),
        "codequality": ("gl-code-quality-report.json", render_codequality),
    }


def scrubbed(result: AuditResult) -> AuditResult:
    """``result`` with every finding's values (and the waivers' justifications) scrubbed:
    once, before any format escapes or truncates anything; rendered text is never rewritten
    (that could break its structure)."""
    findings = tuple(finding.scrubbed(REDACTOR.scrub_data) for finding in result.findings)
    # the operator's own text too: a password pasted into a justification is still a password
    waivers = tuple(
        replace(waiver, justification=REDACTOR.scrub(waiver.justification))
        for waiver in result.waivers
    )
    waived = {
        key: replace(applied, waiver=replace(
            applied.waiver, justification=REDACTOR.scrub(applied.waiver.justification)))
        for key, applied in result.waived.items()
    }  # fmt: skip
    return replace(result, findings=findings, waivers=waivers, waived=waived)


def _write(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    # a lone surrogate from a hostile host cannot be UTF-8: written as its escape, it cannot
    # make the write fail and lose every report (JSON reads "\ud800" back as the same text)
    with os.fdopen(handle, "w", encoding="utf-8", errors="backslashreplace") as out:
        out.write(text)
    Path(temporary).chmod(0o644)
    Path(temporary).replace(path)


def write_reports(
    result: AuditResult, directory: Path, extra: Sequence[str] = ()
) -> dict[str, Path]:
    """Write every report (and the ``extra`` opt-in ones) into ``directory``; returns the
    paths by format."""
    directory.mkdir(parents=True, exist_ok=True)
    result = scrubbed(result)
    optional = _optional() if extra else {}
    reporters = {**REPORTERS, **{name: optional[name] for name in extra}}
    written = {}
    for name, (filename, render) in reporters.items():
        path = directory / filename
        _write(path, render(result))
        written[name] = path
    return written


def publish(result: AuditResult, config: AuditConfig, environ: Mapping[str, str]) -> None:
    """Everything a finished run leaves behind: the reports first, then the opt-in reports,
    the run kept in the history and the GitHub Actions step summary. Once the three reports
    are written, a failure of any of the rest is one warning line: it never loses the audit
    (its findings, its exit status) or prints a traceback."""
    over_time = config.over_time
    written = write_reports(result, config.report_dir)
    clean = scrubbed(result) if over_time.extra_reports else result
    for name in over_time.extra_reports:
        _courtesy(f"the {name} report", partial(_write_extra, clean, config.report_dir, name))
    if over_time.history is not None:
        history = over_time.history
        entry = {
            "started_at": result.started_at.isoformat(),
            "exit_status": int(result.exit_status),
            "summary": result.summary.to_dict(),
            "whole_audit": result.scope.whole if result.scope is not None else None,
        }
        _courtesy(f"--history {history}: keeping this run",
                  lambda: record_run(history, result.started_at, written, entry))  # fmt: skip
    summary_file = environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        _courtesy(f"GITHUB_STEP_SUMMARY {summary_file}",
                  lambda: _append_step_summary(Path(summary_file), result))  # fmt: skip


def _write_extra(clean: AuditResult, directory: Path, name: str) -> None:
    """One opt-in report of an already scrubbed result (the three reports are written)."""
    filename, render = _optional()[name]
    _write(directory / filename, render(clean))


def _append_step_summary(path: Path, result: AuditResult) -> None:
    from smtpcheck.reports.github import render_step_summary

    with path.open("a", encoding="utf-8") as out:
        out.write(render_step_summary(scrubbed(result)))


def _courtesy(what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except OSError as exc:
        _warn(f"{what}: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - a bug here must not lose the written audit
        _warn(f"{what} failed (a bug in smtpcheck): {type(exc).__name__}: {exc}")


def _warn(message: str) -> None:
    line = REDACTOR.scrub(message).splitlines()[0] if message else message
    print(f"smtpcheck: warning: {terminal_safe(line[:300])}", file=sys.stderr)
