"""Which web servers to audit: testinfra-style host URLs and the TOML inventory (SPEC §1).

URLs are parsed with testinfra's own hostspec parser, so ``paramiko://user@host:port?sudo=true``
means here what it means to testinfra. A password in a URL is accepted (testinfra allows it) but
held as a secret and never shown: target names are the URL without it.
"""

from __future__ import annotations

import enum
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from testinfra.backend import parse_hostspec
from testinfra.backend.base import BaseBackend

from smtpcheck.errors import InventoryError
from smtpcheck.providers import (
    expand_path,
    parse_port,
    parse_seconds,
    parse_toml,
    read_input_file,
)
from smtpcheck.secrets import REDACTOR, Secret


class App(enum.StrEnum):
    WORDPRESS = "wordpress"
    MOODLE = "moodle"
    DRUPAL = "drupal"
    JOOMLA = "joomla"


CREDENTIAL_PATHS: Mapping[App, str] = {
    App.WORDPRESS: "/var/www/wordpresssmtp",
    App.MOODLE: "/var/www/moodlesmtp",
    App.DRUPAL: "/var/www/drupalsmtp",
    App.JOOMLA: "/var/www/html/configuration.php",
}
"""Documented paths (ADT doco/AgileToolkitDeployment/DeployingSMTPService.md)."""

BACKENDS = ("paramiko", "ssh", "local")


@dataclass(frozen=True)
class HostTarget:
    """One web server to audit and how to reach it."""

    name: str
    backend: str
    app: App
    host: str | None = None
    port: int | None = None
    user: str | None = None
    password: Secret | None = field(default=None, repr=False)
    identity_file: Path | None = None
    ssh_config: Path | None = None
    sudo: bool = False
    sudo_user: str | None = None
    sudo_password_env: str | None = None
    timeout: float = 10.0
    run_php: bool = True
    server_user: str | None = None  # the toolkit's X…X user, when its home cannot be found

    @property
    def credential_path(self) -> str:
        return CREDENTIAL_PATHS[self.app]

    @property
    def url(self) -> str:
        """The target as a URL, without any password."""
        if self.backend == "local":
            return "local://"
        user = f"{self.user}@" if self.user else ""
        host = f"[{self.host}]" if self.host and ":" in self.host else (self.host or "")
        port = f":{self.port}" if self.port else ""
        return f"{self.backend}://{user}{host}{port}"


def _app(value: object, where: str) -> App:
    try:
        return App(str(value).strip().lower())
    except ValueError:
        choices = ", ".join(app.value for app in App)
        raise InventoryError(f"{where}: app {value!r} is not one of {choices}") from None


def _timeout(value: object, where: str) -> float:
    try:
        seconds = float(str(value))
    except ValueError:
        raise InventoryError(f"{where}: timeout {str(value)[:20]!r} is not a number") from None
    return parse_seconds(seconds, f"{where}: timeout", InventoryError)  # not nan, not inf


# testinfra splits ``user:password@`` at the first "@" of the URL's authority.
_URL_PASSWORD = re.compile(r"^((?:[A-Za-z][\w+.-]*://)?[^:@/?#]*):[^@/?#]*@")


def _shown(url: str) -> str:
    """The URL as an error message may show it: without a password (the plugin's usage errors
    are not passed through the redactor)."""
    return _URL_PASSWORD.sub(r"\1@", url, count=1)


def _check_userinfo(text: str, where: str) -> None:
    """A raw '@', '/', '?' or '#' in a URL password splits it in the wrong place, so part of
    it would become the host, the port or the query (and be shown): refuse such URLs without
    showing them. An '@' in the query is fine (``?ssh_identity_file=/keys/a@b``) unless a
    password precedes the query (``user:…`` that is not ``host:port``): a '?' or '#' cut it."""
    rest = text.split("://", 1)[-1]
    cut = re.search(r"[?#]", rest)
    head, tail = (rest[: cut.start()], rest[cut.start() :]) if cut else (rest, "")
    authority, slash, path = head.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    hostport = hostport.rpartition("]")[2] if hostport.startswith("[") else hostport
    _, colon, port = hostport.partition(":")
    is_port = port.isascii() and port.isdigit() and len(port) <= 5 and 0 < int(port) < 65536
    # user:pass cut by a '?' or '#': an '@' follows in the query, after user: or after user:pa@
    cut_password = "@" in tail and (":" in userinfo if at else bool(colon) and not is_port)
    if authority.count("@") > 1 or (slash and "@" in path) or cut_password:
        raise InventoryError(
            f"{where}: a password in a host URL must percent-encode '@', '/', '?' and '#' "
            "(%40, %2F, %3F, %23); an identity file is better"
        )


def parse_host_url(url: str, app: App | str | None, *, where: str = "--hosts") -> HostTarget:
    """A HostTarget from a testinfra-style URL (``paramiko://``, ``ssh://``, ``local://``)."""
    text = url.strip()
    if not text:
        raise InventoryError(f"{where}: empty host")
    if app is None:
        raise InventoryError(
            f"{where}: {_shown(text)!r} has no application: give --app or an inventory"
        )
    if "://" not in text:
        text = f"paramiko://{text}"
    _check_userinfo(text, where)
    try:
        host, options = parse_hostspec(text)
        spec = BaseBackend.parse_hostspec(host)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        raise InventoryError(f"{where}: {_shown(url.strip())!r} is not a host URL") from None
    backend = options.pop("connection")
    if backend not in BACKENDS:
        raise InventoryError(
            f"{where}: backend {backend!r} is not supported (use {', '.join(BACKENDS)})"
        )
    target = HostTarget(name="", backend=backend, app=_app(app, where))
    if backend != "local":
        if not spec.name:
            raise InventoryError(f"{where}: {_shown(url.strip())!r} names no host")
        password = Secret(spec.password) if spec.password else None
        if password is not None:
            REDACTOR.register(password)
        target = replace(
            target,
            host=spec.name,
            port=parse_port(spec.port, where, InventoryError) if spec.port else None,
            user=spec.user,
            password=password,
        )
    if options.get("ssh_identity_file"):
        target = replace(target, identity_file=Path(options["ssh_identity_file"]))
    if options.get("ssh_config"):
        target = replace(target, ssh_config=Path(options["ssh_config"]))
    if options.get("timeout"):
        target = replace(target, timeout=_timeout(options["timeout"], where))
    target = replace(
        target, sudo=bool(options.get("sudo")), sudo_user=options.get("sudo_user") or None
    )
    return replace(target, name=target.url)


def parse_hosts_option(value: str, app: str | None) -> list[HostTarget]:
    """``--hosts`` takes a comma-separated list of URLs (as testinfra's option does)."""
    return [parse_host_url(url, app) for url in value.split(",") if url.strip()]


_HOST_KEYS: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "url": str,
    "address": str,
    "port": int,
    "user": str,
    "app": str,
    "identity_file": str,
    "ssh_config": str,
    "sudo": bool,
    "sudo_user": str,
    "sudo_password_env": str,
    "timeout": (int, float),
    "run_php": bool,
    "server_user": str,
}
_SERVER_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}")


def _check_table(table: Mapping[str, Any], where: str) -> None:
    for key, value in table.items():
        expected = _HOST_KEYS.get(key)
        if expected is None:
            known = ", ".join(sorted(_HOST_KEYS))
            raise InventoryError(f"{where}: unknown key {key!r} (known: {known})")
        kinds = expected if isinstance(expected, tuple) else (expected,)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            raise InventoryError(f"{where}: {key} has the wrong type ({type(value).__name__})")


def _inventory_host(
    entry: Mapping[str, Any], defaults: Mapping[str, Any], where: str
) -> HostTarget:
    merged = {**defaults, **entry}
    _check_table(entry, where)
    if ("url" in entry) == ("address" in entry):
        raise InventoryError(f"{where}: give exactly one of url or address")
    url = entry["url"] if "url" in entry else f"paramiko://{entry['address']}"
    target = parse_host_url(url, merged.get("app"), where=where)
    updates: dict[str, Any] = {}
    if "port" in merged and target.port is None:
        updates["port"] = parse_port(merged["port"], where, InventoryError)
    if "user" in merged and target.user is None:
        updates["user"] = merged["user"]
    for key in ("identity_file", "ssh_config"):
        if key in merged and getattr(target, key) is None:
            updates[key] = expand_path(merged[key], f"{where}: {key}", InventoryError)
    for key in ("sudo", "sudo_user", "sudo_password_env", "run_php"):
        if key in merged:
            updates[key] = merged[key]
    if "timeout" in merged:
        updates["timeout"] = _timeout(merged["timeout"], where)
    if "server_user" in merged:
        if not _SERVER_USER.fullmatch(merged["server_user"]):
            raise InventoryError(f"{where}: server_user is not a user name")
        updates["server_user"] = merged["server_user"]
    target = replace(target, **updates)
    return replace(target, name=entry.get("name") or target.url)


def parse_inventory(text: str, source: str) -> list[HostTarget]:
    """Hosts from an inventory file: an optional ``[defaults]`` table and ``[[hosts]]`` entries."""
    data = parse_toml(text, source, InventoryError)
    unknown = set(data) - {"defaults", "hosts"}
    if unknown:
        raise InventoryError(f"{source}: unknown table(s) {', '.join(sorted(unknown))}")
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise InventoryError(f"{source}: defaults must be a table")
    _check_table(defaults, f"{source}: defaults")
    for key in ("name", "url", "address"):
        if key in defaults:
            raise InventoryError(f"{source}: defaults: {key} belongs in a [[hosts]] entry")
    hosts = data.get("hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, dict) for h in hosts):
        raise InventoryError(f"{source}: hosts must be an array of tables ([[hosts]])")
    targets = [
        _inventory_host(entry, defaults, f"{source}: hosts[{index}]")
        for index, entry in enumerate(hosts)
    ]
    if not targets:
        raise InventoryError(f"{source}: no [[hosts]] entries")
    counts = Counter(target.name for target in targets)  # not list.count: N^2 for N hosts
    duplicates = sorted(name for name, count in counts.items() if count > 1)
    if duplicates:
        raise InventoryError(f"{source}: duplicate host name(s) {', '.join(duplicates)}")
    return targets


def read_inventory(path: Path) -> list[HostTarget]:
    """The hosts of an inventory file (a regular file of at most 1 MiB)."""
    return parse_inventory(read_input_file(path, "inventory", error=InventoryError), str(path))


def apply_common(
    targets: Sequence[HostTarget],
    *,
    identity_file: Path | None = None,
    ssh_config: Path | None = None,
    sudo: bool = False,
    sudo_password_env: str | None = None,
) -> list[HostTarget]:
    """Command-line SSH options fill what a URL or inventory entry left unset."""
    result = []
    for target in targets:
        result.append(
            replace(
                target,
                identity_file=target.identity_file or identity_file,
                ssh_config=target.ssh_config or ssh_config,
                sudo=target.sudo or sudo,
                sudo_password_env=target.sudo_password_env or sudo_password_env,
            )
        )
    return result
