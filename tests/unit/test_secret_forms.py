"""Issue 8 items 7 and 8: the redactor never rewrites a report's structure, and a password
cannot leak in a form the redactor does not know (a repr, a bytes repr, a truncated excerpt),
because values are scrubbed before they are quoted, truncated or serialised.

Each audit here is real evaluation (host controls on in-memory facts) rendered by the real
reporters into a temporary directory, and every artifact is parsed back.
"""

from __future__ import annotations

import base64
import json
import socket
import tracemalloc
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpcheck.catalogue import CONTROLS
from smtpcheck.console import render_summary
from smtpcheck.credentials.controls import HOST_CONTROLS
from smtpcheck.findings import Severity, Status
from smtpcheck.lab import seeds
from smtpcheck.relay.client import ConnectionClosed, MalformedReply, SmtpClient
from smtpcheck.relay.transcript import Transcript
from smtpcheck.reports import write_reports
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTOR, Redactor, Secret, encoded_forms
from smtpcheck.targets import App
from tests.unit.builders import CREDS, creds, evidence, expected_of

# Words every report is made of: a password equal to one used to make an INTERNALERROR, renamed
# evidence keys, or an unparseable report.json / junit.xml.
REPORT_WORDS = ["pass", "fail", "error", "high", "critical", "password", " ", "summary",
                "evidence", "status", "true", "null", "CRED-04", "testcase", "<", '"']  # fmt: skip


def _audit(password: str, deployed: str) -> AuditResult:
    """CRED-01…07/SYS on a WordPress host whose file holds ``deployed``; the build says
    ``password`` (registered, as the settings loader does)."""
    REDACTOR.register(Secret(password))
    content = seeds.labelled_file(creds(password=deployed))
    ev = evidence(App.WORDPRESS, content, expected=expected_of(creds(password=password)))
    findings = [check(ev) for check in HOST_CONTROLS.values()]
    return AuditResult.of(findings, datetime(2026, 12, 2, tzinfo=UTC))


def _artifacts(result: AuditResult, directory: Path) -> dict[str, str]:
    written = write_reports(result, directory)
    return {name: path.read_text(encoding="utf-8") for name, path in written.items()}


@pytest.mark.parametrize("password", REPORT_WORDS)
def test_a_password_equal_to_a_report_word_does_not_corrupt_the_reports(
    password: str, tmp_path: Path
) -> None:
    result = _audit(password, deployed="something-else-entirely")

    texts = _artifacts(result, tmp_path)

    document = json.loads(texts["json"])  # parses
    assert [f["control_id"] for f in document["findings"]] == [f.control_id for f in
                                                               result.findings]  # fmt: skip
    for finding in document["findings"]:
        assert finding["control_id"] in CONTROLS
        assert Status(finding["status"]) and Severity(finding["severity"])
        assert set(finding) >= {"summary", "evidence", "remediation"}
    cred_04 = next(f for f in document["findings"] if f["control_id"] == "CRED-04")
    assert cred_04["status"] == "fail" and "password" in cred_04["evidence"]  # keys intact
    ET.fromstring(texts["junit"])  # parses
    assert texts["html"].startswith("<!DOCTYPE html>") and texts["html"].rstrip().endswith(
        "</html>"
    )
    summary = render_summary(result, tmp_path)
    assert any(line.startswith("smtpcheck: ") and " pass, " in line for line in summary)


SECRET_CHARS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs", "Zs"))


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(password=st.text(SECRET_CHARS, min_size=8, max_size=24).filter(lambda p: ":" not in p))
def test_a_password_in_the_username_line_never_shows_in_any_form(
    password: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """USERNAME and PASSWORD lines swapped: the username value is the password, and CRED-04
    quotes the username it found. A repr escapes ' and \\ and used to defeat the redactor."""
    texts = _swapped_lines_artifacts(password, tmp_path_factory.mktemp("reports"))
    # What the reports say whatever the password (control titles, remediation): a password
    # that is part of a word there ("protecte") is a coincidence of fixed text, not a leak.
    fixed = _swapped_lines_artifacts("Zq-baseline-Zq", tmp_path_factory.mktemp("baseline"))

    forms = encoded_forms(password) | {repr(password)[1:-1], json.dumps(password)[1:-1]}
    leaked = [
        (form, where)
        for where, text in texts.items()
        for form in forms
        if text.count(form) > fixed[where].count(form)
    ]
    assert leaked == []


def _swapped_lines_artifacts(password: str, directory: Path) -> dict[str, str]:
    REDACTOR.register(Secret(password))
    content = (
        f"FROM ADDRESS: {CREDS.from_address}\nUSERNAME: {password}\nPASSWORD: {CREDS.username}\n"
        f"EMAIL PROVIDER: {CREDS.provider}\nPORT: 465\n"
    ).encode()
    ev = evidence(App.WORDPRESS, content, expected=expected_of(creds(password=password)))
    result = AuditResult.of([check(ev) for check in HOST_CONTROLS.values()],
                            datetime(2026, 12, 2, tzinfo=UTC))  # fmt: skip
    texts = _artifacts(result, directory)
    texts["terminal"] = "\n".join(render_summary(result, Path("reports"), verbosity=3))
    return texts


@pytest.mark.parametrize(
    "reply",
    [b"%b\r\n", b"250-ok\r\n354 %b\r\n", b"220 %b"],  # not a reply; code changes; cut short
    ids=["not-a-reply", "code-changed", "partial-line"],
)
def test_a_relay_echoing_the_auth_blob_is_never_quoted_in_part(reply: bytes) -> None:
    """The first 80 characters of an echoed AUTH PLAIN blob used to reach the evidence; the
    excerpt is now cut after the redactor ran on the whole line."""
    password = "Echo-7f3e-" + "x" * 90  # a long secret: its base64 is longer than 80
    REDACTOR.register(Secret(password), [CREDS.username])
    blob = base64.b64encode(f"\0{CREDS.username}\0{password}".encode()).decode()  # AUTH PLAIN
    ours, relay = socket.socketpair()  # a relay at the other end of a real socket
    relay.sendall(reply.replace(b"%b", blob.encode()))
    relay.close()
    client = SmtpClient(Transcript(), timeout=2.0)
    client._sock = ours
    with pytest.raises((MalformedReply, ConnectionClosed)) as raised:
        client.read_reply()
    ours.close()
    message = str(raised.value)
    assert blob[:12] not in message and password[:12] not in message


def test_a_huge_hostile_password_costs_memory_linear_in_its_length() -> None:
    """A host's 60 KB "password" (files are read up to 64 KiB): every prefix of every form was
    kept in a set, gigabytes; the cut-short tail is now found from the forms themselves."""
    redactor = Redactor()
    value = "".join(chr(0x41 + (i * 7919) % 26) for i in range(60_000))
    redactor.register(Secret(value), ["user"])

    tracemalloc.start()
    try:
        text = redactor.scrub("relay said: " + value[:5_000])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert text == "relay said: <redacted>"
    assert peak < 50 * 1024 * 1024
