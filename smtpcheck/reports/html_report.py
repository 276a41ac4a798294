"""report.html, for a compliance officer: one self-contained file (inline CSS, a few lines of
inline script, no external asset), readable whole with scripting off.

The page reads top down: the verdict with the scope it holds for, the problems (most severe
first, each with where, what is wrong, the remediation and its evidence), the changes since the
baseline, the matrices, the per-control trend, the targets, the waivers, then every finding by
control: problems one line each, passes and skips one line per thing they say. It is sized for
a fleet (issue 10: under 2 MiB and 0.5 s at 1,000 hosts): passes and skips carry no evidence
(report.json has it all, and the page says so), a control's title and description are printed
once, not per finding, and the rows are built in Python (``html_rows``) so that the template
only loops.

Everything from outside (file values, DNS records, SMTP replies, host names) is escaped by
jinja2's autoescape and its control characters shown as ``\\xNN``; nothing external is marked
safe. The Python side builds plain values (strings, numbers, coordinates); all markup is in the
template. A Content-Security-Policy allows only the page's own style and script (by hash), so
even a lapse in escaping could neither run a script nor load anything.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import jinja2
import markupsafe

from smtpcheck import waivers as _waivers
from smtpcheck.catalogue import CONTROLS, Control, Layer
from smtpcheck.findings import ExitStatus, Status
from smtpcheck.history import Change, worst_statuses
from smtpcheck.reports.html_rows import (
    Ids,
    Item,
    Targets,
    control_blocks,
    count_of,
    names,
    problem_cards,
    views,
)
from smtpcheck.result import AuditResult
from smtpcheck.scope import MAX_LISTED
from smtpcheck.text import document_safe


def _visible(value: object) -> object:
    """Unsafe characters (smtpcheck.text: controls, bidi overrides, surrogates) shown as
    ``\\xNN``: autoescape leaves them, and a raw ESC from a banner or file value would reach any
    terminal that displays the file (NUL is not HTML). Called for every value the page prints
    (tens of thousands for a fleet): a plain string without one returns at once."""
    if isinstance(value, markupsafe.Markup):  # already escaped (by join): keep it marked safe
        return markupsafe.Markup(document_safe(str(value)))  # noqa: S704 (adds only \xNN)
    if isinstance(value, str):
        return document_safe(value)
    return value


def _csp_hash(text: str) -> str:
    """The base64 SHA-256 by which a CSP allows an inline element of exactly ``text``."""
    return base64.b64encode(hashlib.sha256(str(text).encode("utf-8")).digest()).decode("ascii")


class _KeptCompiled(jinja2.FileSystemBytecodeCache):
    """The page template compiled once and kept between runs (compiling it takes 0.08 s of
    every run: a seventh of a one-domain DNS audit). jinja2's own per-user directory under the
    temp dir, which it refuses unless this user alone owns it; a key changes with the template's
    path and a stale entry with its source. A cache that cannot be read or written is no cache:
    the template is compiled as it would be without one."""

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        try:
            super().load_bytecode(bucket)
        except Exception:  # noqa: BLE001 - unreadable, cut short, not ours: compile instead
            bucket.reset()

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _kept_compiled() -> jinja2.BytecodeCache | None:
    try:
        return _KeptCompiled()
    except (OSError, RuntimeError):  # no temp dir this user alone owns
        return None


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("smtpcheck.reports", "templates"),
    bytecode_cache=_kept_compiled(),
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
# A trend strip: one bar per run, taller the worse; "none": the control was not evaluated.
_TREND_HEIGHT = {"error": 22, "fail": 17, "warn": 12, "pass": 6, "skip": 3, "none": 2}
_TREND_STEP, _TREND_BAR, _TREND_TOP = 16, 12, 24  # px
_CHANGE_RANK = {Change.NEW.value: 0, Change.FIXED.value: 1}  # then changed


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
    # errors counted at their root cause; without one (its control not selected), the controls
    # it kept from running: "no control failed or errored" must never sit beside exit 1
    failed, errored = counts["fail"], counts["error"] or counts["not_evaluated"]
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
    return Verdict(result.verdict, tone, detail, result.gate)


# The matrices -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Cell:
    status: str
    link: str = ""  # a problem's card (or line); a pass or skip links nowhere
    severity: str = ""  # a problem's
    mark: str = ""  # "new", "fixed waived", …


@dataclass(frozen=True)
class Row:
    target: str
    extra: list[str]  # the layer's extra columns: app, generation / provider / endpoint, hosts
    cells: list[Cell | None]  # one per control of the matrix


@dataclass(frozen=True)
class Matrix:
    """One layer's target × control table."""

    layer: Layer
    extra: list[str]  # names of the extra columns
    controls: list[Control | str]  # catalogue controls, then ids the catalogue does not know
    rows: list[Row]


def _extra(targets: Targets, layer: Layer, target: str) -> tuple[list[str], list[str]]:
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
    return ["endpoint", "hosts"], [relay.endpoint or "none derived", names(relay.hosts) or "—"]


def _cell(item: Item) -> Cell:
    if item.problem:
        return Cell(item.finding.status.value, item.link, item.finding.severity.value,
                    item.marks.cell)  # fmt: skip
    return Cell(item.finding.status.value, mark=item.marks.cell)


def _matrices(targets: Targets, items: list[Item]) -> list[Matrix]:
    found = []
    for layer in Layer:
        mine = [i for i in items if i.layer is layer]
        if not mine:
            continue
        present = {i.finding.control_id for i in mine}
        known = [control for cid, control in CONTROLS.items() if cid in present]
        unknown = sorted(present - set(CONTROLS))
        ids = [c.id for c in known] + unknown
        by_target: dict[str, dict[str, Cell]] = {}
        for item in mine:
            by_target.setdefault(item.finding.target, {})[item.finding.control_id] = _cell(item)
        rows: list[Row] = []
        columns: list[str] = []
        for target, cells in by_target.items():
            columns, values = _extra(targets, layer, target)
            rows.append(Row(target, values, [cells.get(cid) for cid in ids]))
        found.append(Matrix(layer, columns, [*known, *unknown], rows))
    return found


# The changes since the baseline -----------------------------------------------------------------


@dataclass(frozen=True)
class ChangeRow:
    change: str
    status: str
    link: str
    control_id: str
    target: str  # the target, or how many ("998 hosts") for a group of changed passes
    summary: str


@dataclass(frozen=True)
class NoteGroup:
    """The targets of one control whose password the diff says the same of."""

    control_id: str
    note: str  # "password unchanged since the baseline run of …"
    count: str  # "998 hosts", or the one target's name
    names: str  # the targets, comma-separated; "" for one
    short: bool


def _changes(items: list[Item]) -> list[ChangeRow]:
    """New and fixed findings one row each, then changed ones: a problem one row each, passes
    and skips one row per line of "All findings" (a tool upgrade can change every one)."""
    rows: list[ChangeRow] = []
    grouped: dict[str, list[Item]] = {}
    for item in items:
        change, f = item.marks.change, item.finding
        if change is None:
            continue
        if change == Change.CHANGED.value and not item.problem:
            grouped.setdefault(item.line_id, []).append(item)
            continue
        rows.append(ChangeRow(change, f.status.value, item.link, f.control_id, f.target,
                              f.summary))  # fmt: skip
    for line_id, members in grouped.items():
        f = members[0].finding
        many = count_of(len(members), members[0].layer) if len(members) > 1 else f.target
        rows.append(ChangeRow(Change.CHANGED.value, f.status.value, "#" + line_id,
                              f.control_id, many, f.summary))  # fmt: skip
    return sorted(rows, key=lambda r: _CHANGE_RANK.get(r.change, len(_CHANGE_RANK)))


def _credential_notes(result: AuditResult) -> list[NoteGroup]:
    """The diff's password notes, one per control and note ("password changed since …"
    sorts before "password unchanged since …")."""
    if result.diff is None:
        return []
    grouped: dict[tuple[str, str], list[str]] = {}
    for (control_id, target), note in result.diff.credentials.items():
        grouped.setdefault((control_id, note), []).append(target)
    layers = {cid: CONTROLS[cid].layer if cid in CONTROLS else Layer.HOST for cid, _ in grouped}
    ranked = sorted(grouped.items())
    return [
        NoteGroup(cid, note, found[0], "", short=True) if len(found) == 1 else
        NoteGroup(cid, note, count_of(len(found), layers[cid]), ", ".join(found),
                  len(found) <= MAX_LISTED)
        for (cid, note), found in ranked
    ]  # fmt: skip


def _gone(result: AuditResult) -> list[tuple[str, str]]:
    """The baseline's findings not evaluated in this run, by target: (target, "SYS-01, …")."""
    if result.diff is None:
        return []
    by_target: dict[str, list[str]] = {}
    for control_id, target in result.diff.gone:
        by_target.setdefault(target, []).append(control_id)
    return [(target, ", ".join(controls)) for target, controls in by_target.items()]


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


def render_html(result: AuditResult) -> str:
    targets = Targets.of(result.scope)
    ids = Ids()
    items = views(result, targets, ids)
    problems = problem_cards(items)  # before the blocks: it decides which have a card
    blocks = control_blocks(items, ids)
    today = result.today or _waivers.today_utc()
    used = {applied.waiver for applied in result.waived.values()}
    template = _ENV.get_template("report.html.j2")
    return template.render(
        result=result,
        scope=result.scope,
        verdict=_verdict(result),
        counts=result.summary.to_dict(),
        status_counts={status.value: result.summary.counts[status] for status in Status},
        total=len(items),
        problems=problems,
        changes=_changes(items),
        credential_notes=_credential_notes(result),
        gone=_gone(result),
        matrices=_matrices(targets, items),
        blocks=blocks,
        control_ids={block.control_id: block.id for block in blocks},
        trend=_trend(result),
        waivers=[(w, w.expired(today), w in used) for w in result.waivers],
        duration=f"{(result.finished_at - result.started_at).total_seconds():.1f}",
        layer_titles=_LAYER_TITLES,
    )
