"""SPF include/redirect expansion (the fetch loop) and the static analysis of what it fetched.

:func:`fetch_spf_tree` asks, round by round and each round concurrently, every question a
receiver could need for the given SPF roots: the TXT of each include/redirect target, the
addresses of ``a`` terms and of ``mx`` terms' hosts (A, and AAAA only where A gives none: enough
to tell a void lookup), the MX of ``mx`` terms, the A of ``exists``.
:func:`analyse_spf` then walks those answers without any I/O, counting DNS-querying terms and
void lookups the way a receiver evaluating the whole record would (RFC 7208 §4.6.4).

Static limits: terms with macros cannot be expanded without a message (sender, client IP), so
they are counted but not followed; ``ptr`` needs the client IP and is counted only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from smtpcheck.mailauth.client import DnsAnswer, DnsClient, normalize_name
from smtpcheck.mailauth.records import Issue
from smtpcheck.mailauth.spf import (
    MAX_DNS_LOOKUPS,
    MAX_MX_NAMES,
    MAX_STRING_OCTETS,
    MAX_VOID_LOOKUPS,
    SpfRecord,
    SpfTerm,
    parse_spf_record,
    select_spf_records,
)

Question = tuple[str, str]
_WALK_LIMIT = 4 * MAX_DNS_LOOKUPS  # stop walking a pathological tree long after the verdict


@dataclass(frozen=True)
class SpfTree:
    """Every DNS answer the expansion of ``roots`` needed, keyed by (name, type)."""

    roots: tuple[str, ...]
    answers: Mapping[Question, DnsAnswer]

    def answer(self, name: str, rdtype: str) -> DnsAnswer | None:
        return self.answers.get((normalize_name(name), rdtype))


def fetch_spf_tree(roots: Sequence[str], dns: DnsClient) -> SpfTree:
    """Expand the SPF records of ``roots`` as far as a receiver could need (the fetch loop).

    Each round asks all of its questions at once. An evaluation reaches at most 10 DNS-querying
    terms, each include/redirect target costing one, so following more than 11 targets per root
    cannot change a verdict: expansion stops there (the analysis then reports the excess).
    """
    roots = tuple(dict.fromkeys(normalize_name(root) for root in roots))
    answers: dict[Question, DnsAnswer] = {}
    spf_names = set(roots)
    address_names: set[str] = set()  # a-term targets and MX hosts: AAAA when A gives none
    budget = (MAX_DNS_LOOKUPS + 1) * len(roots)
    wanted: list[Question] = [(root, "TXT") for root in roots]
    while wanted:
        dns.prefetch(wanted)
        discovered: list[Question] = []
        for name, rdtype in wanted:
            answer = answers[(name, rdtype)] = dns.query(name, rdtype)
            if rdtype == "TXT" and name in spf_names:
                for question in _questions_for_record(name, answer):
                    target, kind = question
                    if kind == "TXT" and target not in spf_names:
                        if budget <= 0:
                            continue
                        budget -= 1
                        spf_names.add(target)
                    discovered.append(question)
            elif rdtype == "MX":
                discovered.extend(_questions_for_mx(answer))
            elif rdtype == "A" and name in address_names and not answer.records:
                discovered.append((name, "AAAA"))
        address_names.update(
            name for name, rdtype in discovered if rdtype == "A" and (name, "A") not in answers
        )
        wanted = [q for q in dict.fromkeys(discovered) if q not in answers]
    return SpfTree(roots, MappingProxyType(answers))


def _questions_for_record(name: str, answer: DnsAnswer) -> list[Question]:
    records = select_spf_records(answer.records)
    if len(records) != 1:
        return []
    record = parse_spf_record(records[0])
    questions: list[Question] = []
    terms = [t for t in record.evaluated_mechanisms if t.queries_dns]
    if record.redirect is not None:
        terms.append(record.redirect)
    for term in terms[: MAX_DNS_LOOKUPS + 1]:
        if term.has_macro or term.name == "ptr":
            continue
        target = normalize_name(term.domain) or name
        if term.name in ("include", "redirect"):
            questions.append((target, "TXT"))
        elif term.name == "a":
            questions.append((target, "A"))
        elif term.name == "mx":
            questions.append((target, "MX"))
        elif term.name == "exists":
            questions.append((target, "A"))
    return questions


def mx_hosts(answer: DnsAnswer) -> tuple[str, ...]:
    """The exchange names of an MX answer, by preference, without a null MX's ``.``."""
    pairs = []
    for record in answer.records:
        preference, _, host = record.partition(" ")
        if host and host != ".":
            pairs.append((int(preference) if preference.isdigit() else 65535, host))
    return tuple(host for _, host in sorted(pairs))


def _questions_for_mx(answer: DnsAnswer) -> list[Question]:
    hosts = mx_hosts(answer)
    if len(hosts) > MAX_MX_NAMES:
        return []  # a permerror already (RFC 7208 §4.6.4): no need for the addresses
    return [(host, "A") for host in hosts]


@dataclass
class _Walk:
    tree: SpfTree
    lookups: int = 0
    void_lookups: int = 0
    issues: list[Issue] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    reached: list[str] = field(default_factory=list)
    unexpanded: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SpfAnalysis:
    """What evaluating the SPF record at ``name`` statically costs and where it breaks.

    ``issues`` holds the root record's own issues and every fatal issue met in the tree;
    ``failures`` the DNS failures met (a receiver would return temperror); ``reached`` every
    include/redirect target evaluated, in order; ``all_qualifier`` the qualifier of the ``all``
    that ends the evaluation (through redirects), None when there is none.
    """

    name: str
    answer: DnsAnswer | None
    records: tuple[str, ...]
    record: SpfRecord | None
    lookups: int
    void_lookups: int
    issues: tuple[Issue, ...]
    failures: tuple[str, ...]
    reached: tuple[str, ...]
    unexpanded: tuple[str, ...]
    all_qualifier: str | None

    @property
    def permerror(self) -> bool:
        return any(issue.fatal for issue in self.issues)

    @property
    def temperror(self) -> bool:
        return bool(self.failures)

    @property
    def has_record(self) -> bool:
        return len(self.records) > 0

    @property
    def long_strings(self) -> tuple[int, ...]:
        """Lengths of character-strings over 255 octets in the SPF RR (RFC 7208 §3.3)."""
        if self.answer is None:
            return ()
        return tuple(
            len(chunk)
            for strings, text in zip(self.answer.strings, self.answer.records, strict=False)
            if text in self.records
            for chunk in strings
            if len(chunk) > MAX_STRING_OCTETS
        )


def analyse_spf(tree: SpfTree, name: str) -> SpfAnalysis:
    """Walk the fetched answers from ``name`` as a receiver would, without I/O."""
    name = normalize_name(name)
    walk = _Walk(tree)
    answer = tree.answer(name, "TXT")
    records = select_spf_records(answer.records) if answer is not None else ()
    record: SpfRecord | None = None
    if answer is None or answer.failed:
        walk.failures.append(answer.describe() if answer else f"TXT {name}: not fetched")
    elif len(records) > 1:
        walk.issues.append(
            Issue("multiple-records", f"{name} has {len(records)} SPF records", "RFC 7208 §4.5")
        )
    elif records:
        record = parse_spf_record(records[0])
        walk.issues.extend(record.issues)
        _walk_record(walk, name, record, (name,))
    if walk.lookups > MAX_DNS_LOOKUPS:
        walk.issues.append(
            Issue(
                "too-many-lookups",
                f"{walk.lookups} DNS-querying terms through the include/redirect tree, "
                f"over {MAX_DNS_LOOKUPS}",
                "RFC 7208 §4.6.4",
            )
        )
    if walk.void_lookups > MAX_VOID_LOOKUPS:
        walk.issues.append(
            Issue(
                "too-many-void-lookups",
                f"{walk.void_lookups} lookups returned no records, over {MAX_VOID_LOOKUPS}",
                "RFC 7208 §4.6.4",
            )
        )
    return SpfAnalysis(
        name=name,
        answer=answer,
        records=records,
        record=record,
        lookups=walk.lookups,
        void_lookups=walk.void_lookups,
        issues=tuple(walk.issues),
        failures=tuple(dict.fromkeys(walk.failures)),
        reached=tuple(walk.reached),
        unexpanded=tuple(dict.fromkeys(walk.unexpanded)),
        all_qualifier=_effective_all(tree, record, (name,)),
    )


def _walk_record(walk: _Walk, name: str, record: SpfRecord, stack: tuple[str, ...]) -> None:
    terms = [t for t in record.evaluated_mechanisms if t.queries_dns]
    if record.redirect is not None:
        terms.append(record.redirect)
    for term in terms:
        if walk.lookups > _WALK_LIMIT:
            return
        walk.lookups += 1
        if term.has_macro or term.name == "ptr":
            walk.unexpanded.append(f"{name}: {term.raw}")
            continue
        target = normalize_name(term.domain) or name
        if term.name in ("include", "redirect"):
            _walk_target(walk, name, term, target, stack)
        elif term.name == "a":
            _count_void_address(walk, target)
        elif term.name == "exists":
            _count_void(walk, (target, "A"))
        elif term.name == "mx":
            _walk_mx(walk, name, term, target)


def _count_void(walk: _Walk, *questions: Question) -> bool:
    """Count one void lookup when every answer is void; False when a failure was met."""
    answers = [walk.tree.answers.get(q) for q in questions]
    for question, answer in zip(questions, answers, strict=True):
        if answer is None or answer.failed:
            walk.failures.append(answer.describe() if answer else f"{question}: not fetched")
            return False
    if all(answer is not None and answer.is_void for answer in answers):
        walk.void_lookups += 1
    return True


def _count_void_address(walk: _Walk, name: str) -> None:
    """An ``a`` term is void when the name has neither A nor AAAA (AAAA fetched only then)."""
    a_answer = walk.tree.answers.get((name, "A"))
    if a_answer is not None and a_answer.records:
        return
    _count_void(walk, (name, "A"), (name, "AAAA"))


def _walk_mx(walk: _Walk, name: str, term: SpfTerm, target: str) -> None:
    answer = walk.tree.answers.get((target, "MX"))
    if not _count_void(walk, (target, "MX")) or answer is None:
        return
    hosts = mx_hosts(answer)
    if len(hosts) > MAX_MX_NAMES:
        walk.issues.append(
            Issue(
                "too-many-mx",
                f"{name}: {term.raw} names {len(hosts)} MX hosts, over {MAX_MX_NAMES}",
                "RFC 7208 §4.6.4",
            )
        )


def _walk_target(
    walk: _Walk, name: str, term: SpfTerm, target: str, stack: tuple[str, ...]
) -> None:
    """An include (RFC 7208 §5.2) or redirect (§6.1) target: its record is evaluated in turn."""
    section = "RFC 7208 §5.2" if term.name == "include" else "RFC 7208 §6.1"
    if target in stack:
        chain = " -> ".join((*stack, target))
        walk.issues.append(Issue("loop", f"{term.name} loop: {chain}", "RFC 7208 §4.6.4"))
        return
    answer = walk.tree.answers.get((target, "TXT"))
    if answer is None:  # expansion stopped: only past the lookup limit (fetch_spf_tree)
        walk.failures.append(f"TXT {target}: not fetched ({name}: {term.raw})")
        return
    if answer.failed:
        walk.failures.append(answer.describe())
        return
    if answer.is_void:
        walk.void_lookups += 1
    records = select_spf_records(answer.records)
    if len(records) != 1:
        why = "no SPF record" if not records else f"{len(records)} SPF records"
        walk.issues.append(
            Issue("target-unusable", f"{name}: {term.raw}: {target} has {why}", section)
        )
        return
    record = parse_spf_record(records[0])
    walk.issues.extend(
        Issue(i.code, f"{target}: {i.message}", i.reference) for i in record.issues if i.fatal
    )
    walk.reached.append(target)
    _walk_record(walk, target, record, (*stack, target))


def _effective_all(tree: SpfTree, record: SpfRecord | None, stack: tuple[str, ...]) -> str | None:
    """The qualifier of the ``all`` that ends evaluation, following redirects (RFC 7208 §6.1)."""
    if record is None:
        return None
    if record.all_term is not None:
        return record.all_term.qualifier
    redirect = record.redirect
    if redirect is None or redirect.has_macro:
        return None
    target = normalize_name(redirect.domain)
    answer = tree.answer(target, "TXT")
    if target in stack or answer is None:
        return None
    records = select_spf_records(answer.records)
    if len(records) != 1:
        return None
    return _effective_all(tree, parse_spf_record(records[0]), (*stack, target))
