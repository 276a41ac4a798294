"""``ssh://`` hosts: the OpenSSH client, for operators whose access depends on ~/.ssh/config
(ProxyJump, certificates, agents). One ``ssh`` process per command; BatchMode, so it never
prompts; host keys checked strictly (``accept-new`` only when asked)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence

from smtpcheck.errors import HostKeyMismatch, HostKeyUnknown, HostUnreachable, LoginRefused
from smtpcheck.remote import CommandResult, SshOptions, command_line
from smtpcheck.targets import HostTarget

_SSH_FAILED = 255  # ssh's own exit status for connection and authentication failures


class OpenSshConnection:
    def __init__(self, target: HostTarget, options: SshOptions) -> None:
        if shutil.which("ssh") is None:
            raise HostUnreachable("ssh:// needs the OpenSSH client (ssh) on this machine")
        self.target = target
        self.options = options
        self.notes: list[str] = []
        self.commands_run = 0

    def _base_argv(self) -> list[str]:
        target, options = self.target, self.options
        argv = [
            "ssh",
            "-T",
            "-o", "BatchMode=yes",
            "-o", f"ConnectTimeout={max(1, int(target.timeout))}",
            "-o", "StrictHostKeyChecking="
            + ("accept-new" if options.accept_new_host_keys else "yes"),
        ]  # fmt: skip
        if options.known_hosts is not None:
            argv += ["-o", f"UserKnownHostsFile={options.known_hosts}"]
        if target.ssh_config is not None:
            argv += ["-F", str(target.ssh_config)]
        if target.identity_file is not None:
            argv += ["-i", str(target.identity_file), "-o", "IdentitiesOnly=yes"]
        if target.port:
            argv += ["-p", str(target.port)]
        if target.user:
            argv += ["-l", target.user]
        return [*argv, "--", target.host or ""]

    def run(self, argv: Sequence[str], stdin: bytes = b"") -> CommandResult:
        self.commands_run += 1
        try:
            done = subprocess.run(
                [*self._base_argv(), command_line(argv)],
                input=stdin,
                capture_output=True,
                timeout=self.options.command_timeout + self.target.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise HostUnreachable(
                f"{self.target.name}: no answer within {self.options.command_timeout:.0f}s"
            ) from None
        if done.returncode == _SSH_FAILED:
            raise _classify(done.stderr.decode(errors="replace"), self.target.name)
        return CommandResult(done.returncode, done.stdout, done.stderr)

    def close(self) -> None:
        """Nothing stays open between commands."""


def _classify(stderr: str, where: str) -> Exception:
    """ssh's exit status 255 covers every connection failure: tell them apart by its message."""
    last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "ssh failed")
    if "IDENTIFICATION HAS CHANGED" in stderr or "host key for" in stderr.lower():
        return HostKeyMismatch(f"{where}: host key differs from known_hosts ({last})")
    if "Host key verification failed" in stderr or "No ED25519 host key is known" in stderr:
        return HostKeyUnknown(
            f"{where}: host key not in known_hosts; add it, or pass --accept-new-host-keys"
        )
    if "Permission denied" in stderr or "Too many authentication failures" in stderr:
        return LoginRefused(f"{where}: {last}")
    return HostUnreachable(f"{where}: {last}")
