"""The test message and the queue id of the relay's 250 reply."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes
from email.policy import default

import pytest

from smtpcheck.relay.message import (
    TOKEN_HEADER,
    build_probe_message,
    is_token,
    new_token,
    parse_queue_id,
)


def test_tokens_are_unique_and_recognisable() -> None:
    tokens = {new_token() for _ in range(1000)}
    assert len(tokens) == 1000
    assert all(is_token(token) for token in tokens)
    assert not is_token("smtpcheck-XYZ")


def test_message_carries_token_in_header_and_body() -> None:
    token = new_token()
    probe = build_probe_message(
        "noreply@example.test",
        "ops@recipient.test",
        token,
        endpoint="in-v3.mailjet.com:465",
        hosts=("web1", "web2"),
        now=datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
    )
    parsed = message_from_bytes(probe.data, policy=default)
    assert parsed[TOKEN_HEADER] == token
    assert parsed["From"] == "noreply@example.test"
    assert parsed["To"] == "ops@recipient.test"
    assert "smtpcheck test message" in parsed["Subject"]
    assert parsed["Message-ID"] == probe.message_id
    assert probe.message_id.endswith("@example.test>")
    assert parsed["Date"] == "Fri, 01 May 2026 12:00:00 +0000"
    body = parsed.get_content()
    assert token in body
    assert "web1, web2" in body
    assert b"\r\n" in probe.data
    assert b"\n" not in probe.data.replace(b"\r\n", b"")


@pytest.mark.parametrize(
    ("reply", "queue_id"),
    [
        ("2.0.0 Ok: queued as 4Xb7Qk1Zz9z", "4Xb7Qk1Zz9z"),  # postfix
        ("Ok 0100018f5b0cd0a1-6f1c0b4e-1f7e-4d5a-9a3c-1b2c3d4e5f60-000000",
         "0100018f5b0cd0a1-6f1c0b4e-1f7e-4d5a-9a3c-1b2c3d4e5f60-000000"),  # Amazon SES
        ("OK queued as <6d3a0d1e-6b0a-4a5f-9b8e-1f2e3d4c5b6a>",
         "6d3a0d1e-6b0a-4a5f-9b8e-1f2e3d4c5b6a"),
        ("2.6.0 <id@example.test> Queued mail for delivery", None),
        ("Ok", None),
    ],
)  # fmt: skip
def test_queue_id_from_the_250_reply(reply: str, queue_id: str | None) -> None:
    assert parse_queue_id(reply) == queue_id
