"""A small caching DNS client whose every answer, good or bad, is data.

Each (name, type) is asked at most once per client (a single-flight cache: concurrent callers of
the same question wait for the one in flight), independent questions run concurrently through
:meth:`DnsClient.prefetch`, and ``queries_sent`` counts the messages that really left the process
(retries and TCP fall-backs included) for the benchmark.

NXDOMAIN, NODATA, timeouts, SERVFAIL, REFUSED and truncated answers come back as a
:class:`DnsAnswer` with an :class:`Outcome`; nothing here raises for a DNS problem (STYLE §4).
CNAME chains are followed by the client itself, because an authoritative server such as NSD
returns only the CNAME when its target lies in a zone it does not serve.
"""

from __future__ import annotations

import abc
import enum
import ipaddress
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from types import TracebackType
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


class DnsClient(abc.ABC):
    """Thread-safe, caching, CNAME-following DNS questions. Subclasses answer one name."""

    def __init__(self, *, max_workers: int = 16) -> None:
        self._lock = threading.Lock()
        self._steps: dict[tuple[str, str], Future[Step]] = {}
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None

    @property
    @abc.abstractmethod
    def queries_sent(self) -> int:
        """DNS messages sent on the network so far (retries and TCP fall-backs included)."""

    @property
    def questions_asked(self) -> int:
        """Distinct (name, type) questions this client has answered (from any source)."""
        with self._lock:
            return len(self._steps)

    @abc.abstractmethod
    def _resolve(self, name: str, rdtype: str) -> Step:
        """Answer one question for one name (no cache), following CNAMEs the reply carries."""

    def query(self, name: str, rdtype: str) -> DnsAnswer:
        """The answer for (name, rdtype), asked at most once in this client's lifetime."""
        name, rdtype = normalize_name(name), rdtype.upper()
        answer, follow = self._step(name, rdtype)
        chain = list(answer.cnames)
        while follow is not None:
            if len(chain) > MAX_CNAME_CHAIN or name in chain or len(set(chain)) != len(chain):
                detail = f"CNAME loop or chain longer than {MAX_CNAME_CHAIN}"
                return DnsAnswer(name, rdtype, Outcome.FAILURE, cnames=tuple(chain), detail=detail)
            answer, follow = self._step(follow, rdtype)
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

    def prefetch(self, questions: Iterable[tuple[str, str]]) -> None:
        """Ask independent questions concurrently; their answers land in the cache."""
        pending = list(dict.fromkeys((normalize_name(n), t.upper()) for n, t in questions))
        pending = [q for q in pending if not self._is_cached(q)]
        if len(pending) < 2:
            for name, rdtype in pending:
                self.query(name, rdtype)
            return
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._max_workers, thread_name_prefix="dns")
            pool = self._pool
        for future in [pool.submit(self.query, name, rdtype) for name, rdtype in pending]:
            future.result()

    def _is_cached(self, question: tuple[str, str]) -> bool:
        with self._lock:
            return question in self._steps

    def _step(self, name: str, rdtype: str) -> Step:
        key = (name, rdtype)
        with self._lock:
            future = self._steps.get(key)
            owner = future is None
            if future is None:
                future = self._steps[key] = Future()
        if owner:
            try:
                step = self._resolve(name, rdtype)
            except BaseException as exc:  # a bug or an interrupt: waiters must not hang
                future.set_exception(exc)
                raise
            future.set_result(step)
        return future.result()

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def __enter__(self) -> DnsClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


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
    """Asks nameservers over UDP (TCP when an answer is truncated), with timeouts and retries."""

    def __init__(
        self,
        nameservers: Sequence[Nameserver],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        max_workers: int = 16,
    ) -> None:
        super().__init__(max_workers=max_workers)
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
        try:
            qname = dns.name.from_text(name)
            qtype = dns.rdatatype.from_text(rdtype)
        except (dns.exception.DNSException, ValueError) as exc:
            return DnsAnswer(
                name, rdtype, Outcome.FAILURE, detail=f"not a valid question: {exc}"
            ), None
        if not self.servers_for(name):
            return DnsAnswer(name, rdtype, Outcome.FAILURE, detail="no nameserver configured"), None
        query = dns.message.make_query(qname, qtype, use_edns=0, payload=EDNS_PAYLOAD)
        failures: list[tuple[Outcome, str]] = []
        for _ in range(self.retries + 1):
            for server in self.servers_for(name):
                reply = self._exchange(query, server, failures)
                if reply is None:
                    continue
                rcode = reply.rcode()
                if rcode in (dns.rcode.NOERROR, dns.rcode.NXDOMAIN):
                    return _answer_from_reply(name, rdtype, qname, qtype, reply)
                outcome = Outcome.SERVFAIL if rcode == dns.rcode.SERVFAIL else Outcome.REFUSED
                if rcode not in (dns.rcode.SERVFAIL, dns.rcode.REFUSED):
                    outcome = Outcome.FAILURE
                failures.append((outcome, f"{server} answered {dns.rcode.to_text(rcode)}"))
        return _failure(name, rdtype, failures), None

    def _exchange(
        self, query: dns.message.Message, server: Nameserver, failures: list[tuple[Outcome, str]]
    ) -> dns.message.Message | None:
        """One UDP exchange (and TCP after TC); a failure is appended, None returned."""
        try:
            self._count()
            return dns.query.udp(
                query,
                server.address,
                timeout=self.timeout,
                port=server.port,
                ignore_unexpected=True,
                raise_on_truncation=True,
            )
        except dns.message.Truncated:
            pass
        except dns.exception.Timeout:
            failures.append((Outcome.TIMEOUT, f"{server} did not answer within {self.timeout:g}s"))
            return None
        except (OSError, dns.exception.DNSException) as exc:
            failures.append((Outcome.FAILURE, f"{server}: {type(exc).__name__}: {exc}"))
            return None
        try:
            self._count()
            return dns.query.tcp(query, server.address, timeout=self.timeout, port=server.port)
        except (OSError, dns.exception.DNSException) as exc:
            detail = f"{server}: truncated over UDP, TCP retry failed ({type(exc).__name__}: {exc})"
            failures.append((Outcome.TRUNCATED, detail))
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
