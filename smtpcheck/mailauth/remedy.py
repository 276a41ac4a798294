"""Remediation text that can be pasted: the value to enter in a DNS provider's form, and the
same record as a BIND zone-file line (TXT split into strings of at most 255 octets, RFC 7208 §3.3).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from smtpcheck.lab.nsd import txt_rdata

TTL = 3600


@dataclass(frozen=True)
class RecordToPublish:
    name: str
    rdtype: str
    value: str  # what a DNS provider's form takes (TXT unquoted, CNAME target without dot)
    note: str = ""

    def zone_line(self) -> str:
        if self.rdtype == "TXT":
            rdata = txt_rdata(self.value)
        elif self.rdtype in ("CNAME", "MX"):
            rdata = self.value.rstrip(".") + "."
        else:
            rdata = self.value
        return f"{self.name.rstrip('.')}. {TTL} IN {self.rdtype} {rdata}"


def describe_records(intro: str, records: Sequence[RecordToPublish]) -> str:
    """``intro``, then each record as name/type/value and as a zone-file line."""
    lines = [intro]
    for record in records:
        lines.append(f"  {record.name} {record.rdtype}: {record.value}")
        if record.note:
            lines.append(f"    ({record.note})")
    lines.append("Zone-file lines:")
    lines.extend(f"  {record.zone_line()}" for record in records)
    return "\n".join(lines)
