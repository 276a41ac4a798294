"""DMARC records (pure): tags and values, report URIs, organisational domain; DMARC controls."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from smtpcheck.findings import Status
from smtpcheck.mailauth.dmarc import (
    DmarcFacts,
    is_dmarc_text,
    organisational_domain,
    parse_dmarc_record,
    parse_report_uri,
)
from smtpcheck.mailauth.dmarccontrols import (
    evaluate_dmarc_policy,
    evaluate_dmarc_published,
    evaluate_dmarc_reports,
    evaluate_dmarc_tags,
)
from smtpcheck.mailauth.resolver import DnsAnswer
from tests.dns.answers import nxdomain, timeout, txt


@pytest.mark.parametrize(
    ("text", "is_dmarc"),
    [
        ("v=DMARC1; p=none", True),
        ("v=DMARC1", True),
        ("v = DMARC1 ;p=reject", True),
        ("V=DMARC1; p=none", True),
        ("v=dmarc1; p=none", False),  # the version value is case-sensitive (RFC 7489 §6.4)
        ("v=DMARC10; p=none", False),
        ("p=none; v=DMARC1", False),
        ("v=spf1 -all", False),
    ],
)
def test_record_selection(text: str, is_dmarc: bool) -> None:
    assert is_dmarc_text(text) is is_dmarc


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("v=DMARC1; p=reject; rua=mailto:d@example.com", []),
        ("v=DMARC1; p=quarantine; sp=none; adkim=s; aspf=r; fo=1:d; ruf=mailto:f@example.com", []),
        ("v=DMARC1; P=Reject", []),  # tag names and keywords case-insensitive
        ("v=DMARC1", ["no-policy"]),
        ("v=DMARC1; p=block", ["policy"]),
        ("v=DMARC1; sp=maybe; p=none", ["p-position", "policy"]),
        ("v=DMARC1; rua=mailto:d@example.com; p=none", ["p-position"]),
        ("v=DMARC1; p=none; adkim=x", ["alignment-mode"]),
        ("v=DMARC1; p=none; pct=101", ["pct", "dropped-tag"]),
        ("v=DMARC1; p=none; pct=50", ["dropped-tag"]),
        ("v=DMARC1; p=none; ri=3600; rf=afrf", ["dropped-tag", "dropped-tag"]),
        ("v=DMARC1; p=none; rf=iodef", ["rf", "dropped-tag"]),
        ("v=DMARC1; p=none; fo=2", ["fo"]),
        ("v=DMARC1; p=none; rua=d@example.com", ["report-uri"]),
        ("v=DMARC1; p=none; rua=mailto:d@example.com!10x", ["report-uri"]),
        ("v=DMARC1; p=none; rua=mailto:d@example.com!10m,https://r.example.net/x", []),
        ("v=DMARC1; p=none; rua=https://r.example.net/x", ["report-uri"]),  # no mailto: warn
        ("v=DMARC1; p=none; p=reject", ["duplicate-tag"]),
        ("v=DMARC1; p=none; foo=bar", ["unknown-tag"]),
        ("v=DMARC1; p=none; np=reject; psd=n; t=y", []),  # RFC 9989 tags are known
        ("v=DMARC1; p=none; garbage", ["syntax"]),
    ],
)
def test_parse(text: str, codes: list[str]) -> None:
    assert sorted(issue.code for issue in parse_dmarc_record(text).issues) == sorted(codes)


def test_warnings_are_not_fatal() -> None:
    record = parse_dmarc_record("v=DMARC1; p=none; pct=50; foo=bar")
    assert all(not issue.fatal for issue in record.issues)
    assert record.pct == 50


@pytest.mark.parametrize(
    ("uri", "host"),
    [
        ("mailto:dmarc@Reports.Example.NET", "reports.example.net"),
        ("mailto:dmarc@reports.example.net!50m", "reports.example.net"),
        ("mailto:d%40x@reports.example.net", "reports.example.net"),
        ("https://reports.example.net/dmarc", "reports.example.net"),
        ("dmarc@reports.example.net", None),
        ("mailto:reports.example.net", None),
    ],
)
def test_report_uri(uri: str, host: str | None) -> None:
    parsed = parse_report_uri(uri)
    assert (parsed.host if parsed else None) == host


@pytest.mark.parametrize(
    ("domain", "org"),
    [
        ("example.com", "example.com"),
        ("news.mail.example.com", "example.com"),
        ("shop.example.co.uk", "example.co.uk"),
        ("a.b.good.example", "good.example"),  # an unlisted TLD is one label (PSL's "*" rule)
    ],
)
def test_organisational_domain_from_the_bundled_public_suffix_list(domain: str, org: str) -> None:
    assert organisational_domain(domain) == org


def facts(
    domain: str,
    answer: DnsAnswer,
    org_answer: DnsAnswer | None = None,
    auth: dict[str, DnsAnswer] | None = None,
) -> DmarcFacts:
    return DmarcFacts(
        domain, organisational_domain(domain), answer, org_answer, MappingProxyType(auth or {})
    )


D = "_dmarc.example.com"


@pytest.mark.parametrize(
    ("dmarc", "published", "tags", "policy"),
    [
        (facts("example.com", txt(D, "v=DMARC1; p=reject")), "pass", "pass", "pass"),
        (facts("example.com", txt(D, "v=DMARC1; p=quarantine; pct=20")), "pass", "warn", "warn"),
        (facts("example.com", txt(D, "v=DMARC1; p=none")), "pass", "pass", "warn"),
        (facts("example.com", txt(D, "v=DMARC1; p=bogus")), "pass", "fail", "fail"),
        (facts("example.com", nxdomain(D)), "fail", "skip", "fail"),
        (
            facts("example.com", txt(D, "v=DMARC1; p=none", "v=DMARC1; p=reject")),
            "fail",
            "skip",
            "fail",
        ),
        (facts("example.com", txt(D, "some verification token")), "fail", "skip", "fail"),
        (facts("example.com", timeout(D)), "error", "error", "error"),
        (
            facts(
                "mail.example.com",
                nxdomain("_dmarc.mail.example.com"),
                txt(D, "v=DMARC1; p=reject; sp=none"),
            ),
            "pass",
            "pass",
            "warn",  # the subdomain gets sp=none (RFC 7489 §6.3)
        ),
    ],
)
def test_dmarc01_02_03(dmarc: DmarcFacts, published: str, tags: str, policy: str) -> None:
    assert evaluate_dmarc_published(dmarc).status == published
    assert evaluate_dmarc_tags(dmarc).status == tags
    assert evaluate_dmarc_policy(dmarc).status == policy


def test_missing_record_remediation_is_a_pasteable_record() -> None:
    finding = evaluate_dmarc_published(facts("example.com", nxdomain(D)))
    assert (
        '_dmarc.example.com. 3600 IN TXT "v=DMARC1; p=none; rua=mailto:dmarc-reports@example.com"'
        in finding.remediation
    )


def test_inherited_sp_none_remediation_tightens_sp() -> None:
    dmarc = facts(
        "mail.example.com",
        nxdomain("_dmarc.mail.example.com"),
        txt(D, "v=DMARC1; p=reject; sp=none"),
    )
    finding = evaluate_dmarc_policy(dmarc)
    assert finding.summary == "sp=none: monitoring only"
    assert (
        '_dmarc.example.com. 3600 IN TXT "v=DMARC1; p=reject; sp=quarantine"' in finding.remediation
    )


def test_p_none_remediation_keeps_the_other_tags() -> None:
    record = "v=DMARC1; p=none; rua=mailto:d@example.com; adkim=s"
    finding = evaluate_dmarc_policy(facts("example.com", txt(D, record)))
    assert '"v=DMARC1; p=quarantine; rua=mailto:d@example.com; adkim=s"' in finding.remediation


AUTH = "example.com._report._dmarc.reports.example.net"


@pytest.mark.parametrize(
    ("record", "auth", "status"),
    [
        ("v=DMARC1; p=none; rua=mailto:d@example.com", {}, Status.PASS),
        ("v=DMARC1; p=none; rua=mailto:d@mail.example.com", {}, Status.PASS),
        ("v=DMARC1; p=none", {}, Status.SKIP),
        (
            "v=DMARC1; p=none; rua=mailto:d@reports.example.net",
            {"reports.example.net": txt(AUTH, "v=DMARC1")},
            Status.PASS,
        ),
        (
            "v=DMARC1; p=none; ruf=mailto:d@reports.example.net",
            {"reports.example.net": nxdomain(AUTH)},
            Status.FAIL,
        ),
        (
            "v=DMARC1; p=none; rua=mailto:d@reports.example.net",
            {"reports.example.net": txt(AUTH, "v=spf1 -all")},
            Status.FAIL,
        ),
        (
            "v=DMARC1; p=none; rua=mailto:d@reports.example.net",
            {"reports.example.net": timeout(AUTH)},
            Status.ERROR,
        ),
    ],
)
def test_dmarc05(record: str, auth: dict[str, DnsAnswer], status: Status) -> None:
    finding = evaluate_dmarc_reports(facts("example.com", txt(D, record), auth=auth))
    assert finding.status is status
    if status is Status.FAIL:
        assert f'{AUTH}. 3600 IN TXT "v=DMARC1"' in finding.remediation
