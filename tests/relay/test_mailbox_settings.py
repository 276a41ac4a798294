"""Mailbox settings (SMTP-05): the password comes from the environment, never the config."""

from __future__ import annotations

import pytest

from smtpcheck.errors import ConfigError
from smtpcheck.providers import TlsMode
from smtpcheck.relay.delivery import mailbox_settings

TABLE = {"host": "imap.example.test", "user": "ops@example.test", "password_env": "MBX_PW"}


def test_defaults_and_password_from_the_environment() -> None:
    settings = mailbox_settings(TABLE, {"MBX_PW": "hunter2-mailbox"})
    assert (settings.port, settings.tls, settings.folders) == (993, TlsMode.IMPLICIT,
                                                              ("INBOX", "Junk"))  # fmt: skip
    assert (settings.timeout, settings.keep_message, settings.ca_file) == (120.0, False, None)
    assert settings.password.reveal() == "hunter2-mailbox"
    assert "hunter2" not in repr(settings)
    assert str(settings) == "ops@example.test@imap.example.test:993"


def test_starttls_defaults_to_143_and_everything_can_be_set() -> None:
    settings = mailbox_settings(
        TABLE
        | {
            "tls": "starttls",
            "folders": ["INBOX", "Spam"],
            "timeout": 30,
            "poll_interval": 0.5,
            "keep_message": True,
            "connect_address": "127.0.0.1",
            "authserv_id": "mx.example.test",
        },
        {"MBX_PW": "x"},
    )
    assert (settings.port, settings.folders, settings.keep_message) == (143, ("INBOX", "Spam"),
                                                                        True)  # fmt: skip
    assert (settings.connect_address, settings.authserv_id) == ("127.0.0.1", "mx.example.test")


@pytest.mark.parametrize(
    ("change", "environ", "message"),
    [
        ({}, {}, "MBX_PW is not set"),
        ({"host": ""}, {"MBX_PW": "x"}, "mailbox.host is required"),
        ({"tls": "none"}, {"MBX_PW": "x"}, "without TLS"),
        ({"tls": "ssl"}, {"MBX_PW": "x"}, "implicit or starttls"),
        ({"folders": []}, {"MBX_PW": "x"}, "non-empty list"),
        ({"timeout": -1}, {"MBX_PW": "x"}, "positive number"),
        ({"user": 7}, {"MBX_PW": "x"}, "must be a string"),
        # Checked now (exit 2), not in the relay pool where it would crash every relay target.
        ({"ca_file": "/nonexistent/ca.pem"}, {"MBX_PW": "x"}, "ca_file /nonexistent/ca.pem"),
    ],
)
def test_bad_settings_are_config_errors(
    change: dict[str, object], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        mailbox_settings(TABLE | change, environ)
