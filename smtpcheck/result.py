"""The result of a run: ordered findings, their counts and the exit status, computed once."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from types import MappingProxyType

from smtpcheck import __version__
from smtpcheck import waivers as _waivers
from smtpcheck.catalogue import CONTROLS, Layer
from smtpcheck.findings import ExitStatus, Finding, Status, Summary, exit_status
from smtpcheck.history import Change, Diff, Key, TrendPoint
from smtpcheck.scope import Scope
from smtpcheck.waivers import AppliedWaiver, Waiver, apply_waivers

_LAYER_ORDER = {layer: index for index, layer in enumerate(Layer)}


@dataclass(frozen=True)
class AuditResult:
    """Everything a reporter needs; counts and exit status are computed once, here."""

    findings: tuple[Finding, ...]
    summary: Summary
    exit_status: ExitStatus
    started_at: datetime
    finished_at: datetime
    tool_version: str = __version__
    complete: bool = True  # False: the session ended before every check ran
    fail_on: str | None = None  # the gate the exit status was decided with (findings.gates)
    scope: Scope | None = None  # what the run covered (None: not known, e.g. a bare test)
    waivers: tuple[Waiver, ...] = ()  # every waiver given, used or not
    waived: Mapping[Key, AppliedWaiver] = field(default_factory=dict)  # by (control, target)
    diff: Diff | None = None  # against the baseline, when there is one
    fail_on_new: bool = False  # only findings new since the baseline gate (errors always do)
    trend: tuple[TrendPoint, ...] = ()  # earlier runs from the history, oldest first
    today: date | None = None  # the day waivers were judged on
    durations: Mapping[Key, float] = field(default_factory=dict)  # seconds per finding

    @classmethod
    def of(
        cls,
        findings: Iterable[Finding],
        started_at: datetime,
        finished_at: datetime | None = None,
        tool_version: str = __version__,
        *,
        complete: bool = True,
        fail_on: str | None = None,
        scope: Scope | None = None,
        waivers: Sequence[Waiver] = (),
        diff: Diff | None = None,
        fail_on_new: bool = False,
        trend: Sequence[TrendPoint] = (),
        today: date | None = None,
        durations: Mapping[Key, float] | None = None,
    ) -> AuditResult:
        """The result; a run that did not complete is never exit status 0, whatever its
        findings (the report and the process say the same). A finding under an active waiver
        does not gate; with ``fail_on_new``, neither does a fail that is not new since the
        baseline (an error always gates: a control that could not be evaluated proved
        nothing)."""
        ordered = tuple(sorted(findings, key=_finding_order))
        summary = Summary.of(ordered)
        today = today or _waivers.today_utc()  # module attribute: tests freeze the clock
        waived = apply_waivers(ordered, waivers, today)
        changes = diff.changes if diff is not None else {}

        def counted(finding: Finding) -> bool:
            key = finding.key
            if key in waived and waived[key].active:
                return False
            if fail_on_new and diff is not None and finding.status is not Status.ERROR:
                return changes.get(key) is Change.NEW
            return True

        status = exit_status([f for f in ordered if counted(f)], fail_on)
        if not complete:
            status = max(status, ExitStatus.FINDINGS)
        return cls(
            ordered,
            summary,
            status,
            started_at,
            finished_at or datetime.now(UTC),
            tool_version,
            complete,
            fail_on,
            scope,
            tuple(waivers),
            MappingProxyType(waived),
            diff,
            fail_on_new,
            tuple(trend),
            today,
            MappingProxyType(dict(durations or {})),
        )

    def waiver_of(self, finding: Finding) -> AppliedWaiver | None:
        return self.waived.get(finding.key)

    def seconds_of(self, finding: Finding) -> float:
        """What evaluating ``finding`` took (pytest's setup and call), 0 when not measured."""
        return self.durations.get(finding.key, 0.0)

    def change_of(self, finding: Finding) -> Change | None:
        """new / fixed / changed / unchanged against the baseline; None without one."""
        if self.diff is None:
            return None
        return self.diff.changes.get(finding.key)

    @property
    def verdict(self) -> str:
        """The one-word verdict, never "Compliant" for a run that did not look at everything
        it was asked to, or whose scope is unknown."""
        if self.exit_status is not ExitStatus.OK:
            return "Not compliant" if self.complete else "Incomplete"
        if self.scope is None:
            return "Compliant (scope not recorded)"
        if not self.scope.whole:
            return "Compliant within a narrowed scope"
        return "Compliant"

    @property
    def gate(self) -> str:
        """What decides the exit status, in words (every report says it the same way)."""
        if self.fail_on is None:
            gate = "every fail and error"
        elif self.fail_on == "warn":
            gate = "every fail, warn and error"
        else:
            gate = f"--fail-on {self.fail_on}: fails of that severity or above, and every error"
        if self.fail_on_new and self.diff is not None:
            gate += ", if new since the baseline (an error always gates)"
        if any(applied.active for applied in self.waived.values()):
            gate += "; a finding under an active waiver does not gate"
        if not self.complete:
            gate += "; a run that ended before every check ran always gates"
        return gate

    def targets(self, layer: Layer) -> list[str]:
        """The targets of ``layer`` in report order."""
        seen: dict[str, None] = {}
        for finding in self.findings:
            if layer_of(finding) is layer:
                seen.setdefault(finding.target)
        return list(seen)


def layer_of(finding: Finding) -> Layer:
    control = CONTROLS.get(finding.control_id)
    return control.layer if control else Layer.HOST


def _finding_order(finding: Finding) -> tuple[int, str, str]:
    return _LAYER_ORDER[layer_of(finding)], finding.target, finding.control_id
