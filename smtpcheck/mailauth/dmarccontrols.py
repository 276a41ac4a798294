"""DMARC-01 … DMARC-05: pure evaluators over fetched DMARC, SPF and DKIM facts (RFC 7489)."""

from __future__ import annotations

from collections.abc import Sequence

from smtpcheck.catalogue import Control, get_control
from smtpcheck.findings import EvidenceValue, Finding, Status
from smtpcheck.mailauth.client import Outcome
from smtpcheck.mailauth.dkim import DkimSelectorFacts, parse_dkim_key
from smtpcheck.mailauth.dmarc import DmarcFacts, authorises, is_external, organisational_domain
from smtpcheck.mailauth.profile import DnsProfile
from smtpcheck.mailauth.remedy import RecordToPublish, describe_records
from smtpcheck.mailauth.spftree import SpfTree, analyse_spf
from smtpcheck.mailauth.verdicts import failing, finding_from_issues, skip_without_provider
from smtpcheck.providers import Confidence


def _evidence(facts: DmarcFacts) -> dict[str, EvidenceValue]:
    evidence: dict[str, EvidenceValue] = {
        "queried": facts.answer.describe(),
        "records": facts.records,
        "location": f"_dmarc.{facts.location}",
    }
    if facts.org_answer is not None:
        evidence["organisational_domain"] = facts.org_answer.describe()
    return evidence


def _new_record(facts: DmarcFacts, policy: str, tag: str = "p") -> RecordToPublish:
    """The record to publish with ``tag`` (p or sp) set to ``policy``, other tags kept."""
    record = facts.record
    if record is not None:
        tags = {name: value for name, value in record.tags.items() if name != "v"}
        tags = {"p": tags.pop("p", policy), **tags} | {tag: policy}
        value = "; ".join(["v=DMARC1", *(f"{name}={value}" for name, value in tags.items())])
        return RecordToPublish(f"_dmarc.{facts.location}", "TXT", value)
    value = f"v=DMARC1; p={policy}; rua=mailto:dmarc-reports@{facts.domain}"
    note = f"dmarc-reports@{facts.domain} stands for the mailbox that should receive reports"
    return RecordToPublish(f"_dmarc.{facts.domain}", "TXT", value, note)


def _without_record(
    control: Control, facts: DmarcFacts, evidence: dict[str, EvidenceValue]
) -> Finding:
    """A control about the record, when there is no single record: error if DNS failed."""
    if facts.effective.failed:
        return control.finding(facts.domain, Status.ERROR, facts.effective.describe(), evidence)
    summary = "not exactly one DMARC record (DMARC-01)"
    return control.finding(facts.domain, Status.SKIP, summary, evidence)


def evaluate_dmarc_published(facts: DmarcFacts) -> Finding:
    """DMARC-01: exactly one record at _dmarc.<domain> or the organisational domain (§6.6.3)."""
    control = get_control("DMARC-01")
    evidence = _evidence(facts)
    effective = facts.effective
    if effective.failed:
        return control.finding(
            facts.domain, Status.ERROR, f"DMARC lookup failed: {effective.describe()}", evidence
        )
    records = facts.records
    if len(records) == 1:
        where = "" if facts.location == facts.domain else " (organisational domain)"
        return control.finding(
            facts.domain,
            Status.PASS,
            f"one DMARC record at _dmarc.{facts.location}{where}",
            evidence,
        )
    if not records:
        remediation = describe_records(
            "Publish a DMARC record (start with p=none and tighten once reports show aligned "
            "passes):",
            [_new_record(facts, "none")],
        )
        return control.finding(facts.domain, Status.FAIL, "no DMARC record", evidence, remediation)
    summary = f"{len(records)} DMARC records at _dmarc.{facts.location}: no policy applies"
    return control.finding(
        facts.domain, Status.FAIL, summary, evidence, "Keep exactly one v=DMARC1 record."
    )


def evaluate_dmarc_tags(facts: DmarcFacts) -> Finding:
    """DMARC-02: tags and values valid (RFC 7489 §6.3); RFC 9989's dropped tags warn."""
    control = get_control("DMARC-02")
    record = facts.record
    evidence = _evidence(facts)
    if record is None:
        return _without_record(control, facts, evidence)
    evidence["tags"] = tuple(f"{name}={value}" for name, value in record.tags.items())
    evidence["issues"] = tuple(issue.describe() for issue in record.issues)
    return finding_from_issues(
        control, facts.domain, record.issues, evidence, passed="tags and values valid"
    )


def evaluate_dmarc_policy(facts: DmarcFacts) -> Finding:
    """DMARC-03: the applicable policy (sp= for a subdomain found at its organisational
    domain, §6.3) is quarantine or reject; p=none warns; no record fails."""
    control = get_control("DMARC-03")
    record = facts.record
    evidence = _evidence(facts)
    if record is None:
        if facts.effective.failed:
            return control.finding(facts.domain, Status.ERROR, facts.effective.describe(), evidence)
        why = "no DMARC record" if not facts.records else "several DMARC records"
        remediation = describe_records("Publish one DMARC record:", [_new_record(facts, "none")])
        return control.finding(
            facts.domain, Status.FAIL, f"{why}: no policy applies", evidence, remediation
        )
    inherited = facts.location != facts.domain
    policy = record.subdomain_policy if inherited else record.policy
    tag = "sp" if inherited and "sp" in record.tags else "p"
    evidence |= {"policy": policy, "pct": record.pct, "from": f"{tag}= at _dmarc.{facts.location}"}
    if policy is None:
        summary = "no valid p=: receivers apply no policy"
        remediation = describe_records("Publish:", [_new_record(facts, "none")])
        return control.finding(facts.domain, Status.FAIL, summary, evidence, remediation)
    if policy == "none":
        remediation = describe_records(
            "Once reports show aligned passes for all legitimate mail, enforce the policy:",
            [_new_record(facts, "quarantine", tag)],
        )
        return control.finding(
            facts.domain, Status.WARN, f"{tag}=none: monitoring only", evidence, remediation
        )
    if record.pct < 100:
        summary = f"{tag}={policy} applies to only {record.pct}% of failing mail"
        return control.finding(facts.domain, Status.WARN, summary, evidence)
    return control.finding(facts.domain, Status.PASS, f"{tag}={policy}", evidence)


def evaluate_dmarc_reports(facts: DmarcFacts) -> Finding:
    """DMARC-05: each external rua/ruf destination authorises the policy domain (§7.1)."""
    control = get_control("DMARC-05")
    record = facts.record
    evidence = _evidence(facts)
    if record is None:
        return _without_record(control, facts, evidence)
    uris = (*record.rua, *record.ruf)
    if not uris:
        return control.finding(
            facts.domain, Status.SKIP, "no rua/ruf report destinations", evidence
        )
    external = sorted({uri.host for uri in uris if is_external(uri.host, facts.location)})
    evidence["destinations"] = tuple(uri.raw for uri in uris)
    evidence["external"] = tuple(external)
    if not external:
        return control.finding(
            facts.domain, Status.PASS, "every report destination is internal", evidence
        )
    answers = {host: facts.report_auth[host] for host in external if host in facts.report_auth}
    evidence["authorisations"] = tuple(answer.describe() for answer in answers.values())
    failed = [answer.describe() for answer in answers.values() if answer.failed]
    missing = [
        host for host, answer in answers.items() if not answer.failed and not authorises(answer)
    ]
    if missing:
        records = [
            RecordToPublish(f"{facts.location}._report._dmarc.{host}", "TXT", "v=DMARC1")
            for host in missing
        ]
        remediation = describe_records(
            "The owner of each destination must publish (or remove the destination from rua/ruf):",
            records,
        )
        summary = f"report destination(s) not authorised: {', '.join(missing)}"
        return control.finding(facts.domain, Status.FAIL, summary, evidence, remediation)
    if failed:
        return control.finding(facts.domain, Status.ERROR, failed[0], evidence)
    return control.finding(
        facts.domain, Status.PASS, f"{len(external)} external destination(s) authorised", evidence
    )


def _dkim_path(domain: str, selectors: Sequence[DkimSelectorFacts]) -> list[str]:
    """Selectors whose key is published and usable: the provider signs with d=<domain>."""
    usable = []
    for facts in selectors:
        answer = facts.answer
        single = answer.outcome is Outcome.ANSWER and len(answer.records) == 1
        if single and parse_dkim_key(answer.records[0]).usable:
            usable.append(facts.name)
    return usable


def _spf_path(domain: str, profile: DnsProfile, tree: SpfTree, aspf: str) -> tuple[str, str]:
    """(the aligned MAIL FROM, "") when SPF can align, else ("", why not)."""
    mail_from = profile.mail_from_for(domain)
    if mail_from is None and profile.return_path != "sender":
        return "", f"{profile.name} sends with its own MAIL FROM domain: SPF cannot align"
    name = mail_from or domain
    analysis = analyse_spf(tree, name)
    included = any(include in analysis.reached for include in profile.provider.spf_includes)
    if not included or analysis.permerror or analysis.temperror:
        return "", f"SPF at {name} does not authorise {profile.name} (SPF-03)"
    if aspf == "s" and name != domain:
        return "", f"aspf=s: MAIL FROM {name} does not equal {domain}"
    if organisational_domain(name) != organisational_domain(domain):
        return "", f"MAIL FROM {name} is outside the organisational domain of {domain}"
    return name, ""


def evaluate_dmarc_alignment(
    domain: str,
    profile: DnsProfile | None,
    tree: SpfTree,
    selectors: Sequence[DkimSelectorFacts],
    dmarc: DmarcFacts,
) -> Finding:
    """DMARC-04: DKIM d=<domain> through published selectors, or SPF through an aligned
    MAIL FROM (RFC 7489 §3.1)."""
    control = get_control("DMARC-04")
    if profile is None:
        return skip_without_provider("DMARC-04", domain)
    record = dmarc.record
    aspf = record.aspf if record else "r"
    dkim = _dkim_path(domain, selectors)
    spf_name, spf_why = _spf_path(domain, profile, tree, aspf)
    evidence: dict[str, EvidenceValue] = {
        "provider": profile.name,
        "dkim_aligned_selectors": tuple(dkim),
        "spf_aligned_mail_from": spf_name or None,
        "spf": spf_why or "aligned",
        "aspf": aspf,
        "adkim": record.adkim if record else "r",
    }
    if dkim or spf_name:
        via = f"DKIM ({dkim[0]})" if dkim else f"SPF (MAIL FROM {spf_name})"
        return control.finding(
            domain, Status.PASS, f"{profile.name} can pass DMARC aligned via {via}", evidence
        )
    failed = [f.answer.describe() for f in selectors if f.answer.failed]
    if failed:
        summary = f"cannot tell: DKIM lookup failed: {failed[0]}"
        return control.finding(domain, Status.ERROR, summary, evidence)
    if not selectors and profile.provider.dkim_record == "cname":
        summary = (
            f"cannot tell: {profile.name} DKIM selectors are not configured (DKIM-01); {spf_why}"
        )
        fix = (
            f"Give the identity's DKIM tokens as providers.{profile.provider.key}.dkim_selectors "
            "in the config file (the console lists them under the domain's DKIM settings)."
        )
        return control.finding(domain, Status.ERROR, summary, evidence, fix)
    status = failing(profile.dkim_confidence)
    provider_mail_from = profile.return_path != "sender" and not profile.mail_from_for(domain)
    if provider_mail_from and profile.return_path_confidence is Confidence.UNCONFIRMED:
        status = Status.WARN  # "SPF cannot align" rests on an unconfirmed fact
    summary = (
        f"{profile.name} cannot pass DMARC aligned: no usable DKIM key at its selectors; {spf_why}"
    )
    remediation = "Publish the provider's DKIM record(s) (DKIM-01)"
    if profile.provider.spf_includes:
        include = profile.provider.spf_includes[0]
        remediation += f", or send with a custom MAIL FROM under {domain} that includes {include}"
    return control.finding(domain, status, summary, evidence, remediation + ".")
