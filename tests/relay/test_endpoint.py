"""Endpoint resolution: every toolkit generation's credential file, as the application uses it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from smtpcheck.errors import ConfigError
from smtpcheck.providers import Provider, ProviderCatalogue, TlsMode
from smtpcheck.relay.endpoint import (
    EndpointProblem,
    RelayEndpoint,
    plan_relay_jobs,
    relay_job_key,
    relay_target,
    resolve_endpoint,
)
from tests.relay.conftest import CANARY, deployed

CATALOGUE = ProviderCatalogue.builtin()
JOOMLA = "/var/www/html/configuration.php"


def _provider(key: str) -> Provider:
    provider = CATALOGUE.get(key)
    assert provider is not None
    return provider


def _endpoint(provider: Provider | None, **kwargs: Any) -> RelayEndpoint:
    result = resolve_endpoint(deployed(provider, **kwargs), CATALOGUE)
    assert isinstance(result, RelayEndpoint), result
    return result


# (case, provider key or None, Joomla host, port, tls) -> (host, port, tls, provider, region)
JOOMLA_GENERATIONS = [
    ("gen A SendPulse", None, "smtp-pulse.com", 465, TlsMode.IMPLICIT,
     ("smtp-pulse.com", 465, TlsMode.IMPLICIT, "sendpulse", None)),
    ("gen A provider 2 (Gmail)", None, "smtp.gmail.com", 465, TlsMode.IMPLICIT,
     ("smtp.gmail.com", 465, TlsMode.IMPLICIT, "gmail", None)),
    ("gen A SES", None, "email-smtp.eu-west-1.amazonaws.com", 465, TlsMode.IMPLICIT,
     ("email-smtp.eu-west-1.amazonaws.com", 465, TlsMode.IMPLICIT, "ses", "eu-west-1")),
    ("gen B SendPulse", None, "smtp-pulse.com", 2525, TlsMode.STARTTLS,
     ("smtp-pulse.com", 2525, TlsMode.STARTTLS, "sendpulse", None)),
    ("gen B Mailjet", None, "in-v3.mailjet.com", 587, TlsMode.STARTTLS,
     ("in-v3.mailjet.com", 587, TlsMode.STARTTLS, "mailjet", None)),
    ("gen B SES", None, "email-smtp.eu-west-1.amazonaws.com", 587, TlsMode.STARTTLS,
     ("email-smtp.eu-west-1.amazonaws.com", 587, TlsMode.STARTTLS, "ses", "eu-west-1")),
    ("gen C dev Mailjet (legacy host)", None, "in.mailjet.com", 2525, TlsMode.STARTTLS,
     ("in.mailjet.com", 2525, TlsMode.STARTTLS, "mailjet", None)),
    # gen C main: unquoted $smtphost (read as its text) and $smtp_port ignored -> Joomla's 25
    ("gen C main SendPulse", None, "smtp-pulse.com", 25, TlsMode.STARTTLS,
     ("smtp-pulse.com", 25, TlsMode.STARTTLS, "sendpulse", None)),
    ("gen C main SES", None, "email-smtp.eu-west-1.amazonaws.com", 25, TlsMode.STARTTLS,
     ("email-smtp.eu-west-1.amazonaws.com", 25, TlsMode.STARTTLS, "ses", "eu-west-1")),
    ("smtpsecure none", None, "in-v3.mailjet.com", 587, TlsMode.NONE,
     ("in-v3.mailjet.com", 587, TlsMode.NONE, "mailjet", None)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "host", "port", "tls", "expected"),
    [case[1:] for case in JOOMLA_GENERATIONS],
    ids=[case[0] for case in JOOMLA_GENERATIONS],
)
def test_joomla_endpoint_is_what_joomla_would_use(
    provider: str | None,
    host: str,
    port: int,
    tls: TlsMode,
    expected: tuple[str, int, TlsMode, str, str | None],
) -> None:
    endpoint = _endpoint(
        provider=_provider(provider) if provider else None,
        host=host,
        port=port,
        tls=tls,
        source=JOOMLA,
        shape="Joomla configuration.php",
    )
    got = (endpoint.host, endpoint.port, endpoint.tls, endpoint.provider_key, endpoint.region)
    assert got == expected


def test_joomla_default_port_25_is_explained() -> None:
    endpoint = _endpoint(
        provider=None, host="smtp-pulse.com", port=25, tls=TlsMode.STARTTLS, source=JOOMLA
    )
    assert any("smtp_port" in note for note in endpoint.notes)
    assert any("not known to serve port 25" in note for note in endpoint.notes)


def test_cleartext_configuration_is_noted() -> None:
    endpoint = _endpoint(provider=_provider("sendpulse"), port=2525, tls=TlsMode.NONE)
    assert endpoint.tls is TlsMode.NONE
    assert "the application would send AUTH without TLS" in endpoint.notes


def test_tls_mode_that_contradicts_the_provider_is_noted() -> None:
    endpoint = _endpoint(provider=_provider("mailjet"), port=465, tls=TlsMode.STARTTLS)
    assert any("serves port 465 with implicit TLS" in note for note in endpoint.notes)


@pytest.mark.parametrize(
    ("code", "host", "region"),
    [
        ("sendpulse", "smtp-pulse.com", None),
        ("mailjet", "in-v3.mailjet.com", None),
        ("ses", "email-smtp.eu-west-1.amazonaws.com", "eu-west-1"),
    ],
)
def test_labelled_file_uses_the_provider_endpoint_on_465(
    code: str, host: str, region: str | None
) -> None:
    endpoint = _endpoint(provider=_provider(code), host=None, port=465, tls=TlsMode.IMPLICIT)
    assert (endpoint.host, endpoint.port, endpoint.tls, endpoint.region) == (
        host,
        465,
        TlsMode.IMPLICIT,
        region,
    )
    assert endpoint.notes == ()


def test_labelled_file_without_tls_mode_takes_it_from_the_provider_profile() -> None:
    assert _endpoint(provider=_provider("ses"), port=2587, tls=None).tls is TlsMode.STARTTLS
    assert _endpoint(provider=_provider("ses"), port=2465, tls=None).tls is TlsMode.IMPLICIT


@pytest.mark.parametrize(
    ("host", "region"),
    [
        ("email-smtp.us-west-2.amazonaws.com", "us-west-2"),
        ("email-smtp-fips.us-gov-west-1.amazonaws.com", "us-gov-west-1"),
        ("email-smtp.ap-southeast-3.amazonaws.com", "ap-southeast-3"),
    ],
)
def test_ses_region_comes_from_the_host_name(host: str, region: str) -> None:
    endpoint = _endpoint(provider=None, host=host, port=587, tls=TlsMode.STARTTLS)
    assert (endpoint.provider_key, endpoint.region) == ("ses", region)


def test_unknown_relay_host_is_still_an_endpoint() -> None:
    endpoint = _endpoint(provider=None, host="mail.example.net", port=587, tls=TlsMode.STARTTLS)
    assert endpoint.provider_key is None
    assert "not a relay of any provider" in endpoint.notes[0]


def test_no_provider_and_no_host_is_a_problem() -> None:
    result = resolve_endpoint(deployed(None, host=None), CATALOGUE)
    assert isinstance(result, EndpointProblem)
    assert "neither a known provider nor a relay host" in result.reason


def test_no_port_is_a_problem() -> None:
    result = resolve_endpoint(deployed(_provider("mailjet"), port=None), CATALOGUE)
    assert isinstance(result, EndpointProblem)
    assert "no usable port" in result.reason


def test_overrides_come_from_the_provider_table(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    catalogue = CATALOGUE.with_overrides(
        {
            "mailjet": {
                "connect_address": "127.0.0.5",
                "port_map": {"465": 10465, "587": 10587},
                "ca_file": str(ca),
                "timeout": 7,
                "ehlo_name": "checker.example.test",
            }
        }
    )
    provider = catalogue.get("mailjet")
    result = resolve_endpoint(deployed(provider), catalogue)
    assert isinstance(result, RelayEndpoint)
    assert (result.host, result.port, result.dial_port) == ("in-v3.mailjet.com", 465, 10465)
    assert (result.connect_address, result.ca_file, result.timeout, result.ehlo_name) == (
        "127.0.0.5",
        str(ca),
        7.0,
        "checker.example.test",
    )


def test_overrides_apply_to_a_provider_the_host_layer_resolved_earlier() -> None:
    """The DeployedSmtp may carry the built-in Provider; the run's catalogue has the overrides."""
    catalogue = CATALOGUE.with_overrides({"mailjet": {"connect_address": "127.0.0.9"}})
    result = resolve_endpoint(deployed(_provider("mailjet")), catalogue)
    assert isinstance(result, RelayEndpoint)
    assert result.connect_address == "127.0.0.9"


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"port_map": {"465": "x"}}, "is not a number"),
        ({"port_map": {"465": 70000}}, "out of range"),
        ({"port_map": [465]}, "must be a table"),
        ({"timeout": 0}, "positive number"),
        ({"timeout": True}, "positive number"),
        ({"connect_address": 127}, "must be a string"),
        ({"ca_file": "/nonexistent/ca.pem"}, "not a readable file"),
    ],
)
def test_bad_overrides_are_config_errors(table: dict[str, object], message: str) -> None:
    catalogue = CATALOGUE.with_overrides({"mailjet": table})
    with pytest.raises(ConfigError, match=message):
        resolve_endpoint(deployed(catalogue.get("mailjet")), catalogue)


def test_endpoint_is_hashable_and_frozen() -> None:
    endpoint = _endpoint(provider=_provider("mailjet"))
    assert hash(endpoint) == hash(_endpoint(provider=_provider("mailjet")))


def test_job_key_groups_equal_credentials_and_never_shows_the_password() -> None:
    mailjet = _provider("mailjet")
    endpoint = _endpoint(provider=mailjet)
    first = relay_job_key(endpoint, deployed(mailjet))
    assert first == relay_job_key(endpoint, deployed(mailjet, source="/var/www/moodlesmtp"))
    assert first != relay_job_key(endpoint, deployed(mailjet, password=CANARY + "x"))
    assert first != relay_job_key(endpoint, deployed(mailjet, from_address="other@example.test"))
    assert CANARY not in repr(first)
    assert CANARY not in str(first)


def test_plan_groups_hosts_sharing_credentials() -> None:
    mailjet, ses = _provider("mailjet"), _provider("ses")
    hosts = [
        ("web1", deployed(mailjet)),
        ("web2", deployed(mailjet)),
        ("web3", deployed(mailjet, password="another")),
        ("web4", deployed(ses, username="AKIAEXAMPLE")),
        ("web5", deployed(mailjet)),
        ("web6", deployed(None, host=None)),
    ]
    jobs, problems = plan_relay_jobs(hosts, CATALOGUE)
    assert [job.hosts for job in jobs] == [("web1", "web2", "web5"), ("web3",), ("web4",)]
    assert [host for host, _ in problems] == ["web6"]


def test_target_names_endpoint_user_and_sender_but_not_the_password() -> None:
    mailjet = _provider("mailjet")
    target = relay_target(_endpoint(provider=mailjet), deployed(mailjet))
    assert target == "in-v3.mailjet.com:465 (user 0123abcd…, from noreply@example.test)"
