"""Host facts: everything the host controls need, gathered in ONE remote command per host.

testinfra's way costs one remote command per file property (stat per attribute, then cat); on a
fleet that is the main cost (reference/test-lab.md). Here one POSIX sh script (``facts.sh``)
reports lstat, link target, stat, content (capped) and, for Joomla, PHP's own reading of the
file, with every host-supplied value base64-framed. ``parse_fact_output`` is pure.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from importlib import resources

from smtpcheck.errors import ParseError, ProbeError, RemoteCommandFailed
from smtpcheck.remote import Connection, SshOptions, sudo_argv
from smtpcheck.secrets import REDACTOR, Secret, environment
from smtpcheck.targets import HostTarget

DEFAULT_MAX_FILE_BYTES = 64 * 1024
_SCRIPT = resources.files("smtpcheck.remote").joinpath("facts.sh").read_text()
_PHP_READER = base64.b64encode(
    resources.files("smtpcheck.remote").joinpath("joomla_config.php").read_bytes()
).decode()


@dataclass(frozen=True)
class StatInfo:
    """``stat -c '%F|%a|%u|%g|%U|%G|%s'`` of one path."""

    kind: str  # "regular file", "regular empty file", "directory", "symbolic link", ...
    mode: int  # permission bits (with setuid/setgid/sticky)
    uid: int
    gid: int
    owner: str
    group: str
    size: int

    @property
    def is_regular(self) -> bool:
        return self.kind.startswith("regular")

    @property
    def mode_text(self) -> str:
        return f"{self.mode:04o}"


@dataclass(frozen=True)
class PhpReading:
    """What PHP on the host made of a Joomla configuration.php (JSON from joomla_config.php)."""

    available: bool
    exit_status: int | None = None
    output: bytes = field(default=b"", repr=False)  # holds smtppass: never shown


@dataclass(frozen=True)
class FileFacts:
    path: str
    exists: bool
    lstat: StatInfo | None = None
    link: str | None = None  # the symlink's own text
    resolved: str | None = None  # readlink -f
    stat: StatInfo | None = None  # of what the path finally names
    content: bytes | None = field(default=None, repr=False)  # holds the password: never shown
    denied: bool = False  # a regular file the reading user may not read
    php: PhpReading | None = None

    @property
    def truncated(self) -> bool:
        return bool(self.stat and self.content is not None and self.stat.size > len(self.content))


@dataclass(frozen=True)
class HostFacts:
    hostname: str
    user: str
    uid: int
    files: Mapping[str, FileFacts]
    read_as: str = ""
    commands_run: int = 0
    notes: tuple[str, ...] = ()
    homes: tuple[str, ...] = ()  # the toolkit homes found, in the order "~/" paths were expanded


@dataclass(frozen=True)
class ProbePlan:
    """What the one fact command probes on a host (built from the credential-source registry).

    ``paths`` are facts.sh arguments: a ``php:`` prefix has PHP read the file too, a leading
    ``~/`` is probed under every toolkit home. ``follow_up`` names further paths once the first
    answer is in (a webroot named in application.dat, a ``require`` stub's target); a second
    command runs only when it names something not probed yet."""

    paths: tuple[str, ...]
    server_user: str = ""
    follow_up: Callable[[HostFacts], Sequence[str]] | None = None


@dataclass(frozen=True)
class HostObservation:
    """Facts, or why none could be gathered. Never raises for a problem of the host."""

    target: HostTarget
    facts: HostFacts | None
    failure: str | None = None
    failure_kind: str | None = None  # class name of the probe error: HostKeyMismatch, ...
    seconds: float = 0.0


def build_fact_argv(paths: Sequence[str], *, max_bytes: int, server_user: str = "") -> list[str]:
    """The one command: ``/bin/sh -c SCRIPT smtpcheck CAP PHP_B64 SERVER_USER PATH...``."""
    return ["/bin/sh", "-c", _SCRIPT, "smtpcheck", str(max_bytes), _PHP_READER, server_user,
            *paths]  # fmt: skip


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ParseError(f"fact output: {what} is not base64") from None


def _text(value: str, what: str) -> str:
    return _b64(value, what).decode("utf-8", "replace")


def _line(value: str, what: str) -> str:
    """A command's output, base64, without the one final newline the command printed."""
    text = _text(value, what)
    return text[:-1] if text.endswith("\n") else text


def _int(value: str, what: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ParseError(f"fact output: {what} is not a number") from None


_HEADER = ("hostname", "hostname-text", "id", "id-text", "user", "uid")  # user, uid: older scripts
# `id`'s "uid=0(root) gid=...": a uid without its name when the name cannot be looked up
_ID = re.compile(r"uid=(\d+)(?:\(([^)]*)\))?")


def parse_stat(text: str) -> StatInfo:
    parts = text.strip().split("|")
    if len(parts) != 7:
        raise ParseError(f"fact output: stat line has {len(parts)} fields, expected 7")
    kind, mode, uid, gid, owner, group, size = parts
    try:
        return StatInfo(kind, int(mode, 8), int(uid), int(gid), owner, group, int(size))
    except ValueError:
        raise ParseError("fact output: stat values are not numbers") from None


def parse_fact_output(stdout: bytes) -> HostFacts:
    """Parse the framed output of ``facts.sh``. Pure; raises ParseError on a broken frame."""
    lines = stdout.decode("ascii", "replace").splitlines()
    if not lines or lines[0].strip() != "smtpcheck-facts 1":
        raise ParseError("the fact command printed no smtpcheck header")
    if lines[-1].strip() != "end":
        raise ParseError("the fact command output was cut short")
    header: dict[str, str] = {}
    homes: list[str] = []
    files: dict[str, dict[str, object]] = {}
    current: dict[str, object] | None = None
    for line in lines[1:-1]:
        key, _, value = line.partition(" ")
        if key in ("home", "home-text") and current is None:
            homes.append(value if key == "home-text" else _text(value, "home"))
        elif key in ("path", "path-text"):
            path = value if key == "path-text" else _text(value, "path")
            current = files.setdefault(path, {"path": path, "exists": True})
        elif current is None and key in _HEADER:
            header[key] = value
        elif current is None:
            raise ParseError(f"fact output: unknown record {key!r}")
        elif key == "missing":
            current["exists"] = False
        elif key in ("lstat", "stat"):
            current[key] = parse_stat(_text(value, key))
        elif key in ("lstat-text", "stat-text"):
            current[key.removesuffix("-text")] = parse_stat(value)
        elif key in ("link", "resolved"):
            current[key] = _line(value, key)
        elif key == "content":
            current["content"] = _b64(value, "content")
        elif key == "content-denied":
            current["denied"] = True
        elif key == "php-absent":
            current["php"] = PhpReading(available=False)
        elif key == "php-exit":
            current["php_exit"] = _int(value, "php-exit")
        elif key == "php":
            status = current.pop("php_exit", None)
            current["php"] = PhpReading(True, status if isinstance(status, int) else None,
                                        _b64(value, "php"))  # fmt: skip
        else:
            raise ParseError(f"fact output: unknown record {key!r}")
    user, uid = _identity(header)
    hostname = header.get("hostname-text")
    return HostFacts(
        hostname=_line(header.get("hostname", ""), "hostname") if hostname is None else hostname,
        user=user,
        uid=uid,
        files={path: _file_facts(values) for path, values in files.items()},
        homes=tuple(homes),
    )


def _identity(header: Mapping[str, str]) -> tuple[str, int]:
    """The remote user's name and uid, from `id` (or the separate records of older scripts)."""
    ident = header.get("id-text")
    if ident is None and "id" in header:
        ident = _text(header["id"], "id")
    if ident is None:
        return _line(header.get("user", ""), "user"), _int(header.get("uid", "-1"), "uid")
    found = _ID.match(ident)
    if found is None:
        return "", -1
    return found.group(2) or "", _int(found.group(1), "uid")  # 5,000 digits: a ParseError


def _file_facts(values: dict[str, object]) -> FileFacts:
    lstat = values.get("lstat")
    stat = values.get("stat", None if values.get("link") is not None else lstat)
    return FileFacts(
        path=str(values["path"]),
        exists=bool(values["exists"]),
        lstat=lstat if isinstance(lstat, StatInfo) else None,
        link=values.get("link") if isinstance(values.get("link"), str) else None,  # type: ignore[arg-type]
        resolved=values.get("resolved") if isinstance(values.get("resolved"), str) else None,  # type: ignore[arg-type]
        stat=stat if isinstance(stat, StatInfo) else None,
        content=values.get("content") if isinstance(values.get("content"), bytes) else None,  # type: ignore[arg-type]
        denied=bool(values.get("denied", False)),
        php=values.get("php") if isinstance(values.get("php"), PhpReading) else None,  # type: ignore[arg-type]
    )


ConnectionFactory = Callable[[HostTarget, SshOptions], Connection]


def open_connection(target: HostTarget, options: SshOptions) -> Connection:
    """The transport for the target's backend (one small module each)."""
    if target.backend == "local":
        from smtpcheck.remote.local_transport import LocalConnection

        return LocalConnection(target, options)
    if target.backend == "ssh":
        from smtpcheck.remote.openssh_transport import OpenSshConnection

        return OpenSshConnection(target, options)
    from smtpcheck.remote.paramiko_transport import ParamikoConnection

    return ParamikoConnection(target, options)


def _sudo_password(target: HostTarget, environ: Mapping[str, str]) -> Secret | None:
    if not target.sudo or not target.sudo_password_env:
        return None
    value = environ.get(target.sudo_password_env)
    if not value:
        raise RemoteCommandFailed(
            f"sudo password variable {target.sudo_password_env} is not set in the environment"
        )
    secret = Secret(value)
    REDACTOR.register(secret)
    return secret


def _sudo_refusal(stderr: bytes) -> str:
    text = REDACTOR.scrub(stderr.decode("utf-8", "replace")).strip()
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def _run_facts(
    connection: Connection,
    target: HostTarget,
    password: Secret | None,
    paths: Sequence[str],
    *,
    max_bytes: int,
    server_user: str,
) -> HostFacts:
    argv = build_fact_argv(paths, max_bytes=max_bytes, server_user=server_user)
    stdin = b""
    if target.sudo:
        argv = sudo_argv(argv, user=target.sudo_user, password=password)
        stdin = (password.reveal() + "\n").encode() if password is not None else b""
    result = connection.run(argv, stdin)
    if not result.stdout.startswith(b"smtpcheck-facts"):
        reason = _sudo_refusal(result.stderr)
        if target.sudo:
            raise RemoteCommandFailed(f"sudo refused to run the fact command: {reason}")
        raise RemoteCommandFailed(f"the fact command failed (exit {result.exit_status}): {reason}")
    return parse_fact_output(result.stdout)


def gather(
    connection: Connection,
    target: HostTarget,
    environ: Mapping[str, str],
    plan: ProbePlan,
    *,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> HostFacts:
    """Run the fact command on an open connection (and its follow-up, if the plan needs one)."""
    password = _sudo_password(target, environ)
    run = partial(_run_facts, connection, target, password, max_bytes=max_bytes,
                  server_user=plan.server_user)  # fmt: skip
    facts = run(plan.paths)
    files = dict(facts.files)
    extra = plan.follow_up(facts) if plan.follow_up is not None else ()
    extra = [path for path in dict.fromkeys(extra) if path.removeprefix("php:") not in files]
    if extra:
        files.update(run(extra).files)
    who = f"root via sudo as {target.user or 'login user'}" if target.sudo else facts.user
    if target.sudo and target.sudo_user:
        who = f"{target.sudo_user} via sudo"
    return replace(
        facts, files=files, read_as=who, commands_run=connection.commands_run,
        notes=tuple(connection.notes),
    )  # fmt: skip


def fetch_host_facts(
    target: HostTarget,
    options: SshOptions,
    environ: Mapping[str, str] | None = None,
    plan: ProbePlan | None = None,
    *,
    connect: ConnectionFactory = open_connection,
    max_bytes: int = DEFAULT_MAX_FILE_BYTES,
) -> HostObservation:
    """Connect once, run the one command, close. Problems become a failed observation."""
    environ = environment(environ)
    started = time.monotonic()
    connection: Connection | None = None
    try:
        connection = connect(target, options)
        facts = gather(connection, target, environ, plan or ProbePlan((target.credential_path,)),
                       max_bytes=max_bytes)  # fmt: skip
    except (ProbeError, ParseError) as exc:
        return _failed(target, str(exc), type(exc).__name__, started)
    except Exception as exc:  # noqa: BLE001 - this host's problem (a binary known_hosts or key,
        # a library error): it fails alone, once, and no traceback prints the locals on the way.
        what = f"{type(exc).__name__}: {exc}".splitlines()[0][:300]
        return _failed(target, f"unexpected failure while observing the host: {what}",
                       "ProbeError", started)  # fmt: skip
    finally:
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection may fail too
                connection.close()
    return HostObservation(target, facts, seconds=time.monotonic() - started)


def _failed(target: HostTarget, why: str, kind: str, started: float) -> HostObservation:
    return HostObservation(target, None, failure=REDACTOR.scrub(why), failure_kind=kind,
                           seconds=time.monotonic() - started)  # fmt: skip
