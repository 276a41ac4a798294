"""SPF-01 … SPF-04: pure evaluators over a fetched :class:`SpfTree`, and the merged record to
publish when the provider's include is missing (RFC 7208)."""

from __future__ import annotations

from collections.abc import Sequence

from smtpcheck.catalogue import get_control
from smtpcheck.findings import EvidenceValue, Finding, Status
from smtpcheck.mailauth.profile import DnsProfile
from smtpcheck.mailauth.records import Issue
from smtpcheck.mailauth.remedy import RecordToPublish, describe_records
from smtpcheck.mailauth.spf import MAX_DNS_LOOKUPS, MAX_STRING_OCTETS, SpfRecord
from smtpcheck.mailauth.spftree import SpfAnalysis, SpfTree, analyse_spf
from smtpcheck.mailauth.verdicts import failing, finding_from_issues, skip_without_provider

_SPF02_WARNINGS = frozenset({"size", "after-all", "redirect-ignored", "unknown-modifier"})
_SPF02_ADVICE = {
    "too-many-lookups": "Bring the DNS-querying terms (include, a, mx, ptr, exists, redirect) "
    "to 10 or fewer through the whole tree: replace a, mx and your own includes by the "
    "ip4:/ip6: ranges they stand for, and drop includes of senders no longer used.",
    "too-many-void-lookups": "Remove the terms naming domains that have no such records: "
    "each empty or NXDOMAIN answer is a void lookup.",
    "loop": "Break the loop: no include/redirect chain may lead back to a record in it.",
    "target-unusable": "Point include: and redirect= only at names with exactly one SPF record.",
    "too-many-mx": "Replace the mx term with ip4:/ip6: ranges or a: names for the senders.",
    "multiple-records": "Publish a single SPF record at the name.",
    "long-string": "Split the record into quoted strings of at most 255 octets in one TXT record.",
    "syntax": "Correct the terms named in the evidence (RFC 7208 §12 gives the grammar).",
    "duplicate-redirect": "Keep one redirect= modifier.",
    "duplicate-exp": "Keep one exp= modifier.",
}


def _evidence(analysis: SpfAnalysis) -> dict[str, EvidenceValue]:
    evidence: dict[str, EvidenceValue] = {"name": analysis.name, "spf_records": analysis.records}
    if analysis.answer is not None:
        evidence["txt"] = analysis.answer.records or analysis.answer.describe()
    return evidence


def evaluate_spf_published(domain: str, profile: DnsProfile | None, tree: SpfTree) -> Finding:
    """SPF-01: exactly one TXT record starting v=spf1 (RFC 7208 §4.5)."""
    control = get_control("SPF-01")
    analysis = analyse_spf(tree, domain)
    evidence = _evidence(analysis)
    if analysis.failures and not analysis.records:
        return control.finding(
            domain, Status.ERROR, f"TXT lookup failed: {analysis.failures[0]}", evidence
        )
    if len(analysis.records) == 1:
        return control.finding(domain, Status.PASS, "one SPF record", evidence)
    if not analysis.records:
        include = (
            profile.provider.spf_includes[0] if profile and profile.provider.spf_includes else ""
        )
        record = f"v=spf1 include:{include} ~all" if include else "v=spf1 <your senders> ~all"
        remediation = describe_records(
            "Publish one SPF record:", [RecordToPublish(analysis.name, "TXT", record)]
        )
        return control.finding(domain, Status.FAIL, "no SPF record", evidence, remediation)
    summary = f"{len(analysis.records)} SPF records: receivers return permerror"
    remediation = (
        "Merge the records into one (RFC 7208 §3.2 allows only one); keep each sender's terms "
        "once and a single all at the end."
    )
    return control.finding(domain, Status.FAIL, summary, evidence, remediation)


def _spf02_issues(analysis: SpfAnalysis) -> list[Issue]:
    issues = [i for i in analysis.issues if i.fatal or i.code in _SPF02_WARNINGS]
    for length in analysis.long_strings:
        issues.append(
            Issue(
                "long-string",
                f"a TXT character-string of {length} octets, over {MAX_STRING_OCTETS}",
                "RFC 7208 §3.3",
            )
        )
    return issues


def evaluate_spf_valid(domain: str, profile: DnsProfile | None, tree: SpfTree) -> Finding:
    """SPF-02: syntax, lookup limits through the tree, void lookups, loops (RFC 7208 §4.6)."""
    control = get_control("SPF-02")
    analysis = analyse_spf(tree, domain)
    evidence = _evidence(analysis)
    if len(analysis.records) != 1:
        if analysis.failures:
            return control.finding(domain, Status.ERROR, analysis.failures[0], evidence)
        return control.finding(domain, Status.SKIP, "not exactly one SPF record (SPF-01)", evidence)
    issues = _spf02_issues(analysis)
    evidence |= {
        "dns_lookups": analysis.lookups,
        "void_lookups": analysis.void_lookups,
        "reached": analysis.reached,
        "not_expanded": analysis.unexpanded,
        "issues": tuple(issue.describe() for issue in issues),
        "dns_failures": analysis.failures,
    }
    return finding_from_issues(
        control,
        domain,
        issues,
        evidence,
        passed=f"valid: {analysis.lookups}/{MAX_DNS_LOOKUPS} DNS lookups, "
        f"{analysis.void_lookups} void",
        failures=[f"part of the SPF tree could not be fetched: {f}" for f in analysis.failures],
        summary_prefix="permerror: ",
        advice=_SPF02_ADVICE,
    )


def merged_spf_record(record: SpfRecord | None, include: str) -> str:
    """The record with ``include:`` added before its ``all`` (or redirect), ``+all``/``?all``
    tightened to ``~all``; a new ``v=spf1 include:… ~all`` when there is no record."""
    if record is None:
        return f"v=spf1 include:{include} ~all"
    terms = [term.raw for term in record.terms]
    all_term = record.all_term
    if all_term is not None:
        index = record.terms.index(all_term)
        if all_term.qualifier in ("+", "?"):
            terms[index] = "~all"
    else:
        redirect = record.modifier("redirect")
        index = record.terms.index(redirect) if redirect is not None else len(terms)
        if redirect is None:
            terms.append("~all")
    terms.insert(index, f"include:{include}")
    return " ".join(["v=spf1", *terms])


def _lookups_after_merge(tree: SpfTree, analysis: SpfAnalysis, include: str) -> str:
    added = analyse_spf(tree, include)
    if added.failures or not added.records:
        return f"{analysis.lookups} + 1 + the lookups inside {include} (not fetched)"
    total = analysis.lookups + 1 + added.lookups
    verdict = "within" if total <= MAX_DNS_LOOKUPS else "OVER"
    return f"{total} of {MAX_DNS_LOOKUPS} ({verdict} the limit of RFC 7208 §4.6.4)"


def evaluate_spf_authorises(domain: str, profile: DnsProfile | None, tree: SpfTree) -> Finding:
    """SPF-03: the provider's include is reached on the name SPF is evaluated for."""
    control = get_control("SPF-03")
    if profile is None:
        return skip_without_provider("SPF-03", domain)
    includes = profile.provider.spf_includes
    name = profile.spf_name_for(domain)
    if not includes or name is None:
        why = "names no SPF include" if not includes else "sends with its own MAIL FROM domain"
        summary = f"{profile.name} {why}: SPF of {domain} is not where it is evaluated"
        if name is None:
            summary += f" (set providers.{profile.provider.key}.mail_from_domain to check one)"
        return control.finding(domain, Status.SKIP, summary, {"provider": profile.name})
    analysis = analyse_spf(tree, name)
    evidence = _evidence(analysis) | {"provider_includes": includes, "reached": analysis.reached}
    found = [include for include in includes if include in analysis.reached]
    if analysis.failures and not found:
        return control.finding(domain, Status.ERROR, analysis.failures[0], evidence)
    if found and not analysis.permerror:
        return control.finding(domain, Status.PASS, f"{name} authorises {found[0]}", evidence)
    if found:
        summary = f"{name} includes {found[0]} but its SPF is a permerror (SPF-02): not authorised"
        fix = (
            "Fix the SPF record's error (SPF-02): a permerror authorises nobody (RFC 7208 §2.6.7)."
        )
        return control.finding(domain, Status.FAIL, summary, evidence, fix)
    if len(analysis.records) > 1:
        fix = (
            f"Merge the SPF records at {name} into one, keeping include:{includes[0]} "
            "(RFC 7208 §4.5: several records are a permerror); see SPF-01."
        )
        return control.finding(
            domain, Status.FAIL, f"{name} has several SPF records (SPF-01)", evidence, fix
        )
    merged = merged_spf_record(analysis.record, includes[0])
    remediation = (
        describe_records(
            f"Publish this SPF record at {name} (the {profile.name} include merged into the "
            "existing terms):",
            [RecordToPublish(name, "TXT", merged)],
        )
        + f"\nDNS lookups after the change: {_lookups_after_merge(tree, analysis, includes[0])}"
    )
    summary = f"{name} does not authorise {profile.name} (no include:{includes[0]})"
    evidence["record_to_publish"] = merged
    return control.finding(domain, failing(profile.spf_confidence), summary, evidence, remediation)


def evaluate_spf_restrictive(domain: str, profile: DnsProfile | None, tree: SpfTree) -> Finding:
    """SPF-04: ends in -all or ~all; +all fails; ?all or no all warns; no ptr (RFC 7208 §5)."""
    control = get_control("SPF-04")
    analysis = analyse_spf(tree, domain)
    evidence = _evidence(analysis) | {"all": analysis.all_qualifier}
    record = analysis.record
    if record is None:
        if analysis.failures:
            return control.finding(domain, Status.ERROR, analysis.failures[0], evidence)
        return control.finding(domain, Status.SKIP, "not exactly one SPF record (SPF-01)", evidence)
    qualifier = analysis.all_qualifier
    uses_ptr = any(term.name == "ptr" for term in record.evaluated_mechanisms)
    tightened = _tightened(record)
    remediation = describe_records(
        "Publish the record ending in ~all (or -all once every sender is listed):",
        [RecordToPublish(domain, "TXT", tightened)],
    )
    if uses_ptr:
        remediation += (
            "\nReplace ptr with the ip4:/ip6: ranges or include: of the senders it stood for."
        )
    if qualifier == "+":
        summary = "+all: the record authorises every host on the Internet"
        return control.finding(domain, Status.FAIL, summary, evidence, remediation)
    problems: Sequence[str] = [
        *(["?all: neutral for everyone else"] if qualifier == "?" else []),
        *(["no all: mail from other hosts is neutral"] if qualifier is None else []),
        *(["uses ptr, which SHOULD NOT be used (RFC 7208 §5.5)"] if uses_ptr else []),
    ]
    if problems:
        return control.finding(domain, Status.WARN, "; ".join(problems), evidence, remediation)
    return control.finding(domain, Status.PASS, f"ends in {qualifier}all", evidence)


def _tightened(record: SpfRecord) -> str:
    terms = [t.raw for t in record.terms if t.name != "ptr"]
    all_term = record.all_term
    if all_term is None and record.redirect is None:
        terms.append("~all")
    elif all_term is not None and all_term.qualifier in ("+", "?"):
        terms[terms.index(all_term.raw)] = "~all"
    return " ".join(["v=spf1", *terms])
