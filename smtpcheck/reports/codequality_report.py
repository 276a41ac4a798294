"""gl-code-quality-report.json: GitLab Code Quality (``--extra-report codequality``).

GitLab reads a JSON array of Code Climate issues and uses only ``description``, ``check_name``,
``fingerprint``, ``severity``, ``location.path`` and ``location.lines.begin`` (its "implement a
custom tool" documentation); the merge request widget shows one entry per fingerprint and
compares fingerprints with the target branch's report, so the fingerprint is the control and
the target (never the summary) and the path is the same pseudo-path as in report.sarif.
``type`` and ``categories`` are added for other Code Climate readers; GitLab ignores them.

Only fails, errors and warns that no active waiver covers are issues: the widget has no notion
of an accepted exception, and a waived finding shown there would read as a new problem.
"""

from __future__ import annotations

import json
from typing import Any

from smtpcheck.findings import Finding, Severity
from smtpcheck.reports.sarif_report import (
    artifact_path,
    finding_fingerprint,
    message_text,
    problems,
)
from smtpcheck.result import AuditResult

SEVERITY = {
    Severity.INFO: "info",
    Severity.LOW: "minor",
    Severity.MEDIUM: "major",
    Severity.HIGH: "critical",
    Severity.CRITICAL: "blocker",
}


def _issue(finding: Finding) -> dict[str, Any]:
    return {
        "type": "issue",
        "check_name": finding.control_id,
        "description": message_text(finding),
        "categories": ["Security"],
        "severity": SEVERITY[finding.severity],
        "fingerprint": finding_fingerprint(finding),
        "location": {"path": artifact_path(finding), "lines": {"begin": 1}},
    }


def render_codequality(result: AuditResult) -> str:
    issues = []
    for finding in problems(result):
        waiver = result.waiver_of(finding)
        if waiver is not None and waiver.active:
            continue
        issues.append(_issue(finding))
    # No byte order mark (GitLab's parser refuses one): json.dumps never writes one.
    return json.dumps(issues, indent=2, ensure_ascii=False) + "\n"
