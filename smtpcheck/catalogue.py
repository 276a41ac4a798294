"""The control catalogue: stable ids, what each control checks, and how findings are made.

Only implemented controls are listed (``smtpcheck controls`` prints this table). Ids are stable;
a new control gets a new id (SPEC §4).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass

from smtpcheck.findings import EvidenceValue, Finding, Severity, Status


class Layer(enum.StrEnum):
    """The layers of SPEC §1, in the order a run evaluates them."""

    HOST = "host"
    DNS = "dns"
    RELAY = "relay"


@dataclass(frozen=True)
class Control:
    """One control of the catalogue."""

    id: str
    layer: Layer
    title: str
    passes_when: str
    severity: Severity
    references: tuple[str, ...] = ()

    def finding(
        self,
        target: str,
        status: Status,
        summary: str,
        evidence: Mapping[str, EvidenceValue] | None = None,
        remediation: str = "",
        *,
        severity: Severity | None = None,
        references: tuple[str, ...] = (),
    ) -> Finding:
        """A finding of this control; severity and references default to the control's."""
        return Finding(
            control_id=self.id,
            target=target,
            status=status,
            severity=severity or self.severity,
            summary=summary,
            evidence=dict(evidence or {}),
            remediation=remediation,
            references=references or self.references,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "layer": self.layer.value,
            "title": self.title,
            "passes_when": self.passes_when,
            "severity": self.severity.value,
            "references": list(self.references),
        }


_DOC = "ADT doco/AgileToolkitDeployment/DeployingSMTPService.md"

CONTROLS: Mapping[str, Control] = {
    control.id: control
    for control in (
        # Host credential file (SPEC §4, target: host)
        Control(
            "CRED-01",
            Layer.HOST,
            "Credential file present",
            "the app's credential file exists at its documented path and is a regular file "
            "(a symlink is followed and its target shown)",
            Severity.HIGH,
            (_DOC,),
        ),
        Control(
            "CRED-02",
            Layer.HOST,
            "Credential file protected",
            "nothing for other, no group write, owner root or the web-server user",
            Severity.CRITICAL,
            ("ADT providerscripts/application/email/*/ActivateSMTP.sh (chmod 400)", _DOC),
        ),
        Control(
            "CRED-03",
            Layer.HOST,
            "Credential file well-formed",
            "the five labelled lines, or for Joomla the SMTP properties as PHP literals that "
            "PHP would accept",
            Severity.HIGH,
            (_DOC,),
        ),
        Control(
            "CRED-04",
            Layer.HOST,
            "Credentials match build-time settings",
            "from address, user name, password (compared without disclosure) and provider "
            "match the SYSTEM_EMAIL_* settings",
            Severity.HIGH,
            (_DOC,),
        ),
        Control(
            "CRED-05",
            Layer.HOST,
            "Transport secure and consistent with the provider",
            "known provider, a port the provider serves, TLS on (Joomla: smtp mailer, auth on, "
            "smtpsecure matching the port, the provider's host, the port Joomla reads)",
            Severity.HIGH,
            ("RFC 8314 §3", _DOC),
        ),
    )
}


def get_control(control_id: str) -> Control:
    """The catalogue entry for ``control_id``; a KeyError here is a bug, not an input error."""
    return CONTROLS[control_id]
