"""The SPF parser against the collected ABNF of RFC 7208 §12, production by production.

Tables first (each edge found while checking the grammar, most from the RFC 7208 test suite of
openspf.org), then hypothesis: records generated from the ABNF parse as valid with the terms
they were built from, and no text at all makes the parser raise.
"""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpcheck.mailauth.spf import (
    SpfRecord,
    check_domain_spec,
    expand_macros,
    is_spf_text,
    parse_spf_record,
    select_spf_records,
)

# Term fields: (name, qualifier, domain, network, cidr4, cidr6)
Fields = tuple[str, str, str, str, int | None, int | None]


def _fields(record: SpfRecord) -> list[Fields]:
    return [(t.name, t.qualifier, t.domain, t.network, t.cidr4, t.cidr6) for t in record.terms]


# ---------------------------------------------------------------------------------------------
# record = version terms *SP; version = "v=spf1" (§4.5, §4.6.1, §12)


@pytest.mark.parametrize(
    ("text", "is_spf"),
    [
        ("v=spf1", True),
        ("v=spf1 ", True),
        ("V=sPf1 -all", True),  # RFC 5234 §2.3: quoted strings are case-insensitive
        ("v=spf1\t-all", False),  # §4.5: the version ends with SP or the end of the record
        ("v=spf1\r\n", False),
        ("v=spf1\n-all", False),
        ("v=spf1-all", False),
        ("v=spf10", False),
        (" v=spf1 -all", False),
        ("v=spf2 -all", False),
    ],
)
def test_version_is_v_spf1_then_sp_or_end(text: str, is_spf: bool) -> None:
    assert is_spf_text(text) is is_spf
    assert select_spf_records([text]) == ((text,) if is_spf else ())
    assert parse_spf_record(text).is_valid is is_spf


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("v=spf1 a  -all", ["a", "all"]),  # terms = *( 1*SP ... ): one or more spaces
        ("v=spf1 -all   ", ["all"]),  # *SP at the end
        ("v=spf1    ", []),
        ("v=spf1", []),
    ],
)
def test_terms_are_separated_by_one_or_more_sp(text: str, names: list[str]) -> None:
    record = parse_spf_record(text)
    assert record.is_valid
    assert [t.name for t in record.terms] == names


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # The first defect of the issue: str.split() took these for separators (§4.6.1).
        ("v=spf1 a:ctrl.example.com\rptr -all", "contains CR"),  # test suite: control-char-policy
        ("v=spf1 a\t-all", "contains TAB"),
        ("v=spf1 a -all\n", "contains LF"),
        ("v=spf1 a -all\r\n", "contains CR, LF"),
        ("v=spf1 a \t -all", "contains TAB"),
        ("v=spf1 a\x0b-all", "contains VT"),
        ("v=spf1 a\x0c-all", "contains FF"),
        ("v=spf1 a\u00a0-all", "only visible ASCII"),  # NO-BREAK SPACE is not SP either
        ("v=spf1 a\u3000-all", "only visible ASCII"),
        ("v=spf1 a:foo.example.com\x00", "only visible ASCII"),  # test suite: a-null
        ("v=spf1 a:\ufeffgarbage.example.net -all", "only visible ASCII"),  # non-ascii-policy
        ("v=spf1 \x80a:example.net -all", "only visible ASCII"),  # non-ascii-mech
        ("v=spf1 a:example.net \x96all", "only visible ASCII"),  # non-ascii-result
        ("v=spf1 a:\u00fc.example -all", "only visible ASCII"),
        ("v=spf1 a:example.com\x7f", "only visible ASCII"),
    ],
)
def test_only_sp_separates_terms_and_terms_are_visible_ascii(text: str, why: str) -> None:
    record = parse_spf_record(text)
    assert not record.is_valid
    fatal = [issue for issue in record.issues if issue.fatal]
    assert any(why in issue.message for issue in fatal), [i.message for i in fatal]


def test_a_control_character_spoils_only_its_own_term_and_all_are_reported() -> None:
    record = parse_spf_record("v=spf1 ip4:192.0.2.1\t a:x.example\rptr -all")
    assert [t.raw for t in record.terms] == ["-all"]
    assert [i.code for i in record.issues if i.fatal] == ["syntax", "syntax"]
    assert all(i.reference.startswith("RFC 7208 §4.6.1") for i in record.issues if i.fatal)


# ---------------------------------------------------------------------------------------------
# Terms that are valid per §12, with the fields the parser must give them

VALID: list[tuple[str, list[Fields]]] = [
    # The second defect of the issue: a domain-spec may hold ':' and '/' (§7.1, macro-literal);
    # test suite a-colon-domain, mx-colon-domain.
    ("v=spf1 a:foo:bar/baz.example.com", [("a", "+", "foo:bar/baz.example.com", "", None, None)]),
    ("v=spf1 mx:foo:bar/baz.example.com", [("mx", "+", "foo:bar/baz.example.com", "", None, None)]),
    ("v=spf1 a:foo:bar/baz.example.com/24", [("a", "+", "foo:bar/baz.example.com", "", 24, None)]),
    ("v=spf1 mx:a/b.example.com//64", [("mx", "+", "a/b.example.com", "", None, 64)]),
    ("v=spf1 a:a/1.example.com/0//0", [("a", "+", "a/1.example.com", "", 0, 0)]),
    ("v=spf1 include:a/24.example.com", [("include", "+", "a/24.example.com", "", None, None)]),
    ("v=spf1 exists:x:y=z.example.com", [("exists", "+", "x:y=z.example.com", "", None, None)]),
    ("v=spf1 ptr:p/q.example.com", [("ptr", "+", "p/q.example.com", "", None, None)]),
    # pyspf's doctests: '/' and macros in the domain-spec, the last '/27' is the prefix
    ("v=spf1 -mx:%%%_/.Clara.de/27", [("mx", "-", "%%%_/.Clara.de", "", 27, None)]),
    (
        "v=spf1 ~exists:%{i}.%{s1}.100/86400.rate.%{d}",
        [("exists", "~", "%{i}.%{s1}.100/86400.rate.%{d}", "", None, None)],
    ),
    # dual-cidr-length = [ ip4-cidr-length ] [ "/" ip6-cidr-length ] (§5.3, §5.4)
    ("v=spf1 a/0", [("a", "+", "", "", 0, None)]),
    ("v=spf1 a//0", [("a", "+", "", "", None, 0)]),
    ("v=spf1 a/32//128", [("a", "+", "", "", 32, 128)]),
    ("v=spf1 mx//33", [("mx", "+", "", "", None, 33)]),  # test suite: mx-cidr6
    ("v=spf1 a:%{d}/24", [("a", "+", "%{d}", "", 24, None)]),
    ("v=spf1 a:example.com./24", [("a", "+", "example.com.", "", 24, None)]),
    # ip4 / ip6 (§5.6)
    ("v=spf1 ip4:0.0.0.0/0", [("ip4", "+", "", "0.0.0.0/0", 0, None)]),
    ("v=spf1 ip4:255.255.255.255/32", [("ip4", "+", "", "255.255.255.255/32", 32, None)]),
    ("v=spf1 ip6:::1.1.1.1/0", [("ip6", "+", "", "::1.1.1.1/0", None, 0)]),
    ("v=spf1 ip6:Cafe:Babe:8000::/33", [("ip6", "+", "", "Cafe:Babe:8000::/33", None, 33)]),
    ("v=spf1 ip6:::ffff:192.0.2.1", [("ip6", "+", "", "::ffff:192.0.2.1", None, None)]),
    ("v=spf1 ip6:2001:db8::/128", [("ip6", "+", "", "2001:db8::/128", None, 128)]),
    # Mechanism names and qualifiers are case-insensitive quoted strings (RFC 5234 §2.3)
    ("v=spf1 ?INCLUDE:Example.COM", [("include", "?", "Example.COM", "", None, None)]),
    ("v=spf1 Ip4:192.0.2.1", [("ip4", "+", "", "192.0.2.1", None, None)]),
    ("v=spf1 ~Mx -ALL", [("mx", "~", "", "", None, None), ("all", "-", "", "", None, None)]),
    # domain-end = ( "." toplabel [ "." ] ) / macro-expand (§7.1)
    ("v=spf1 a:foo.example.xn--zckzah", [("a", "+", "foo.example.xn--zckzah", "", None, None)]),
    ("v=spf1 a:foo.123-456", [("a", "+", "foo.123-456", "", None, None)]),  # 2nd toplabel form
    ("v=spf1 a:foo.1a", [("a", "+", "foo.1a", "", None, None)]),
    ("v=spf1 a:foo.a1", [("a", "+", "foo.a1", "", None, None)]),
    ("v=spf1 a:foo.example.com.", [("a", "+", "foo.example.com.", "", None, None)]),
    ("v=spf1 a:%{d}", [("a", "+", "%{d}", "", None, None)]),
    ("v=spf1 a:x%{d}", [("a", "+", "x%{d}", "", None, None)]),
    ("v=spf1 a:%{d}.com", [("a", "+", "%{d}.com", "", None, None)]),
    ("v=spf1 a:x.%{d}%%", [("a", "+", "x.%{d}%%", "", None, None)]),  # "%%" is a macro-expand
    ("v=spf1 a:x.%{d}%_", [("a", "+", "x.%{d}%_", "", None, None)]),
    ("v=spf1 a:x.%{d}%-/24", [("a", "+", "x.%{d}%-", "", 24, None)]),
    (
        "v=spf1 a:macro%%percent%_%_space%-url-space.example.com",  # macro-mania-in-domain
        [("a", "+", "macro%%percent%_%_space%-url-space.example.com", "", None, None)],
    ),
    # macro-expand = "%{" macro-letter transformers *delimiter "}"; transformers = *DIGIT ["r"]
    ("v=spf1 exists:%{dR}.x.example", [("exists", "+", "%{dR}.x.example", "", None, None)]),
    ("v=spf1 exists:%{D2}.x.example", [("exists", "+", "%{D2}.x.example", "", None, None)]),
    ("v=spf1 exists:%{l2r+-}.%{d2}", [("exists", "+", "%{l2r+-}.%{d2}", "", None, None)]),
    (
        "v=spf1 exists:%{l.-+,/_=}.x.example",
        [("exists", "+", "%{l.-+,/_=}.x.example", "", None, None)],
    ),
    ("v=spf1 exists:%{d01}.x.example", [("exists", "+", "%{d01}.x.example", "", None, None)]),
    (
        "v=spf1 exists:%{v}.%{h}.%{o}.%{p}.x.example",
        [("exists", "+", "%{v}.%{h}.%{o}.%{p}.x.example", "", None, None)],
    ),
    # modifiers (§6): names case-insensitive; unknown ones need only be name "=" macro-string
    ("v=spf1 REDIRECT=example.com", [("redirect", "", "example.com", "", None, None)]),
    (
        "v=spf1 redirect=%{d}.d.spf.example.com.",
        [("redirect", "", "%{d}.d.spf.example.com.", "", None, None)],
    ),
    ("v=spf1 Exp=msg8.%{D2}", [("exp", "", "msg8.%{D2}", "", None, None)]),
    (
        "v=spf1 moo.cow-far_out=man:dog/cat",
        [("moo.cow-far_out", "", "man:dog/cat", "", None, None)],
    ),
    ("v=spf1 foo=", [("foo", "", "", "", None, None)]),  # macro-string = *( ... ): may be empty
    ("v=spf1 default=+", [("default", "", "+", "", None, None)]),  # default-modifier-obsolete2
    ("v=spf1 foo=%{d}%%%_%-", [("foo", "", "%{d}%%%_%-", "", None, None)]),
    # name "=" first is a modifier: "a" and "all" are not known modifiers (pyspf agrees)
    ("v=spf1 a=b", [("a", "", "b", "", None, None)]),
]


@pytest.mark.parametrize(("text", "fields"), VALID)
def test_valid_terms_and_their_fields(text: str, fields: list[Fields]) -> None:
    record = parse_spf_record(text)
    assert record.is_valid, [i.message for i in record.issues]
    assert _fields(record) == fields


# ---------------------------------------------------------------------------------------------
# Terms that are not valid per §12 (a permerror, §4.6): (record, what the message says)

INVALID = [
    # all = "all" (§5.1); test suite all-dot, all-arg, all-cidr
    ("v=spf1 -all.", "unknown mechanism 'all.'"),
    ("v=spf1 -all:foobar", "all takes no argument"),
    ("v=spf1 -all/8", "all takes no argument"),
    ("v=spf1 ++all", "not a mechanism or modifier"),
    ("v=spf1 !all", "not a mechanism or modifier"),
    ("v=spf1 -", "not a mechanism or modifier"),
    # include / exists = name ":" domain-spec (§5.2, §5.7)
    ("v=spf1 include", "include needs ':' and a domain"),
    ("v=spf1 include:", "include needs ':' and a domain"),
    ("v=spf1 include:ip5.example.com/24", "include takes no prefix length"),
    ("v=spf1 include/24", "include takes no prefix length"),
    ("v=spf1 exists", "exists needs ':' and a domain"),
    ("v=spf1 exists:", "exists needs ':' and a domain"),
    ("v=spf1 exists:mail.example.com/24", "exists takes no prefix length"),
    # ptr = "ptr" [ ":" domain-spec ] (§5.5)
    ("v=spf1 ptr/0", "ptr takes no prefix length"),
    ("v=spf1 ptr:", "':' must be followed by a domain"),
    ("v=spf1 ptr:example.com//64", "ptr takes no prefix length"),
    # a / mx and the dual-cidr-length (§5.3, §5.4)
    ("v=spf1 a:", "':' must be followed by a domain"),
    ("v=spf1 mx:/24", "':' must be followed by a domain"),
    ("v=spf1 a/33", "IPv4 prefix length must be 0-32"),
    ("v=spf1 a/024", "without leading zeros"),
    ("v=spf1 a/00", "without leading zeros"),
    ("v=spf1 a//129", "IPv6 prefix length must be 0-128"),
    ("v=spf1 mx//064", "without leading zeros"),
    ("v=spf1 a:example.com/24//1280", "IPv6 prefix length"),
    ("v=spf1 a/24/64", "bad dual-cidr-length"),  # test suite: a-dual-cidr-ip4-err
    ("v=spf1 a/", "bad dual-cidr-length"),
    ("v=spf1 a//", "bad dual-cidr-length"),
    ("v=spf1 a/x", "bad dual-cidr-length"),
    ("v=spf1 a/24:example.com", "bad dual-cidr-length"),  # the domain-spec comes first
    ("v=spf1 a:example.com/24/", "not a fully qualified"),
    ("v=spf1 a:example.com//24//64", "not a fully qualified"),  # domain 'example.com/'
    ("v=spf1 a:example.com:8080", "not a fully qualified"),  # a-bad-domain: ':' not in toplabel
    ("v=spf1 a:foo.example.com/abc", "not a fully qualified"),
    # ip4 = "ip4" ":" ip4-network [ ip4-cidr-length ], the same for ip6 (§5.6)
    ("v=spf1 ip4", "ip4 needs ':' and a network"),
    ("v=spf1 ip4:", "ip4 needs ':' and a network"),
    ("v=spf1 ip4/24", "ip4 needs ':' and a network"),
    ("v=spf1 ip4:1.2.3.4/33", "prefix length must be 0-32"),
    ("v=spf1 ip4:1.2.3.4/032", "leading zeros"),
    ("v=spf1 ip4:192.0.2.0/", "prefix length must be 0-32"),  # "/" needs its digits
    ("v=spf1 ip4:1.2.3.4//32", "not a dual-cidr-length"),
    ("v=spf1 ip4:1.2.3.4:8080", "not an IP address"),
    ("v=spf1 ip4:1.2.3", "not an IP address"),
    ("v=spf1 ip4:1.2.03.4", "not an IP address"),  # qnum has no leading zeros
    ("v=spf1 ip4:256.1.1.1", "not an IP address"),
    ("v=spf1 ip4:2001:db8::1", "not an IPv4 address"),
    ("v=spf1 ip6", "ip6 needs ':' and a network"),
    ("v=spf1 ip6:::1.1.1.1/129", "prefix length must be 0-128"),
    ("v=spf1 ip6:::1.1.1.1//33", "not a dual-cidr-length"),
    ("v=spf1 ip6:2001:db8::/0128", "leading zeros"),
    ("v=spf1 ip6::CAFE::BABE", "not an IP address"),
    ("v=spf1 ip6:fe80::1%eth0", "not an IP address"),  # RFC 4291 §2.2 has no zone index
    ("v=spf1 ip6:192.0.2.1", "not an IPv6 address"),
    # domain-spec = macro-string domain-end (§7.1)
    ("v=spf1 a:museum", "not a fully qualified"),  # a-only-toplabel
    ("v=spf1 a:museum.", "not a fully qualified"),  # a-only-toplabel-trailing-dot
    ("v=spf1 a:111.222.33.44", "not a fully qualified"),  # a-numeric
    ("v=spf1 a:abc.123", "not a fully qualified"),  # a-numeric-toplabel
    ("v=spf1 a:example.-com", "not a fully qualified"),  # a-bad-toplabel
    ("v=spf1 a:example.com-", "not a fully qualified"),
    ("v=spf1 a:foo-bar", "not a fully qualified"),  # invalid-domain
    ("v=spf1 a:example.com..", "not a fully qualified"),  # at most one trailing dot
    ("v=spf1 a:%{d}.", "not a fully qualified"),  # neither macro-expand nor "." toplabel last
    ("v=spf1 a:%{d}.com.%", "'%' must start"),
    ("v=spf1 a:mail.example...com", "empty label"),  # invalid-domain-empty-label (RFC 1035)
    ("v=spf1 a:.example.com", "empty label"),
    ("v=spf1 a:" + "a" * 64 + ".example.com", "too long"),  # invalid-domain-long
    ("v=spf1 a:" + "abcdefghi." * 26 + "com", "too long"),
    # macro-expand and macro-literal (§7.1, §7.2, §7.3)
    ("v=spf1 -exists:%(ir).sbl.example.com", "'%' must start"),  # invalid-macro-char
    ("v=spf1 exists:foo%(ir).sbl.example.com", "'%' must start"),  # invalid-embedded-...
    ("v=spf1 exists:foo%.sbl.example.com", "'%' must start"),  # invalid-trailing-macro-char
    ("v=spf1 exists:%{d", "'%' must start"),
    ("v=spf1 exists:%{}.x.example", "'%' must start"),
    ("v=spf1 exists:%{dd}.x.example", "'%' must start"),
    ("v=spf1 exists:%{d2rr}.x.example", "'%' must start"),
    ("v=spf1 exists:%{dr2}.x.example", "'%' must start"),  # DIGIT before "r"
    ("v=spf1 exists:%{d!}.x.example", "'%' must start"),  # '!' is not a delimiter
    ("v=spf1 a:%{a}.example.com", "macro letter 'a'"),  # undef-macro
    ("v=spf1 -all exp=%{r}.example.com", "macro letter 'r'"),  # exp-only-macro-char
    ("v=spf1 exists:%{t}.x.example", "macro letter 't'"),
    ("v=spf1 exists:%{d0}.x.example", "nonzero"),
    ("v=spf1 exists:%{d00r}.x.example", "nonzero"),
    # modifiers (§6, §12)
    ("v=spf1 1up=foo", "not a mechanism or modifier"),  # invalid-modifier
    ("v=spf1 =all", "not a mechanism or modifier"),  # empty-modifier-name
    ("v=spf1 _x=y", "not a mechanism or modifier"),
    ("v=spf1 -all foo=%abc", "'%' must start"),  # unknown-modifier-syntax
    ("v=spf1 moo.cow/far_out=man:dog/cat", "unknown mechanism 'moo.cow'"),  # charset-bad1
    ("v=spf1 moo.cow:far_out=man:dog/cat", "unknown mechanism 'moo.cow'"),  # charset-bad2
    ("v=spf1 redirect:t2.example.com", "unknown mechanism 'redirect'"),  # redirect-is-modifier
    ("v=spf1 ?redirect=example.com", "no qualifier"),
    ("v=spf1 +foo=bar", "no qualifier"),
    ("v=spf1 exp=", "domain-spec is empty"),  # exp-empty-domain
    ("v=spf1 ?all redirect=", "domain-spec is empty"),  # redirect-empty-domain
    ("v=spf1 exp=-all", "not a fully qualified"),  # exp-syntax-error
    ("v=spf1 redirect=-all ?all", "not a fully qualified"),  # redirect-syntax-error
    ("v=spf1 redirect=a.example REDIRECT=b.example", "appears twice"),  # §6, names fold case
    ("v=spf1 exp=a.example -all EXP=a.example", "appears twice"),  # exp-twice
    ("v=spf1 ip4:1.2.3.4 -all moo", "unknown mechanism 'moo'"),  # detect-errors-anywhere
]


@pytest.mark.parametrize(("text", "why"), INVALID)
def test_invalid_terms_are_permerrors_saying_why(text: str, why: str) -> None:
    record = parse_spf_record(text)
    fatal = [issue for issue in record.issues if issue.fatal]
    assert fatal, text
    assert any(why in issue.message for issue in fatal), [i.message for i in fatal]
    assert all(issue.reference.startswith("RFC ") for issue in fatal)


def test_unknown_modifiers_are_ignored_with_a_warning_each() -> None:
    record = parse_spf_record("v=spf1 foo=1 foo=2 op=x.y -all")
    assert record.is_valid  # only redirect and exp may not repeat (§6)
    assert [i.code for i in record.issues] == ["unknown-modifier"] * 3
    assert [t.name for t in record.mechanisms] == ["all"]


def test_an_uppercase_r_transformer_reverses_too() -> None:
    variables = {"d": "email.example.com"}
    assert expand_macros("%{dR}", variables) == expand_macros("%{dr}", variables)
    assert expand_macros("%{d2R}", variables) == "example.email"


# ---------------------------------------------------------------------------------------------
# Properties

_DELIMITERS = ".-+,/_="
_LETTERS = "slodiphvSLODIPHV"  # c, r and t only in explanation text (§7.2)
_LITERAL = "".join(chr(c) for c in range(0x21, 0x7F) if chr(c) not in "%.")  # macro-literal

_macro_expand = st.one_of(
    st.sampled_from(["%%", "%_", "%-"]),
    st.builds(
        lambda letter, digits, reverse, delimiters: f"%{{{letter}{digits}{reverse}{delimiters}}}",
        st.sampled_from(_LETTERS),
        st.sampled_from(["", "1", "2", "12", "01", "127"]),
        st.sampled_from(["", "r", "R"]),
        st.text(_DELIMITERS, max_size=3),
    ),
)
# A label: macro-literals (no ".") and macro-expands, never empty (RFC 1035: see check_domain_spec)
_label = st.lists(
    st.one_of(st.text(_LITERAL, min_size=1, max_size=6), _macro_expand), min_size=1, max_size=3
).map("".join)
_toplabel = st.one_of(
    st.from_regex(r"[a-z0-9]{0,3}[a-z][a-z0-9]{0,3}", fullmatch=True),
    st.from_regex(r"[a-z0-9]{1,3}-[a-z0-9-]{0,3}[a-z0-9]", fullmatch=True),
).map(lambda label: label.upper() if len(label) % 2 else label)
_domain_end = st.one_of(
    st.builds(lambda top, dot: f".{top}{dot}", _toplabel, st.sampled_from(["", "."])),
    _macro_expand,
)
# domain-spec = macro-string domain-end; labels joined by "." so that no label is empty
_domain_spec = st.builds(
    lambda labels, end: ".".join(labels) + end,
    st.lists(_label, min_size=1, max_size=3),
    _domain_end,
)
_qualifier = st.sampled_from(["", "+", "-", "~", "?"])
_cidr4 = st.one_of(st.none(), st.integers(0, 32))
_cidr6 = st.one_of(st.none(), st.integers(0, 128))


def _case(name: str, upper: bool) -> str:
    return name.upper() if upper else name


def _dual(cidr4: int | None, cidr6: int | None) -> str:
    return ("" if cidr4 is None else f"/{cidr4}") + ("" if cidr6 is None else f"//{cidr6}")


@st.composite
def _directive(draw: st.DrawFn) -> tuple[str, Fields]:
    qualifier = draw(_qualifier)
    upper = draw(st.booleans())
    kind = draw(st.sampled_from(["all", "include", "exists", "ptr", "a", "mx", "ip4", "ip6"]))
    domain, network, cidr4, cidr6 = "", "", None, None
    if kind == "all":
        argument = ""
    elif kind in ("include", "exists"):
        domain = draw(_domain_spec)
        argument = ":" + domain
    elif kind == "ptr":
        domain = draw(st.one_of(st.just(""), _domain_spec))
        argument = ":" + domain if domain else ""
    elif kind in ("a", "mx"):
        domain = draw(st.one_of(st.just(""), _domain_spec))
        cidr4, cidr6 = draw(_cidr4), draw(_cidr6)
        argument = (":" + domain if domain else "") + _dual(cidr4, cidr6)
    else:
        four = kind == "ip4"
        address = str(draw(st.ip_addresses(v=4) if four else st.ip_addresses(v=6)))
        length = draw(_cidr4 if four else _cidr6)
        network = address + ("" if length is None else f"/{length}")
        cidr4, cidr6 = (length, None) if four else (None, length)
        argument = ":" + network
    term = qualifier + _case(kind, upper) + argument
    return term, (kind, qualifier or "+", domain, network, cidr4, cidr6)


@st.composite
def _modifier(draw: st.DrawFn, name: str) -> tuple[str, Fields]:
    value = draw(_domain_spec)
    return f"{_case(name, draw(st.booleans()))}={value}", (name, "", value, "", None, None)


_unknown_name = st.from_regex(r"[A-Za-z][A-Za-z0-9_.-]{0,8}", fullmatch=True).filter(
    lambda name: name.lower() not in ("redirect", "exp")
)
_unknown_modifier = st.builds(
    lambda name, value: (f"{name}={value}", (name.lower(), "", value, "", None, None)),
    _unknown_name,
    st.lists(st.one_of(st.text(_LITERAL + ".", min_size=1, max_size=5), _macro_expand)).map(
        "".join
    ),
)


@st.composite
def _record(draw: st.DrawFn) -> tuple[str, list[Fields]]:
    terms = draw(st.lists(st.one_of(_directive(), _unknown_modifier), max_size=6))
    for name in ("redirect", "exp"):  # at most once each (§6)
        if draw(st.booleans()):
            position = draw(st.integers(0, len(terms)))
            terms.insert(position, draw(_modifier(name)))
    version = draw(st.sampled_from(["v=spf1", "V=SPF1", "v=Spf1"]))
    spaces = draw(st.lists(st.integers(1, 3), min_size=len(terms), max_size=len(terms)))
    text = version + "".join(" " * n + term for n, (term, _) in zip(spaces, terms, strict=True))
    text += " " * draw(st.integers(0, 2))
    return text, [fields for _, fields in terms]


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(_record())
def test_records_generated_from_the_abnf_parse_as_valid_with_their_terms(
    generated: tuple[str, list[Fields]],
) -> None:
    text, fields = generated
    record = parse_spf_record(text)
    assert record.is_valid, [i.message for i in record.issues if i.fatal]
    assert _fields(record) == fields


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(_record(), st.data())
def test_a_tab_cr_or_lf_anywhere_makes_the_record_invalid(
    generated: tuple[str, list[Fields]], data: st.DataObject
) -> None:
    text, _ = generated
    position = data.draw(st.integers(0, len(text)))
    char = data.draw(st.sampled_from(["\t", "\r", "\n", "\r\n", "\x00", "\u00a0"]))
    assert not parse_spf_record(text[:position] + char + text[position:]).is_valid


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(_domain_spec)
def test_generated_domain_specs_are_valid_and_expand(spec: str) -> None:
    assert check_domain_spec(spec, "test") == []
    variables = {
        "s": "a-b@x.example",
        "l": "a-b",
        "o": "x.example",
        "d": "x.example",
        "i": "192.0.2.1",
        "p": "unknown",
        "v": "in-addr",
        "h": "mx.example",
    }
    assert isinstance(expand_macros(spec, variables), str)


_PIECES: tuple[str, ...] = (
    "v=spf1",
    " ",
    "\t",
    "\n",
    "a",
    ":",
    "/",
    "//",
    "24",
    "%{d}",
    "%",
    ".",
    "com",
)
_PIECES += ("ip4", "ip6", "::1", "=", "-", "all", "redirect", "exp", "x", "%%", "0")
_GRAMMAR_ALPHABET = "v=spf1 aAlLmxMXiInNcCdDeEpPrRtTsS0123456789:/.%{}+-~?_,\t\r\n\x00é"


@settings(max_examples=500, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.text(),
        st.text(_GRAMMAR_ALPHABET).map(lambda rest: "v=spf1 " + rest),
        st.lists(st.sampled_from(_PIECES)).map("".join),
    )
)
def test_the_parser_never_raises_and_issues_are_well_formed(text: str) -> None:
    """parse_spf_record's contract: problems are Issues, never exceptions (module docstring)."""
    record = parse_spf_record(text)
    assert record.text == text
    assert record.is_valid is not any(issue.fatal for issue in record.issues)
    assert all(issue.code and issue.reference.startswith("RFC ") for issue in record.issues)
    assert all(term.raw in text for term in record.terms)
    visible = text[len("v=spf1") :].replace(" ", "")
    if not all(0x21 <= ord(char) <= 0x7E for char in visible):
        assert not record.is_valid  # §4.6.1 and §12: only SP separates, only visible ASCII
    for term in record.terms:  # what the evaluator relies on (spfhost._matches)
        if term.name in ("ip4", "ip6"):
            ipaddress.ip_network(term.network, strict=False)
