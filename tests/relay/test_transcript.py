"""The transcript: both directions, timestamps, AUTH arguments and secrets never kept."""

from __future__ import annotations

import base64
import itertools

from smtpcheck.relay.transcript import Transcript, render_transcript
from smtpcheck.secrets import Redactor, Secret

PASSWORD = "s3cr3t:pa55"


def _clock() -> itertools.count[float]:
    return itertools.count(0.0, 0.25)


def test_lines_have_direction_and_time() -> None:
    ticks = _clock()
    transcript = Transcript(Redactor(), clock=lambda: next(ticks))
    transcript.server("220 relay ESMTP")
    transcript.client("EHLO checker")
    transcript.event("TLS TLSv1.3")
    assert render_transcript(transcript.lines()) == (
        "  0.250 S: 220 relay ESMTP",
        "  0.500 C: EHLO checker",
        "  0.750 *: TLS TLSv1.3",
    )


def test_auth_arguments_are_never_kept() -> None:
    transcript = Transcript(Redactor())
    transcript.client_secret("AUTH PLAIN")
    transcript.client_secret()
    assert [line.text for line in transcript.lines()] == ["AUTH PLAIN <redacted>", "<redacted>"]


def test_registered_secrets_are_scrubbed_in_every_encoded_form() -> None:
    redactor = Redactor()
    redactor.register(Secret(PASSWORD), ["user"])
    transcript = Transcript(redactor)
    plain = base64.b64encode(f"\0user\0{PASSWORD}".encode()).decode()
    login = base64.b64encode(PASSWORD.encode()).decode()
    for text in (f"535 bad password {PASSWORD}", f"AUTH PLAIN {plain}", login):
        transcript.server(text)
    rendered = "\n".join(render_transcript(transcript.lines()))
    for form in (PASSWORD, plain, login):
        assert form not in rendered
    assert rendered.count("<redacted>") == 3


def test_overlong_lines_are_cut() -> None:
    transcript = Transcript(Redactor())
    transcript.server("250 " + "x" * 2000)
    (line,) = transcript.lines()
    assert len(line.text) < 600
    assert line.text.endswith("more characters)")
