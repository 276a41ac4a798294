"""DMARC records (RFC 7489): parse, organisational domain, and the fetch of policy discovery.

Policy discovery follows RFC 7489 §6.6.3: ``_dmarc.<domain>``, and only when that holds no DMARC
record, ``_dmarc.<organisational domain>`` from the Public Suffix List (bundled by
``publicsuffixlist``: no network at run time). RFC 9989 (DMARCbis, publication unverified: **U**
in the reference) replaces the PSL with a DNS tree walk and drops ``pct``, ``rf`` and ``ri``:
those tags get a warning, never a failure.
"""

from __future__ import annotations

import functools
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from publicsuffixlist import PublicSuffixList

from smtpcheck.mailauth.client import DnsAnswer, DnsClient, Outcome, normalize_name
from smtpcheck.mailauth.records import Issue, parse_tag_list
from smtpcheck.providers import digits

POLICIES = ("none", "quarantine", "reject")
_S6_3 = "RFC 7489 §6.3"
_VERSION = re.compile(r"^[vV]\s*=\s*DMARC1\s*(?:;|$)")  # RFC 7489 §6.4: %x44 … case-sensitive
_SIZE = re.compile(r"^[0-9]+[kmgt]?$", re.IGNORECASE)
_KNOWN_9989 = {"np": POLICIES, "psd": ("y", "n", "u"), "t": ("y", "n")}  # RFC 9989 additions
_DROPPED_9989 = ("pct", "rf", "ri")


@functools.cache
def _psl() -> PublicSuffixList:
    return PublicSuffixList()


def organisational_domain(domain: str) -> str:
    """The registrable domain under its public suffix (RFC 7489 §3.2); the name itself if none."""
    domain = normalize_name(domain)
    return _psl().privatesuffix(domain) or domain


def is_dmarc_text(text: str) -> bool:
    """A TXT text that starts with the DMARC1 version tag (RFC 7489 §6.6.3 step 3)."""
    return bool(_VERSION.match(text))


@dataclass(frozen=True)
class ReportUri:
    """One rua/ruf entry (RFC 7489 §6.2): ``mailto:reports@example.net!10m``."""

    raw: str
    scheme: str
    host: str  # the destination host: the part after @ for mailto

    @property
    def is_mailto(self) -> bool:
        return self.scheme == "mailto"


@dataclass(frozen=True)
class DmarcRecord:
    text: str
    tags: Mapping[str, str]
    rua: tuple[ReportUri, ...]
    ruf: tuple[ReportUri, ...]
    issues: tuple[Issue, ...]

    @property
    def policy(self) -> str | None:
        value = self.tags.get("p", "").lower()
        return value if value in POLICIES else None

    @property
    def subdomain_policy(self) -> str | None:
        value = self.tags.get("sp", "").lower()
        return value if value in POLICIES else self.policy

    @property
    def pct(self) -> int:
        value = digits(self.tags.get("pct", "100"))
        return value if value is not None and value <= 100 else 100

    @property
    def aspf(self) -> str:
        return "s" if self.tags.get("aspf", "r").lower() == "s" else "r"

    @property
    def adkim(self) -> str:
        return "s" if self.tags.get("adkim", "r").lower() == "s" else "r"


def parse_report_uri(text: str) -> ReportUri | None:
    """A DMARC URI with an optional ``!size`` (RFC 7489 §6.2); None when it is not one."""
    uri, _, size = text.strip().partition("!")
    if size and not _SIZE.match(size):
        return None
    try:
        parsed = urllib.parse.urlsplit(uri)
        hostname = parsed.hostname
    except ValueError:  # an unbalanced or invalid [IPv6] host: "https://[::1"
        return None
    scheme = parsed.scheme.lower()
    if not scheme:
        return None
    if scheme == "mailto":
        local, at, host = urllib.parse.unquote(parsed.path).rpartition("@")
        if not at or not local or "." not in host:
            return None
        return ReportUri(text.strip(), scheme, normalize_name(host))
    if not hostname:
        return None
    return ReportUri(text.strip(), scheme, normalize_name(hostname))


def parse_dmarc_record(text: str) -> DmarcRecord:
    """Parse one DMARC record; never raises for bad input (problems are issues)."""
    tag_list = parse_tag_list(text, fold_case=True)
    tags = tag_list.tags
    issues: list[Issue] = []
    if not is_dmarc_text(text):
        issues.append(Issue("version", "the record does not start with v=DMARC1", "RFC 7489 §6.4"))
    if tag_list.malformed:
        issues.append(
            Issue("syntax", f"not tag=value: {', '.join(tag_list.malformed)}", "RFC 7489 §6.4")
        )
    for name in dict.fromkeys(tag_list.duplicates):
        issues.append(Issue("duplicate-tag", f"{name}= appears more than once", "RFC 7489 §6.4"))
    issues.extend(_policy_issues(tags, tag_list.order))
    issues.extend(_value_issues(tags))
    rua, rua_issues = _report_uris(tags, "rua")
    ruf, ruf_issues = _report_uris(tags, "ruf")
    issues.extend(rua_issues + ruf_issues)
    known = {"v", "p", "sp", "adkim", "aspf", "pct", "fo", "rf", "ri", "rua", "ruf", *_KNOWN_9989}
    for name in tags:
        if name not in known:
            issues.append(Issue("unknown-tag", f"unknown tag {name}= is ignored", _S6_3, False))
    return DmarcRecord(text, tags, rua, ruf, tuple(issues))


def _policy_issues(tags: Mapping[str, str], order: tuple[str, ...]) -> list[Issue]:
    issues: list[Issue] = []
    if "p" not in tags:
        issues.append(Issue("no-policy", "p= is required in a policy record", _S6_3))
    elif tags["p"].lower() not in POLICIES:
        issues.append(Issue("policy", f"p={tags['p']} is not none, quarantine or reject", _S6_3))
    elif order[1:2] != ("p",):
        issues.append(
            Issue(
                "p-position",
                "p= should follow v= directly (RFC 9989 drops this rule)",
                "RFC 7489 §6.4",
                False,
            )
        )
    for name in ("sp", "np"):
        if name in tags and tags[name].lower() not in POLICIES:
            issues.append(
                Issue("policy", f"{name}={tags[name]} is not none, quarantine or reject", _S6_3)
            )
    return issues


def _value_issues(tags: Mapping[str, str]) -> list[Issue]:
    issues: list[Issue] = []
    for name in ("adkim", "aspf"):
        if name in tags and tags[name].lower() not in ("r", "s"):
            issues.append(Issue("alignment-mode", f"{name}={tags[name]} is not r or s", _S6_3))
    # ASCII digits only (RFC 7489 §6.4 DIGIT): "²" and "٣" pass str.isdigit(), not int()
    pct, ri = digits(tags.get("pct", "")), digits(tags.get("ri", ""))
    if "pct" in tags and not (pct is not None and pct <= 100):
        issues.append(Issue("pct", f"pct={tags['pct']} is not an integer 0-100", _S6_3))
    if "ri" in tags and not (ri is not None and ri < 2**32):
        issues.append(Issue("ri", f"ri={tags['ri']} is not a 32-bit unsigned integer", _S6_3))
    fo = [v.strip() for v in tags.get("fo", "0").split(":")]
    if any(v not in ("0", "1", "d", "s") for v in fo):
        issues.append(Issue("fo", f"fo={tags['fo']} is not a colon list of 0, 1, d, s", _S6_3))
    rf = [v.strip().lower() for v in tags.get("rf", "afrf").split(":")]
    if any(v != "afrf" for v in rf):
        issues.append(Issue("rf", f"rf={tags['rf']}: afrf is the only report format", _S6_3))
    for name, allowed in _KNOWN_9989.items():
        if name != "np" and name in tags and tags[name].lower() not in allowed:
            issues.append(
                Issue(name, f"{name}={tags[name]} is not one of {', '.join(allowed)}", "RFC 9989")
            )
    for name in _DROPPED_9989:
        if name in tags:
            issues.append(
                Issue(
                    "dropped-tag", f"{name}= is dropped by RFC 9989 (DMARCbis)", "RFC 9989", False
                )
            )
    return issues


def _report_uris(tags: Mapping[str, str], name: str) -> tuple[tuple[ReportUri, ...], list[Issue]]:
    if name not in tags:
        return (), []
    uris: list[ReportUri] = []
    issues: list[Issue] = []
    for text in tags[name].split(","):
        uri = parse_report_uri(text)
        if uri is None:
            issues.append(
                Issue("report-uri", f"{name}: {text.strip()!r} is not a DMARC URI", "RFC 7489 §6.2")
            )
        else:
            uris.append(uri)
    if uris and not any(uri.is_mailto for uri in uris):
        issues.append(Issue("report-uri", f"{name} has no mailto: URI", "RFC 7489 §6.2", False))
    return tuple(uris), issues


@dataclass(frozen=True)
class DmarcFacts:
    """What policy discovery saw for ``domain`` (RFC 7489 §6.6.3).

    ``answer`` is the TXT at ``_dmarc.<domain>``; ``org_answer`` the TXT at
    ``_dmarc.<org_domain>`` when discovery had to fall back to it; ``report_auth`` maps each
    external report destination host to the TXT at ``<location>._report._dmarc.<host>``.
    """

    domain: str
    org_domain: str
    answer: DnsAnswer
    org_answer: DnsAnswer | None
    report_auth: Mapping[str, DnsAnswer]

    @property
    def effective(self) -> DnsAnswer:
        """The answer discovery ended on."""
        return self.org_answer if self.org_answer is not None else self.answer

    @property
    def location(self) -> str:
        """The domain the applicable record is published for."""
        return self.org_domain if self.org_answer is not None else self.domain

    @property
    def records(self) -> tuple[str, ...]:
        return tuple(text for text in self.effective.records if is_dmarc_text(text))

    @property
    def record(self) -> DmarcRecord | None:
        """The record that applies: only when exactly one was found (RFC 7489 §6.6.3 step 4)."""
        records = self.records
        return parse_dmarc_record(records[0]) if len(records) == 1 else None


def is_external(destination: str, policy_domain: str) -> bool:
    """A report destination outside the policy domain's organisational domain (RFC 7489 §7.1)."""
    return organisational_domain(destination) != organisational_domain(policy_domain)


def fetch_dmarc(domain: str, dns: DnsClient) -> DmarcFacts:
    """Policy discovery, then the authorisation records of every external report destination."""
    domain = normalize_name(domain)
    org_domain = organisational_domain(domain)
    answer = dns.query(f"_dmarc.{domain}", "TXT")
    org_answer = None
    own = [text for text in answer.records if is_dmarc_text(text)]
    if not own and not answer.failed and org_domain != domain:
        org_answer = dns.query(f"_dmarc.{org_domain}", "TXT")
    facts = DmarcFacts(domain, org_domain, answer, org_answer, MappingProxyType({}))
    record = facts.record
    if record is None:
        return facts
    hosts = {
        uri.host for uri in (*record.rua, *record.ruf) if is_external(uri.host, facts.location)
    }
    questions = {host: f"{facts.location}._report._dmarc.{host}" for host in sorted(hosts)}
    dns.prefetch((name, "TXT") for name in questions.values())
    auth = {host: dns.query(name, "TXT") for host, name in questions.items()}
    return DmarcFacts(domain, org_domain, answer, org_answer, MappingProxyType(auth))


def authorises(answer: DnsAnswer) -> bool:
    """An authorisation answer holds a TXT starting v=DMARC1 (RFC 7489 §7.1)."""
    return answer.outcome is Outcome.ANSWER and any(is_dmarc_text(t) for t in answer.records)
