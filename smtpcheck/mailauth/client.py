"""The answer type and the caching, single-flight DNS client every lookup goes through.

Every answer, good or bad, is data: NXDOMAIN, NODATA, timeouts, SERVFAIL, REFUSED and truncated
answers come back as a :class:`DnsAnswer` with an :class:`Outcome`; nothing here raises for a
DNS problem (STYLE §4). Each (name, type) is asked at most once per client (concurrent callers
of the same question wait for the one in flight), and :meth:`DnsClient.prefetch` hands a
subclass whole batches of independent questions. CNAME chains are followed by the client
itself, because an authoritative server such as NSD returns only the CNAME when its target
lies in a zone it does not serve.
"""

from __future__ import annotations

import abc
import enum
import threading
from collections.abc import Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdataset
import dns.rdatatype
import dns.rrset

MAX_CNAME_CHAIN = 8


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


def answer_from_reply(
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
