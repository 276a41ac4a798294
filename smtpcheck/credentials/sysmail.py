"""System mail on gen C/D servers: the toolkit's ``SendEmail.sh`` (``ssmtp.conf`` is read by
:mod:`smtpcheck.credentials.ssmtp`, re-exported here).

``SendEmail.sh`` (gen C ``providerscripts/email/``, gen D ``services/email/``) runs ``sendemail
-o tls=no … -s host[:port] -xu USER -xp PASSWORD`` per provider, or, with ``EMAILUTIL:ssmtp``,
appends ``mailhub=``, ``AuthUser=``, ``AuthPass=`` and ``UseSTARTTLS=YES`` to ``ssmtp.conf``
(reference/adt-toolkit.md). The script is read line by line with :mod:`shlex`, tracking
``if``/``fi`` nesting well enough to know each call's provider, and whether a block is left
open: a ``fi`` written after a command on the same line is an argument to that command, and
sh then refuses to run the unclosed outer block at all.

Pure parser: problems never quote a line's text, and a literal password stays in a Secret.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field, replace

from smtpcheck.credentials.labelled import Problem, split_lines
from smtpcheck.credentials.ssmtp import SsmtpConf, parse_ssmtp_conf
from smtpcheck.errors import ConfigError
from smtpcheck.providers import digits, parse_port
from smtpcheck.secrets import REDACTOR, Secret

__all__ = [
    "SendEmailCall",
    "SsmtpConf",
    "SsmtpMailhub",
    "SystemMailScript",
    "parse_send_email",
    "parse_ssmtp_conf",
]

SENDEMAIL_NAMES = ("sendemail", "sendEmail")
_OPERATOR_CHARS = frozenset("();<>|&")
_OPERATORS = re.compile(r"&&|\|\||;;|\|&|>>|<<-|<<|>&|<&|>\||<>|[();&|<>]")
_SEPARATORS = frozenset({";", ";;", "&", "&&", "||", "|", "|&", "(", ")"})
_REDIRECTS = frozenset({">", ">>", "<", "<<", "<<-", ">&", "<&", ">|", "<>"})
_KEYWORDS = frozenset(
    {"if", "then", "elif", "else", "fi", "while", "until", "for", "do", "done"}
    | {"case", "esac", "{", "}", "!"}
)
_PREFIXES = frozenset({"exec", "command", "nohup", "time", "env"})
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=.*", re.DOTALL)
_PROVIDER_VARIABLE = re.compile(r"\$\{?email_?provider\}?", re.IGNORECASE)
_BLOCK_ENDS = ("fi", "done", "esac")


@dataclass(frozen=True)
class SendEmailCall:
    line: int
    provider_code: int | None  # from the nearest enclosing EMAIL_PROVIDER = N condition
    server_host: str | None  # None: no usable -s (sendemail then uses localhost)
    server_port: int | None  # None: no port given (sendemail then uses 25)
    tls: str | None  # the -o tls= value, lower-cased; None: no tls option
    password_on_command_line: bool  # -xp (or -o password=) given: visible in ps
    password_literal: Secret | None = field(repr=False, default=None)  # hand-edited script
    username_argument_is_variable: bool = False
    in_unterminated_block: bool = False  # inside a block sh never runs (its fi is missing)


@dataclass(frozen=True)
class SsmtpMailhub:
    provider_code: int | None
    host: str | None
    port: int | None
    line: int


@dataclass(frozen=True)
class SystemMailScript:
    sendemail: tuple[SendEmailCall, ...] = ()
    ssmtp_mailhubs: tuple[SsmtpMailhub, ...] = ()
    ssmtp_starttls_appended: bool = False
    uses_sendemail_branch: bool = False  # an if on EMAILUTIL:sendemail
    uses_ssmtp_branch: bool = False  # an if on EMAILUTIL:ssmtp
    unclosed_blocks: int = 0  # if/loop blocks still open at the end of the script
    problems: tuple[Problem, ...] = ()


@dataclass
class _Frame:
    kind: str  # "if" or "loop"
    in_condition: bool = True
    provider: int | None = None
    condition: list[str] = field(default_factory=list)


def parse_send_email(text: str) -> SystemMailScript:
    """Parse ``SendEmail.sh``. Pure; problems are reported, not raised."""
    walker = _Walker()
    if "\r" in text:
        walker.problems.append(Problem("lines end in CR LF: sh cannot read the script's keywords"))
    lines = split_lines(text)
    index = 0
    while index < len(lines):
        number = index + 1
        logical, index = _logical_line(lines, index)
        try:
            tokens = _tokens(logical)
        except ValueError:
            walker.problems.append(Problem(f"line {number}: unbalanced quotes"))
            continue
        walker.feed(number, tokens)
        if walker.heredoc is not None:
            index = _skip_heredoc(lines, index, *walker.heredoc)
            walker.heredoc = None
    return walker.result()


def _logical_line(lines: list[str], index: int) -> tuple[str, int]:
    """The line at ``index`` joined with those its trailing backslashes continue into."""
    parts = [lines[index]]
    index += 1
    while index < len(lines):
        code = _strip_comment(parts[-1])
        if (len(code) - len(code.rstrip("\\"))) % 2 == 0:
            break
        parts[-1] = code[:-1]
        parts.append(lines[index])
        index += 1
    return "".join(parts), index


def _skip_heredoc(lines: list[str], index: int, delimiter: str, strip_tabs: bool) -> int:
    while index < len(lines):
        body = lines[index]
        index += 1
        if (body.lstrip("\t") if strip_tabs else body) == delimiter:
            break
    return index


def _strip_comment(line: str) -> str:
    """``line`` without its comment: a ``#`` that starts a word outside quotes (shlex would
    also end the line at a ``#`` inside a word, as in ``${#x}``)."""
    quote = ""
    word_start = True
    index = 0
    while index < len(line):
        char = line[index]
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "\\":
            index += 2
            word_start = False
            continue
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"`":
            quote = char
        elif char == "#" and word_start:
            return line[:index]
        word_start = not quote and (char.isspace() or char in _OPERATOR_CHARS)
        index += 1
    return line


def _tokens(line: str) -> list[str]:
    """Shell words and operators of one line. Raises ValueError for unbalanced quotes."""
    lexer = shlex.shlex(_strip_comment(line), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = ""
    tokens: list[str] = []
    for token in lexer:
        if token and all(char in _OPERATOR_CHARS for char in token):
            tokens.extend(_OPERATORS.findall(token))
        else:
            tokens.append(token)
    return tokens


def _is_expansion(word: str) -> bool:
    return "$" in word or "`" in word


class _Walker:
    """The state of one pass over the script: open blocks, what was found, problems."""

    def __init__(self) -> None:
        self.frames: list[_Frame] = []
        self.calls: list[tuple[_Frame | None, SendEmailCall]] = []
        self.mailhubs: list[SsmtpMailhub] = []
        self.starttls = False
        self.branches: set[str] = set()
        self.heredoc: tuple[str, bool] | None = None
        self.problems: list[Problem] = []

    def feed(self, number: int, tokens: list[str]) -> None:
        words: list[str] = []
        redirects: list[tuple[str, str]] = []
        pending: str | None = None
        for token in tokens:
            if pending is not None:
                redirects.append((pending, token))
                pending = None
            elif token in _SEPARATORS:
                self._command(number, words, redirects)
                words, redirects = [], []
            elif token in _REDIRECTS:
                pending = token
            else:
                words.append(token)
        self._command(number, words, redirects)

    def _command(self, number: int, words: list[str], redirects: list[tuple[str, str]]) -> None:
        for operator, target in redirects:
            if operator in ("<<", "<<-"):
                self.heredoc = (target, operator == "<<-")
        start = 0
        while start < len(words) and words[start] in _KEYWORDS:
            self._keyword(number, words[start])
            start += 1
        while start < len(words) and (
            _ASSIGNMENT.fullmatch(words[start]) or words[start] in _PREFIXES
        ):
            start += 1
        command = words[start:]
        if not command:
            return
        top = self.frames[-1] if self.frames else None
        if top is not None and top.in_condition:
            top.condition.extend(command)
            if top.kind != "if":
                return  # a loop's list of words (for x in …) is not a command
        self._classify(number, command, redirects)

    def _keyword(self, number: int, keyword: str) -> None:
        top = self.frames[-1] if self.frames else None
        if keyword == "if":
            self.frames.append(_Frame("if"))
        elif keyword in ("while", "until", "for"):
            self.frames.append(_Frame("loop"))
        elif keyword in ("then", "do") and top is not None:
            top.in_condition = False
            if keyword == "then" and top.kind == "if":
                top.provider = _provider_test(top.condition)
                for word in top.condition:
                    for util in ("sendemail", "ssmtp"):
                        if f"EMAILUTIL:{util}" in word:
                            self.branches.add(util)
        elif keyword == "elif" and top is not None:
            top.in_condition, top.provider, top.condition = True, None, []
        elif keyword == "else" and top is not None:
            top.provider = None
        elif keyword in ("fi", "done"):
            if top is not None and (top.kind == "if") == (keyword == "fi"):
                self.frames.pop()
            else:
                self.problems.append(Problem(f"line {number}: '{keyword}' closes no open block"))

    def _provider_now(self) -> int | None:
        for frame in reversed(self.frames):
            if frame.kind == "if" and not frame.in_condition and frame.provider is not None:
                return frame.provider
        return None

    def _classify(self, number: int, words: list[str], redirects: list[tuple[str, str]]) -> None:
        name = words[0].rsplit("/", 1)[-1]
        if name not in ("echo", "printf") and len(words) > 1 and words[-1] in _BLOCK_ENDS:
            self.problems.append(
                Problem(
                    f"line {number}: '{words[-1]}' follows a command on the same line, so sh "
                    "passes it to the command instead of closing the block",
                    fatal=False,
                )
            )
        if name in SENDEMAIL_NAMES:
            call, problems = _read_sendemail(number, words[1:], self._provider_now())
            self.calls.append((self.frames[0] if self.frames else None, call))
            self.problems.extend(problems)
        elif name in ("echo", "printf") and any(
            operator in (">", ">>", ">|") and target.rsplit("/", 1)[-1] == "ssmtp.conf"
            for operator, target in redirects
        ):
            self._ssmtp_lines(number, words[1:])

    def _ssmtp_lines(self, number: int, arguments: list[str]) -> None:
        for argument in arguments:
            key, eq, value = argument.partition("=")
            if eq and key.lower() == "mailhub":
                host, port, _problem = _host_port(value)
                self.mailhubs.append(SsmtpMailhub(self._provider_now(), host, port, number))
            elif eq and key.lower() == "usestarttls" and value.lower() == "yes":
                self.starttls = True

    def result(self) -> SystemMailScript:
        stranded = self.frames[0] if self.frames else None
        calls = tuple(
            replace(call, in_unterminated_block=True)
            if stranded is not None and outer is stranded
            else call
            for outer, call in self.calls
        )
        problems = list(self.problems)
        if self.frames:
            problems.append(
                Problem(
                    f"the script ends inside {len(self.frames)} unclosed block(s): sh stops "
                    "with a syntax error and never runs the outermost one"
                )
            )
        return SystemMailScript(
            sendemail=calls,
            ssmtp_mailhubs=tuple(self.mailhubs),
            ssmtp_starttls_appended=self.starttls,
            uses_sendemail_branch="sendemail" in self.branches,
            uses_ssmtp_branch="ssmtp" in self.branches,
            unclosed_blocks=len(self.frames),
            problems=tuple(problems),
        )


def _provider_test(condition: list[str]) -> int | None:
    """N from a ``"${EMAIL_PROVIDER}" = "N"`` test among a condition's words."""
    for index in range(len(condition) - 2):
        left, operator, right = condition[index : index + 3]
        if operator not in ("=", "==", "-eq"):
            continue
        for variable, number in ((left, right), (right, left)):
            if _PROVIDER_VARIABLE.fullmatch(variable) and (code := digits(number)) is not None:
                return code
    return None


def _read_sendemail(
    number: int, arguments: list[str], provider: int | None
) -> tuple[SendEmailCall, list[Problem]]:
    """One sendemail invocation, read as sendEmail 1.56 reads its arguments."""
    problems: list[Problem] = []
    host: str | None = None
    port: int | None = None
    tls: str | None = None
    server_given = password_given = user_is_variable = False
    password: str | None = None
    user = ""
    index = 0
    while index < len(arguments):
        option = arguments[index]
        value = arguments[index + 1] if index + 1 < len(arguments) else None
        if option == "-o":  # -o key=value [key=value …] up to the next option
            index += 1
            while index < len(arguments) and not arguments[index].startswith("-"):
                key, _eq, setting = arguments[index].partition("=")
                if key.lower() == "tls":
                    tls = setting.lower()
                elif key.lower() == "password":
                    password_given, password = True, setting
                elif key.lower() == "username":
                    user, user_is_variable = setting, _is_expansion(setting)
                index += 1
            continue
        if option == "-s":
            server_given = True
            if value is None or value.startswith("-"):
                problems.append(Problem(f"line {number}: -s has no server"))
            else:
                host, port, problem = _host_port(value)
                if problem:
                    problems.append(Problem(f"line {number}: the -s server {problem}"))
        elif option == "-xp":
            password_given, password = True, value
            if value is None:
                problems.append(Problem(f"line {number}: -xp has no value"))
        elif option == "-xu":
            user, user_is_variable = value or "", value is not None and _is_expansion(value)
        index += 2 if option in ("-s", "-xp", "-xu") else 1
    if not server_given:
        problems.append(
            Problem(f"line {number}: sendemail without -s sends to localhost:25", fatal=False)
        )
    literal = Secret(password) if password and not _is_expansion(password) else None
    REDACTOR.register(literal, [] if user_is_variable else [user])
    call = SendEmailCall(
        line=number,
        provider_code=provider,
        server_host=host,
        server_port=port,
        tls=tls,
        password_on_command_line=password_given,
        password_literal=literal,
        username_argument_is_variable=user_is_variable,
    )
    return call, problems


def _host_port(text: str) -> tuple[str | None, int | None, str | None]:
    """``host[:port]`` or ``[v6]:port`` as host, port and a problem (or None)."""
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            return None, None, "has an unclosed or misplaced ']'"
        port_text = rest[1:] if rest else None
    elif text.count(":") > 1:
        return text, None, "is an IPv6 address without brackets"
    else:
        host, colon, port_text_ = text.partition(":")
        port_text = port_text_ if colon else None
    if port_text is None:
        return host or None, None, None
    try:
        return host or None, parse_port(port_text, "-s"), None
    except ConfigError:
        return host or None, None, "has a port that is not a number from 1 to 65535"
