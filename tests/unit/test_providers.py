"""The relay provider catalogue: built-in profiles, lookups and config overrides."""

from __future__ import annotations

from typing import Any

import pytest

from smtpcheck.errors import ConfigError
from smtpcheck.providers import Confidence, ProviderCatalogue, TlsMode
from tests.unit.builders import CATALOGUE, one_line


@pytest.mark.parametrize(
    ("code", "key", "endpoint"),
    [
        (1, "sendpulse", "smtp-pulse.com"),
        (2, "mailjet", "in-v3.mailjet.com"),
        (3, "ses", "email-smtp.eu-west-1.amazonaws.com"),
    ],
)
def test_toolkit_codes(code: int, key: str, endpoint: str) -> None:
    provider = CATALOGUE.by_code(code)

    assert provider is not None
    assert (provider.key, provider.endpoint) == (key, endpoint)
    assert CATALOGUE.resolve(str(code)) is provider
    assert CATALOGUE.resolve(key.upper()) is provider
    assert CATALOGUE.get(key) is provider


@pytest.mark.parametrize("value", ["0", "4", "gmail2", "", "²", "-1"])
def test_resolve_unknown(value: str) -> None:
    assert CATALOGUE.resolve(value) is None


def test_gmail_has_no_toolkit_code_but_is_known_by_key() -> None:
    gmail = CATALOGUE.get("gmail")

    assert gmail is not None and gmail.code is None
    assert CATALOGUE.resolve("gmail") is gmail
    assert "gmail" not in CATALOGUE.describe_choices()


@pytest.mark.parametrize(
    ("host", "key", "region"),
    [
        pytest.param("smtp-pulse.com", "sendpulse", None, id="sendpulse"),
        pytest.param("SMTP-Pulse.COM.", "sendpulse", None, id="case-and-root-dot"),
        pytest.param(" in-v3.mailjet.com ", "mailjet", None, id="mailjet-v3-spaces"),
        pytest.param("in.mailjet.com", "mailjet", None, id="mailjet-gen-c-dev"),
        pytest.param("email-smtp.eu-west-1.amazonaws.com", "ses", "eu-west-1", id="ses-toolkit"),
        pytest.param("email-smtp.us-east-1.amazonaws.com", "ses", "us-east-1", id="ses-us"),
        pytest.param(
            "email-smtp.ap-southeast-2.amazonaws.com", "ses", "ap-southeast-2", id="ses-ap"
        ),
        pytest.param("email-smtp-fips.us-east-1.amazonaws.com", "ses", "us-east-1", id="ses-fips"),
        pytest.param(
            "email-smtp-fips.us-gov-west-1.amazonaws.com",
            "ses",
            "us-gov-west-1",
            id="ses-govcloud-fips",
        ),
        pytest.param(
            "email-smtp.us-gov-west-1.amazonaws.com", "ses", "us-gov-west-1", id="ses-govcloud"
        ),
        pytest.param("smtp.gmail.com", "gmail", None, id="gmail"),
        pytest.param(
            "email-smtp.eu-west-1.amazonaws.com.evil.example", None, None, id="ses-suffix-attack"
        ),
        pytest.param("xemail-smtp.eu-west-1.amazonaws.com", None, None, id="ses-prefix"),
        pytest.param("email-smtp.amazonaws.com", None, None, id="ses-no-region"),
        pytest.param("mail.smtp-pulse.com", None, None, id="subdomain-is-not-endpoint"),
        pytest.param("smtp.mailjet.com", None, None, id="unknown-mailjet-name"),
        pytest.param("", None, None, id="empty"),
    ],
)
def test_for_host(host: str, key: str | None, region: str | None) -> None:
    provider = CATALOGUE.for_host(host)

    assert (provider.key if provider else None) == key
    if provider is not None:
        assert provider.region(host) == region


@pytest.mark.parametrize(
    ("key", "ports"),
    [
        ("sendpulse", {465: ("implicit", "S"), 587: ("starttls", "S"), 2525: ("starttls", "U")}),
        (
            "mailjet",
            {
                465: ("implicit", "S"),
                587: ("starttls", "P"),
                2525: ("starttls", "P"),
                25: ("starttls", "S"),
            },
        ),
        (
            "ses",
            {
                465: ("implicit", "P"),
                2465: ("implicit", "P"),
                587: ("starttls", "P"),
                2587: ("starttls", "P"),
                25: ("starttls", "P"),
            },
        ),
        ("gmail", {465: ("implicit", "S"), 587: ("starttls", "S")}),
    ],
)
def test_builtin_ports(key: str, ports: dict[int, tuple[str, str]]) -> None:
    provider = CATALOGUE.get(key)

    assert provider is not None
    assert {
        p: (prof.tls.value, prof.confidence.value) for p, prof in provider.ports.items()
    } == ports
    assert all(prof.port == p for p, prof in provider.ports.items())


def test_describe_choices() -> None:
    assert CATALOGUE.describe_choices() == "1 or sendpulse, 2 or mailjet, 3 or ses"


def test_iteration_lists_every_provider() -> None:
    assert [p.key for p in CATALOGUE] == ["sendpulse", "mailjet", "ses", "gmail"]


# --- overrides ----------------------------------------------------------------------------------


def test_override_merges_ports_and_keeps_the_rest() -> None:
    catalogue = CATALOGUE.with_overrides(
        {
            "sendpulse": {
                "endpoint": "127.0.0.1",
                "ports": {
                    "2465": {"tls": "implicit"},
                    "587": {"tls": "starttls", "confidence": "U"},
                },
                "connect_address": "127.0.0.1",
            }
        }
    )

    provider = catalogue.get("sendpulse")
    assert provider is not None
    assert provider.endpoint == "127.0.0.1"
    assert sorted(provider.ports) == [465, 587, 2465, 2525]
    assert provider.ports[2465].tls is TlsMode.IMPLICIT
    assert provider.ports[2465].confidence is Confidence.PROVIDER  # the default tag
    assert provider.ports[587].confidence is Confidence.UNCONFIRMED
    assert provider.code == 1 and provider.spf_includes == (
        "mxsspf.sendpulse.com",
        "mxsmtp.sendpulse.com",
    )
    assert provider.extra["connect_address"] == "127.0.0.1"
    builtin = CATALOGUE.get("sendpulse")
    assert builtin is not None
    assert {k: v for k, v in provider.extra.items() if k != "connect_address"} == dict(
        builtin.extra
    )
    assert catalogue.for_host("127.0.0.1") is provider
    # the built-in catalogue is untouched
    builtin = CATALOGUE.get("sendpulse")
    assert (
        builtin is not None and builtin.endpoint == "smtp-pulse.com" and 2465 not in builtin.ports
    )


def test_new_provider() -> None:
    catalogue = CATALOGUE.with_overrides(
        {
            "labrelay": {
                "name": "Lab relay",
                "endpoint": "relay.lab.test",
                "code": 7,
                "ports": {"465": {"tls": "implicit", "confidence": "D"}},
                "spf_includes": ["spf.lab.test"],
            }
        }
    )

    provider = catalogue.resolve("7")
    assert provider is not None and provider is catalogue.get("labrelay")
    assert (provider.name, provider.endpoint, provider.spf_includes) == (
        "Lab relay",
        "relay.lab.test",
        ("spf.lab.test",),
    )
    assert provider.ports[465].confidence is Confidence.DERIVED
    assert catalogue.describe_choices().endswith("3 or ses, 7 or labrelay")


OVERRIDE_ERRORS: dict[str, tuple[dict[str, Any], str]] = {
    "not-a-table": ({"sendpulse": 5}, "providers.sendpulse must be a table"),
    "new-without-endpoint-ports": (
        {"labrelay": {"name": "Lab"}},
        "providers.labrelay: a new provider needs endpoint, ports",
    ),
    "new-without-anything": (
        {"labrelay": {"hosts": []}},
        "providers.labrelay: a new provider needs name, endpoint, ports",
    ),
    "bad-tls": (
        {"sendpulse": {"ports": {"465": {"tls": "ssl"}}}},
        "providers.sendpulse.ports.465: tls must be implicit or starttls, confidence one of "
        "P S U D",
    ),
    "missing-tls": (
        {"sendpulse": {"ports": {"465": {}}}},
        "providers.sendpulse.ports.465: tls must",
    ),
    "bad-confidence": (
        {"sendpulse": {"ports": {"465": {"tls": "implicit", "confidence": "high"}}}},
        "providers.sendpulse.ports.465: tls must be implicit or starttls, confidence one of",
    ),
    "misspelt-port-key": (
        {"sendpulse": {"ports": {"465": {"tls": "implicit", "confidense": "U"}}}},
        "providers.sendpulse.ports.465: unknown key(s) confidense (known: tls, confidence)",
    ),
    "tls-none": (
        {"sendpulse": {"ports": {"25": {"tls": "none"}}}},
        "providers.sendpulse.ports.25: a provider profile cannot declare a port without TLS",
    ),
    "port-not-number": (
        {"sendpulse": {"ports": {"smtps": {"tls": "implicit"}}}},
        "providers.sendpulse.ports.smtps: port 'smtps' is not a number",
    ),
    "port-out-of-range": (
        {"sendpulse": {"ports": {"65536": {"tls": "implicit"}}}},
        "providers.sendpulse.ports.65536: port 65536 is out of range",
    ),
    "port-spec-string": (
        {"sendpulse": {"ports": {"25": "starttls"}}},
        'providers.sendpulse.ports.25 must be a table like {tls = "starttls"}',
    ),
    "ports-list": ({"sendpulse": {"ports": [465]}}, "providers.sendpulse.ports must be a table"),
    "code-string": ({"sendpulse": {"code": "1"}}, "providers.sendpulse.code must be an integer"),
    # A misspelt relay override used to land in extra unread: the audit then resolved the
    # real relay with the operator's credentials.
    "misspelt-connect-address": (
        {"mailjet": {"connect_adress": "127.0.0.1"}},
        "providers.mailjet: unknown key(s) connect_adress (known: auth_mechanisms, ca_file, "
        "code, connect_address,",
    ),
    "misspelt-several": (
        {"mailjet": {"portmap": {}, "ca-file": "x"}},
        "providers.mailjet: unknown key(s) ca-file, portmap (known: ",
    ),
    "new-with-no-ports": (
        {"labrelay": {"name": "Lab", "endpoint": "relay.lab.test", "ports": {}}},
        "providers.labrelay.ports: a new provider needs at least one port",
    ),
    "code-bool": ({"sendpulse": {"code": True}}, "providers.sendpulse.code must be an integer"),
    "hosts-string": (
        {"mailjet": {"hosts": "in.mailjet.com"}},
        "providers.mailjet.hosts must be a list of strings",
    ),
    "selectors-ints": (
        {"mailjet": {"dkim_selectors": [1]}},
        "providers.mailjet.dkim_selectors must be a list of strings",
    ),
    "name-int": ({"ses": {"name": 3}}, "providers.ses.name must be a string"),
    "bad-regex": ({"ses": {"host_regex": "email-smtp.(.*"}}, "providers.ses.host_regex: missing )"),
    "duplicate-code": (
        {"sendpulse": {"code": 2}},
        "two providers declare the same toolkit code 2 (mailjet, sendpulse)",
    ),
    "duplicate-code-new": (
        {
            "labrelay": {
                "name": "L",
                "endpoint": "l",
                "code": 3,
                "ports": {"465": {"tls": "implicit"}},
            }
        },
        "two providers declare the same toolkit code 3 (labrelay, ses)",
    ),
}


@pytest.mark.parametrize(
    ("overrides", "message"), OVERRIDE_ERRORS.values(), ids=OVERRIDE_ERRORS.keys()
)
def test_override_errors(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CATALOGUE.with_overrides(overrides)

    assert one_line(caught.value).startswith(message)


def test_builtin_is_loaded_fresh_and_equal() -> None:
    again = ProviderCatalogue.builtin()

    assert list(again) == list(CATALOGUE)


# --- the port a client uses when nothing else says ----------------------------------------------


@pytest.mark.parametrize(
    ("ports", "preferred"),
    [
        pytest.param({"587": "starttls"}, (587, "starttls"), id="iredmail-starttls-only"),
        pytest.param({"25": "starttls", "2525": "starttls"}, (2525, "starttls"), id="25-last"),
        pytest.param({"25": "starttls"}, (25, "starttls"), id="only-25"),
        pytest.param(
            {"2525": "starttls", "587": "starttls", "25": "starttls"}, (587, "starttls"), id="587"
        ),
        pytest.param({"587": "starttls", "2465": "implicit"}, (2465, "implicit"), id="implicit"),
        pytest.param(
            {"2465": "implicit", "465": "implicit", "587": "starttls"}, (465, "implicit"), id="465"
        ),
    ],
)
def test_preferred_port(ports: dict[str, str], preferred: tuple[int, str]) -> None:
    table = {port: {"tls": tls} for port, tls in ports.items()}
    catalogue = CATALOGUE.with_overrides(
        {"relay": {"name": "Relay", "endpoint": "relay.example", "ports": table}}
    )

    provider = catalogue.get("relay")
    assert provider is not None
    profile = provider.preferred_port()
    assert (profile.port, profile.tls.value) == preferred


@pytest.mark.parametrize("key", ["sendpulse", "mailjet", "ses", "gmail"])
def test_every_builtin_provider_prefers_implicit_tls_on_465(key: str) -> None:
    provider = CATALOGUE.get(key)

    assert provider is not None
    assert (provider.preferred_port().port, provider.preferred_port().tls) == (
        465,
        TlsMode.IMPLICIT,
    )
