"""Pre-flight from a zone file: names inside the origin from the file, the rest from real DNS."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smtpcheck.errors import ConfigError
from smtpcheck.findings import Status
from smtpcheck.lab.dnszones import DkimKeys
from smtpcheck.lab.nsd import txt_rdata
from smtpcheck.mailauth.domain import DNS_CONTROLS, evaluate_domain, fetch_domain_facts
from smtpcheck.mailauth.resolver import NetworkDnsClient, Outcome
from smtpcheck.mailauth.zonefile import MAX_GENERATED_RECORDS, MAX_ZONE_BYTES, load_zone_file
from smtpcheck.providers import ProviderCatalogue

D = "preflight.example"


def draft(keys: DkimKeys) -> str:
    dkim = txt_rdata(f"v=DKIM1; k=rsa; p={keys.p('rsa2048')}")
    return f"""\
$ORIGIN {D}.
$TTL 300
@ IN SOA ns1 hostmaster 1 3600 900 604800 60
@ IN NS ns1
@ IN TXT "v=spf1 include:spf.mailjet.com -all"
@ IN MX 10 mx
mx IN A 192.0.2.25
mailjet._domainkey IN TXT {dkim}
_dmarc IN TXT "v=DMARC1; p=reject; rua=mailto:agg@reports.example"
*.wild IN TXT "wildcard"
deep.ent IN A 192.0.2.1
alias IN CNAME spf.mailjet.com.
delegated IN NS ns.elsewhere.test.
"""


@pytest.fixture
def zone_file(tmp_path: Path, dkim_keys: DkimKeys) -> Path:
    path = tmp_path / f"{D}.zone"
    path.write_text(draft(dkim_keys))
    return path


def test_records_are_checked_before_they_are_published(
    zone_file: Path, dns: NetworkDnsClient
) -> None:
    client = load_zone_file(zone_file, fallback=dns)
    mailjet = ProviderCatalogue.builtin().get("mailjet")
    findings = {f.control_id: f for f in evaluate_domain(fetch_domain_facts(D, mailjet, client))}
    # The include (spf.mailjet.com) and the report destination come from NSD, the rest from
    # the file; reports.example authorises only rua-authorised.example, not this draft.
    expected = {**dict.fromkeys(DNS_CONTROLS, Status.PASS), "DMARC-05": Status.FAIL}
    assert {c: f.status for c, f in findings.items()} == expected
    assert findings["SPF-03"].evidence["reached"] == ("spf.mailjet.com",)
    assert client.queries_sent == dns.queries_sent > 0  # only names outside the zone


@pytest.mark.parametrize(
    ("name", "rdtype", "outcome", "records"),
    [
        (D, "TXT", Outcome.ANSWER, ("v=spf1 include:spf.mailjet.com -all",)),
        (f"nothing.{D}", "TXT", Outcome.NXDOMAIN, ()),
        (f"mx.{D}", "TXT", Outcome.NODATA, ()),
        (f"ent.{D}", "A", Outcome.NODATA, ()),  # exists only as the parent of deep.ent
        (f"x.wild.{D}", "TXT", Outcome.ANSWER, ("wildcard",)),  # RFC 4592
        (f"y.x.wild.{D}", "TXT", Outcome.ANSWER, ("wildcard",)),
        (f"alias.{D}", "TXT", Outcome.ANSWER, ("v=spf1 ip4:192.0.2.0/26 ip4:192.0.2.64/26 -all",)),
        (
            "spf.mailjet.com",
            "TXT",
            Outcome.ANSWER,
            ("v=spf1 ip4:192.0.2.0/26 ip4:192.0.2.64/26 -all",),
        ),
    ],
)
def test_answers(
    zone_file: Path,
    dns: NetworkDnsClient,
    name: str,
    rdtype: str,
    outcome: Outcome,
    records: tuple[str, ...],
) -> None:
    answer = load_zone_file(zone_file, fallback=dns).query(name, rdtype)
    assert (answer.outcome, answer.records) == (outcome, records)


def test_names_below_a_zone_cut_and_outside_the_origin_are_asked_of_dns(
    zone_file: Path, dns: NetworkDnsClient
) -> None:
    client = load_zone_file(zone_file, fallback=dns)
    client.query(f"www.{D}", "A")
    client.query(f"mx.{D}", "A")
    assert dns.queries_sent == 0
    below_cut = client.query(f"host.delegated.{D}", "A")
    assert (below_cut.outcome, dns.queries_sent) == (Outcome.NXDOMAIN, 1)  # NSD's "example" zone
    assert client.query("spf.mailjet.com", "TXT").outcome is Outcome.ANSWER
    assert dns.queries_sent == 2


def test_two_strings_of_one_rr_are_kept_apart(zone_file: Path, dns: NetworkDnsClient) -> None:
    answer = load_zone_file(zone_file, fallback=dns).query(f"mailjet._domainkey.{D}", "TXT")
    assert [len(strings) for strings in answer.strings] == [2]


def test_an_export_without_origin_is_named_by_its_soa(
    tmp_path: Path, dns: NetworkDnsClient
) -> None:
    path = tmp_path / "export.txt"
    path.write_text(
        ";; Domain: cf.example.\n"
        "cf.example.\t3600\tIN\tSOA\tns1.cf.example. dns.cf.example. 1 10000 2400 604800 3600\n"
        'cf.example.\t1\tIN\tTXT\t"v=spf1 -all"\n'
    )
    client = load_zone_file(path, fallback=dns)
    assert client.query("cf.example", "TXT").records == ("v=spf1 -all",)


@pytest.mark.parametrize(
    ("text", "origin", "message"),
    [
        ('www 300 IN TXT "x"\n', None, "no $ORIGIN and no SOA"),
        ("$ORIGIN bad.example.\n@ 300 IN TXT\n", None, "bad.zone:3: Text input ended"),
        ("$ORIGIN bad.example.\n@ 300 IN MX ten mx\n", None, "bad.zone:2: "),
        (
            f'$ORIGIN bad.example.\n@ 300 IN TXT "{"x" * 300}"\n',
            None,
            "string too long (a TXT string holds at most 255 octets",
        ),
    ],
)
def test_a_malformed_zone_file_is_a_one_line_config_error(
    tmp_path: Path, dns: NetworkDnsClient, text: str, origin: str | None, message: str
) -> None:
    path = tmp_path / "bad.zone"
    path.write_text(text)
    with pytest.raises(ConfigError) as raised:
        load_zone_file(path, fallback=dns, origin=origin)
    assert message in str(raised.value)
    assert str(raised.value).startswith("zone file ")
    assert str(raised.value).count("bad.zone") == 1
    assert "\n" not in str(raised.value)


def test_a_missing_zone_file_is_a_config_error(tmp_path: Path, dns: NetworkDnsClient) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read zone file .*: \[Errno 2\]"):
        load_zone_file(tmp_path / "absent.zone", fallback=dns)


def test_the_origin_can_be_given(tmp_path: Path, dns: NetworkDnsClient) -> None:
    path = tmp_path / "relative.zone"
    path.write_text('@ 300 IN TXT "v=spf1 -all"\nwww 300 IN A 192.0.2.1\n')
    client = load_zone_file(path, fallback=dns, origin="given.example")
    assert client.query("www.given.example", "A").records == ("192.0.2.1",)


GENERATE_HEAD = f"$ORIGIN {D}.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 900 604800 60\n"


def test_a_huge_generate_range_is_refused_before_parsing(
    tmp_path: Path, dns: NetworkDnsClient
) -> None:
    """``$GENERATE 1-2000000`` ran for minutes at 432 MB; now it is one line, at once."""
    path = tmp_path / "generate.zone"
    path.write_text(GENERATE_HEAD + "$GENERATE 1-2000000 host$ A 192.0.2.1\n")

    started = time.monotonic()
    with pytest.raises(ConfigError) as raised:
        load_zone_file(path, fallback=dns)

    assert time.monotonic() - started < 2
    assert str(raised.value) == (
        f"zone file {path}: its $GENERATE lines expand to 2000000 records, more than the "
        f"{MAX_GENERATED_RECORDS} smtpcheck reads; export the zone without them"
    )


def test_generate_lines_count_together(tmp_path: Path, dns: NetworkDnsClient) -> None:
    path = tmp_path / "generate.zone"
    lines = "".join(f"$generate 1-6000/2 h{n}-$ A 192.0.2.1\n" for n in range(4))
    path.write_text(GENERATE_HEAD + lines)  # 4 x 3000 records, the directive in lower case

    with pytest.raises(ConfigError, match="expand to 12000 records"):
        load_zone_file(path, fallback=dns)


def test_a_small_generate_range_still_works(tmp_path: Path, dns: NetworkDnsClient) -> None:
    path = tmp_path / "generate.zone"
    path.write_text(GENERATE_HEAD + "$GENERATE 1-3 host$ A 192.0.2.$\n")

    client = load_zone_file(path, fallback=dns)

    assert client.query(f"host3.{D}", "A").records == ("192.0.2.3",)


def test_a_zone_file_over_the_cap_is_refused(tmp_path: Path, dns: NetworkDnsClient) -> None:
    path = tmp_path / "big.zone"
    path.write_text(GENERATE_HEAD + ";" * MAX_ZONE_BYTES + "\n")

    with pytest.raises(
        ConfigError, match=r"^cannot read zone file .*big\.zone: larger than 2 MiB$"
    ):
        load_zone_file(path, fallback=dns)


def test_a_zone_file_that_is_a_device_is_refused(dns: NetworkDnsClient) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read zone file /dev/zero: not a regular file"):
        load_zone_file("/dev/zero", fallback=dns)
