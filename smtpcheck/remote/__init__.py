"""How smtpcheck reaches a host: one small module per transport (paramiko, OpenSSH, local).

Every transport offers the same two calls, :meth:`Connection.run` and :meth:`Connection.close`,
and maps its own failures onto :mod:`smtpcheck.errors` probe errors. Host keys are verified
against known_hosts; accepting an unknown key is an explicit opt-in (SPEC §1).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from smtpcheck.secrets import Secret


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: bytes = field(repr=False)  # may hold a credential file: never shown
    stderr: bytes = field(repr=False)


@dataclass(frozen=True)
class SshOptions:
    """SSH settings shared by every host of a run."""

    known_hosts: Path | None = None  # None: ~/.ssh/known_hosts (+ /etc/ssh/ssh_known_hosts)
    accept_new_host_keys: bool = False
    command_timeout: float = 60.0


class Connection(Protocol):
    """An open connection to one host."""

    notes: list[str]
    commands_run: int

    def run(self, argv: Sequence[str], stdin: bytes = b"") -> CommandResult: ...

    def close(self) -> None: ...


def default_known_hosts() -> Path | None:
    """The user's ``~/.ssh/known_hosts``; None for a user with no home directory (no HOME and no
    passwd entry, as an arbitrary uid in a CI container runs), who has the system file only."""
    try:
        return Path("~/.ssh/known_hosts").expanduser()
    except RuntimeError:
        return None


SYSTEM_KNOWN_HOSTS = Path("/etc/ssh/ssh_known_hosts")


def sudo_argv(argv: Sequence[str], *, user: str | None, password: Secret | None) -> list[str]:
    """``argv`` run through sudo: ``-n`` when no password is configured (never prompt), else
    ``-S`` with the password written to stdin by the caller. ``-p ''`` keeps the prompt out of
    the output."""
    head = ["sudo", "-k", "-S", "-p", ""] if password is not None else ["sudo", "-n"]
    if user:
        head += ["-u", user]
    return [*head, "--", *argv]


def command_line(argv: Sequence[str]) -> str:
    """One shell-quoted command line for transports that take a string (SSH exec)."""
    return shlex.join(argv)
