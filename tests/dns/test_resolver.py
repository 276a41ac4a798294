"""The DNS client against real NSD on loopback, and nameserver option parsing."""

from __future__ import annotations

import dns.resolver
import pytest

from smtpcheck.errors import ConfigError
from smtpcheck.lab.nsd import NsdServer
from smtpcheck.mailauth.resolver import (
    Nameserver,
    NetworkDnsClient,
    Outcome,
    make_dns_client,
    parse_nameserver,
)
from tests.dns.fakedns import GatheringServer, TruncatingServer
from tests.dns.spfcases import SPF_CASES_ORIGIN

ORIGIN = SPF_CASES_ORIGIN


@pytest.mark.parametrize(
    ("text", "server"),
    [
        ("127.0.0.1", Nameserver("127.0.0.1", 53)),
        ("127.0.0.1:5353", Nameserver("127.0.0.1", 5353)),
        (" 192.0.2.53:53 ", Nameserver("192.0.2.53", 53)),
        ("[::1]:5353", Nameserver("::1", 5353)),
        ("[::1]", Nameserver("::1", 53)),
        ("::1", Nameserver("::1", 53)),
        ("2001:db8::53", Nameserver("2001:db8::53", 53)),
    ],
)
def test_nameserver_text(text: str, server: Nameserver) -> None:
    assert parse_nameserver(text) == server


@pytest.mark.parametrize(
    "text",
    [
        "",
        "localhost",
        "ns.example.com:53",
        "127.0.0.1:0",
        "127.0.0.1:70000",
        "127.0.0.1:",
        "[::1",
        "[::1]x",
        "1.2.3.4:dns",
    ],
)
def test_bad_nameserver_text_is_a_one_line_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_nameserver(text)
    assert "\n" not in str(raised.value)
    assert "--nameserver" in str(raised.value)


def test_bad_timeout_or_retries_is_a_config_error() -> None:
    with pytest.raises(ConfigError):
        make_dns_client(["127.0.0.1"], timeout=0)
    with pytest.raises(ConfigError):
        make_dns_client(["127.0.0.1"], retries=-1)


def test_no_nameserver_option_means_the_system_resolvers() -> None:
    system = dns.resolver.Resolver(configure=True)
    client = make_dns_client()
    assert [s.address for s in client.nameservers] == [str(ns) for ns in system.nameservers]


def test_answers_nxdomain_nodata_and_refused(dns: NetworkDnsClient) -> None:
    txt = dns.query(f"ip4.{ORIGIN}", "TXT")
    assert (txt.outcome, txt.records) == (Outcome.ANSWER, ("v=spf1 ip4:192.0.2.0/24 -all",))
    mx = dns.query(f"many-mx.{ORIGIN}", "MX")
    assert mx.records[:2] == (f"1 m1.{ORIGIN}", f"2 m2.{ORIGIN}")
    assert dns.query(f"nothing.{ORIGIN}", "TXT").outcome is Outcome.NXDOMAIN
    assert dns.query(f"host.{ORIGIN}", "TXT").outcome is Outcome.NODATA
    refused = dns.query("example.org", "TXT")  # NSD serves no such zone
    assert refused.outcome is Outcome.REFUSED
    assert refused.failed
    assert "REFUSED" in refused.detail


def test_cname_chains_inside_and_outside_the_served_zones(dns: NetworkDnsClient) -> None:
    inside = dns.query(f"cname-in.{ORIGIN}", "TXT")
    assert inside.cnames == (f"target.{ORIGIN}",)
    assert inside.records == ("v=spf1 ip4:203.0.113.0/24 -all",)
    outside = dns.query(f"cname-out.{ORIGIN}", "TXT")  # NSD returns the CNAME only; we ask on
    assert outside.cnames == ("elsewhere.not-served.test",)
    assert outside.outcome is Outcome.REFUSED
    loop = dns.query(f"loop1.{ORIGIN}", "TXT")
    assert loop.outcome is Outcome.FAILURE
    assert "CNAME loop" in loop.detail


def test_a_truncated_answer_is_asked_again_over_tcp(dns: NetworkDnsClient) -> None:
    answer = dns.query(f"big.{ORIGIN}", "TXT")
    assert answer.outcome is Outcome.ANSWER
    assert len(answer.records) == 10
    assert dns.queries_sent == 2  # UDP (TC=1), then TCP


def test_truncated_and_tcp_refused_is_a_truncated_failure() -> None:
    with TruncatingServer() as server:
        client = make_dns_client([server.nameserver], timeout=1, retries=0)
        answer = client.query("example.com", "TXT")
    assert answer.outcome is Outcome.TRUNCATED
    assert "TCP retry failed" in answer.detail
    assert client.queries_sent == 2


def test_each_question_is_sent_once_even_when_asked_concurrently(dns: NetworkDnsClient) -> None:
    dns.prefetch([(f"ip4.{ORIGIN}", "TXT")] * 20 + [(f"IP4.{ORIGIN}.", "txt")])
    dns.query(f"ip4.{ORIGIN}", "TXT")
    assert dns.queries_sent == 1
    assert dns.questions_asked == 1


def test_prefetch_asks_independent_questions_concurrently() -> None:
    questions = [(f"n{i}.example.com", "TXT") for i in range(4)]
    with GatheringServer(len(questions)) as server:
        client = make_dns_client([server.nameserver], timeout=3, retries=0)
        client.prefetch(questions)
        outcomes = {client.query(*q).outcome for q in questions}
    assert outcomes == {Outcome.NXDOMAIN}  # one-at-a-time asking would have timed out


def test_invalid_names_are_failures_not_exceptions(dns: NetworkDnsClient) -> None:
    answer = dns.query("a..b", "TXT")
    assert answer.outcome is Outcome.FAILURE
    assert dns.query("x" * 64 + ".example", "TXT").outcome is Outcome.FAILURE
    assert dns.queries_sent == 0


def test_second_nameserver_answers_when_the_first_refuses(nsd: NsdServer) -> None:
    with TruncatingServer() as truncating:
        client = make_dns_client([truncating.nameserver, nsd.nameserver], timeout=1, retries=0)
        answer = client.query(f"ip4.{ORIGIN}", "TXT")
    assert answer.outcome is Outcome.ANSWER
