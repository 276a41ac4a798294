"""SMTP replies (RFC 5321 §4.2) as the relay client reads them, from a real socket.

Whatever a relay sends, ``SmtpClient.read_reply`` returns replies or raises the client's own
errors (ConnectionClosed, MalformedReply: ProbeErrors the session turns into a failed phase);
well-formed replies are read back exactly. A relay that echoes the credentials after AUTH, in any
form or cut short, gets no piece of them into the transcript, an error or the evidence: checked on
the client alone, and through a whole implicit-TLS session against a scripted relay.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import re
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.errors import ProbeError
from smtpcheck.findings import Status
from smtpcheck.lab.certs import CertFiles, LabCA
from smtpcheck.providers import ProviderCatalogue, TlsMode
from smtpcheck.relay import RelayEndpoint, evaluate_relay, resolve_endpoint, run_relay_session
from smtpcheck.relay.client import (
    MAX_REPLY_LINE,
    MAX_REPLY_LINES,
    ConnectionClosed,
    MalformedReply,
    SmtpClient,
    SmtpReply,
)
from smtpcheck.relay.transcript import Transcript, render_transcript
from smtpcheck.secrets import REDACTOR, EchoGuard, Secret
from tests.fuzz.strategies import FILLER, USER, Plant, free_of, full_forms, leaks, plants


@dataclass
class Read:
    """What the client made of one byte stream."""

    replies: list[SmtpReply] = field(default_factory=list)
    error: ProbeError | None = None
    transcript: Transcript = field(default_factory=Transcript)

    def shown(self) -> str:
        """Everything of the stream that may reach a report or a terminal."""
        parts = [str(reply) for reply in self.replies]
        parts += render_transcript(self.transcript.lines())
        parts.append(str(self.error))
        return "\n".join(parts)


def read_stream(data: bytes, guard: EchoGuard | None = None) -> Read:
    """Read replies from ``data`` (then end of file) until the client raises."""
    ours, relay = socket.socketpair()
    result = Read()
    client = SmtpClient(result.transcript, timeout=2.0)
    client.echo_guard = guard

    def send() -> None:
        with relay:
            relay.sendall(data)

    sender = threading.Thread(target=send)
    try:
        ours.settimeout(5.0)
        client._sock = ours
        sender.start()
        while True:
            try:
                result.replies.append(client.read_reply())
            except (ConnectionClosed, MalformedReply) as exc:
                result.error = exc
                return result
    finally:
        sender.join(5.0)
        client.close()


def _check_replies(result: Read) -> None:
    assert isinstance(result.error, ConnectionClosed | MalformedReply)
    for reply in result.replies:
        assert 200 <= reply.code <= 599
        assert 1 <= len(reply.lines) <= MAX_REPLY_LINES


# --- any stream -------------------------------------------------------------------------------

_DIGIT = st.one_of(st.sampled_from("0123456789²³①"), st.characters(categories=["Nd", "No"]))
_HEAD = st.one_of(
    st.integers(200, 599).map(str),
    st.integers(0, 999).map(lambda n: f"{n:03d}"),
    # Three characters that may each be any kind of digit (str.isdigit() knows 800 of them).
    st.builds(lambda *chars: "".join(chars), st.sampled_from("2345²٣"), _DIGIT, _DIGIT),
    st.text(max_size=4),
)
_SEP = st.sampled_from([" ", "-", "", "\t", "--"])
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)
_LINE = st.builds(lambda head, sep, text, end: f"{head}{sep}{text}{end}".encode(),
                  _HEAD, _SEP, _TEXT, st.sampled_from(["\r\n", "\n", "\r", ""]))  # fmt: skip
STREAMS = st.one_of(
    _LINE,
    st.binary(max_size=300),
    st.lists(st.one_of(_LINE, _LINE, _LINE, st.binary(max_size=8)), max_size=12).map(b"".join),
    st.builds(lambda n, text: b"250-" + text + b"\r\n" * n, st.integers(0, 3),
              st.sampled_from([b"x" * (MAX_REPLY_LINE + 10), b"\xff\xfe", b"\x00"])),
    st.integers(MAX_REPLY_LINES - 1, MAX_REPLY_LINES + 2).map(
        lambda n: b"250-x\r\n" * n + b"250 end\r\n"
    ),
)  # fmt: skip


@given(data=STREAMS)
@example(data="2²3 ok\r\n".encode())  # str.isdigit() is true, int() raised ValueError
@example(data="2٣٣ ok\r\n".encode())  # read as code 233
def test_any_stream_is_replies_then_a_client_error(data: bytes) -> None:
    result = read_stream(data)

    _check_replies(result)
    for reply in result.replies:  # a code is three ASCII digits the relay really sent
        assert str(reply.code).encode() in data


# --- well-formed replies ----------------------------------------------------------------------

_REPLY_TEXT = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs"], exclude_characters="\r\n"),
    max_size=40,
)
REPLIES = st.lists(
    st.tuples(st.integers(200, 599), st.lists(_REPLY_TEXT, min_size=1, max_size=4)),
    max_size=5,
)


def _serialise(replies: list[tuple[int, list[str]]], newline: str) -> bytes:
    out = []
    for code, lines in replies:
        for index, text in enumerate(lines):
            sep = " " if index == len(lines) - 1 else "-"
            out.append(f"{code}{sep}{text}{newline}")
    return "".join(out).encode()


@given(replies=REPLIES, newline=st.sampled_from(["\r\n", "\n"]))
def test_well_formed_replies_are_read_back_exactly(
    replies: list[tuple[int, list[str]]], newline: str
) -> None:
    result = read_stream(_serialise(replies, newline))

    assert [(r.code, list(r.lines)) for r in result.replies] == replies
    assert isinstance(result.error, ConnectionClosed) and "partial" not in str(result.error)


# --- an echo of the credentials ---------------------------------------------------------------


_NO_NEWLINE = FILLER.filter(lambda text: "\n" not in text and "\r" not in text)
_HEADS = ["535 5.7.8 ", "334 ", "250-", "250 ", "454 4.7.0 ", ""]


@st.composite
def echoes(draw: st.DrawFn) -> tuple[Plant, bytes]:
    """A stream in which reply lines (and a last partial line) quote the secret."""
    plant = draw(plants())
    assume(free_of("".join(_HEADS), plant))
    filler = _NO_NEWLINE.filter(lambda text: free_of(text, plant))
    lines = []
    for _ in range(draw(st.integers(1, 4))):
        after = "" if plant.truncated else draw(filler)
        lines.append(f"{draw(st.sampled_from(_HEADS))}{draw(filler)}{plant.form}{after}")
    end = draw(st.sampled_from(["\r\n", "\n", ""]))  # "": the stream stops inside a line
    return plant, ("\r\n".join(lines) + end).encode()


_NON_ASCII = "pässwörd-é1"
_BYTES_REPR = Plant(_NON_ASCII, repr(_NON_ASCII.encode())[2:-1], "repr")


@given(case=echoes())
@example(case=(_BYTES_REPR, f"535 5.7.8 {_BYTES_REPR.form} rejected\r\n".encode()))
def test_an_echoed_secret_never_reaches_the_transcript(case: tuple[Plant, bytes]) -> None:
    plant, stream = case
    before = REDACTOR.snapshot()
    try:
        REDACTOR.register(Secret(plant.secret), [USER])
        result = read_stream(stream, EchoGuard(Secret(plant.secret), [USER]))
    finally:
        REDACTOR.restore(before)

    _check_replies(result)
    assert leaks(result.shown(), plant) == []


# --- a whole session against a scripted relay --------------------------------------------------

RELAY_HOST = "in-v3.mailjet.com"  # the name the certificate is for


@pytest.fixture(scope="module")
def relay_cert() -> Iterator[tuple[LabCA, CertFiles]]:
    with tempfile.TemporaryDirectory(prefix="smtpcheck-fuzz-relay-") as name:
        ca = LabCA(Path(name))
        yield ca, ca.issue("relay", RELAY_HOST)


class ScriptedRelay:
    """An implicit-TLS relay on loopback that answers each command with the next scripted
    reply; ``{echo}`` in a reply is the client's last line (``{echo:N}``: its first N
    characters). It hangs up when the script ends or a reply leaves the client waiting."""

    def __init__(self, cert: CertFiles, script: list[str]) -> None:
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert.cert, cert.key)
        self.script = script
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5.0)
        self.port: int = self.listener.getsockname()[1]
        self.echoed: list[tuple[str, str]] = []  # (the client's line, what was echoed of it)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError), self.listener:
            conn, _ = self.listener.accept()
            with self.context.wrap_socket(conn, server_side=True) as tls:
                tls.settimeout(2.0)
                self._converse(tls)

    def _converse(self, tls: ssl.SSLSocket) -> None:
        reader = tls.makefile("rb")
        last = ""
        for template in self.script:
            reply = _ECHO.sub(functools.partial(self._echo, last), template)
            tls.sendall(reply.encode("utf-8", "surrogatepass"))
            if not _complete(reply):
                return
            line = reader.readline()
            if reply.startswith("354") and last == "DATA":  # the message, up to its final dot
                while line and line != b".\r\n":
                    line = reader.readline()
                line = b"(message)"
            if not line:
                return
            last = line.decode("utf-8", "replace").rstrip("\r\n")

    def _echo(self, last: str, match: re.Match[str]) -> str:
        cut = match.group(1)
        echoed = last if cut is None else last[: int(cut)]
        self.echoed.append((last, echoed))
        return echoed

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.close()
        self.thread.join(5.0)


_ECHO = re.compile(r"\{echo(?::(\d+))?\}")


def _complete(reply: str) -> bool:
    """Whether the client, having read ``reply``, will answer rather than wait for more."""
    if not reply.endswith("\n"):
        return False
    last = reply[:-1].rsplit("\n", 1)[-1].rstrip("\r")
    return last[3:4] != "-"


_CODE = st.sampled_from(["235", "250", "334", "354", "421", "454", "535", "550", "999", "2x0"])


@st.composite
def _fuzzed_reply(draw: st.DrawFn, plant: Plant) -> str:
    code = draw(_CODE)
    quote = draw(st.sampled_from(["plant", "echo", "echo-cut", "none"]))
    filler = _NO_NEWLINE.filter(lambda text: free_of(text, plant))
    if quote == "plant":
        text = draw(filler) + plant.form + ("" if plant.truncated else draw(filler))
    elif quote == "echo":
        text = "you said {echo}"
    elif quote == "echo-cut":
        text = f"you said {{echo:{draw(st.integers(6, 60))}}}"
    else:
        text = draw(filler)
    lines = draw(st.integers(1, 2))
    body = "".join(f"{code}-{text}\r\n" for _ in range(lines - 1)) + f"{code} {text}"
    return body + draw(st.sampled_from(["\r\n", "\r\n", "\n", ""]))


@st.composite
def scripts(draw: st.DrawFn) -> tuple[Plant, list[str]]:
    """A greeting, an EHLO reply offering AUTH, then replies that may quote the secret."""
    plant = draw(plants())
    assume(free_of("220 relay ESMTP 250-relay AUTH PLAIN LOGIN you said ", plant))
    mechanisms = draw(st.sampled_from(["PLAIN", "LOGIN", "PLAIN LOGIN", "LOGIN PLAIN"]))
    script = ["220 relay ESMTP\r\n", f"250-relay\r\n250 AUTH {mechanisms}\r\n"]
    script += draw(st.lists(_fuzzed_reply(plant), min_size=1, max_size=6))
    return plant, script


def _session_text(session: Any, findings: list[Any]) -> str:
    parts = [repr(session), *render_transcript(session.transcript)]
    parts += [repr(finding.to_dict()) for finding in findings]
    parts += [str(value) for finding in findings for value in finding.to_dict().values()]
    return "\n".join(parts)


def _converse(
    relay_cert: tuple[LabCA, CertFiles], secret: str, script: list[str]
) -> tuple[str, list[tuple[str, str]], list[str]]:
    """One whole session against a relay playing ``script``: everything it shows (transcript,
    session, findings), what the relay echoed, and the findings' control ids."""
    ca, cert = relay_cert
    relay = ScriptedRelay(cert, script)
    override = {"connect_address": "127.0.0.1", "port_map": {"465": relay.port},
                "ca_file": str(ca.ca_file)}  # fmt: skip
    catalogue = ProviderCatalogue.builtin().with_overrides({"mailjet": override})
    deployed = DeployedSmtp("/var/www/wordpresssmtp", "labelled", catalogue.get("mailjet"), None,
                            465, TlsMode.IMPLICIT, USER, Secret(secret),
                            "noreply@example.test")  # fmt: skip
    endpoint = resolve_endpoint(deployed, catalogue)
    assert isinstance(endpoint, RelayEndpoint)
    before = REDACTOR.snapshot()
    try:
        session = run_relay_session(endpoint, deployed, recipient="ops@recipient.test",
                                    send=True, timeout=2.0)  # fmt: skip
        findings = evaluate_relay(session)
    finally:
        REDACTOR.restore(before)
        relay.close()
    assert all(isinstance(f.status, Status) for f in findings)
    assert session.tls is not None and session.auth_mechanism is not None  # AUTH was reached
    return _session_text(session, findings), relay.echoed, [f.control_id for f in findings]


_ACCEPTED = Plant("accepted", base64.b64encode(f"\0{USER}\0accepted".encode()).decode(), "base64")


@given(case=scripts())
@example(case=(_ACCEPTED, ["220 relay ESMTP\r\n", "250-relay\r\n250 AUTH PLAIN\r\n",
                           "235 you said {echo}\r\n"]))  # fmt: skip
def test_a_relay_echoing_the_credentials_never_gets_them_into_the_evidence(
    relay_cert: tuple[LabCA, CertFiles], case: tuple[Plant, list[str]]
) -> None:
    plant, script = case
    # The same conversation with nothing quoted: what the session says whatever the secret
    # (a password "accepted" is a word of the findings' summaries, not a leak).
    unquoted = [_ECHO.sub("", reply).replace(plant.form, "") for reply in script]

    shown, echoed, controls = _converse(relay_cert, plant.secret, script)
    baseline, _, baseline_controls = _converse(relay_cert, plant.secret, unquoted)

    assert controls == baseline_controls == ["SMTP-01", "SMTP-02", "SMTP-03", "SMTP-04"]
    # What was echoed of a line that carried the credentials (AUTH PLAIN's, AUTH LOGIN's
    # password line), cut short or not: no piece of six characters or more shows.
    forms = full_forms(plant.secret)
    pieces = [piece[len("AUTH PLAIN "):] if line.startswith("AUTH PLAIN ") else piece
              for line, piece in echoed if any(form in line for form in forms)]  # fmt: skip
    candidates = plant.leak_forms() | {piece for piece in pieces if len(piece) >= 6}
    leaked = [form for form in candidates if shown.count(form) > baseline.count(form)]
    assert leaked == []
