"""One audit's configuration, from options, the config file, the environment and the inventory.

The CLI and the pytest plugin both build an :class:`AuditOptions` from their own option parsers
and call :func:`load_audit_config`, so both paths validate the same way and fail with the same
one-line :class:`~smtpcheck.errors.ConfigError`.

Config file (TOML)::

    [expected]          # SYSTEM_EMAIL_* (prefer the environment for the password)
    [audit]             # layers, domains, nameservers, report_dir, jobs, no_send, web_users,
                        # require_credential_file
    [ssh]               # known_hosts, accept_new_host_keys, command_timeout, max_file_bytes
    [dns]               # timeout, retries, zone_file (pre-flight from a BIND zone file)
    [providers.<key>]   # override or add relay provider profiles
    [relay] [mailbox]   # layer settings, validated by their layers
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smtpcheck.catalogue import Layer
from smtpcheck.credentials.evaluate import WEB_USERS
from smtpcheck.errors import ConfigError, InventoryError
from smtpcheck.mailauth.profile import DnsProfile
from smtpcheck.mailauth.resolver import parse_nameserver
from smtpcheck.providers import ProviderCatalogue
from smtpcheck.relay.endpoint import relay_overrides
from smtpcheck.remote import SshOptions
from smtpcheck.remote.facts import DEFAULT_MAX_FILE_BYTES
from smtpcheck.settings import (
    ACCEPTED_NAMES,
    Expected,
    Setting,
    merge_settings,
    read_adt_template,
    settings_from_mapping,
    validate_settings,
)
from smtpcheck.targets import HostTarget, apply_common, parse_hosts_option, read_inventory

_TABLES = {
    "expected": set(ACCEPTED_NAMES),
    "audit": {
        "layers",
        "domains",
        "nameservers",
        "report_dir",
        "jobs",
        "no_send",
        "web_users",
        "require_credential_file",
    },
    "ssh": {"known_hosts", "accept_new_host_keys", "command_timeout", "max_file_bytes"},
    "providers": None,
    "dns": {"timeout", "retries", "zone_file"},
    "relay": None,
    "mailbox": None,
}
DEFAULT_JOBS = 8
ALL_LAYERS = "host,dns,relay"


@dataclass(frozen=True)
class AuditOptions:
    """Raw option values (command line or pytest options); None means "not given"."""

    hosts: str | None = None
    app: str | None = None
    inventory: Path | None = None
    adt_template: Path | None = None
    config: Path | None = None
    nameservers: Sequence[str] = ()
    domains: Sequence[str] = ()
    layers: str | None = None
    no_send: bool = False
    report_dir: Path | None = None
    jobs: int | None = None
    known_hosts: Path | None = None
    accept_new_host_keys: bool = False
    ssh_identity_file: Path | None = None
    ssh_config: Path | None = None
    sudo: bool = False
    sudo_password_env: str | None = None
    zone_file: Path | None = None
    dns_timeout: float | None = None
    expected: Mapping[str, str] = field(default_factory=dict)  # --provider, --from, ...


@dataclass(frozen=True)
class AuditConfig:
    expected: Expected
    targets: tuple[HostTarget, ...]
    layers: frozenset[Layer]
    domains: tuple[str, ...]
    nameservers: tuple[str, ...]
    dns_timeout: float
    dns_retries: int
    zone_file: Path | None
    report_dir: Path
    jobs: int
    no_send: bool
    ssh: SshOptions
    max_file_bytes: int
    web_users: frozenset[str]
    providers: ProviderCatalogue
    require_credential_file: bool = False  # no gen C/D skip of CRED-01…05
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # relay, mailbox


def require_work(config: AuditConfig) -> None:
    """An audit that would check nothing is a usage error, not a green run: a CI job whose
    settings went missing must not pass."""
    expected = config.expected
    hosts = bool(config.targets)
    domains = Layer.DNS in config.layers and bool(config.domains or expected.from_domain)
    relay = Layer.RELAY in config.layers and bool(
        expected.provider and expected.username and expected.password is not None
    )
    if not (hosts or domains or relay):
        raise ConfigError(
            "nothing to audit: give hosts (--hosts with --app, or --inventory), a sending domain "
            "(SYSTEM_FROMEMAIL_ADDRESS or --domain), or complete SYSTEM_EMAIL_* settings"
        )


def read_config_file(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    for table, value in data.items():
        if table not in _TABLES:
            raise ConfigError(f"{path}: unknown table [{table}] (known: {', '.join(_TABLES)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {table} must be a table")
        allowed = _TABLES[table]
        unknown = set(value) - allowed if allowed is not None else set()
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) in [{table}]: {', '.join(sorted(unknown))}")
    return data


def parse_layers(text: str | Sequence[str]) -> frozenset[Layer]:
    names = text.split(",") if isinstance(text, str) else list(text)
    layers = set()
    for name in (n.strip().lower() for n in names):
        if not name:
            continue
        try:
            layers.add(Layer(name))
        except ValueError:
            choices = ",".join(layer.value for layer in Layer)
            raise ConfigError(f"--layers: {name!r} is not a layer (use {choices})") from None
    if not layers:
        raise ConfigError("--layers: give at least one of host, dns, relay")
    return frozenset(layers)


def _typed(section: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    """The value of ``key`` if it has type ``kind`` (TOML booleans are not numbers), else error."""
    value = section.get(key)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if value is None:
        return None
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ConfigError(f"{where}: {key} has the wrong type ({type(value).__name__})")
    return value


def _given(*values: Any) -> Any:
    """The first value that was given (not None): an explicit 0 or [] is a value, not absence."""
    return next((value for value in values if value is not None), None)


def _string_list(section: Mapping[str, Any], key: str, where: str) -> list[str]:
    value = section.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {key} must be a list of strings")
    return value


def _targets(options: AuditOptions) -> list[HostTarget]:
    targets: list[HostTarget] = []
    if options.inventory is not None:
        targets += read_inventory(options.inventory)
    if options.hosts:
        targets += parse_hosts_option(options.hosts, options.app)
    elif options.app and options.inventory is None:
        raise InventoryError("--app needs --hosts (or use an inventory)")
    names = [t.name for t in targets]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise InventoryError(f"host(s) given twice: {', '.join(twice)}")
    return apply_common(
        targets,
        identity_file=options.ssh_identity_file,
        ssh_config=options.ssh_config,
        sudo=options.sudo,
        sudo_password_env=options.sudo_password_env,
    )


def _expected(
    options: AuditOptions,
    data: Mapping[str, Any],
    environ: Mapping[str, str],
    catalogue: ProviderCatalogue,
) -> Expected:
    layers: list[Mapping[str, Setting]] = []
    if options.adt_template is not None:
        layers.append(read_adt_template(options.adt_template))
    if "expected" in data:
        layers.append(settings_from_mapping(data["expected"], f"config {options.config}"))
    layers.append(settings_from_mapping(environ, "environment"))
    layers.append(settings_from_mapping(options.expected, "command line"))
    return validate_settings(merge_settings(*layers), catalogue)


@dataclass(frozen=True)
class _DnsSettings:
    nameservers: tuple[str, ...]
    timeout: float
    retries: int
    zone_file: Path | None


def _dns_settings(options: AuditOptions, data: Mapping[str, Any], where: str) -> _DnsSettings:
    audit, dns = data.get("audit", {}), data.get("dns", {})
    nameservers = tuple(options.nameservers or _string_list(audit, "nameservers", where))
    for text in nameservers:
        parse_nameserver(text)  # a bad ADDR[:PORT] is a usage error now, not a DNS failure later
    timeout = _given(options.dns_timeout, _typed(dns, "timeout", (int, float), where), 2.0)
    retries = _given(_typed(dns, "retries", int, where), 1)
    if not timeout > 0 or retries < 0:
        raise ConfigError("the DNS timeout must be positive and retries not negative")
    zone_file = options.zone_file or _typed(dns, "zone_file", str, where)
    return _DnsSettings(
        nameservers, float(timeout), retries, Path(zone_file).expanduser() if zone_file else None
    )


def load_audit_config(
    options: AuditOptions, environ: Mapping[str, str] | None = None
) -> AuditConfig:
    """Validate everything up front: any problem is one ConfigError, before any host is touched."""
    environ = os.environ if environ is None else environ
    data = read_config_file(options.config) if options.config is not None else {}
    audit, ssh = data.get("audit", {}), data.get("ssh", {})
    where = f"config {options.config}"
    catalogue = ProviderCatalogue.builtin().with_overrides(data.get("providers", {}))
    for provider in catalogue:  # bad values exit 2 now, not when a layer first uses them
        relay_overrides(provider)  # connect_address, port_map, ca_file...
        DnsProfile.of(provider)  # dkim_record, *_confidence, spf_scope, return_path...
    jobs = _given(options.jobs, _typed(audit, "jobs", int, where), DEFAULT_JOBS)
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, not {jobs}")
    max_bytes = _given(_typed(ssh, "max_file_bytes", int, where), DEFAULT_MAX_FILE_BYTES)
    if max_bytes < 1:
        raise ConfigError(f"{where}: max_file_bytes must be at least 1, not {max_bytes}")
    command_timeout = _given(_typed(ssh, "command_timeout", (int, float), where), 60)
    if not command_timeout > 0:
        raise ConfigError(f"{where}: command_timeout must be positive, not {command_timeout}")
    config_layers = _string_list(audit, "layers", where) if "layers" in audit else None
    layers = parse_layers(_given(options.layers, config_layers, ALL_LAYERS))
    known_hosts = options.known_hosts or _typed(ssh, "known_hosts", str, where)
    report_dir = options.report_dir or _typed(audit, "report_dir", str, where) or "reports"
    dns = _dns_settings(options, data, where)
    return AuditConfig(
        expected=_expected(options, data, environ, catalogue),
        targets=tuple(_targets(options)),
        layers=layers,
        domains=tuple(
            d.strip().lower().rstrip(".")
            for d in options.domains or _string_list(audit, "domains", where)
        ),
        nameservers=dns.nameservers,
        dns_timeout=dns.timeout,
        dns_retries=dns.retries,
        zone_file=dns.zone_file,
        report_dir=Path(report_dir).expanduser(),
        jobs=jobs,
        no_send=options.no_send or bool(_typed(audit, "no_send", bool, where)),
        ssh=SshOptions(
            known_hosts=Path(known_hosts).expanduser() if known_hosts else None,
            accept_new_host_keys=options.accept_new_host_keys
            or bool(_typed(ssh, "accept_new_host_keys", bool, where)),
            command_timeout=float(command_timeout),
        ),
        max_file_bytes=max_bytes,
        web_users=frozenset(_string_list(audit, "web_users", where)) or WEB_USERS,
        providers=catalogue,
        require_credential_file=bool(_typed(audit, "require_credential_file", bool, where)),
        sections={key: data[key] for key in ("relay", "mailbox") if key in data},
    )
