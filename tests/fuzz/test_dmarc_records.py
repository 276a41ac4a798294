"""DMARC records (RFC 7489 §6.3, §6.4; RFC 9989's additions): ``parse_dmarc_record`` and
``parse_report_uri`` never raise for what a domain publishes. Problems are issues: a record built
only from valid tag values has no fatal issue, and each invalid value is named by its issue code.
"""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from smtpcheck.mailauth.dmarc import (
    POLICIES,
    DmarcRecord,
    ReportUri,
    parse_dmarc_record,
    parse_report_uri,
)

# A tag's value and the issue code it must raise ("" when the value is valid).
Tag = tuple[str, str, str]

_ANY = st.text(max_size=12)
# Digits of every kind (str.isdigit() is true for "²", which int() refuses, and int() reads "٣"
# as 3: neither is RFC 7489's DIGIT), and other number-like text.
_DIGITISH = st.one_of(
    st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=4),
    st.sampled_from(["²", "٣", "1_0", " 5", "+5", "-1", "0x10", "1e2", "9" * 5000, "101"]),
)
_CASE = st.sampled_from([str.lower, str.upper, str.title])


def _bad(valid: tuple[str, ...]) -> st.SearchStrategy[str]:
    return st.one_of(_ANY, _DIGITISH).filter(lambda v: v.strip().lower() not in valid)


def _policy(name: str) -> st.SearchStrategy[Tag]:
    good = st.builds(lambda p, case: (name, case(p), ""), st.sampled_from(POLICIES), _CASE)
    return good | _bad(POLICIES).map(lambda v: (name, v, "policy"))


def _number(name: str, top: int) -> st.SearchStrategy[Tag]:
    good = st.integers(0, top).map(lambda n: (name, str(n), ""))
    bad = st.one_of(st.integers(top + 1, 2**70).map(str), _DIGITISH, _ANY).filter(
        lambda v: not _is_number(v.strip(), top)
    )
    return good | bad.map(lambda v: (name, v, name))


def _is_number(text: str, top: int) -> bool:
    """ASCII digits up to ``top`` (at most 18 of them: no DMARC number needs more)."""
    return text.isascii() and text.isdigit() and len(text) <= 18 and int(text) <= top


def _choice(name: str, valid: tuple[str, ...], code: str) -> st.SearchStrategy[Tag]:
    good = st.builds(lambda v, case: (name, case(v), ""), st.sampled_from(valid), _CASE)
    return good | _bad(valid).map(lambda v: (name, v, code))


_FO = st.lists(st.sampled_from(["0", "1", "d", "s"]), min_size=1, max_size=4).map(":".join)
_HOST = st.from_regex(r"[a-z0-9]{1,8}(\.[a-z0-9]{1,8}){1,3}", fullmatch=True)
_LOCAL = st.from_regex(r"[a-z0-9._+-]{1,10}", fullmatch=True)
_SIZE = st.one_of(st.just(""), st.from_regex(r"![0-9]{1,4}[kmgtKMGT]?", fullmatch=True))
_MAILTO = st.builds(lambda local, host, size: f"mailto:{local}@{host}{size}", _LOCAL, _HOST, _SIZE)
_URI_BAD = st.one_of(
    _ANY.filter(lambda v: ":" not in v),
    st.sampled_from(["mailto:", "mailto:@x.y", "mailto:a@b", "mailto:a@b.c!x", "http://",
                     "http://[", "https://[::1", "http://a]b", "https://[v.x]/", "https://[zz]/",
                     "x:y", "mailto:a@b.c!10q"]),
)  # fmt: skip


@st.composite
def _uris(draw: st.DrawFn, name: str) -> Tag:
    good = draw(st.lists(_MAILTO, min_size=1, max_size=3))
    bad = draw(st.lists(_URI_BAD, max_size=2))
    uris = draw(st.permutations(good + bad))
    return name, ",".join(uris), "report-uri" if bad else ""


_TAGS: dict[str, st.SearchStrategy[Tag]] = {
    "sp": _policy("sp"),
    "np": _policy("np"),
    "adkim": _choice("adkim", ("r", "s"), "alignment-mode"),
    "aspf": _choice("aspf", ("r", "s"), "alignment-mode"),
    "pct": _number("pct", 100),
    "ri": _number("ri", 2**32 - 1),
    "fo": _FO.map(lambda v: ("fo", v, ""))
    | st.one_of(_ANY, _DIGITISH)
    .filter(lambda v: not all(part.strip() in ("0", "1", "d", "s") for part in v.split(":")))
    .map(lambda v: ("fo", v, "fo")),
    "rf": st.just(("rf", "afrf", ""))
    | st.sampled_from(["iodef", "afrf:x", ""]).map(lambda v: ("rf", v, "rf")),
    "psd": _choice("psd", ("y", "n", "u"), "psd"),
    "t": _choice("t", ("y", "n"), "t"),
    "rua": _uris("rua"),
    "ruf": _uris("ruf"),
}
_SEP = st.sampled_from([";", "; ", " ; ", ";\t", ";  "])


@st.composite
def records(draw: st.DrawFn) -> tuple[str, set[str], dict[str, str]]:
    """A record of RFC 7489 tags in any order, each with a valid or an invalid value; returns
    the text, the fatal issue codes it must raise, and the tags as written."""
    names = draw(st.lists(st.sampled_from(sorted(_TAGS)), unique=True, max_size=len(_TAGS)))
    tags = [draw(_TAGS[name]) for name in names]
    # A value holding ; or = is split there: keep the structured part unambiguous.
    tags = [(n, v, c) for n, v, c in tags if ";" not in v and "=" not in v]
    policy = draw(_policy("p"))
    policy = policy if ";" not in policy[1] and "=" not in policy[1] else ("p", "none", "")
    expected = {code for _n, _v, code in tags if code}
    if policy[2]:
        expected.add(policy[2])
    sep = draw(_SEP)
    body = [f"{n}={v}" for n, v, _c in [policy, *tags]]
    text = "v=DMARC1" + sep + sep.join(body) + draw(st.sampled_from(["", ";", "; "]))
    written = {n: v.strip() for n, v, _c in [policy, *tags]}
    return text, expected, written


def _check(record: DmarcRecord, text: str) -> None:
    """What holds for every parsed record, however bad the text."""
    assert record.text == text
    assert record.policy in (*POLICIES, None)
    assert record.subdomain_policy in (*POLICIES, None)
    assert 0 <= record.pct <= 100
    assert record.aspf in ("r", "s") and record.adkim in ("r", "s")
    for uri in (*record.rua, *record.ruf):
        _check_uri(uri, uri.raw)


def _check_uri(uri: ReportUri, text: str) -> None:
    assert uri.raw == text.strip()
    assert uri.scheme and uri.scheme == uri.scheme.lower()
    assert uri.host == uri.host.lower() and not uri.host.endswith(".")


_TEXT = st.one_of(
    st.text(),
    st.lists(
        st.one_of(st.sampled_from(["v=DMARC1", "p=", "sp=", "pct=", "ri=", "rua=", "ruf=",
                                   "mailto:", "fo=", "=", ";", ",", "!", "[", "²", " "]), _ANY),
        max_size=20,
    ).map("".join),
)  # fmt: skip


@given(text=_TEXT)
@example(text="v=DMARC1; p=none; pct=²")  # str.isdigit() is true, int() refused it
@example(text="v=DMARC1; p=none; ri=" + "9" * 5000)  # past int()'s 4300 digits
@example(text="v=DMARC1; p=none; rua=https://[::1")  # urlsplit: Invalid IPv6 URL
def test_arbitrary_text_is_a_record_with_issues(text: str) -> None:
    record = parse_dmarc_record(text)

    _check(record, text)
    if not text.lstrip().startswith(("v", "V")):
        assert "version" in {issue.code for issue in record.issues}


@given(case=records())
def test_structured_records_raise_exactly_their_issues(
    case: tuple[str, set[str], dict[str, str]],
) -> None:
    text, expected, written = case

    record = parse_dmarc_record(text)

    _check(record, text)
    fatal = {issue.code for issue in record.issues if issue.fatal}
    assert fatal == expected, [issue.describe() for issue in record.issues]
    assert dict(record.tags) == {"v": "DMARC1", **written}
    if written["p"].lower() in POLICIES:
        assert record.policy == written["p"].lower()


@given(uri=_MAILTO)
def test_a_mailto_uri_is_read(uri: str) -> None:
    parsed = parse_report_uri(uri)

    assert parsed is not None and parsed.is_mailto
    assert parsed.host == uri.partition("@")[2].partition("!")[0]


@given(text=st.one_of(st.text(), _URI_BAD, _MAILTO.map(lambda u: u + "!")))
@example(text="http://[")
def test_a_report_uri_is_parsed_or_refused(text: str) -> None:
    parsed = parse_report_uri(text)

    if parsed is not None:
        _check_uri(parsed, text)
