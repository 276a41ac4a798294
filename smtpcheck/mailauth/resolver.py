"""The network DNS client and its construction from ``--nameserver ADDR[:PORT]`` values.

:class:`NetworkDnsClient` asks nameservers over UDP (TCP after a truncated answer) with a
timeout per reply and rounds of retries. Independent questions given to ``prefetch`` go out
together on one UDP socket, replies matched by message id and question, so they are concurrent
without a thread each. ``queries_sent`` counts the messages that really left the process
(retries and TCP fall-backs included) for the benchmark. The answer type and the caching base
class live in :mod:`smtpcheck.mailauth.client` and are re-exported here.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdatatype
import dns.resolver

from smtpcheck.errors import ConfigError
from smtpcheck.mailauth.client import (
    MAX_CNAME_CHAIN,
    DnsAnswer,
    DnsClient,
    FailingDnsClient,
    Outcome,
    Question,
    Step,
    answer_from_reply,
    fetch_addresses,
    has_address,
    normalize_name,
    rdata_values,
)
from smtpcheck.providers import digits

__all__ = [
    "DEFAULT_RETRIES",
    "DEFAULT_TIMEOUT",
    "MAX_CNAME_CHAIN",
    "DnsAnswer",
    "DnsClient",
    "FailingDnsClient",
    "Nameserver",
    "NetworkDnsClient",
    "Outcome",
    "Question",
    "Step",
    "fetch_addresses",
    "has_address",
    "make_dns_client",
    "normalize_name",
    "parse_nameserver",
    "rdata_values",
]

DEFAULT_TIMEOUT = 2.0
"""Seconds to wait for one reply from one nameserver."""
DEFAULT_RETRIES = 1
"""Further rounds over every nameserver after a round without a usable reply."""
EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: no fragmentation, rare truncation


@dataclass(frozen=True)
class Nameserver:
    address: str
    port: int = 53

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


def parse_nameserver(text: str) -> Nameserver:
    """``ADDR``, ``ADDR:PORT``, ``[V6]:PORT`` or a bare IPv6 address; ConfigError otherwise."""
    raw = text.strip()
    host, port_text = raw, ""
    if raw.startswith("["):
        host, sep, rest = raw[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise ConfigError(f"--nameserver {text!r}: expected [IPv6]:PORT")
        port_text = rest[1:]
    elif raw.count(":") == 1:
        host, _, port_text = raw.partition(":")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        raise ConfigError(f"--nameserver {text!r}: {host!r} is not an IP address") from None
    port = 53
    if port_text or raw.endswith(":"):
        given = digits(port_text)  # ASCII digits: "²" passes str.isdigit(), not int()
        if given is None or not 0 < given < 65536:
            raise ConfigError(f"--nameserver {text!r}: port must be 1-65535")
        port = given
    return Nameserver(str(address), port)


class NetworkDnsClient(DnsClient):
    """Asks nameservers over UDP (TCP when an answer is truncated), with timeouts and retries.

    A batch of questions goes out on one UDP socket at once and the replies are matched by
    message id and question, so independent questions are concurrent without a thread each.
    """

    def __init__(
        self,
        nameservers: Sequence[Nameserver],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
    ) -> None:
        super().__init__()
        self.nameservers = tuple(nameservers)
        self.timeout = timeout
        self.retries = retries
        self._sent = 0

    @property
    def queries_sent(self) -> int:
        with self._lock:
            return self._sent

    def servers_for(self, name: str) -> Sequence[Nameserver]:
        """The nameservers asked about ``name``: all of them (a subclass may route)."""
        del name
        return self.nameservers

    def _count(self) -> None:
        with self._lock:
            self._sent += 1

    def _resolve(self, name: str, rdtype: str) -> Step:
        return self._resolve_many([(name, rdtype)])[0]

    def _resolve_many(self, questions: Sequence[Question]) -> list[Step]:
        steps: dict[Question, Step] = {}
        groups: dict[tuple[Nameserver, ...], list[_Pending]] = {}
        for name, rdtype in questions:
            try:
                qname, qtype = dns.name.from_text(name), dns.rdatatype.from_text(rdtype)
            except (dns.exception.DNSException, ValueError) as exc:
                detail = f"not a valid question: {exc}"
                steps[(name, rdtype)] = (
                    DnsAnswer(name, rdtype, Outcome.FAILURE, detail=detail),
                    None,
                )
                continue
            servers = tuple(self.servers_for(name))
            if not servers:
                detail = "no nameserver configured"
                steps[(name, rdtype)] = (
                    DnsAnswer(name, rdtype, Outcome.FAILURE, detail=detail),
                    None,
                )
                continue
            groups.setdefault(servers, []).append(_Pending(name, rdtype, qname, qtype))
        for servers, pending in groups.items():
            for start in range(0, len(pending), _MAX_BATCH):
                steps.update(self._exchange_batch(pending[start : start + _MAX_BATCH], servers))
        return [steps[question] for question in questions]

    def _exchange_batch(
        self, batch: Sequence[_Pending], servers: tuple[Nameserver, ...]
    ) -> dict[Question, Step]:
        """Rounds over every server, each round sending every unanswered question at once."""
        for pending, message_id in zip(
            batch, _RANDOM.sample(range(65536), len(batch)), strict=True
        ):
            pending.message = dns.message.make_query(
                pending.qname, pending.qtype, use_edns=0, payload=EDNS_PAYLOAD, id=message_id
            )
        steps: dict[Question, Step] = {}
        waiting = list(batch)
        for _ in range(self.retries + 1):
            for server in servers:
                if not waiting:
                    break
                steps.update(self._round(waiting, server, servers))
                waiting = [p for p in waiting if p.key not in steps]
        for pending in waiting:
            steps[pending.key] = _failure(pending.name, pending.rdtype, pending.failures), None
        return steps

    def _round(
        self, waiting: Sequence[_Pending], server: Nameserver, servers: tuple[Nameserver, ...]
    ) -> dict[Question, Step]:
        """Send every waiting question to ``server``; collect replies until the timeout."""
        family = socket.AF_INET6 if ":" in server.address else socket.AF_INET
        by_id = {p.message.id: p for p in waiting if p.message is not None}
        steps: dict[Question, Step] = {}
        with socket.socket(family, socket.SOCK_DGRAM) as sock:
            try:
                for pending in waiting:
                    assert pending.message is not None
                    self._count()
                    sock.sendto(pending.message.to_wire(), (server.address, server.port))
            except OSError as exc:
                for pending in waiting:
                    pending.failures.append((Outcome.FAILURE, f"{server}: {exc}"))
                return steps
            sources = {(ipaddress.ip_address(s.address).compressed, s.port) for s in servers}
            deadline = time.monotonic() + self.timeout
            while by_id and (remaining := deadline - time.monotonic()) > 0:
                sock.settimeout(remaining)
                try:
                    data, source = sock.recvfrom(65535)
                except TimeoutError:
                    break
                except OSError as exc:  # e.g. ICMP port unreachable on some systems
                    for pending in by_id.values():
                        pending.failures.append((Outcome.FAILURE, f"{server}: {exc}"))
                    return steps
                matched, reply = _match(data, source[:2], sources, by_id)
                if matched is None or reply is None:
                    continue
                del by_id[reply.id]
                if reply.flags & dns.flags.TC:
                    reply = self._tcp(matched, server)
                    if reply is None:
                        continue
                step = _step_from_reply(matched, server, reply)
                if step is not None:
                    steps[matched.key] = step
        for pending in by_id.values():
            detail = f"{server} did not answer within {self.timeout:g}s"
            pending.failures.append((Outcome.TIMEOUT, detail))
        return steps

    def _tcp(self, pending: _Pending, server: Nameserver) -> dns.message.Message | None:
        """The same question over TCP after a truncated UDP answer (RFC 7766 §5)."""
        assert pending.message is not None
        try:
            self._count()
            return dns.query.tcp(
                pending.message, server.address, timeout=self.timeout, port=server.port
            )
        except (OSError, dns.exception.DNSException) as exc:
            detail = f"{server}: truncated over UDP, TCP retry failed ({type(exc).__name__}: {exc})"
            pending.failures.append((Outcome.TRUNCATED, detail))
            return None


_MAX_BATCH = 1024  # message ids are 16 bits; keep a batch's ids far from colliding
_RANDOM = secrets.SystemRandom()  # unpredictable ids and source ports (RFC 5452 §4)


@dataclass
class _Pending:
    """One question of a batch: what to send, and what went wrong so far."""

    name: str
    rdtype: str
    qname: dns.name.Name
    qtype: dns.rdatatype.RdataType
    message: dns.message.Message | None = None
    failures: list[tuple[Outcome, str]] = field(default_factory=list)

    @property
    def key(self) -> Question:
        return (self.name, self.rdtype)


def _match(
    data: bytes,
    source: tuple[str, int],
    sources: set[tuple[str, int]],
    by_id: dict[int, _Pending],
) -> tuple[_Pending | None, dns.message.Message | None]:
    """The waiting question a datagram answers, and the reply; (None, None) for stray data."""
    address = source[0].split("%", 1)[0]
    if (ipaddress.ip_address(address).compressed, source[1]) not in sources:
        return None, None
    try:
        reply = dns.message.from_wire(data)
    except dns.exception.DNSException:
        return None, None
    pending = by_id.get(reply.id)
    if pending is None or pending.message is None or not pending.message.is_response(reply):
        return None, None
    return pending, reply


def _step_from_reply(
    pending: _Pending, server: Nameserver, reply: dns.message.Message
) -> Step | None:
    """A final step for NOERROR/NXDOMAIN; None (failure noted) for SERVFAIL, REFUSED, others."""
    rcode = reply.rcode()
    if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
        return answer_from_reply(pending.name, pending.rdtype, pending.qname, pending.qtype, reply)
    outcome = {dns.rcode.SERVFAIL: Outcome.SERVFAIL, dns.rcode.REFUSED: Outcome.REFUSED}.get(
        rcode, Outcome.FAILURE
    )
    pending.failures.append((outcome, f"{server} answered {dns.rcode.to_text(rcode)}"))
    return None


def _failure(name: str, rdtype: str, failures: Sequence[tuple[Outcome, str]]) -> DnsAnswer:
    outcomes = {outcome for outcome, _ in failures}
    for outcome in (Outcome.SERVFAIL, Outcome.TRUNCATED, Outcome.REFUSED, Outcome.FAILURE):
        if outcome in outcomes:
            break
    else:
        outcome = Outcome.TIMEOUT
    detail = "; ".join(dict.fromkeys(text for _, text in failures))
    return DnsAnswer(name, rdtype, outcome, detail=detail)


def make_dns_client(
    nameservers: Sequence[str] = (),
    *,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = DEFAULT_RETRIES,
) -> NetworkDnsClient:
    """A client for ``--nameserver`` values, or for the system's resolvers when none are given.

    Invalid nameserver text raises ConfigError; a machine without a resolver configuration gets a
    client whose every answer is a failure, so DNS findings become ``error`` and nothing crashes.
    """
    if timeout <= 0 or retries < 0:
        raise ConfigError("DNS timeout must be positive and retries not negative")
    servers = [parse_nameserver(text) for text in nameservers] or _system_nameservers()
    return NetworkDnsClient(servers, timeout=timeout, retries=retries)


def _system_nameservers() -> list[Nameserver]:
    """The resolvers of /etc/resolv.conf; none (every answer a failure) when it is missing."""
    try:
        system = dns.resolver.Resolver(configure=True)
    except dns.resolver.NoResolverConfiguration:
        return []
    servers = []
    for entry in system.nameservers:
        try:
            servers.append(Nameserver(parse_nameserver(str(entry)).address, system.port))
        except ConfigError:
            continue  # e.g. a DNS-over-HTTPS entry: not ours to speak
    return servers
