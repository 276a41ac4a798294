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

# RFC 7208 §12. Every regex here is used with fullmatch (``$`` would accept a trailing LF).
_VERSION = "v=spf1"
_NAME = r"[a-z][a-z0-9_.-]*"  # name = ALPHA *( ALPHA / DIGIT / "-" / "_" / "." )
_MODIFIER = re.compile(rf"({_NAME})=(.*)", re.IGNORECASE | re.DOTALL)
_DIRECTIVE = re.compile(rf"([-+~?]?)({_NAME})([:/].*)?", re.IGNORECASE | re.DOTALL)
_VISIBLE = re.compile(r"[\x21-\x7e]*")  # what a term may hold: no SP, no control, ASCII only
_MACRO = re.compile(r"%(?:\{([a-zA-Z])([0-9]*)([rR]?)([-.+,/_=]*)\}|[%_-])")
_MACRO_LETTERS = frozenset("slodiphv")  # RFC 7208 §7.2
_EXP_ONLY_LETTERS = frozenset("crt")  # RFC 7208 §7.2: only in explanation strings
_TOPLABEL = re.compile(r"[a-z0-9]*[a-z][a-z0-9]*|[a-z0-9]+-[a-z0-9-]*[a-z0-9]", re.IGNORECASE)
_CIDR4 = re.compile(r"0|[1-9][0-9]?")  # ip4-cidr-length digits, 0-32 checked apart
_CIDR6 = re.compile(r"0|[1-9][0-9]{0,2}")  # ip6-cidr-length digits, 0-128 checked apart
# [ ":" domain-spec ] [ dual-cidr-length ] of a and mx. A domain-spec never ends in "/" DIGIT
# (it ends in a toplabel, a "." or a macro-expand), so a trailing "/<digits>" and "//<digits>"
# can only be the dual-cidr-length: the lazy prefix leaves them to the suffix.
_A_MX_ARGUMENTS = re.compile(r"(.*?)(?:/([0-9]+))?(?://([0-9]+))?", re.DOTALL)
_CIDR_SUFFIX = re.compile(r"/[0-9]+\Z")  # with search: a trailing "/<digits>"
_MACRO_MARK = "\0"  # stands for a macro-expand when counting labels: never empty or a dot
_WHITESPACE = {"\t": "TAB", "\n": "LF", "\r": "CR", "\v": "VT", "\f": "FF"}


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
    head = text[: len(_VERSION)]
    return head.isascii() and head.lower() == _VERSION and text[len(_VERSION) :][:1] in ("", " ")


def select_spf_records(texts: Iterable[str]) -> tuple[str, ...]:
    """The TXT texts that are SPF records (RFC 7208 §4.5). More than one is a permerror."""
    return tuple(text for text in texts if is_spf_text(text))


def parse_spf_record(text: str) -> SpfRecord:
    """Parse one SPF record (the joined TXT strings); never raises for bad input.

    ``record = version terms *SP`` and ``terms = *( 1*SP ( directive / modifier ) )`` (RFC 7208
    §12): terms are separated by one or more SP (%x20) only, so a TAB, CR or LF is part of the
    term it sits in and makes that term, hence the record, a permerror (§4.6.1).
    """
    issues: list[Issue] = []
    if not is_spf_text(text):
        issue = Issue(
            "version",
            "the record does not start with v=spf1 followed by a space or its end",
            "RFC 7208 §4.5",
        )
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
    for token in text[len(_VERSION) :].split(" "):
        if not token:
            continue  # 1*SP between terms, *SP at the end
        term, problems = _parse_term(token)
        issues.extend(problems)
        if term is not None:
            terms.append(term)
    issues.extend(_record_issues(terms))
    return SpfRecord(text, tuple(terms), tuple(issues))


def _syntax(token: str, why: str, reference: str = "RFC 7208 §12") -> Issue:
    return Issue("syntax", f"{token!r}: {why}", reference)


def _bad_characters(token: str) -> Issue:
    spaces = sorted({_WHITESPACE[char] for char in token if char in _WHITESPACE})
    if spaces:
        return _syntax(
            token,
            f"contains {', '.join(spaces)}: terms are separated by spaces (SP) only",
            "RFC 7208 §4.6.1, §12",
        )
    return _syntax(token, "only visible ASCII (%x21-7E) is allowed in a term", "RFC 7208 §3, §12")


def _parse_term(token: str) -> tuple[SpfTerm | None, list[Issue]]:
    """``directive / modifier``: a modifier's name is followed at once by "=" (RFC 7208 §4.6.1)."""
    if not _VISIBLE.fullmatch(token):
        return None, [_bad_characters(token)]
    modifier = _MODIFIER.fullmatch(token)
    if modifier is not None:
        return _parse_modifier(token, modifier.group(1).lower(), modifier.group(2))
    if token[:1] in QUALIFIERS and _MODIFIER.fullmatch(token[1:]):
        return None, [_syntax(token, "a modifier takes no qualifier")]
    match = _DIRECTIVE.fullmatch(token)
    if match is None:
        return None, [_syntax(token, "not a mechanism or modifier")]
    qualifier, name, rest = match.group(1) or "+", match.group(2).lower(), match.group(3) or ""
    if name not in MECHANISMS:
        return None, [_syntax(token, f"unknown mechanism {name!r}", "RFC 7208 §4.6.1")]
    if name == "all":
        if rest:
            return None, [_syntax(token, "all takes no argument", "RFC 7208 §5.1")]
        return SpfTerm(token, name, qualifier), []
    if name in ("ip4", "ip6"):
        return _parse_network(token, qualifier, name, rest)
    return _parse_domain_mechanism(token, qualifier, name, rest)


def _parse_modifier(token: str, name: str, value: str) -> tuple[SpfTerm | None, list[Issue]]:
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
    token: str, qualifier: str, name: str, rest: str
) -> tuple[SpfTerm | None, list[Issue]]:
    """``ip4 ":" ip4-network [ ip4-cidr-length ]``, the same for ip6 (RFC 7208 §5.6)."""
    if not rest.startswith(":") or rest == ":":
        return None, [_syntax(token, f"{name} needs ':' and a network", "RFC 7208 §5.6")]
    value = rest[1:]
    address, slash, length = value.partition("/")
    limit, pattern = (32, _CIDR4) if name == "ip4" else (128, _CIDR6)
    if slash and length.startswith("/"):
        return None, [_syntax(token, f"{name} takes one prefix length, not a dual-cidr-length")]
    if slash and (not pattern.fullmatch(length) or int(length) > limit):
        return None, [_syntax(token, f"prefix length must be 0-{limit} without leading zeros")]
    parsed = _ip_address(address)
    if parsed is None:
        return None, [_syntax(token, f"{address!r} is not an IP address")]
    if parsed.version != (4 if name == "ip4" else 6):
        return None, [_syntax(token, f"{address!r} is not an IPv{name[-1]} address")]
    cidr = int(length) if slash else None
    return SpfTerm(
        token,
        name,
        qualifier,
        network=value,
        cidr4=cidr if name == "ip4" else None,
        cidr6=cidr if name == "ip6" else None,
    ), []


def _ip_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """ip4-network (dotted quad, no leading zeros) or ip6-network (RFC 4291 §2.2, no zone)."""
    if "%" in text:  # Python accepts an IPv6 zone index ("fe80::1%eth0"); RFC 4291 has none
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _parse_domain_mechanism(
    token: str, qualifier: str, name: str, rest: str
) -> tuple[SpfTerm | None, list[Issue]]:
    """include, exists, ptr, a, mx: ``[ ":" domain-spec ]``, a dual-cidr-length for a and mx.

    A domain-spec may hold ':' and '/' (macro-literal, RFC 7208 §7.1): only a trailing
    ``/<digits>``, ``//<digits>`` or both is a prefix length (§5.3, §5.4, §12).
    """
    section = {"include": "§5.2", "a": "§5.3", "mx": "§5.4", "ptr": "§5.5", "exists": "§5.7"}
    reference = f"RFC 7208 {section[name]}"
    cidr4 = cidr6 = None
    argument = rest
    if name in ("a", "mx"):
        match = _A_MX_ARGUMENTS.fullmatch(rest)
        argument, four, six = match.groups() if match else (rest, None, None)
        if argument and not argument.startswith(":"):
            return None, [_syntax(token, "bad dual-cidr-length", reference)]
        if four is not None:
            if not _CIDR4.fullmatch(four) or int(four) > 32:
                why = "the IPv4 prefix length must be 0-32 without leading zeros"
                return None, [_syntax(token, why, reference)]
            cidr4 = int(four)
        if six is not None:
            if not _CIDR6.fullmatch(six) or int(six) > 128:
                why = "the IPv6 prefix length must be 0-128 without leading zeros"
                return None, [_syntax(token, why, reference)]
            cidr6 = int(six)
    elif rest.startswith("/"):
        return None, [_syntax(token, f"{name} takes no prefix length", reference)]
    if not argument:
        if name in ("include", "exists"):
            return None, [_syntax(token, f"{name} needs ':' and a domain", reference)]
        return SpfTerm(token, name, qualifier, cidr4=cidr4, cidr6=cidr6), []
    domain = argument[1:]  # the argument is ":" domain-spec: _DIRECTIVE and the checks above
    if not domain:
        if name in ("include", "exists"):
            return None, [_syntax(token, f"{name} needs ':' and a domain", reference)]
        return None, [_syntax(token, "':' must be followed by a domain", reference)]
    if name not in ("a", "mx") and _CIDR_SUFFIX.search(domain):
        return None, [_syntax(token, f"{name} takes no prefix length", reference)]
    problems = check_domain_spec(domain, token)
    if problems:
        return None, problems
    return SpfTerm(token, name, qualifier, domain=domain, cidr4=cidr4, cidr6=cidr6), []


def check_macro_string(value: str, token: str, *, allow_exp_letters: bool) -> list[Issue]:
    """Problems in a macro-string (RFC 7208 §7.1): bad ``%`` escapes, letters or characters.

    ``macro-string = *( macro-expand / macro-literal )``; macro-literal is %x21-24 / %x26-7E.
    """
    if not _VISIBLE.fullmatch(value):
        return [_syntax(token, "only visible ASCII is allowed", "RFC 7208 §7.1")]
    allowed = _MACRO_LETTERS | (_EXP_ONLY_LETTERS if allow_exp_letters else frozenset())
    position = 0
    while (percent := value.find("%", position)) >= 0:
        match = _MACRO.match(value, percent)
        if match is None:
            return [_syntax(token, "a '%' must start %{...}, %%, %_ or %-", "RFC 7208 §7.1")]
        letter = (match.group(1) or "").lower()
        if match.group(2) and int(match.group(2)) == 0:
            return [_syntax(token, "a macro's digit transformer must be nonzero", "RFC 7208 §7.3")]
        if letter and letter not in allowed:
            return [_syntax(token, f"macro letter {letter!r} not allowed here", "RFC 7208 §7.2")]
        position = match.end()
    return []


def check_domain_spec(value: str, token: str) -> list[Issue]:
    """``domain-spec = macro-string domain-end``, ``domain-end = ( "." toplabel [ "." ] ) /
    macro-expand`` (RFC 7208 §7.1, §12); then what no expansion can repair: an empty label, or,
    without macros, a label over 63 octets or a name over 253 (RFC 1035 §2.3.4, §3.1)."""
    if not value:
        return [_syntax(token, "the domain-spec is empty")]
    problems = check_macro_string(value, token, allow_exp_letters=False)
    if problems:
        return problems
    macros = list(_MACRO.finditer(value))
    tail = value[macros[-1].end() :] if macros else value  # the literal text after the last macro
    if (tail or not macros) and not _ends_in_toplabel(tail):
        return [
            _syntax(
                token,
                f"{value!r} is not a fully qualified domain name: it must end in a macro or in "
                "'.' and a top label (not all digits, no leading or trailing '-')",
                "RFC 7208 §7.1",
            )
        ]
    skeleton = _MACRO.sub(_MACRO_MARK, value)  # a label with a macro: length unknown
    name = skeleton[:-1] if skeleton.endswith(".") else skeleton
    labels = name.split(".")
    if "" in labels:
        return [_syntax(token, f"{value!r} has an empty label", "RFC 1035 §3.1")]
    too_long = any(len(label) > 63 for label in labels if _MACRO_MARK not in label)
    if too_long or (_MACRO_MARK not in name and len(name) > 253):
        return [_syntax(token, f"{value!r} is too long for a domain name", "RFC 1035 §2.3.4")]
    return []


def _ends_in_toplabel(literal: str) -> bool:
    """``"." toplabel [ "." ]`` at the end of ``literal``."""
    body = literal[:-1] if literal.endswith(".") else literal
    _, dot, top = body.rpartition(".")
    return bool(dot) and _TOPLABEL.fullmatch(top) is not None


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
