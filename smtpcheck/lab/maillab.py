"""The lab's sending side: DNS and a provider, on loopback only.

NSD serves the DNS scenarios (``dnszones``) and one sending domain whose SPF, DKIM, DMARC and MX
are right for Mailjet; a real mail stack (``mailstack``: postfix, dovecot, opendkim) poses as
Mailjet's relay ``in-v3.mailjet.com`` and signs for that domain, so that a message sent with the
deployed credentials can be received over IMAP and its DKIM signature verified against NSD.
:meth:`MailLab.config_toml` writes the ``[providers]``/``[mailbox]``/``[audit]`` settings an
operator's config file would hold to point smtpcheck at it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Self

from smtpcheck.lab.dnszones import DkimKeys, build_zones
from smtpcheck.lab.mailstack import MailStack, RelayAccount
from smtpcheck.lab.nsd import NsdServer, txt_rdata, zone_text
from smtpcheck.lab.proc import LabService
from smtpcheck.secrets import Secret


def sending_zone(domain: str, dkim_line: str) -> str:
    """A sending domain set up correctly for Mailjet (RFC 7208, 6376, 7489, 5321)."""
    records = [
        f"@ TXT {txt_rdata('v=spf1 include:spf.mailjet.com -all')}",
        f"_dmarc TXT {txt_rdata(f'v=DMARC1; p=reject; rua=mailto:dmarc@{domain}')}",
        "@ MX 10 mx",
        "mx A 192.0.2.25",
        dkim_line,
    ]
    return zone_text(domain, "\n".join(records))


def toml_value(value: object) -> str:
    """A TOML value for the lab's config: strings, numbers, booleans, lists, inline tables."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):
        pairs = (f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{ " + ", ".join(pairs) + " }"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def toml_table(name: str, table: Mapping[str, object]) -> str:
    return "\n".join([f"[{name}]", *(f"{k} = {toml_value(v)}" for k, v in table.items()), ""])


class MailLab(LabService):
    """NSD + a mail stack posing as Mailjet, signing for ``sending_domain``."""

    def __init__(
        self,
        workdir: Path,
        *,
        sending_domain: str,
        accounts: Sequence[RelayAccount],
        recipient: str,
        mailbox_password: Secret,
    ) -> None:
        self.workdir = workdir
        self.sending_domain = sending_domain
        self.stack = MailStack(
            accounts=accounts,
            mailbox_address=recipient,
            mailbox_password=mailbox_password,
            signing_domain=sending_domain,
        )
        self.keys = DkimKeys.generate()
        zones = dict(build_zones(self.keys))
        zones[sending_domain] = sending_zone(sending_domain, self.stack.dkim_zone_line())
        self.nsd = NsdServer(workdir / "nsd", zones)

    @property
    def nameserver(self) -> str:
        return self.nsd.nameserver

    def start(self) -> Self:
        self.nsd.start()
        try:
            self.stack.start(nameserver=(self.nsd.address, self.nsd.port))
        except BaseException:
            self.nsd.stop()
            raise
        return self

    def stop(self) -> None:
        self.stack.stop()
        self.nsd.stop()

    def config_toml(
        self, *, mailbox_password_env: str, domains: Sequence[str] = (), **audit: object
    ) -> str:
        """The config file that points smtpcheck at this lab (as an operator's would)."""
        audit_table: dict[str, object] = {"nameservers": [self.nameserver], **audit}
        if domains:
            audit_table["domains"] = list(domains)
        mailbox = {**self.stack.mailbox_table(mailbox_password_env), "timeout": 30}
        return "\n".join([
            toml_table("audit", audit_table),
            toml_table("providers.mailjet", self.stack.provider_table()),
            toml_table("mailbox", mailbox),
        ])  # fmt: skip
