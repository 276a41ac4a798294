"""The SMTP session transcript: both directions, timestamped, secrets redacted at the source.

Like swaks' output, each line says who spoke (``C`` client, ``S`` server, ``*`` an event such as
the TLS handshake) and when (seconds since the session started). AUTH exchanges are recorded
without their arguments (RFC 4954 §4: they are base64 of the credentials), and every line also
passes through the process-wide :data:`~smtpcheck.secrets.REDACTOR`, where the session registers
the deployed password with its user name (so the AUTH PLAIN and LOGIN base64 forms are covered
too). Nothing unredacted is ever stored.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from smtpcheck.secrets import REDACTED, REDACTOR, Redactor

CLIENT = "C"
SERVER = "S"
EVENT = "*"
MAX_LINE = 512  # a transcript line longer than this is cut (RFC 5321 §4.5.3.1.5: 512 octets)


@dataclass(frozen=True)
class TranscriptLine:
    """One line of the conversation; ``at`` is seconds since the session started."""

    at: float
    direction: str
    text: str

    def render(self) -> str:
        return f"{self.at:7.3f} {self.direction}: {self.text}"


class Transcript:
    """Collects the lines of one session. Text is scrubbed before it is kept."""

    def __init__(
        self,
        redactor: Redactor = REDACTOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._redactor = redactor
        self._clock = clock
        self._start = clock()
        self._lines: list[TranscriptLine] = []

    def elapsed(self) -> float:
        return self._clock() - self._start

    def _add(self, direction: str, text: str) -> None:
        clean = self._redactor.scrub(text.rstrip("\r\n"))
        if len(clean) > MAX_LINE:
            clean = clean[:MAX_LINE] + f"… ({len(clean) - MAX_LINE} more characters)"
        self._lines.append(TranscriptLine(round(self.elapsed(), 4), direction, clean))

    def client(self, text: str) -> None:
        """A line the client sent (never an AUTH argument: use :meth:`client_secret`)."""
        self._add(CLIENT, text)

    def client_secret(self, shown: str = "") -> None:
        """A line that carried credentials: only ``shown`` (e.g. ``AUTH PLAIN``) is kept."""
        self._add(CLIENT, f"{shown} {REDACTED}".strip())

    def server(self, text: str) -> None:
        self._add(SERVER, text)

    def event(self, text: str) -> None:
        self._add(EVENT, text)

    def lines(self) -> tuple[TranscriptLine, ...]:
        return tuple(self._lines)


def render_transcript(lines: tuple[TranscriptLine, ...]) -> tuple[str, ...]:
    """The transcript as evidence: one string per line, ``"  0.012 S: 220 …"``."""
    return tuple(line.render() for line in lines)
