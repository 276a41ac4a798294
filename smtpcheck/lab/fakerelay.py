"""Fault relays: aiosmtpd servers that misbehave the way real relays do, on demand.

The lab's postfix is a real provider; these serve what a real relay cannot be made to do at will
(reference/test-lab.md): a 421 greeting, no STARTTLS, 454 to STARTTLS or AUTH, 530/535 to AUTH,
a rejected sender or message (Amazon SES's ``554 Message rejected: Email address is not
verified…``), a connection dropped mid-DATA, a server slower than the client's timeout, a server
that trickles every reply a byte at a time (a slow-loris or tarpit), a server that speaks only
TLS 1.0/1.1 (answering a TLS 1.2+ ClientHello with an alert, or — version-intolerant — by
closing or resetting the connection), and the three certificates a client must refuse
(self-signed, expired, wrong host name).

Each server records what it received (command lines, and whether TLS was up at the time, with
every registered secret scrubbed), so a test can check on the server side that no AUTH ever
arrived without TLS.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import enum
import socket
import ssl
import struct
import threading
import time
import urllib.parse
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self, cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

from smtpcheck.lab.certs import CertFiles, LabCA, self_signed
from smtpcheck.lab.proc import LabService, free_port
from smtpcheck.secrets import REDACTOR, Secret


class Fault(enum.StrEnum):
    ACCEPT = "accept"  # a healthy relay: the reference the faults differ from
    BANNER_421 = "banner-421"
    NO_STARTTLS = "no-starttls"
    STARTTLS_454 = "starttls-454"
    AUTH_454 = "auth-454"
    AUTH_530 = "auth-530"
    AUTH_535 = "auth-535"
    REJECT_SENDER = "reject-sender"  # at MAIL FROM
    REJECT_RECIPIENT = "reject-recipient"  # at RCPT TO
    REJECT_MESSAGE = "reject-message"  # at the end of DATA (SES checks identities there)
    DROP_IN_DATA = "drop-in-data"
    SLOW = "slow"  # the greeting comes after ``delay`` seconds
    SELF_SIGNED = "self-signed"
    EXPIRED = "expired"
    WRONG_HOST = "wrong-host"
    OLD_TLS = "old-tls"  # TLS 1.0/1.1 only
    OLD_TLS_CLOSE = "old-tls-close"  # TLS 1.0/1.1 only; closes on a TLS 1.2+ ClientHello
    OLD_TLS_RESET = "old-tls-reset"  # TLS 1.0/1.1 only; resets on a TLS 1.2+ ClientHello
    TRICKLE = "trickle"  # every reply one byte every ``delay`` seconds; never any TLS
    ECHO_AUTH = "echo-auth"  # refuses AUTH quoting what it got: the blob, the password, parts
    CUT_GREETING = "cut-greeting"  # half a 220 line, then the connection drops
    CUT_EHLO = "cut-ehlo"  # the EHLO reply stops mid-line, then the connection drops


_LEGACY = (Fault.OLD_TLS, Fault.OLD_TLS_CLOSE, Fault.OLD_TLS_RESET)


_REPLIES = {
    Fault.BANNER_421: "421 4.3.2 Service not available, closing transmission channel",
    Fault.AUTH_454: "454 4.7.0 Temporary authentication failure",
    Fault.AUTH_530: "530 5.7.0 Authentication required",
    Fault.AUTH_535: "535 Authentication Credentials Invalid",
    Fault.REJECT_SENDER: "553 5.7.1 Sender address rejected: not owned by this account",
    Fault.REJECT_RECIPIENT: "550 5.1.1 Recipient address rejected",
    Fault.REJECT_MESSAGE: "554 Message rejected: Email address is not verified. The following "
    "identities failed the check in region EU-WEST-1: {sender}",
}


@dataclass(frozen=True)
class Received:
    """One line the fault relay received; ``tls`` says whether TLS protected it."""

    text: str
    tls: bool

    @property
    def command(self) -> str:
        return self.text.split(" ", 1)[0].upper()


class _RecordingReader:
    """Wraps the session's StreamReader to log each line (scrubbed) before aiosmtpd sees it."""

    def __init__(self, reader: asyncio.StreamReader, server: _FaultSMTP) -> None:
        self._reader = reader
        self._server = server

    async def readuntil(self, separator: bytes = b"\n") -> bytes:
        line = await self._reader.readuntil(separator)
        text = REDACTOR.scrub(line.rstrip(b"\r\n").decode("utf-8", "replace"))
        self._server.relay.record(Received(text, self._server.is_tls))
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


class _FaultSMTP(SMTP):
    """aiosmtpd's SMTP with the fault's behaviour around the greeting and DATA."""

    def __init__(self, relay: FakeRelay, *args: Any, **kwargs: Any) -> None:
        self.relay = relay
        super().__init__(*args, **kwargs)

    @property
    def is_tls(self) -> bool:
        return self.relay.implicit or self._tls_protocol is not None

    def _cb_client_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        super()._cb_client_connected(
            cast(asyncio.StreamReader, _RecordingReader(reader, self)), writer
        )

    async def _handle_client(self) -> None:
        fault = self.relay.fault
        if fault is Fault.BANNER_421:
            await self.push(self.relay.reply)
            self._hang_up()
            return
        if fault is Fault.SLOW:
            await asyncio.sleep(self.relay.delay)
        if fault is Fault.CUT_GREETING:
            await self._cut(f"220 {self.relay.host} ES".encode())
            return
        await super()._handle_client()

    async def smtp_EHLO(self, hostname: str) -> None:
        if self.relay.fault is Fault.CUT_EHLO:
            await self._cut(f"250-{self.relay.host}\r\n250-PIPELI".encode())
            return
        await super().smtp_EHLO(hostname)

    async def _cut(self, partial: bytes) -> None:
        """Send ``partial`` (no line end) and drop the connection."""
        self._writer.write(partial)
        await self._writer.drain()
        self._hang_up()

    async def smtp_DATA(self, arg: str) -> None:
        envelope = self.envelope
        if self.relay.fault is not Fault.DROP_IN_DATA or not (envelope and envelope.rcpt_tos):
            await super().smtp_DATA(arg)
            return
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        await self._reader.readuntil(b"\r\n")  # one line of the message, then hang up
        self._hang_up()

    def _hang_up(self) -> None:
        """Drop the connection without a goodbye (abort: no TLS close_notify either)."""
        transport = self.transport
        if isinstance(transport, asyncio.Transport):
            transport.abort()
        elif transport is not None:
            transport.close()


class _Handler:
    """aiosmtpd hooks for the replies that depend on the fault."""

    def __init__(self, relay: FakeRelay) -> None:
        self.relay = relay

    async def handle_EHLO(
        self, server: SMTP, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        if self.relay.fault is Fault.STARTTLS_454 and not server._tls_protocol:
            responses.insert(-1, "250-STARTTLS")  # offered, but it will fail
        return responses

    async def handle_MAIL(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.relay.fault is Fault.REJECT_SENDER:
            return self.relay.reply
        envelope.mail_from = address
        return "250 2.1.0 Ok"

    async def handle_RCPT(
        self, server: SMTP, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.relay.fault is Fault.REJECT_RECIPIENT:
            return self.relay.reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server: SMTP, session: Any, envelope: Any) -> str:
        if self.relay.fault is Fault.REJECT_MESSAGE:
            return self.relay.reply.format(sender=envelope.mail_from)
        self.relay.messages.append(bytes(envelope.original_content or b""))
        return "250 Ok: queued as FAKE0001"


class _Controller(Controller):
    def __init__(self, relay: FakeRelay, **kwargs: Any) -> None:
        self.relay = relay
        super().__init__(_Handler(relay), **kwargs)

    def factory(self) -> SMTP:
        return _FaultSMTP(self.relay, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self) -> None:
        # aiosmtpd reads a greeting here; a slow or refusing fault would stall start().
        with socket.create_connection((self.hostname, self.port), 1.0):
            pass


class _RawServer(threading.Thread):
    """A blocking server for faults asyncio cannot produce, one connection at a time; records
    each line received (never with TLS) and sets ``relay.ended`` when a connection is over."""

    def __init__(self, relay: FakeRelay) -> None:
        super().__init__(daemon=True)
        self.relay = relay
        self.listener = socket.create_server((relay.address, relay.port))
        self.listener.settimeout(0.1)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self.listener.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(5.0)
                with contextlib.suppress(OSError):  # the client may leave at any point
                    self._serve(conn)
            self.relay.ended.set()

    def _line(self, conn: socket.socket) -> str:
        data = b""
        while not data.endswith(b"\n"):
            chunk = conn.recv(1)
            if not chunk:
                raise ConnectionResetError("client left")
            data += chunk
        text = REDACTOR.scrub(data.rstrip(b"\r\n").decode("utf-8", "replace"))
        self.relay.record(Received(text, False))
        return text

    def _serve(self, conn: socket.socket) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=5)
        self.listener.close()


class _LegacyTlsServer(_RawServer):
    """The OLD_TLS faults without asyncio: OpenSSL's blocking handshake answers a TLS 1.2+
    client with the protocol_version alert a real relay sends (asyncio's transport would
    just close the connection); OLD_TLS_CLOSE and OLD_TLS_RESET instead hang up on a
    ClientHello offering TLS 1.2 or newer, as version-intolerant servers do, and complete a
    handshake only with a client that offers at most TLS 1.1. Greets and offers STARTTLS
    first unless implicit."""

    def __init__(self, relay: FakeRelay, context: ssl.SSLContext) -> None:
        super().__init__(relay)
        self.context = context

    def _serve(self, conn: socket.socket) -> None:
        if not self.relay.implicit:
            conn.sendall(f"220 {self.relay.host} ESMTP\r\n".encode())
            self._line(conn)  # EHLO
            conn.sendall(f"250-{self.relay.host}\r\n250 STARTTLS\r\n".encode())
            self._line(conn)  # STARTTLS
            conn.sendall(b"220 Ready to start TLS\r\n")
        if self.relay.fault is not Fault.OLD_TLS and _offers_modern_tls(conn):
            if self.relay.fault is Fault.OLD_TLS_RESET:  # RST instead of FIN
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:  # read the ClientHello first: closing with unread data would also be a RST
                conn.recv(65536)
                conn.shutdown(socket.SHUT_WR)
            return
        self.context.wrap_socket(conn, server_side=True)


def _offers_modern_tls(conn: socket.socket) -> bool:
    """Whether the ClientHello waiting on ``conn`` (peeked, not consumed) offers TLS ≥ 1.2: its
    legacy_version (RFC 8446 §4.1.2; TLS 1.3 clients put 1.2 there) is 0x0303 or more."""
    hello = b""
    give_up = time.monotonic() + 5.0
    while len(hello) < 11 and time.monotonic() < give_up:
        hello = conn.recv(11, socket.MSG_PEEK)
        if not hello:
            return False
        if len(hello) < 11:
            time.sleep(0.01)
    # record type 22 (handshake), version, length; handshake type 1, length; client_version
    return hello[:1] == b"\x16" and hello[5:6] == b"\x01" and hello[9:11] >= b"\x03\x03"


class _TrickleServer(_RawServer):
    """The TRICKLE fault: every reply goes out one byte every ``delay`` seconds, each byte well
    within any read timeout, so only a deadline ends the session. Offers STARTTLS and refuses
    it (454); on an implicit port it trickles a TLS record that never completes."""

    def _trickle(self, conn: socket.socket, data: bytes) -> None:
        for i in range(len(data)):
            if self.stopping.is_set():
                raise ConnectionAbortedError("stopping")
            conn.sendall(data[i : i + 1])  # fails once the client has gone
            time.sleep(self.relay.delay)

    def _serve(self, conn: socket.socket) -> None:
        if self.relay.implicit:  # a ServerHello record of 16 KiB that never ends
            self._trickle(conn, b"\x16\x03\x03\x40\x00\x02" + bytes(0x4000))
            return
        host = self.relay.host
        self._trickle(conn, f"220 {host} ESMTP\r\n".encode())
        while True:
            verb = self._line(conn).split(" ", 1)[0].upper()
            if verb == "EHLO":
                self._trickle(conn, f"250-{host}\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n".encode())
            elif verb == "STARTTLS":
                self._trickle(conn, b"454 4.7.0 TLS not available\r\n")
            elif verb == "QUIT":
                self._trickle(conn, b"221 Bye\r\n")
                return
            else:
                self._trickle(conn, b"502 5.5.2 Error: command not recognized\r\n")


class FakeRelay(LabService):
    """One fault relay on ``address`` and a free port; STARTTLS unless ``implicit``.

    ``reply`` replaces the fault's default reply (e.g. SES's sandbox wording); ``{sender}`` in
    it becomes the MAIL FROM address. ``delay`` is how long a SLOW relay waits to greet, and a
    TRICKLE relay's pause between two bytes.
    """

    def __init__(
        self,
        fault: Fault,
        ca: LabCA,
        *,
        host: str = "in-v3.mailjet.com",
        username: str = "user",
        password: Secret | None = None,
        implicit: bool = False,
        delay: float = 3.0,
        reply: str | None = None,
        address: str = "127.0.0.1",
    ) -> None:
        self.fault = fault
        self.reply = reply or _REPLIES.get(fault, "")
        self.host = host
        self.implicit = implicit
        self.delay = delay
        self.address = address
        self.port = free_port(address)
        self._credentials = (username, password)
        self._context = self._tls_context(ca, Path(ca.directory))
        self._lock = threading.Lock()
        self._received: list[Received] = []
        self.messages: list[bytes] = []
        self._controller: _Controller | None = None
        self._raw: _RawServer | None = None
        self.ended = threading.Event()  # set when a raw (legacy-TLS, trickle) connection ends

    def _tls_context(self, ca: LabCA, directory: Path) -> ssl.SSLContext | None:
        if self.fault in (Fault.NO_STARTTLS, Fault.STARTTLS_454, Fault.TRICKLE):
            return None
        stem = f"fake-{self.fault}-{self.port}"
        files: CertFiles
        if self.fault is Fault.SELF_SIGNED:
            files = self_signed(directory, stem, self.host)
        elif self.fault is Fault.EXPIRED:
            files = ca.issue(stem, self.host, expired=True)
        elif self.fault is Fault.WRONG_HOST:
            files = ca.issue(stem, "relay.elsewhere.example")
        else:
            files = ca.issue(stem, self.host)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(files.cert, files.key)
        if self.fault in _LEGACY:
            with warnings.catch_warnings():  # deprecated on purpose: that is the fault
                warnings.simplefilter("ignore", DeprecationWarning)
                context.minimum_version = ssl.TLSVersion.TLSv1
                context.maximum_version = ssl.TLSVersion.TLSv1_1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 refuses TLS < 1.2 otherwise
        return context

    def _authenticate(
        self, server: SMTP, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        if self.fault.name.startswith("AUTH_"):
            return AuthResult(success=False, handled=False, message=self.reply)
        if self.fault is Fault.ECHO_AUTH and isinstance(data, LoginPassword):
            login, sent = data.login.decode(), data.password.decode()
            blob = base64.b64encode(f"\0{login}\0{sent}".encode()).decode()
            quoted = urllib.parse.quote(sent, safe="")
            echo = f"535 5.7.8 {blob[:-3]} {login}:{sent!r} {quoted} [{sent[:7]}]"
            return AuthResult(success=False, handled=False, message=echo)
        user, password = self._credentials
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == user
            and (password is None or data.password.decode() == password.reveal())
        )
        return AuthResult(success=ok, handled=False)

    def record(self, line: Received) -> None:
        with self._lock:
            self._received.append(line)

    @property
    def received(self) -> tuple[Received, ...]:
        with self._lock:
            return tuple(self._received)

    def commands(self, *, tls: bool | None = None) -> Sequence[str]:
        """The command verbs received, optionally only those with (or without) TLS."""
        return [r.command for r in self.received if tls is None or r.tls is tls]

    def start(self) -> Self:
        if self.fault in _LEGACY:
            assert self._context is not None
            self._raw = _LegacyTlsServer(self, self._context)
        elif self.fault is Fault.TRICKLE:
            self._raw = _TrickleServer(self)
        if self._raw is not None:
            self._raw.start()
            return self
        starttls = self._context if not self.implicit else None
        self._controller = _Controller(
            self,
            hostname=self.address,
            port=self.port,
            ssl_context=self._context if self.implicit else None,
            server_hostname=self.host,
            ready_timeout=5.0,
            tls_context=starttls,
            require_starttls=False,
            authenticator=self._authenticate,
            auth_require_tls=not self.implicit and self.fault is not Fault.NO_STARTTLS,
            timeout=30,
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
        if self._raw is not None:
            self._raw.stop()
            self._raw = None
