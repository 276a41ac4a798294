"""A small SMTP client that records every line it sends and receives.

smtplib hides what a transcript needs: it reads replies through a file object, resolves and wraps
sockets itself, and picks an AUTH mechanism on its own. This client does only what the relay
session asks, one step at a time, so each phase can be timed, recorded and stopped before
credentials could leave without TLS. Replies follow RFC 5321 §4.2; STARTTLS RFC 3207; the
message body is dot-stuffed per RFC 5321 §4.5.2.
"""

from __future__ import annotations

import contextlib
import re
import socket
import ssl
from dataclasses import dataclass

from smtpcheck.errors import ProbeError
from smtpcheck.relay.transcript import Transcript
from smtpcheck.secrets import REDACTOR, EchoGuard

MAX_REPLY_LINE = 8192  # far beyond RFC 5321's 512 octets; longer is a broken server
MAX_REPLY_LINES = 100


class ConnectionClosed(ProbeError):
    """The server closed the connection before the reply was complete."""


class MalformedReply(ProbeError):
    """The server's answer is not an SMTP reply (RFC 5321 §4.2)."""


class ResponseInjection(ProbeError):
    """The server sent data after its STARTTLS reply, before the TLS handshake (RFC 3207 §6)."""


# RFC 5321 §4.2: three ASCII digits ("2²3" passes str.isdigit(), and int() refuses it).
_REPLY_CODE = re.compile(r"[2-5][0-9]{2}")
# A reply's code, separator and enhanced status code: all an echoing reply keeps.
_CODES = re.compile(r"[2-5]\d\d[ -]?(?:[245]\.\d{1,3}\.\d{1,3}(?: |$))?")


@dataclass(frozen=True)
class SmtpReply:
    """One (possibly multi-line) server reply."""

    code: int
    lines: tuple[str, ...]  # the text after the code on each line

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def __str__(self) -> str:
        return f"{self.code} {' / '.join(self.lines)}".strip()


class SmtpClient:
    """One SMTP connection. Every network operation is limited by ``timeout`` seconds."""

    def __init__(self, transcript: Transcript, timeout: float) -> None:
        self.transcript = transcript
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._buffer = bytearray()
        # Set once a secret was sent: from then on a reply line quoting any piece of it keeps
        # only its codes, before the transcript, an exception or the evidence sees its text.
        self.echo_guard: EchoGuard | None = None

    @property
    def is_tls(self) -> bool:
        return isinstance(self._sock, ssl.SSLSocket)

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    @property
    def tls_socket(self) -> ssl.SSLSocket | None:
        return self._sock if isinstance(self._sock, ssl.SSLSocket) else None

    def _socket(self) -> socket.socket:
        if self._sock is None:
            raise ConnectionClosed("the connection is closed")
        return self._sock

    def connect(self, address: str, port: int) -> None:
        self._sock = socket.create_connection((address, port), timeout=self.timeout)
        self._buffer.clear()

    def start_tls(self, context: ssl.SSLContext, server_hostname: str) -> ssl.SSLSocket:
        """TLS handshake on the open connection, verifying ``server_hostname`` (RFC 6125)."""
        if self._buffer:
            raise ResponseInjection(
                f"{len(self._buffer)} bytes arrived after the STARTTLS reply, before the handshake"
            )
        tls = context.wrap_socket(self._socket(), server_hostname=server_hostname)
        self._sock = tls
        return tls

    def _readline(self) -> bytes:
        sock = self._socket()
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_REPLY_LINE:
                raise MalformedReply(f"a reply line longer than {MAX_REPLY_LINE} octets")
            chunk = sock.recv(4096)
            if not chunk:
                partial = self._withheld(bytes(self._buffer).decode("utf-8", "replace"))
                raise ConnectionClosed(
                    "the server closed the connection"
                    + (f" after a partial line {REDACTOR.excerpt(partial)}" if partial else "")
                )
            self._buffer += chunk

    def read_reply(self) -> SmtpReply:
        """One reply: ``ddd-text`` continuation lines, then ``ddd text`` (RFC 5321 §4.2.1)."""
        lines: list[str] = []
        code: int | None = None
        for _ in range(MAX_REPLY_LINES):
            raw = self._withheld(self._readline().decode("utf-8", "replace").rstrip("\r\n"))
            self.transcript.server(raw)
            head, sep = raw[:3], raw[3:4]
            if not _REPLY_CODE.fullmatch(head) or sep not in ("", " ", "-"):
                raise MalformedReply(f"not an SMTP reply line: {REDACTOR.excerpt(raw)}")
            if code is not None and int(head) != code:
                raise MalformedReply(
                    f"reply code changed within one reply: {REDACTOR.excerpt(raw)}"
                )
            code = int(head)
            lines.append(raw[4:])
            if sep != "-":
                return SmtpReply(code, tuple(lines))
        raise MalformedReply(f"a reply of more than {MAX_REPLY_LINES} lines")

    def _withheld(self, line: str) -> str:
        """``line``, or only its reply code and enhanced status code when it quotes a piece
        of a secret this session sent (RFC 5321 §4.2, RFC 3463)."""
        if self.echo_guard is None or not self.echo_guard.echoes(line):
            return line
        codes = _CODES.match(line)
        kept = codes.group(0).rstrip() + " " if codes else ""
        return f"{kept}[text withheld: it quotes the credentials]"

    def send_line(self, line: str, *, redacted_as: str | None = None) -> None:
        """Send one command line. With ``redacted_as`` the transcript keeps only the label."""
        if redacted_as is None:
            self.transcript.client(line)
        else:
            self.transcript.client_secret(redacted_as)
        self._socket().sendall(line.encode("utf-8") + b"\r\n")

    def command(self, line: str, *, redacted_as: str | None = None) -> SmtpReply:
        self.send_line(line, redacted_as=redacted_as)
        return self.read_reply()

    def send_message(self, data: bytes) -> None:
        """The message after a 354: CRLF line ends, dot-stuffed, ended by ``CRLF.CRLF``."""
        lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
        stuffed = [b"." + line if line.startswith(b".") else line for line in lines]
        header_end = stuffed.index(b"") if b"" in stuffed else len(stuffed)
        for header in stuffed[:header_end]:
            self.transcript.client(header.decode("utf-8", "replace"))
        body_lines = len(stuffed) - header_end
        self.transcript.client(f"[body: {body_lines} lines, message {len(data)} octets]")
        self.transcript.client(".")
        self._socket().sendall(b"\r\n".join(stuffed) + b"\r\n.\r\n")

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):  # a broken connection: nothing left to report
                sock.close()
