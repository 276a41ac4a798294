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
_TOOLKIT = "ADT providerscripts/email/SendEmail.sh (gen D services/email/SendEmail.sh)"

CONTROLS: Mapping[str, Control] = {
    control.id: control
    for control in (
        # Host credential file (SPEC §4, target: host)
        Control(
            "CRED-01",
            Layer.HOST,
            "Credential file present",
            "the app's credential file exists at its documented path and is a regular file "
            "(a symlink is followed and its target shown); Joomla's is the webroot's "
            "configuration.php (/var/www/html, or gen D's /var/www/html/joomla); on "
            "WordPress/Moodle/Drupal hosts identified as gen C/D, which never write the file, "
            "CRED-01…05 are skip",
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
            "match the SYSTEM_EMAIL_* settings; the password not given is warn, no settings "
            "at all is error",
            Severity.HIGH,
            (_DOC,),
        ),
        Control(
            "CRED-05",
            Layer.HOST,
            "Transport secure and consistent with the provider",
            "never pass when the application cannot load the file; known provider, a port the "
            "provider serves, TLS on (Joomla: smtp mailer, auth on, smtpsecure matching the "
            "port, the provider's host, the port Joomla reads)",
            Severity.HIGH,
            ("RFC 8314 §3", _DOC),
        ),
        # Toolkit settings and system mail (SPEC §4 v1.1, target: host)
        Control(
            "CRED-06",
            Layer.HOST,
            "Toolkit settings files protected",
            "webserver_configuration_settings.dat (~/.ssh and ~/runtime) and Joomla's "
            "application.dat: nothing for other, group access only for group root; skip "
            "where none exists",
            Severity.HIGH,
            (_TOOLKIT,),
        ),
        Control(
            "CRED-07",
            Layer.HOST,
            "Toolkit settings match build-time settings",
            "SYSTEMFROMEMAILADDRESS, EMAILUSERNAME, EMAILPASSWORD (compared without "
            "disclosure) and EMAILPROVIDER match the build-time settings and agree with the "
            "application's credential file (and ssmtp.conf's AuthUser/AuthPass)",
            Severity.HIGH,
            (_TOOLKIT,),
        ),
        Control(
            "SYS-01",
            Layer.HOST,
            "System mail uses TLS before AUTH",
            "SendEmail.sh's sendemail runs without -o tls=no, or ssmtp with "
            "UseTLS/UseSTARTTLS, on a port the provider serves with TLS",
            Severity.CRITICAL,
            ("RFC 8314 §3", _TOOLKIT),
        ),
        Control(
            "SYS-02",
            Layer.HOST,
            "System mail keeps the password off command lines",
            "no sendemail -xp PASSWORD (visible to every local user in ps), and "
            "/etc/ssmtp/ssmtp.conf protected (root:mail 0640 passes)",
            Severity.HIGH,
            (_TOOLKIT,),
        ),
        # DNS of the from-domain (SPEC §4, target: domain)
        Control(
            "SPF-01",
            Layer.DNS,
            "One SPF record",
            "exactly one SPF record (TXT starting v=spf1) is published",
            Severity.HIGH,
            ("RFC 7208 §4.5", "RFC 7208 §3.1"),
        ),
        Control(
            "SPF-02",
            Layer.DNS,
            "SPF record valid and evaluable",
            "valid syntax, at most 10 DNS-querying terms through the whole include/redirect "
            "tree, at most 2 void lookups, no loops, TXT strings of at most 255 octets",
            Severity.HIGH,
            ("RFC 7208 §4.6", "RFC 7208 §4.6.4", "RFC 7208 §3.3"),
        ),
        Control(
            "SPF-03",
            Layer.DNS,
            "SPF authorises the provider",
            "the provider's include is reachable in the SPF tree of the name SPF is evaluated "
            "for (the MAIL FROM domain)",
            Severity.HIGH,
            ("RFC 7208 §5.2", "RFC 7208 §2.4"),
        ),
        Control(
            "SPF-04",
            Layer.DNS,
            "SPF restrictive",
            "the record ends in -all or ~all (+all fails, ?all or no all warns) and uses no ptr",
            Severity.MEDIUM,
            ("RFC 7208 §5.1", "RFC 7208 §5.5"),
        ),
        Control(
            "DKIM-01",
            Layer.DNS,
            "Provider DKIM selectors published",
            "the provider's DKIM selector(s) are published for the domain (TXT, or a CNAME "
            "chain where the provider uses CNAMEs)",
            Severity.HIGH,
            ("RFC 6376 §3.6.2",),
        ),
        Control(
            "DKIM-02",
            Layer.DNS,
            "DKIM keys sound",
            "each key parses, is not revoked, is RSA of at least 1024 bits (warn under 2048) or "
            "Ed25519, is not in testing mode, and does not restrict h= to sha1",
            Severity.HIGH,
            ("RFC 6376 §3.6.1", "RFC 8301 §3", "RFC 8463 §4"),
        ),
        Control(
            "DMARC-01",
            Layer.DNS,
            "One DMARC record",
            "exactly one DMARC record at _dmarc.<domain>, or at the organisational domain",
            Severity.HIGH,
            ("RFC 7489 §6.6.3", "RFC 7489 §6.1"),
        ),
        Control(
            "DMARC-02",
            Layer.DNS,
            "DMARC tags valid",
            "the record's tags and values are valid (warn on tags RFC 9989 drops)",
            Severity.MEDIUM,
            ("RFC 7489 §6.3", "RFC 7489 §6.4"),
        ),
        Control(
            "DMARC-03",
            Layer.DNS,
            "DMARC policy enforced",
            "the applicable policy is quarantine or reject (p=none warns, no record fails)",
            Severity.MEDIUM,
            ("RFC 7489 §6.3", "RFC 7489 §6.6.3"),
        ),
        Control(
            "DMARC-04",
            Layer.DNS,
            "Provider can pass DMARC aligned",
            "the provider can produce an aligned pass: DKIM d= the domain through its published "
            "selectors, or SPF through a custom MAIL FROM under the domain",
            Severity.HIGH,
            ("RFC 7489 §3.1",),
        ),
        Control(
            "DMARC-05",
            Layer.DNS,
            "External report destinations authorised",
            "every rua/ruf destination outside the organisational domain publishes "
            "<domain>._report._dmarc.<destination>",
            Severity.LOW,
            ("RFC 7489 §7.1",),
        ),
        Control(
            "MX-01",
            Layer.DNS,
            "From-domain accepts mail",
            "the from-domain has MX hosts with addresses, or no MX and an A/AAAA (implicit MX), "
            "so replies and bounces reach someone",
            Severity.MEDIUM,
            ("RFC 5321 §5.1", "RFC 7505 §3"),
        ),
        # Relay and delivery (SPEC §4, target: relay endpoint with one credential set)
        Control(
            "SMTP-01",
            Layer.RELAY,
            "Relay endpoint reachable",
            "the provider endpoint resolves, accepts a connection on the configured port, and "
            "greets with 220",
            Severity.HIGH,
            ("RFC 5321 §3.1", "RFC 5321 §4.2", "RFC 6409 §3"),
        ),
        Control(
            "SMTP-02",
            Layer.RELAY,
            "TLS in force before AUTH",
            "TLS is in force before AUTH (implicit or STARTTLS), the certificate is valid for "
            "the host name, TLS ≥ 1.2",
            Severity.CRITICAL,
            ("RFC 8314 §3", "RFC 3207 §4", "RFC 4954 §4", "RFC 6125 §6"),
        ),
        Control(
            "SMTP-03",
            Layer.RELAY,
            "Deployed credentials authenticate",
            "AUTH succeeds with the credentials deployed on the host (never attempted in clear "
            "text)",
            Severity.HIGH,
            ("RFC 4954 §4", "RFC 4954 §6"),
        ),
        Control(
            "SMTP-04",
            Layer.RELAY,
            "Test message accepted",
            "the test message (from the configured address to SYSTEM_TOEMAIL_ADDRESS, with a "
            "unique token) is accepted with 250",
            Severity.HIGH,
            ("RFC 5321 §3.3", "RFC 5321 §4.2.5", "RFC 6409 §4"),
        ),
        Control(
            "SMTP-05",
            Layer.RELAY,
            "Test message delivered and authenticated",
            "(opt-in mailbox) the message arrives within the timeout; its DKIM signature "
            "verifies; SPF/DKIM/DMARC pass on what arrived",
            Severity.MEDIUM,
            ("RFC 6376 §6", "RFC 8601 §2", "RFC 7489 §3.1", "RFC 7489 §4.2"),
        ),
    )
}


def get_control(control_id: str) -> Control:
    """The catalogue entry for ``control_id``; a KeyError here is a bug, not an input error."""
    return CONTROLS[control_id]
