"""SPF record text → record (RFC 7208), without any DNS: the parser of STYLE §1.

A problem in the record is an :class:`Issue` with a stable code, not an exception: the parser
collects every problem it sees so that one report names them all. ``fatal`` issues are what make
a receiver return ``permerror`` (RFC 7208 §4.6, "If there are any syntax errors anywhere in the
record, check_host() returns immediately with the result permerror").
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from smtpcheck.mailauth.records import Issue

MECHANISMS = frozenset({"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"})
DNS_TERMS = frozenset({"include", "a", "mx", "ptr", "exists", "redirect"})  # RFC 7208 §4.6.4
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}  # RFC 7208 §4.6.2
MAX_DNS_LOOKUPS = 10  # RFC 7208 §4.6.4
MAX_VOID_LOOKUPS = 2  # RFC 7208 §4.6.4
MAX_MX_NAMES = 10  # RFC 7208 §4.6.4
MAX_STRING_OCTETS = 255  # RFC 1035 §3.3, RFC 7208 §3.3
ADVISED_RECORD_OCTETS = 450  # RFC 7208 §3.4: keep the answer inside 512 octets

_TERM = re.compile(r"^([-+~?]?)([a-z][a-z0-9_.-]*)(?:([:=/])(.*))?$", re.IGNORECASE | re.DOTALL)
_MACRO = re.compile(r"%(?:\{([a-zA-Z])([0-9]*)(r?)([-.+,/_=]*)\}|[%_-])")
_MACRO_LETTERS = frozenset("slodiphv")  # RFC 7208 §7.2
_EXP_ONLY_LETTERS = frozenset("crt")  # RFC 7208 §7.2: only in explanation strings
_TOPLABEL = re.compile(r"^(?:[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+-[a-z0-9-]*[a-z0-9])$")
_CIDR4 = r"(?:0|[1-9][0-9]?)"
_CIDR6 = r"(?:0|[1-9][0-9]{0,2})"
_DUAL_CIDR = re.compile(rf"^(?:/({_CIDR4}))?(?://({_CIDR6}))?$")


@dataclass(frozen=True)
class SpfTerm:
    """One term: a mechanism with its qualifier, or a modifier (``qualifier`` empty)."""

    raw: str
    name: str  # lower case: "include", "ip4", "redirect", or an unknown modifier's name
    qualifier: str = ""  # "+", "-", "~" or "?" for mechanisms ("+" when not written)
    domain: str = ""  # the domain-spec, as written ("" when the term takes the current domain)
    network: str = ""  # ip4/ip6 network text
    cidr4: int | None = None
    cidr6: int | None = None

    @property
    def is_modifier(self) -> bool:
        return not self.qualifier

    @property
    def queries_dns(self) -> bool:
        """Counts towards the limit of 10 (RFC 7208 §4.6.4)."""
        return self.name in DNS_TERMS

    @property
    def has_macro(self) -> bool:
        return "%" in self.domain


@dataclass(frozen=True)
class SpfRecord:
    """A parsed SPF record: its terms in order and every issue found in it."""

    text: str
    terms: tuple[SpfTerm, ...]
    issues: tuple[Issue, ...]

    @property
    def is_valid(self) -> bool:
        return not any(issue.fatal for issue in self.issues)

    @property
    def mechanisms(self) -> tuple[SpfTerm, ...]:
        return tuple(term for term in self.terms if not term.is_modifier)

    @property
    def all_term(self) -> SpfTerm | None:
        """The first ``all``: evaluation never goes past it (RFC 7208 §4.6.2, §5.1)."""
        return next((t for t in self.mechanisms if t.name == "all"), None)

    @property
    def evaluated_mechanisms(self) -> tuple[SpfTerm, ...]:
        """The mechanisms a receiver can reach: those up to and including the first ``all``."""
        reached: list[SpfTerm] = []
        for term in self.mechanisms:
            reached.append(term)
            if term.name == "all":
                break
        return tuple(reached)

    def modifier(self, name: str) -> SpfTerm | None:
        return next((t for t in self.terms if t.is_modifier and t.name == name), None)

    @property
    def redirect(self) -> SpfTerm | None:
        """The redirect that applies: ignored when any ``all`` is present (RFC 7208 §6.1)."""
        return None if self.all_term is not None else self.modifier("redirect")


def is_spf_text(text: str) -> bool:
    """``v=spf1`` then a space or the end (RFC 7208 §4.5; the version is case-insensitive)."""
    head = text[:7].lower()
    return head == "v=spf1" or head == "v=spf1 "


def select_spf_records(texts: Iterable[str]) -> tuple[str, ...]:
    """The TXT texts that are SPF records (RFC 7208 §4.5). More than one is a permerror."""
    return tuple(text for text in texts if is_spf_text(text))


def parse_spf_record(text: str) -> SpfRecord:
    """Parse one SPF record (the joined TXT strings); never raises for bad input."""
    issues: list[Issue] = []
    tokens = text.split()
    if not tokens or tokens[0].lower() != "v=spf1":
        issue = Issue("version", "the record does not start with v=spf1", "RFC 7208 §4.5")
        return SpfRecord(text, (), (issue,))
    if len(text.encode()) > ADVISED_RECORD_OCTETS:
        issues.append(
            Issue(
                "size",
                f"the record is {len(text.encode())} octets; answers over 512 octets may be "
                "dropped by receivers",
                "RFC 7208 §3.4",
                fatal=False,
            )
        )
    terms: list[SpfTerm] = []
    for token in tokens[1:]:
        term, problems = _parse_term(token)
        issues.extend(problems)
        if term is not None:
            terms.append(term)
    issues.extend(_record_issues(terms))
    return SpfRecord(text, tuple(terms), tuple(issues))


def _syntax(token: str, why: str, reference: str = "RFC 7208 §12") -> Issue:
    return Issue("syntax", f"{token!r}: {why}", reference)


def _parse_term(token: str) -> tuple[SpfTerm | None, list[Issue]]:
    match = _TERM.match(token)
    if match is None:
        return None, [_syntax(token, "not a mechanism or modifier")]
    qualifier, name, sep, value = match.groups()
    name = name.lower()
    if sep == "=":
        return _parse_modifier(token, qualifier, name, value or "")
    if name not in MECHANISMS:
        return None, [_syntax(token, f"unknown mechanism {name!r}", "RFC 7208 §4.6.1")]
    qualifier = qualifier or "+"
    if name == "all":
        if sep:
            return None, [_syntax(token, "all takes no argument")]
        return SpfTerm(token, name, qualifier), []
    if name in ("ip4", "ip6"):
        return _parse_network(token, qualifier, name, sep, value or "")
    return _parse_domain_mechanism(token, qualifier, name, sep, value or "")


def _parse_modifier(
    token: str, qualifier: str, name: str, value: str
) -> tuple[SpfTerm | None, list[Issue]]:
    if qualifier:
        return None, [_syntax(token, "a modifier takes no qualifier")]
    term = SpfTerm(token, name, domain=value)
    if name in ("redirect", "exp"):
        problems = check_domain_spec(value, token)
        return (term if not problems else None), problems
    problems = check_macro_string(value, token, allow_exp_letters=False)
    if problems:
        return None, problems
    ignored = Issue(
        "unknown-modifier", f"{token!r}: unknown modifier, ignored", "RFC 7208 §6", fatal=False
    )
    return term, [ignored]


def _parse_network(
    token: str, qualifier: str, name: str, sep: str | None, value: str
) -> tuple[SpfTerm | None, list[Issue]]:
    if sep != ":" or not value:
        return None, [_syntax(token, f"{name} needs ':' and a network")]
    address, _, length = value.partition("/")
    limit, pattern = (32, _CIDR4) if name == "ip4" else (128, _CIDR6)
    if length and (not re.fullmatch(pattern, length) or int(length) > limit):
        return None, [_syntax(token, f"prefix length must be 0-{limit} without leading zeros")]
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return None, [_syntax(token, f"{address!r} is not an IP address")]
    if parsed.version != (4 if name == "ip4" else 6):
        return None, [_syntax(token, f"{address!r} is not an IPv{name[-1]} address")]
    cidr = int(length) if length else None
    return SpfTerm(
        token,
        name,
        qualifier,
        network=value,
        cidr4=cidr if name == "ip4" else None,
        cidr6=cidr if name == "ip6" else None,
    ), []


def _parse_domain_mechanism(
    token: str, qualifier: str, name: str, sep: str | None, value: str
) -> tuple[SpfTerm | None, list[Issue]]:
    domain, cidr_text = value, ""
    if sep == "/":
        domain, cidr_text = "", "/" + value
    elif sep == ":" and name in ("a", "mx") and "/" in value:
        cut = value.index("/")
        domain, cidr_text = value[:cut], value[cut:]
    if name in ("include", "exists") and (sep != ":" or not domain):
        return None, [_syntax(token, f"{name} needs ':' and a domain")]
    if sep == ":" and not domain:
        return None, [_syntax(token, "':' must be followed by a domain")]
    if cidr_text and name not in ("a", "mx"):
        return None, [_syntax(token, f"{name} takes no prefix length")]
    cidr4 = cidr6 = None
    if cidr_text:
        match = _DUAL_CIDR.match(cidr_text)
        if match is None or not any(match.groups()):
            return None, [_syntax(token, "bad dual-cidr-length")]
        cidr4 = int(match.group(1)) if match.group(1) else None
        cidr6 = int(match.group(2)) if match.group(2) else None
        if (cidr4 or 0) > 32 or (cidr6 or 0) > 128:
            return None, [_syntax(token, "prefix length out of range")]
    problems = check_domain_spec(domain, token) if domain else []
    if problems:
        return None, problems
    return SpfTerm(token, name, qualifier, domain=domain, cidr4=cidr4, cidr6=cidr6), []


def check_macro_string(value: str, token: str, *, allow_exp_letters: bool) -> list[Issue]:
    """Problems in a macro-string (RFC 7208 §7.1): bad ``%`` escapes or letters."""
    position = 0
    while (percent := value.find("%", position)) >= 0:
        match = _MACRO.match(value, percent)
        if match is None:
            return [_syntax(token, "a '%' must start %{...}, %%, %_ or %-", "RFC 7208 §7.1")]
        letter = (match.group(1) or "").lower()
        if match.group(2) and int(match.group(2)) == 0:
            return [_syntax(token, "a macro's digit transformer must be nonzero", "RFC 7208 §7.3")]
        allowed = _MACRO_LETTERS | (_EXP_ONLY_LETTERS if allow_exp_letters else frozenset())
        if letter and letter not in allowed:
            return [_syntax(token, f"macro letter {letter!r} not allowed here", "RFC 7208 §7.2")]
        position = match.end()
    if any(not 0x21 <= ord(char) <= 0x7E for char in value):
        return [_syntax(token, "only visible ASCII is allowed", "RFC 7208 §7.1")]
    return []


def check_domain_spec(value: str, token: str) -> list[Issue]:
    """A domain-spec: a macro-string ending in ``.toplabel`` or a macro (RFC 7208 §7.1, §12)."""
    problems = check_macro_string(value, token, allow_exp_letters=False)
    if problems:
        return problems
    if re.search(r"%\{[a-zA-Z][0-9]*r?[-.+,/_=]*\}\.?$", value):
        return []
    labels = value.rstrip(".").split(".")
    if len(labels) < 2 or not _TOPLABEL.match(labels[-1].lower()) or "" in labels:
        return [_syntax(token, f"{value!r} is not a fully qualified domain name")]
    if any(len(label) > 63 for label in labels) or len(value.rstrip(".")) > 253:
        return [_syntax(token, f"{value!r} is too long for a domain name", "RFC 1035 §2.3.4")]
    return []


def _record_issues(terms: list[SpfTerm]) -> list[Issue]:
    issues: list[Issue] = []
    for name in ("redirect", "exp"):
        if sum(1 for t in terms if t.is_modifier and t.name == name) > 1:
            issues.append(Issue(f"duplicate-{name}", f"{name}= appears twice", "RFC 7208 §6"))
    mechanisms = [t for t in terms if not t.is_modifier]
    names = [t.name for t in mechanisms]
    if "all" in names:
        after = mechanisms[names.index("all") + 1 :]
        if after:
            issues.append(
                Issue(
                    "after-all",
                    "terms after 'all' are never evaluated: "
                    + " ".join(term.raw for term in after),
                    "RFC 7208 §5.1",
                    fatal=False,
                )
            )
        if any(t.is_modifier and t.name == "redirect" for t in terms):
            issues.append(
                Issue(
                    "redirect-ignored",
                    "redirect= is ignored because the record has an 'all'",
                    "RFC 7208 §6.1",
                    fatal=False,
                )
            )
    if "ptr" in names:
        issues.append(
            Issue("ptr", "the ptr mechanism SHOULD NOT be used", "RFC 7208 §5.5", fatal=False)
        )
    return issues


def expand_macros(value: str, variables: Mapping[str, str]) -> str:
    """Expand a macro-string (RFC 7208 §7.3) with ``variables`` keyed by macro letter.

    ``variables`` holds s, l, o, d, i, p, h (and c, r, t for explanations); ``i`` for IPv6 must
    already be in dotted nibble form. Pure: the ``p`` macro's validated name is the caller's
    business (RFC 7208 §7.3 allows ``unknown``).
    """

    def replace(match: re.Match[str]) -> str:
        text = match.group(0)
        if text in ("%%", "%_", "%-"):
            return {"%%": "%", "%_": " ", "%-": "%20"}[text]
        letter, digits, reverse, delimiters = match.groups()
        parts = re.split("[" + re.escape(delimiters or ".") + "]", variables[letter.lower()])
        if reverse:
            parts.reverse()
        if digits:
            parts = parts[-int(digits) :]
        expanded = ".".join(parts)
        if letter.isupper():
            expanded = _url_escape(expanded)
        return expanded

    return _MACRO.sub(replace, value)


def _url_escape(text: str) -> str:
    """RFC 7208 §7.3: uppercase macros are URL-escaped (RFC 3986 unreserved kept)."""
    return urllib.parse.quote(text, safe="-._~")
