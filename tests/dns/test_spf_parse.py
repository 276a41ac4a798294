"""The SPF parser (pure): record selection, terms, syntax per RFC 7208 §12, macros per §7."""

from __future__ import annotations

import ipaddress

import pytest

from smtpcheck.mailauth.spf import expand_macros, parse_spf_record, select_spf_records


@pytest.mark.parametrize(
    ("texts", "selected"),
    [
        (["v=spf1 -all"], ["v=spf1 -all"]),
        (["v=spf1"], ["v=spf1"]),
        (["V=SPF1 -all"], ["V=SPF1 -all"]),  # ABNF literals are case-insensitive (RFC 5234 §2.3)
        (["v=spf10 -all", "hello"], []),  # RFC 7208 §4.5: exactly v=spf1, then SP or end
        ([" v=spf1 -all"], []),
        (["spf2.0/pra -all", "v=spf1 a -all"], ["v=spf1 a -all"]),
        (["v=spf1 -all", "v=spf1 a -all"], ["v=spf1 -all", "v=spf1 a -all"]),
    ],
)
def test_record_selection(texts: list[str], selected: list[str]) -> None:
    assert list(select_spf_records(texts)) == selected


VALID = [
    "v=spf1 -all",
    "v=spf1 ip4:192.0.2.0/24 ip6:2001:db8::/32 ~all",
    "v=spf1 a mx a:mail.example.com/24 mx:example.org/24//64 a/28 ?all",
    "v=spf1 include:spf.mailjet.com include:_spf.google.com -all",
    "v=spf1 exists:%{i}._spf.%{d} -all",
    "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d} -all",
    "v=spf1 redirect=_spf.example.com",
    "v=spf1 -all exp=explain._spf.%{d}",
    "v=spf1 include:example.com. -all",
    "v=spf1 foo=bar -all",
    "v=spf1 ptr:example.com -all",
    "v=spf1 a:%{d}",
]


@pytest.mark.parametrize("text", VALID)
def test_valid_records_parse_without_fatal_issues(text: str) -> None:
    record = parse_spf_record(text)
    assert record.is_valid, [i.message for i in record.issues]
    assert len(record.terms) == len(text.split()) - 1


INVALID = [
    ("v=spf1 foo -all", "unknown mechanism"),
    ("v=spf1 include -all", "needs ':' and a domain"),
    ("v=spf1 include: -all", "needs ':' and a domain"),
    ("v=spf1 ip4:300.1.1.1 -all", "not an IP address"),
    ("v=spf1 ip4:192.0.2.0/33 -all", "prefix length"),
    ("v=spf1 ip4:192.0.2.0/024 -all", "leading zeros"),
    ("v=spf1 ip6:192.0.2.1 -all", "not an IPv6 address"),
    ("v=spf1 ip4:2001:db8::1 -all", "not an IPv4 address"),
    ("v=spf1 a/33 -all", "prefix length"),
    ("v=spf1 exists:%{z}.example.com -all", "macro letter 'z'"),
    ("v=spf1 exists:%{c}.example.com -all", "macro letter 'c'"),  # c only in exp (§7.2)
    ("v=spf1 exists:%{d0}.example.com -all", "nonzero"),
    ("v=spf1 exists:%x.example.com -all", "'%' must start"),
    ("v=spf1 include:localhost -all", "not a fully qualified"),
    ("v=spf1 all:foo", "all takes no argument"),
    ("v=spf1 -redirect=example.com", "no qualifier"),
    ("v=spf1 ptr/24 -all", "no prefix length"),
    ("v=spf1 redirect=a.example redirect=b.example", "appears twice"),
    ("v=spf1 -all exp=a.example exp=b.example", "appears twice"),
    ("hello", "does not start with v=spf1"),
]


@pytest.mark.parametrize(("text", "why"), INVALID)
def test_invalid_records_have_a_fatal_issue_saying_why(text: str, why: str) -> None:
    record = parse_spf_record(text)
    fatal = [issue for issue in record.issues if issue.fatal]
    assert fatal, text
    assert any(why in issue.message for issue in fatal), [i.message for i in fatal]
    assert all(issue.reference.startswith("RFC ") for issue in fatal)


def test_every_syntax_error_is_reported_not_only_the_first() -> None:
    record = parse_spf_record("v=spf1 foo ip4:300.1.1.1 include -all")
    assert [i.code for i in record.issues if i.fatal] == ["syntax", "syntax", "syntax"]
    assert [t.name for t in record.terms] == ["all"]


@pytest.mark.parametrize(
    ("text", "codes"),
    [
        ("v=spf1 -all ip4:192.0.2.1", ["after-all"]),
        ("v=spf1 -all redirect=example.com", ["redirect-ignored"]),
        ("v=spf1 ptr -all", ["ptr"]),
        ("v=spf1 foo=bar -all", ["unknown-modifier"]),
        ("v=spf1 " + "ip4:198.51.100.200 " * 25 + "-all", ["size"]),
    ],
)
def test_warnings_are_issues_with_codes_not_permerrors(text: str, codes: list[str]) -> None:
    record = parse_spf_record(text)
    assert record.is_valid
    assert [issue.code for issue in record.issues] == codes


def test_terms_after_all_are_not_evaluated_and_redirect_is_ignored_with_all() -> None:
    record = parse_spf_record("v=spf1 include:a.example -all include:b.example redirect=c.example")
    assert [t.domain for t in record.evaluated_mechanisms] == ["a.example", ""]
    assert record.redirect is None  # RFC 7208 §6.1
    assert parse_spf_record("v=spf1 a redirect=c.example").redirect is not None


def test_term_fields() -> None:
    record = parse_spf_record("v=spf1 -mx:example.org/24//64 ~a/28 +ip6:2001:db8::/32 ?all")
    mx, a, ip6, all_ = record.terms
    assert (mx.qualifier, mx.domain, mx.cidr4, mx.cidr6) == ("-", "example.org", 24, 64)
    assert (a.qualifier, a.domain, a.cidr4, a.cidr6) == ("~", "", 28, None)
    assert (ip6.network, ip6.cidr6) == ("2001:db8::/32", 32)
    assert record.all_term is all_
    assert all_.qualifier == "?"
    assert [t.queries_dns for t in record.terms] == [True, True, False, False]


# RFC 7208 §7.4: sender strong-bad@email.example.com, client 192.0.2.3 (and 2001:db8::cb01).
_V4 = {
    "s": "strong-bad@email.example.com",
    "l": "strong-bad",
    "o": "email.example.com",
    "d": "email.example.com",
    "i": "192.0.2.3",
    "v": "in-addr",
    "h": "mx.example.org",
    "p": "unknown",
}
_V6 = _V4 | {
    "i": ".".join(ipaddress.ip_address("2001:db8::cb01").exploded.replace(":", "")),
    "v": "ip6",
}


@pytest.mark.parametrize(
    ("macro", "expanded"),
    [
        ("%{s}", "strong-bad@email.example.com"),
        ("%{o}", "email.example.com"),
        ("%{d}", "email.example.com"),
        ("%{d4}", "email.example.com"),
        ("%{d3}", "email.example.com"),
        ("%{d2}", "example.com"),
        ("%{d1}", "com"),
        ("%{dr}", "com.example.email"),
        ("%{d2r}", "example.email"),
        ("%{l}", "strong-bad"),
        ("%{l-}", "strong.bad"),
        ("%{lr}", "strong-bad"),
        ("%{lr-}", "bad.strong"),
        ("%{l1r-}", "strong"),
        ("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"),
        ("%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"),
        ("%{lr-}.lp.%{ir}.%{v}._spf.%{d2}", "bad.strong.lp.3.2.0.192.in-addr._spf.example.com"),
        ("%{ir}.%{v}.%{l1r-}.lp._spf.%{d2}", "3.2.0.192.in-addr.strong.lp._spf.example.com"),
        ("%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
        ("%%%_%-", "% %20"),
        ("%{S}", "strong-bad%40email.example.com"),  # uppercase: URL-escaped (§7.3)
    ],
)
def test_macro_expansion_examples_of_rfc_7208(macro: str, expanded: str) -> None:
    assert expand_macros(macro, _V4) == expanded


def test_ipv6_macro_example_of_rfc_7208() -> None:
    expected = (
        "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"
    )
    assert expand_macros("%{ir}.%{v}._spf.%{d2}", _V6) == expected
