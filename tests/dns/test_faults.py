"""DNS that cannot be reached or answers badly: every DNS finding is `error`, never a crash."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from smtpcheck.findings import Status
from smtpcheck.lab.nsd import NsdServer
from smtpcheck.mailauth.domain import (
    DNS_CONTROLS,
    evaluate_domain,
    fetch_domain_facts,
    host_domain,
    sending_domains,
)
from smtpcheck.mailauth.resolver import (
    Nameserver,
    NetworkDnsClient,
    make_dns_client,
    parse_nameserver,
)
from smtpcheck.providers import Provider, ProviderCatalogue
from tests.dns.conftest import BROKEN_ZONE
from tests.dns.fakedns import DeadServer

MAILJET = ProviderCatalogue.builtin().get("mailjet")
TIMEOUT = 0.3


@pytest.fixture
def mailjet() -> Provider:
    assert MAILJET is not None
    return MAILJET


def test_a_resolver_that_never_answers_gives_error_findings_with_evidence(
    mailjet: Provider,
) -> None:
    with DeadServer() as dead:
        client = make_dns_client([dead.nameserver], timeout=TIMEOUT, retries=1)
        findings = evaluate_domain(fetch_domain_facts("good-mailjet.example", mailjet, client))
    assert {f.control_id: f.status for f in findings} == dict.fromkeys(DNS_CONTROLS, Status.ERROR)
    spf01 = findings[0]
    assert spf01.evidence["txt"] == (
        f"TXT good-mailjet.example: timeout: {dead.nameserver} did not answer within {TIMEOUT:g}s"
    )
    # Each question was sent retries + 1 times and never more: nothing else was asked.
    assert client.queries_sent == 2 * client.questions_asked


class RoutingClient(NetworkDnsClient):
    """Sends names under ``slow`` to another server: one name times out, the rest answer."""

    def __init__(self, servers: Sequence[Nameserver], slow: str, dead: Nameserver) -> None:
        super().__init__(servers, timeout=TIMEOUT, retries=0)
        self.slow, self.dead = slow, dead

    def servers_for(self, name: str) -> Sequence[Nameserver]:
        return [self.dead] if name.endswith(self.slow) else self.nameservers


def test_one_name_that_times_out_inside_the_spf_tree(nsd: NsdServer, mailjet: Provider) -> None:
    with DeadServer() as dead:
        client = RoutingClient(
            [parse_nameserver(nsd.nameserver)], "spf.mailjet.com", parse_nameserver(dead.nameserver)
        )
        findings = {
            f.control_id: f
            for f in evaluate_domain(fetch_domain_facts("good-mailjet.example", mailjet, client))
        }
    statuses = {control: finding.status for control, finding in findings.items()}
    assert statuses == {
        **dict.fromkeys(DNS_CONTROLS, Status.PASS),
        "SPF-02": Status.ERROR,
        "SPF-03": Status.ERROR,
    }
    assert "spf.mailjet.com: timeout" in findings["SPF-02"].summary
    assert findings["SPF-02"].evidence["dns_failures"] == (
        f"TXT spf.mailjet.com: timeout: {dead.nameserver} did not answer within {TIMEOUT:g}s",
    )


def test_servfail_from_nsd_gives_error_findings(dns: NetworkDnsClient, mailjet: Provider) -> None:
    findings = evaluate_domain(fetch_domain_facts(BROKEN_ZONE, mailjet, dns))
    assert {f.status for f in findings} == {Status.ERROR}
    assert "SERVFAIL" in str(findings[0].evidence["txt"])


def test_no_resolver_configuration_gives_error_findings(mailjet: Provider) -> None:
    client = NetworkDnsClient([])
    findings = evaluate_domain(fetch_domain_facts("good-mailjet.example", mailjet, client))
    assert {f.status for f in findings} == {Status.ERROR}
    assert "no nameserver configured" in findings[0].summary
    assert client.queries_sent == 0


@pytest.mark.parametrize("domain", ["exa mple.com", "a..b", "x" * 70 + ".example", ""])
def test_an_invalid_domain_is_findings_not_an_exception(
    dns: NetworkDnsClient, domain: str, mailjet: Provider
) -> None:
    findings = evaluate_domain(fetch_domain_facts(domain, mailjet, dns))
    assert len(findings) == len(DNS_CONTROLS)
    assert Status.ERROR in {f.status for f in findings}
    assert dns.queries_sent == 0


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Example.COM.", "example.com"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("mail-1.example.co.uk", "mail-1.example.co.uk"),
        ("-bad.example", None),
        ("under_score.example", None),
        ("localhost", None),
        ("exa mple.com", None),
    ],
)
def test_host_domain(text: str, name: str | None) -> None:
    assert host_domain(text) == name


def test_sending_domains_are_distinct_and_in_order() -> None:
    addresses = ["a@Example.com", "b@example.com.", "not-an-address", "c@other.example", "d@"]
    assert sending_domains(addresses) == ["example.com", "other.example"]
