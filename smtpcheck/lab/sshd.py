"""Simulated web servers: one real OpenSSH sshd each, with its own ``/var/www``, ``/home`` and
``/etc/ssmtp``.

Each sshd runs in a private mount namespace in which its own directories are bind-mounted on
those paths (reference/test-lab.md), so every host sees only its own credential files, toolkit
settings and system-mail configuration while the machine's own stay untouched.
Hosts listen on distinct 127.x.y.z addresses, each process's in its own block.

Lab users (key-only logins; no password usable through sshd):
- ``smtpcheck-lab``: sudo without a password, shared by every lab;
- one ``smtpcheck-pw<pid>-<n>`` user per lab: sudo that asks for a password, like the toolkit's
  ``X…X`` user, with a random password. It is per lab so that labs in several processes (the
  test session and a demo it runs) never reset each other's password.
Each lab has its own sudoers drop-in; the lab removes it and deletes its user when it stops, and
reaps those left behind by a lab whose process died.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from smtpcheck.lab.proc import LabError, LabService, ServerProcess, free_port, require_root

LAB_USER = "smtpcheck-lab"
SUDOERS_DIR = Path("/etc/sudoers.d")
_DROPIN_PREFIX = "smtpcheck-lab-"
_ADDRESSES = itertools.count()
_LABS = itertools.count(1)
_ADDRESS_LOCK = threading.Lock()
_PROCESS_BLOCKS = 16000  # blocks of 4 × 254 addresses in 127.1.0.0-127.250.255.255
_HOSTS_PER_PROCESS = 4 * 254


def next_loopback_address() -> str:
    """A 127.x.y.z address not yet handed out by this process, in a block of addresses found
    from its pid: labs in several processes (the test session and the demo it runs, xdist
    workers) do not share addresses (unless their pids are a multiple of 16000 apart), so they
    never compete for a host's port. 127.0.0.0/16 stays for the servers on 127.0.0.1."""
    with _ADDRESS_LOCK:
        n = next(_ADDRESSES)
    if n >= _HOSTS_PER_PROCESS:
        raise LabError(f"a process can run at most {_HOSTS_PER_PROCESS} lab hosts")
    block = os.getpid() % _PROCESS_BLOCKS
    return f"127.{1 + block // 64}.{(block % 64) * 4 + n // 254}.{1 + n % 254}"


def _run(argv: list[str], what: str, stdin: str | None = None) -> None:
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"{what}: {(done.stderr or done.stdout).strip()}")


def ensure_user(name: str, password: str | None = None) -> None:
    """A lab login user with /bin/sh (no start-up files) and no home directory."""
    try:
        pwd.getpwnam(name)
    except KeyError:
        _run(["useradd", "-M", "-d", "/nonexistent", "-s", "/bin/sh", name], f"useradd {name}")
    if password is None:
        _run(["usermod", "-p", "*", name], f"unlock {name}")  # '*': key login only
    else:
        _run(["chpasswd"], f"password for {name}", stdin=f"{name}:{password}\n")


@dataclass
class LabHost:
    """One simulated web server."""

    name: str
    address: str
    port: int
    root: Path
    php: bool = True
    _server: ServerProcess | None = field(default=None, repr=False)

    @property
    def www(self) -> Path:
        return self.root / "www"

    def mounts(self) -> dict[str, Path]:
        """Host path → this host's own directory, bind-mounted in its namespace."""
        return {"/var/www": self.www, "/home": self.root / "home",
                "/etc/ssmtp": self.root / "ssmtp"}  # fmt: skip

    @property
    def log(self) -> Path:
        return self.root / "sshd.log"

    def url(self, user: str = LAB_USER) -> str:
        return f"paramiko://{user}@{self.address}:{self.port}"

    def host_key_line(self) -> str:
        key = (self.root / "host_ed25519.pub").read_text().split()
        return f"[{self.address}]:{self.port} {key[0]} {key[1]}"

    def put(
        self,
        path: str,
        content: bytes,
        *,
        mode: int = 0o400,
        owner: str = "root",
        group: str | None = None,
    ) -> Path:
        """Write ``content`` at ``path`` (under /var/www, /home or /etc/ssmtp) on this host."""
        target = self._local(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
        shutil.chown(target, owner, group or owner)
        target.chmod(mode)
        return target

    def symlink(self, path: str, points_to: str) -> None:
        """A symlink at ``path`` whose text is ``points_to`` (as the host sees paths)."""
        link = self._local(path)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(points_to)

    def mkdir(self, path: str) -> None:
        self._local(path).mkdir(parents=True, exist_ok=True)

    def _local(self, path: str) -> Path:
        for prefix, local in self.mounts().items():
            if path.startswith(f"{prefix}/"):
                return local / path.removeprefix(f"{prefix}/")
        raise LabError(f"{path}: lab hosts only hold files under {', '.join(self.mounts())}")

    def sessions(self) -> int:
        """Remote commands this host's sshd has started (its VERBOSE log, counted)."""
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return 0
        return text.count("Starting session: command")


class SshLab(LabService):
    """A fleet of lab hosts sharing one client key, one known_hosts file and the lab users."""

    def __init__(self, workdir: Path) -> None:
        require_root("the SSH lab")
        self.workdir = workdir
        with _ADDRESS_LOCK:
            serial = next(_LABS)
        self.sudo_password_user = f"smtpcheck-pw{os.getpid()}-{serial}"
        self._dropin = SUDOERS_DIR / f"{_DROPIN_PREFIX}{os.getpid()}-{serial}"
        # Random per run and locked again on stop: a known password with sudo rights would be a
        # way to root on the machine running the lab.
        self.sudo_password = secrets.token_urlsafe(18)
        self.hosts: list[LabHost] = []
        self.client_key = workdir / "client_ed25519"
        self.known_hosts = workdir / "known_hosts"
        self.authorized_keys = workdir / "authorized_keys"
        self._started = False

    def add_host(self, name: str, *, php: bool = True) -> LabHost:
        address = next_loopback_address()
        root = self.workdir / name
        host = LabHost(name, address, free_port(address), root, php=php)
        for local in host.mounts().values():
            local.mkdir(parents=True, exist_ok=True)
        self.hosts.append(host)
        if self._started:
            self._start_host(host)
        return host

    def _keygen(self, path: Path) -> None:
        if not path.exists():
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "smtpcheck-lab",
                  "-f", str(path)], "ssh-keygen")  # fmt: skip

    def _check_traversable(self) -> None:
        """sshd reads authorized_keys with the login user's rights: every parent must let
        other users through."""
        self.workdir.chmod(0o755)
        for parent in self.workdir.parents:
            if not parent.stat().st_mode & 0o001:
                raise LabError(
                    f"{parent} is not traversable by other users (mode "
                    f"{parent.stat().st_mode & 0o777:o}); the lab's login users could not read "
                    "their authorized_keys: use a lab directory under a traversable parent"
                )

    def start(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self._check_traversable()
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        for mount_point in ("/var/www", "/home", "/etc/ssmtp"):
            Path(mount_point).mkdir(exist_ok=True)
        reap_stale_labs()
        ensure_user(LAB_USER)
        ensure_user(self.sudo_password_user, self.sudo_password)
        if shutil.which("sudo"):
            self._dropin.write_text(
                f"{LAB_USER} ALL=(ALL) NOPASSWD: ALL\n{self.sudo_password_user} ALL=(ALL) ALL\n"
            )
            self._dropin.chmod(0o440)
        self._keygen(self.client_key)
        shutil.copy(f"{self.client_key}.pub", self.authorized_keys)
        self.authorized_keys.chmod(0o644)
        self._started = True
        try:
            for host in self.hosts:
                self._start_host(host)
        except LabError:
            self.stop()
            raise
        return self

    def _start_host(self, host: LabHost) -> None:
        key = host.root / "host_ed25519"
        self._keygen(key)
        config = host.root / "sshd_config"
        lines = [
            f"Port {host.port}",
            f"ListenAddress {host.address}",
            f"HostKey {key}",
            f"PidFile {host.root / 'sshd.pid'}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            f"AllowUsers {LAB_USER} {self.sudo_password_user}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PermitRootLogin no",
            "UsePAM no",
            "StrictModes no",
            "LogLevel VERBOSE",
        ]
        config.write_text("\n".join(lines) + "\n")
        mounts = " && ".join(
            f"mount --bind {local} {where}" for where, local in host.mounts().items()
        )
        if not host.php:  # this host has no working php: hide the binary in its namespace
            mounts += ' && mount --bind /dev/null "$(readlink -f /usr/bin/php)"'
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        script = f"{mounts} && exec {sshd} -D -e -f {config} -E {host.log}"
        host._server = ServerProcess(
            f"sshd {host.name}",
            ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
            host.root / "sshd.stdout",
        )
        host._server.start()
        host._server.wait_for_port(host.address, host.port)
        with self.known_hosts.open("a") as handle:
            handle.write(host.host_key_line() + "\n")

    def stop(self) -> None:
        for host in self.hosts:
            if host._server is not None:
                host._server.stop()
                host._server = None
        if self._started:
            self._started = False
            _remove_lab_access(self._dropin, self.sudo_password_user)

    def __iter__(self) -> Iterator[LabHost]:
        return iter(self.hosts)


def _remove_lab_access(dropin: Path, user: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        dropin.unlink()
    subprocess.run(["userdel", user], capture_output=True, check=False)


def reap_stale_labs() -> None:
    """Remove the sudoers drop-in and user of every lab whose process no longer runs."""
    for dropin in SUDOERS_DIR.glob(f"{_DROPIN_PREFIX}*"):
        pid, _, serial = dropin.name.removeprefix(_DROPIN_PREFIX).partition("-")
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            _remove_lab_access(dropin, f"smtpcheck-pw{pid}-{serial}")
