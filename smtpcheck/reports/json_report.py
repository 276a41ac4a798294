"""report.json, schema version 1 (SPEC §3). Stable: fields are only ever added."""

from __future__ import annotations

import json
from typing import Any

from smtpcheck import waivers
from smtpcheck.findings import Finding
from smtpcheck.result import AuditResult, layer_of

SCHEMA_VERSION = 1


def render_json(result: AuditResult) -> str:
    today = result.today or waivers.today_utc()
    document = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "smtpcheck", "version": result.tool_version},
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "exit_status": int(result.exit_status),
        "complete": result.complete,
        "fail_on": result.fail_on or "any fail or error",
        "summary": result.summary.to_dict(),
        "verdict": result.verdict,
        # Added in schema 1 (issue 9): what the run covered, its waivers and its diff.
        "scope": result.scope.to_dict() if result.scope is not None else None,
        "targets": result.scope.targets_dict() if result.scope is not None else [],
        "waivers": [waiver.to_dict(today) for waiver in result.waivers],
        "fail_on_new": result.fail_on_new,
        "diff": result.diff.to_dict() if result.diff is not None else None,
        "findings": [_finding(result, finding) for finding in result.findings],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _finding(result: AuditResult, finding: Finding) -> dict[str, Any]:
    """A finding as SPEC §3 has it, plus (issue 9, additive) its layer, its waiver and its
    change against the baseline; the last two are null when there is none."""
    waiver = result.waiver_of(finding)
    today = result.today or waivers.today_utc()
    change = result.change_of(finding)
    key = finding.key
    note = result.diff.credentials.get(key) if result.diff is not None else None
    return {
        **finding.to_dict(),
        "layer": layer_of(finding).value,
        "waiver": {**waiver.waiver.to_dict(today), "active": waiver.active}
        if waiver is not None else None,
        "change": change.value if change is not None else None,
        "credential_change": note,
    }  # fmt: skip
