"""The one result type: a finding, and the run summary and exit status derived from findings.

Counts and the exit status are computed here once; reporters and the CLI only read them
(STYLE: goss's outputs each re-derived counts and decided the exit code).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any


class Status(enum.StrEnum):
    """Outcome of one control on one target (SPEC §3)."""

    PASS = "pass"  # noqa: S105 (a status, not a password)
    FAIL = "fail"
    WARN = "warn"
    SKIP = "skip"  # not applicable
    ERROR = "error"  # could not be evaluated


class Severity(enum.StrEnum):
    """How much a failing control matters."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


EvidenceValue = str | int | bool | None | tuple["EvidenceValue", ...]


def _freeze(value: Any) -> EvidenceValue:
    if isinstance(value, list | tuple):
        return tuple(_freeze(item) for item in value)
    if value is None or isinstance(value, str | int | bool):
        return value
    return str(value)


@dataclass(frozen=True)
class Finding:
    """One control evaluated on one target. Evidence never holds a secret (SPEC §5)."""

    control_id: str
    target: str
    status: Status
    severity: Severity
    summary: str
    evidence: Mapping[str, EvidenceValue] = field(default_factory=dict)
    remediation: str = ""
    references: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        frozen = {str(key): _freeze(value) for key, value in self.evidence.items()}
        object.__setattr__(self, "evidence", MappingProxyType(frozen))
        object.__setattr__(self, "references", tuple(self.references))

    def scrubbed(self, scrub: Callable[[Any], Any]) -> Finding:
        """This finding with its texts (summary, remediation, evidence values) passed through
        ``scrub``; its structure (id, target, status, severity, evidence names) never is: a
        password equal to "pass" or "high" must not rewrite a report into nonsense."""
        return replace(
            self,
            summary=scrub(self.summary),
            remediation=scrub(self.remediation),
            evidence={key: scrub(_thaw(value)) for key, value in self.evidence.items()},
        )

    @property
    def key(self) -> tuple[str, str]:
        """(control id, target): what names this finding across runs, shards and waivers."""
        return self.control_id, self.target

    @property
    def is_problem(self) -> bool:
        """True when the finding makes the run fail (SPEC §2 exit status)."""
        return self.status in (Status.FAIL, Status.ERROR)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of SPEC §3."""
        return {
            "control_id": self.control_id,
            "target": self.target,
            "status": self.status.value,
            "severity": self.severity.value,
            "summary": self.summary,
            "evidence": {key: _thaw(value) for key, value in self.evidence.items()},
            "remediation": self.remediation,
            "references": list(self.references),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Inverse of :meth:`to_dict` (findings travel through pytest reports this way)."""
        return cls(
            control_id=data["control_id"],
            target=data["target"],
            status=Status(data["status"]),
            severity=Severity(data["severity"]),
            summary=data["summary"],
            evidence=data.get("evidence", {}),
            remediation=data.get("remediation", ""),
            references=tuple(data.get("references", ())),
        )


def _thaw(value: EvidenceValue) -> Any:
    if isinstance(value, tuple):
        return [_thaw(item) for item in value]
    return value


ROOT_CAUSE = "root_cause"  # evidence key: the control whose finding says why this one could not run


@dataclass(frozen=True)
class Summary:
    """Counts per status for a run. ``counts`` has every finding by its status (as JUnit
    needs); the summary shown to people counts an error once, at its root cause, and the
    controls it kept from running as ``not_evaluated`` (one unreachable host is one error)."""

    counts: Mapping[Status, int]
    not_evaluated: int = 0

    @classmethod
    def of(cls, findings: Iterable[Finding]) -> Summary:
        counts = dict.fromkeys(Status, 0)
        not_evaluated = 0
        for finding in findings:
            counts[finding.status] += 1
            if finding.status is Status.ERROR and ROOT_CAUSE in finding.evidence:
                not_evaluated += 1
        return cls(MappingProxyType(counts), not_evaluated)

    def to_dict(self) -> dict[str, int]:
        shown = {status.value: self.counts[status] for status in Status}
        shown[Status.ERROR.value] -= self.not_evaluated
        return {**shown, "not_evaluated": self.not_evaluated}

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class ExitStatus(enum.IntEnum):
    """Exit status of ``smtpcheck audit`` (SPEC §2)."""

    OK = 0
    FINDINGS = 1
    USAGE = 2


INTERRUPTED = 130  # Ctrl-C before anything was evaluated: what a shell reports (128 + SIGINT)


FAIL_ON = ("critical", "high", "medium", "low", "warn")  # --fail-on's choices
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(Severity)}  # critical first
# worst first: what could not be evaluated, then what failed, warned, passed, did not apply
STATUS_RANK = {status: rank for rank, status in enumerate(
    (Status.ERROR, Status.FAIL, Status.WARN, Status.PASS, Status.SKIP))}  # fmt: skip


def gates(finding: Finding, fail_on: str | None = None) -> bool:
    """Whether ``finding`` makes the run exit 1. By default every fail and error does.
    ``fail_on`` a severity: a fail gates only at that severity or above; ``warn``: warns gate
    too. An error always gates: a control that could not be evaluated proved nothing, and a
    run that could not look is never green."""
    if finding.status is Status.ERROR:
        return True
    if finding.status is Status.WARN:
        return fail_on == "warn"
    if finding.status is not Status.FAIL:
        return False
    if fail_on is None or fail_on == "warn":
        return True
    return SEVERITY_RANK[finding.severity] <= SEVERITY_RANK[Severity(fail_on)]


def exit_status(findings: Iterable[Finding], fail_on: str | None = None) -> ExitStatus:
    """1 when a finding gates (see :func:`gates`), else 0. Decided here and nowhere else."""
    if any(gates(finding, fail_on) for finding in findings):
        return ExitStatus.FINDINGS
    return ExitStatus.OK
