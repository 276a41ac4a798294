"""The rows of report.html, built once in Python so that the template only loops and prints.

A fleet's page has tens of thousands of findings, most of them passes; what it shows of each
is sized for that (issue 10): a problem (fail, error, warn) gets a card with where, what is
wrong, the remediation and its full evidence; a pass or skip gets no evidence, only a share of
one line: the passes of a control that say the same thing are one line naming the targets it
holds for. The matrices show every finding's status in one small cell. Control titles,
"passes when" and references are printed once per control. report.json keeps every finding's
full evidence.

Everything here is plain values (strings, numbers); all markup and escaping is the template's.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from smtpcheck.catalogue import CONTROLS, Control, Layer
from smtpcheck.findings import ROOT_CAUSE, SEVERITY_RANK, EvidenceValue, Finding, Status
from smtpcheck.history import Change
from smtpcheck.result import AuditResult, layer_of
from smtpcheck.scope import MAX_LISTED, DomainScope, HostScope, RelayScope, Scope

_LAYER_ORDER = {layer: rank for rank, layer in enumerate(Layer)}
PROBLEM_STATUSES = (Status.ERROR, Status.FAIL, Status.WARN)  # in the order they are listed
_LINE_RANK = {s: rank for rank, s in enumerate((*PROBLEM_STATUSES, Status.PASS, Status.SKIP))}
_NOUNS = {Layer.HOST: ("host", "hosts"), Layer.DNS: ("domain", "domains"),
          Layer.RELAY: ("relay test", "relay tests")}  # fmt: skip


def count_of(number: int, layer: Layer) -> str:
    """The number with its noun: 1 host, 250 hosts, 3 relay tests."""
    one, many = _NOUNS[layer]
    return f"{number} {one if number == 1 else many}"


class Ids:
    """Page-unique ids from outside text: ``prefix-`` and the text with every character that
    is not a letter or digit as ``-``; a repeat gets ``-2``, ``-3``…"""

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, prefix: str, text: str) -> str:
        base = prefix + "-" + "".join(ch if ch.isalnum() else "-" for ch in text)
        name, number = base, 1
        while name in self._taken:
            number += 1
            name = f"{base}-{number}"
        self._taken.add(name)
        return name


# Evidence as a person writes it ----------------------------------------------------------------


def _item(value: EvidenceValue) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, tuple):
        return ", ".join(_item(v) for v in value) if value else "(none)"
    if value == "":
        return "(empty)"
    return str(value)


@dataclass(frozen=True)
class EvidenceRow:
    name: str
    value: str  # the value in words; for a list, what to show when it is empty
    items: tuple[str, ...] = ()  # a list's items, one a line


def _evidence(finding: Finding) -> list[EvidenceRow]:
    rows = []
    for key, value in finding.evidence.items():
        name = key.replace("_", " ")
        if isinstance(value, tuple) and value:
            rows.append(EvidenceRow(name, "", tuple(_item(v) for v in value)))
        else:
            rows.append(EvidenceRow(name, _item(value)))
    return rows


# Where a finding is -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Where:
    kind: str  # host, domain, relay
    name: str
    details: tuple[str, ...] = ()  # "wordpress", "generation A/B", "endpoint …", "for web1, web2"


@dataclass(frozen=True)
class Targets:
    """The scope's targets by name (a fleet's page looks each one up many times)."""

    hosts: Mapping[str, HostScope]
    domains: Mapping[str, DomainScope]
    relays: Mapping[str, RelayScope]
    known: bool  # False: the run's scope is not known

    @classmethod
    def of(cls, scope: Scope | None) -> Targets:
        if scope is None:
            return cls({}, {}, {}, known=False)
        return cls(
            {h.name: h for h in scope.hosts},
            {d.name: d for d in scope.domains},
            {r.name: r for r in scope.relays},
            known=True,
        )


def names(values: Iterable[str]) -> str:
    """Up to MAX_LISTED names, then how many more (the Targets section lists them all)."""
    listed = list(values)
    shown = ", ".join(listed[:MAX_LISTED])
    more = len(listed) - MAX_LISTED
    return f"{shown} and {more} more (see Targets)" if more > 0 else shown


def _where(targets: Targets, finding: Finding) -> Where:
    layer, target = layer_of(finding), finding.target
    if layer is Layer.DNS:
        domain = targets.domains.get(target)
        provider = (f"provider {domain.provider}",) if domain and domain.provider else ()
        return Where("domain", target, provider)
    if layer is Layer.RELAY:
        relay = targets.relays.get(target)
        if relay is None:
            return Where("relay", target)
        hosts = (f"for {names(relay.hosts)}",) if relay.hosts else ()
        return Where("relay", target, (f"endpoint {relay.endpoint or 'none derived'}", *hosts))
    host = targets.hosts.get(target)
    if host is None:
        return Where("host", target)
    return Where("host", target, (host.app, f"generation {host.generation}"))


# The view of one finding ------------------------------------------------------------------------


@dataclass(frozen=True)
class Marks:
    """What the diff and the waivers say of a finding."""

    change: str | None = None  # new, fixed, changed (unchanged is not marked)
    waiver: str | None = None  # "active" or "expired"
    waiver_label: str = ""  # "waived until 2027-03-31" / "waiver expired 2026-12-31"
    justification: str = ""
    credential: str | None = None  # "password unchanged since the baseline run of …"

    @property
    def cell(self) -> str:
        """The marks as a matrix cell says them: "new waived", "fixed", "waiver expired"."""
        waiver = {"active": "waived", "expired": "waiver expired"}.get(self.waiver or "", "")
        return " ".join(word for word in (self.change or "", waiver) if word)


_UNMARKED = Marks()


def _marks(result: AuditResult, finding: Finding) -> Marks:
    key = finding.key
    change = result.diff.changes.get(key) if result.diff is not None else None
    note = result.diff.credentials.get(key) if result.diff is not None else None
    applied = result.waived.get(key)
    shown = change.value if change is not None and change is not Change.UNCHANGED else None
    if applied is None:
        return Marks(shown, credential=note) if shown or note else _UNMARKED
    expires = applied.waiver.expires.isoformat()
    return Marks(
        shown,
        "active" if applied.active else "expired",
        f"waived until {expires}" if applied.active else f"waiver expired {expires}",
        applied.waiver.justification,
        note,
    )


@dataclass(slots=True)
class Item:
    """A finding with everything the page says of it."""

    finding: Finding
    control: Control | None
    layer: Layer
    marks: Marks
    problem: bool  # fail, error or warn: a card with its evidence, one line of its own
    line_id: str = ""  # its line under "All findings" (problems) or its group's
    card_id: str = ""  # its card under "Problems"; "" when listed under its root cause's card
    cause_card: str = ""  # the card it is listed under, when it is not evaluated because of it
    where: Where | None = None  # problems only
    evidence: list[EvidenceRow] = field(default_factory=list)  # problems only
    not_evaluated: list[Item] = field(default_factory=list)  # controls it kept from running

    @property
    def title(self) -> str:
        return self.control.title if self.control else ""

    @property
    def link(self) -> str:
        """Where a mention of this finding leads: its card, else its line."""
        return "#" + (self.card_id or self.line_id)

    @property
    def own_references(self) -> tuple[str, ...]:
        """References to show on the card: none when they are the control's (shown once)."""
        refs = self.finding.references
        return () if self.control is not None and refs == self.control.references else refs


def views(result: AuditResult, targets: Targets, ids: Ids) -> list[Item]:
    """Every finding's view, in report order; problems get their cards' ids and evidence."""
    found = []
    for finding in result.findings:
        problem = finding.status in PROBLEM_STATUSES
        item = Item(finding, CONTROLS.get(finding.control_id), layer_of(finding),
                    _marks(result, finding), problem)  # fmt: skip
        if problem:
            key = f"{finding.target}-{finding.control_id}"
            item.line_id, item.card_id = ids.take("f", key), ids.take("p", key)
            item.where, item.evidence = _where(targets, finding), _evidence(finding)
        found.append(item)
    return found


def problem_cards(items: list[Item]) -> list[Item]:
    """Fails, errors and warns, the most severe first. A control that was not evaluated
    because of another finding on its target is listed under that finding, not on its own."""
    shown = [i for i in items if i.problem]
    causes = {(i.finding.target, i.finding.control_id): i for i in shown}
    listed = []
    for item in shown:
        cause = causes.get((item.finding.target, str(item.finding.evidence.get(ROOT_CAUSE))))
        if cause is not None and cause is not item:
            cause.not_evaluated.append(item)
            item.card_id, item.cause_card = "", cause.card_id
        else:
            listed.append(item)
    return sorted(listed, key=_problem_order)


def _problem_order(item: Item) -> tuple[int, int, int, str, str]:
    finding = item.finding
    return (
        SEVERITY_RANK[finding.severity],
        PROBLEM_STATUSES.index(finding.status),
        _LAYER_ORDER[item.layer],
        finding.target,
        finding.control_id,
    )


# "All findings": one block per control ---------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """A problem (``target``, and ``link`` to its card), or the passes or skips of a control
    that say the same: of one target (``target``), or of many (``count`` and ``names``)."""

    id: str
    status: str
    summary: str
    marks: Marks
    target: str = ""
    link: str = ""
    count: str = ""  # "250 hosts"
    names: str = ""  # the targets, comma-separated
    short: bool = True  # few enough names to print inline (else they fold)
    remediation: str = ""  # a skip's advice (a problem's is on its card)
    references: tuple[str, ...] = ()  # when they are not the control's


@dataclass(frozen=True)
class Block:
    id: str
    layer: Layer
    control_id: str
    control: Control | None
    lines: list[Line]


def control_blocks(items: list[Item], ids: Ids) -> list[Block]:
    """One block per control, in layer and catalogue order; in each, the problems one line
    each, then the passes and skips grouped by what they say, the largest group first."""
    by_control: dict[str, list[Item]] = {}
    for item in items:
        by_control.setdefault(item.finding.control_id, []).append(item)
    known = [cid for cid in CONTROLS if cid in by_control]
    order = known + sorted(set(by_control) - set(CONTROLS))
    found = []
    for cid in order:
        mine = by_control[cid]
        shown = sorted((i for i in mine if i.problem), key=_line_order)
        lines = [_problem_line(i) for i in shown]
        lines += _groups(cid, [i for i in mine if not i.problem], ids)
        found.append(Block(ids.take("c", cid), mine[0].layer, cid, mine[0].control, lines))
    return sorted(found, key=lambda b: _LAYER_ORDER[b.layer])  # stable: catalogue order kept


def _line_order(item: Item) -> tuple[int, str]:
    return PROBLEM_STATUSES.index(item.finding.status), item.finding.target


def _problem_line(item: Item) -> Line:
    finding = item.finding
    link = "#" + (item.card_id or item.cause_card)
    return Line(
        item.line_id, finding.status.value, finding.summary, item.marks, finding.target, link
    )


def _groups(cid: str, items: list[Item], ids: Ids) -> list[Line]:
    """The passes and skips of one control, one line per (status, summary, remediation,
    references, marks): a fleet's passes mostly say the same thing."""
    groups: dict[tuple[str, str, str, tuple[str, ...], Marks], list[Item]] = {}
    for item in items:
        f = item.finding
        key = (f.status.value, f.summary, f.remediation, item.own_references, item.marks)
        groups.setdefault(key, []).append(item)
    ranked = sorted(groups.items(), key=lambda g: (_LINE_RANK[Status(g[0][0])], -len(g[1]),
                                                   g[0][1]))  # fmt: skip
    lines = []
    for (status, summary, remediation, references, marks), members in ranked:
        line_id = ids.take("g", cid)
        for item in members:
            item.line_id = line_id
        if len(members) == 1:  # named first, as a problem is
            lines.append(Line(line_id, status, summary, marks, members[0].finding.target,
                              remediation=remediation, references=references))  # fmt: skip
            continue
        lines.append(Line(line_id, status, summary, marks,
                          count=count_of(len(members), members[0].layer),
                          names=", ".join(i.finding.target for i in members),
                          short=len(members) <= MAX_LISTED, remediation=remediation,
                          references=references))  # fmt: skip
    return lines
