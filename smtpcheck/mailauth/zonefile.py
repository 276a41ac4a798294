"""Pre-flight from a zone file (``--zone-file FILE``): check records before they are published.

:class:`ZoneFileClient` answers names inside the zone's origin from the parsed BIND zone file
(as DNS providers export it) and asks a real :class:`DnsClient` for everything else: the
providers' includes, report destinations, delegated subzones. Answers follow DNS semantics:
NXDOMAIN, NODATA for a name that exists only as the parent of others, wildcards (RFC 4592),
CNAMEs followed by the client like any other.

What is read is capped: the file at :data:`MAX_ZONE_BYTES`, and the records its ``$GENERATE``
lines expand to at :data:`MAX_GENERATED_RECORDS` (``$GENERATE 1-2000000`` would otherwise take
minutes and hundreds of MB), both refused with a one-line ConfigError before parsing.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import dns.exception
import dns.grange
import dns.name
import dns.node
import dns.rdataclass
import dns.rdatatype
import dns.tokenizer
import dns.zone

from smtpcheck.errors import ConfigError
from smtpcheck.mailauth.client import (
    DnsAnswer,
    DnsClient,
    Outcome,
    Question,
    Step,
    normalize_name,
    rdata_values,
)
from smtpcheck.providers import read_input_file

_ORIGIN = re.compile(r"^\$ORIGIN\s", re.IGNORECASE | re.MULTILINE)
_SOA_OWNER = re.compile(r"^(\S+\.)\s+(?:\S+\s+){0,3}SOA\s", re.IGNORECASE | re.MULTILINE)
# A directive starts a line (dnspython reads one only there, and a CR ends a line as LF does);
# the keyword ends at any of dnspython's delimiters. The range is the next token.
_GENERATE = re.compile(r"(?:^|(?<=\r))\$GENERATE(?![^\s;()\"])", re.IGNORECASE | re.MULTILINE)

MAX_ZONE_BYTES = 2 << 20  # a sending domain's zone export is kilobytes; 2 MiB parses in seconds
MAX_GENERATED_RECORDS = 10_000  # every $GENERATE line of the file together


class ZoneFileClient(DnsClient):
    """Answers from a zone file inside its origin; ``fallback`` answers outside it."""

    def __init__(self, zone: dns.zone.Zone, fallback: DnsClient, *, source: str = "") -> None:
        super().__init__()
        self.zone = zone
        self.origin = zone.origin or dns.name.root
        self.fallback = fallback
        self.source = source or normalize_name(self.origin.to_text())

    @property
    def queries_sent(self) -> int:
        return self.fallback.queries_sent

    def _resolve_many(self, questions: Sequence[Question]) -> list[Step]:
        """Questions outside the zone go to the fallback as one batch, the rest from the file."""
        self.fallback.prefetch(q for q in questions if self._is_outside(q[0]))
        return super()._resolve_many(questions)

    def _is_outside(self, name: str) -> bool:
        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException:
            return False  # _resolve reports it
        return not qname.is_subdomain(self.origin) or self._delegated(qname)

    def _resolve(self, name: str, rdtype: str) -> Step:
        try:
            qname = dns.name.from_text(name)
            qtype = dns.rdatatype.from_text(rdtype)
        except (dns.exception.DNSException, ValueError) as exc:
            detail = f"not a valid question: {exc}"
            return DnsAnswer(name, rdtype, Outcome.FAILURE, detail=detail), None
        if self._is_outside(name):
            return self.fallback.query(name, rdtype), None
        node = self.zone.get_node(qname) or self._wildcard(qname)
        if node is None:
            outcome = Outcome.NODATA if self._has_descendants(qname) else Outcome.NXDOMAIN
            return DnsAnswer(name, rdtype, outcome, detail=f"zone file {self.source}"), None
        rdataset = node.get_rdataset(dns.rdataclass.IN, qtype)
        if rdataset is not None:
            records, strings = rdata_values(rdataset)
            return DnsAnswer(name, rdtype, Outcome.ANSWER, records, strings), None
        cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
        if cname is not None:
            target = normalize_name(next(iter(cname)).to_text())
            return DnsAnswer(name, rdtype, Outcome.NODATA, cnames=(target,)), target
        return DnsAnswer(name, rdtype, Outcome.NODATA, detail=f"zone file {self.source}"), None

    def _delegated(self, qname: dns.name.Name) -> bool:
        """A name at or under a zone cut (NS below the origin) belongs to another zone."""
        current = qname
        while current != self.origin and current.is_subdomain(self.origin):
            node = self.zone.get_node(current)
            if node is not None and node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS):
                return True
            current = current.parent()
        return False

    def _has_descendants(self, qname: dns.name.Name) -> bool:
        return any(name != qname and name.is_subdomain(qname) for name in self.zone.nodes)

    def _wildcard(self, qname: dns.name.Name) -> dns.node.Node | None:
        """The wildcard at the closest encloser of ``qname``, if any (RFC 4592 §3.3.1)."""
        if qname == dns.name.root:  # no encloser above it (a zone file for the root)
            return None
        current = qname.parent()
        while current.is_subdomain(self.origin):
            wildcard = self.zone.get_node(dns.name.Name((b"*", *current.labels)))
            if wildcard is not None:
                return wildcard
            if self.zone.get_node(current) is not None or self._has_descendants(current):
                return None
            if current == self.origin:
                return None
            current = current.parent()
        return None


def _guess_origin(text: str) -> str | None:
    """Exports without $ORIGIN (e.g. Cloudflare's) name the zone in the SOA's owner."""
    if _ORIGIN.search(text):
        return None
    match = _SOA_OWNER.search(text)
    return match.group(1) if match else None


def generated_records(text: str) -> int:
    """How many records the ``$GENERATE`` lines of ``text`` expand to (BIND's inclusive
    ``start-stop[/step]``). A range dnspython cannot read counts 0: it reports the error."""
    total = 0
    source = io.StringIO(text)
    for match in _GENERATE.finditer(text):
        source.seek(match.end())
        try:  # dnspython's own tokenizer: "1-2000000", ( 1-2000000 ) are ranges too
            token = dns.tokenizer.Tokenizer(source).get()
            start, stop, step = dns.grange.from_text(token.value)
        except (dns.exception.DNSException, ValueError, AssertionError):
            continue
        if step >= 1 and stop >= start:
            total += (stop - start) // step + 1
    return total


def load_zone_file(
    path: Path | str, *, fallback: DnsClient, origin: str | None = None
) -> ZoneFileClient:
    """Parse a BIND zone file; a missing or malformed file is a ConfigError with one line."""
    path = Path(path)
    text = read_input_file(path, "zone file", limit=MAX_ZONE_BYTES)
    generated = generated_records(text)
    if generated > MAX_GENERATED_RECORDS:
        raise ConfigError(
            f"zone file {path}: its $GENERATE lines expand to {generated} records, more than "
            f"the {MAX_GENERATED_RECORDS} smtpcheck reads; export the zone without them"
        )
    origin = origin or _guess_origin(text)
    try:
        zone = dns.zone.from_text(
            text,
            origin=dns.name.from_text(origin) if origin else None,
            relativize=False,
            filename=str(path),
            check_origin=False,
        )
    except dns.zone.UnknownOrigin:
        raise ConfigError(
            f"zone file {path}: no $ORIGIN and no SOA to name the zone; give the domain"
        ) from None
    except (dns.exception.DNSException, ValueError) as exc:  # ValueError: "www SOA …"
        text = str(exc)  # a syntax error already starts with "<path>:<line>:"
        where = "" if text.startswith(str(path)) else f"{path}: "
        if "string too long" in text:  # SPF-02's 255-octet rule, caught at load time
            text += " (a TXT string holds at most 255 octets, RFC 7208 §3.3: split it in quotes)"
        raise ConfigError(f"zone file {where}{text}") from None
    return ZoneFileClient(zone, fallback, source=str(path))
