"""Reporters: pure ``render(result) -> text`` functions behind a small registry.

Adding a format is one module, one registry line and one golden test. Counts and the exit status
come from the :class:`~smtpcheck.result.AuditResult`; no reporter re-derives them. Every
finding's values are scrubbed by the redactor before it is rendered (a second line of defence:
evidence never holds a secret by construction); the rendered text is written atomically and
never rewritten afterwards, so a secret equal to a word of the format cannot corrupt it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from smtpcheck.reports.html_report import render_html
from smtpcheck.reports.json_report import render_json
from smtpcheck.reports.junit_report import render_junit
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTOR

Renderer = Callable[[AuditResult], str]

REPORTERS: Mapping[str, tuple[str, Renderer]] = {
    "json": ("report.json", render_json),
    "junit": ("junit.xml", render_junit),
    "html": ("report.html", render_html),
}


def write_reports(result: AuditResult, directory: Path) -> dict[str, Path]:
    """Write every report into ``directory``; returns the paths by format."""
    directory.mkdir(parents=True, exist_ok=True)
    # Scrubbed once, on the findings' values, before any format escapes or truncates anything;
    # the rendered text is never rewritten (that could break its structure).
    findings = tuple(finding.scrubbed(REDACTOR.scrub_data) for finding in result.findings)
    result = replace(result, findings=findings)
    written = {}
    for name, (filename, render) in REPORTERS.items():
        path = directory / filename
        text = render(result)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{filename}.")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
        written[name] = path
    return written
