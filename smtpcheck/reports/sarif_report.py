"""report.sarif: SARIF 2.1.0 for GitHub code scanning (``--extra-report sarif``).

One run; one rule per control that the run evaluated; one result per fail, error and warn
(passes and skips are not alerts). A finding has no file and line, but code scanning refuses a
result without a physical location, so each target is given a stable pseudo-path
(``smtpcheck/<layer>/<target>``, see :func:`artifact_path`) and line 1, and is named as what it
is by a logical location of kind ``resource``. Alerts are matched across runs by
``partialFingerprints``, a hash of the control and the target only: a summary that changes
wording, or a volatile number in it, must not close one alert and open another.

The helpers shared with the GitLab Code Quality report (fingerprint, path, text cleaning) live
here so that the two formats name the same finding the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

from smtpcheck.catalogue import CONTROLS, Control
from smtpcheck.findings import Finding, Severity, Status
from smtpcheck.history import Change
from smtpcheck.result import AuditResult, layer_of
from smtpcheck.text import UNSAFE_TEXT, escaped

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
FINGERPRINT_KEY = "smtpcheckFinding/v1"  # the partialFingerprints key; bump it if the hash changes

PROBLEM_STATUSES = (Status.FAIL, Status.ERROR, Status.WARN)

# GitHub reads a rule's properties.security-severity (a number, written as a string as CodeQL
# does) to rank alerts: >= 9.0 critical, 7.0-8.9 high, 4.0-6.9 medium, 0.1-3.9 low, 0.0 none.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
_DEFAULT_LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
_BASELINE_STATE = {Change.NEW: "new", Change.UNCHANGED: "unchanged", Change.CHANGED: "updated"}

# Characters no viewer should be handed raw: C0/C1 controls (ESC sequences, CR), DEL, lone
# surrogates (not encodable as UTF-8), non-characters, and the bidirectional overrides that
# make text read differently from what it is ("Trojan Source"). Shown as \xNN / \uXXXX.
_UNSAFE = UNSAFE_TEXT
_PATH_SAFE = re.compile(r"[A-Za-z0-9._-]+")
_PATH_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_SLUG = 80


def plain_text(text: str, keep: str = "") -> str:
    """``text`` with every unsafe character (see ``_UNSAFE``) but those in ``keep`` written as
    an escape: host, DNS and relay text is hostile, and every output format shows it."""

    def shown(match: re.Match[str]) -> str:
        char = match.group()
        return char if char in keep else escaped(char)

    return _UNSAFE.sub(shown, text)


def finding_fingerprint(finding: Finding) -> str:
    """Stable across runs: sha256 of the control id and the target, never of the summary."""
    key = f"{finding.control_id}\0{finding.target}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(key).hexdigest()


def artifact_path(finding: Finding) -> str:
    """A URI-safe relative pseudo-path for the finding's target: ``smtpcheck/<layer>/<slug>``.
    A target that is not already a safe, short name gets a hash suffix, so that two targets
    that slug alike (``a:b``, ``a/b``) never share a path."""
    target = finding.target
    if _PATH_SAFE.fullmatch(target) and len(target) <= MAX_SLUG and target.strip(".") != "":
        slug = target
    else:
        digest = hashlib.sha256(target.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        stem = _PATH_UNSAFE.sub("-", target).strip(".-")[:MAX_SLUG].rstrip(".-")
        slug = f"{stem}-{digest}" if stem else f"target-{digest}"
    return f"smtpcheck/{layer_of(finding).value}/{slug}"


def problems(result: AuditResult) -> list[Finding]:
    """The fail, error and warn findings, in report order."""
    return [finding for finding in result.findings if finding.status in PROBLEM_STATUSES]


def message_text(finding: Finding) -> str:
    return plain_text(f"{finding.target}: {finding.summary}", keep="\n\t")


def _rule_name(control: Control) -> str:
    words = re.findall(r"[A-Za-z0-9]+", control.title)
    return "".join(word[:1].upper() + word[1:] for word in words) or control.id.replace("-", "")


def _remediation(findings: Iterable[Finding]) -> str:
    """A remediation for the rule's help: a problem's first, else any finding's."""
    ordered = sorted(findings, key=lambda f: f.status not in PROBLEM_STATUSES)
    return next((f.remediation for f in ordered if f.remediation), "")


def _rule(control_id: str, findings: list[Finding]) -> dict[str, Any]:
    control = CONTROLS.get(control_id)
    first = findings[0]
    severity = control.severity if control else first.severity
    layer = control.layer if control else layer_of(first)
    title = control.title if control else control_id
    full = f"Passes when {control.passes_when}." if control else title
    references = control.references if control else first.references
    help_lines = [full]
    remediation = _remediation(findings)
    if remediation:
        help_lines += ["", f"Remediation: {remediation}"]
    if references:
        help_lines += ["", "References: " + "; ".join(references)]
    return {
        "id": control_id,
        "name": _rule_name(control) if control else control_id.replace("-", ""),
        "shortDescription": {"text": plain_text(title)},
        "fullDescription": {"text": plain_text(full)},
        "help": {"text": plain_text("\n".join(help_lines), keep="\n")},
        "defaultConfiguration": {"level": _DEFAULT_LEVEL[severity]},
        "properties": {
            "tags": ["security", "smtpcheck", layer.value],
            "security-severity": SECURITY_SEVERITY[severity],
        },
    }


def _rules(result: AuditResult) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """One rule per control evaluated in this run: catalogue order, unknown ids after."""
    by_control: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_control.setdefault(finding.control_id, []).append(finding)
    order = {control_id: n for n, control_id in enumerate(CONTROLS)}
    ids = sorted(by_control, key=lambda c: (order.get(c, len(order)), c))
    return [_rule(c, by_control[c]) for c in ids], {c: n for n, c in enumerate(ids)}


def _result(result: AuditResult, finding: Finding, rule_index: int) -> dict[str, Any]:
    layer = layer_of(finding).value
    target = plain_text(finding.target)
    properties: dict[str, Any] = {
        "smtpcheck_status": finding.status.value,
        "severity": finding.severity.value,
        "layer": layer,
        "target": target,
    }
    entry: dict[str, Any] = {
        "ruleId": finding.control_id,
        "ruleIndex": rule_index,
        "level": "warning" if finding.status is Status.WARN else "error",
        "message": {"text": message_text(finding)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_path(finding)},
                    "region": {"startLine": 1},
                },
                "logicalLocations": [
                    {
                        "name": target,
                        "fullyQualifiedName": f"smtpcheck/{layer}/{target}",
                        "kind": "resource",
                    }
                ],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding_fingerprint(finding)},
    }
    change = result.change_of(finding)
    if change in _BASELINE_STATE:
        entry["baselineState"] = _BASELINE_STATE[change]
    waiver = result.waiver_of(finding)
    if waiver is not None and waiver.active:
        entry["suppressions"] = [
            {
                "kind": "external",
                "status": "accepted",
                "justification": plain_text(waiver.waiver.justification),
                "properties": {"expires": waiver.waiver.expires.isoformat()},
            }
        ]
    elif waiver is not None:  # expired: it waives nothing, but the lapse is shown
        properties["waiver"] = plain_text(waiver.label())
    entry["properties"] = properties
    return entry


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def information_uri() -> str | None:
    """The project's home page from the installed metadata (``[project.urls]``), if any."""
    try:
        meta = metadata.metadata("smtpcheck")
    except metadata.PackageNotFoundError:
        return None
    for entry in meta.get_all("Project-URL") or []:
        label, _, url = str(entry).partition(",")
        if label.strip().lower() in {"homepage", "home", "repository", "source"} and url:
            return url.strip()
    home = [str(value).strip() for value in meta.get_all("Home-page") or [] if value]
    return home[0] if home else None


def render_sarif(result: AuditResult) -> str:
    rules, index = _rules(result)
    driver: dict[str, Any] = {"name": "smtpcheck", "version": result.tool_version}
    uri = information_uri()
    if uri:
        driver["informationUri"] = uri
    driver["rules"] = rules
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        "invocations": [
            {
                "executionSuccessful": result.complete,
                "exitCode": int(result.exit_status),
                "startTimeUtc": _utc(result.started_at),
                "endTimeUtc": _utc(result.finished_at),
            }
        ],
        "results": [_result(result, f, index[f.control_id]) for f in problems(result)],
        "properties": {
            "verdict": result.verdict,
            "whole_audit": result.scope.whole if result.scope is not None else None,
            "narrowed_by": result.scope.narrowed_by() if result.scope is not None else [],
        },
    }
    document = {"$schema": SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
