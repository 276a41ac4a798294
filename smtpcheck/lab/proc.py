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
import sys
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


def free_ports(count: int, address: str = "127.0.0.1", *, udp: bool = False) -> list[int]:
    """``count`` distinct TCP ports free on ``address`` right now (and UDP too if ``udp``).

    Every probe socket stays bound until all are picked, so the kernel cannot hand out one port
    twice in a batch. The ports are free only now: pick them just before the servers bind them,
    and let :meth:`ServerProcess.wait_for_port` catch a port another process took meanwhile.
    """
    with contextlib.ExitStack() as held:
        ports: list[int] = []
        while len(ports) < count:
            tcp = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            tcp.bind((address, 0))
            port: int = tcp.getsockname()[1]
            if udp:  # NSD binds the same number for UDP: a port with a UDP socket is not free
                dgram = held.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
                try:
                    dgram.bind((address, port))
                except OSError:
                    continue  # taken for UDP: keep the TCP probe bound so it is not offered again
            ports.append(port)
        return ports


def free_port(address: str = "127.0.0.1", *, udp: bool = False) -> int:
    """A TCP port (and, if ``udp``, the same UDP port) that is free on ``address`` right now."""
    return free_ports(1, address, udp=udp)[0]


def is_listening(address: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((address, port)) == 0


def _listening_sockets(address: str, port: int) -> set[int]:
    """Inodes of the TCP sockets listening on ``address:port`` or on every address at ``port``
    (``/proc/net/tcp``: the local address in host byte order, state 0A is LISTEN)."""
    packed = int.from_bytes(socket.inet_aton(address), sys.byteorder)
    wanted = {f"{packed:08X}:{port:04X}", f"00000000:{port:04X}"}
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] in wanted and fields[3] == "0A":
            inodes.add(int(fields[9]))
    return inodes


def _process_tree(root: int) -> set[int]:
    """``root`` and all its descendants (by parent pid: a daemon's setsid() keeps it in)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
        children.setdefault(parent, []).append(int(stat.parent.name))
    tree, todo = set(), [root]
    while todo:
        pid = todo.pop()
        tree.add(pid)
        todo += children.get(pid, [])
    return tree


def _socket_holders(inodes: set[int], pids: set[int] | None = None) -> set[int]:
    """The processes (among ``pids``, else all) holding one of the sockets ``inodes``."""
    targets = {f"socket:[{inode}]" for inode in inodes}
    candidates = pids if pids is not None else {int(p.name) for p in Path("/proc").glob("[0-9]*")}
    holders = set()
    for pid in candidates:
        with contextlib.suppress(OSError):  # exited meanwhile
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                with contextlib.suppress(OSError):
                    if str(fd.readlink()) in targets:
                        holders.add(pid)
                        break
    return holders


def _describe_processes(pids: set[int]) -> str:
    names = []
    for pid in sorted(pids):
        try:
            names.append(f"{Path(f'/proc/{pid}/comm').read_text().strip()} (pid {pid})")
        except OSError:
            names.append(f"pid {pid}")
    return ", ".join(names) or "an unknown process"


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
        """Wait until this server (or a process it started) listens on ``address:port``.

        A listener of another process does not count: a server that could not bind its port
        (another lab took it) exits or times out with its log, never passes for ready.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise LabError(
                    f"{self.name} exited before listening on {address}:{port}"
                    f"{self._squatter(address, port)}:\n{log_tail(self.log_path)}"
                )
            if self._listens(address, port):
                return
            time.sleep(0.02)
        raise LabError(
            f"{self.name} not listening on {address}:{port} after {timeout:.0f}s"
            f"{self._squatter(address, port)}:\n{log_tail(self.log_path)}"
        )

    def _listens(self, address: str, port: int) -> bool:
        inodes = _listening_sockets(address, port)
        if not inodes or self.pid is None:
            return False
        # Most servers listen in the process started; only then walk its descendants (a
        # /proc scan per poll would cost a 1,000-host lab dearly).
        return bool(
            _socket_holders(inodes, {self.pid}) or _socket_holders(inodes, _process_tree(self.pid))
        )

    def _squatter(self, address: str, port: int) -> str:
        """Who else listens there, if anyone: the likely reason this server could not bind."""
        holders = _socket_holders(_listening_sockets(address, port))
        return f" ({_describe_processes(holders)} listens there)" if holders else ""

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
