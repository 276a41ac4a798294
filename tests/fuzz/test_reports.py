"""The report writers (``smtpcheck.reports.write_reports``: report.json, junit.xml, report.html)
given findings whose summary, evidence and remediation hold a planted secret in any form: every
report parses (``json.loads``, ElementTree, ``html.parser``) and none holds any form of the
secret, raw or as the format escaped it. And a password equal to an ordinary word of the reports
("pass", "error", "critical", " ", or any word the report is made of) never changes a report's
structure: the same findings, statuses, counts, elements and attributes as without it.
"""

from __future__ import annotations

import json
import tempfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from smtpcheck.catalogue import CONTROLS
from smtpcheck.findings import Finding, Severity, Status
from smtpcheck.reports import write_reports
from smtpcheck.reports.junit_report import xml_safe
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTOR, Secret
from tests.fuzz.strategies import FILLER, USER, Plant, free_of, plants

STARTED = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12)
_TARGETS = st.sampled_from(
    ["paramiko://XabcX@web1.shop.example:1035", "shop.example", "relay:465 (user 0123…)",
     "<b>&'\"", "web\x1b[31m"]
)  # fmt: skip


@st.composite
def findings(draw: st.DrawFn, text: st.SearchStrategy[str]) -> list[Finding]:
    """Findings as the controls make them; every text a value (summary, evidence values,
    remediation) is drawn from ``text``."""
    leaf = st.one_of(text, st.integers(-5, 10**6), st.booleans(), st.none())
    value: st.SearchStrategy[Any] = st.recursive(
        leaf, lambda inner: st.lists(inner, max_size=3), max_leaves=6
    )
    made = []
    for _ in range(draw(st.integers(1, 5))):
        control = draw(st.sampled_from([*CONTROLS, "XDNS-99"]))
        made.append(Finding(
            control, draw(_TARGETS), draw(st.sampled_from(Status)),
            draw(st.sampled_from(Severity)), draw(text),
            draw(st.dictionaries(st.one_of(st.sampled_from(["password", "summary", "status"]),
                                           _TEXT), value, max_size=4)),
            draw(text), tuple(draw(st.lists(st.sampled_from(["RFC 4954 §4", "ADT doco"]),
                                            max_size=2))),
        ))  # fmt: skip
    return made


def _render(items: list[Finding]) -> dict[str, str]:
    result = AuditResult.of(items, STARTED, STARTED, "0.0.0-fuzz")
    with tempfile.TemporaryDirectory(prefix="smtpcheck-fuzz-reports-") as name:
        written = write_reports(result, Path(name))
        return {fmt: path.read_text(encoding="utf-8") for fmt, path in written.items()}


class _Html(HTMLParser):
    """Start tags with their attributes, and the text, of an HTML report."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.depth = 0
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        self.text.extend(value for _, value in attrs if value)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _json_strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in [k, *_json_strings(v)]]
    if isinstance(value, list):
        return [s for item in value for s in _json_strings(item)]
    return []


def _parsed(texts: dict[str, str]) -> tuple[Any, ET.Element, _Html]:
    """Each report parsed by a real parser of its format (a failure is a broken report)."""
    assert texts["html"].startswith("<!DOCTYPE html>") and texts["html"].rstrip().endswith(
        "</html>"
    )
    return json.loads(texts["json"]), ET.fromstring(texts["junit"]), _Html(texts["html"])


def _decoded(texts: dict[str, str]) -> str:
    """Every text of every report as a reader sees it, escapes undone."""
    document, junit, html = _parsed(texts)
    parts = _json_strings(document)
    for element in junit.iter():
        parts += [element.text or "", element.tail or "", *element.attrib.values()]
    parts += html.text
    return "\n".join([*parts, *texts.values()])


# --- a planted secret -------------------------------------------------------------------------

_MARK = "\0PLANT\0"  # where the planted form goes


@st.composite
def planted_findings(draw: st.DrawFn) -> tuple[Plant, list[Finding], list[Finding]]:
    """Findings whose texts hold the planted form, and the same findings without it."""
    plant = draw(plants())
    filler = FILLER.filter(lambda text: free_of(text, plant))
    texts = st.builds(lambda before, after: before + _MARK + ("" if plant.truncated else after),
                      filler, filler)  # fmt: skip
    made = draw(findings(st.one_of(texts, filler)))

    def fill(value: Any, with_: str) -> Any:
        if isinstance(value, str):
            return value.replace(_MARK, with_)
        if isinstance(value, list | tuple):
            return [fill(item, with_) for item in value]
        return value

    def variant(with_: str) -> list[Finding]:
        return [Finding(f.control_id, f.target, f.status, f.severity, fill(f.summary, with_),
                        {k: fill(v, with_) for k, v in f.evidence.items()},
                        fill(f.remediation, with_), f.references) for f in made]  # fmt: skip

    return plant, variant(plant.form), variant("")


def _forms_shown(plant: Plant) -> set[str]:
    """Every form of the secret, and each as junit.xml and report.html show a control
    character (``\\x1b``)."""
    forms = plant.leak_forms()
    return forms | {xml_safe(form) for form in forms}


@given(case=planted_findings())
def test_reports_parse_and_hold_no_form_of_a_planted_secret(
    case: tuple[Plant, list[Finding], list[Finding]],
) -> None:
    plant, with_plant, without = case
    before = REDACTOR.snapshot()
    try:
        REDACTOR.register(Secret(plant.secret), [USER])
        shown = _decoded(_render(with_plant))
        baseline = _decoded(_render(without))  # the same reports, the secret never planted
    finally:
        REDACTOR.restore(before)

    leaked = [form for form in _forms_shown(plant) if shown.count(form) > baseline.count(form)]
    assert leaked == []


# --- a password that is a word of the reports -------------------------------------------------

WORDS = ["pass", "fail", "error", "critical", "high", " ", "summary", "evidence", "status",
         "password", "true", "null", "testcase", "failure", "<", '"', "&", "td", "details",
         "CRED-04", "\n", "#", "-", ":", "smtpcheck"]  # fmt: skip


def _shape(value: Any) -> Any:
    """A JSON value with its free texts reduced to their type (the redactor may rewrite those)."""
    if isinstance(value, str):
        return str
    if isinstance(value, list):
        return [_shape(item) for item in value]
    return value


def _attributes(attrib: dict[str, str]) -> dict[str, Any]:
    """A junit.xml element's attributes, its free texts (a failure's message, a warning
    property's value: the finding's summary) reduced to their type."""
    free = {"message"} | ({"value"} if attrib.get("name") not in ("status", "severity") else set())
    return {key: str if key in free else value for key, value in attrib.items()}


def _structure(texts: dict[str, str]) -> dict[str, Any]:
    document, junit, html = _parsed(texts)
    findings_shape = [
        {**f, "summary": str, "remediation": str,
         "evidence": {k: _shape(v) for k, v in f["evidence"].items()}}
        for f in document.pop("findings")
    ]  # fmt: skip
    elements = [(el.tag, _attributes(el.attrib)) for el in junit.iter()]
    tags = [(tag, [(k, v if k != "title" else str) for k, v in attrs]) for tag, attrs in html.tags]
    return {"json": document, "findings": findings_shape, "junit": elements, "html": tags}


@given(items=findings(st.one_of(FILLER, st.sampled_from(WORDS), _TEXT)), data=st.data())
def test_a_password_equal_to_a_word_of_the_reports_keeps_their_structure(
    items: list[Finding], data: st.DataObject
) -> None:
    plain = _render(items)
    words = sorted({w for text in plain.values() for w in text.replace(">", " ").split()})
    password = data.draw(st.one_of(st.sampled_from(WORDS), st.sampled_from(words)))
    before = REDACTOR.snapshot()
    try:
        REDACTOR.register(Secret(password), [USER])
        redacted = _render(items)
    finally:
        REDACTOR.restore(before)

    assert _structure(redacted) == _structure(plain)
