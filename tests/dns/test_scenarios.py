"""The scenario table: every lab domain checked end to end against real NSD on loopback."""

from __future__ import annotations

from collections.abc import Mapping

import pytest

from smtpcheck.findings import Status
from smtpcheck.lab.dnszones import Scenario, ses_tokens
from smtpcheck.mailauth.domain import (
    DNS_CONTROLS,
    DomainFacts,
    evaluate_domain,
    fetch_all_domain_facts,
    fetch_domain_facts,
)
from smtpcheck.mailauth.resolver import NetworkDnsClient
from smtpcheck.providers import Provider, ProviderCatalogue

PASS, FAIL, WARN, SKIP, ERROR = Status.PASS, Status.FAIL, Status.WARN, Status.SKIP, Status.ERROR
# Mailjet without a usable DKIM key: DMARC-04 warns rather than fails, because "Mailjet's MAIL
# FROM is its own domain, so SPF cannot align" is an unconfirmed (U) fact in the reference.
NO_ALIGNED_DKIM = {"DMARC-04": WARN}

EXPECTED: dict[str, dict[str, Status]] = {
    "good-mailjet.example": {},
    "good-sendpulse.example": {},
    "good-ses.example": {"DMARC-05": SKIP},
    "ses-unconfigured.example": {
        "SPF-03": SKIP,  # SES's own MAIL FROM: no custom MAIL FROM configured to check
        "DKIM-01": ERROR,  # tokens not configured: cannot be evaluated
        "DKIM-02": SKIP,
        "DMARC-04": ERROR,
        "DMARC-05": SKIP,
    },
    "good-custom.example": {},
    "eleven-lookups.example": {"SPF-02": FAIL, "SPF-03": FAIL},
    "three-void.example": {"SPF-02": FAIL, "SPF-03": FAIL},
    "include-loop.example": {"SPF-02": FAIL, "SPF-03": FAIL},
    "plus-all.example": {"SPF-04": FAIL},
    "two-spf.example": {"SPF-01": FAIL, "SPF-02": SKIP, "SPF-03": FAIL, "SPF-04": SKIP},
    "missing-include.example": {"SPF-03": FAIL},
    "ptr.example": {"SPF-04": WARN},
    "weak-key.example": {"DKIM-02": FAIL, **NO_ALIGNED_DKIM},
    "short-key.example": {"DKIM-02": WARN},
    "revoked-key.example": {"DKIM-02": FAIL, **NO_ALIGNED_DKIM},
    "testing-key.example": {"DKIM-02": WARN},
    "sha1-key.example": {"DKIM-02": FAIL, **NO_ALIGNED_DKIM},
    "no-dkim.example": {"DKIM-01": FAIL, "DKIM-02": SKIP, **NO_ALIGNED_DKIM},
    "p-none.example": {"DMARC-03": WARN, "DMARC-05": SKIP},
    "no-dmarc.example": {"DMARC-01": FAIL, "DMARC-02": SKIP, "DMARC-03": FAIL, "DMARC-05": SKIP},
    "rua-authorised.example": {},
    "rua-unauthorised.example": {"DMARC-05": FAIL},
    "null-mx.example": {"MX-01": FAIL},
    "implicit-mx.example": {},
}


def provider_for(scenario: Scenario) -> Provider | None:
    catalogue = ProviderCatalogue.builtin().with_overrides(scenario.overrides)
    return catalogue.get(scenario.provider) if scenario.provider else None


def facts_for(scenarios: Mapping[str, Scenario], domain: str, dns: NetworkDnsClient) -> DomainFacts:
    return fetch_domain_facts(domain, provider_for(scenarios[domain]), dns)


def test_every_lab_scenario_has_an_expectation(scenarios: Mapping[str, Scenario]) -> None:
    assert set(scenarios) == set(EXPECTED)


@pytest.mark.parametrize("domain", EXPECTED)
def test_scenario(domain: str, scenarios: Mapping[str, Scenario], dns: NetworkDnsClient) -> None:
    findings = evaluate_domain(facts_for(scenarios, domain, dns))
    expected = {control: EXPECTED[domain].get(control, PASS) for control in DNS_CONTROLS}
    assert {f.control_id: f.status for f in findings} == expected
    assert [f.control_id for f in findings] == list(DNS_CONTROLS)
    assert {f.target for f in findings} == {domain}
    for finding in findings:
        assert finding.summary
        assert all(ref.startswith("RFC ") for ref in finding.references)
        if finding.status in (Status.FAIL, Status.WARN):  # says what to do, every time
            assert finding.remediation.strip(), finding


def _finding(facts: DomainFacts, control: str) -> tuple[Status, str, Mapping[str, object], str]:
    finding = DNS_CONTROLS[control](facts)
    return finding.status, finding.summary, finding.evidence, finding.remediation


def test_2048_bit_key_split_across_strings(
    scenarios: Mapping[str, Scenario], dns: NetworkDnsClient
) -> None:
    facts = facts_for(scenarios, "good-mailjet.example", dns)
    (selector,) = facts.dkim
    assert len(selector.answer.strings) == 1  # one RR …
    assert len(selector.answer.strings[0]) == 2  # … of two character-strings, joined
    status, _, evidence, _ = _finding(facts, "DKIM-02")
    assert status is PASS
    assert evidence["keys"] == ("mailjet._domainkey.good-mailjet.example: rsa 2048 bits",)


def test_subdomain_falls_back_to_the_organisational_domain(
    scenarios: Mapping[str, Scenario], dns: NetworkDnsClient
) -> None:
    facts = fetch_domain_facts(
        "news.good-mailjet.example", provider_for(scenarios["good-mailjet.example"]), dns
    )
    status, summary, evidence, _ = _finding(facts, "DMARC-01")
    assert status is PASS
    assert "organisational domain" in summary
    assert evidence["location"] == "_dmarc.good-mailjet.example"
    assert evidence["queried"] == "TXT _dmarc.news.good-mailjet.example: nxdomain"
    assert {f.status for f in evaluate_domain(facts)} == {PASS}


def test_ses_dkim_cnames_and_custom_mail_from(
    scenarios: Mapping[str, Scenario], dns: NetworkDnsClient
) -> None:
    facts = facts_for(scenarios, "good-ses.example", dns)
    tokens = ses_tokens("good-ses.example")
    assert [f.answer.cnames for f in facts.dkim] == [(f"{t}.dkim.amazonses.com",) for t in tokens]
    _, summary, evidence, _ = _finding(facts, "SPF-03")
    assert evidence["name"] == "bounce.good-ses.example"
    assert "amazonses.com" in summary
    assert _finding(facts, "DMARC-04")[0] is PASS


def test_ses_spf_alignment_through_the_custom_mail_from(
    scenarios: Mapping[str, Scenario], dns: NetworkDnsClient
) -> None:
    """Without DKIM tokens, the custom MAIL FROM alone gives SES an aligned pass (RFC 7489 §3.1)."""
    provider = (
        ProviderCatalogue.builtin()
        .with_overrides({"ses": {"mail_from_domain": "bounce"}})
        .get("ses")
    )
    facts = fetch_domain_facts("good-ses.example", provider, dns)
    status, _, evidence, _ = _finding(facts, "DMARC-04")
    assert status is PASS
    assert evidence["spf_aligned_mail_from"] == "bounce.good-ses.example"


def test_lookup_and_void_counts_in_evidence(
    scenarios: Mapping[str, Scenario], dns: NetworkDnsClient
) -> None:
    eleven = _finding(facts_for(scenarios, "eleven-lookups.example", dns), "SPF-02")
    assert eleven[2]["dns_lookups"] == 11
    void = _finding(facts_for(scenarios, "three-void.example", dns), "SPF-02")
    assert void[2]["void_lookups"] == 3
    assert "ip4:/ip6: ranges they stand for" in eleven[3]
    loop = _finding(facts_for(scenarios, "include-loop.example", dns), "SPF-02")
    assert "include loop" in loop[1]
    assert loop[3].startswith("Break the loop")


def test_missing_include_remediation(
    scenarios: Mapping[str, Scenario], dns: NetworkDnsClient
) -> None:
    _, _, _, remediation = _finding(facts_for(scenarios, "missing-include.example", dns), "SPF-03")
    record = '"v=spf1 ip4:192.0.2.10 mx include:spf.mailjet.com ~all"'
    assert f"missing-include.example. 3600 IN TXT {record}" in remediation
    assert "DNS lookups after the change: 2 of 10" in remediation


def test_no_provider_skips_provider_controls(dns: NetworkDnsClient) -> None:
    findings = {
        f.control_id: f.status
        for f in evaluate_domain(fetch_domain_facts("good-mailjet.example", None, dns))
    }
    assert {c: findings[c] for c in ("SPF-03", "DKIM-01", "DKIM-02", "DMARC-04")} == dict.fromkeys(
        ("SPF-03", "DKIM-01", "DKIM-02", "DMARC-04"), SKIP
    )
    assert findings["SPF-01"] is PASS


def test_each_question_is_asked_once_per_client(
    scenarios: Mapping[str, Scenario], dns: NetworkDnsClient
) -> None:
    domains = ["good-mailjet.example", "p-none.example", "no-dkim.example", "good-mailjet.example"]
    provider = provider_for(scenarios["good-mailjet.example"])
    all_facts = fetch_all_domain_facts([(d, provider) for d in domains], dns)
    assert [f.domain for f in all_facts] == domains
    # A healthy server answers each question with one message: sent == distinct questions.
    assert dns.queries_sent == dns.questions_asked
    before = dns.queries_sent
    fetch_domain_facts("p-none.example", provider, dns)
    assert dns.queries_sent == before
