"""Relay provider profiles: built-in data (``data/providers.toml``) that a config file overrides.

A profile says where a provider's relay is, which ports it serves with which TLS mode, and what it
needs in DNS (SPF include, DKIM selectors). Each port carries the confidence tag of the reference
it came from, so that a control built on an unconfirmed fact can warn instead of fail.
"""

from __future__ import annotations

import enum
import errno
import math
import os
import re
import stat
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from smtpcheck.errors import ConfigError, SmtpcheckError


class TlsMode(enum.StrEnum):
    IMPLICIT = "implicit"  # TLS from the first byte (465, 2465)
    STARTTLS = "starttls"  # plain greeting, then STARTTLS before AUTH
    NONE = "none"  # no TLS: only ever valid as an observed defect, never in a profile


class Confidence(enum.StrEnum):
    PROVIDER = "P"
    SECONDARY = "S"
    UNCONFIRMED = "U"
    DERIVED = "D"


@dataclass(frozen=True)
class PortProfile:
    port: int
    tls: TlsMode
    confidence: Confidence


@dataclass(frozen=True)
class Provider:
    """One relay provider (or a custom relay configured by the operator)."""

    key: str
    name: str
    endpoint: str
    ports: Mapping[int, PortProfile]
    code: int | None = None
    hosts: tuple[str, ...] = ()
    host_regex: str | None = None
    auth_mechanisms: tuple[str, ...] = ()
    spf_includes: tuple[str, ...] = ()
    dkim_selectors: tuple[str, ...] = ()
    dkim_record: str = "txt"
    mail_from_domain: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def tls_for(self, port: int) -> TlsMode:
        """The TLS mode this provider uses on ``port`` (its profile, else RFC 8314's rule)."""
        profile = self.ports.get(port)
        return profile.tls if profile is not None else default_tls(port)

    def preferred_port(self) -> PortProfile:
        """The port a client of this provider should use when nothing else says which.

        Implicit TLS first (RFC 8314 §3.3): 465, else another implicit-TLS port; else STARTTLS
        on the submission port 587 (RFC 6409), else another STARTTLS port, 25 last.
        """
        if not self.ports:
            raise ConfigError(f"providers.{self.key}: the provider declares no ports")
        return min(self.ports.values(), key=_preference)

    def serves_host(self, host: str) -> bool:
        """True when ``host`` is one of this provider's relay names."""
        name = host.strip().rstrip(".").lower()
        if name == self.endpoint.lower() or name in (h.lower() for h in self.hosts):
            return True
        return bool(self.host_regex and re.match(self.host_regex, name))

    def region(self, host: str) -> str | None:
        """The region named in a regional endpoint (SES), else None."""
        if not self.host_regex:
            return None
        match = re.match(self.host_regex, host.strip().rstrip(".").lower())
        return match.groupdict().get("region") if match else None


def _preference(profile: PortProfile) -> tuple[bool, bool, bool, int]:
    """Sort key of :meth:`Provider.preferred_port` (smallest first)."""
    port, implicit = profile.port, profile.tls is TlsMode.IMPLICIT
    return (not implicit, port != (465 if implicit else 587), port == 25, port)


_LIST_FIELDS = ("hosts", "auth_mechanisms", "spf_includes", "dkim_selectors")
_STR_FIELDS = ("name", "endpoint", "host_regex", "dkim_record", "mail_from_domain")
RELAY_KEYS = ("connect_address", "port_map", "ca_file", "timeout", "ehlo_name", "settings_port")
"""Read by the relay layer (:func:`smtpcheck.relay.endpoint.relay_overrides`)."""
DNS_KEYS = (
    "spf_confidence",
    "dkim_confidence",
    "return_path_confidence",
    "spf_scope",
    "return_path",
    "dkim_cname_suffix",
    "dkim_cname_target",
)
"""Read by the DNS layer (:class:`smtpcheck.mailauth.profile.DnsProfile`, ``dkim.py``)."""
PROVIDER_KEYS = frozenset({*_LIST_FIELDS, *_STR_FIELDS, "code", "ports", *RELAY_KEYS, *DNS_KEYS})
"""Every key a ``[providers.<key>]`` table may hold: any other is a ConfigError, since a
misspelt override (``connect_adress``) would otherwise send to the real provider."""


IMPLICIT_TLS_PORTS = frozenset({465, 2465})  # RFC 8314 §3.3 (465); SES's 2465 convention


def default_tls(port: int) -> TlsMode:
    """The TLS mode a port implies when no provider profile says: RFC 8314 implicit TLS on
    465 (and SES's 2465), STARTTLS elsewhere."""
    return TlsMode.IMPLICIT if port in IMPLICIT_TLS_PORTS else TlsMode.STARTTLS


MAX_DIGITS = 18  # no port, code or count a host or config gives needs more


def digits(text: str) -> int | None:
    """The value of ``text`` if it is ASCII decimal digits, at most MAX_DIGITS of them (a host
    may send 5,000 digits: Python's int() refuses those with ValueError), else None."""
    if text.isascii() and text.isdigit() and len(text) <= MAX_DIGITS:
        return int(text)
    return None


def parse_port(value: object, where: str, error: type[ConfigError] = ConfigError) -> int:
    """A TCP port number from config, inventory or URL text; ``error`` says whose input it is."""
    text = str(value).strip()
    port = digits(text)
    if port is None:
        raise error(f"{where}: port {text[:20]!r} is not a number")
    if not 0 < port < 65536:
        raise error(f"{where}: port {port} is out of range")
    return port


MAX_SECONDS = 86400.0  # no timeout an operator sets needs more than a day (inf does not fit)


def parse_seconds(value: object, where: str, error: type[ConfigError] = ConfigError) -> float:
    """A positive, finite number of seconds (at most MAX_SECONDS) from config or inventory: a
    TOML ``nan`` or ``inf`` is a float, and neither is a timeout."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown: object = type(value).__name__
    elif math.isfinite(value) and 0 < value <= MAX_SECONDS:
        return float(value)
    else:
        shown = value
    raise error(
        f"{where} must be a positive number of seconds (at most {MAX_SECONDS:g}), not {shown}"
    )


def expand_path(value: str, where: str, error: type[SmtpcheckError] = ConfigError) -> Path:
    """A path from config, inventory or an option, ``~`` and ``~user`` expanded: a user with no
    home directory is an ``error``, not pathlib's RuntimeError."""
    try:
        return Path(value).expanduser()
    except RuntimeError:
        raise error(f"{where}: {value[:80]!r}: no home directory to expand '~' to") from None


MAX_INPUT_BYTES = 1 << 20  # a config file, inventory or template: far more than any real one


def read_input_file(
    path: Path,
    what: str,
    *,
    limit: int = MAX_INPUT_BYTES,
    error: type[ConfigError] = ConfigError,
) -> str:
    """The UTF-8 text of an operator's input file (``what``: "config", "inventory"...), read
    with a size cap. Only a regular file is read: ``/dev/zero``, a FIFO or a directory is
    refused before reading (the file is opened non-blocking, so that a FIFO cannot hang)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOCTTY)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
        if not stat.S_ISREG(mode):
            raise error(f"cannot read {what} {path}: not a regular file ({_kind(mode)})")
        chunks, size = [], 0
        while size <= limit and (chunk := os.read(fd, limit + 1 - size)):
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limit:
        raise error(f"cannot read {what} {path}: larger than {_size(limit)}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None


def _kind(mode: int) -> str:
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISFIFO(mode):
        return "a pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a block device" if stat.S_ISBLK(mode) else "a special file"


def _size(size: int) -> str:
    return f"{size >> 20} MiB" if size % (1 << 20) == 0 else f"{size} bytes"


def parse_toml(text: str, where: str, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """TOML from an operator's file; invalid or too deeply nested TOML is one ``error`` line
    (tomllib recurses per nesting level: thousands of ``[`` raise RecursionError)."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where}: not valid TOML: {exc}") from None
    except RecursionError:
        raise error(f"{where}: not valid TOML: nested too deeply") from None


def _parse_ports(key: str, table: Any) -> dict[int, PortProfile]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"providers.{key}.ports must be a table of port = {{tls = ...}}")
    ports: dict[int, PortProfile] = {}
    for raw_port, spec in table.items():
        where = f"providers.{key}.ports.{raw_port}"
        port = parse_port(raw_port, where)
        if not isinstance(spec, Mapping):
            raise ConfigError(f'{where} must be a table like {{tls = "starttls"}}')
        unknown = set(spec) - {"tls", "confidence"}
        if unknown:  # a misspelt "confidence" would silently default to P
            raise ConfigError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))} (known: tls, confidence)"
            )
        try:
            tls = TlsMode(spec.get("tls", ""))
            confidence = Confidence(spec.get("confidence", "P"))
        except ValueError:
            raise ConfigError(
                f"{where}: tls must be implicit or starttls, confidence one of P S U D"
            ) from None
        if tls is TlsMode.NONE:
            raise ConfigError(f"{where}: a provider profile cannot declare a port without TLS")
        ports[port] = PortProfile(port, tls, confidence)
    return ports


def _build(key: str, table: Mapping[str, Any], base: Provider | None) -> Provider:
    unknown = set(table) - PROVIDER_KEYS
    if unknown:
        raise ConfigError(
            f"providers.{key}: unknown key(s) {', '.join(sorted(unknown))} "
            f"(known: {', '.join(sorted(PROVIDER_KEYS))})"
        )
    values: dict[str, Any] = {}
    extra = dict(base.extra) if base else {}
    for name, value in table.items():
        if name in _LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"providers.{key}.{name} must be a list of strings")
            values[name] = tuple(value)
        elif name in _STR_FIELDS:
            if not isinstance(value, str):
                raise ConfigError(f"providers.{key}.{name} must be a string")
            values[name] = value
        elif name == "code":
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"providers.{key}.code must be an integer")
            values[name] = value
        elif name == "ports":
            merged = dict(base.ports) if base else {}
            merged.update(_parse_ports(key, value))
            values[name] = MappingProxyType(merged)
        else:
            extra[name] = value  # RELAY_KEYS, DNS_KEYS: read (and validated) by their layers
    if values.get("host_regex"):
        try:
            re.compile(values["host_regex"])
        except re.error as exc:
            raise ConfigError(f"providers.{key}.host_regex: {exc}") from None
        except (OverflowError, RecursionError):  # a{4294967296}; ( nested thousands deep
            raise ConfigError(f"providers.{key}.host_regex: too large to compile") from None
    if base is not None:
        return replace(base, **values, extra=MappingProxyType(extra))
    missing = [name for name in ("name", "endpoint", "ports") if name not in values]
    if missing:
        raise ConfigError(f"providers.{key}: a new provider needs {', '.join(missing)}")
    if not values["ports"]:
        raise ConfigError(f"providers.{key}.ports: a new provider needs at least one port")
    return Provider(key=key, extra=MappingProxyType(extra), **values)


class ProviderCatalogue:
    """The providers known to a run, looked up by key, toolkit code, alias or relay host."""

    def __init__(self, providers: Mapping[str, Provider]) -> None:
        self._providers = dict(providers)
        by_code: dict[int, list[str]] = {}
        for provider in self._providers.values():
            if provider.code is not None:
                by_code.setdefault(provider.code, []).append(provider.key)
        for code, keys in sorted(by_code.items()):
            if len(keys) > 1:
                named = ", ".join(sorted(keys))
                raise ConfigError(f"two providers declare the same toolkit code {code} ({named})")

    @classmethod
    def builtin(cls) -> ProviderCatalogue:
        text = resources.files("smtpcheck").joinpath("data/providers.toml").read_text()
        data = tomllib.loads(text)
        return cls({key: _build(key, table, None) for key, table in data.items()})

    def with_overrides(self, overrides: Mapping[str, Any]) -> ProviderCatalogue:
        """A catalogue with a config file's ``[providers.*]`` tables applied."""
        providers = dict(self._providers)
        for key, table in overrides.items():
            if not isinstance(table, Mapping):
                raise ConfigError(f"providers.{key} must be a table")
            providers[key] = _build(key, table, providers.get(key))
        return ProviderCatalogue(providers)

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def get(self, key: str) -> Provider | None:
        return self._providers.get(key)

    def by_code(self, code: int) -> Provider | None:
        return next((p for p in self._providers.values() if p.code == code), None)

    def for_host(self, host: str) -> Provider | None:
        return next((p for p in self._providers.values() if p.serves_host(host)), None)

    def resolve(self, value: str) -> Provider | None:
        """A provider from a toolkit value: its code (``"2"``) or its key (``"mailjet"``)."""
        text = value.strip().lower()
        if (code := digits(text)) is not None:
            return self.by_code(code)
        return self._providers.get(text)

    def describe_choices(self) -> str:
        coded = sorted(
            (p for p in self._providers.values() if p.code is not None),
            key=lambda p: p.code or 0,
        )
        return ", ".join(f"{p.code} or {p.key}" for p in coded)
