"""Everything the DNS controls need about one sending domain, fetched once; and the controls.

:func:`fetch_domain_facts` does all the lookups for a domain (first round at once: SPF, DMARC
at the domain and at its organisational domain, DKIM selectors, MX, the custom MAIL FROM and the
provider's include; then the SPF tree round by round, report authorisations, MX host
addresses). :func:`fetch_all_domain_facts` does several domains at once. Neither raises for a
DNS problem: failures are answers, and the evaluators in :data:`DNS_CONTROLS` turn them into
``error`` findings.

A run creates one :class:`DnsClient` and passes it to every call: each (name, type) is then
asked once however many domains (and hosts) share it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from types import MappingProxyType

from smtpcheck.findings import Finding
from smtpcheck.mailauth.client import DnsClient, FailingDnsClient, normalize_name
from smtpcheck.mailauth.dkim import (
    DkimSelectorFacts,
    evaluate_dkim_keys,
    evaluate_dkim_published,
    fetch_dkim_selectors,
    selector_name,
)
from smtpcheck.mailauth.dmarc import DmarcFacts, fetch_dmarc, organisational_domain
from smtpcheck.mailauth.dmarccontrols import (
    evaluate_dmarc_alignment,
    evaluate_dmarc_policy,
    evaluate_dmarc_published,
    evaluate_dmarc_reports,
    evaluate_dmarc_tags,
)
from smtpcheck.mailauth.mx import MxFacts, evaluate_mx, fetch_mx
from smtpcheck.mailauth.profile import DnsProfile
from smtpcheck.mailauth.spfcontrols import (
    evaluate_spf_authorises,
    evaluate_spf_published,
    evaluate_spf_restrictive,
    evaluate_spf_valid,
)
from smtpcheck.mailauth.spftree import SpfTree, fetch_spf_tree
from smtpcheck.providers import Provider


@dataclass(frozen=True)
class DomainFacts:
    """The DNS facts of one sending domain as one provider would need them."""

    domain: str
    provider: Provider | None
    profile: DnsProfile | None
    spf: SpfTree  # roots: the domain, its custom MAIL FROM, the provider's include
    dkim: tuple[DkimSelectorFacts, ...]
    dmarc: DmarcFacts
    mx: MxFacts


def _spf_roots(domain: str, profile: DnsProfile | None) -> list[str]:
    roots = [domain]
    if profile is not None:
        roots += [name for name in (profile.spf_name_for(domain),) if name]
        roots += list(profile.provider.spf_includes[:1])  # for the count after a merge
    return list(dict.fromkeys(roots))


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


def host_domain(domain: str) -> str | None:
    """``domain`` as lower-case A-labels when it is a host name of two labels or more
    (RFC 1123 §2.1, IDNA for non-ASCII), else None."""
    name = normalize_name(domain)
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return None
    labels = name.split(".")
    if len(labels) < 2 or len(name) > 253 or not all(_HOST_LABEL.match(x) for x in labels):
        return None
    return name


def fetch_domain_facts(domain: str, provider: Provider | None, dns: DnsClient) -> DomainFacts:
    """All the lookups for ``domain``; DNS problems become data, never exceptions.

    A domain that is not a host name is not asked about: every answer is a failure saying so.
    A bad provider table raises ConfigError (the operator's input, not the domain's).
    """
    checked = host_domain(domain)
    if checked is None:
        dns = FailingDnsClient(f"{domain!r} is not a valid domain name")
    domain = checked or normalize_name(domain) or repr(domain)
    profile = DnsProfile.of(provider) if provider is not None else None
    selectors = tuple(provider.dkim_selectors) if provider is not None else ()
    roots = _spf_roots(domain, profile)
    first_round = [
        *((root, "TXT") for root in roots),
        (f"_dmarc.{domain}", "TXT"),
        (domain, "MX"),
        *((selector_name(selector, domain), "TXT") for selector in selectors),
    ]
    if organisational_domain(domain) != domain:
        first_round.append((f"_dmarc.{organisational_domain(domain)}", "TXT"))
    dns.prefetch(first_round)
    return DomainFacts(
        domain=domain,
        provider=provider,
        profile=profile,
        spf=fetch_spf_tree(roots, dns),
        dkim=fetch_dkim_selectors(domain, selectors, dns),
        dmarc=fetch_dmarc(domain, dns),
        mx=fetch_mx(domain, dns),
    )


def fetch_all_domain_facts(
    domains: Sequence[tuple[str, Provider | None]], dns: DnsClient, *, workers: int = 64
) -> list[DomainFacts]:
    """:func:`fetch_domain_facts` for several (domain, provider) pairs at once, in order."""
    if len(domains) < 2:
        return [fetch_domain_facts(domain, provider, dns) for domain, provider in domains]
    with ThreadPoolExecutor(min(workers, len(domains)), thread_name_prefix="domain") as pool:
        futures = [pool.submit(fetch_domain_facts, d, p, dns) for d, p in domains]
        return [future.result() for future in futures]


DNS_CONTROLS: Mapping[str, Callable[[DomainFacts], Finding]] = MappingProxyType(
    {
        "SPF-01": lambda f: evaluate_spf_published(f.domain, f.profile, f.spf),
        "SPF-02": lambda f: evaluate_spf_valid(f.domain, f.profile, f.spf),
        "SPF-03": lambda f: evaluate_spf_authorises(f.domain, f.profile, f.spf),
        "SPF-04": lambda f: evaluate_spf_restrictive(f.domain, f.profile, f.spf),
        "DKIM-01": lambda f: evaluate_dkim_published(f.domain, f.profile, f.dkim),
        "DKIM-02": lambda f: evaluate_dkim_keys(f.domain, f.profile, f.dkim),
        "DMARC-01": lambda f: evaluate_dmarc_published(f.dmarc),
        "DMARC-02": lambda f: evaluate_dmarc_tags(f.dmarc),
        "DMARC-03": lambda f: evaluate_dmarc_policy(f.dmarc),
        "DMARC-04": lambda f: evaluate_dmarc_alignment(f.domain, f.profile, f.spf, f.dkim, f.dmarc),
        "DMARC-05": lambda f: evaluate_dmarc_reports(f.dmarc),
        "MX-01": lambda f: evaluate_mx(f.mx),
    }
)
"""Each DNS control id → its pure evaluator; each returns one Finding whose target is the domain."""


def evaluate_domain(facts: DomainFacts) -> list[Finding]:
    """Every DNS control for one domain, in catalogue order."""
    return [evaluate(facts) for evaluate in DNS_CONTROLS.values()]


def sending_domains(addresses: Iterable[str]) -> list[str]:
    """The distinct domains of from-addresses, in first-seen order (each is checked once)."""
    domains = [normalize_name(a.rpartition("@")[2]) for a in addresses if "@" in a]
    return list(dict.fromkeys(d for d in domains if d))
