"""Host URLs (testinfra's parser) and the TOML inventory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from smtpcheck.errors import InventoryError
from smtpcheck.secrets import REDACTOR
from smtpcheck.targets import (
    App,
    HostTarget,
    apply_common,
    parse_host_url,
    parse_hosts_option,
    parse_inventory,
    read_inventory,
)
from tests.unit.builders import one_line

URLS: dict[str, tuple[str, dict[str, Any]]] = {
    "paramiko-user-port": (
        "paramiko://X1a2b3c4d5e6f7g8h9iX@web1.shop.example:1035",
        {
            "name": "paramiko://X1a2b3c4d5e6f7g8h9iX@web1.shop.example:1035",
            "backend": "paramiko",
            "host": "web1.shop.example",
            "port": 1035,
            "user": "X1a2b3c4d5e6f7g8h9iX",
        },
    ),
    "ssh": (
        "ssh://root@web2",
        {"name": "ssh://root@web2", "backend": "ssh", "host": "web2", "port": None},
    ),
    "local": ("local://", {"name": "local://", "backend": "local", "host": None, "user": None}),
    "no-scheme-is-paramiko": (
        "deploy@10.0.0.5:22",
        {
            "name": "paramiko://deploy@10.0.0.5:22",
            "backend": "paramiko",
            "host": "10.0.0.5",
            "port": 22,
        },
    ),
    "bare-host": ("web3", {"name": "paramiko://web3", "host": "web3", "user": None, "port": None}),
    "ipv6-port": (
        "paramiko://[::1]:2222",
        {"name": "paramiko://[::1]:2222", "host": "::1", "port": 2222},
    ),
    "ipv6-user": (
        "ssh://u@[fe80::1]",
        {"name": "ssh://u@[fe80::1]", "host": "fe80::1", "port": None},
    ),
    "sudo-and-identity": (
        "paramiko://web1?sudo=true&ssh_identity_file=/keys/id_ed25519_AGILE",
        {"name": "paramiko://web1", "sudo": True, "identity_file": Path("/keys/id_ed25519_AGILE")},
    ),
    "sudo-false": ("paramiko://web1?sudo=false", {"sudo": False}),
    "sudo-user-config-timeout": (
        "ssh://web1?sudo=true&sudo_user=www-data&ssh_config=/etc/ssh/cfg&timeout=3.5",
        {"sudo": True, "sudo_user": "www-data", "ssh_config": Path("/etc/ssh/cfg"), "timeout": 3.5},
    ),
    "percent-encoded-user": (
        "paramiko://d%40ploy@web1",
        {"user": "d@ploy", "host": "web1"},
    ),
}


@pytest.mark.parametrize(("url", "fields"), URLS.values(), ids=URLS.keys())
def test_host_urls(url: str, fields: dict[str, Any]) -> None:
    target = parse_host_url(url, "wordpress")

    assert target.app is App.WORDPRESS
    assert target.credential_path == "/var/www/wordpresssmtp"
    assert target.password is None
    for name, value in fields.items():
        assert getattr(target, name) == value, name


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("paramiko://deploy:Zq8-url-secret@web1:1035", "paramiko://deploy@web1:1035"),
        ("deploy:Zq8-url-secret@web1", "paramiko://deploy@web1"),
        ("ssh://deploy:Zq8-url-secret@[::1]:22", "ssh://deploy@[::1]:22"),
    ],
)
def test_password_in_url_is_a_secret_and_hidden_from_name_url_and_repr(url: str, name: str) -> None:
    target = parse_host_url(url, "moodle")

    assert target.password is not None
    assert target.password.reveal() == "Zq8-url-secret"
    assert target.name == target.url == name
    for text in (target.name, target.url, repr(target), str(target)):
        assert "Zq8-url-secret" not in text
    assert REDACTOR.scrub("x Zq8-url-secret y") == "x <redacted> y"


def test_password_containing_colon_is_kept_whole() -> None:
    target = parse_host_url("paramiko://u:Pw:with:colons@web1", "drupal")

    assert target.password is not None and target.password.reveal() == "Pw:with:colons"
    assert target.name == "paramiko://u@web1"


@pytest.mark.parametrize(
    ("url", "app", "message"),
    [
        pytest.param(
            "docker://web1",
            "joomla",
            "--hosts: backend 'docker' is not supported (use paramiko, ssh, local)",
            id="unsupported-backend",
        ),
        pytest.param("ansible://all", "joomla", "backend 'ansible' is not supported", id="ansible"),
        pytest.param(
            "web1",
            None,
            "--hosts: 'web1' has no application: give --app or an inventory",
            id="missing-app",
        ),
        pytest.param(
            "web1",
            "typo3",
            "--hosts: app 'typo3' is not one of wordpress, moodle, drupal, joomla",
            id="unknown-app",
        ),
        pytest.param("  ", "joomla", "--hosts: empty host", id="empty"),
        pytest.param("paramiko://", "joomla", "names no host", id="no-host"),
        pytest.param(
            "paramiko://web1:99999", "joomla", "port 99999 is out of range", id="port-range"
        ),
        pytest.param("paramiko://web1:ssh", "joomla", "port 'ssh' is not a number", id="port-name"),
        pytest.param(
            "ssh://web1?timeout=soon",
            "joomla",
            "timeout 'soon' is not a number",
            id="timeout-not-number",
        ),
        pytest.param(
            "ssh://web1?timeout=0", "joomla", "timeout must be a positive", id="timeout-zero"
        ),
        pytest.param(
            "paramiko://[::1",
            "joomla",
            "--hosts: 'paramiko://[::1' is not a host URL",
            id="ipv6-unclosed",
        ),
    ],
)
def test_invalid_host_url_is_one_line_inventory_error(
    url: str, app: str | None, message: str
) -> None:
    with pytest.raises(InventoryError) as caught:
        parse_host_url(url, app)

    assert message in one_line(caught.value)


@pytest.mark.parametrize(
    ("url", "app"),
    [
        pytest.param("paramiko://deploy:Pw-in-error-1@web1", None, id="missing-app"),
        pytest.param("paramiko://deploy:Pw-in-error-1@", "joomla", id="no-host"),
        pytest.param("deploy:Pw-in-error-1@[::1", "joomla", id="malformed"),
    ],
)
def test_url_errors_never_show_the_password(url: str, app: str | None) -> None:
    """The plugin turns these messages into a pytest UsageError without the redactor."""
    with pytest.raises(InventoryError) as caught:
        parse_host_url(url, app)

    assert "Pw-in-error-1" not in str(caught.value)
    assert "deploy" in str(caught.value)


def test_hosts_option_is_comma_separated() -> None:
    targets = parse_hosts_option("web1, ssh://web2,,local://", "joomla")

    assert [t.name for t in targets] == ["paramiko://web1", "ssh://web2", "local://"]
    assert {t.credential_path for t in targets} == {"/var/www/html/configuration.php"}


def test_command_line_ssh_options_fill_only_what_is_unset() -> None:
    own, bare = parse_hosts_option("web1?ssh_identity_file=/own&sudo=true,web2", "moodle")

    own2, bare2 = apply_common(
        [own, bare], identity_file=Path("/common"), sudo=True, sudo_password_env="SUDO_PW"
    )

    assert own2.identity_file == Path("/own")
    assert bare2.identity_file == Path("/common")
    assert bare2.sudo and bare2.sudo_password_env == "SUDO_PW"


# --- inventory ----------------------------------------------------------------------------------

INVENTORY = """\
[defaults]
app = "wordpress"
port = 1035
user = "X1a2b3c4d5e6f7g8h9iX"
sudo = true
sudo_password_env = "ADT_SUDO_PASSWORD"
identity_file = "/keys/id_ed25519_AGILE_DEPLOYMENT_BUILD_KEY_shop"

[[hosts]]
address = "web1.shop.example"

[[hosts]]
name = "joomla-1"
url = "ssh://other@web2.shop.example:22?sudo_user=www-data"
app = "joomla"
run_php = false
timeout = 5

[[hosts]]
address = "10.0.0.7"
app = "moodle"
port = 2222
sudo = false
timeout = 2.5
"""


def test_inventory_defaults_merge_and_entries_override() -> None:
    web1, joomla, moodle = parse_inventory(INVENTORY, "fleet.toml")

    assert web1 == HostTarget(
        name="paramiko://X1a2b3c4d5e6f7g8h9iX@web1.shop.example:1035",
        backend="paramiko",
        app=App.WORDPRESS,
        host="web1.shop.example",
        port=1035,
        user="X1a2b3c4d5e6f7g8h9iX",
        identity_file=Path("/keys/id_ed25519_AGILE_DEPLOYMENT_BUILD_KEY_shop"),
        sudo=True,
        sudo_password_env="ADT_SUDO_PASSWORD",
    )
    # A URL's own user and port win over the defaults; the entry's name wins over the URL.
    assert (joomla.name, joomla.backend, joomla.user, joomla.port) == (
        "joomla-1",
        "ssh",
        "other",
        22,
    )
    assert (joomla.app, joomla.run_php, joomla.timeout, joomla.sudo_user) == (
        App.JOOMLA,
        False,
        5.0,
        "www-data",
    )
    assert (moodle.name, moodle.port, moodle.sudo, moodle.timeout) == (
        "paramiko://X1a2b3c4d5e6f7g8h9iX@10.0.0.7:2222",
        2222,
        False,
        2.5,
    )


def _hosts(*entries: str, defaults: str = "") -> str:
    head = f"[defaults]\n{defaults}\n" if defaults else ""
    return head + "".join(f"[[hosts]]\n{entry}\n" for entry in entries)


INVENTORY_ERRORS = {
    "url-and-address": (
        _hosts('url = "web1"\naddress = "web1"\napp = "moodle"'),
        "inv.toml: hosts[0]: give exactly one of url or address",
    ),
    "neither-url-nor-address": (
        _hosts('app = "moodle"'),
        "inv.toml: hosts[0]: give exactly one of url or address",
    ),
    "unknown-key": (
        _hosts('address = "w"\napp = "moodle"', 'address = "x"\napp = "moodle"\npasword = "x"'),
        "inv.toml: hosts[1]: unknown key 'pasword' (known: address, app, identity_file, name, "
        "port, run_php, server_user, ssh_config, sudo, sudo_password_env, sudo_user, timeout, url, "
        "user)",
    ),
    "unknown-default-key": (
        _hosts('address = "w"', defaults='app = "moodle"\nconnection = "ssh"'),
        "inv.toml: defaults: unknown key 'connection'",
    ),
    "host-only-key-in-defaults": (
        _hosts('address = "w"', defaults='app = "moodle"\naddress = "x"'),
        "inv.toml: defaults: address belongs in a [[hosts]] entry",
    ),
    "port-string": (
        _hosts('address = "w"\napp = "moodle"\nport = "1035"'),
        "inv.toml: hosts[0]: port has the wrong type (str)",
    ),
    "port-bool": (
        _hosts('address = "w"\napp = "moodle"\nport = true'),
        "inv.toml: hosts[0]: port has the wrong type (bool)",
    ),
    "sudo-int": (
        _hosts('address = "w"\napp = "moodle"\nsudo = 1'),
        "inv.toml: hosts[0]: sudo has the wrong type (int)",
    ),
    "timeout-bool": (
        _hosts('address = "w"\napp = "moodle"\ntimeout = true'),
        "inv.toml: hosts[0]: timeout has the wrong type (bool)",
    ),
    "timeout-negative": (
        _hosts('address = "w"\napp = "moodle"\ntimeout = -1'),
        "inv.toml: hosts[0]: timeout must be a positive number of seconds",
    ),
    "app-int-in-defaults": (
        _hosts('address = "w"', defaults="app = 2"),
        "inv.toml: defaults: app has the wrong type (int)",
    ),
    "port-out-of-range": (
        _hosts('address = "w"\napp = "moodle"\nport = 0'),
        "inv.toml: hosts[0]: port 0 is out of range",
    ),
    "unknown-app": (
        _hosts('address = "w"\napp = "typo3"'),
        "inv.toml: hosts[0]: app 'typo3' is not one of wordpress, moodle, drupal, joomla",
    ),
    "no-app": (_hosts('address = "w"'), "inv.toml: hosts[0]: 'paramiko://w' has no application"),
    "unsupported-backend": (
        _hosts('url = "winrm://w"\napp = "moodle"'),
        "inv.toml: hosts[0]: backend 'winrm' is not supported",
    ),
    "duplicate-names": (
        _hosts('address = "w"', 'url = "paramiko://w"', defaults='app = "moodle"'),
        "inv.toml: duplicate host name(s) paramiko://w",
    ),
    "duplicate-explicit-names": (
        _hosts(
            'address = "a"\nname = "shop"',
            'address = "b"\nname = "shop"',
            defaults='app = "moodle"',
        ),
        "inv.toml: duplicate host name(s) shop",
    ),
    "empty-file": ("", "inv.toml: no [[hosts]] entries"),
    "only-defaults": ('[defaults]\napp = "moodle"\n', "inv.toml: no [[hosts]] entries"),
    "invalid-toml": ("[[hosts]\n", "inv.toml: not valid TOML: "),
    "unknown-table": ("[servers]\n", "inv.toml: unknown table(s) servers"),
    "hosts-as-table": ('[hosts]\naddress = "w"\n', "inv.toml: hosts must be an array of tables"),
    "hosts-as-strings": ('hosts = ["w1", "w2"]\n', "inv.toml: hosts must be an array of tables"),
    "defaults-not-table": ('defaults = "moodle"\n', "inv.toml: defaults must be a table"),
}


@pytest.mark.parametrize(
    ("text", "message"), INVENTORY_ERRORS.values(), ids=INVENTORY_ERRORS.keys()
)
def test_inventory_errors_are_one_line_naming_file_and_entry(text: str, message: str) -> None:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.toml")

    assert one_line(caught.value).startswith(message)


def test_inventory_url_password_is_never_in_an_error() -> None:
    text = _hosts('url = "paramiko://deploy:Inv-secret-77@web1"')

    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.toml")

    assert "Inv-secret-77" not in str(caught.value)


def test_unreadable_inventory_is_an_inventory_error(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match=r"^cannot read inventory .*missing\.toml"):
        read_inventory(tmp_path / "missing.toml")

    (tmp_path / "latin1.toml").write_bytes(b'[[hosts]]\naddress = "caf\xe9"\n')
    with pytest.raises(InventoryError, match=r"^cannot read inventory .*latin1\.toml"):
        read_inventory(tmp_path / "latin1.toml")


def test_inventory_that_is_not_a_regular_file_is_refused_before_reading(tmp_path: Path) -> None:
    """``/dev/zero`` used to be read until memory ran out; a FIFO must not hang either."""
    with pytest.raises(InventoryError) as caught:
        read_inventory(Path("/dev/zero"))
    assert one_line(caught.value) == (
        "cannot read inventory /dev/zero: not a regular file (a character device)"
    )

    fifo = tmp_path / "fleet.fifo"
    os.mkfifo(fifo)
    with pytest.raises(InventoryError, match=r"not a regular file \(a pipe\)$"):
        read_inventory(fifo)


def test_inventory_over_one_mib_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(_hosts('address = "w"\napp = "moodle"') + "#" * (1 << 20))

    with pytest.raises(InventoryError, match=r"^cannot read inventory .*: larger than 1 MiB$"):
        read_inventory(path)


def test_a_deeply_nested_inventory_is_one_line_not_a_recursion_error() -> None:
    text = "[[hosts]]\naddress = " + "[" * 5000 + "]" * 5000 + "\n"

    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.toml")

    assert one_line(caught.value) == "inv.toml: not valid TOML: nested too deeply"


@pytest.mark.parametrize("timeout", ["inf", "nan", "1e400", "86401"])
def test_a_url_timeout_must_be_finite(timeout: str) -> None:
    with pytest.raises(InventoryError, match="timeout must be a positive number of seconds"):
        parse_host_url(f"ssh://web1?timeout={timeout}", "joomla")


@pytest.mark.parametrize("timeout", ["inf", "nan", "-inf"])
def test_an_inventory_timeout_must_be_finite(timeout: str) -> None:
    with pytest.raises(InventoryError, match=r"hosts\[0\]: timeout must be a positive number"):
        parse_inventory(_hosts(f'address = "w"\napp = "moodle"\ntimeout = {timeout}'), "inv.toml")


def test_read_inventory_names_errors_after_the_path(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(_hosts('address = "w"\napp = "moodle"\nport = "x"'))

    with pytest.raises(InventoryError, match=f"^{path}: hosts\\[0\\]: port has the wrong type"):
        read_inventory(path)
