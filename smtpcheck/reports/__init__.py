"""Reporters: pure ``render(result) -> text`` functions behind a small registry.

Adding a format is one module, one registry line and one golden test. Counts and the exit status
come from the :class:`~smtpcheck.result.AuditResult`; no reporter re-derives them. Every
finding is scrubbed by the redactor before it is rendered, and every text again before it is
written (a second line of defence: evidence never holds a secret by construction), atomically.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path

from smtpcheck.findings import Finding
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
    findings = (Finding.from_dict(REDACTOR.scrub_data(f.to_dict())) for f in result.findings)
    result = replace(result, findings=tuple(findings))  # before the formats escape anything
    written = {}
    for name, (filename, render) in REPORTERS.items():
        path = directory / filename
        text = REDACTOR.scrub(render(result))
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{filename}.")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        Path(temporary).chmod(0o644)
        Path(temporary).replace(path)
        written[name] = path
    return written
