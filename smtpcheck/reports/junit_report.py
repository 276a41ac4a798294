"""junit.xml: one test suite per target (host, domain or relay endpoint), one test case per
control, built with ElementTree (never by string concatenation)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable

from smtpcheck.catalogue import CONTROLS
from smtpcheck.findings import Finding, Status
from smtpcheck.result import AuditResult, layer_of
from smtpcheck.text import document_safe

_ELEMENT = {Status.FAIL: "failure", Status.ERROR: "error", Status.SKIP: "skipped"}


# Characters XML 1.0 cannot carry at all, even escaped (untrusted banners and records may hold
# them): shown as \xNN instead.
def xml_safe(text: str) -> str:
    """Text for XML: what XML cannot hold, and what would make a CI view read text other than
    it is (smtpcheck.text), escaped."""
    return document_safe(text)


def _evidence_lines(key: str, value: object) -> list[str]:
    """One ``key: value`` line; a list or tuple one indented line per item, not its repr."""
    if isinstance(value, list | tuple):
        return [f"{key}:"] + [f"  - {item}" for item in value] if value else [f"{key}: (none)"]
    return [f"{key}: {value}"]


def _details(finding: Finding) -> str:
    lines = [f"{finding.status.value.upper()}: {finding.summary}", ""]
    for key, value in finding.evidence.items():
        lines += _evidence_lines(key, value)
    if finding.remediation:
        lines += ["", f"remediation: {finding.remediation}"]
    if finding.references:
        lines += [f"references: {'; '.join(finding.references)}"]
    return xml_safe("\n".join(lines))


def _seconds(value: float) -> str:
    return f"{value:.3f}"


def _testcase(suite: ET.Element, finding: Finding, seconds: float) -> None:
    control = CONTROLS.get(finding.control_id)
    title = control.title if control else ""
    case = ET.SubElement(
        suite,
        "testcase",
        name=f"{finding.control_id} {title}".strip(),
        # Per target: CI test views (GitLab keys a case on classname and name) keep one case
        # per control and target instead of squashing every host's CRED-04 into one.
        classname=xml_safe(f"smtpcheck.{layer_of(finding).value}.{finding.target}"),
        # what evaluating it took in this run: its setup (the shared observation, for the
        # first control of a target to need it) and its call
        time=_seconds(seconds),
    )
    properties = ET.SubElement(case, "properties")
    for name, value in (("status", finding.status.value), ("severity", finding.severity.value)):
        ET.SubElement(properties, "property", name=name, value=value)
    if finding.status is Status.WARN:  # JUnit has no warning element: say it where seen
        ET.SubElement(properties, "property", name="warning", value=xml_safe(finding.summary))
    element = _ELEMENT.get(finding.status)
    if element is not None:
        detail = ET.SubElement(case, element, message=xml_safe(finding.summary))
        if element != "skipped":
            detail.set("type", finding.status.value)
            detail.text = _details(finding)
    else:
        ET.SubElement(case, "system-out").text = _details(finding)


def _suite(root: ET.Element, target: str, findings: Iterable[Finding], result: AuditResult) -> None:
    items = list(findings)
    counts = {status: sum(f.status is status for f in items) for status in Status}
    times = [result.seconds_of(finding) for finding in items]
    suite = ET.SubElement(
        root,
        "testsuite",
        name=xml_safe(target),
        tests=str(len(items)),
        failures=str(counts[Status.FAIL]),
        errors=str(counts[Status.ERROR]),
        skipped=str(counts[Status.SKIP]),
        timestamp=result.started_at.isoformat(timespec="seconds"),
        time=_seconds(sum(times)),
    )
    for finding, seconds in zip(items, times, strict=True):
        _testcase(suite, finding, seconds)


def render_junit(result: AuditResult) -> str:
    summary = result.summary.counts
    root = ET.Element(
        "testsuites",
        name="smtpcheck",
        tests=str(result.summary.total),
        failures=str(summary[Status.FAIL]),
        errors=str(summary[Status.ERROR]),
        skipped=str(summary[Status.SKIP]),
        time=_seconds((result.finished_at - result.started_at).total_seconds()),
    )
    by_target: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_target.setdefault(finding.target, []).append(finding)
    for target, findings in by_target.items():
        _suite(root, target, findings, result)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
