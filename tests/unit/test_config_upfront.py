"""Everything is checked before the first connection (issue items 11 and 12).

Each problem below used to be found per host after the audit ran (or never): a misspelt
provider key sent to the real provider, a bad CA file or an unwritable report directory was a
traceback after the test message went out, ``/dev/zero`` hung. Now each is one ConfigError line
from :func:`load_audit_config`, which the CLI turns into exit status 2 before any host is touched.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from smtpcheck.audit import Audit
from smtpcheck.cli import main
from smtpcheck.config import AuditConfig, AuditOptions, load_audit_config
from smtpcheck.errors import ConfigError, InventoryError
from smtpcheck.lab.certs import LabCA
from smtpcheck.providers import MAX_INPUT_BYTES, RELAY_KEYS, TlsMode
from smtpcheck.relay.endpoint import RelayOverrides
from smtpcheck.relay.targets import deployed_from_settings, plan_relay_targets
from tests.unit.builders import one_line

SECRET = "s3cret-sudo-Pa55"  # a sudo password: never in a message


def _config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "smtpcheck.toml"
    path.write_text(text)
    return path


def _load(
    tmp_path: Path, text: str | None = None, environ: dict[str, str] | None = None, **options: Any
) -> AuditConfig:
    config = _config(tmp_path, text) if text is not None else None
    options.setdefault("report_dir", tmp_path / "reports")
    return load_audit_config(AuditOptions(config=config, **options), environ=environ or {})


def _error(tmp_path: Path, text: str | None = None, **options: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text, **options)
    return one_line(caught.value)


# --- every table rejects unknown keys, listing the valid ones ------------------------------------


@pytest.mark.parametrize(
    ("key", "value", "known"),
    [
        ("connect_adress", '"127.0.0.1"', "connect_address"),
        ("portmap", "{ 465 = 10465 }", "port_map"),
        ("ca-file", '"/etc/ssl/lab-ca.pem"', "ca_file"),
    ],
)
def test_a_misspelt_provider_key_is_refused(
    tmp_path: Path, key: str, value: str, known: str
) -> None:
    """With ``connect_adress`` accepted, the audit resolved the real in-v3.mailjet.com."""
    message = _error(tmp_path, f"[providers.mailjet]\n{key} = {value}\n")

    assert message.startswith(f"providers.mailjet: unknown key(s) {key} (known: ")
    assert f" {known}," in message and "spf_confidence" in message


def test_every_documented_provider_key_is_accepted(tmp_path: Path) -> None:
    ca = LabCA(tmp_path / "ca")
    config = _load(
        tmp_path,
        f"""\
[providers.mailjet]
connect_address = "127.0.0.1"
port_map = {{ 465 = 10465 }}
ca_file = "{ca.ca_file}"
timeout = 5
ehlo_name = "checker.example.test"
settings_port = 587
spf_confidence = "S"
dkim_confidence = "P"
return_path_confidence = "U"
spf_scope = "from-domain"
return_path = "provider"
""",
    )

    mailjet = config.providers.get("mailjet")
    assert mailjet is not None and mailjet.extra["connect_address"] == "127.0.0.1"


def test_the_relay_keys_are_the_relay_overrides() -> None:
    assert set(RELAY_KEYS) == set(RelayOverrides.__dataclass_fields__)


def test_the_undocumented_relay_table_is_refused(tmp_path: Path) -> None:
    """Nothing read ``[relay]``: its settings were silently ignored."""
    message = _error(tmp_path, '[relay]\nca_file = "/lab/ca.pem"\n')

    assert message.endswith(
        "smtpcheck.toml: unknown table [relay] (known: expected, audit, ssh, providers, dns, "
        "mailbox)"
    )


@pytest.mark.parametrize(
    ("text", "unknown", "known"),
    [
        (
            "[mailbox]\nhost = 'imap.example.test'\npasword_env = 'X'\n",
            "pasword_env",
            "password_env",
        ),
        ("[audit]\nlayer = ['host']\n", "layer", "layers"),
        ("[dns]\ntimeuot = 3\n", "timeuot", "timeout"),
    ],
)
def test_unknown_keys_in_a_table_list_the_valid_ones(
    tmp_path: Path, text: str, unknown: str, known: str
) -> None:
    message = _error(tmp_path, text)

    assert f": {unknown} (known: " in message and f" {known}" in message


# --- values a host or relay would trip over, found before the first connection --------------------


def test_a_missing_identity_file_is_found_before_any_host(tmp_path: Path) -> None:
    message = _error(
        tmp_path, hosts="web1,web2", app="joomla", ssh_identity_file=tmp_path / "id_gone"
    )

    assert message == f"paramiko://web1: identity file {tmp_path}/id_gone is not a readable file"


def test_a_missing_identity_file_in_the_inventory(tmp_path: Path) -> None:
    inventory = tmp_path / "fleet.toml"
    inventory.write_text(
        '[[hosts]]\naddress = "web1"\napp = "moodle"\nidentity_file = "/nonexistent/id"\n'
    )

    message = _error(tmp_path, inventory=inventory)

    assert message == "paramiko://web1: identity file /nonexistent/id is not a readable file"


def test_a_missing_ssh_config_is_found_before_any_host(tmp_path: Path) -> None:
    message = _error(tmp_path, hosts="ssh://web1", app="joomla", ssh_config=tmp_path / "nope")

    assert message == f"ssh://web1: ssh_config {tmp_path}/nope is not a readable file"


def test_an_existing_identity_file_is_accepted(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\n")

    config = _load(tmp_path, hosts="web1", app="joomla", ssh_identity_file=key)

    assert config.targets[0].identity_file == key


def test_an_unset_sudo_password_variable_is_found_before_any_host(tmp_path: Path) -> None:
    message = _error(
        tmp_path, hosts="web1", app="joomla", sudo=True, sudo_password_env="WEB_SUDO_PW"
    )

    assert message == (
        "paramiko://web1: sudo password variable WEB_SUDO_PW is not set in the environment"
    )


def test_a_set_sudo_password_variable_is_accepted_and_never_shown(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        environ={"WEB_SUDO_PW": SECRET},
        hosts="web1",
        app="joomla",
        sudo=True,
        sudo_password_env="WEB_SUDO_PW",
    )

    assert config.targets[0].sudo_password_env == "WEB_SUDO_PW"
    assert SECRET not in repr(config)


def test_a_password_given_as_the_variable_name_is_not_shown(tmp_path: Path) -> None:
    """``--sudo-password-env 's3cret-sudo-Pa55'`` by mistake: the "name" is the secret."""
    message = _error(tmp_path, hosts="web1", app="joomla", sudo=True, sudo_password_env=SECRET)

    assert SECRET not in message
    assert "is not an environment variable name" in message


def test_the_sudo_variable_is_not_needed_without_sudo(tmp_path: Path) -> None:
    config = _load(tmp_path, hosts="web1", app="joomla", sudo_password_env="UNSET_VARIABLE")

    assert not config.targets[0].sudo


@pytest.mark.parametrize(
    "domain",
    ["exa mple.com", "a..b.example", "-bad.example", "localhost", "192.0.2.1", "https://x.test",
     "x" * 64 + ".example", "", "_dmarc.example.com"],
)  # fmt: skip
def test_an_invalid_domain_option_is_refused(tmp_path: Path, domain: str) -> None:
    assert _error(tmp_path, domains=(domain,)).startswith(f"--domain: {domain!r} ")


def test_an_invalid_configured_domain_names_the_config(tmp_path: Path) -> None:
    message = _error(tmp_path, '[audit]\ndomains = ["ok.example", "not a domain"]\n')

    assert message.endswith("smtpcheck.toml: [audit] domains: 'not a domain' is not a domain name")


def test_domains_are_normalised(tmp_path: Path) -> None:
    config = _load(tmp_path, domains=(" Shop.Example. ", "shop.example", "bücher.example"))

    assert config.domains == ("shop.example", "xn--bcher-kva.example")


@pytest.mark.parametrize("value", [math.inf, math.nan, -1.0, 1e300])
def test_a_dns_timeout_option_that_is_not_a_finite_positive_number(
    tmp_path: Path, value: float
) -> None:
    assert _error(tmp_path, dns_timeout=value).startswith(
        "--dns-timeout must be a positive number of seconds"
    )


MAILBOX = "[mailbox]\nhost = 'imap.example.test'\nuser = 'u'\npassword_env = 'PW'\n"


@pytest.mark.parametrize(
    ("text", "start"),
    [
        ("[dns]\ntimeout = inf\n", "config {path}: [dns] timeout must be a positive number"),
        ("[dns]\nretries = 1000000\n", "config {path}: [dns] retries must be 0 to 10"),
        ("[ssh]\ncommand_timeout = inf\n", "config {path}: command_timeout must be a positive"),
        ("[providers.mailjet]\ntimeout = nan\n", "providers.mailjet.timeout must be a positive"),
        ("[providers.mailjet]\ntimeout = inf\n", "providers.mailjet.timeout must be a positive"),
        (MAILBOX + "timeout = nan\n", "mailbox.timeout must be a positive number"),
        (MAILBOX + "poll_interval = inf\n", "mailbox.poll_interval must be a positive number"),
        (MAILBOX + "port = 99999\n", "mailbox.port: port 99999 is out of range"),
    ],
)
def test_timeouts_and_counts_must_be_finite(tmp_path: Path, text: str, start: str) -> None:
    message = _error(tmp_path, text)

    assert message.startswith(start.format(path=tmp_path / "smtpcheck.toml"))


def test_a_mailbox_whose_password_variable_is_unset_is_found_at_load(tmp_path: Path) -> None:
    message = _error(
        tmp_path, "[mailbox]\nhost = 'imap.example.test'\nuser = 'u'\npassword_env = 'MBX_PW'\n"
    )

    assert message == "mailbox.password_env: the environment variable MBX_PW is not set"


@pytest.mark.parametrize("where", ["url", "inventory"])
def test_a_host_timeout_of_inf_is_refused(tmp_path: Path, where: str) -> None:
    inventory = tmp_path / "inv.toml"
    inventory.write_text('[[hosts]]\naddress = "web1"\napp = "joomla"\ntimeout = inf\n')
    options: dict[str, Any] = (
        {"hosts": "ssh://web1?timeout=inf", "app": "joomla"}
        if where == "url"
        else {"inventory": inventory}
    )

    with pytest.raises(InventoryError, match="timeout must be a positive number of seconds"):
        _load(tmp_path, **options)


def test_a_ca_file_that_is_not_a_pem_bundle_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, '[providers.mailjet]\nca_file = "/etc/passwd"\n')

    assert message == (
        "providers.mailjet.ca_file: /etc/passwd is not a PEM certificate bundle "
        "(no certificate or crl found)"
    )


def test_a_pem_ca_file_is_accepted(tmp_path: Path) -> None:
    ca = LabCA(tmp_path / "ca")

    config = _load(tmp_path, f'[providers.mailjet]\nca_file = "{ca.ca_file}"\n')

    mailjet = config.providers.get("mailjet")
    assert mailjet is not None and mailjet.extra["ca_file"] == str(ca.ca_file)


def test_a_report_dir_that_cannot_be_created_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")

    message = _error(tmp_path, report_dir=tmp_path / "afile" / "reports")

    assert message == f"--report-dir {tmp_path}/afile/reports: {tmp_path}/afile is not a directory"


def test_a_report_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("")
    text = f'[audit]\nreport_dir = "{tmp_path}/afile"\n'

    message = _error(tmp_path, text, report_dir=None)

    assert message.endswith(f"smtpcheck.toml: report_dir {tmp_path}/afile: {tmp_path}/afile is "
                            "not a directory")  # fmt: skip


def test_an_unwritable_report_dir_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Root may write anywhere: a read-only directory is simulated (os.access says no)."""
    real_access = os.access
    readonly = tmp_path / "readonly"
    readonly.mkdir()
    monkeypatch.setattr(
        "smtpcheck.config.os.access",
        lambda path, mode: False if Path(path) == readonly else real_access(path, mode),
    )

    message = _error(tmp_path, report_dir=readonly / "reports")

    assert message == f"--report-dir {readonly}/reports: {readonly} is not writable"


def test_a_report_dir_to_be_created_is_accepted_and_not_created_yet(tmp_path: Path) -> None:
    config = _load(tmp_path, report_dir=tmp_path / "new" / "reports")

    assert config.report_dir == tmp_path / "new" / "reports"
    assert not (tmp_path / "new").exists()


def test_the_cli_exits_2_with_one_line_before_any_connection(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_connection(*args: object, **kwargs: object) -> None:
        raise AssertionError("a host was contacted")

    monkeypatch.setattr("smtpcheck.remote.facts.open_connection", no_connection)
    monkeypatch.delenv("WEB_SUDO_PW", raising=False)
    argv = ["audit", "--hosts", "web1", "--app", "joomla", "--report-dir", str(tmp_path / "r"),
            "--sudo", "--sudo-password-env", "WEB_SUDO_PW"]  # fmt: skip

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "smtpcheck: error: paramiko://web1: sudo password variable WEB_SUDO_PW is not set in "
        "the environment\n"
    )


# --- what is read is capped ----------------------------------------------------------------------


def _returns_within(seconds: float, call: Any) -> BaseException | None:
    """Run ``call`` in a thread; the error it raised (the test fails if it hangs)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call()
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"still running after {seconds} s"
    return outcome[0]


def test_config_dev_zero_is_refused_not_read(tmp_path: Path) -> None:
    error = _returns_within(
        5, lambda: load_audit_config(AuditOptions(config=Path("/dev/zero")), environ={})
    )

    assert isinstance(error, ConfigError)
    assert str(error) == "cannot read config /dev/zero: not a regular file (a character device)"


def test_a_fifo_config_does_not_hang(tmp_path: Path) -> None:
    fifo = tmp_path / "config.fifo"
    os.mkfifo(fifo)

    error = _returns_within(5, lambda: load_audit_config(AuditOptions(config=fifo), environ={}))

    assert isinstance(error, ConfigError) and str(error).endswith("not a regular file (a pipe)")


def test_a_config_over_the_cap_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.toml"
    path.write_text("# " + "x" * MAX_INPUT_BYTES + "\n")

    with pytest.raises(ConfigError, match=r"^cannot read config .*big\.toml: larger than 1 MiB$"):
        load_audit_config(AuditOptions(config=path), environ={})


@pytest.mark.parametrize(
    "options",
    [AuditOptions(inventory=Path("/dev/zero")), AuditOptions(adt_template=Path("/dev/zero"))],
    ids=["inventory", "adt-template"],
)
def test_inventory_and_template_dev_zero_are_refused(options: AuditOptions) -> None:
    error = _returns_within(5, lambda: load_audit_config(options, environ={}))

    assert isinstance(error, ConfigError)
    assert str(error).endswith("/dev/zero: not a regular file (a character device)")


DEEP = "x = " + "[" * 5000 + "]" * 5000 + "\n"


def test_a_deeply_nested_config_is_a_config_error(tmp_path: Path) -> None:
    message = _error(tmp_path, DEEP)

    assert message == f"{tmp_path}/smtpcheck.toml: not valid TOML: nested too deeply"


def test_a_deeply_nested_inventory_is_an_inventory_error(tmp_path: Path) -> None:
    inventory = tmp_path / "deep.toml"
    inventory.write_text("[[hosts]]\naddress = " + "[" * 5000 + "]" * 5000 + "\n")

    with pytest.raises(InventoryError) as caught:
        _load(tmp_path, inventory=inventory)

    assert one_line(caught.value) == f"{inventory}: not valid TOML: nested too deeply"


# --- item 12: a no-host audit tests the provider's own port ---------------------------------------

IREDMAIL = """\
[expected]
SYSTEM_EMAIL_PROVIDER = "iredmail"
SYSTEM_EMAIL_USERNAME = "relay@example.net"
SYSTEM_EMAIL_PASSWORD = "pw"
SYSTEM_FROMEMAIL_ADDRESS = "noreply@example.net"

[providers.iredmail]            # the README's self-hosted relay
name = "iRedMail relay"
endpoint = "mail.example.net"
ports = { 587 = { tls = "starttls" } }
"""


def test_a_starttls_only_provider_is_tested_on_its_starttls_port(tmp_path: Path) -> None:
    config = _load(tmp_path, IREDMAIL)

    deployed = deployed_from_settings(config.expected)
    assert deployed is not None
    assert (deployed.port, deployed.tls) == (587, TlsMode.STARTTLS)
    [target] = plan_relay_targets([("build-time settings", deployed)], config.providers)
    assert target.endpoint is not None
    assert (target.endpoint.host, target.endpoint.port, target.endpoint.tls) == (
        "mail.example.net",
        587,
        TlsMode.STARTTLS,
    )
    assert target.endpoint.notes == ()  # not "iRedMail relay is not known to serve port 465"


def test_a_provider_serving_465_is_tested_with_implicit_tls(tmp_path: Path) -> None:
    config = _load(tmp_path, IREDMAIL.replace('"iredmail"', '"mailjet"', 1))

    deployed = deployed_from_settings(config.expected)
    assert deployed is not None and (deployed.port, deployed.tls) == (465, TlsMode.IMPLICIT)


def test_the_operator_picks_the_port_with_settings_port(tmp_path: Path) -> None:
    text = (
        IREDMAIL.replace('"iredmail"', '"mailjet"', 1)
        + "[providers.mailjet]\nsettings_port = 2525\n"
    )

    deployed = deployed_from_settings(_load(tmp_path, text).expected)

    assert deployed is not None and (deployed.port, deployed.tls) == (2525, TlsMode.STARTTLS)


def test_a_settings_port_the_provider_does_not_declare_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, IREDMAIL + "settings_port = 465\n")

    assert message == (
        "providers.iredmail.settings_port: iRedMail relay declares no port 465 (its ports: 587); "
        "add it to providers.iredmail.ports with its tls mode"
    )


def test_a_new_provider_without_ports_is_refused(tmp_path: Path) -> None:
    text = "[providers.bare]\nname = 'Bare'\nendpoint = 'relay.example'\nports = {}\n"

    assert _error(tmp_path, text) == "providers.bare.ports: a new provider needs at least one port"


# --- waivers, baseline, history, key, extra reports: checked before the audit (issue 9) ---------


def test_fail_on_new_without_a_baseline_is_a_usage_error(tmp_path: Path) -> None:
    message = _error(tmp_path, domains=("example.org",), fail_on_new=True)
    assert message.startswith("--fail-on-new needs a baseline")


def test_a_bad_waiver_file_in_the_config_stops_the_audit(tmp_path: Path) -> None:
    (tmp_path / "w.toml").write_text('[[waiver]]\ncontrol = "NOPE-1"\n')
    text = f'[audit]\nwaivers = "{tmp_path / "w.toml"}"\n'
    assert "waiver 1" in _error(tmp_path, text, domains=("example.org",))


def test_an_unknown_extra_report_is_refused(tmp_path: Path) -> None:
    text = '[audit]\nextra_reports = ["sarif", "pdf"]\n'
    assert "unknown extra report 'pdf'" in _error(tmp_path, text, domains=("example.org",))


def test_history_key_is_made_0600_by_the_audit_not_by_checking_the_config(
    tmp_path: Path,
) -> None:
    history = tmp_path / "history"

    config = _load(tmp_path, domains=("example.org",), history=history)

    key_file = history / "fingerprint.key"
    assert not history.exists()  # checking a config makes nothing
    over_time = config.over_time
    assert over_time.key_file == key_file and over_time.baseline is None  # no run yet
    audit = Audit(config, environ={})
    assert (key_file.stat().st_mode & 0o777) == 0o600
    assert audit.fingerprint_key is not None
    again = _load(tmp_path, domains=("example.org",), history=history)
    assert again.over_time.fingerprint_key == audit.fingerprint_key  # found, and reused
    assert key_file.read_text().strip() not in repr(again)  # the key is never shown


def test_a_key_others_can_read_is_refused_before_the_audit(tmp_path: Path) -> None:
    key = tmp_path / "k"
    key.write_text("ab" * 32)
    key.chmod(0o644)
    assert "readable or writable by others" in _error(
        tmp_path, domains=("example.org",), fingerprint_key=key)  # fmt: skip


def test_a_history_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "history").write_text("")
    assert "not a directory" in _error(tmp_path, domains=("example.org",),
                                       history=tmp_path / "history")  # fmt: skip


def test_a_known_hosts_file_every_paramiko_host_shares_is_read_before_any_host(
    tmp_path: Path,
) -> None:
    known = tmp_path / "known_hosts"
    known.write_bytes(b"\x7fELF\x00\x01\xff\xfe" * 8)

    message = _error(tmp_path, hosts="paramiko://u@192.0.2.1", app="wordpress",
                     known_hosts=known)  # fmt: skip

    assert message == f"cannot use known_hosts {known}: line 1 is not text"
    # local:// hosts use no known_hosts: the file is not their problem
    assert _load(tmp_path, hosts="local://", app="wordpress", known_hosts=known).targets
