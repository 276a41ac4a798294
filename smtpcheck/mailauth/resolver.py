"""A small caching DNS client whose every answer, good or bad, is data.

Each (name, type) is asked at most once per client (a single-flight cache: concurrent callers of
the same question wait for the one in flight). Independent questions given to
:meth:`DnsClient.prefetch` go out together on one UDP socket, replies matched by message id, so
they are concurrent without a thread each. ``queries_sent`` counts the messages that really left
the process (retries and TCP fall-backs included) for the benchmark.

NXDOMAIN, NODATA, timeouts, SERVFAIL, REFUSED and truncated answers come back as a
:class:`DnsAnswer` with an :class:`Outcome`; nothing here raises for a DNS problem (STYLE §4).
CNAME chains are followed by the client itself, because an authoritative server such as NSD
returns only the CNAME when its target lies in a zone it does not serve.
"""

from __future__ import annotations

import abc
import enum
import ipaddress
import secrets
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.resolver
import dns.rrset

from smtpcheck.errors import ConfigError

DEFAULT_TIMEOUT = 2.0
"""Seconds to wait for one reply from one nameserver."""
DEFAULT_RETRIES = 1
"""Further rounds over every nameserver after a round without a usable reply."""
MAX_CNAME_CHAIN = 8
EDNS_PAYLOAD = 1232  # the DNS flag day 2020 size: no fragmentation, rare truncation


class Outcome(enum.StrEnum):
    """What a question got. The first three are answers; the rest are failures to get one."""

    ANSWER = "answer"
    NODATA = "nodata"  # the name exists, with no record of the type (RFC 2308 §2.2)
    NXDOMAIN = "nxdomain"  # the name does not exist (RFC 8020)
    TIMEOUT = "timeout"
    SERVFAIL = "servfail"
    REFUSED = "refused"
    TRUNCATED = "truncated"  # TC over UDP and the TCP retry failed too
    FAILURE = "failure"  # anything else: bad name, unreachable network, malformed reply, loop


_FAILURES = frozenset(
    {Outcome.TIMEOUT, Outcome.SERVFAIL, Outcome.REFUSED, Outcome.TRUNCATED, Outcome.FAILURE}
)


@dataclass(frozen=True)
class DnsAnswer:
    """The answer to one question, after following CNAMEs.

    ``records`` are the final RRset's values: TXT the character-strings joined (RFC 7208 §3.3,
    RFC 6376 §3.6.2.2), decoded as UTF-8 with replacement; A/AAAA the address; MX
    ``"<preference> <exchange>"``; CNAME/PTR/NS the target; names lower-case without the final
    dot. ``strings`` keeps each TXT RR's character-strings as sent. ``cnames`` lists the chain's
    targets in order. ``detail`` says, for a failure, which server did what.
    """

    name: str
    rdtype: str
    outcome: Outcome
    records: tuple[str, ...] = ()
    strings: tuple[tuple[bytes, ...], ...] = ()
    cnames: tuple[str, ...] = ()
    detail: str = ""

    @property
    def failed(self) -> bool:
        """True when no answer could be had (the verdict would be a temperror)."""
        return self.outcome in _FAILURES

    @property
    def is_void(self) -> bool:
        """NXDOMAIN or NODATA: a 'void lookup' in RFC 7208 §4.6.4's sense."""
        return self.outcome in (Outcome.NXDOMAIN, Outcome.NODATA)

    @property
    def final_name(self) -> str:
        """The name the records belong to: the last CNAME target, or the name asked."""
        return self.cnames[-1] if self.cnames else self.name

    def describe(self) -> str:
        """One line for evidence: ``TXT example.com: nxdomain`` or the failure detail."""
        text = f"{self.rdtype} {self.name}: {self.outcome.value}"
        if self.cnames:
            text += f" (via CNAME {' -> '.join(self.cnames)})"
        return f"{text}: {self.detail}" if self.detail else text


def normalize_name(name: str) -> str:
    """Lower case, no final dot: the one spelling of a name used as a cache key and in evidence."""
    return name.strip().rstrip(".").lower()


Step = tuple[DnsAnswer, str | None]
"""One server answer, and the CNAME target to ask next when the chain stopped short."""


Question = tuple[str, str]


class DnsClient(abc.ABC):
    """Thread-safe, caching, CNAME-following DNS questions.

    Subclasses answer a batch of questions (:meth:`_resolve_many`); the base class makes sure
    each question is resolved once, however many threads ask it at the same time.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._steps: dict[Question, Future[Step]] = {}

    @property
    @abc.abstractmethod
    def queries_sent(self) -> int:
        """DNS messages sent on the network so far (retries and TCP fall-backs included)."""

    @property
    def questions_asked(self) -> int:
        """Distinct (name, type) questions this client has answered (from any source)."""
        with self._lock:
            return len(self._steps)

    def _resolve_many(self, questions: Sequence[Question]) -> list[Step]:
        """Answer questions (no cache); a subclass may ask them all at once."""
        return [self._resolve(name, rdtype) for name, rdtype in questions]

    @abc.abstractmethod
    def _resolve(self, name: str, rdtype: str) -> Step:
        """Answer one question for one name (no cache), following CNAMEs the reply carries."""

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        """The answer for (name, rdtype), asked at most once in this client's lifetime."""
        name, rdtype = normalize_name(name), rdtype.upper()
        answer, follow = self._step((name, rdtype))
        chain = list(answer.cnames)
        while follow is not None:
            if len(chain) > MAX_CNAME_CHAIN or name in chain or len(set(chain)) != len(chain):
                detail = f"CNAME loop or chain longer than {MAX_CNAME_CHAIN}"
                return DnsAnswer(name, rdtype, Outcome.FAILURE, cnames=tuple(chain), detail=detail)
            answer, follow = self._step((follow, rdtype))
            chain.extend(answer.cnames)
        if not chain:
            return answer
        return DnsAnswer(
            name,
            rdtype,
            answer.outcome,
            answer.records,
            answer.strings,
            tuple(chain),
            answer.detail,
        )

    def prefetch(self, questions: Iterable[Question]) -> None:
        """Ask independent questions at once; their answers land in the cache."""
        wanted = list(dict.fromkeys((normalize_name(n), t.upper()) for n, t in questions))
        self._claim_and_resolve(wanted)
        for name, rdtype in wanted:
            self.query(name, rdtype)  # waits for questions other threads have in flight

    def _step(self, question: Question) -> Step:
        self._claim_and_resolve([question])
        with self._lock:
            future = self._steps[question]
        return future.result()

    def _claim_and_resolve(self, questions: Sequence[Question]) -> None:
        """Resolve, in one batch, the questions nobody has asked yet (single flight)."""
        claimed: list[tuple[Question, Future[Step]]] = []
        with self._lock:
            for question in questions:
                if question not in self._steps:
                    future: Future[Step] = Future()
                    self._steps[question] = future
                    claimed.append((question, future))
        if not claimed:
            return
        try:
            steps = self._resolve_many([question for question, _ in claimed])
        except BaseException as exc:  # a bug or an interrupt: waiters must not hang
            for _, future in claimed:
                future.set_exception(exc)
            raise
        for (_, future), step in zip(claimed, steps, strict=True):
            future.set_result(step)


class FailingDnsClient(DnsClient):
    """Answers every question with a failure saying ``reason``; sends nothing."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    @property
    def queries_sent(self) -> int:
        return 0

    def _resolve(self, name: str, rdtype: str) -> Step:
        return DnsAnswer(name, rdtype, Outcome.FAILURE, detail=self.reason), None


def has_address(answers: Sequence[DnsAnswer]) -> bool:
    return any(answer.outcome is Outcome.ANSWER for answer in answers)


def fetch_addresses(names: Iterable[str], dns: DnsClient) -> dict[str, tuple[DnsAnswer, ...]]:
    """Whether each name has an address: A for all at once, then AAAA only where A gave none.

    The answer to "has an address" is the same as asking both, with one query less per name
    that has an A record; a name with only AAAA costs one more round.
    """
    names = list(dict.fromkeys(normalize_name(name) for name in names))
    dns.prefetch((name, "A") for name in names)
    first = {name: dns.query(name, "A") for name in names}
    dns.prefetch((name, "AAAA") for name, answer in first.items() if not answer.records)
    return {
        name: (answer,) if answer.records else (answer, dns.query(name, "AAAA"))
        for name, answer in first.items()
    }


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
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(f"--nameserver {text!r}: port must be 1-65535")
        port = int(port_text)
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
        return _answer_from_reply(pending.name, pending.rdtype, pending.qname, pending.qtype, reply)
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


def _answer_from_reply(
    name: str,
    rdtype: str,
    qname: dns.name.Name,
    qtype: dns.rdatatype.RdataType,
    reply: dns.message.Message,
) -> Step:
    """Follow the CNAMEs in the answer section; say where to go on if the chain stops short."""
    current, chain = qname, []
    rrset: dns.rrset.RRset | None = None
    for _ in range(MAX_CNAME_CHAIN + 1):
        rrset = _find(reply, current, qtype)
        if rrset is not None or qtype == dns.rdatatype.CNAME:
            break
        cname = _find(reply, current, dns.rdatatype.CNAME)
        if cname is None:
            break
        current = cname[0].target
        chain.append(normalize_name(current.to_text()))
    cnames = tuple(chain)
    if rrset is not None:
        records, strings = rdata_values(rrset)
        return DnsAnswer(name, rdtype, Outcome.ANSWER, records, strings, cnames), None
    if reply.rcode() == dns.rcode.NXDOMAIN:
        return DnsAnswer(name, rdtype, Outcome.NXDOMAIN, cnames=cnames), None
    follow = cnames[-1] if cnames else None  # NOERROR ending on a CNAME: ask its target
    return DnsAnswer(name, rdtype, Outcome.NODATA, cnames=cnames), follow


def _find(
    reply: dns.message.Message, name: dns.name.Name, rdtype: dns.rdatatype.RdataType
) -> dns.rrset.RRset | None:
    for rrset in reply.answer:
        if rrset.name == name and rrset.rdtype == rdtype and rrset.rdclass == dns.rdataclass.IN:
            return rrset
    return None


def rdata_values(
    rrset: dns.rdataset.Rdataset,
) -> tuple[tuple[str, ...], tuple[tuple[bytes, ...], ...]]:
    """The presentation values DnsAnswer documents, and TXT character-strings."""
    rdatas: list[Any] = list(rrset)
    if rrset.rdtype == dns.rdatatype.TXT:
        strings = tuple(tuple(rdata.strings) for rdata in rdatas)
        return tuple(b"".join(s).decode("utf-8", "replace") for s in strings), strings
    if rrset.rdtype == dns.rdatatype.MX:
        return tuple(f"{r.preference} {_target(r.exchange)}" for r in rdatas), ()
    if rrset.rdtype in (dns.rdatatype.CNAME, dns.rdatatype.PTR, dns.rdatatype.NS):
        return tuple(_target(r.target) for r in rdatas), ()
    if rrset.rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
        return tuple(str(r.address) for r in rdatas), ()
    return tuple(r.to_text() for r in rdatas), ()


def _target(name: dns.name.Name) -> str:
    return normalize_name(name.to_text()) or "."


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
