"""How the DNS controls turn what they found into a status: shared by SPF, DKIM and DMARC."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from smtpcheck.catalogue import Control, get_control
from smtpcheck.findings import EvidenceValue, Finding, Status
from smtpcheck.mailauth.records import Issue
from smtpcheck.providers import Confidence


def failing(confidence: Confidence) -> Status:
    """``fail``, or ``warn`` when the conclusion rests on an unconfirmed (U) provider fact."""
    return Status.WARN if confidence is Confidence.UNCONFIRMED else Status.FAIL


def skip_without_provider(control_id: str, domain: str) -> Finding:
    return get_control(control_id).finding(
        domain,
        Status.SKIP,
        f"no relay provider is known for {domain}: nothing provider-specific to check",
        {"provider": None},
    )


def finding_from_issues(
    control: Control,
    target: str,
    issues: Sequence[Issue],
    evidence: Mapping[str, EvidenceValue],
    *,
    passed: str,
    failures: Sequence[str] = (),
    summary_prefix: str = "",
    advice: Mapping[str, str] | None = None,
) -> Finding:
    """A fatal issue fails; else a DNS failure errors; else any issue warns; else ``passed``.

    A fatal issue is definite even when part of the data could not be fetched; ``advice`` maps
    issue codes to remediation text.
    """
    fatal = [issue for issue in issues if issue.fatal]
    if fatal:
        references = tuple(dict.fromkeys(issue.reference for issue in fatal))
        texts = dict.fromkeys((advice or {}).get(issue.code, "") for issue in fatal)
        remediation = "\n".join(text for text in texts if text)
        summary = summary_prefix + fatal[0].message
        return control.finding(
            target, Status.FAIL, summary, evidence, remediation, references=references
        )
    if failures:
        return control.finding(target, Status.ERROR, failures[0], evidence)
    if issues:
        references = tuple(dict.fromkeys(issue.reference for issue in issues))
        texts = dict.fromkeys((advice or {}).get(issue.code, "") for issue in issues)
        return control.finding(
            target,
            Status.WARN,
            issues[0].message,
            evidence,
            "\n".join(t for t in texts if t),
            references=references,
        )
    return control.finding(target, Status.PASS, passed, evidence)
