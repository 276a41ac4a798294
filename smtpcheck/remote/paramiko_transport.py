"""``paramiko://`` hosts: SSH with paramiko, host keys verified against known_hosts.

Unlike testinfra's paramiko backend (which accepts unknown keys with a warning), an unknown key
is refused unless ``accept_new_host_keys`` is set, in which case it is saved like OpenSSH's
``StrictHostKeyChecking=accept-new``; a changed key is always refused.
"""

from __future__ import annotations

import threading
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
from smtpcheck.remote import (
    SYSTEM_KNOWN_HOSTS,
    CommandResult,
    SshOptions,
    command_line,
    default_known_hosts,
)
from smtpcheck.targets import HostTarget

_SAVE_LOCK = threading.Lock()


class _RefuseUnknown(paramiko.MissingHostKeyPolicy):
    def __init__(self, known_hosts: Path) -> None:
        self.known_hosts = known_hosts

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        raise HostKeyUnknown(
            f"host key for {hostname} ({key.get_name()} {key.fingerprint}) is not in "
            f"{self.known_hosts}; add it, or pass --accept-new-host-keys to trust it on first use"
        )


class _AcceptNew(paramiko.MissingHostKeyPolicy):
    """Trust on first use: record the new key in the known_hosts file (appended, not rewritten)."""

    def __init__(self, known_hosts: Path, notes: list[str]) -> None:
        self.known_hosts = known_hosts
        self.notes = notes

    def missing_host_key(self, client: paramiko.SSHClient, hostname: str, key: Any) -> None:
        client.get_host_keys().add(hostname, key.get_name(), key)
        line = f"{hostname} {key.get_name()} {key.get_base64()}\n"
        with _SAVE_LOCK:
            self.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with self.known_hosts.open("a", encoding="ascii") as handle:
                handle.write(line)
        self.notes.append(
            f"unknown host key {key.get_name()} {key.fingerprint} accepted on first use "
            f"and saved to {self.known_hosts}"
        )


def _ssh_config_values(target: HostTarget) -> dict[str, Any]:
    """HostName, User, Port, IdentityFile and ProxyCommand from the target's ssh_config.

    StrictHostKeyChecking is deliberately not honoured: accepting keys is an explicit option.
    """
    path = target.ssh_config or Path("~/.ssh/config").expanduser()
    if not path.is_file() or target.host is None:
        return {}
    try:  # the operator's file, read per host: a problem with it is this host's error
        config = paramiko.SSHConfig.from_path(str(path))
        entry = config.lookup(target.host)
        values: dict[str, Any] = {"hostname": entry.get("hostname", target.host)}
        if "user" in entry:
            values["username"] = entry["user"]
        if "port" in entry:
            values["port"] = int(entry["port"])
        if "identityfile" in entry:
            values["key_filename"] = str(Path(entry["identityfile"][0]).expanduser())
        if "proxycommand" in entry:
            values["sock"] = paramiko.ProxyCommand(entry["proxycommand"])
    except (OSError, ValueError, paramiko.SSHException) as exc:
        raise ProbeError(f"cannot use the SSH config {path} for {target.host}: {exc}") from None
    return values


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
        known_hosts = options.known_hosts or default_known_hosts()
        client = paramiko.SSHClient()
        if options.known_hosts is None and SYSTEM_KNOWN_HOSTS.is_file():
            client.load_system_host_keys(str(SYSTEM_KNOWN_HOSTS))
        if known_hosts.is_file():
            client.load_host_keys(str(known_hosts))
        policy: paramiko.MissingHostKeyPolicy = (
            _AcceptNew(known_hosts, self.notes)
            if options.accept_new_host_keys
            else _RefuseUnknown(known_hosts)
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
        where = f"{params['hostname']}:{params['port']}"
        try:
            client.connect(**params)
        except (HostKeyUnknown, HostKeyMismatch):
            client.close()
            raise
        except paramiko.BadHostKeyException as exc:
            client.close()
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
