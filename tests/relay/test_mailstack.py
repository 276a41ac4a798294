"""The lab mail stack's life cycle: everything it starts, it stops (postfix's master included,
which leaves the process group by calling setsid)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from smtpcheck.lab.mailstack import MailStack, RelayAccount
from smtpcheck.lab.proc import LabError, is_listening
from smtpcheck.secrets import Secret


def _processes_mentioning(text: str) -> list[int]:
    """Processes whose command line or environment names ``text`` (postfix's master is plain
    ``master -s``; it knows its configuration through MAIL_CONFIG)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            seen = (entry / "cmdline").read_bytes() + (entry / "environ").read_bytes()
        except OSError:
            continue
        if text.encode() in seen:
            found.append(int(entry.name))
    return found


def _stack() -> MailStack:
    return MailStack(
        accounts=[RelayAccount("user", Secret("lifecycle-pw"), ("@example.test",))],
        mailbox_address="ops@recipient.test",
        mailbox_password=Secret("lifecycle-mailbox"),
    )


def test_settings_need_a_started_stack() -> None:
    with pytest.raises(LabError, match="not started"):
        _stack().provider_table()


@pytest.mark.lab
def test_stop_leaves_no_process_port_or_directory() -> None:
    if os.geteuid() != 0:
        pytest.skip("the lab mail stack needs root")
    stack = _stack().start()  # no nameserver: no verifying hop
    workdir = stack.workdir
    ports = (stack.submission_port, stack.smtps_port, stack.imap_port)
    assert _processes_mentioning(str(workdir))
    assert all(is_listening(stack.address, port) for port in ports)
    stack.stop()
    assert _processes_mentioning(str(workdir)) == []
    assert not any(is_listening(stack.address, port) for port in ports)
    assert not workdir.exists()
