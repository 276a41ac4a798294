"""The result of a run: ordered findings, their counts and the exit status, computed once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from smtpcheck import __version__
from smtpcheck.catalogue import CONTROLS, Layer
from smtpcheck.findings import ExitStatus, Finding, Summary, exit_status

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
    ) -> AuditResult:
        """The result; a run that did not complete is never exit status 0, whatever its
        findings (the report and the process say the same)."""
        ordered = tuple(sorted(findings, key=_finding_order))
        summary = Summary.of(ordered)
        status = exit_status(ordered, fail_on)
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
        )

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
