"""report.html, for a compliance officer: one self-contained file (inline CSS, a few lines of
inline script, no external asset), readable whole with scripting off.

The page reads top down: the verdict with the scope it holds for, the problems (most severe
first, each with where, what is wrong and the remediation), the changes since the baseline, the
matrices, the per-control trend, the targets, the waivers, then every finding with its evidence.

Everything from outside (file values, DNS records, SMTP replies, host names) is escaped by
jinja2's autoescape and its control characters shown as ``\\xNN``; nothing external is marked
safe. This module builds plain values (strings, numbers, coordinates); all markup is in the
template. A Content-Security-Policy allows only the page's own style and script (by hash), so
even a lapse in escaping could neither run a script nor load anything.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import jinja2
import markupsafe

from smtpcheck import waivers as _waivers
from smtpcheck.catalogue import CONTROLS, Control, Layer
from smtpcheck.findings import ROOT_CAUSE, EvidenceValue, ExitStatus, Finding, Severity, Status
from smtpcheck.history import Change, worst_statuses
from smtpcheck.reports.junit_report import xml_safe
from smtpcheck.result import AuditResult, layer_of
from smtpcheck.scope import DomainScope, HostScope, RelayScope, Scope

# DEL and the C1 controls too: invisible, and some terminals act on them.
_C1 = re.compile("[\x7f-\x9f]")


def _safe_text(text: str) -> str:
    return _C1.sub(lambda m: f"\\x{ord(m.group()):02x}", xml_safe(text))


def _visible(value: object) -> object:
    """Control characters shown as ``\\xNN``: autoescape leaves them, and a raw ESC from a
    banner or file value would reach any terminal that displays the file (NUL is not HTML)."""
    if isinstance(value, markupsafe.Markup):  # already escaped (by join): keep it marked safe
        return markupsafe.Markup(_safe_text(str(value)))  # noqa: S704 (adds only \xNN text)
    return _safe_text(value) if isinstance(value, str) else value


def _csp_hash(text: str) -> str:
    """The base64 SHA-256 by which a CSP allows an inline element of exactly ``text``."""
    return base64.b64encode(hashlib.sha256(str(text).encode("utf-8")).digest()).decode("ascii")


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("smtpcheck.reports", "templates"),
    autoescape=True,
    finalize=_visible,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["csp_hash"] = _csp_hash

_LAYER_TITLES = {
    Layer.HOST: "Web servers: credential files",
    Layer.DNS: "Sending domains: SPF, DKIM, DMARC, MX",
    Layer.RELAY: "Relay: live test message",
}
_LAYER_ORDER = {layer: rank for rank, layer in enumerate(Layer)}
_SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}  # critical first
_PROBLEM_STATUSES = (Status.ERROR, Status.FAIL, Status.WARN)  # in the order they are listed
_STATUS_RANK = {status: rank for rank, status in enumerate(_PROBLEM_STATUSES)}
_CHANGE_RANK = {change.value: rank for rank, change in enumerate((Change.NEW, Change.FIXED))}
# A trend strip: one bar per run, taller the worse; "none": the control was not evaluated.
_TREND_HEIGHT = {"error": 22, "fail": 17, "warn": 12, "pass": 6, "skip": 3, "none": 2}
_TREND_STEP, _TREND_BAR, _TREND_TOP = 16, 12, 24  # px


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
class _Targets:
    """The scope's targets by name (a fleet's page looks each one up many times)."""

    hosts: Mapping[str, HostScope]
    domains: Mapping[str, DomainScope]
    relays: Mapping[str, RelayScope]
    known: bool  # False: the run's scope is not known

    @classmethod
    def of(cls, scope: Scope | None) -> _Targets:
        if scope is None:
            return cls({}, {}, {}, known=False)
        return cls(
            {h.name: h for h in scope.hosts},
            {d.name: d for d in scope.domains},
            {r.name: r for r in scope.relays},
            known=True,
        )


def _where(targets: _Targets, finding: Finding) -> Where:
    layer, target = layer_of(finding), finding.target
    if layer is Layer.DNS:
        domain = targets.domains.get(target)
        provider = (f"provider {domain.provider}",) if domain and domain.provider else ()
        return Where("domain", target, provider)
    if layer is Layer.RELAY:
        relay = targets.relays.get(target)
        if relay is None:
            return Where("relay", target)
        details = (f"endpoint {relay.endpoint or 'none derived'}",)
        return Where("relay", target, details + _for_hosts(relay.hosts))
    host = targets.hosts.get(target)
    if host is None:
        return Where("host", target)
    return Where("host", target, (host.app, f"generation {host.generation}"))


def _for_hosts(hosts: tuple[str, ...]) -> tuple[str, ...]:
    return (f"for {', '.join(hosts)}",) if hosts else ()


# The view of one finding ------------------------------------------------------------------------


@dataclass(frozen=True)
class Marks:
    """What the diff and the waivers say of a finding."""

    change: str | None = None  # new, fixed, changed (unchanged is not marked)
    waiver: str | None = None  # "active" or "expired"
    waiver_label: str = ""  # "waived until 2027-03-31" / "waiver expired 2026-12-31"
    justification: str = ""
    credential: str | None = None  # "password unchanged since the baseline run of …"


def _marks(result: AuditResult, finding: Finding) -> Marks:
    change = result.change_of(finding)
    applied = result.waiver_of(finding)
    note = None
    if result.diff is not None:
        note = result.diff.credentials.get((finding.control_id, finding.target))
    shown = change.value if change is not None and change is not Change.UNCHANGED else None
    if applied is None:
        return Marks(shown, credential=note)
    expires = applied.waiver.expires.isoformat()
    return Marks(
        shown,
        "active" if applied.active else "expired",
        f"waived until {expires}" if applied.active else f"waiver expired {expires}",
        applied.waiver.justification,
        note,
    )


def _anchor(finding: Finding) -> str:
    safe = "".join(ch if ch.isalnum() else "-" for ch in f"{finding.target}-{finding.control_id}")
    return f"f-{safe}"


@dataclass(frozen=True)
class Item:
    """A finding with everything the page says of it."""

    finding: Finding
    control: Control | None
    anchor: str
    where: Where
    marks: Marks
    evidence: list[EvidenceRow]
    not_evaluated: list[Item] = field(default_factory=list)  # controls it kept from running

    @property
    def title(self) -> str:
        return self.control.title if self.control else ""


def _items(result: AuditResult, targets: _Targets) -> list[Item]:
    return [
        Item(
            finding,
            CONTROLS.get(finding.control_id),
            _anchor(finding),
            _where(targets, finding),
            _marks(result, finding),
            _evidence(finding),
        )
        for finding in result.findings
    ]


def _problems(items: list[Item]) -> list[Item]:
    """Fails, errors and warns, the most severe first. A control that was not evaluated
    because of another finding on its target is listed under that finding, not on its own."""
    problems = [i for i in items if i.finding.status in _PROBLEM_STATUSES]
    causes = {(i.finding.target, i.finding.control_id): i for i in problems}
    listed = []
    for item in problems:
        cause = causes.get((item.finding.target, str(item.finding.evidence.get(ROOT_CAUSE))))
        if cause is not None and cause is not item:
            cause.not_evaluated.append(item)
        else:
            listed.append(item)
    return sorted(listed, key=_problem_order)


def _problem_order(item: Item) -> tuple[int, int, int, str, str]:
    finding = item.finding
    return (
        _SEVERITY_RANK[finding.severity],
        _STATUS_RANK[finding.status],
        _LAYER_ORDER[layer_of(finding)],
        finding.target,
        finding.control_id,
    )


# The verdict ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    word: str  # result.verdict
    tone: str  # ok, partial, bad
    detail: str  # "2 failed, 1 could not be evaluated"
    gate: str  # what made the exit status


def _verdict(result: AuditResult) -> Verdict:
    counts = result.summary.to_dict()
    waived = sum(1 for applied in result.waived.values() if applied.active)
    failed, errored = counts["fail"], counts["error"]
    if failed or errored:
        detail = f"{failed} failed, {errored} could not be evaluated"
    else:
        detail = "no control failed or errored"
    if result.exit_status is ExitStatus.OK and (failed or errored):
        detail += "; none of them gates the run"
    if waived:
        detail += f"; {waived} waived"
    if not result.complete:
        detail = "the run ended before every check ran; " + detail
    if result.exit_status is not ExitStatus.OK:
        tone = "bad"
    else:
        tone = "ok" if result.scope is not None and result.scope.whole else "partial"
    if result.fail_on is None:
        gate = "every fail and error"
    elif result.fail_on == "warn":
        gate = "every fail, warn and error"
    else:
        gate = f"--fail-on {result.fail_on}: fails of that severity or above, and every error"
    if result.fail_on_new and result.diff is not None:
        gate += ", if new since the baseline (an error always gates)"
    if waived:
        gate += "; a finding under an active waiver does not gate"
    return Verdict(result.verdict, tone, detail, gate)


# The matrices -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    target: str
    extra: list[str]  # the layer's extra columns: app, generation / provider / endpoint, hosts
    cells: list[Item | None]  # one per control of the matrix


@dataclass(frozen=True)
class Matrix:
    """One layer's target × control table."""

    layer: Layer
    title: str
    extra: list[str]  # names of the extra columns
    controls: list[Control | str]  # catalogue controls, then ids the catalogue does not know
    rows: list[Row]


def _extra(targets: _Targets, layer: Layer, target: str) -> tuple[list[str], list[str]]:
    """The extra column names and this target's values (none without a scope)."""
    if not targets.known:
        return [], []
    if layer is Layer.HOST:
        host = targets.hosts.get(target)
        return ["app", "generation"], [host.app, host.generation] if host else ["—", "—"]
    if layer is Layer.DNS:
        domain = targets.domains.get(target)
        return ["provider"], [(domain.provider if domain else None) or "—"]
    relay = targets.relays.get(target)
    if relay is None:
        return ["endpoint", "hosts"], ["—", "—"]
    return ["endpoint", "hosts"], [relay.endpoint or "none derived", ", ".join(relay.hosts) or "—"]


def _matrices(targets: _Targets, items: list[Item]) -> list[Matrix]:
    matrices = []
    for layer in Layer:
        mine = [i for i in items if layer_of(i.finding) is layer]
        if not mine:
            continue
        present = {i.finding.control_id for i in mine}
        known = [control for cid, control in CONTROLS.items() if cid in present]
        unknown = sorted(present - set(CONTROLS))
        ids = [c.id for c in known] + unknown
        by_target: dict[str, dict[str, Item]] = {}
        for item in mine:
            by_target.setdefault(item.finding.target, {})[item.finding.control_id] = item
        rows: list[Row] = []
        names: list[str] = []
        for target, cells in by_target.items():
            names, values = _extra(targets, layer, target)
            rows.append(Row(target, values, [cells.get(cid) for cid in ids]))
        controls: list[Control | str] = [*known, *unknown]
        matrices.append(Matrix(layer, _LAYER_TITLES[layer], names, controls, rows))
    return matrices


# The trend --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: int
    y: int
    height: int
    status: str  # a status, or "none": not evaluated in that run
    label: str  # "2026-02-01 02:00: fail"


@dataclass(frozen=True)
class TrendRow:
    control_id: str
    title: str
    bars: list[Bar]
    words: str  # the strip in words, for screen readers and for a page read without colour
    now: str  # this run's worst status; "" when not evaluated in this run


@dataclass(frozen=True)
class Trend:
    runs: int
    since: str
    rows: list[TrendRow]
    bar: int = _TREND_BAR
    height: int = _TREND_TOP

    @property
    def width(self) -> int:
        return self.runs * _TREND_STEP


def _when(started_at: str) -> str:
    return f"{started_at[:10]} {started_at[11:16]}".strip()


def _trend(result: AuditResult) -> Trend | None:
    """Each control's worst status over the history's runs and this one (the last bar)."""
    if not result.trend:
        return None
    now = worst_statuses((f.control_id, f.status.value) for f in result.findings)
    runs: list[tuple[str, Mapping[str, str]]] = [
        *((_when(p.started_at), p.statuses) for p in result.trend),
        (f"{_when(result.started_at.isoformat())} (this run)", now),
    ]
    seen = {cid for _, statuses in runs for cid in statuses}
    ids = [cid for cid in CONTROLS if cid in seen] + sorted(seen - set(CONTROLS))
    rows = []
    for cid in ids:
        bars = []
        for index, (when, statuses) in enumerate(runs):
            status = statuses.get(cid, "none")
            status = status if status in _TREND_HEIGHT else "none"  # a history file's oddity
            height = _TREND_HEIGHT[status]
            word = status if status != "none" else "not run"
            x = index * _TREND_STEP + 2
            bars.append(Bar(x, _TREND_TOP - 1 - height, height, status, f"{when}: {word}"))
        words = ", ".join(b.label.rsplit(": ", 1)[1] for b in bars)
        control = CONTROLS.get(cid)
        title = control.title if control else ""
        rows.append(TrendRow(cid, title, bars, words, now.get(cid, "")))
    return Trend(len(runs), runs[0][0], rows)


# The page ---------------------------------------------------------------------------------------


def _changes(items: list[Item]) -> list[Item]:
    """The findings marked new, fixed or changed: new and fixed first."""
    marked = [i for i in items if i.marks.change is not None]
    return sorted(marked, key=lambda i: _CHANGE_RANK.get(str(i.marks.change), len(_CHANGE_RANK)))


def render_html(result: AuditResult) -> str:
    targets = _Targets.of(result.scope)
    items = _items(result, targets)
    today = result.today or _waivers.today_utc()
    used = {applied.waiver for applied in result.waived.values()}
    template = _ENV.get_template("report.html.j2")
    return template.render(
        result=result,
        scope=result.scope,
        verdict=_verdict(result),
        counts=result.summary.to_dict(),
        status_counts={status.value: result.summary.counts[status] for status in Status},
        items=items,
        problems=_problems(items),
        changes=_changes(items),
        matrices=_matrices(targets, items),
        trend=_trend(result),
        waivers=[(w, w.expired(today), w in used) for w in result.waivers],
        duration=f"{(result.finished_at - result.started_at).total_seconds():.1f}",
        layer_titles=_LAYER_TITLES,
        layer_of=layer_of,
    )
