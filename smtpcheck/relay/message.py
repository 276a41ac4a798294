"""The live test message (SMTP-04) and the queue id in the relay's 250 reply.

The message goes from the configured from-address to ``SYSTEM_TOEMAIL_ADDRESS`` with a subject that
says it is an smtpcheck test, a unique token in a header and in the body (how the delivery check
finds it again), and the Message-ID and Date headers RFC 5322 §3.6 asks of an originator.
"""

from __future__ import annotations

import re
import secrets as _random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid

TOKEN_HEADER = "X-Smtpcheck-Token"  # noqa: S105 (a header name, not a password)
SUBJECT_PREFIX = "smtpcheck test message"
_TOKEN = re.compile(r"^smtpcheck-[0-9a-f]{20}$")


def new_token() -> str:
    """A unique token: 80 random bits, safe in a header, a body and an IMAP SEARCH."""
    return "smtpcheck-" + _random.token_hex(10)


def is_token(value: str) -> bool:
    return bool(_TOKEN.match(value))


@dataclass(frozen=True)
class ProbeMessage:
    """One test message, ready for DATA (CRLF line ends, RFC 5321 §2.3.8)."""

    token: str
    message_id: str
    subject: str
    data: bytes = field(repr=False)


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "smtpcheck.invalid"


def build_probe_message(
    from_address: str,
    recipient: str,
    token: str,
    *,
    endpoint: str,
    hosts: Sequence[str] = (),
    now: datetime | None = None,
) -> ProbeMessage:
    """The test message for one relay job; ``hosts`` are named in the body for the reader."""
    now = now or datetime.now(UTC)
    message = EmailMessage(policy=SMTP)
    subject = f"{SUBJECT_PREFIX} {token}"  # short enough not to be folded (RFC 5322 §2.1.1)
    message_id = make_msgid(idstring=token, domain=_domain(from_address))
    message["From"] = from_address
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message[TOKEN_HEADER] = token
    served = ", ".join(hosts) if hosts else "(not named)"
    message.set_content(
        "This is an automated test message from smtpcheck, the mail compliance checker.\n"
        f"It proves that the relay {endpoint} accepts the credentials deployed on: {served}.\n"
        "No action is needed; smtpcheck deletes it from the test mailbox after checking it.\n\n"
        f"Token: {token}\n"
    )
    return ProbeMessage(token, message_id, subject, message.as_bytes())


_QUEUED = re.compile(r"queued as\s+<?([^\s>]+)>?", re.IGNORECASE)
_OK_ID = re.compile(r"^(?:[245]\.\d{1,3}\.\d{1,3}\s+)?ok\b[:\s]+<?([^\s>]+)>?", re.IGNORECASE)


def parse_queue_id(reply_text: str) -> str | None:
    """The queue id in a 250 reply to DATA, when the relay gives one.

    Postfix (and SendPulse): ``2.0.0 Ok: queued as 4Xb7Qk1Zz9z``; Amazon SES: ``Ok 0100018f...``;
    Mailjet and others: ``OK queued as <uuid>``.
    """
    text = reply_text.strip()
    for pattern in (_QUEUED, _OK_ID):
        match = pattern.search(text)
        if match:
            return match.group(1).rstrip(".,;")
    return None
