"""Reporters: golden files for report.json, junit.xml and report.html, plus the properties each
format must keep whatever the golden says (SPEC §3 keys, one JUnit suite per target, nothing
executable or external in the HTML, hostile text escaped).

The golden files live in ``tests/golden/``. After an intended change to a reporter, regenerate
them and review the diff before committing::

    SMTPCHECK_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/unit/test_reports.py
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
import stat
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

import smtpcheck.reports
from smtpcheck.findings import Finding, Severity, Status
from smtpcheck.reports import REPORTERS, write_reports
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTOR, Secret

GOLDEN = Path(__file__).parent.parent / "golden"
UPDATE = os.environ.get("SMTPCHECK_UPDATE_GOLDEN") == "1"

# Text from outside (file values, banners, DNS records, host names) at its worst.
HOSTILE = "<script>alert(1)</script> & \"dq\" 'sq' \x1b[31mred\x1b[0m \x00nul naïve ☃ 𝄞"
HOSTILE_HOST = "paramiko://web3.shop.example<img src=x onerror=alert(1)>"


def _findings() -> list[Finding]:
    web1, web2 = "paramiko://X1a2b3c4d5e6f7g8h9iX@web1.shop.example:1035", "ssh://web2"
    return [
        Finding("CRED-01", web1, Status.PASS, Severity.HIGH, "/var/www/wordpresssmtp is a "
                "regular file of 102 bytes", {"app": "wordpress", "size": 102, "type":
                "regular file"}, references=("ADT doco/AgileToolkitDeployment/"
                "DeployingSMTPService.md",)),
        Finding("CRED-02", web1, Status.FAIL, Severity.CRITICAL, "/var/www/wordpresssmtp is "
                "readable by every local user (mode 0644)", {"mode": "0644", "owner": "root",
                "problems": ("readable by every local user (mode 0644)", HOSTILE)},
                "chmod 0400 /var/www/wordpresssmtp", ("RFC 8314 §3", "ADT ActivateSMTP.sh")),
        Finding("CRED-03", web1, Status.WARN, Severity.LOW, "lines end in CR LF",
                {"shape": HOSTILE, "crlf": True, "note": None}, "Rewrite the file."),
        Finding("CRED-04", web1, Status.SKIP, Severity.HIGH, "no build-time settings given",
                {}, "Give the SYSTEM_EMAIL_* values."),
        Finding("CRED-05", web2, Status.ERROR, Severity.HIGH, "could not inspect the host: "
                + HOSTILE, {"failure": "HostKeyMismatch", "ssh": ("note one", "note two")},
                "Do not proceed until the key change is explained."),
        Finding("CRED-01", HOSTILE_HOST, Status.FAIL, Severity.HIGH, "summary " + HOSTILE,
                {HOSTILE: HOSTILE}, "remediation " + HOSTILE, ("reference " + HOSTILE,)),
        Finding("XDNS-99", "shop.example", Status.PASS, Severity.INFO, "a control id that is "
                "not in the catalogue"),
    ]  # fmt: skip


RESULT = AuditResult.of(
    _findings(),
    started_at=datetime(2026, 3, 1, 2, 0, 0, tzinfo=UTC),
    finished_at=datetime(2026, 3, 1, 2, 0, 7, 250000, tzinfo=UTC),
    tool_version="0.0.0-test",
)


@pytest.mark.parametrize("name", REPORTERS.keys())
def test_golden(name: str) -> None:
    filename, render = REPORTERS[name]
    golden = GOLDEN / filename

    text = render(RESULT)

    if UPDATE:
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"no golden file: run with SMTPCHECK_UPDATE_GOLDEN=1 ({__doc__})"
    assert text == golden.read_text(encoding="utf-8")


def test_rendering_is_deterministic() -> None:
    again = AuditResult.of(reversed(_findings()), RESULT.started_at, RESULT.finished_at,
                           "0.0.0-test")  # fmt: skip

    assert [render(again) for _, render in REPORTERS.values()] == [
        render(RESULT) for _, render in REPORTERS.values()
    ]


# --- report.json --------------------------------------------------------------------------------

FINDING_KEYS = ["control_id", "target", "status", "severity", "summary", "evidence",
                "remediation", "references", "layer", "waiver", "change",
                "credential_change"]  # fmt: skip


def test_json_shape() -> None:
    document = json.loads(REPORTERS["json"][1](RESULT))

    assert list(document) == ["schema_version", "tool", "started_at", "finished_at",
                              "exit_status", "complete", "fail_on", "summary", "verdict",
                              "scope", "targets", "waivers", "fail_on_new", "diff",
                              "findings"]  # fmt: skip
    assert document["complete"] is True  # added in schema 1: the session ran every check
    assert document["fail_on"] == "any fail or error"  # added in schema 1: the gate
    assert document["schema_version"] == 1
    assert document["tool"] == {"name": "smtpcheck", "version": "0.0.0-test"}
    assert document["started_at"] == "2026-03-01T02:00:00+00:00"
    assert document["finished_at"] == "2026-03-01T02:00:07.250000+00:00"
    assert document["exit_status"] == 1
    assert document["summary"] == {
        "pass": 2, "fail": 2, "warn": 1, "skip": 1, "error": 1, "not_evaluated": 0
    }  # fmt: skip
    assert len(document["findings"]) == 7
    for finding in document["findings"]:
        assert list(finding) == FINDING_KEYS
        assert finding["layer"] == ("dns" if finding["control_id"].startswith("SPF") else "host")
        assert isinstance(finding["evidence"], dict) and isinstance(finding["references"], list)
    hostile = next(f for f in document["findings"] if f["target"] == HOSTILE_HOST)
    assert hostile["summary"] == "summary " + HOSTILE  # JSON carries the text exactly
    assert hostile["evidence"] == {HOSTILE: HOSTILE}


def test_json_round_trips_to_the_same_findings() -> None:
    document = json.loads(REPORTERS["json"][1](RESULT))

    assert tuple(Finding.from_dict(f) for f in document["findings"]) == RESULT.findings


def test_json_has_no_raw_control_characters() -> None:
    text = REPORTERS["json"][1](RESULT)

    assert not re.search("[\x00-\x08\x0b-\x1f]", text)
    assert "\\u001b[31m" in text and "\\u0000nul" in text


# --- junit.xml ----------------------------------------------------------------------------------

_ELEMENT = {"fail": "failure", "error": "error", "skip": "skipped"}


def _junit(text: str | None = None) -> ET.Element:
    """junit.xml parsed by a strict XML parser (our own output, not untrusted input)."""
    return ET.fromstring(REPORTERS["junit"][1](RESULT) if text is None else text)


def test_junit_one_suite_per_target_and_an_element_per_status() -> None:
    root = _junit()

    assert root.tag == "testsuites"
    assert root.attrib == {"name": "smtpcheck", "tests": "7", "failures": "2", "errors": "1",
                           "skipped": "1", "time": "7.250"}  # the run's wall time  # fmt: skip
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == sorted(
        {f.target for f in RESULT.findings}, key=[f.target for f in RESULT.findings].index
    )
    by_target = {s.get("name"): s for s in suites}
    for finding in RESULT.findings:
        suite = by_target[finding.target]
        [case] = [c for c in suite.findall("testcase")
                  if (c.get("name") or "").split()[0] == finding.control_id]  # fmt: skip
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        warning = {"warning": finding.summary} if finding.status is Status.WARN else {}
        assert properties == {
            "status": finding.status.value, "severity": finding.severity.value, **warning
        }  # fmt: skip
        children = {child.tag for child in case} - {"properties"}
        expected = _ELEMENT.get(finding.status.value, "system-out")
        assert children == {expected}
        if expected in ("failure", "error"):
            element = case.find(expected)
            assert element is not None and element.get("type") == finding.status.value
    for suite in suites:
        cases = suite.findall("testcase")
        assert suite.get("tests") == str(len(cases))
        assert suite.get("failures") == str(
            len([c for c in cases if c.find("failure") is not None])
        )
        assert suite.get("timestamp") == "2026-03-01T02:00:00+00:00"


def test_junit_times_are_each_findings_measured_seconds() -> None:
    first, second = RESULT.findings[0], RESULT.findings[1]
    durations = {(first.control_id, first.target): 1.5, (second.control_id, second.target): 0.25}
    result = replace(RESULT, durations=durations)

    root = ET.fromstring(REPORTERS["junit"][1](result))

    times = {(c.get("classname"), c.get("name")): c.get("time", "") for c in root.iter("testcase")}
    assert sorted(times.values())[-2:] == ["0.250", "1.500"]  # measured ones; the rest 0.000
    assert set(times.values()) <= {"0.000", "0.250", "1.500"}
    suite = next(s for s in root.iter("testsuite") if s.get("name") == first.target)
    expected = sum(d for (_, target), d in durations.items() if target == first.target)
    assert float(suite.get("time") or "nan") == expected


def test_junit_names_controls_with_their_titles() -> None:
    root = _junit()

    names = {c.get("name") for c in root.iter("testcase")}
    assert "CRED-02 Credential file protected" in names
    assert "XDNS-99" in names  # not in the catalogue: the id alone
    for suite in root.iter("testsuite"):  # a classname per target: GitLab keys cases on it
        expected = f"smtpcheck.host.{suite.get('name')}"
        assert {c.get("classname") for c in suite.iter("testcase")} == {expected}
    pairs = [(c.get("classname"), c.get("name")) for c in root.iter("testcase")]
    assert len(pairs) == len(set(pairs))


def test_junit_shows_warnings_and_evidence_lists_as_lines() -> None:
    warned = replace(_findings()[0], status=Status.WARN, summary="weak but working",
                     evidence={"problems": ("one", "two"), "empty": ()})  # fmt: skip
    root = _junit(REPORTERS["junit"][1](AuditResult.of([warned], RESULT.started_at)))
    case = next(root.iter("testcase"))
    assert ("warning", "weak but working") in [
        (p.get("name"), p.get("value")) for p in case.iter("property")
    ]
    out = case.findtext("system-out") or ""
    assert out.startswith("WARN: weak but working")
    assert "problems:\n  - one\n  - two" in out and "empty: (none)" in out
    assert "('one'" not in out


def test_junit_escapes_markup_and_illegal_xml_characters() -> None:
    text = REPORTERS["junit"][1](RESULT)

    assert "<script>" not in text and "<img" not in text
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f]", text)
    root = _junit(text)
    suite = next(s for s in root.iter("testsuite") if (s.get("name") or "").startswith(
        "paramiko://web3"))  # fmt: skip
    assert suite.get("name") == HOSTILE_HOST
    failure = suite.find("testcase/failure")
    assert failure is not None
    shown = HOSTILE.replace("\x1b", "\\x1b").replace("\x00", "\\x00")
    assert failure.get("message") == "summary " + shown
    assert failure.text is not None and f"remediation: remediation {shown}" in failure.text


# --- report.html --------------------------------------------------------------------------------


class _Tags(HTMLParser):
    """Every start tag of a document with its attributes, as a browser's tokenizer sees them."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained_and_inert() -> None:
    html = REPORTERS["html"][1](RESULT)

    tags = _Tags(html).tags
    names = {tag for tag, _ in tags}
    assert not names & {"img", "iframe", "object", "embed", "link", "form", "base"}
    assert [attrs for tag, attrs in tags if tag == "script"] == [{}]  # the page's own, inline
    script = html[html.index("<script>") : html.index("</script>")]
    assert "{{" not in script and "alert" not in script and "http" not in script
    attributes = [(tag, name, value) for tag, attrs in tags for name, value in attrs.items()]
    assert not [a for a in attributes if a[1].startswith("on")]  # no event handlers
    assert not [a for a in attributes if a[1] in ("src", "srcset", "action", "formaction")]
    hrefs = [value for _, name, value in attributes if name == "href"]
    assert hrefs and all(value is not None and value.startswith("#") for value in hrefs)
    assert html.lower().count("<script") == 1
    assert "@import" not in html and "url(" not in html
    assert "default-src 'none'" in html  # the CSP: nothing may load, only hashed inline code


def test_html_escapes_hostile_text() -> None:
    html = REPORTERS["html"][1](RESULT)

    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;dq&#34; &#39;sq&#39;" in html
    assert "web3.shop.example&lt;img src=x onerror=alert(1)&gt;" in html
    assert "naïve ☃ 𝄞" in html  # non-ASCII is text, not a problem
    assert not re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", html)  # no raw ESC or NUL
    assert "\\x1b[31mred" in html and "\\x00nul" in html


def test_html_verdict_counts_and_open_problems() -> None:
    html = REPORTERS["html"][1](RESULT)

    assert "Not compliant: 2 failed, 1 could not be evaluated (exit status 1)" in html
    assert html.count('<li class="problem ') == 4  # fail, fail, error, warn
    assert html.count('<table class="evidence">') == 4  # on those cards; passes have none
    lines = re.findall(r'<li id="[^"]+" data-status="(\w+)">', html)  # under All findings
    assert sorted(lines) == ["error", "fail", "fail", "pass", "pass", "skip", "warn"]
    assert "<th>type</th>" not in html  # CRED-01's, a pass: its evidence is in report.json
    assert "<li>readable by every local user (mode 0644)</li>" in html  # CRED-02 fail


def test_html_for_a_clean_empty_run() -> None:
    result = AuditResult.of([], RESULT.started_at, RESULT.finished_at, "0.0.0-test")

    html = REPORTERS["html"][1](result)

    # a result without a recorded scope is never plain "Compliant"
    assert "Compliant (scope not recorded): no control failed or errored (exit status 0)" in html
    assert "No findings: nothing was audited" in html


# --- write_reports ------------------------------------------------------------------------------

CANARY = "Canary-7f3e9d21-smtp-password"


def test_write_reports_scrubs_registered_secrets_in_every_form(tmp_path: Path) -> None:
    REDACTOR.register(Secret(CANARY), ["relay-user"])
    plain = base64.b64encode(f"\0relay-user\0{CANARY}".encode()).decode()
    leaky = Finding("CRED-04", "paramiko://web1", Status.FAIL, Severity.HIGH,
                    f"password differs: {CANARY}", {"transcript": f"AUTH PLAIN {plain}",
                    "login": base64.b64encode(CANARY.encode()).decode()},
                    f"never {CANARY}")  # fmt: skip
    result = AuditResult.of([leaky], RESULT.started_at, RESULT.finished_at, "0.0.0-test")

    written = write_reports(result, tmp_path / "reports")

    assert set(written) == {"json", "junit", "html"}
    assert {p.name for p in written.values()} == {"report.json", "junit.xml", "report.html"}
    for path in written.values():
        text = path.read_text(encoding="utf-8")
        assert CANARY not in text and plain not in text
        assert base64.b64encode(CANARY.encode()).decode() not in text
        assert "&lt;redacted&gt;" in text or "<redacted>" in text
        assert "password differs" in text
    assert json.loads(written["json"].read_text())["findings"][0]["evidence"] == {
        "transcript": "AUTH PLAIN <redacted>", "login": "<redacted>"
    }  # fmt: skip


# Characters every format escapes: JSON writes " as \\" and non-ASCII as \\u00f6, HTML and XML
# write & as &amp; and " as &quot;. Scrubbing the rendered text cannot find such a secret.
ESCAPED_CANARY = 'Cnry-q"u&o<t>e-p\u00f6ss\\word'


def test_write_reports_scrubs_secrets_that_the_formats_escape(tmp_path: Path) -> None:
    REDACTOR.register(Secret(ESCAPED_CANARY))
    leaky = Finding("SMTP-03", "in-v3.mailjet.com:465", Status.FAIL, Severity.HIGH,
                    f"the relay answered 535 bad password {ESCAPED_CANARY}",
                    {"reply": f"535 {ESCAPED_CANARY}", "list": (ESCAPED_CANARY,)},
                    f"never {ESCAPED_CANARY}")  # fmt: skip
    result = AuditResult.of([leaky], RESULT.started_at, RESULT.finished_at, "0.0.0-test")

    written = write_reports(result, tmp_path / "reports")

    finding = json.loads(written["json"].read_text(encoding="utf-8"))["findings"][0]
    assert finding["summary"] == "the relay answered 535 bad password <redacted>"
    assert finding["evidence"] == {"reply": "535 <redacted>", "list": ["<redacted>"]}
    assert finding["remediation"] == "never <redacted>"
    root = ET.parse(written["junit"]).getroot()
    junit = [*root.itertext(), *(value for e in root.iter() for value in e.attrib.values())]
    assert not [text for text in junit if ESCAPED_CANARY in text]
    page = html.unescape(written["html"].read_text(encoding="utf-8"))
    assert "<redacted>" in page
    assert ESCAPED_CANARY not in page


def test_redactor_scrubs_structured_data_before_it_is_serialised() -> None:
    REDACTOR.register(Secret(ESCAPED_CANARY))
    data = {"summary": f"x {ESCAPED_CANARY}", "evidence": {"k": [ESCAPED_CANARY, 3, None]}}

    assert REDACTOR.scrub_data(data) == {
        "summary": "x <redacted>", "evidence": {"k": ["<redacted>", 3, None]}
    }  # fmt: skip


def test_write_reports_replaces_files_atomically(tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.json").write_text("old")

    written = write_reports(RESULT, out)

    assert json.loads(written["json"].read_text())["schema_version"] == 1
    assert sorted(p.name for p in out.iterdir()) == ["junit.xml", "report.html", "report.json"]
    for path in written.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
        assert path.read_text(encoding="utf-8") == REPORTERS[
            {"report.json": "json", "junit.xml": "junit", "report.html": "html"}[path.name]
        ][1](RESULT)


def test_a_failing_renderer_leaves_the_previous_report_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    (out / "report.html").write_text("previous report")

    def broken(result: AuditResult) -> str:
        raise RuntimeError("renderer bug")

    monkeypatch.setattr(
        smtpcheck.reports, "REPORTERS", {**REPORTERS, "html": ("report.html", broken)}
    )
    with pytest.raises(RuntimeError, match="renderer bug"):
        write_reports(RESULT, out)

    assert (out / "report.html").read_text() == "previous report"
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left over


def test_a_lone_surrogate_or_a_bidi_override_neither_loses_a_report_nor_reaches_one_raw(
    tmp_path: Path,
) -> None:
    hostile = Finding("CRED-02", "web1\u202e:gnissap", Status.FAIL, Severity.HIGH,
                      "mode \ud800 0644 \u2066x\u2069")  # fmt: skip
    result = AuditResult.of([hostile], RESULT.started_at, RESULT.finished_at)

    written = write_reports(result, tmp_path)

    document = json.loads(written["json"].read_text(encoding="utf-8"))
    assert document["findings"][0]["summary"] == hostile.summary  # the exact text, escaped
    for name in ("html", "junit"):
        text = written[name].read_text(encoding="utf-8")
        assert not any(char in text for char in "\u202e\u2066\u2069\ud800"), name
        assert "\\u202e" in text, name
