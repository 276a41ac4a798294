"""Start, wait for and stop the lab's real servers (sshd, NSD, postfix, dovecot, opendkim).

Every lab server listens on 127.0.0.0/8 only (reference/test-lab.md) and is a child process in its
own session, so that stopping it also stops whatever it forked.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

from smtpcheck.errors import SmtpcheckError


class LabError(SmtpcheckError):
    """The built-in lab could not be set up or a lab server did not start."""


def require_root(what: str = "the lab") -> None:
    """The lab binds servers, creates users and mount namespaces: it needs root."""
    if os.geteuid() != 0:
        raise LabError(f"{what} needs root (it starts real servers and mount namespaces)")


def free_port(address: str = "127.0.0.1") -> int:
    """A TCP port that is free on ``address`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
        return port


def is_listening(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((address, port)) == 0


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


class LabService:
    """A lab service that ``with`` starts and always stops (servers, mail stack, fault relays)."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class ServerProcess(LabService):
    """One real server running in the foreground, its output in ``log_path``."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        env: Mapping[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self.cwd = cwd
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> Self:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            try:
                self._proc = subprocess.Popen(
                    self.argv,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    cwd=self.cwd,
                    start_new_session=True,
                )
            except OSError as exc:
                raise LabError(f"{self.name}: cannot start {self.argv[0]}: {exc}") from None
        return self

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def wait_for_port(self, address: str, port: int, timeout: float = 10.0) -> None:
        """Wait until the server accepts connections; a server that dies fails with its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if is_listening(address, port):
                return
            if not self.running():
                raise LabError(
                    f"{self.name} exited before listening on {address}:{port}:\n"
                    f"{log_tail(self.log_path)}"
                )
            time.sleep(0.02)
        raise LabError(
            f"{self.name} not listening on {address}:{port} after {timeout:.0f}s:\n"
            f"{log_tail(self.log_path)}"
        )

    def stop(self, timeout: float = 5.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout)
