"""check_host() of RFC 7208 §4: the SPF result for one client address and one sender.

The static analysis (:mod:`spftree`) answers "is this record sound for any message"; this module
answers "what would a receiver say for this IP", with macros expanded. It asks its questions
through the same caching :class:`DnsClient`, so after :func:`fetch_domain_facts` most answers
are already known. Used by the differential tests against pyspf and available to the relay layer
(is the relay's address authorised?).
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from smtpcheck.mailauth.client import DnsAnswer, DnsClient, normalize_name
from smtpcheck.mailauth.spf import (
    MAX_DNS_LOOKUPS,
    MAX_MX_NAMES,
    MAX_VOID_LOOKUPS,
    QUALIFIERS,
    SpfRecord,
    SpfTerm,
    expand_macros,
    parse_spf_record,
    select_spf_records,
)
from smtpcheck.mailauth.spftree import mx_hosts

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class SpfResult(enum.StrEnum):
    """The results of RFC 7208 §2.6."""

    NONE = "none"
    NEUTRAL = "neutral"
    PASS = "pass"  # noqa: S105 (an SPF result, not a password)
    FAIL = "fail"
    SOFTFAIL = "softfail"
    TEMPERROR = "temperror"
    PERMERROR = "permerror"


@dataclass(frozen=True)
class SpfVerdict:
    result: SpfResult
    mechanism: str = ""  # the term that matched, when one did
    detail: str = ""


class _Stop(Exception):
    """Ends evaluation with a temperror or permerror (RFC 7208 §4.4, §4.6)."""

    def __init__(self, result: SpfResult, detail: str) -> None:
        super().__init__(detail)
        self.result = result
        self.detail = detail


class _CheckHost:
    def __init__(self, ip: IpAddress, sender: str, helo: str, dns: DnsClient) -> None:
        self.ip = ip
        local, _, domain = sender.rpartition("@")
        self.local = local or "postmaster"  # RFC 7208 §4.3
        self.sender_domain = domain or helo
        self.helo = helo or self.sender_domain
        self.dns = dns
        self.lookups = 0
        self.void_lookups = 0

    def check(self, domain: str) -> SpfVerdict:
        """RFC 7208 §4: the result for ``domain``; recursion for include and redirect."""
        answer = self.dns.query(domain, "TXT")
        if answer.failed:
            raise _Stop(SpfResult.TEMPERROR, answer.describe())
        records = select_spf_records(answer.records)
        if not records:
            return SpfVerdict(SpfResult.NONE, detail=f"no SPF record at {domain}")
        if len(records) > 1:
            raise _Stop(SpfResult.PERMERROR, f"{domain}: more than one SPF record (§4.5)")
        record = parse_spf_record(records[0])
        if not record.is_valid:
            problems = "; ".join(i.message for i in record.issues if i.fatal)
            raise _Stop(SpfResult.PERMERROR, f"{domain}: {problems}")
        for term in record.evaluated_mechanisms:
            if term.queries_dns:
                self._count_lookup()
            if self._matches(term, domain):
                return SpfVerdict(SpfResult(QUALIFIERS[term.qualifier]), term.raw)
        return self._redirect(record, domain)

    def _redirect(self, record: SpfRecord, domain: str) -> SpfVerdict:
        redirect = record.redirect
        if redirect is None:
            return SpfVerdict(SpfResult.NEUTRAL, detail="no mechanism matched (§4.7)")
        self._count_lookup()
        target = self._expand(redirect.domain, domain)
        verdict = self.check(target)
        if verdict.result is SpfResult.NONE:
            raise _Stop(SpfResult.PERMERROR, f"redirect target {target} has no SPF record (§6.1)")
        return verdict

    def _count_lookup(self) -> None:
        self.lookups += 1
        if self.lookups > MAX_DNS_LOOKUPS:
            raise _Stop(SpfResult.PERMERROR, f"more than {MAX_DNS_LOOKUPS} DNS lookups (§4.6.4)")

    def _ask(self, name: str, rdtype: str) -> DnsAnswer:
        answer = self.dns.query(name, rdtype)
        if answer.failed:
            raise _Stop(SpfResult.TEMPERROR, answer.describe())
        if answer.is_void:
            self.void_lookups += 1
            if self.void_lookups > MAX_VOID_LOOKUPS:
                raise _Stop(SpfResult.PERMERROR, f"more than {MAX_VOID_LOOKUPS} void lookups")
        return answer

    def _expand(self, spec: str, domain: str) -> str:
        variables = {
            "s": f"{self.local}@{self.sender_domain}",
            "l": self.local,
            "o": self.sender_domain,
            "d": domain,
            "i": _macro_ip(self.ip),
            "p": "unknown",  # RFC 7208 §7.3 allows it; the p macro SHOULD NOT be used (§5.5)
            "v": "in-addr" if self.ip.version == 4 else "ip6",
            "h": self.helo,
        }
        expanded = expand_macros(spec, variables) if "%" in spec else spec
        return normalize_name(expanded)[-253:].lstrip(".")  # §7.3: keep the right-hand 253

    def _matches(self, term: SpfTerm, domain: str) -> bool:
        """RFC 7208 §5: does ``term`` match the client address?"""
        if term.name == "all":
            return True
        if term.name in ("ip4", "ip6"):
            return self.ip in ipaddress.ip_network(term.network, strict=False)
        target = self._expand(term.domain, domain) if term.domain else domain
        if term.name == "include":
            verdict = self.check(target)
            if verdict.result is SpfResult.NONE:
                raise _Stop(SpfResult.PERMERROR, f"include target {target} has no SPF record")
            return verdict.result is SpfResult.PASS
        if term.name == "exists":
            return bool(self._ask(target, "A").records)
        if term.name == "a":
            return self._in_addresses(target, term)
        if term.name == "mx":
            hosts = mx_hosts(self._ask(target, "MX"))
            if len(hosts) > MAX_MX_NAMES:
                raise _Stop(SpfResult.PERMERROR, f"{target} has more than 10 MX names (§4.6.4)")
            return any(self._in_addresses(host, term, count_void=False) for host in hosts)
        return self._ptr_matches(target)

    def _in_addresses(self, name: str, term: SpfTerm, *, count_void: bool = True) -> bool:
        rdtype = "A" if self.ip.version == 4 else "AAAA"
        answer = self._ask(name, rdtype) if count_void else self.dns.query(name, rdtype)
        if answer.failed:
            raise _Stop(SpfResult.TEMPERROR, answer.describe())
        prefix = term.cidr4 if self.ip.version == 4 else term.cidr6
        for address in answer.records:
            network = ipaddress.ip_network(
                f"{address}/{prefix}" if prefix is not None else address, strict=False
            )
            if self.ip in network:
                return True
        return False

    def _ptr_matches(self, target: str) -> bool:
        """RFC 7208 §5.5: a validated PTR name equal to or under ``target``."""
        names = self.dns.query(self.ip.reverse_pointer, "PTR")
        if names.failed:
            return False  # §5.5: a DNS error here means no match
        for name in names.records[:MAX_MX_NAMES]:
            if not (name == target or name.endswith("." + target)):
                continue
            rdtype = "A" if self.ip.version == 4 else "AAAA"
            addresses = self.dns.query(name, rdtype)
            if str(self.ip) in addresses.records:
                return True
        return False


def _macro_ip(ip: IpAddress) -> str:
    """The ``i`` macro: dotted quad, or dotted nibbles for IPv6 (RFC 7208 §7.3)."""
    if ip.version == 4:
        return str(ip)
    return ".".join(ip.exploded.replace(":", ""))


def fetch_spf_verdict(ip: str, sender: str, dns: DnsClient, *, helo: str = "") -> SpfVerdict:
    """The SPF result a receiver would reach for a message from ``ip`` with MAIL FROM ``sender``.

    ``sender`` is ``local@domain`` (or a bare domain: HELO identity, RFC 7208 §2.3). Invalid
    ``ip`` raises ValueError: it is the caller's input, not DNS data.
    """
    address = ipaddress.ip_address(ip)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # §5: an IPv4-mapped client is treated as IPv4
    evaluation = _CheckHost(address, sender if "@" in sender else f"postmaster@{sender}", helo, dns)
    domain = normalize_name(evaluation.sender_domain)
    try:
        return evaluation.check(domain)
    except _Stop as stop:
        return SpfVerdict(stop.result, detail=stop.detail)
