"""Static SPF analysis and the SPF controls, over answers given as data (no I/O)."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from smtpcheck.findings import Status
from smtpcheck.mailauth.resolver import DnsAnswer
from smtpcheck.mailauth.spf import parse_spf_record
from smtpcheck.mailauth.spfcontrols import (
    evaluate_spf_authorises,
    evaluate_spf_published,
    evaluate_spf_restrictive,
    evaluate_spf_valid,
    merged_spf_record,
)
from smtpcheck.mailauth.spftree import SpfTree, analyse_spf
from tests.dns.answers import nxdomain, profile, records, timeout, txt

D = "example.com"
MAILJET = profile("mailjet")
MJ_SPF = txt("spf.mailjet.com", "v=spf1 ip4:192.0.2.0/24 -all")


def tree(*answers: DnsAnswer) -> SpfTree:
    return SpfTree((D,), MappingProxyType({(a.name, a.rdtype): a for a in answers}))


def test_counts_through_includes_and_redirects() -> None:
    t = tree(
        txt(D, "v=spf1 a mx include:one.example.com redirect=two.example.com"),
        records(D, "A", "192.0.2.1"),
        records(D, "AAAA"),
        records(D, "MX", "10 mx.example.com"),
        txt("one.example.com", "v=spf1 exists:x.example.com -all"),
        records("x.example.com", "A"),
        txt("two.example.com", "v=spf1 include:spf.mailjet.com ~all"),
        MJ_SPF,
    )
    analysis = analyse_spf(t, D)
    # a, mx, include, exists (inside), redirect, include (inside the redirect target)
    assert analysis.lookups == 6
    assert analysis.void_lookups == 1  # exists:x has no A
    assert analysis.reached == ("one.example.com", "two.example.com", "spf.mailjet.com")
    assert analysis.all_qualifier == "~"  # through the redirect (RFC 7208 §6.1)
    assert not analysis.permerror


def test_duplicate_include_counts_twice() -> None:
    analysis = analyse_spf(
        tree(txt(D, "v=spf1 include:spf.mailjet.com include:spf.mailjet.com -all"), MJ_SPF), D
    )
    assert analysis.lookups == 2


def test_eleven_lookups_are_a_permerror() -> None:
    terms = " ".join(f"a:h{n}.example.com" for n in range(11))
    hosts = [records(f"h{n}.example.com", t, "192.0.2.1") for n in range(11) for t in ("A", "AAAA")]
    analysis = analyse_spf(tree(txt(D, f"v=spf1 {terms} -all"), *hosts), D)
    assert analysis.lookups == 11
    assert [i.code for i in analysis.issues] == ["too-many-lookups"]


def test_loop_include_none_and_mx_over_ten_are_permerrors() -> None:
    loop = tree(
        txt(D, "v=spf1 include:a.example.com -all"),
        txt("a.example.com", f"v=spf1 include:{D} -all"),
    )
    assert [i.code for i in analyse_spf(loop, D).issues] == ["loop"]
    none = tree(txt(D, "v=spf1 include:a.example.com -all"), txt("a.example.com", "hello"))
    assert [i.code for i in analyse_spf(none, D).issues] == ["target-unusable"]
    nx = tree(txt(D, "v=spf1 include:a.example.com -all"), nxdomain("a.example.com"))
    nx_analysis = analyse_spf(nx, D)
    assert [i.code for i in nx_analysis.issues] == ["target-unusable"]
    assert nx_analysis.void_lookups == 1
    mx = tree(
        txt(D, "v=spf1 mx -all"), records(D, "MX", *(f"{n} m{n}.example.com" for n in range(11)))
    )
    assert [i.code for i in analyse_spf(mx, D).issues] == ["too-many-mx"]


def test_fatal_issue_inside_an_include_makes_the_root_permerror() -> None:
    analysis = analyse_spf(
        tree(txt(D, "v=spf1 include:a.example.com -all"), txt("a.example.com", "v=spf1 foo -all")),
        D,
    )
    assert analysis.permerror
    assert analysis.issues[0].message.startswith("a.example.com: ")


def test_a_dns_failure_in_the_tree_is_a_temperror_not_a_permerror() -> None:
    analysis = analyse_spf(
        tree(txt(D, "v=spf1 include:a.example.com -all"), timeout("a.example.com")), D
    )
    assert analysis.temperror
    assert not analysis.permerror
    assert "did not answer" in analysis.failures[0]


def test_macros_and_ptr_are_counted_not_followed() -> None:
    analysis = analyse_spf(tree(txt(D, "v=spf1 exists:%{i}.x.example.com ptr -all")), D)
    assert analysis.lookups == 2
    assert len(analysis.unexpanded) == 2


@pytest.mark.parametrize(
    ("existing", "merged"),
    [
        (None, "v=spf1 include:spf.mailjet.com ~all"),
        ("v=spf1 ip4:192.0.2.1 -all", "v=spf1 ip4:192.0.2.1 include:spf.mailjet.com -all"),
        ("v=spf1 mx +all", "v=spf1 mx include:spf.mailjet.com ~all"),
        ("v=spf1 mx ?all", "v=spf1 mx include:spf.mailjet.com ~all"),
        ("v=spf1 a", "v=spf1 a include:spf.mailjet.com ~all"),
        (
            "v=spf1 a redirect=x.example.com",
            "v=spf1 a include:spf.mailjet.com redirect=x.example.com",
        ),
        ("v=spf1 -all exp=e.example.com", "v=spf1 include:spf.mailjet.com -all exp=e.example.com"),
    ],
)
def test_merged_record_keeps_existing_terms(existing: str | None, merged: str) -> None:
    record = parse_spf_record(existing) if existing else None
    assert merged_spf_record(record, "spf.mailjet.com") == merged
    assert parse_spf_record(merged).is_valid


def test_spf03_remediation_gives_the_merged_record_and_its_lookup_count() -> None:
    t = tree(
        txt(D, "v=spf1 mx a ~all"),
        records(D, "MX", "10 mx.example.com"),
        records(D, "A", "192.0.2.1"),
        records(D, "AAAA"),
        MJ_SPF,
    )
    finding = evaluate_spf_authorises(D, MAILJET, t)
    assert finding.status is Status.FAIL
    assert f'{D}. 3600 IN TXT "v=spf1 mx a include:spf.mailjet.com ~all"' in finding.remediation
    assert "DNS lookups after the change: 3 of 10 (within" in finding.remediation
    assert finding.target == D


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (txt(D, "v=spf1 -all"), Status.PASS),
        (txt(D, "hello"), Status.FAIL),
        (nxdomain(D), Status.FAIL),
        (txt(D, "v=spf1 -all", "v=spf1 a -all"), Status.FAIL),
        (timeout(D), Status.ERROR),
    ],
)
def test_spf01(answer: DnsAnswer, status: Status) -> None:
    assert evaluate_spf_published(D, MAILJET, tree(answer)).status is status


@pytest.mark.parametrize(
    ("record", "status"),
    [
        ("v=spf1 include:spf.mailjet.com -all", Status.PASS),
        ("v=spf1 include:spf.mailjet.com ~all", Status.PASS),
        ("v=spf1 include:spf.mailjet.com +all", Status.FAIL),
        ("v=spf1 include:spf.mailjet.com ?all", Status.WARN),
        ("v=spf1 include:spf.mailjet.com", Status.WARN),
        ("v=spf1 ptr include:spf.mailjet.com -all", Status.WARN),
        ("v=spf1 redirect=spf.mailjet.com", Status.PASS),  # its -all applies (RFC 7208 §6.1)
    ],
)
def test_spf04(record: str, status: Status) -> None:
    assert evaluate_spf_restrictive(D, MAILJET, tree(txt(D, record), MJ_SPF)).status is status


@pytest.mark.parametrize(
    ("record", "status"),
    [
        ("v=spf1 include:spf.mailjet.com -all", Status.PASS),
        ("v=spf1 include:spf.mailjet.com -all ip4:192.0.2.9", Status.WARN),
        ("v=spf1 include:spf.mailjet.com foo -all", Status.FAIL),
        ("v=spf1 include:nowhere.example.com -all", Status.ERROR),  # the target was not fetched
    ],
)
def test_spf02(record: str, status: Status) -> None:
    finding = evaluate_spf_valid(D, MAILJET, tree(txt(D, record), MJ_SPF))
    assert finding.status is status
    if status is not Status.ERROR:
        assert finding.evidence["dns_lookups"] == 1


def test_spf02_flags_a_character_string_over_255_octets() -> None:
    long_text = "v=spf1 " + "ip4:192.0.2.1 " * 20 + "-all"
    answer = DnsAnswer(D, "TXT", txt(D).outcome.ANSWER, (long_text,), ((long_text.encode(),),))
    finding = evaluate_spf_valid(D, MAILJET, tree(answer))
    assert finding.status is Status.FAIL
    assert "over 255" in finding.summary


def test_provider_controls_skip_without_a_provider() -> None:
    finding = evaluate_spf_authorises(D, None, tree(txt(D, "v=spf1 -all")))
    assert finding.status is Status.SKIP
    assert "no relay provider" in finding.summary
