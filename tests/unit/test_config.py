"""The config file schema, layers, jobs and the whole ``load_audit_config`` validation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smtpcheck.catalogue import Layer
from smtpcheck.config import (
    DEFAULT_JOBS,
    AuditConfig,
    AuditOptions,
    load_audit_config,
    parse_layers,
)
from smtpcheck.credentials.evaluate import WEB_USERS
from smtpcheck.errors import ConfigError, InventoryError
from smtpcheck.remote.facts import DEFAULT_MAX_FILE_BYTES
from tests.unit.builders import one_line


def _load(
    tmp_path: Path, text: str | None, environ: dict[str, str] | None = None, **options: Any
) -> AuditConfig:
    """load_audit_config with ``text`` as the config file (None: no config file)."""
    path = None
    if text is not None:
        path = tmp_path / "smtpcheck.toml"
        path.write_text(text)
    return load_audit_config(AuditOptions(config=path, **options), environ=environ or {})


FULL = """\
[expected]
SYSTEM_EMAIL_PROVIDER = 3
SYSTEM_FROMEMAIL_ADDRESS = "notifications@shop.example"

[audit]
layers = ["host", "dns"]
domains = ["Shop.Example.", "other.example"]
nameservers = ["127.0.0.1:5353"]
report_dir = "/tmp/smtpcheck-reports"
jobs = 3
no_send = true
web_users = ["www-data", "nginx", "php-fpm"]

[ssh]
known_hosts = "/etc/smtpcheck/known_hosts"
accept_new_host_keys = true
command_timeout = 12.5
max_file_bytes = 4096

[providers.ses]
endpoint = "127.0.0.1"

[dns]
timeout = 2.5
retries = 3
zone_file = "/etc/smtpcheck/shop.example.zone"
[mailbox]
host = "127.0.0.1"
user = "postmaster@shop.example"
password_env = "MAILBOX_PASSWORD"
"""
FULL_ENVIRON = {"MAILBOX_PASSWORD": "mailbox-secret"}


def test_every_setting_of_a_full_config_file(tmp_path: Path) -> None:
    config = _load(tmp_path, FULL, FULL_ENVIRON)

    assert config.layers == {Layer.HOST, Layer.DNS}
    assert config.domains == ("shop.example", "other.example")
    assert config.nameservers == ("127.0.0.1:5353",)
    assert config.report_dir == Path("/tmp/smtpcheck-reports")
    assert (config.jobs, config.no_send, config.max_file_bytes) == (3, True, 4096)
    assert config.web_users == {"www-data", "nginx", "php-fpm"}
    assert config.ssh.known_hosts == Path("/etc/smtpcheck/known_hosts")
    assert config.ssh.accept_new_host_keys is True
    assert config.ssh.command_timeout == 12.5
    ses = config.providers.for_host("127.0.0.1")
    assert ses is not None and ses.key == "ses"
    assert config.expected.provider is ses
    assert config.expected.sources["SYSTEM_EMAIL_PROVIDER"] == f"config {tmp_path}/smtpcheck.toml"
    assert (config.dns_timeout, config.dns_retries) == (2.5, 3)
    assert config.zone_file == Path("/etc/smtpcheck/shop.example.zone")
    assert {key: dict(value) for key, value in config.sections.items()} == {
        "mailbox": {
            "host": "127.0.0.1",
            "user": "postmaster@shop.example",
            "password_env": "MAILBOX_PASSWORD",
        },
    }
    assert config.targets == ()


def test_defaults_without_any_config(tmp_path: Path) -> None:
    config = _load(tmp_path, None)

    assert config.layers == set(Layer)
    assert (config.jobs, config.no_send) == (DEFAULT_JOBS, False)
    assert config.max_file_bytes == DEFAULT_MAX_FILE_BYTES
    assert config.report_dir == Path("reports")
    assert config.web_users == WEB_USERS
    assert config.ssh.known_hosts is None and not config.ssh.accept_new_host_keys
    assert config.ssh.command_timeout == 60
    assert config.expected.is_empty
    assert config.domains == config.nameservers == ()


def test_options_win_over_the_config_file(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        FULL,
        FULL_ENVIRON,
        layers="relay",
        jobs=1,
        domains=("cli.example",),
        nameservers=("127.0.0.2",),
        report_dir=tmp_path / "out",
        known_hosts=tmp_path / "kh",
    )

    assert config.layers == {Layer.RELAY}
    assert config.jobs == 1
    assert config.domains == ("cli.example",)
    assert config.nameservers == ("127.0.0.2",)
    assert config.report_dir == tmp_path / "out"
    assert config.ssh.known_hosts == tmp_path / "kh"


CONFIG_ERRORS = {
    "unknown-table": (
        "[smtp]\nhost = 'x'\n",
        "{path}: unknown table [smtp] (known: expected, audit, ssh, providers, dns, mailbox)",
    ),
    "top-level-key": ("jobs = 3\n", "{path}: unknown table [jobs]"),
    "table-is-scalar": ("audit = 3\n", "{path}: audit must be a table"),
    "unknown-audit-key": (
        "[audit]\nlayer = ['host']\n",
        "{path}: unknown key(s) in [audit]: layer",
    ),
    "unknown-ssh-keys": (
        "[ssh]\nport = 22\nuser = 'x'\n",
        "{path}: unknown key(s) in [ssh]: port, user",
    ),
    "unknown-expected-key": (
        "[expected]\nSYSTEM_EMAIL_PASSWD = 'x'\n",
        "{path}: unknown key(s) in [expected]: SYSTEM_EMAIL_PASSWD",
    ),
    "invalid-toml": ("[audit\n", "{path}: not valid TOML: "),
    "jobs-string": ("[audit]\njobs = '4'\n", "config {path}: jobs has the wrong type (str)"),
    "jobs-bool": ("[audit]\njobs = true\n", "config {path}: jobs has the wrong type (bool)"),
    "jobs-zero": ("[audit]\njobs = 0\n", "--jobs must be at least 1, not 0"),
    "jobs-negative": ("[audit]\njobs = -2\n", "--jobs must be at least 1, not -2"),
    "no-send-string": ("[audit]\nno_send = 'yes'\n", "config {path}: no_send has the wrong type"),
    "report-dir-int": ("[audit]\nreport_dir = 1\n", "config {path}: report_dir has the wrong type"),
    "layers-string": (
        "[audit]\nlayers = 'host'\n",
        "config {path}: layers must be a list of strings",
    ),
    "layers-unknown": ("[audit]\nlayers = ['host', 'smtp']\n", "--layers: 'smtp' is not a layer"),
    "layers-empty-list": (
        "[audit]\nlayers = []\n",
        "--layers: give at least one of host, dns, relay",
    ),
    "domains-ints": (
        "[audit]\ndomains = [1]\n",
        "config {path}: domains must be a list of strings",
    ),
    "web-users-string": (
        "[audit]\nweb_users = 'www-data'\n",
        "config {path}: web_users must be a list of strings",
    ),
    "known-hosts-int": (
        "[ssh]\nknown_hosts = 1\n",
        "config {path}: known_hosts has the wrong type",
    ),
    "accept-new-string": (
        "[ssh]\naccept_new_host_keys = 'true'\n",
        "config {path}: accept_new_host_keys has the wrong type (str)",
    ),
    "timeout-bool": (
        "[ssh]\ncommand_timeout = true\n",
        "config {path}: command_timeout has the wrong type (bool)",
    ),
    "timeout-zero": (
        "[ssh]\ncommand_timeout = 0\n",
        "config {path}: command_timeout must be a positive number of seconds",
    ),
    "max-bytes-float": (
        "[ssh]\nmax_file_bytes = 1.5\n",
        "config {path}: max_file_bytes has the wrong type (float)",
    ),
    "max-bytes-zero": (
        "[ssh]\nmax_file_bytes = 0\n",
        "config {path}: max_file_bytes must be at least 1",
    ),
    "max-bytes-negative": (
        "[ssh]\nmax_file_bytes = -5\n",
        "config {path}: max_file_bytes must be at least 1",
    ),
    "provider-override": ("[providers.ses]\nports = 3\n", "providers.ses.ports must be a table"),
    # The DNS layer's provider keys: bad values are usage errors before the run, not a crash
    # of every DNS check when the facts are fetched.
    "provider-confidence": (
        "[providers.mailjet]\nspf_confidence = 'X'\n",
        "providers.mailjet.spf_confidence must be one of P S U D",
    ),
    "provider-dkim-record": (
        "[providers.mailjet]\ndkim_record = 'mx'\n",
        "providers.mailjet.dkim_record must be txt or cname",
    ),
    "provider-spf-scope": (
        "[providers.ses]\nspf_scope = 'apex'\n",
        "providers.ses.spf_scope must be one of from-domain, mail-from",
    ),
    "expected-wrong-type": (
        "[expected]\nSYSTEM_EMAIL_USERNAME = 3\n",
        "config {path}: SYSTEM_EMAIL_USERNAME must be a string",
    ),
    "expected-bad-provider": (
        "[expected]\nSYSTEM_EMAIL_PROVIDER = 7\n",
        "SYSTEM_EMAIL_PROVIDER (from config {path}): '7' is not a provider",
    ),
}


@pytest.mark.parametrize(("text", "message"), CONFIG_ERRORS.values(), ids=CONFIG_ERRORS.keys())
def test_config_file_errors_are_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)

    assert one_line(caught.value).startswith(message.format(path=tmp_path / "smtpcheck.toml"))


def test_unreadable_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read config .*absent\.toml"):
        load_audit_config(AuditOptions(config=tmp_path / "absent.toml"), environ={})


@pytest.mark.parametrize("jobs", [0, -1])
def test_jobs_option_below_one(tmp_path: Path, jobs: int) -> None:
    with pytest.raises(ConfigError, match=f"^--jobs must be at least 1, not {jobs}$"):
        _load(tmp_path, None, jobs=jobs)


@pytest.mark.parametrize(
    ("text", "layers"),
    [
        ("host", {Layer.HOST}),
        ("HOST, Dns", {Layer.HOST, Layer.DNS}),
        ("host,,relay,", {Layer.HOST, Layer.RELAY}),
        ("host,dns,relay", set(Layer)),
        (["relay"], {Layer.RELAY}),
    ],
)
def test_parse_layers(text: str | list[str], layers: set[Layer]) -> None:
    assert parse_layers(text) == layers


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "--layers: give at least one of host, dns, relay"),
        (",", "--layers: give at least one of host, dns, relay"),
        ([], "--layers: give at least one of host, dns, relay"),
        ("host,smtp", "--layers: 'smtp' is not a layer (use host,dns,relay)"),
        ("delivery", "--layers: 'delivery' is not a layer (use host,dns,relay)"),
    ],
)
def test_parse_layers_errors(text: str | list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_layers(text)

    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("options", "message"),
    [
        pytest.param(
            {"app": "joomla"}, "--app needs --hosts (or use an inventory)", id="app-alone"
        ),
        pytest.param(
            {"hosts": "web1,paramiko://web1", "app": "joomla"},
            "host(s) given twice: paramiko://web1",
            id="same-host-twice",
        ),
        pytest.param({"hosts": "web1"}, "--hosts: 'web1' has no application", id="hosts-no-app"),
    ],
)
def test_target_option_errors(tmp_path: Path, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        _load(tmp_path, None, **options)

    assert str(caught.value).startswith(message)


def test_inventory_and_hosts_together(tmp_path: Path) -> None:
    (tmp_path / "id").write_text("key\n")
    inventory = tmp_path / "fleet.toml"
    inventory.write_text('[[hosts]]\naddress = "web1"\napp = "moodle"\n')

    config = _load(
        tmp_path,
        None,
        inventory=inventory,
        hosts="web2",
        app="joomla",
        sudo=True,
        ssh_identity_file=tmp_path / "id",
    )

    assert [(t.name, t.app.value) for t in config.targets] == [
        ("paramiko://web1", "moodle"),
        ("paramiko://web2", "joomla"),
    ]
    assert all(t.sudo and t.identity_file == tmp_path / "id" for t in config.targets)
