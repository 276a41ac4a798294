"""The terminal summary printed at the end of a run (plugin and CLI)."""

from __future__ import annotations

import re
from pathlib import Path

from smtpcheck.findings import Status
from smtpcheck.reports import REPORTERS
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTOR

_SHOWN_BY_DEFAULT = (Status.FAIL, Status.ERROR, Status.WARN)
# C0/C1 controls (ESC sequences, CR overwriting a line) from hosts, records and banners are shown
# as \xNN, never sent to the terminal.
_TERMINAL_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f]")


def terminal_safe(text: str) -> str:
    return _TERMINAL_UNSAFE.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def render_summary(result: AuditResult, report_dir: Path, verbosity: int = 0) -> list[str]:
    """Counts, the findings that need attention (all of them when verbose), report paths."""
    counts = ", ".join(f"{n} {status}" for status, n in result.summary.to_dict().items())
    lines = ["", f"smtpcheck: {counts} (exit status {result.exit_status.value})"]
    for finding in (f.scrubbed(REDACTOR.scrub_data) for f in result.findings):
        if verbosity > 0 or finding.status in _SHOWN_BY_DEFAULT:
            status = finding.status.value.upper()
            lines.append(
                f"  {status:<5} {finding.control_id:<9} {finding.target}: {finding.summary}"
            )
            if verbosity > 1:
                lines += [f"        {key}: {value}" for key, value in finding.evidence.items()]
                if finding.remediation and finding.is_problem:
                    lines.append(f"        remediation: {finding.remediation}")
    reports = " ".join(str(report_dir / filename) for filename, _ in REPORTERS.values())
    lines.append(f"reports: {reports}")
    return [terminal_safe(line) for line in lines]  # values were scrubbed; counts never are
