"""``local://``: audit the machine smtpcheck runs on (e.g. from the web server's own cron)."""

from __future__ import annotations

import subprocess
from collections.abc import Sequence

from smtpcheck.errors import ProbeError
from smtpcheck.remote import CommandResult, SshOptions
from smtpcheck.targets import HostTarget


class LocalConnection:
    def __init__(self, target: HostTarget, options: SshOptions) -> None:
        self.options = options
        self.notes: list[str] = []
        self.commands_run = 0

    def run(self, argv: Sequence[str], stdin: bytes = b"") -> CommandResult:
        self.commands_run += 1
        try:
            done = subprocess.run(
                list(argv),
                input=stdin,
                capture_output=True,
                timeout=self.options.command_timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ProbeError(
                f"the command did not finish within {self.options.command_timeout:.0f}s"
            ) from None
        except OSError as exc:
            raise ProbeError(f"cannot run {argv[0]}: {exc.strerror}") from None
        return CommandResult(done.returncode, done.stdout, done.stderr)

    def close(self) -> None:
        """Nothing to close."""
