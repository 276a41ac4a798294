"""Authentication-Results (RFC 8601) of what arrived: the receiver's SPF, DKIM and DMARC verdicts.

Pure parsing. RFC 8601 §5: a reader trusts only the header its own border added, identified by
the authserv-id; when the mailbox settings name none, the topmost header (the one added last,
nearest the mailbox) is used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

METHODS = ("spf", "dkim", "dmarc")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class AuthResult:
    """One ``method=result`` of an Authentication-Results header (RFC 8601 §2.2)."""

    method: str  # e.g. "dkim", lower case, version suffix removed
    result: str  # e.g. "pass", "fail", "softfail", lower case
    reason: str | None = None
    properties: tuple[tuple[str, str], ...] = ()  # e.g. ("header.d", "example.com")

    def prop(self, name: str) -> str | None:
        return dict(self.properties).get(name)


@dataclass(frozen=True)
class AuthResultsHeader:
    authserv_id: str
    results: tuple[AuthResult, ...]


def _strip_comments(text: str) -> str:
    """Remove (nested) CFWS comments outside quoted strings (RFC 5322 §3.2.2)."""
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for ch in text:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(ch)
            continue
        if ch == "\\":
            escaped = True
            if depth == 0:
                out.append(ch)
        elif ch == '"' and depth == 0:
            quoted = not quoted
            out.append(ch)
        elif ch == "(" and not quoted:
            depth += 1
        elif ch == ")" and not quoted and depth:
            depth -= 1
            out.append(" ")
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _split(text: str, separator: str) -> list[str]:
    """Split on ``separator`` outside double quotes."""
    parts: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in text:
        if ch == '"':
            quoted = not quoted
        if ch == separator and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1].replace('\\"', '"')
    return value


def _result(clause: str) -> AuthResult | None:
    tokens = _split(_SPACE.sub(" ", clause).strip(), " ")
    if not tokens or "=" not in tokens[0]:
        return None
    method, result = tokens[0].split("=", 1)
    reason: str | None = None
    properties: list[tuple[str, str]] = []
    rest = " ".join(tokens[1:])
    for token in re.findall(r'[\w.-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^\s;]+)', rest):
        key, value = token.split("=", 1)
        key, value = key.strip().lower(), _unquote(value)
        if key == "reason":
            reason = value
        elif "." in key:
            properties.append((key, value))
    return AuthResult(
        method.split("/", 1)[0].strip().lower(),
        result.strip().lower(),
        reason,
        tuple(properties),
    )


def parse_authentication_results(value: str) -> AuthResultsHeader | None:
    """One header's value; None when it is not an Authentication-Results value."""
    clauses = _split(_strip_comments(value.replace("\r", " ").replace("\n", " ")), ";")
    head = clauses[0].split()
    if not head:
        return None
    results = tuple(r for r in (_result(c) for c in clauses[1:]) if r is not None)
    return AuthResultsHeader(head[0].lower(), results)


def trusted_results(
    header_values: Sequence[str], authserv_id: str | None = None
) -> AuthResultsHeader | None:
    """The header to believe: the topmost one, or the topmost from ``authserv_id``."""
    for value in header_values:  # in message order: topmost first
        parsed = parse_authentication_results(value)
        if parsed is None:
            continue
        if authserv_id is None or parsed.authserv_id == authserv_id.lower():
            return parsed
    return None


def verdicts(header: AuthResultsHeader | None) -> dict[str, str]:
    """``{"spf": "pass", "dkim": "pass", "dmarc": "none"}``: the best result per method.

    With several results for one method (e.g. two DKIM signatures), a pass wins.
    """
    found: dict[str, str] = {}
    for result in header.results if header else ():
        if result.method in METHODS and found.get(result.method) != "pass":
            found[result.method] = result.result
    return found
