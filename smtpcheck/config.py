"""One audit's configuration, from options, the config file, the environment and the inventory.

The CLI and the pytest plugin both build an :class:`AuditOptions` from their own option parsers
and call :func:`load_audit_config`, so both paths validate the same way and fail with the same
one-line :class:`~smtpcheck.errors.ConfigError`.

Config file (TOML)::

    [expected]          # SYSTEM_EMAIL_* (prefer the environment for the password)
    [audit]             # layers, domains, nameservers, report_dir, jobs, no_send, web_users,
                        # require_credential_file, fail_on
    [ssh]               # known_hosts, accept_new_host_keys, command_timeout, max_file_bytes
    [dns]               # timeout, retries, zone_file (pre-flight from a BIND zone file)
    [providers.<key>]   # override or add relay provider profiles (keys: providers.PROVIDER_KEYS)
    [mailbox]           # where SMTP-05 looks for the test message (relay/delivery.py)

Every table rejects unknown keys (a misspelt ``connect_address`` must not send to the real
provider); there is no ``[relay]`` table: relay settings belong to a provider's table. Files are
read with a size cap, and every value that a later step would trip over (a missing identity file,
an unset sudo password variable, an unwritable report directory, a CA file that is not PEM) is
checked here, before the first connection.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smtpcheck.catalogue import Layer
from smtpcheck.choices import MAX_SHARDS, OPTIONAL_REPORTS
from smtpcheck.credentials.evaluate import WEB_USERS
from smtpcheck.errors import ConfigError, InventoryError, ProbeError
from smtpcheck.findings import FAIL_ON
from smtpcheck.history import (
    KEY_FILE,
    Baseline,
    check_history_dir,
    check_key_file,
    latest_report,
    read_baseline,
)
from smtpcheck.mailauth.profile import DnsProfile
from smtpcheck.mailauth.resolver import parse_nameserver
from smtpcheck.providers import (
    ProviderCatalogue,
    expand_path,
    parse_port,
    parse_seconds,
    parse_toml,
    read_input_file,
)
from smtpcheck.relay.delivery import mailbox_settings
from smtpcheck.relay.endpoint import checked_relay_overrides
from smtpcheck.remote import SshOptions
from smtpcheck.remote.facts import DEFAULT_MAX_FILE_BYTES
from smtpcheck.secrets import REDACTOR, Secret
from smtpcheck.settings import (
    ACCEPTED_NAMES,
    Expected,
    Setting,
    merge_settings,
    parse_adt_template,
    settings_from_mapping,
    validate_settings,
)
from smtpcheck.targets import HostTarget, apply_common, parse_hosts_option, read_inventory
from smtpcheck.waivers import Waiver, load_waivers

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
        "fail_on",
        "waivers",
        "baseline",
        "history",
        "fingerprint_key",
        "fail_on_new",
        "extra_reports",
    },
    "ssh": {"known_hosts", "accept_new_host_keys", "command_timeout", "max_file_bytes"},
    "providers": None,
    "dns": {"timeout", "retries", "zone_file"},
    "mailbox": {  # read by smtpcheck.relay.delivery.mailbox_settings
        "host",
        "port",
        "tls",
        "user",
        "password_env",
        "folders",
        "timeout",
        "poll_interval",
        "keep_message",
        "ca_file",
        "connect_address",
        "authserv_id",
    },
}
MAX_DNS_RETRIES = 10
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
    fail_on: str | None = None
    waivers: Path | None = None
    baseline: Path | None = None
    history: Path | None = None
    fingerprint_key: Path | None = None
    fail_on_new: bool = False
    extra_reports: Sequence[str] = ()
    shard: str | None = None  # "K/N"
    expected: Mapping[str, str] = field(default_factory=dict)  # --provider, --from, ...


@dataclass(frozen=True)
class Shard:
    """Part ``index`` (1-based) of ``count``: the hosts, sorted by name, every ``count``-th
    from the ``index``-th; sending domains and relay tests derived from them; the build-time
    settings' own domain and relay test, and ``--domain``, in shard 1 only."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def first(self) -> bool:
        return self.index == 1

    def select(self, targets: Sequence[HostTarget]) -> tuple[HostTarget, ...]:
        ordered = sorted(targets, key=lambda target: target.name)
        return tuple(ordered[self.index - 1 :: self.count])


def parse_shard(text: str) -> Shard:
    index, slash, count = text.partition("/")
    if not (slash and index.isascii() and index.isdigit() and count.isascii() and count.isdigit()):
        raise ConfigError(f"--shard must be K/N, such as 2/4, not {text[:20]!r}")
    shard = Shard(int(index), int(count))
    if not 1 <= shard.index <= shard.count <= MAX_SHARDS:
        raise ConfigError(f"--shard {text}: K must be 1 to N, N at most {MAX_SHARDS}")
    return shard


@dataclass(frozen=True)
class OverTime:
    """What ties this run to others: waivers, the baseline and history, the fingerprint key,
    the extra reports a CI system reads."""

    waivers: tuple[Waiver, ...] = ()
    waivers_file: Path | None = None
    baseline: Baseline | None = None
    history: Path | None = None
    fingerprint_key: Secret | None = field(default=None, repr=False)  # hex; never shown
    key_file: Path | None = None  # where the key is, or is made on first use (0600)
    fail_on_new: bool = False
    extra_reports: tuple[str, ...] = ()


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
    fail_on: str | None = None  # findings.gates: None = every fail and error
    over_time: OverTime = field(default_factory=lambda: OverTime())
    shard: Shard | None = None  # this run audits one part of the fleet
    sections: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # mailbox


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
    """The tables of a config file (a regular file of at most 1 MiB), unknown ones refused."""
    data = parse_toml(read_input_file(path, "config"), str(path))
    for table, value in data.items():
        if table not in _TABLES:
            raise ConfigError(f"{path}: unknown table [{table}] (known: {', '.join(_TABLES)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: {table} must be a table")
        allowed = _TABLES[table]
        unknown = set(value) - allowed if allowed is not None else set()
        if unknown:
            raise ConfigError(
                f"{path}: unknown key(s) in [{table}]: {', '.join(sorted(unknown))} "
                f"(known: {', '.join(sorted(allowed or ()))})"
            )
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
    twice = sorted(name for name, n in Counter(t.name for t in targets).items() if n > 1)
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
        path = options.adt_template
        layers.append(parse_adt_template(read_input_file(path, "ADT template"), str(path)))
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
    given = "--dns-timeout" if options.dns_timeout is not None else f"{where}: [dns] timeout"
    timeout = parse_seconds(timeout, given)  # not nan, not inf
    retries = _given(_typed(dns, "retries", int, where), 1)
    if not 0 <= retries <= MAX_DNS_RETRIES:
        raise ConfigError(f"{where}: [dns] retries must be 0 to {MAX_DNS_RETRIES}, not {retries}")
    zone_file = options.zone_file or _typed(dns, "zone_file", str, where)
    zone_path = expand_path(str(zone_file), f"{where}: zone_file") if zone_file else None
    return _DnsSettings(nameservers, float(timeout), retries, zone_path)


_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


def _fail_on(value: str | None, label: str) -> str | None:
    if value is None or value in FAIL_ON:
        return value
    raise ConfigError(f"{label} must be one of {', '.join(FAIL_ON)}, not {value!r}")


def parse_domain(text: str, where: str) -> str:
    """A sending domain (``--domain``, ``[audit] domains``) in the form the DNS layer asks for:
    lower case, no root dot, internationalised names as A-labels. Anything that is not a host
    name with at least two labels (an address, ``a..b``, a space, a URL) is a ConfigError."""
    name = text.strip().lower().rstrip(".")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            name = ""
    labels = name.split(".")
    if (
        len(name) > 253
        or len(labels) < 2
        or not all(_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()
    ):
        raise ConfigError(f"{where}: {text[:80]!r} is not a domain name")
    return name


def _domains(options: AuditOptions, audit: Mapping[str, Any], where: str) -> tuple[str, ...]:
    if options.domains:
        names, given = list(options.domains), "--domain"
    else:
        names, given = _string_list(audit, "domains", where), f"{where}: [audit] domains"
    return tuple(dict.fromkeys(parse_domain(name, given) for name in names))


_VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _check_file(path: Path, what: str, target: HostTarget) -> None:
    try:
        readable = path.is_file() and os.access(path, os.R_OK)
    except OSError:
        readable = False
    if not readable:
        raise ConfigError(f"{target.name}: {what} {path} is not a readable file")


def check_targets(targets: Sequence[HostTarget], environ: Mapping[str, str]) -> None:
    """What each host's connection will need, checked before any host is touched: its identity
    file and ssh_config exist, and the variable holding its sudo password is set. The password
    is never part of a message (and neither is a "name" that is not a variable name: it may be
    the password itself, given by mistake)."""
    for target in targets:
        if target.backend != "local":
            expand = target.backend == "ssh"  # OpenSSH expands ~ itself; paramiko does not
            for what, path in (("identity file", target.identity_file),
                               ("ssh_config", target.ssh_config)):  # fmt: skip
                if path is not None:
                    shown = f"{target.name}: {what}"
                    _check_file(expand_path(str(path), shown) if expand else path, what, target)
        name = target.sudo_password_env
        if not target.sudo or not name:
            continue
        if not _VARIABLE.fullmatch(name):
            raise ConfigError(
                f"{target.name}: the sudo password variable (--sudo-password-env or the "
                "inventory's sudo_password_env) is not an environment variable name"
            )
        if not environ.get(name):
            raise ConfigError(
                f"{target.name}: sudo password variable {name} is not set in the environment"
            )


def check_report_dir(path: Path, given: str) -> None:
    """The reports can be written: ``path`` is a writable directory, or can be created under
    its closest existing ancestor. Found after the audit (after the test message was sent),
    this would lose every finding."""
    probe = path
    try:
        while not probe.exists():
            if probe.is_symlink():
                raise ConfigError(f"{given} {path}: {probe} is a dangling symbolic link")
            if probe.parent == probe:
                break
            probe = probe.parent
        usable = probe.is_dir()
    except OSError as exc:
        raise ConfigError(f"{given} {path}: {exc.strerror or exc}") from None
    if not usable:
        raise ConfigError(f"{given} {path}: {probe} is not a directory")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{given} {path}: {probe} is not writable")


def _check_mailbox(data: Mapping[str, Any], environ: Mapping[str, str]) -> None:
    """The ``[mailbox]`` table loads (password variable set, ca_file PEM), and its numbers are
    finite: ``timeout = nan`` would otherwise poll forever."""
    mailbox = data.get("mailbox")
    if mailbox is None:
        return
    for name in ("timeout", "poll_interval"):
        if name in mailbox:
            parse_seconds(mailbox[name], f"mailbox.{name}")
    if "port" in mailbox:
        port = mailbox["port"]
        if isinstance(port, bool) or not isinstance(port, int):
            raise ConfigError("mailbox.port must be a port number")
        parse_port(port, "mailbox.port")
    ca_file = mailbox.get("ca_file")
    if isinstance(ca_file, str) and "\0" in ca_file:  # ssl raises ValueError for it
        raise ConfigError("mailbox.ca_file: a file name cannot hold a NUL character")
    mailbox_settings(mailbox, environ)


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
        checked_relay_overrides(provider)  # connect_address, port_map, ca_file (PEM)...
        DnsProfile.of(provider)  # dkim_record, *_confidence, spf_scope, return_path...
    jobs = _given(options.jobs, _typed(audit, "jobs", int, where), DEFAULT_JOBS)
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, not {jobs}")
    max_bytes = _given(_typed(ssh, "max_file_bytes", int, where), DEFAULT_MAX_FILE_BYTES)
    if max_bytes < 1:
        raise ConfigError(f"{where}: max_file_bytes must be at least 1, not {max_bytes}")
    command_timeout = _given(_typed(ssh, "command_timeout", (int, float), where), 60)
    command_timeout = parse_seconds(command_timeout, f"{where}: command_timeout")
    config_layers = _string_list(audit, "layers", where) if "layers" in audit else None
    layers = parse_layers(_given(options.layers, config_layers, ALL_LAYERS))
    known_hosts = options.known_hosts or _typed(ssh, "known_hosts", str, where)
    given_hosts = "--known-hosts" if options.known_hosts else f"{where}: known_hosts"
    known_hosts_path = expand_path(str(known_hosts), given_hosts) if known_hosts else None
    given_dir = "--report-dir" if options.report_dir else f"{where}: report_dir"
    report_dir = expand_path(
        str(options.report_dir or _typed(audit, "report_dir", str, where) or "reports"), given_dir
    )
    check_report_dir(report_dir, given_dir)
    dns = _dns_settings(options, data, where)
    domains = _domains(options, audit, where)
    _check_mailbox(data, environ)
    targets = tuple(_targets(options))
    shard = parse_shard(options.shard) if options.shard is not None else None
    if shard is not None:
        if shard.count > len(targets):
            raise ConfigError(
                f"--shard {options.shard}: {len(targets)} host(s) cannot fill {shard.count} "
                "shards; use at most one shard per host"
            )
        targets = shard.select(targets)
    check_targets(targets, environ)
    ssh_options = SshOptions(
        known_hosts=known_hosts_path,
        accept_new_host_keys=options.accept_new_host_keys
        or bool(_typed(ssh, "accept_new_host_keys", bool, where)),
        command_timeout=command_timeout,
    )
    _check_known_hosts(targets, ssh_options)
    return AuditConfig(
        expected=_expected(options, data, environ, catalogue),
        targets=targets,
        layers=layers,
        domains=domains,
        nameservers=dns.nameservers,
        dns_timeout=dns.timeout,
        dns_retries=dns.retries,
        zone_file=dns.zone_file,
        report_dir=report_dir,
        jobs=jobs,
        no_send=options.no_send or bool(_typed(audit, "no_send", bool, where)),
        ssh=ssh_options,
        max_file_bytes=max_bytes,
        web_users=frozenset(_string_list(audit, "web_users", where)) or WEB_USERS,
        providers=catalogue,
        require_credential_file=bool(_typed(audit, "require_credential_file", bool, where)),
        fail_on=_fail_on(
            options.fail_on or _typed(audit, "fail_on", str, where),
            "--fail-on" if options.fail_on else f"{where}: fail_on",
        ),
        over_time=_over_time(options, audit, where),
        shard=shard,
        sections={key: data[key] for key in ("mailbox",) if key in data},
    )


def _check_known_hosts(targets: Sequence[HostTarget], ssh: SshOptions) -> None:
    """The known_hosts files every paramiko host shares are read now, once (and kept for the
    run): one that cannot be used (binary, a line paramiko cannot read) would fail every host,
    so it is one usage error instead, before any connection (issue 8 item 10)."""
    if not any(target.backend == "paramiko" for target in targets):
        return
    from smtpcheck.remote.known_hosts import known_hosts_for  # paramiko: only with such hosts

    try:
        known_hosts_for(ssh)
    except ProbeError as exc:
        raise ConfigError(str(exc)) from None


def _option_path(option: Path | None, audit: Mapping[str, Any], key: str, where: str,
                 flag: str) -> tuple[Path | None, str]:  # fmt: skip
    """An option's path, else the config key's, with the name to show in messages."""
    if option is not None:
        return expand_path(str(option), flag), flag
    value = _typed(audit, key, str, where)
    return (expand_path(value, f"{where}: {key}"), f"{where}: {key}") if value else (None, flag)


def _over_time(options: AuditOptions, audit: Mapping[str, Any], where: str) -> OverTime:
    """Waivers, baseline, history, key and extra reports, all checked before the audit."""
    waivers_path, _ = _option_path(options.waivers, audit, "waivers", where, "--waivers")
    history, history_given = _option_path(options.history, audit, "history", where, "--history")
    baseline_path, _ = _option_path(options.baseline, audit, "baseline", where, "--baseline")
    key_path, _ = _option_path(
        options.fingerprint_key, audit, "fingerprint_key", where, "--fingerprint-key"
    )
    if history is not None:
        check_history_dir(history, history_given)
        if baseline_path is None:
            baseline_path = latest_report(history)
        if key_path is None:
            key_path = history / KEY_FILE
    key = None
    if key_path is not None:  # an existing key is checked now; a new one is made by the Audit
        key = check_key_file(key_path)
        if key is not None:
            REDACTOR.register(key)  # the key itself never appears in any output
    fail_on_new = options.fail_on_new or bool(_typed(audit, "fail_on_new", bool, where))
    baseline = read_baseline(baseline_path) if baseline_path is not None else None
    if fail_on_new and baseline is None:
        raise ConfigError(
            "--fail-on-new needs a baseline: --baseline REPORT.json, or --history DIR with a "
            "run in it"
        )
    extra = list(options.extra_reports) or _string_list(audit, "extra_reports", where)
    for name in extra:
        if name not in OPTIONAL_REPORTS:
            raise ConfigError(
                f"unknown extra report {name[:40]!r}; choose from {', '.join(OPTIONAL_REPORTS)}"
            )
    return OverTime(
        waivers=load_waivers(waivers_path) if waivers_path is not None else (),
        waivers_file=waivers_path,
        baseline=baseline,
        history=history,
        fingerprint_key=key,
        key_file=key_path,
        fail_on_new=fail_on_new,
        extra_reports=tuple(dict.fromkeys(extra)),
    )
