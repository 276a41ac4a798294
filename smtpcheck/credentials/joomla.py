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
import unicodedata
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
    elif len(body) > 19:  # beyond PHP_INT_MAX anyway; int() refuses over 4,300 digits
        return PhpLiteral("float", sign * float(body))
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
    shown = f" ({REDACTOR.excerpt(expr.rstrip(';').strip(), 60)})" if name in _SHOWN else ""
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
        elif (ch == "#" and not text.startswith("#[", i)) or text.startswith("//", i):
            end = _line_comment_end(text, i)  # PHP's rule: at LF, CR or "?>"
        else:
            i += 1
            continue
        out[i:end] = [c if c in "\r\n" else " " for c in text[i:end]]
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
# --- what runs: PHP's own lexical rules, for hosts without PHP ---------------------------------
# A small lexer after Zend/zend_language_scanner.l: text outside <?php … ?> is output; "//" and
# "#" comments end at a newline, a CR or "?>"; "#[" opens an attribute, not a comment; heredoc
# and nowdoc are not followed (their presence is reported). Only what decides whether a file is
# "one class of property declarations" is kept apart.


@dataclass(frozen=True)
class _Token:
    kind: str  # inline open open-echo close name var string istring num op attr heredoc bad
    text: str


def _line_comment_end(text: str, i: int) -> int:
    ends = [e for e in (text.find("\n", i), text.find("\r", i), text.find("?>", i)) if e >= 0]
    return min(ends) if ends else len(text)


def _quoted_end(text: str, i: int) -> int:
    """Index after the quoted string starting at ``i``; -1 when it never closes."""
    quote, j = text[i], i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == quote:
            return j + 1
        else:
            j += 1
    return -1


def _word_end(text: str, i: int) -> int:
    j = i
    while j < len(text) and (text[j].isalnum() or text[j] in "_\\" or ord(text[j]) >= 0x80):
        j += 1
    return j


def _php_tokens(text: str) -> list[_Token]:
    """Tokens of ``text`` without blanks and comments."""
    out: list[_Token] = []
    i, n, in_php = 0, len(text), False
    while i < n:
        if not in_php:
            j = text.find("<?", i)
            if j < 0 or j > i:
                out.append(_Token("inline", text[i : n if j < 0 else j]))
            if j < 0:
                break
            if text[j : j + 5].lower() == "<?php" and (j + 5 == n or text[j + 5] in " \t\r\n"):
                out.append(_Token("open", "<?php"))
                i = j + 5
            else:  # "<?=" always, "<?" where short_open_tag is on: code either way
                out.append(_Token("open-echo", text[j : j + 3]))
                i = j + 2
            in_php = True
            continue
        ch = text[i]
        if text.startswith("?>", i):
            out.append(_Token("close", "?>"))
            i += 2
            i += 2 if text.startswith("\r\n", i) else 1 if text.startswith("\n", i) else 0
            in_php = False
        elif ch in " \t\r\n\f\v":
            i += 1
        elif text.startswith("#[", i):
            out.append(_Token("attr", "#["))
            i += 2
        elif ch == "#" or text.startswith("//", i):
            i = _line_comment_end(text, i)
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            if end < 0:
                out.append(_Token("bad", "an unterminated comment"))
                break
            i = end + 2
        elif ch in "'\"":
            end = _quoted_end(text, i)
            if end < 0:
                out.append(_Token("bad", "an unterminated string"))
                break
            body = text[i:end]
            interpolated = ch == '"' and re.search(r"(?<!\\)(?:\\\\)*\$[A-Za-z_{]|\{\$", body)
            out.append(_Token("istring" if interpolated else "string", body))
            i = end
        elif text.startswith("<<<", i):
            out.append(_Token("heredoc", "<<<"))
            break
        elif ch == "$" and i + 1 < n and (text[i + 1].isalpha() or text[i + 1] == "_"):
            end = _word_end(text, i + 1)
            out.append(_Token("var", text[i:end]))
            i = end
        elif ch.isalpha() or ch in "_\\" or ord(ch) >= 0x80:
            end = _word_end(text, i)
            out.append(_Token("name", text[i:end]))
            i = end
        elif ch.isdigit():
            end = i
            while end < n and (text[end].isalnum() or text[end] in "._"):
                end += 1
            out.append(_Token("num", text[i:end]))
            i = end
        else:
            width = 2 if text.startswith(("=>", "::", "->", "?-"), i) else 1
            out.append(_Token("op", text[i : i + width]))
            i += width
    return out


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


_MODIFIERS = frozenset({"public", "var", "protected", "private", "static", "readonly", "const"})
_RUNS = {
    "istring": "a string with interpolation",
    "open-echo": "a short or echo PHP tag",
    "heredoc": "a heredoc or nowdoc (not judged without PHP)",
    "attr": "an attribute",
}


def _statement_code(statement: list[_Token]) -> str | None:
    """Why one statement of the class body is not a property (or constant) declaration."""
    first = statement[0]
    if first.kind != "name" or first.text.lower() not in _MODIFIERS:
        if first.kind == "name" and first.text.lower() in ("function", "abstract", "final"):
            return "a method in the class"
        return f"a statement in the class body ({_first_word(first.text)!r})"
    previous = first
    for index, token in enumerate(statement):
        nxt = statement[index + 1] if index + 1 < len(statement) else None
        word = token.text.lower()
        if token.kind == "name" and word == "function":
            name = nxt.text if nxt is not None and nxt.kind == "name" else "function"
            return f"a method in the class ({name[:30]})"
        if token.kind == "name" and word == "new":
            return "an expression that runs code in a property value (new)"
        if token.kind == "name" and nxt is not None and nxt.text == "(" and word != "array":
            return "an expression that runs code in a property value (a call)"
        if token.kind == "op" and token.text in ("`", "->", "::", "?-"):
            return "an expression that runs code in a property value"
        if token.kind == "var" and not (
            (previous.kind == "name" and previous.text.lower() not in ("true", "false", "null"))
            or previous.text == ","
        ):
            return "a variable in a property value"
        previous = token
    return None


def find_code(text: str) -> str | None:
    """What executable code (or output) a configuration.php holds beyond classes of property
    declarations, or None. The static counterpart of joomla_config.php's token check, for hosts
    without PHP: top-level statements (``require``, ``namespace``, calls), methods (a
    constructor runs on every page), calls, ``new`` or backticks in a value, attributes, short
    or echo tags, output around the PHP block, a class never closed."""
    tokens = _php_tokens(text)
    state, depth = "outside", 0
    statement: list[_Token] = []
    for index, token in enumerate(tokens):
        if token.kind == "bad":
            return None  # PHP cannot parse the file: nothing in it runs (it is unloadable)
        if token.kind in _RUNS:
            return _RUNS[token.kind]
        if token.kind == "inline":
            if token.text.strip():
                return f"output {'before <?php' if index == 0 else 'after ?>'}"
            continue
        if state == "outside":
            if token.kind in ("open", "close"):
                continue
            if token.kind == "name" and token.text.lower() == "final":
                continue
            if token.kind == "name" and token.text.lower() == "class":
                state = "class"
                continue
            return f"top-level code ({_first_word(token.text)!r})"
        if state == "class":
            if token.kind != "name":
                return "top-level code ('class')"
            state = "name"
        elif state == "name":
            if token.text != "{":
                return "a class that is not a plain class of properties"
            state = "body"
        elif token.kind in ("open", "close"):
            return "a PHP tag inside the class"
        elif token.text in ("(", "[", "{"):
            depth += 1
            statement.append(token)
        elif token.text in (")", "]") or (token.text == "}" and depth):
            depth -= 1
            statement.append(token)
        elif token.text == "}":
            if statement:
                return "a statement in the class body without ';'"
            state = "outside"
        elif token.text == ";" and not depth:
            if statement and (why := _statement_code(statement)) is not None:
                return why
            statement = []
        else:
            statement.append(token)
    return None if state == "outside" else "a class that is never closed"


_INCLUDES = frozenset({"require", "require_once", "include", "include_once"})
_BAD_PATH_CHARACTERS = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})


def require_target(text: str) -> str | None:
    """The absolute path a one-line ``require('/path');`` stub loads (gen C's webroot file), or
    None for any other file, a path with '..' or characters that do not belong in one."""
    tokens = [t for t in _php_tokens(text) if not (t.kind == "inline" and not t.text.strip())]
    kinds = [(t.kind, t.text.lower() if t.kind == "name" else t.text) for t in tokens]
    if kinds and kinds[-1] == ("close", "?>"):
        kinds.pop()
    if len(kinds) > 3 and kinds[2] == ("op", "(") and kinds[4:5] == [("op", ")")]:
        del kinds[4], kinds[2]
    if len(kinds) != 4 or kinds[0][0] != "open" or kinds[1][1] not in _INCLUDES:
        return None
    if kinds[2][0] != "string" or kinds[3] != ("op", ";"):
        return None
    literal = kinds[2][1]
    path = literal[1:-1]
    if "\\" in path or not path.startswith("/") or ".." in path.split("/"):
        return None
    if any(unicodedata.category(char) in _BAD_PATH_CHARACTERS for char in path):
        return None
    return path


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
