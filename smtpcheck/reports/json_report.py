"""report.json, schema version 1 (SPEC §3). Stable: fields are only ever added."""

from __future__ import annotations

import json

from smtpcheck.result import AuditResult, layer_of

SCHEMA_VERSION = 1


def render_json(result: AuditResult) -> str:
    document = {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "smtpcheck", "version": result.tool_version},
        "started_at": result.started_at.isoformat(),
        "finished_at": result.finished_at.isoformat(),
        "exit_status": int(result.exit_status),
        "complete": result.complete,
        "fail_on": result.fail_on or "any fail or error",
        "summary": result.summary.to_dict(),
        # layer: added in schema 1 (issue 9), so a consumer need not know every control id
        "findings": [
            {**finding.to_dict(), "layer": layer_of(finding).value} for finding in result.findings
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
