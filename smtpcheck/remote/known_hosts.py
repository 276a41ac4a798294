"""known_hosts read once per run: one shared, thread-safe store, O(1) lookup per host (issue 10).

paramiko's ``HostKeys.load`` compares every line with all the earlier ones, and each connection
used to load the files again: N·K² of CPU under the interpreter lock for N hosts and K lines.
Here each set of files (the ``--known-hosts`` file, or ``~/.ssh/known_hosts`` with
``/etc/ssh/ssh_known_hosts`` before it) is parsed once, and parsed again only when one of them
changes on disk (:class:`FileCache`: the test suite runs many audits in one process). Each
connection is then given only its host's keys (paramiko's own comparison and key-type ordering
still apply; see ``paramiko_transport``).

What paramiko's loader does with each line, and what this one does:

- blank lines, ``#`` comments, lines with fewer than three fields, key types paramiko does not
  know and keys it rejects with ``SSHException``: skipped by both;
- a line paramiko's loader raises on (bad base64, key data of the wrong length, a malformed
  ``|1|`` hashed name, text that is not UTF-8): paramiko fails every connection with an
  "unexpected failure"; here the file is refused the same way, for every host, with its name
  and the line number;
- ``@revoked`` and ``@cert-authority`` lines: paramiko cannot read them at all (it takes the
  marker for the host field and fails on the key type as base64), so any file holding one made
  every connection fail. Here a ``@revoked`` key is refused for every host, even with
  ``accept_new_host_keys`` and even if another line lists it as valid (stricter than OpenSSH,
  which revokes it only for the names on its line); a ``@revoked`` line that cannot be read
  refuses the whole file (skipping it could let the revoked key in). ``@cert-authority`` lines
  are ignored: paramiko verifies no host certificates, so they can vouch for no key, and a host
  known only through a CA is an unknown host. Other ``@`` markers are skipped, as OpenSSH does.
- host names are compared exactly, as paramiko does: no ``*``/``?`` patterns, no ``!``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import stat
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import paramiko
from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

from smtpcheck.errors import HostKeyUnknown, ProbeError
from smtpcheck.remote import SYSTEM_KNOWN_HOSTS, SshOptions, default_known_hosts

T = TypeVar("T")

# What paramiko's HostKeyEntry.from_line raises for a line it cannot read (found by fuzzing it:
# InvalidHostKey, UnicodeDecodeError and PyNaCl's ValueError, OverflowError; the rest for safety).
_UNREADABLE_LINE = (InvalidHostKey, ValueError, ArithmeticError, IndexError, TypeError,
                    struct.error)  # fmt: skip
_FIELD_SEPARATOR = re.compile(" |\t")  # paramiko's: one space or tab


def host_key_name(hostname: str, port: int) -> str:
    """The name a host's key is filed under: ``host`` on port 22, else ``[host]:port``
    (paramiko's and OpenSSH's rule)."""
    return hostname if port == 22 else f"[{hostname}]:{port}"


def known_hosts_files(options: SshOptions) -> tuple[Path, ...]:
    """The files whose keys a run trusts, in the order paramiko consults them: the system file
    first (only when no ``--known-hosts`` file is given), then the user's."""
    if options.known_hosts is not None:
        return (options.known_hosts,)
    user = default_known_hosts()
    return (SYSTEM_KNOWN_HOSTS,) if user is None else (SYSTEM_KNOWN_HOSTS, user)


def save_file(options: SshOptions) -> Path:
    """Where ``accept_new_host_keys`` appends a new key: ProbeError when there is nowhere."""
    path = options.known_hosts or default_known_hosts()
    if path is None:
        raise ProbeError(
            "cannot save a new host key: no home directory for ~/.ssh/known_hosts "
            "(give --known-hosts FILE)"
        )
    return path


@dataclass(frozen=True)
class _HashedName:
    """A ``|1|salt|hmac`` name: HMAC-SHA1 of the host name, keyed by the salt."""

    salt: bytes
    digest: bytes
    key: paramiko.PKey

    def matches(self, name: str) -> bool:
        mac = hmac.new(self.salt, name.encode(), hashlib.sha1).digest()  # OpenSSH's |1| format
        return hmac.compare_digest(mac, self.digest)


@dataclass
class KnownHostsFile:
    """One parsed known_hosts file. Plain names are indexed; a hashed (``|1|``) name cannot be
    indexed by the name it hides, so hashed names stay in a list that is checked, one HMAC per
    entry, only when no plain name of the file matches."""

    path: Path
    plain: dict[str, list[paramiko.PKey]] = field(default_factory=dict)
    hashed: list[_HashedName] = field(default_factory=list)
    revoked: set[bytes] = field(default_factory=set)  # public key blobs

    def keys_for(self, name: str, revoked: frozenset[bytes] = frozenset()) -> list[paramiko.PKey]:
        # A name that has usable plain lines in this file is not looked for among its hashed
        # lines (paramiko looks at both, in file order): for a host filed both ways with
        # different keys of one type, the plain line decides here, the earlier line in paramiko.
        plain = [key for key in self.plain.get(name, ()) if key.asbytes() not in revoked]
        if plain:
            return plain
        hashed = (entry.key for entry in self.hashed if entry.matches(name))
        return [key for key in hashed if key.asbytes() not in revoked]

    def lists(self, name: str) -> bool:
        """Whether any line of this file names ``name``, revoked keys included."""
        return bool(self.plain.get(name)) or any(entry.matches(name) for entry in self.hashed)


def _hashed_name(text: str, key: paramiko.PKey) -> _HashedName:
    parts = text.split("|")  # "", "1", salt, hmac
    if len(parts) != 4:
        raise ValueError(f"hashed host name {text[:40]!r} is not |1|salt|hmac")
    salt, digest = base64.b64decode(parts[2]), base64.b64decode(parts[3])
    if len(salt) != 20:  # SHA-1's size; paramiko asserts it when it looks up
        raise ValueError("hashed host name: the salt is not 20 bytes")
    return _HashedName(salt, digest, key)


def _entry(line: str, lineno: int) -> HostKeyEntry | None:
    """paramiko's reading of one line: None for a line its loader skips."""
    try:
        return HostKeyEntry.from_line(line, lineno)
    except paramiko.SSHException:
        return None


def parse_known_hosts(text: str, path: Path) -> KnownHostsFile:
    """Parse the text of one known_hosts file. Pure; raises ValueError (with the line number)
    for a line paramiko's own loader would fail on (see the module's docstring)."""
    parsed = KnownHostsFile(path)
    for lineno, raw in enumerate(io.StringIO(text, newline=None), 1):  # paramiko's newlines
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        marker = None
        if line.startswith("@"):
            marker, *rest = _FIELD_SEPARATOR.split(line, maxsplit=1)
            line = rest[0].strip() if rest else ""
        try:
            if marker == "@revoked":
                entry = _entry(line, lineno)
                if entry is None:
                    raise ValueError("a @revoked line whose key cannot be read")
                parsed.revoked.add(entry.key.asbytes())
                continue
            if marker is not None:  # @cert-authority (no host certificates here), unknown
                continue
            entry = _entry(line, lineno)
            if entry is None:
                continue
            for name in entry.hostnames:
                if name.startswith("|1|"):
                    parsed.hashed.append(_hashed_name(name, entry.key))
                else:
                    parsed.plain.setdefault(name, []).append(entry.key)
        except _UNREADABLE_LINE as exc:
            why = exc.exc if isinstance(exc, InvalidHostKey) else exc
            raise ValueError(f"line {lineno}: {str(why)[:120] or type(why).__name__}") from None
    return parsed


def _first_of_each_type(keys: Sequence[paramiko.PKey]) -> tuple[paramiko.PKey, ...]:
    first: dict[str, paramiko.PKey] = {}
    for key in keys:
        first.setdefault(key.get_name(), key)
    return tuple(first.values())


class KnownHosts:
    """The host keys of one run, shared by every connection of the run. Thread-safe: keys
    saved on first use are added while other connections look theirs up."""

    def __init__(self, files: Sequence[KnownHostsFile]) -> None:
        self._files = tuple(files) or (KnownHostsFile(Path()),)
        self._revoked = frozenset(blob for file in self._files for blob in file.revoked)
        self._lock = threading.Lock()

    def keys_for(self, name: str) -> tuple[paramiko.PKey, ...]:
        """The keys ``name`` (see :func:`host_key_name`) may present, read as paramiko's client
        reads its key tables: the first file that has the host decides (the system file before
        the user's), and in it the first line of each key type. Revoked keys are left out."""
        with self._lock:
            for file in self._files:
                keys = file.keys_for(name, self._revoked)
                if keys:
                    return _first_of_each_type(keys)
        return ()

    def is_revoked(self, key: paramiko.PKey) -> bool:
        return key.asbytes() in self._revoked

    def lists(self, name: str) -> bool:
        """Whether ``name`` is known at all, if only by revoked keys: such a host is not new,
        and whatever key it shows is a changed one (OpenSSH: HOST_CHANGED), never trusted on
        first use."""
        with self._lock:
            return any(file.lists(name) for file in self._files)

    def learn(self, name: str, key: paramiko.PKey) -> None:
        """Know ``key`` for ``name`` from now on (it was just saved to the user's file)."""
        with self._lock:
            self._files[-1].plain.setdefault(name, []).append(key)


def load_known_hosts(files: Sequence[tuple[Path, bytes | None]]) -> KnownHosts:
    """One store from a run's known_hosts files and their bytes (None: no such file), in the
    order of :func:`known_hosts_files`. A file paramiko could not have read raises ProbeError."""
    parsed = []
    for path, data in files:
        try:
            text = "" if data is None else data.decode("utf-8")
            parsed.append(parse_known_hosts(text, path))
        except UnicodeDecodeError as exc:
            line = (data or b"")[: exc.start].count(b"\n") + 1
            raise ProbeError(f"cannot use known_hosts {path}: line {line} is not text") from None
        except ValueError as exc:
            raise ProbeError(f"cannot use known_hosts {path}: {exc}") from None
    return KnownHosts(parsed)


_RACY_NS = 2_000_000_000  # file timestamps can be this coarse (FAT: 2 s; ext4: a clock tick)
_CACHED_RUNS = 16  # distinct sets of paths kept (the test suite uses a new file per test)


@dataclass(frozen=True)
class _Stamp:
    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def _stamp(path: Path) -> _Stamp | None:
    """None for a path that is not a regular file (then it is read as empty, as before)."""
    try:
        info = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(info.st_mode):
        return None
    return _Stamp(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


@dataclass
class _Cached(Generic[T]):
    stamps: tuple[_Stamp | None, ...]
    contents: tuple[bytes | None, ...]
    value: T | None
    error: str | None
    racy: bool  # changed so recently that an equal stamp does not prove equal content


class FileCache(Generic[T]):
    """Files parsed once per process until they change on disk. Thread-safe and single-flight:
    concurrent first users wait for one parse, and a parse error is kept like a result.

    A change is seen in the file's stamp (device, inode, size, mtime, ctime). Timestamps are
    coarse (a clock tick or more), so a file rewritten in place with the same size within one
    tick keeps its stamp: for files changed less than ``_RACY_NS`` before they were read, the
    content itself is compared too (as git does for "racily clean" files) until they age."""

    def __init__(
        self, what: str, parse: Callable[[Sequence[tuple[Path, bytes | None]]], T]
    ) -> None:
        self.what = what
        self._parse = parse
        self._entries: dict[tuple[Path, ...], _Cached[T]] = {}
        self._lock = threading.RLock()

    def get(self, paths: tuple[Path, ...]) -> T:
        with self._lock:
            stamps = self._stamps(paths)
            entry = self._entries.get(paths)
            if entry is None or entry.stamps != stamps or not self._still_same(paths, entry):
                entry = self._load(paths, stamps)
                self._entries.pop(paths, None)
                self._entries[paths] = entry
                while len(self._entries) > _CACHED_RUNS:
                    del self._entries[next(iter(self._entries))]
            if entry.error is not None:
                raise ProbeError(entry.error)
            assert entry.value is not None
            return entry.value

    def append(self, paths: tuple[Path, ...], path: Path, line: str) -> None:
        """Append ``line`` to ``path`` (one of ``paths``), creating it (and its directory,
        0700) if need be. When nothing else changed the file since it was parsed, the cached
        value stays current: the caller adds what the line says to it."""
        with self._lock:
            before = _stamp(path)
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with path.open("a", encoding="ascii") as handle:
                handle.write(line)
            entry, index = self._entries.get(paths), paths.index(path)
            if entry is None or entry.stamps[index] != before:
                return  # changed by someone else too: the next get() parses it again
            after, data = _stamp(path), line.encode("ascii")
            if after is None or after.size != (before.size if before else 0) + len(data):
                return
            entry.stamps = (*entry.stamps[:index], after, *entry.stamps[index + 1 :])
            old = entry.contents[index] or b""
            entry.contents = (*entry.contents[:index], old + data, *entry.contents[index + 1 :])
            entry.racy = True

    def _stamps(self, paths: tuple[Path, ...]) -> tuple[_Stamp | None, ...]:
        try:
            return tuple(_stamp(path) for path in paths)
        except OSError as exc:
            raise ProbeError(f"cannot read {self.what} {exc.filename}: {exc.strerror}") from None

    def _still_same(self, paths: tuple[Path, ...], entry: _Cached[T]) -> bool:
        if not entry.racy:
            return True
        now = time.time_ns()
        for path, stamp, content in zip(paths, entry.stamps, entry.contents, strict=True):
            if stamp is None:
                continue
            try:
                if path.read_bytes() != content:
                    return False
            except OSError:
                return False
        entry.racy = _is_racy(entry.stamps, now)
        return True

    def _load(self, paths: tuple[Path, ...], stamps: tuple[_Stamp | None, ...]) -> _Cached[T]:
        now = time.time_ns()
        contents: list[bytes | None] = []
        for path, stamp in zip(paths, stamps, strict=True):
            try:
                contents.append(None if stamp is None else path.read_bytes())
            except OSError as exc:
                why = f"cannot read {self.what} {path}: {exc.strerror or exc}"
                return _Cached(stamps, (), None, why, racy=False)
        cached: _Cached[T] = _Cached(stamps, tuple(contents), None, None, _is_racy(stamps, now))
        try:
            cached.value = self._parse(list(zip(paths, contents, strict=True)))
        except ProbeError as exc:
            cached.error = str(exc)
        return cached


def _is_racy(stamps: Sequence[_Stamp | None], now: int) -> bool:
    return any(s is not None and now - max(s.mtime_ns, s.ctime_ns) < _RACY_NS for s in stamps)


_KNOWN_HOSTS: FileCache[KnownHosts] = FileCache(
    "known_hosts",
    lambda files: load_known_hosts(files),  # looked up per load: patchable
)
_SAVE_LOCK = threading.Lock()
_NOT_A_HOST_NAME = re.compile(r"[\s,#\x00-\x1f\x7f]")


def known_hosts_for(options: SshOptions) -> KnownHosts:
    """The store of the run's known_hosts files: parsed on first use, and again only after one
    of them changed on disk. Raises ProbeError when a file cannot be used."""
    return _KNOWN_HOSTS.get(known_hosts_files(options))


def save_new_host_key(
    options: SshOptions, name: str, key: paramiko.PKey
) -> tuple[paramiko.PKey, ...]:
    """Trust on first use: append ``name``'s key to the user's known_hosts (one line, as
    OpenSSH's ``accept-new`` does) and to the store, so that another host of the run with the
    same name and port finds it instead of appending it again. Returns the keys already known
    for ``name`` when another connection saved one first (nothing is written then)."""
    if _NOT_A_HOST_NAME.search(name):  # a space, comma or newline would write another line
        raise HostKeyUnknown(
            f"host name {name[:80]!r} cannot be saved to known_hosts: add its key by hand"
        )
    with _SAVE_LOCK:
        store = known_hosts_for(options)
        known = store.keys_for(name)
        if known:
            return known
        line = f"{name} {key.get_name()} {key.get_base64()}\n"
        _KNOWN_HOSTS.append(known_hosts_files(options), save_file(options), line)
        store.learn(name, key)
    return ()
