"""SPF, DKIM, DMARC and MX of each sending domain (SPEC §4, target: the domain).

``domain`` carries every DNS answer the controls need, fetched once per run for all domains
together (each name and type asked once); each check evaluates one control.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smtpcheck.findings import Finding
from smtpcheck.mailauth.domain import DNS_CONTROLS, DomainFacts

Verdict = Callable[[Finding], None]


@pytest.mark.control("SPF-01")
def test_spf_published_once(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["SPF-01"](domain))


@pytest.mark.control("SPF-02")
def test_spf_valid_and_evaluable(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["SPF-02"](domain))


@pytest.mark.control("SPF-03")
def test_spf_authorises_provider(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["SPF-03"](domain))


@pytest.mark.control("SPF-04")
def test_spf_restrictive(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["SPF-04"](domain))


@pytest.mark.control("DKIM-01")
def test_dkim_selectors_published(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["DKIM-01"](domain))


@pytest.mark.control("DKIM-02")
def test_dkim_keys_sound(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["DKIM-02"](domain))


@pytest.mark.control("DMARC-01")
def test_dmarc_published_once(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["DMARC-01"](domain))


@pytest.mark.control("DMARC-02")
def test_dmarc_tags_valid(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["DMARC-02"](domain))


@pytest.mark.control("DMARC-03")
def test_dmarc_policy_enforced(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["DMARC-03"](domain))


@pytest.mark.control("DMARC-04")
def test_dmarc_aligned_pass_possible(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["DMARC-04"](domain))


@pytest.mark.control("DMARC-05")
def test_dmarc_report_destinations_authorised(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["DMARC-05"](domain))


@pytest.mark.control("MX-01")
def test_domain_accepts_mail(domain: DomainFacts, verdict: Verdict) -> None:
    verdict(DNS_CONTROLS["MX-01"](domain))
