"""``paramiko://`` hosts: SSH with paramiko, host keys verified against known_hosts.

Unlike testinfra's paramiko backend (which accepts unknown keys with a warning), an unknown key
is refused unless ``accept_new_host_keys`` is set, in which case it is saved like OpenSSH's
``StrictHostKeyChecking=accept-new``; a changed key is always refused.

Nothing here grows with the fleet: known_hosts and the operator's ssh_config are parsed once
per run (``known_hosts.FileCache``), and each connection is given only its own host's keys.
"""

from __future__ import annotations

import errno
import io
import socket
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import paramiko

from smtpcheck.errors import (
    HostKeyMismatch,
    HostKeyUnknown,
    HostUnreachable,
    LoginRefused,
    ProbeError,
)
from smtpcheck.providers import expand_path
from smtpcheck.remote import CommandResult, SshOptions, command_line
from smtpcheck.remote.known_hosts import (
    FileCache,
    KnownHosts,
    host_key_name,
    known_hosts_files,
    known_hosts_for,
    save_file,
    save_new_host_key,
)
from smtpcheck.targets import HostTarget


def _revoked(hostname: str, key: paramiko.PKey) -> HostKeyMismatch:
    return HostKeyMismatch(
        f"host key for {hostname} ({key.get_name()} {key.fingerprint}) is marked @revoked in "
        "known_hosts: refused"
    )


def _refuse_revoked_or_changed(store: KnownHosts, hostname: str, key: paramiko.PKey) -> None:
    """Before any key is treated as unknown: a revoked key is refused, and so is any key of a
    host whose every known key is revoked (it is not a new host: its key changed)."""
    if store.is_revoked(key):
        raise _revoked(hostname, key)
    if store.lists(hostname) and not store.keys_for(hostname):
        raise HostKeyMismatch(
            f"host key for {hostname} ({key.get_name()} {key.fingerprint}) does not match "
            "known_hosts, whose every key for it is marked @revoked: refused"
        )


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: Sequence[Path], store: KnownHosts) -> None:
        self.known_hosts = " or ".join(map(str, known_hosts))
        self.store = store

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        _refuse_revoked_or_changed(self.store, hostname, key)
        raise HostKeyUnknown(
            f"host key for {hostname} ({key.get_name()} {key.fingerprint}) is not in "
            f"{self.known_hosts}; add it, or pass --accept-new-host-keys to trust it on first use"
        )


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Trust on first use: record the new key in the known_hosts file (appended, not rewritten)
    and in the run's store. A revoked key is never trusted."""

    def __init__(self, options: SshOptions, notes: list[str], store: KnownHosts) -> None:
        self.options = options
        self.notes = notes
        self.store = store

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        _refuse_revoked_or_changed(self.store, hostname, key)
        known = save_new_host_key(self.options, hostname, key)
        if known:  # another connection to the same name saved its key first: compare with it
            ours = {k.get_name(): k for k in known}.get(key.get_name())
            if ours is None or ours.asbytes() != key.asbytes():
                raise paramiko.BadHostKeyException(hostname, key, ours or known[0])
            return
        client.get_host_keys().add(hostname, key.get_name(), key)
        self.notes.append(
            f"unknown host key {key.get_name()} {key.fingerprint} accepted on first use "
            f"and saved to {save_file(self.options)}"
        )


def _parse_ssh_config(files: Sequence[tuple[Path, bytes | None]]) -> paramiko.SSHConfig:
    """paramiko's ``SSHConfig.from_path``, from bytes already read (one file)."""
    ((_, data),) = files
    try:
        text = (data or b"").decode()  # from_path reads text in the locale's encoding: UTF-8
        return paramiko.SSHConfig.from_file(io.StringIO(text, newline=None))
    except (ValueError, paramiko.SSHException) as exc:
        raise ProbeError(str(exc)) from None


_SSH_CONFIGS: FileCache[paramiko.SSHConfig] = FileCache("SSH config", _parse_ssh_config)


def _ssh_config_values(target: HostTarget) -> dict[str, Any]:
    """HostName, User, Port, IdentityFile and ProxyCommand from the target's ssh_config.

    StrictHostKeyChecking is deliberately not honoured: accepting keys is an explicit option.
    """
    try:
        path = target.ssh_config or Path("~/.ssh/config").expanduser()
    except RuntimeError:  # no home directory: no user SSH config either
        return {}
    if not path.is_file() or target.host is None:
        return {}
    try:  # the operator's file, parsed once per run: a problem with it is each host's error
        config = _SSH_CONFIGS.get((path,))
        entry = config.lookup(target.host)
        values: dict[str, Any] = {"hostname": entry.get("hostname", target.host)}
        if "user" in entry:
            values["username"] = entry["user"]
        if "port" in entry:
            values["port"] = _port(entry["port"])
        if "identityfile" in entry:
            values["key_filename"] = str(expand_path(entry["identityfile"][0], "IdentityFile",
                                                     ProbeError))  # fmt: skip
        if "proxycommand" in entry:
            values["sock"] = paramiko.ProxyCommand(entry["proxycommand"])
    except KeyError:  # paramiko's lookup asks getpass.getuser() for the %u token
        raise ProbeError(f"cannot use the SSH config {path} for {target.host}: the local user "
                         "has no name (no USER, no passwd entry)") from None  # fmt: skip
    except (OSError, ValueError, paramiko.SSHException, ProbeError) as exc:
        raise ProbeError(f"cannot use the SSH config {path} for {target.host}: {exc}") from None
    return values


def _port(value: str) -> int:
    """A Port line as OpenSSH reads it: decimal digits, 1 to 65535 (not Python's int(): no
    ``1_000``, no ``+22``, no ``٢٢``)."""
    if not (len(value) <= 5 and value.isascii() and value.isdigit() and 0 < int(value) < 65536):
        raise ProbeError(f"Port {value[:20]!r} is not a port number (1-65535)")
    return int(value)


def _open_socket(hostname: str, port: int, timeout: float | None) -> socket.socket:
    """The TCP connection paramiko's ``connect`` would open (each address in turn; refused and
    unreachable ones collected into NoValidConnectionsError, any other error raised at once, so
    the messages stay the same), with TCP_NODELAY set: without it every channel open waits
    ~40 ms for a delayed ACK (Nagle; issue 10)."""
    infos = socket.getaddrinfo(hostname, port, socket.AF_UNSPEC, socket.SOCK_STREAM)
    addresses = [(i[0], i[4]) for i in infos if i[1] == socket.SOCK_STREAM] or [
        (i[0], i[4]) for i in infos
    ]
    errors: dict[Any, Exception] = {}
    for family, address in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as exc:
            sock.close()
            if exc.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH):
                raise
            errors[address] = exc
            continue
        return sock
    raise paramiko.ssh_exception.NoValidConnectionsError(errors)


class ParamikoConnection:
    """One SSH connection; every command of the host goes over it."""

    def __init__(self, target: HostTarget, options: SshOptions) -> None:
        self.target = target
        self.options = options
        self.notes: list[str] = []
        self.commands_run = 0
        self._client = self._connect()

    def _connect(self) -> paramiko.SSHClient:
        target, options = self.target, self.options
        store = known_hosts_for(options)  # parsed once per run, shared by every host
        client = paramiko.SSHClient()
        policy: paramiko.MissingHostKeyPolicy = (
            _AcceptNew(options, self.notes, store)
            if options.accept_new_host_keys
            else _RefuseUnknown(known_hosts_files(options), store)
        )
        client.set_missing_host_key_policy(policy)
        params: dict[str, Any] = {
            "hostname": target.host,
            "port": target.port or 22,
            "username": target.user,
            "timeout": target.timeout,
            "banner_timeout": target.timeout,
            "auth_timeout": target.timeout,
        }
        params.update({k: v for k, v in _ssh_config_values(target).items() if v is not None})
        if target.port:
            params["port"] = target.port
        if target.user:
            params["username"] = target.user
        if target.identity_file:
            params.update(key_filename=str(target.identity_file), look_for_keys=False)
            params["allow_agent"] = False
        if target.password is not None:
            params["password"] = target.password.reveal()
        # Only this host's keys, under the name paramiko looks up: its own comparison (and its
        # preference for the key type it knows) works as it did with the whole file loaded.
        name = host_key_name(params["hostname"], params["port"])
        for key in store.keys_for(name):
            client.get_host_keys().add(name, key.get_name(), key)
        where = f"{params['hostname']}:{params['port']}"
        try:
            if "sock" not in params:  # a ProxyCommand from ssh_config is its own socket
                params["sock"] = _open_socket(params["hostname"], params["port"], target.timeout)
            client.connect(**params)
        except ProbeError:  # the policies' refusals, or a known_hosts that broke mid-run
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
            if store.is_revoked(exc.key):
                raise _revoked(where, exc.key) from None
            raise HostKeyMismatch(
                f"host key for {where} does not match known_hosts (got {exc.key.get_name()} "
                f"{exc.key.fingerprint}): the host was rebuilt, or the connection is intercepted"
            ) from None
        except paramiko.AuthenticationException as exc:
            client.close()
            raise LoginRefused(
                f"{where} refused the login as {params['username']}: {exc}"
            ) from None
        except TimeoutError:
            client.close()
            raise HostUnreachable(f"{where}: timed out after {target.timeout:.0f}s") from None
        except paramiko.ssh_exception.NoValidConnectionsError as exc:
            client.close()
            reasons = sorted({getattr(e, "strerror", None) or str(e) for e in exc.errors.values()})
            raise HostUnreachable(f"{where}: {'; '.join(reasons).lower()}") from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            client.close()
            raise HostUnreachable(f"{where}: {exc or type(exc).__name__}") from None
        return client

    def run(self, argv: Sequence[str], stdin: bytes = b"") -> CommandResult:
        transport = self._client.get_transport()
        if transport is None or not transport.is_active():
            raise ProbeError("the SSH connection closed before the command could run")
        self.commands_run += 1
        try:
            channel = transport.open_session(timeout=self.target.timeout)
            channel.settimeout(self.options.command_timeout)
            channel.exec_command(command_line(argv))
            if stdin:
                channel.sendall(stdin)
            channel.shutdown_write()
            stdout = channel.makefile("rb").read()
            stderr = channel.makefile_stderr("rb").read()
            status = channel.recv_exit_status()
        except TimeoutError:
            raise ProbeError(
                f"the remote command did not finish within {self.options.command_timeout:.0f}s"
            ) from None
        except (OSError, paramiko.SSHException, EOFError) as exc:
            raise ProbeError(f"the remote command failed: {exc or type(exc).__name__}") from None
        return CommandResult(status, stdout, stderr)

    def close(self) -> None:
        self._client.close()
