"""Relays that hold a session open or hide their TLS version (issue items 3 and 4).

A slow-loris server trickling a byte at a time never trips a read timeout: only the phase and
session deadlines end it, and a greeting that does not complete in time fails SMTP-01. A
greeting behind a failed implicit-TLS handshake was never read, so SMTP-01 does not pass. A
relay that speaks only TLS 1.1 is named as such, whether it answers a TLS 1.2+ ClientHello with
an alert or (version-intolerant) by hanging up. Python's OpenSSL 3 here still serves and
negotiates TLS 1.1 at ``@SECLEVEL=0``, so these are real TLS 1.1 servers. In none of these may
AUTH ever be sent, which the servers check on their side too.
"""

from __future__ import annotations

import base64
import contextlib
import json
import socket
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from smtpcheck.findings import Finding, Status
from smtpcheck.lab.certs import LabCA
from smtpcheck.lab.fakerelay import FakeRelay, Fault
from smtpcheck.providers import ProviderCatalogue, TlsMode
from smtpcheck.relay import (
    RELAY_CONTROLS,
    Cause,
    Outcome,
    Phase,
    RelayEndpoint,
    RelaySession,
    evaluate_relay,
    resolve_endpoint,
    run_relay_session,
)
from smtpcheck.relay.transcript import render_transcript
from smtpcheck.reports import write_reports
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTOR, Secret, encoded_forms
from tests.relay.conftest import CANARY, MAILJET_USER, RECIPIENT, deployed

VERSION_MESSAGE = "the relay's TLS version is TLSv1.1, below the 1.2 SMTP-02 requires"


def _session(
    address: str,
    port: int,
    ca: LabCA,
    *,
    tls: TlsMode,
    timeout: float,
    session_timeout: float | None = None,
) -> RelaySession:
    """A session posing as Mailjet's endpoint (587 STARTTLS, 465 implicit) at ``port``."""
    deployed_port = 465 if tls is TlsMode.IMPLICIT else 587
    override = {
        "connect_address": address,
        "port_map": {str(deployed_port): port},
        "ca_file": str(ca.ca_file),
    }
    catalogue = ProviderCatalogue.builtin().with_overrides({"mailjet": override})
    host = deployed(catalogue.get("mailjet"), port=deployed_port, tls=tls)
    endpoint = resolve_endpoint(host, catalogue)
    assert isinstance(endpoint, RelayEndpoint)
    # only when given: the slow-loris test then runs (and fails) on code without the keyword
    limits: dict[str, Any] = {"session_timeout": session_timeout} if session_timeout else {}
    return run_relay_session(
        endpoint, host, recipient=RECIPIENT, send=True, timeout=timeout, **limits
    )


@pytest.fixture
def relay(request: pytest.FixtureRequest, lab_ca: LabCA) -> Iterator[FakeRelay]:
    spec = dict(request.param)
    with FakeRelay(ca=lab_ca, username=MAILJET_USER, password=Secret(CANARY), **spec) as server:
        yield server


def _by_id(session: RelaySession) -> dict[str, Finding]:
    return {finding.control_id: finding for finding in evaluate_relay(session)}


def _assert_no_auth(relay: FakeRelay | None, session: RelaySession) -> None:
    sent = [line.text for line in session.transcript if line.direction == "C"]
    assert not any(text.upper().startswith("AUTH") for text in sent), sent
    assert session.auth_mechanism is None
    if relay is not None:
        assert "AUTH" not in relay.commands()  # with TLS or without, on the server's side


# --- item 3: deadlines ------------------------------------------------------------------------


@pytest.mark.parametrize("relay", [{"fault": Fault.TRICKLE, "delay": 0.2}], indirect=True)
def test_slow_loris_greeting_fails_smtp01_at_the_phase_deadline(
    relay: FakeRelay, lab_ca: LabCA
) -> None:
    """One byte every 0.2 s: each read is quick, the 29-octet greeting would take 6 s."""
    start = time.monotonic()
    session = _session(relay.address, relay.port, lab_ca, tls=TlsMode.STARTTLS, timeout=1.0)
    elapsed = time.monotonic() - start
    assert elapsed < 1.8, elapsed  # the 1 s phase deadline, not the 6 s greeting
    assert relay.ended.wait(2.0)  # the session hung up; the server saw it end
    failure = session.failure
    assert failure is not None
    assert (failure.phase, failure.outcome, failure.cause) == (
        Phase.BANNER,
        Outcome.TIMEOUT,
        Cause.DEADLINE,
    )
    assert "the 220 greeting did not complete within the 1 s phase deadline" in failure.detail
    assert session.banner is None
    assert Phase.BANNER not in session.completed
    findings = _by_id(session)
    assert findings["SMTP-01"].status is Status.FAIL
    assert "past its deadline" in findings["SMTP-01"].remediation
    assert "deadlines_s" in findings["SMTP-01"].evidence
    assert [findings[c].status for c in ("SMTP-02", "SMTP-03", "SMTP-04")] == [Status.SKIP] * 3
    assert relay.commands() == []  # no EHLO, and no QUIT after a timeout
    _assert_no_auth(relay, session)


@pytest.mark.parametrize("relay", [{"fault": Fault.TRICKLE, "delay": 0.025}], indirect=True)
def test_session_deadline_ends_a_session_whose_phases_keep_their_own(
    relay: FakeRelay, lab_ca: LabCA
) -> None:
    """Greeting ≈0.7 s and EHLO reply ≈1.3 s, each within its 2 s phase deadline: the 1.5 s
    session deadline ends it in EHLO."""
    start = time.monotonic()
    session = _session(
        relay.address,
        relay.port,
        lab_ca,
        tls=TlsMode.STARTTLS,
        timeout=2.0,
        session_timeout=1.5,
    )
    assert time.monotonic() - start < 2.2
    failure = session.failure
    assert failure is not None
    assert (failure.phase, failure.outcome, failure.cause) == (
        Phase.EHLO,
        Outcome.TIMEOUT,
        Cause.DEADLINE,
    )
    assert "the 1.5 s session deadline ran out in EHLO" in failure.detail
    assert session.reached(Phase.BANNER)
    assert dict(session.deadlines_s) == {"read": 2.0, "phase": 2.0, "session": 1.5}
    smtp01 = RELAY_CONTROLS["SMTP-01"](session)
    assert smtp01.status is Status.FAIL
    assert "1.5 s the session" in smtp01.remediation
    assert relay.commands() == ["EHLO"]
    _assert_no_auth(relay, session)


def test_deadline_budget_is_the_least_of_read_phase_and_session() -> None:
    from smtpcheck.relay.network import Deadline, DeadlineExceeded

    now = [100.0]
    deadline = Deadline(per_read=5.0, phase=3.0, session=4.0, clock=lambda: now[0])
    deadline.begin_phase()
    assert deadline.budget() == 3.0  # the phase's, below the per-read timeout
    now[0] += 2.5
    assert deadline.budget() == pytest.approx(0.5)
    deadline.begin_phase()  # a new phase: the session has 1.5 s left, less than a phase
    assert deadline.budget() == pytest.approx(1.5)
    assert deadline.session_ended
    now[0] += 1.5
    assert deadline.expired
    with pytest.raises(DeadlineExceeded):
        deadline.budget()


# --- item 3: implicit TLS, no greeting read -----------------------------------------------


@pytest.mark.parametrize(
    ("relay", "outcome"),
    [
        ({"fault": Fault.SELF_SIGNED, "implicit": True}, Outcome.CERTIFICATE),
        ({"fault": Fault.ACCEPT}, Outcome.TLS),  # a STARTTLS port: plain text, not TLS
        ({"fault": Fault.OLD_TLS, "implicit": True}, Outcome.TLS),
        ({"fault": Fault.TRICKLE, "implicit": True, "delay": 0.1}, Outcome.TIMEOUT),
    ],
    indirect=["relay"],
    ids=["self-signed", "not-tls", "old-tls", "trickled-handshake"],
)
def test_implicit_tls_handshake_failure_does_not_pass_smtp01(
    relay: FakeRelay, lab_ca: LabCA, outcome: Outcome
) -> None:
    start = time.monotonic()
    session = _session(relay.address, relay.port, lab_ca, tls=TlsMode.IMPLICIT, timeout=1.0)
    assert time.monotonic() - start < 2.5
    failure = session.failure
    assert failure is not None
    assert (failure.phase, failure.outcome) == (Phase.TLS, outcome)
    assert session.banner is None
    findings = _by_id(session)
    smtp01 = findings["SMTP-01"]
    assert smtp01.status is Status.ERROR, smtp01.summary  # could not be evaluated
    assert "no 220 greeting was read" in smtp01.summary
    assert "SMTP-02" in smtp01.remediation
    assert findings["SMTP-02"].status is Status.FAIL
    assert findings["SMTP-03"].status is Status.SKIP
    _assert_no_auth(relay, session)


# --- item 4: TLS 1.1-only relays ------------------------------------------------------------


EOF_REASON = "UNEXPECTED_EOF_WHILE_READING"  # the symptom
RESET = "Connection reset by peer"
ALERT = "TLSV1_ALERT_PROTOCOL_VERSION"


@pytest.mark.parametrize(
    ("relay", "tls", "first"),
    [
        ({"fault": Fault.OLD_TLS_CLOSE}, TlsMode.STARTTLS, EOF_REASON),
        ({"fault": Fault.OLD_TLS_CLOSE, "implicit": True}, TlsMode.IMPLICIT, EOF_REASON),
        ({"fault": Fault.OLD_TLS_RESET}, TlsMode.STARTTLS, RESET),
        ({"fault": Fault.OLD_TLS_RESET, "implicit": True}, TlsMode.IMPLICIT, RESET),
        ({"fault": Fault.OLD_TLS}, TlsMode.STARTTLS, ALERT),
        ({"fault": Fault.OLD_TLS, "implicit": True}, TlsMode.IMPLICIT, ALERT),
    ],
    indirect=["relay"],
    ids=[
        "closes-starttls",
        "closes-implicit",
        "resets-starttls",
        "resets-implicit",
        "alert-starttls",
        "alert-implicit",
    ],
)
def test_tls_1_1_only_relay_is_named_as_such(
    relay: FakeRelay, lab_ca: LabCA, tls: TlsMode, first: str
) -> None:
    session = _session(relay.address, relay.port, lab_ca, tls=tls, timeout=2.0)
    failure = session.failure
    assert failure is not None
    assert (failure.phase, failure.outcome, failure.cause) == (
        Phase.TLS,
        Outcome.TLS,
        Cause.OLD_TLS,
    )
    assert VERSION_MESSAGE in failure.detail
    assert first in failure.detail  # what the TLS ≥ 1.2 handshake met, kept as evidence
    assert session.probed_tls_version == "TLSv1.1"
    assert session.tls is None  # nothing counts as the session's TLS
    findings = _by_id(session)
    smtp02 = findings["SMTP-02"]
    assert smtp02.status is Status.FAIL
    assert VERSION_MESSAGE in smtp02.summary
    assert smtp02.evidence["tls_version_probed"] == "TLSv1.1"
    assert "no TLS 1.2 or newer (it speaks TLSv1.1" in smtp02.remediation
    assert "interception" not in smtp02.remediation
    expected01 = Status.PASS if tls is TlsMode.STARTTLS else Status.ERROR
    assert findings["SMTP-01"].status is expected01
    assert findings["SMTP-03"].status is Status.SKIP
    # The session and its probe: greeting, EHLO and STARTTLS in clear, nothing after either
    # handshake (over TLS 1.1 least of all).
    assert relay.commands() == (["EHLO", "STARTTLS"] * 2 if tls is TlsMode.STARTTLS else [])
    _assert_no_auth(relay, session)


@pytest.mark.parametrize("relay", [{"fault": Fault.SELF_SIGNED}], indirect=True)
def test_no_version_probe_after_a_certificate_failure(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay.address, relay.port, lab_ca, tls=TlsMode.STARTTLS, timeout=2.0)
    assert session.failure is not None
    assert session.failure.outcome is Outcome.CERTIFICATE
    assert session.probed_tls_version is None
    assert not any("version probe" in line.text for line in session.transcript)
    assert relay.commands() == ["EHLO", "STARTTLS"]  # one connection only
    _assert_no_auth(relay, session)


class _HangUpOnHello(threading.Thread):
    """Implicit-TLS port that reads the ClientHello, whatever its version, and hangs up."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with conn, contextlib.suppress(OSError):
                conn.settimeout(2.0)
                conn.recv(4096)


def test_probe_that_fails_too_keeps_the_handshake_failure(lab_ca: LabCA) -> None:
    server = _HangUpOnHello()
    server.start()
    try:
        session = _session("127.0.0.1", server.port, lab_ca, tls=TlsMode.IMPLICIT, timeout=2.0)
    finally:
        server.stopping.set()
        server.join(timeout=2)
        server.listener.close()
    failure = session.failure
    assert failure is not None
    assert (failure.phase, failure.outcome) == (Phase.TLS, Outcome.TLS)
    assert failure.cause is not Cause.OLD_TLS
    assert "UNEXPECTED_EOF_WHILE_READING" in failure.detail
    assert "allowing TLS 1.0/1.1 failed too" in failure.detail
    assert session.probed_tls_version is None
    assert server.connections == 2  # the session and one probe
    smtp02 = RELAY_CONTROLS["SMTP-02"](session)
    assert smtp02.status is Status.FAIL
    assert "interception" in smtp02.remediation
    assert RELAY_CONTROLS["SMTP-01"](session).status is Status.ERROR
    _assert_no_auth(None, session)


# --- a relay that quotes the credentials back, and replies cut mid-line -----------------------


def _secret_forms() -> set[str]:
    """Every form of the canary a hostile relay can echo, down to 6-character prefixes."""
    raw = CANARY.encode()
    blob = base64.b64encode(b"\0" + MAILJET_USER.encode() + b"\0" + raw).decode()
    forms = encoded_forms(CANARY, [MAILJET_USER]) | {
        repr(CANARY), urllib.parse.quote(CANARY, safe=""), blob[:-3],
        base64.b64encode(raw).decode()[:-3],
    }  # fmt: skip
    forms |= {CANARY[:n] for n in range(6, len(CANARY))}
    return forms


def _reported(session: RelaySession, directory: Path) -> dict[str, str]:
    """What an operator gets to see of ``session``: transcript, findings and every report."""
    findings = evaluate_relay(session)
    written = write_reports(AuditResult.of(findings, datetime(2026, 12, 2, tzinfo=UTC)), directory)
    texts = {name: path.read_text() for name, path in written.items()}
    texts["transcript"] = "\n".join(render_transcript(session.transcript))
    texts["repr"] = repr(session) + repr(findings)
    json.loads(texts["json"])  # every report still parses
    ET.fromstring(texts["junit"])
    return texts


def _leaks(texts: dict[str, str]) -> list[str]:
    forms = _secret_forms()
    return [name for name, text in texts.items() if any(form in text for form in forms)]


@pytest.mark.parametrize("relay", [{"fault": Fault.ECHO_AUTH}], indirect=True)
def test_a_relay_echoing_the_credentials_is_never_quoted(
    relay: FakeRelay, lab_ca: LabCA, tmp_path: Path
) -> None:
    """The relay's 535 quotes the AUTH PLAIN blob cut short, the password as a repr, URL-encoded
    and a 7-character prefix: none of it may reach the transcript, a finding or a report."""
    REDACTOR.register(Secret(CANARY), [MAILJET_USER])
    session = _session(relay.address, relay.port, lab_ca, tls=TlsMode.STARTTLS, timeout=5.0)
    assert "AUTH" in relay.commands(tls=True)  # sent, and only under TLS
    assert "AUTH" not in relay.commands(tls=False)
    findings = _by_id(session)
    assert findings["SMTP-03"].status is Status.FAIL
    assert findings["SMTP-03"].summary == (
        "AUTH: the relay answered 535 5.7.8 [text withheld: it quotes the credentials]"
    )
    assert _leaks(_reported(session, tmp_path)) == []


@pytest.mark.parametrize(
    ("relay", "failing"),
    [({"fault": Fault.CUT_GREETING}, "BANNER"), ({"fault": Fault.CUT_EHLO}, "EHLO")],
    indirect=["relay"],
    ids=["greeting", "ehlo"],
)
def test_a_reply_cut_mid_line_fails_smtp01_where_it_was_cut(
    relay: FakeRelay, lab_ca: LabCA, failing: str, tmp_path: Path
) -> None:
    """Half a greeting is no greeting, half an EHLO reply no extension list: SMTP-01 fails
    naming the phase and the partial line; nothing after it runs."""
    session = _session(relay.address, relay.port, lab_ca, tls=TlsMode.STARTTLS, timeout=5.0)
    findings = _by_id(session)
    assert session.failure is not None and session.failure.phase is Phase[failing]
    assert findings["SMTP-01"].status is Status.FAIL
    assert "closed the connection after a partial line" in findings["SMTP-01"].summary
    assert [findings[c].status for c in ("SMTP-02", "SMTP-03", "SMTP-04")] == [Status.SKIP] * 3
    if failing == "BANNER":
        assert session.banner is None
    _assert_no_auth(relay, session)
    assert _leaks(_reported(session, tmp_path)) == []
