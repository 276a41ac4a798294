"""Joomla's ``configuration.php``: ``class JConfig { public $name = value; ... }``.

Two readers, and the evidence says which one gave the values (reference/adt-toolkit.md):
- PHP on the host (``remote/joomla_config.php``): the way Joomla itself reads the file;
- this module's static reader of PHP literals, the fallback where PHP is missing or refused.

The static reader accepts what PHP accepts as a property default: single- and double-quoted
strings (with their escape rules), numbers, true/false/null and arrays. Anything else, like the
toolkit's unquoted ``public $smtphost = smtp-pulse.com;`` (generation C main), is an expression
PHP evaluates as undefined constants and fails on with an Error: a finding. Problems name the
line and property, and quote a value only for the non-secret SMTP properties.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from smtpcheck.credentials.labelled import Problem
from smtpcheck.secrets import REDACTOR, Secret

SMTP_PROPERTIES = (
    "mailer", "mailfrom", "fromname", "replyto", "smtpauth", "smtpuser", "smtppass",
    "smtphost", "smtpsecure", "smtpport", "smtp_port",
)  # fmt: skip
_SHOWN = frozenset(SMTP_PROPERTIES) - {"smtppass"}  # values safe to quote in a problem
# An instance property: ``public static $x`` is a class setting Joomla never reads as config.
_PROPERTY = re.compile(
    r"^\s*(?:public|var)\s+(?!static\b)(?:\??[A-Za-z_\\][\w\\]*\s+)?\$(\w+)\s*=\s*"
)
_CLASS = re.compile(r"^\s*class\s+JConfig\b", re.IGNORECASE)
# PHP's numeric literals (Zend/zend_language_scanner.l): LNUM, DNUM, EXPONENT_DNUM, HNUM, BNUM,
# ONUM, with "_" between digits; a decimal with a leading 0 is octal. The sign is PHP's unary
# operator, accepted here as part of the number.
_LNUM = r"[0-9]+(?:_[0-9]+)*"
_NUMBER = re.compile(
    rf"""[-+]?(?:0[xX][0-9a-fA-F]+(?:_[0-9a-fA-F]+)*|0[bB][01]+(?:_[01]+)*|0[oO][0-7]+(?:_[0-7]+)*
        |(?:(?:{_LNUM})?\.{_LNUM}|{_LNUM}\.(?:{_LNUM})?|{_LNUM})(?:[eE][-+]?{_LNUM})?)""",
    re.VERBOSE,
)
_PHP_INT_MAX = 2**63 - 1
_CONSTANT = re.compile(r"(true|false|null)\b", re.IGNORECASE)
_DQ_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "e": "\x1b", "f": "\f",
               "\\": "\\", "$": "$", '"': '"'}  # fmt: skip

PhpScalar = str | int | float | bool | None


@dataclass(frozen=True)
class PhpLiteral:
    """One property default as PHP would read it; ``kind`` "expression" is not a literal."""

    kind: str  # "string", "int", "float", "bool", "null", "array", "expression"
    value: PhpScalar = field(repr=False)
    quote: str | None = None  # ' or " for strings
    line: int = 0


@dataclass(frozen=True)
class JoomlaConfig:
    """The SMTP properties of a configuration.php and what is wrong with the file."""

    properties: Mapping[str, PhpLiteral]  # SMTP properties except smtppass
    smtppass: Secret | None = field(repr=False)
    has_class: bool = False
    problems: tuple[Problem, ...] = ()
    quotes: frozenset[str] = frozenset()  # quote styles seen in the SMTP properties
    aligned: bool = False  # "$mailer   = …": the toolkit's sed (one space before '=') misses it


class _NotLiteral(Exception):
    """The text at this position is not a PHP literal."""


def _single_quoted(text: str, pos: int) -> tuple[str, int]:
    out, i = [], pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in "\\'":
            out.append(text[i + 1])
            i += 2
        elif ch == "'":
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise _NotLiteral("unterminated string")


def _double_quoted(text: str, pos: int) -> tuple[str, int]:
    out, i = [], pos + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            octal = re.match(r"[0-7]{1,3}", text[i + 1 :])
            hexa = re.match(r"x([0-9a-fA-F]{1,2})", text[i + 1 :])
            if nxt == "u" and text.startswith("{", i + 2):
                unicode = re.match(r"u\{([0-9a-fA-F]+)\}", text[i + 1 :])
                if unicode is None or int(unicode.group(1), 16) > 0x10FFFF:
                    raise _NotLiteral("an invalid \\u{...} escape (PHP: parse error)")
                out.append(chr(int(unicode.group(1), 16)))
                i += 1 + len(unicode.group())
            elif nxt in _DQ_ESCAPES:
                out.append(_DQ_ESCAPES[nxt])
                i += 2
            elif octal:
                out.append(chr(int(octal.group(), 8) & 0xFF))
                i += 1 + len(octal.group())
            elif hexa:
                out.append(chr(int(hexa.group(1), 16)))
                i += 1 + len(hexa.group())
            else:
                out.append(ch)
                i += 1
        elif ch == "$" and i + 1 < len(text) and re.match(r"[A-Za-z_{]", text[i + 1]):
            raise _NotLiteral("a double-quoted string with $ interpolation")
        elif ch == '"':
            return "".join(out), i + 1
        else:
            out.append(ch)
            i += 1
    raise _NotLiteral("unterminated string")


def _array_end(text: str, pos: int) -> int:
    """Index after the array literal starting at ``pos`` (``[`` or ``array(``)."""
    depth, i = 0, pos
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            _, i = (_single_quoted if ch == "'" else _double_quoted)(text, i)
            continue
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise _NotLiteral("unterminated array")


def _number(raw: str) -> PhpLiteral:
    """The value PHP gives a numeric literal: octal for a leading 0, float beyond PHP_INT_MAX."""
    sign = -1 if raw.startswith("-") else 1
    body = raw.lstrip("+-").replace("_", "")
    prefix = body[:2].lower()
    if prefix in ("0x", "0b", "0o"):
        magnitude = int(body, 0)
    elif "." in body or "e" in body.lower():
        return PhpLiteral("float", sign * float(body))
    elif len(body) > 1 and body.startswith("0"):
        if body.strip("01234567"):
            raise _NotLiteral("not a valid octal number (PHP: Invalid numeric literal)")
        magnitude = int(body, 8)
    else:
        magnitude = int(body)
    if magnitude > _PHP_INT_MAX:
        return PhpLiteral("float", sign * float(magnitude))
    return PhpLiteral("int", sign * magnitude)


def scan_literal(text: str, pos: int = 0) -> tuple[PhpLiteral, int]:
    """The PHP literal starting at ``text[pos]`` and the index after it; raises _NotLiteral."""
    ch = text[pos : pos + 1]
    if ch == "'":
        value, end = _single_quoted(text, pos)
        return PhpLiteral("string", value, "'"), end
    if ch == '"':
        value, end = _double_quoted(text, pos)
        return PhpLiteral("string", value, '"'), end
    if text.startswith("[", pos) or text[pos:].lower().startswith("array("):
        start = pos + 5 if text[pos] != "[" else pos
        return PhpLiteral("array", None), _array_end(text, start)
    number = _NUMBER.match(text, pos)
    if number and not re.match(r"[\w.]", text[number.end() : number.end() + 1]):
        return _number(number.group()), number.end()
    constant = _CONSTANT.match(text, pos)
    if constant:
        word = constant.group().lower()
        if word == "null":
            return PhpLiteral("null", None), constant.end()
        return PhpLiteral("bool", word == "true"), constant.end()
    raise _NotLiteral("not a literal")


def _rest_is_end(rest: str) -> bool:
    """After the value: ``;`` then optionally a comment."""
    return re.fullmatch(r"\s*;\s*(?:(?://|#).*|/\*.*\*/\s*)?", rest) is not None


def _parse_property(name: str, expr: str, number: int) -> tuple[PhpLiteral, Problem | None]:
    shown = f" ({expr.rstrip(';').strip()[:60]})" if name in _SHOWN else ""
    try:
        literal, end = scan_literal(expr)
    except _NotLiteral as why:
        semicolon = expr.find(";")
        if why.args == ("not a literal",) and semicolon >= 0 and _rest_is_end(expr[semicolon:]):
            value = expr[:semicolon].strip() if name in _SHOWN else None
            bare = re.fullmatch(r"[A-Za-z_][\w.\-]*", expr[:semicolon].strip()) is not None
            return PhpLiteral("expression", value, None, number), Problem(
                f"line {number}: ${name} is not a PHP literal{shown}: PHP reads it as constant "
                "names and fails with 'Undefined constant' when Joomla loads the configuration",
                unloadable=bare,
            )
        return PhpLiteral("expression", None, None, number), Problem(
            f"line {number}: ${name}: {why}{shown}", unloadable="unterminated" in str(why)
        )
    if not _rest_is_end(expr[end:]):
        return PhpLiteral("expression", None, None, number), Problem(
            f"line {number}: ${name} is not a single literal followed by ';'"
        )
    return PhpLiteral(literal.kind, literal.value, literal.quote, number), None


def _without_comments(text: str) -> str:
    """``text`` with PHP comments blanked out, strings untouched and newlines kept (so line
    numbers stay right): a property inside ``/* ... */`` is not a declaration."""
    out = list(text)
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":  # skip the string, escapes included; unterminated runs to the end
            i += 1
            while i < len(text) and text[i] != ch:
                i += 2 if text[i] == "\\" else 1
            i += 1
            continue
        if text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = len(text) if end < 0 else end + 2
        elif ch == "#" or text.startswith("//", i):
            end = text.find("\n", i)
            end = len(text) if end < 0 else end
        else:
            i += 1
            continue
        out[i:end] = ["\n" if c == "\n" else " " for c in text[i:end]]
        i = end
    return "".join(out)


def parse_joomla_config(text: str) -> JoomlaConfig:
    """Static reading of a configuration.php. Pure; problems are reported, never raised."""
    problems: list[Problem] = []
    properties: dict[str, PhpLiteral] = {}
    seen: set[str] = set()
    smtppass: Secret | None = None
    has_class = False
    lines = _without_comments(text).splitlines()
    if not lines or not lines[0].lstrip().startswith("<?php"):
        problems.append(Problem("the file does not start with <?php", unloadable=True))
    for number, line in enumerate(lines, start=1):
        if _CLASS.match(line):
            has_class = True
            continue
        match = _PROPERTY.match(line)
        if match is None:
            continue
        name = match.group(1)
        if name in seen:
            message = f"line {number}: ${name} is declared twice (PHP fatal error)"
            problems.append(Problem(message, unloadable=True))
            continue
        seen.add(name)
        literal, problem = _parse_property(name, line[match.end() :], number)
        if problem is not None:
            problems.append(problem)
        if name == "smtppass":
            if literal.kind == "string" and isinstance(literal.value, str):
                smtppass = Secret(literal.value)
            properties[name] = PhpLiteral(literal.kind, None, literal.quote, number)
        elif name in SMTP_PROPERTIES:
            properties[name] = literal
    if not has_class:
        problems.append(Problem("no class JConfig in the file", unloadable=True))
    REDACTOR.register(smtppass, [_text(properties.get("smtpuser"))])
    quotes = frozenset(p.quote for p in properties.values() if p.quote)
    aligned = _ALIGNED_MAILER.search(text) is not None
    return JoomlaConfig(properties, smtppass, has_class, tuple(problems), quotes, aligned)


# The toolkit's sed matches "$mailer =" with exactly one space; Joomla's installer aligns its mail
# block, so a baseline copy keeps every mail setting (reference: "baseline" builds).
_ALIGNED_MAILER = re.compile(r"^\s*public\s+\$mailer\s{2,}=", re.MULTILINE)
# gen C's webroot stub: the whole file is one require of the real configuration.php.
_STUB = re.compile(
    r"\s*<\?php\s+(?:require|require_once|include|include_once)\s*\(?\s*(['\"])(/[^'\"\\$]+)\1"
    r"\s*\)?\s*;\s*(?:\?>\s*)?",
    re.IGNORECASE,
)


def require_target(text: str) -> str | None:
    """The absolute path a one-line ``require('/path')`` stub loads, or None for any other file."""
    match = _STUB.fullmatch(_without_comments(text))
    if match is None:
        return None
    path = match.group(2)
    if ".." in path.split("/") or any(ord(char) < 32 or ord(char) == 127 for char in path):
        return None
    return path


def _blank_strings(text: str) -> str:
    """``text`` with every quoted string's content removed (quotes kept), so that no brace,
    semicolon or word inside a string is read as code."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch in "'\"":
            j = i + 1
            while j < len(text) and text[j] != ch:
                j += 2 if text[j] == "\\" else 1
            out.append(ch + ch)
            i = j + 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


_DECLARATION = re.compile(
    r"(?:(?:public|var|protected|private)(?:\s+static)?(?:\s+\??[A-Za-z_\\][\w\\]*)?\s+"
    r"\$\w+|const\s+\w+)(?:\s*=(?P<value>.*))?",
    re.DOTALL | re.IGNORECASE,
)
_CALL = re.compile(r"\b(?!array\b)[A-Za-z_\\][\w\\]*\s*\(|`|\bnew\b|\$", re.IGNORECASE)
_CLASS_HEAD = re.compile(r"\s*(?:final\s+)?class\s+\w+\s*\{", re.IGNORECASE)


_KEYWORDS = frozenset(
    {"require", "require_once", "include", "include_once", "namespace", "use", "echo", "print"}
    | {"eval", "exit", "die", "if", "for", "foreach", "while", "switch", "return", "declare"}
    | {"function", "class", "new", "define", "system", "exec", "shell_exec", "passthru"}
)


def _first_word(text: str) -> str:
    """The keyword the code starts with, when it is one (never other text: it could be a
    password the file holds outside a string)."""
    match = re.match(r"\s*([A-Za-z_]\w*)", text)
    word = match.group(1).lower() if match else ""
    return word if word in _KEYWORDS else "code"


def find_code(text: str) -> str | None:
    """What executable code a configuration.php holds beyond one class of property
    declarations, or None. The static counterpart of joomla_config.php's token check, for hosts
    without PHP: top-level statements (``require``, ``namespace``, calls), methods (a
    constructor runs on every page), calls or backticks in a value, output after ``?>``."""
    src = _blank_strings(_without_comments(text))
    opening = re.match(r"\s*<\?php\b", src)
    if opening is None:
        return None  # not PHP code at all: "does not start with <?php" says so
    rest = src[opening.end() :]
    head = _CLASS_HEAD.match(rest)
    if head is None:
        return f"top-level code before the class ({_first_word(rest)!r})"
    depth, end = 1, head.end()
    while end < len(rest) and depth:
        depth += {"{": 1, "}": -1}.get(rest[end], 0)
        end += 1
    body, after = rest[head.end() : end - 1], rest[end:]
    if re.search(r"\bfunction\b", body, re.IGNORECASE):
        name = re.search(r"\bfunction\s+&?\s*(\w*)", body, re.IGNORECASE)
        return f"a method in the class ({name.group(1) if name else 'function'})"
    for statement in body.split(";"):
        statement = statement.strip()
        if not statement:
            continue
        declaration = _DECLARATION.fullmatch(statement)
        if declaration is None:
            return f"a statement in the class body ({_first_word(statement)!r})"
        if _CALL.search(declaration.group("value") or ""):
            return "an expression that runs code in a property value"
    closed = after.lstrip().startswith("?>")
    if closed:
        after = re.sub(r"^\s*\?>\r?\n?", "", after, count=1)
    if after.strip():
        word = _first_word(after)
        return f"output after ?> ({word!r})" if closed else f"top-level code ({word!r})"
    return None


def _text(literal: PhpLiteral | None) -> str:
    return str(literal.value) if literal is not None and literal.value is not None else ""


@dataclass(frozen=True)
class PhpResult:
    """PHP's own reading on the host: values, or the error PHP raised loading the class."""

    php_version: str
    values: Mapping[str, PhpScalar]  # SMTP properties except smtppass
    smtppass: Secret | None = field(repr=False)
    error: str | None = None

    @property
    def refused(self) -> bool:
        """True when the reader did not evaluate the file (not when PHP failed loading it)."""
        return self.error is not None and (
            self.error.startswith("not executed")
            or self.error in ("unreadable", "tokenizer extension missing", "no class JConfig")
        )


def _valid_text(value: Any) -> Any:
    """JSON text with every lone surrogate (``\\ud800``, which JSON may escape but no UTF-8
    writer, terminal or the redactor can encode) replaced by U+FFFD."""
    if isinstance(value, str):
        return _LONE_SURROGATE.sub("\ufffd", value)
    if isinstance(value, list):
        return [_valid_text(item) for item in value]
    if isinstance(value, dict):
        return {_valid_text(key): _valid_text(item) for key, item in value.items()}
    return value


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def parse_php_output(output: bytes) -> PhpResult | None:
    """The JSON printed by ``joomla_config.php``; None when it is not that JSON."""
    try:
        data = _valid_text(json.loads(output.decode("utf-8", "replace")))
    except (ValueError, RecursionError):  # the host's php may print anything, nested deeply
        return None
    if not isinstance(data, dict):
        return None
    values = data.get("values") if isinstance(data.get("values"), dict) else {}
    assert isinstance(values, dict)
    raw_pass = values.pop("smtppass", None)
    smtppass = Secret(str(raw_pass)) if raw_pass not in (None, "") else None
    REDACTOR.register(smtppass, [str(values.get("smtpuser") or "")])
    clean = {
        str(k): v if isinstance(v, str | int | float | bool) or v is None else str(v)
        for k, v in values.items()
    }
    error = data.get("error")
    return PhpResult(
        php_version=str(data.get("php", "?")),
        values=clean,
        smtppass=smtppass,
        error=REDACTOR.scrub(str(error)) if error is not None else None,
    )
