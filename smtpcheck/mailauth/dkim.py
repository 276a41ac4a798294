"""DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463): parse, fetch, DKIM-01 and DKIM-02."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from smtpcheck.catalogue import get_control
from smtpcheck.findings import EvidenceValue, Finding, Status
from smtpcheck.mailauth.client import DnsAnswer, DnsClient, Outcome, normalize_name
from smtpcheck.mailauth.profile import DnsProfile
from smtpcheck.mailauth.records import Issue, parse_tag_list
from smtpcheck.mailauth.remedy import RecordToPublish, describe_records
from smtpcheck.mailauth.verdicts import failing, finding_from_issues, skip_without_provider

MIN_RSA_BITS = 1024  # RFC 8301 §3.2: verifiers MUST NOT accept smaller keys
ADVISED_RSA_BITS = 2048  # RFC 8301 §3.2: signers SHOULD use at least 2048 bits
_S3_6_1 = "RFC 6376 §3.6.1"


@dataclass(frozen=True)
class DkimKey:
    """A parsed DKIM key record; ``issues`` with ``fatal`` make the key unusable."""

    text: str
    tags: Mapping[str, str]
    key_type: str
    key_bits: int | None
    revoked: bool
    testing: bool
    issues: tuple[Issue, ...]

    @property
    def usable(self) -> bool:
        return not any(issue.fatal for issue in self.issues)

    def describe(self) -> str:
        if self.revoked:
            return "revoked (empty p=)"
        size = f" {self.key_bits} bits" if self.key_bits else ""
        return f"{self.key_type}{size}" + (" t=y (testing)" if self.testing else "")


def parse_dkim_key(text: str) -> DkimKey:
    """Parse a key record (the joined TXT strings); never raises for bad input."""
    tag_list = parse_tag_list(text, fold_case=False)  # tag names are case-sensitive (§3.2)
    tags = tag_list.tags
    issues: list[Issue] = []
    if tag_list.malformed or tag_list.duplicates:
        bad = ", ".join([*tag_list.malformed, *(f"{d} twice" for d in tag_list.duplicates)])
        issues.append(Issue("syntax", f"not a valid tag list: {bad}", "RFC 6376 §3.2"))
    if "v" in tags and (tags["v"] != "DKIM1" or tag_list.order[0] != "v"):
        issues.append(Issue("version", "v= must be DKIM1 and the first tag", _S3_6_1))
    key_type = tags.get("k", "rsa") or "rsa"
    revoked = "p" in tags and not tags["p"]
    key_bits: int | None = None
    if "p" not in tags:
        issues.append(Issue("no-key", "p= (the public key) is missing", _S3_6_1))
    elif revoked:
        issues.append(Issue("revoked", "empty p=: the key is revoked", _S3_6_1))
    else:
        key_bits, problem = _key_bits(key_type, "".join(tags["p"].split()))
        if problem is not None:
            issues.append(problem)
    issues.extend(_flag_issues(tags))
    testing = "y" in _colon_list(tags.get("t", ""))
    return DkimKey(text, tags, key_type, key_bits, revoked, testing, tuple(issues))


def _colon_list(value: str) -> tuple[str, ...]:
    return tuple(item.strip().lower() for item in value.split(":") if item.strip())


def _key_bits(key_type: str, data: str) -> tuple[int | None, Issue | None]:
    """The key size read from the key itself (RFC 8301 §3.2, RFC 8463 §4.2)."""
    if key_type not in ("rsa", "ed25519"):
        return None, Issue("key-type", f"unknown key type k={key_type}", "RFC 8463 §4.2")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return None, Issue("key-data", "p= is not valid base64", _S3_6_1)
    if key_type == "ed25519":
        try:
            ed25519.Ed25519PublicKey.from_public_bytes(raw)
        except ValueError:
            return None, Issue("key-data", "p= is not a 32-octet Ed25519 key", "RFC 8463 §4.2")
        return 256, None
    try:
        key = load_der_public_key(raw)
    except (ValueError, TypeError, UnsupportedAlgorithm):  # e.g. an EC curve nobody knows
        return None, Issue("key-data", "p= is not a DER RSA public key", _S3_6_1)
    if not isinstance(key, rsa.RSAPublicKey):
        return None, Issue("key-type", "k=rsa but p= holds another kind of key", _S3_6_1)
    bits = key.key_size
    if bits < MIN_RSA_BITS:
        return bits, Issue("weak-key", f"RSA key of {bits} bits: under 1024", "RFC 8301 §3.2")
    if bits < ADVISED_RSA_BITS:
        issue = Issue("short-key", f"RSA key of {bits} bits: under 2048", "RFC 8301 §3.2", False)
        return bits, issue
    return bits, None


def _flag_issues(tags: Mapping[str, str]) -> list[Issue]:
    issues: list[Issue] = []
    hashes = _colon_list(tags.get("h", ""))
    if hashes and "sha256" not in hashes:
        issues.append(Issue("sha1-only", f"h={tags['h']} allows no sha256", "RFC 8301 §3.1"))
    services = _colon_list(tags.get("s", ""))
    if services and not {"email", "*"} & set(services):
        issues.append(Issue("service", f"s={tags['s']} excludes email", _S3_6_1))
    if "y" in _colon_list(tags.get("t", "")):
        issues.append(Issue("testing", "t=y: verifiers may ignore failures", _S3_6_1, False))
    return issues


@dataclass(frozen=True)
class DkimSelectorFacts:
    selector: str
    name: str
    answer: DnsAnswer


def selector_name(selector: str, domain: str) -> str:
    return f"{normalize_name(selector)}._domainkey.{normalize_name(domain)}"


def fetch_dkim_selectors(
    domain: str, selectors: Sequence[str], dns: DnsClient
) -> tuple[DkimSelectorFacts, ...]:
    """The TXT (through any CNAME chain) at each selector; asked concurrently."""
    names = [selector_name(selector, domain) for selector in selectors]
    dns.prefetch((name, "TXT") for name in names)
    return tuple(
        DkimSelectorFacts(selector, name, dns.query(name, "TXT"))
        for selector, name in zip(selectors, names, strict=True)
    )


def _record_for(profile: DnsProfile, selector: str, domain: str) -> RecordToPublish:
    name = selector_name(selector, domain)
    if profile.provider.dkim_record == "cname":
        template = str(profile.provider.extra.get("dkim_cname_target", "{selector}"))
        return RecordToPublish(name, "CNAME", template.format(selector=selector))
    value = f"v=DKIM1; k=rsa; p=<the public key {profile.name} shows for {domain}>"
    return RecordToPublish(name, "TXT", value)


def evaluate_dkim_published(
    domain: str, profile: DnsProfile | None, selectors: Sequence[DkimSelectorFacts]
) -> Finding:
    """DKIM-01: the provider's selectors are published (TXT, or CNAME chain when expected)."""
    control = get_control("DKIM-01")
    if profile is None:
        return skip_without_provider("DKIM-01", domain)
    if not selectors:
        return _no_selectors(domain, profile)
    failed = [f.answer.describe() for f in selectors if f.answer.failed]
    missing = [
        f for f in selectors if f.answer.outcome is not Outcome.ANSWER and not f.answer.failed
    ]
    odd = [why for f in selectors if (why := _cname_problem(profile, f))]
    evidence: dict[str, EvidenceValue] = {
        "provider": profile.name,
        "selectors": tuple(f.name for f in selectors),
        "answers": tuple(f.answer.describe() for f in selectors),
    }
    if failed:
        return control.finding(domain, Status.ERROR, f"DKIM lookup failed: {failed[0]}", evidence)
    if missing:
        records = [_record_for(profile, f.selector, domain) for f in missing]
        names = ", ".join(f.name for f in missing)
        remediation = describe_records(f"Publish the {profile.name} DKIM record(s):", records)
        summary = f"{profile.name} DKIM selector(s) not published: {names}"
        return control.finding(
            domain, failing(profile.dkim_confidence), summary, evidence, remediation
        )
    if odd:
        evidence["problems"] = tuple(odd)
        return control.finding(domain, Status.WARN, odd[0], evidence)
    summary = f"{len(selectors)} {profile.name} DKIM selector(s) published"
    return control.finding(domain, Status.PASS, summary, evidence)


def _no_selectors(domain: str, profile: DnsProfile) -> Finding:
    control = get_control("DKIM-01")
    key = profile.provider.key
    if profile.provider.dkim_record != "cname":
        summary = f"the {profile.name} profile names no DKIM selector to check"
        return control.finding(domain, Status.SKIP, summary, {"provider": profile.name})
    records = [_record_for(profile, f"<token{n}>", domain) for n in (1, 2, 3)]
    remediation = describe_records(
        f"{profile.name} DKIM tokens are per identity and cannot be guessed. Copy the three tokens "
        f"of {domain} from the provider console into the config as "
        f'providers.{key}.dkim_selectors = ["<token1>", "<token2>", "<token3>"]; '
        "the records they stand for are:",
        records,
    )
    summary = f"cannot check {profile.name} DKIM: providers.{key}.dkim_selectors is not configured"
    return control.finding(domain, Status.ERROR, summary, {"provider": profile.name}, remediation)


def _cname_problem(profile: DnsProfile, facts: DkimSelectorFacts) -> str:
    if profile.provider.dkim_record != "cname" or facts.answer.outcome is not Outcome.ANSWER:
        return ""
    if not facts.answer.cnames:
        return f"{facts.name} is a TXT, not the CNAME {profile.name} expects (Easy DKIM)"
    suffix = profile.dkim_cname_suffix
    target = facts.answer.cnames[0]
    if suffix and not (target == suffix or target.endswith("." + suffix)):
        return f"{facts.name} is a CNAME to {target}, not under {suffix}"
    return ""


def evaluate_dkim_keys(
    domain: str, profile: DnsProfile | None, selectors: Sequence[DkimSelectorFacts]
) -> Finding:
    """DKIM-02: every published key parses, is not revoked or weak, not testing, not sha1-only."""
    control = get_control("DKIM-02")
    if profile is None:
        return skip_without_provider("DKIM-02", domain)
    published = [f for f in selectors if f.answer.outcome is Outcome.ANSWER]
    failed = [f.answer.describe() for f in selectors if f.answer.failed]
    if not published:
        if failed:
            return control.finding(domain, Status.ERROR, f"DKIM lookup failed: {failed[0]}")
        return control.finding(domain, Status.SKIP, "no DKIM key published to check (DKIM-01)")
    keys: list[str] = []
    issues: list[Issue] = []
    for facts in published:
        if len(facts.answer.records) > 1:
            n = len(facts.answer.records)
            issues.append(
                Issue("several-records", f"{facts.name}: {n} TXT records", "RFC 6376 §3.6.2.2")
            )
            continue
        key = parse_dkim_key(facts.answer.records[0])
        keys.append(f"{facts.name}: {key.describe()}")
        issues.extend(
            Issue(i.code, f"{facts.name}: {i.message}", i.reference, i.fatal) for i in key.issues
        )
    evidence: dict[str, EvidenceValue] = {
        "keys": tuple(keys),
        "records": tuple(r for f in published for r in f.answer.records),
        "issues": tuple(issue.describe() for issue in issues),
    }
    return finding_from_issues(
        control,
        domain,
        issues,
        evidence,
        passed=f"{len(keys)} DKIM key(s) sound",
        failures=[f"DKIM lookup failed: {detail}" for detail in failed],
        advice=_dkim_advice(profile),
    )


def _dkim_advice(profile: DnsProfile) -> dict[str, str]:
    """What to do for each DKIM-02 issue: keys come from the provider's domain settings."""
    renew = (
        f"Create a new DKIM key in {profile.name}'s domain settings (2048-bit RSA where offered) "
        "and publish the record it gives, replacing the current one"
    )
    return {
        "weak-key": f"{renew}: receivers must refuse RSA keys under 1024 bits (RFC 8301 §3.2).",
        "short-key": f"{renew}: keys under 2048 bits are weak (RFC 8301 §3.2 SHOULD).",
        "revoked": f"{renew}, or remove this selector if {profile.name} no longer signs with it.",
        "no-key": f"{renew}: the record has no p= tag.",
        "key-data": f"{renew}: p= must be the base64 key exactly as {profile.name} gives it.",
        "key-type": f"{renew}: k= must be rsa or ed25519 and match the key in p=.",
        "syntax": "Publish the record exactly as the provider gives it (tag=value; pairs).",
        "version": "Remove v= or make it the first tag, v=DKIM1 (RFC 6376 §3.6.1).",
        "sha1-only": "Remove h= (or list sha256): sha1 must not be used (RFC 8301 §3.1).",
        "service": "Remove s= (or set s=*): the key must be usable for email.",
        "testing": "Remove t=y once signing works: in testing mode verifiers may ignore failures.",
        "several-records": "Keep exactly one TXT record at the selector (RFC 6376 §3.6.2.2).",
    }
