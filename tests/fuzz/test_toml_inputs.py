"""The operator's TOML files: the inventory (``targets.parse_inventory``) and the config file
(``config.read_config_file``, ``config.load_audit_config``). Any document, and any text that is
not TOML at all (nested thousands deep too), is loaded or refused with the project's own one-line
error (InventoryError, ConfigError: exit status 2); never another exception, never a
RecursionError. A password written in a host URL never shows in a target or an error message.
"""

from __future__ import annotations

import tempfile
import tomllib
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smtpcheck.config import _TABLES, AuditConfig, AuditOptions, load_audit_config, read_config_file
from smtpcheck.errors import ConfigError, InventoryError
from smtpcheck.providers import MAX_SECONDS, PROVIDER_KEYS
from smtpcheck.targets import _HOST_KEYS, BACKENDS, App, HostTarget, parse_inventory
from tests.fuzz import tomlgen
from tests.fuzz.tomlgen import TEXT, deep, dumps

# --- values an operator might write for each key ----------------------------------------------

_PATH = st.sampled_from(["~nosuchuser-smtpcheck/key", "/nonexistent/key", "", "/etc/hostname",
                         "/dev/null", "a\0b", "~"])  # fmt: skip
_HOSTNAME = st.sampled_from(["web1.shop.example", "10.0.0.5", "[::1]", "::1", "[::1", "a]b",
                             "", "h:99999999999999999999", "h:²", "h:0", "h:", "é.example",
                             "user@host", "u:p@h:22"])  # fmt: skip
_URL = st.builds(
    lambda scheme, host, query: f"{scheme}{host}{query}",
    st.sampled_from(["paramiko://", "ssh://", "local://", "docker://", "", "PARAMIKO://"]),
    _HOSTNAME,
    st.sampled_from(["", "?sudo=true", "?timeout=5", "?timeout=nan", "?timeout=1e999",
                     "?timeout=x", "?sudo_user=www-data", "?ssh_identity_file=~nosuchuser/k",
                     "?ssh_config=/etc/ssh/ssh_config", "#frag", "?"]),
)  # fmt: skip
_NUMBER = st.one_of(tomlgen.SCALARS, st.sampled_from([0, -1, 1, 22, 1035, 65535, 65536]),
                    st.sampled_from([0.0, -1.0, 0.5, 86400.0, 86401.0, float("nan"), float("inf")]),
                    st.sampled_from(["22", "²", "9" * 30]))  # fmt: skip
_ANY = tomlgen.values()


def _either(valid: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> Any:
    """Mostly a value that passes (so the next check is reached), sometimes a hostile one,
    sometimes any TOML value at all."""
    return st.one_of(valid, valid, valid, hostile, _ANY)


_RARELY = st.sampled_from([False] * 9 + [True])


_HOST_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": _either(st.sampled_from(["shop-web-1", "web 2"]), TEXT),
    "url": _either(
        st.sampled_from(
            [
                "paramiko://deploy@web1.shop.example:1035",
                "ssh://web2",
                "local://",
                "web3.shop.example",
            ]
        ),
        _URL | st.just(""),
    ),
    "address": _either(st.sampled_from(["web1.shop.example", "10.0.0.5", "[::1]:22"]), _HOSTNAME),
    "port": _either(st.sampled_from([22, 1035]), _NUMBER),
    "user": _either(st.sampled_from(["XabcdefghijklmnopqrX", "root"]), TEXT),
    "app": _either(
        st.sampled_from([app.value for app in App]),
        st.sampled_from(["WordPress", " joomla ", "drupal7", ""]),
    ),
    "identity_file": _either(st.just("~/.ssh/id_ed25519"), _PATH),
    "ssh_config": _either(st.just("/etc/ssh/ssh_config"), _PATH),
    "sudo": _either(st.booleans(), st.just("true")),
    "sudo_user": _either(st.just("www-data"), TEXT),
    "sudo_password_env": _either(
        st.just("SMTPCHECK_SUDO_PASSWORD"), st.sampled_from(["not a name", ""])
    ),
    "timeout": _either(st.sampled_from([5, 2.5]), _NUMBER),
    "run_php": _either(st.booleans(), st.just(1)),
    "server_user": _either(
        st.just("XabcdefghijklmnopqrX"), st.sampled_from(["-x", "a" * 40, "", "é"]) | TEXT
    ),
}


@st.composite
def _host_table(draw: st.DrawFn, *, defaults: bool = False) -> dict[str, Any]:
    """A host entry that would load, with a few keys given other values."""
    table: dict[str, Any] = {} if defaults else {
        draw(st.sampled_from(["url", "address"])): "web1.shop.example",
        "app": "wordpress",
        "name": draw(st.sampled_from(["web-1", "web-2", "web-3"])),
    }  # fmt: skip
    for key in draw(st.lists(st.sampled_from(sorted(_HOST_KEYS)), unique=True, max_size=4)):
        table[key] = draw(_HOST_VALUES[key])
    if draw(_RARELY):
        table[draw(TEXT)] = draw(_ANY)  # a key no host table has
    return table


@st.composite
def inventories(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if draw(st.booleans()):
        document["defaults"] = draw(_host_table(defaults=True) if not draw(_RARELY) else _ANY)
    hosts = st.lists(_host_table(), min_size=1, max_size=3)
    document["hosts"] = draw(hosts if not draw(_RARELY) else _ANY)
    if draw(_RARELY):
        document[draw(TEXT)] = draw(_ANY)
    return document


def _dumped(document: dict[str, Any]) -> str:
    text = dumps(document)
    assert tomlgen.same(tomllib.loads(text), document)  # the writer wrote what was generated
    return text


def _check_targets(targets: list[HostTarget], document: dict[str, Any]) -> None:
    assert isinstance(targets, list) and len(targets) == len(document["hosts"]) > 0
    assert len({target.name for target in targets}) == len(targets)
    for target in targets:
        assert target.backend in BACKENDS and isinstance(target.app, App)
        assert target.port is None or 0 < target.port < 65536
        assert 0 < target.timeout <= MAX_SECONDS


def _inventory(text: str) -> list[HostTarget] | InventoryError:
    try:
        result: list[HostTarget] | InventoryError = parse_inventory(text, "fleet.toml")
    except InventoryError as exc:
        result = exc
    if isinstance(result, InventoryError):
        assert str(result).startswith("fleet.toml")  # every message names the file
    return result


@given(document=inventories())
@example(document={"hosts": [{"url": "", "app": "wordpress"}]})  # KeyError: 'address'
@example(
    document={
        "hosts": [{"address": "h", "app": "wordpress", "identity_file": "~nosuchuser-smtpcheck/k"}]
    }
)  # RuntimeError
def test_an_inventory_document_is_hosts_or_an_inventory_error(document: dict[str, Any]) -> None:
    result = _inventory(_dumped(document))

    if not isinstance(result, InventoryError):
        _check_targets(result, document)


_RAW = st.one_of(
    st.text(),
    st.builds(deep, st.sampled_from(["array", "table", "header"]), st.integers(1, 3000)),
    st.lists(st.sampled_from(["[hosts]", "[[hosts]]", "[defaults]", "url = ", '"', "'", "=",
                              "\n", "[", "]", "{", "}", ",", "app = \"wordpress\"", "1",
                              'address = "h"', "port = 99999999999999999999"]),
             max_size=20).map("".join),
)  # fmt: skip


@given(text=_RAW)
def test_any_text_is_hosts_or_an_inventory_error(text: str) -> None:
    _inventory(text)


# --- a password in a host URL -----------------------------------------------------------------

# Characters that cannot appear in a message by coincidence (messages are lower-case English,
# host names, short numbers), the URL delimiters a password may hold, and the sub-delims.
_PASSWORD = st.text(st.sampled_from(list("QZ0123456789é€?#/@:[]% !$&'()*+,;=")), min_size=8,
                    max_size=20)  # fmt: skip
_DELIMITERS = "?#/@:[]%"


def _shown_pieces(written: str) -> set[str]:
    """What of a password written in a URL must never be shown: the whole of it, and every run
    of six or more characters between URL delimiters (a part taken for a port, a host, a path)."""
    runs, run = set(), ""
    for char in written + _DELIMITERS[0]:
        if char in _DELIMITERS:
            if len(run) >= 6:
                runs.add(run)
            run = ""
        else:
            run += char
    return runs | {written}


@given(
    password=_PASSWORD,
    encode=st.booleans(),
    host=st.sampled_from(["web1.shop.example:1035", "web1.shop.example", "[::1]:22"]),
    query=st.sampled_from(["", "?sudo=true"]),
)
@example(password="QZ0123?456789Z", encode=False, host="web1.shop.example", query="")
@example(password="12345#QZQZQZ", encode=False, host="web1.shop.example", query="")
@example(password="@000000?", encode=False, host="web1.shop.example:1035", query="")  # the host
def test_a_url_password_never_shows(password: str, encode: bool, host: str, query: str) -> None:
    written = urllib.parse.quote(password, safe="") if encode else password
    document = {"hosts": [{"url": f"paramiko://deploy:{written}@{host}{query}", "app": "joomla"}]}

    result = _inventory(_dumped(document))

    if isinstance(result, InventoryError):
        shown = str(result)
    else:
        [target] = result
        shown = "\n".join([target.name, target.url, repr(target), str(target.host),
                           str(target.port), str(target.user)])  # fmt: skip
        if encode:  # read as the password, kept as a Secret
            assert target.password is not None and target.password.reveal() == password
    leaked = [piece for piece in _shown_pieces(written) | {password} if piece in shown]
    assert leaked == []


# --- the config file --------------------------------------------------------------------------

_PORTS = st.dictionaries(
    st.sampled_from(["465", "587", "2525", "0", "x", "²", "99999"]),
    st.fixed_dictionaries({}, optional={
        "tls": st.sampled_from(["implicit", "starttls", "none", "x"]),
        "confidence": st.sampled_from(["P", "S", "U", "D", "x"])}),
    max_size=3,
)  # fmt: skip
_CONFIDENCE = _either(st.sampled_from(["P", "S", "U", "D"]), st.just("x"))
_PROVIDER_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "name": _either(st.just("Relay"), TEXT),
    "endpoint": _either(st.just("relay.example.net"), TEXT),
    "ports": _either(st.just({"587": {"tls": "starttls"}}), _PORTS),
    "host_regex": _either(st.just("^in-v3\\.mailjet\\.com$"), st.sampled_from(
        ["(", "(" * 2000 + ")" * 2000, "a{4294967296}", "a{2,1}", "(?P<region>[a-z0-9-]+)", "\\"]
    ) | TEXT),
    "code": _either(st.sampled_from([7, 99]), st.sampled_from([1, 2, -1, 2**63 - 1])),
    "port_map": _either(st.just({"587": 10587}), st.dictionaries(
        st.sampled_from(["465", "587", "x", "0"]), st.sampled_from([10465, 0, 70000, "1"]),
        max_size=2)),
    "ca_file": _either(st.just(""), _PATH),
    "timeout": _either(st.just(5), _NUMBER),
    "settings_port": _either(st.just(587), _NUMBER),
    "connect_address": _either(st.sampled_from(["127.0.0.1", "::1"]), st.just("")),
    "dkim_record": _either(st.sampled_from(["txt", "cname"]), st.just("x")),
    "spf_confidence": _CONFIDENCE,
    "dkim_confidence": _CONFIDENCE,
    "return_path_confidence": _CONFIDENCE,
    "dkim_cname_suffix": _either(st.just("dkim.amazonses.com"), TEXT),
}  # fmt: skip
_SECTION_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "layers": _either(st.just(["host", "dns"]),
                      st.lists(st.sampled_from(["host", "dns", "relay", "x", ""]), max_size=3)),
    "domains": _either(st.just(["example.com"]), st.lists(st.sampled_from(
        ["example.com", "a..b", "é.example", "x" * 300, "1.2", " example.org. "]), max_size=3)),
    "nameservers": _either(st.just(["127.0.0.1:53"]), st.lists(st.sampled_from(
        ["127.0.0.1", "127.0.0.1:²", "[::1]:" + "9" * 5000, "::1", "name", "[::1"]),
        max_size=2)),
    "report_dir": _either(st.just("reports"), _PATH),
    "jobs": _either(st.just(4), _NUMBER),
    "known_hosts": _either(st.just("~/.ssh/known_hosts"), _PATH),
    "command_timeout": _either(st.just(30), _NUMBER),
    "max_file_bytes": _either(st.just(65536), _NUMBER),
    "timeout": _either(st.just(2), _NUMBER),
    "retries": _either(st.just(1), _NUMBER),
    "zone_file": _either(st.just("example.com.zone"), _PATH),
    "host": _either(st.just("imap.example.net"), TEXT),
    "user": _either(st.just("ops@example.net"), TEXT),
    "port": _either(st.just(993), _NUMBER),
    "poll_interval": _either(st.just(2), _NUMBER),
    "password_env": _either(st.just("SMTPCHECK_FUZZ_MAILBOX"), st.just("UNSET")),
    "ca_file": _either(st.just(""), _PATH),
    "tls": _either(st.sampled_from(["implicit", "starttls"]), st.just("none")),
    "folders": _either(st.just(["INBOX"]), st.just([])),
    "SYSTEM_EMAIL_PROVIDER": _either(st.sampled_from(["2", "mailjet"]), st.sampled_from(["9", ""])),
    "SYSTEM_FROMEMAIL_ADDRESS": _either(st.just("notifications@example.com"), TEXT),
}  # fmt: skip


_MAILBOX = {"host": "imap.example.net", "user": "ops@example.net",
            "password_env": "SMTPCHECK_FUZZ_MAILBOX"}  # fmt: skip
_NEW_PROVIDER = {"name": "Relay", "endpoint": "relay.example.net",
                 "ports": {"587": {"tls": "starttls"}}}  # fmt: skip


@st.composite
def _section(draw: st.DrawFn, name: str) -> dict[str, Any]:
    """A table that would load, with a few keys given other values."""
    table: dict[str, Any] = dict(_MAILBOX) if name == "mailbox" else {}
    known = sorted(_TABLES[name] or ())
    for key in draw(st.lists(st.sampled_from(known), unique=True, max_size=4)):
        table[key] = draw(_SECTION_VALUES.get(key, _either(TEXT, _ANY)))
    return table


@st.composite
def _providers(draw: st.DrawFn) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for key in draw(st.lists(st.sampled_from(["mailjet", "ses", "relay", ""]), unique=True,
                             max_size=2)):  # fmt: skip
        table: dict[str, Any] = {} if key in ("mailjet", "ses") else dict(_NEW_PROVIDER)
        for name in draw(st.lists(st.sampled_from(sorted(PROVIDER_KEYS)), unique=True,
                                  max_size=4)):  # fmt: skip
            table[name] = draw(_PROVIDER_VALUES.get(name, _either(TEXT, _ANY)))
        tables[key] = table
    return tables


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    document: dict[str, Any] = {}
    for name in draw(st.lists(st.sampled_from(sorted(_TABLES)), unique=True, max_size=4)):
        document[name] = draw(_providers()) if name == "providers" else draw(_section(name))
    if draw(_RARELY):
        document[draw(TEXT)] = draw(_ANY)
    return document


@pytest.fixture(scope="module")
def config_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="smtpcheck-fuzz-config-") as name:
        yield Path(name)


def _load(path: Path, text: str) -> AuditConfig | ConfigError:
    path.write_text(text, encoding="utf-8")
    try:
        read_config_file(path)
        return load_audit_config(
            AuditOptions(config=path), environ={"SMTPCHECK_FUZZ_MAILBOX": "mailbox-pw"}
        )
    except ConfigError as exc:
        return exc


@given(document=configs())
@example(document={"providers": {"relay": {"host_regex": "(" * 2000 + ")" * 2000}}})
@example(document={"providers": {"relay": {"host_regex": "a{4294967296}"}}})
@example(document={"audit": {"nameservers": ["127.0.0.1:²"]}})
@example(document={"ssh": {"known_hosts": "~nosuchuser-smtpcheck/known_hosts"}})
@example(document={"mailbox": {**_MAILBOX, "ca_file": "\0"}})  # ValueError: embedded null byte
def test_a_config_document_loads_or_is_a_config_error(
    config_dir: Path, document: dict[str, Any]
) -> None:
    result = _load(config_dir / "smtpcheck.toml", _dumped(document))

    if isinstance(result, AuditConfig):
        assert result.jobs >= 1 and result.layers and result.max_file_bytes >= 1
        assert 0 <= result.dns_retries <= 10 and 0 < result.dns_timeout <= MAX_SECONDS


@given(text=_RAW)
def test_any_config_text_loads_or_is_a_config_error(config_dir: Path, text: str) -> None:
    _load(config_dir / "raw.toml", text)
