"""DKIM verification of what arrived (SMTP-05), without a mailbox: ``verify_dkim`` on raw bytes.

What arrived comes from outside: a malformed header or signature is a DKIM verdict, never an
exception (one would take every relay target's evidence down with it).
"""

from __future__ import annotations

import pytest

from smtpcheck.relay.delivery import verify_dkim

_SIGNED = (
    b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.com; s=sel;\r\n"
    b" h=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n"
    b" b=YWJj\r\n"
    b"From: a@example.com\r\nTo: b@example.com\r\nSubject: hi\r\n\r\nbody\r\n"
)
_KEY = (
    b"v=DKIM1; p=MFwwDQYJKoZIhvcNAQEBBQADSwAwSAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1P"
    b"t8QuKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQ=="
)


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            _SIGNED.replace(b"bh=47DEQpj8HBSa+/TImW+5J", b"bh=47DEQpj8HBSa+/TImW+5="),
            id="bh-bad-base64-padding",
        ),
        pytest.param(
            _SIGNED.replace(b"\r\n b=YWJj", b"\r\nb=YWJj"), id="header-line-without-colon"
        ),
        pytest.param(_SIGNED.replace(b"s=sel;", b"s=sel; i=example.com;"), id="i-equal-to-d"),
    ],
)
def test_malformed_arrived_message_is_a_dkim_verdict(raw: bytes) -> None:
    check = verify_dkim(raw, lambda name, timeout=5: _KEY)

    assert not check.verified
    assert check.signatures == 1
    assert check.detail.startswith("signature 1: ")
