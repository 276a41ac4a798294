"""Differential tests on the same NSD zones: our SPF validity and lookup counts against
checkdmarc 6.x, our SPF result for an address against pyspf, our DMARC discovery against
checkdmarc. Every disagreement is listed in EXPLAINED_* with the RFC section that decides it,
and the test asserts that exact disagreement, so a change on either side shows up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import checkdmarc.dmarc
import checkdmarc.spf
import checkdmarc.utils
import dns.nameserver
import dns.resolver
import pytest
import spf

from smtpcheck.lab.dnszones import Scenario
from smtpcheck.lab.nsd import NsdServer
from smtpcheck.mailauth.dmarc import fetch_dmarc
from smtpcheck.mailauth.dmarccontrols import (
    evaluate_dmarc_published,
    evaluate_dmarc_reports,
    evaluate_dmarc_tags,
)
from smtpcheck.mailauth.resolver import NetworkDnsClient
from smtpcheck.mailauth.spf import MAX_DNS_LOOKUPS
from smtpcheck.mailauth.spfhost import fetch_spf_verdict
from smtpcheck.mailauth.spftree import SpfAnalysis, analyse_spf, fetch_spf_tree
from tests.dns.spfcases import SPF_CASES, case_domain

pytestmark = pytest.mark.filterwarnings(
    "ignore:please use dns.resolver.resolve:DeprecationWarning"  # pyspf 2.0.14 on dnspython 2
)

SPF_SCENARIOS = [
    "eleven-lookups.example",
    "three-void.example",
    "include-loop.example",
    "plus-all.example",
    "two-spf.example",
    "missing-include.example",
    "ptr.example",
    "good-sendpulse.example",
    "good-ses.example",
    "good-custom.example",
]
SPF_DOMAINS = [case_domain(label) for label in SPF_CASES] + SPF_SCENARIOS

EXPLAINED_CHECKDMARC: dict[str, dict[str, tuple[Any, Any, str]]] = {
    # field: (ours, checkdmarc's, why)
    case_domain("upper"): {
        "valid": (
            True,
            False,
            "RFC 7208 §12 writes the version and mechanism names as ABNF quoted strings, which "
            "RFC 5234 §2.3 makes case-insensitive (and §4.6.1 says names are case-insensitive): "
            "'V=SPF1 … -ALL' is a valid record; checkdmarc's grammar is case-sensitive. pyspf "
            "agrees with us (test_spf_result_for_addresses_matches_pyspf).",
        )
    },
    case_domain("ptr"): {
        "void": (
            0,
            1,
            "RFC 7208 §5.5: ptr asks the PTR of the client address, then the A/AAAA of each name; "
            "the target domain itself is never queried. checkdmarc counts a void lookup because "
            "the target has no A record; whether a receiver's ptr lookups are void depends on "
            "the client address, which a static check does not have.",
        )
    },
    case_domain("chain"): {
        "lookups": (
            12,
            1,
            "RFC 7208 §4.6.4 counts DNS-querying terms across the whole evaluation: twelve "
            "nested includes are more than 10 (we count the 12 terms reached before expansion "
            "stops; the chain holds 13). checkdmarc's check_spf reports only the root record's "
            "own count when the limit is crossed inside a nested include. Both say permerror.",
        )
    },
    case_domain("ptr-parent"): {"void": (0, 1, "as for ptr.spf-cases.example (RFC 7208 §5.5)")},
    **{
        case_domain(label): {
            "valid": (
                True,
                False,
                "RFC 7208 §7.1 and §12: a domain-spec is a macro-string, whose macro-literals "
                "include ':' and '/'; only a trailing '/<digits>' or '//<digits>' is a "
                "dual-cidr-length (§5.3). checkdmarc cuts the argument at the first '/' and "
                "reads '/baz...' as a prefix length. pyspf agrees with us (the RFC 7208 test "
                "suite's a-colon-domain).",
            )
        }
        for label in ("colon-domain", "colon-domain-cidr")
    },
    case_domain("tab"): {
        "valid": (
            False,
            True,
            "RFC 7208 §4.6.1 and §12: terms = *( 1*SP ( directive / modifier ) ), so only SP "
            "separates terms and a TAB makes 'ip4:192.0.2.10<TAB>-all' one malformed term "
            "(the test suite's control-char-policy: permerror). checkdmarc splits on any "
            "whitespace. pyspf agrees with us.",
        )
    },
    "ptr.example": {"void": (0, 1, "as for ptr.spf-cases.example (RFC 7208 §5.5)")},
}


@pytest.fixture
def checkdmarc_ns(nsd: NsdServer) -> Iterator[list[dns.nameserver.Nameserver]]:
    """checkdmarc pointed at NSD (test-lab.md: resolver= alone is not enough); no shared cache."""
    checkdmarc.utils.DNS_CACHE.clear()
    yield [dns.nameserver.Do53Nameserver("127.0.0.1", nsd.port)]
    checkdmarc.utils.DNS_CACHE.clear()


def _ours(analysis: SpfAnalysis) -> dict[str, Any]:
    valid = len(analysis.records) == 1 and not analysis.permerror and not analysis.temperror
    return {"valid": valid, "lookups": analysis.lookups, "void": analysis.void_lookups}


@pytest.mark.parametrize("domain", SPF_DOMAINS)
def test_spf_validity_and_counts_match_checkdmarc(
    domain: str, dns: NetworkDnsClient, checkdmarc_ns: list[dns.nameserver.Nameserver]
) -> None:
    ours = _ours(analyse_spf(fetch_spf_tree([domain], dns), domain))
    result = checkdmarc.spf.check_spf(domain, nameservers=checkdmarc_ns, timeout=2, retries=0)
    theirs = {
        "valid": result["valid"],
        "lookups": result.get("dns_lookups"),
        "void": result.get("void_dns_lookups"),
    }
    explained = EXPLAINED_CHECKDMARC.get(domain, {})
    for field, (our_value, their_value, why) in explained.items():
        assert (ours[field], theirs[field]) == (our_value, their_value), why
    for field in ("valid", "lookups", "void"):
        if field in explained or theirs[field] is None:
            continue  # checkdmarc gives no count after it raises (syntax, record missing)
        if field == "lookups" and max(ours[field], theirs[field]) > MAX_DNS_LOOKUPS:
            # checkdmarc stops counting at the first term over the limit (RFC 7208 §4.6.4: the
            # evaluation ends in permerror there); we count on to say how far over it is.
            assert min(ours[field], theirs[field]) > MAX_DNS_LOOKUPS, (ours, theirs)
            continue
        assert ours[field] == theirs[field], (field, ours, theirs, result.get("error"))


ADDRESSES = [
    "192.0.2.10",
    "192.0.2.55",
    "192.0.2.77",
    "192.0.2.101",
    "198.51.100.7",
    "203.0.113.5",
    "10.0.0.1",
    "2001:db8::1",
    "2001:db8::7",
]
PTR_UNSERVED = {"198.51.100.7", "203.0.113.5", "10.0.0.1", "2001:db8::1", "2001:db8::7"}
EXPLAINED_PYSPF = {
    # (label, address): (ours, pyspf's, why)
    **{
        (label, address): (
            "fail",
            "temperror",
            "RFC 7208 §5.5: 'If a DNS error occurs while doing the PTR RR lookup, then this "
            "mechanism fails to match' (here NSD refuses the unserved reverse zone); pyspf "
            "returns temperror instead.",
        )
        for label in ("ptr", "ptr-parent")
        for address in PTR_UNSERVED
    },
}


@pytest.fixture
def pyspf_resolver(nsd: NsdServer) -> Iterator[None]:
    """pyspf reads dns.resolver.default_resolver: point it at NSD, then put it back."""
    saved = dns.resolver.default_resolver
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = ["127.0.0.1"]
    resolver.port = nsd.port
    resolver.lifetime = 4
    dns.resolver.default_resolver = resolver
    yield
    dns.resolver.default_resolver = saved


@pytest.mark.parametrize("label", SPF_CASES)
@pytest.mark.usefixtures("pyspf_resolver")
def test_spf_result_for_addresses_matches_pyspf(label: str, dns: NetworkDnsClient) -> None:
    domain = case_domain(label)
    sender = f"user@{domain}"
    disagreements = []
    for address in ADDRESSES:
        ours = fetch_spf_verdict(address, sender, dns, helo="mx.example.org").result.value
        theirs, _ = spf.check2(i=address, s=sender, h="mx.example.org")
        explained = EXPLAINED_PYSPF.get((label, address))
        if explained is not None:
            assert (ours, theirs) == explained[:2], explained[2]
        elif ours != theirs:
            disagreements.append((address, ours, theirs))
    assert disagreements == []


def test_the_compared_cases_reach_every_spf_result(dns: NetworkDnsClient) -> None:
    """The pyspf comparison is not vacuous: the cases produce all seven results (RFC 7208 §2.6)."""
    results = {
        fetch_spf_verdict(address, f"user@{case_domain(label)}", dns).result.value
        for label in SPF_CASES
        for address in ADDRESSES
    }
    assert results == {"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"}


def test_ptr_matches_through_a_served_reverse_zone(dns: NetworkDnsClient) -> None:
    """192.0.2.10's PTR names a.spf-cases.example (RFC 7208 §5.5 validated name)."""
    verdict = fetch_spf_verdict("192.0.2.10", f"u@{case_domain('ptr-parent')}", dns)
    assert (verdict.result.value, verdict.mechanism) == ("pass", "ptr:spf-cases.example")


DMARC_DOMAINS = [
    "news.good-mailjet.example",
    *SPF_SCENARIOS[:3],
    "good-mailjet.example",
    "p-none.example",
    "no-dmarc.example",
    "rua-authorised.example",
    "rua-unauthorised.example",
]


@pytest.mark.parametrize("domain", DMARC_DOMAINS)
def test_dmarc_discovery_matches_checkdmarc(
    domain: str,
    dns: NetworkDnsClient,
    checkdmarc_ns: list[dns.nameserver.Nameserver],
    scenarios: Mapping[str, Scenario],
) -> None:
    facts = fetch_dmarc(domain, dns)
    result = checkdmarc.dmarc.check_dmarc(domain, nameservers=checkdmarc_ns, timeout=2, retries=0)
    assert (facts.location if facts.records else None) == result["location"]
    ours_valid = evaluate_dmarc_published(facts).status == "pass" and (
        evaluate_dmarc_tags(facts).status in ("pass", "warn")
    )
    assert ours_valid == result["valid"], result.get("error")
    # RFC 7489 §7.1: an unauthorised external destination gets no reports. checkdmarc says so
    # in a warning and still calls the record valid; SPEC §4 makes it DMARC-05 fail.
    unauthorised = any("does not indicate that it accepts" in w for w in result["warnings"])
    assert unauthorised == (evaluate_dmarc_reports(facts).status == "fail")
