"""The zone-file reader (``--zone-file``): any text is a ZoneFileClient or a one-line
ConfigError, never another exception; ``$GENERATE`` lines that expand past
MAX_GENERATED_RECORDS are refused before dnspython expands them, however the range is written;
and every question asked of a zone that loaded is answered as data.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from smtpcheck.errors import ConfigError
from smtpcheck.mailauth.client import DnsAnswer, FailingDnsClient, Outcome
from smtpcheck.mailauth.zonefile import (
    MAX_GENERATED_RECORDS,
    ZoneFileClient,
    generated_records,
    load_zone_file,
)

ORIGIN = "preflight.example"
# Ranges dnspython expands: small, just past the cap (an evasion costs seconds, not hours).
_SMALL = st.builds(lambda a, n: (a, a + n), st.integers(0, 50), st.integers(0, 20))
_PAST_CAP = st.builds(lambda a, n: (a, a + n), st.integers(0, 9), st.integers(
    MAX_GENERATED_RECORDS, 3 * MAX_GENERATED_RECORDS))  # fmt: skip


@st.composite
def _range(draw: st.DrawFn) -> tuple[str, int]:
    """A $GENERATE range as written, and how many records dnspython makes of it."""
    start, stop = draw(st.one_of(_SMALL, _SMALL, _PAST_CAP))
    step = draw(st.sampled_from([None, 1, 1, 3]))
    text = f"{start}-{stop}" + (f"/{step}" if step else "")
    count = (stop - start) // (step or 1) + 1
    # Tokens are read by dnspython's tokenizer: quoted and parenthesised ranges are ranges too.
    written = draw(st.sampled_from(["{}", "{}", '"{}"', "({})", "( {} )"])).format(text)
    return written, count


@st.composite
def _generate(draw: st.DrawFn) -> tuple[str, int]:
    written, count = draw(_range())
    lhs = draw(st.sampled_from(["host-$", "h${0,3,d}", "$.gen", "h${1,2,x}", "h${-5}", "$$"]))
    rhs = draw(st.sampled_from(["A 192.0.2.$", 'TXT "v=spf1 -all"', "CNAME x$", "A 300.1.1.1"]))
    keyword = draw(st.sampled_from(["$GENERATE", "$generate", "$Generate"]))
    sep = draw(st.sampled_from([" ", "\t", "  "]))
    return f"{keyword}{sep}{written} {lhs} {rhs}", count


_NAME = st.sampled_from(["@", "www", "_dmarc", "sel._domainkey", "*.wild", "a.b.c", "x" * 64,
                         f"{ORIGIN}.", "other.test.", "é", "\\046", "a\\ b", "."])  # fmt: skip
_TXT = st.one_of(
    st.text(st.characters(codec="ascii", exclude_characters='"\\\n\r'), max_size=40).map(
        lambda t: f'"{t}"'
    ),
    st.just('"' + "x" * 256 + '"'),  # a TXT string of more than 255 octets
    st.just('"v=spf1 include:spf.mailjet.com -all" "more"'),
)
_RDATA = st.one_of(
    st.builds(lambda t: f"TXT {t}", _TXT),
    st.sampled_from(["A 192.0.2.1", "A 999.1.1.1", "AAAA ::1", "MX 10 mx", "MX mx",
                     "CNAME spf.mailjet.com.", "NS ns.elsewhere.test.",
                     "SOA ns1 hostmaster 1 3600 900 604800 60", "SOA ns1", "TYPE65534 \\# 0",
                     "WKS 1 2 3", "CAA 0 issue \"ca\"", "BOGUS x"]),
)  # fmt: skip
_RECORD = st.builds(
    lambda name, ttl, cls, rdata: " ".join(part for part in (name, ttl, cls, rdata) if part),
    _NAME,
    st.sampled_from(["", "300", "1h", "-1", "99999999999999"]),
    st.sampled_from(["", "IN", "CH", "in"]),
    _RDATA,
)
_DIRECTIVE = st.sampled_from([f"$ORIGIN {ORIGIN}.", "$ORIGIN sub", "$ORIGIN", "$TTL 300",
                              "$TTL x", "$INCLUDE /etc/hostname", "$INCLUDE", "$BOGUS 1",
                              "( ", " )", "; comment", ""])  # fmt: skip
_LINE = st.one_of(
    _RECORD.map(lambda line: (line, 0)),
    _DIRECTIVE.map(lambda line: (line, 0)),
    _generate(),
    st.text(max_size=20).map(lambda line: (line, 0)),
)


@st.composite
def zone_texts(draw: st.DrawFn) -> tuple[str, int]:
    """A zone file and what its $GENERATE lines expand to, when dnspython reads them."""
    head = draw(st.sampled_from([
        [f"$ORIGIN {ORIGIN}.", "$TTL 300", "@ IN SOA ns1 hostmaster 1 3600 900 604800 60"],
        [f"{ORIGIN}. 300 IN SOA ns1 hostmaster 1 3600 900 604800 60"],  # origin from the SOA
        [],
    ]))  # fmt: skip
    lines = draw(st.lists(_LINE, max_size=8))
    newline = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = newline.join(head + [line for line, _ in lines]) + newline
    return text, sum(count for _, count in lines)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="smtpcheck-fuzz-zone-") as name:
        yield Path(name)


def _load(path: Path, text: str) -> tuple[object, float]:
    """The client or the ConfigError, and the seconds the load took."""
    path.write_text(text, encoding="utf-8")
    start = time.monotonic()
    try:
        client: object = load_zone_file(path, fallback=FailingDnsClient("offline"))
    except ConfigError as exc:
        client = exc
    seconds = time.monotonic() - start
    if isinstance(client, ConfigError):
        assert "\n" not in str(client).strip()  # one line
    return client, seconds


def _records(client: object) -> int:
    zone = getattr(client, "zone", None)
    if zone is None:
        return 0
    return sum(len(rdataset) for node in zone.nodes.values() for rdataset in node)


@given(case=zone_texts())
@example(
    case=(f"$ORIGIN {ORIGIN}.\n@ SOA ns1 h 1 2 3 4 5\nwww SOA ns1 h 1 2 3 4 5\n", 0)
)  # ValueError
def test_a_zone_file_loads_or_is_one_config_error(workdir: Path, case: tuple[str, int]) -> None:
    text, expands_to = case

    client, seconds = _load(workdir / f"{ORIGIN}.zone", text)

    lines = text.count("\n") + text.count("\r") + 1
    assert _records(client) <= MAX_GENERATED_RECORDS + lines  # what the cap promises
    if expands_to > MAX_GENERATED_RECORDS:
        assert isinstance(client, ConfigError), f"{expands_to} records read in {seconds:.1f} s"
        assert seconds < 1.0
    if not isinstance(client, ConfigError):
        for name in (ORIGIN, f"_dmarc.{ORIGIN}", f"x.wild.{ORIGIN}", "other.test", "é", ".."):
            for rdtype in ("TXT", "MX", "A", "BOGUS"):
                assert isinstance(client.query(name, rdtype), DnsAnswer)  # type: ignore[attr-defined]


@given(text=st.one_of(st.text(), zone_texts().map(lambda case: case[0])))
def test_counting_generated_records_never_raises(text: str) -> None:
    assert generated_records(text) >= 0


_SPELLINGS = ["{}", '"{}"', "({})", "( {} )", "(\n; a comment\n {} )"]


@pytest.mark.parametrize("spelling", _SPELLINGS)
@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_every_spelling_of_a_range_is_counted(spelling: str, newline: str) -> None:
    """dnspython reads a quoted or parenthesised range, and ends a line at a bare CR: each of
    these used to count 0 and so went past the cap."""
    text = newline.join(["a A 192.0.2.1", f"$GENERATE {spelling.format('1-4294967295')} h$ A "
                         "192.0.2.1", ""])  # fmt: skip

    assert generated_records(text) == 4294967295


@pytest.mark.parametrize("spelling", _SPELLINGS)
@pytest.mark.parametrize("newline", ["\n", "\r"])
def test_a_range_past_the_cap_is_refused_at_once(
    workdir: Path, spelling: str, newline: str
) -> None:
    written = spelling.format(f"0-{MAX_GENERATED_RECORDS}")  # one record too many
    text = newline.join([f"$ORIGIN {ORIGIN}.", "@ 300 IN SOA ns1 h 1 2 3 4 5", "a A 192.0.2.1",
                         f"$GENERATE {written} host-$ A 192.0.2.1", ""])  # fmt: skip

    client, seconds = _load(workdir / "huge.zone", text)

    assert isinstance(client, ConfigError) and "$GENERATE" in str(client)
    assert seconds < 1.0


def test_a_question_for_the_root_is_answered(workdir: Path) -> None:
    """An empty file loads as a zone for the root; asking it for "." raised NoParent."""
    client, _ = _load(workdir / "empty.zone", "\n")

    assert isinstance(client, ZoneFileClient)
    assert client.query(".", "TXT").outcome is Outcome.NXDOMAIN
