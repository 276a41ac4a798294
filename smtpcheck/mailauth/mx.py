"""Does the from-domain accept mail? MX (RFC 5321 §5.1), null MX (RFC 7505), implicit MX."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from smtpcheck.catalogue import get_control
from smtpcheck.findings import EvidenceValue, Finding, Status
from smtpcheck.mailauth.client import (
    DnsAnswer,
    DnsClient,
    Outcome,
    fetch_addresses,
    has_address,
    normalize_name,
)
from smtpcheck.mailauth.spf import MAX_MX_NAMES
from smtpcheck.mailauth.spftree import mx_hosts


@dataclass(frozen=True)
class MxFacts:
    domain: str
    mx: DnsAnswer
    addresses: Mapping[str, tuple[DnsAnswer, ...]]  # each MX host (or the domain): A[, AAAA]

    @property
    def is_null_mx(self) -> bool:
        """One MX of preference 0 naming the root: no mail accepted (RFC 7505 §3)."""
        return self.mx.outcome is Outcome.ANSWER and any(
            record.split(" ", 1)[-1] == "." for record in self.mx.records
        )


def fetch_mx(domain: str, dns: DnsClient) -> MxFacts:
    """MX, then the first ten hosts' addresses, or the domain's own when it has no MX host."""
    domain = normalize_name(domain)
    mx = dns.query(domain, "MX")
    names = list(mx_hosts(mx)[:MAX_MX_NAMES])
    if mx.outcome is Outcome.NODATA:
        names = [domain]  # implicit MX (RFC 5321 §5.1)
    return MxFacts(domain, mx, MappingProxyType(fetch_addresses(names, dns)))


def evaluate_mx(facts: MxFacts) -> Finding:
    """MX-01: MX hosts with addresses, or no MX and an address (implicit MX)."""
    control = get_control("MX-01")
    domain, mx = facts.domain, facts.mx
    evidence: dict[str, EvidenceValue] = {"mx": mx.records or mx.describe()}
    if mx.failed:
        return control.finding(domain, Status.ERROR, f"MX lookup failed: {mx.describe()}", evidence)
    if mx.outcome is Outcome.NXDOMAIN:
        return control.finding(domain, Status.FAIL, f"{domain} does not exist (NXDOMAIN)", evidence)
    if facts.is_null_mx:
        summary = (
            f"{domain} publishes a null MX: it accepts no mail, so replies and bounces are lost"
        )
        return control.finding(
            domain,
            Status.FAIL,
            summary,
            evidence,
            "Replace the null MX with the MX hosts that receive mail for the domain.",
            references=("RFC 7505 §3", "RFC 7505 §4"),
        )
    hosts = mx_hosts(mx)
    if not hosts:
        return _implicit_mx(facts, evidence)
    resolved = [h for h in hosts[:MAX_MX_NAMES] if has_address(facts.addresses.get(h, ()))]
    failed = [a.describe() for h in hosts for a in facts.addresses.get(h, ()) if a.failed]
    evidence["hosts_with_address"] = tuple(resolved)
    if not resolved and failed:
        return control.finding(
            domain, Status.ERROR, f"MX host lookup failed: {failed[0]}", evidence
        )
    if not resolved:
        return control.finding(domain, Status.FAIL, "no MX host has an address", evidence)
    unresolved = [h for h in hosts[:MAX_MX_NAMES] if h not in resolved]
    if unresolved:
        summary = f"MX host(s) without an address: {', '.join(unresolved)}"
        return control.finding(domain, Status.WARN, summary, evidence)
    return control.finding(domain, Status.PASS, f"{len(hosts)} MX host(s) with addresses", evidence)


def _implicit_mx(facts: MxFacts, evidence: dict[str, EvidenceValue]) -> Finding:
    control = get_control("MX-01")
    own = facts.addresses.get(facts.domain, ())
    evidence["addresses"] = tuple(r for answer in own for r in answer.records)
    if has_address(own):
        summary = "no MX: mail goes to the domain's own address (implicit MX, RFC 5321 §5.1)"
        return control.finding(facts.domain, Status.PASS, summary, evidence)
    failed = [answer.describe() for answer in own if answer.failed]
    if failed:
        return control.finding(
            facts.domain, Status.ERROR, f"address lookup failed: {failed[0]}", evidence
        )
    return control.finding(
        facts.domain,
        Status.FAIL,
        "no MX and no A/AAAA: the domain accepts no mail",
        evidence,
        f"Publish an MX record for {facts.domain} naming a host that receives its mail.",
    )
