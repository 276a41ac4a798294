"""report.html: one self-contained file (inline CSS, no script, no external asset).

Everything from outside (file values, DNS records, SMTP replies, host names) is escaped by
jinja2's autoescape; nothing is marked safe.
"""

from __future__ import annotations

from dataclasses import dataclass

import jinja2
import markupsafe

from smtpcheck.catalogue import CONTROLS, Control, Layer
from smtpcheck.findings import Finding
from smtpcheck.reports.junit_report import xml_safe
from smtpcheck.result import AuditResult, layer_of


def _visible(value: object) -> object:
    """Control characters shown as ``\\xNN``: autoescape leaves them, and a raw ESC from a
    banner or file value would reach any terminal that displays the file (NUL is not HTML)."""
    if isinstance(value, markupsafe.Markup):  # already escaped (by join): keep it marked safe
        return markupsafe.Markup(xml_safe(str(value)))  # noqa: S704 (adds only \xNN text)
    return xml_safe(value) if isinstance(value, str) else value


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("smtpcheck.reports", "templates"),
    autoescape=True,
    finalize=_visible,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_LAYER_TITLES = {
    Layer.HOST: "Web servers: credential files",
    Layer.DNS: "Sending domains: SPF, DKIM, DMARC, MX",
    Layer.RELAY: "Relay: live test message",
}


@dataclass(frozen=True)
class Matrix:
    """One layer's target × control table."""

    layer: Layer
    title: str
    controls: list[Control]
    rows: list[tuple[str, dict[str, Finding]]]


def _anchor(finding: Finding) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in f"{finding.target}-{finding.control_id}")
    return f"f-{safe}"


def _matrices(result: AuditResult) -> list[Matrix]:
    matrices = []
    for layer in Layer:
        findings = [f for f in result.findings if layer_of(f) is layer]
        if not findings:
            continue
        present = {f.control_id for f in findings}
        controls = [control for cid, control in CONTROLS.items() if cid in present]
        rows: dict[str, dict[str, Finding]] = {}
        for finding in findings:
            rows.setdefault(finding.target, {})[finding.control_id] = finding
        matrices.append(Matrix(layer, _LAYER_TITLES[layer], controls, list(rows.items())))
    return matrices


def render_html(result: AuditResult) -> str:
    template = _ENV.get_template("report.html.j2")
    return template.render(
        result=result,
        counts=result.summary.to_dict(),
        matrices=_matrices(result),
        controls=CONTROLS,
        anchor=_anchor,
    )
