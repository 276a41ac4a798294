"""``/etc/ssmtp/ssmtp.conf``, read as ssmtp 2.64 reads it (``read_config``).

The toolkit's ``SendEmail.sh`` appends ``mailhub=``, ``AuthUser=``, ``AuthPass=`` and
``UseSTARTTLS=YES`` to Debian's default file, which already has ``mailhub=mail``
(reference/adt-toolkit.md). ssmtp's rules: ``#`` starts a comment anywhere on a line, a line
without ``=`` is skipped, the key and value are ``strtok`` tokens (the value stops at ``=``,
blank, tab or ``:``, so a password holding one of them, or ``#``, is cut short), keys are
case-insensitive, a later ``mailhub``/``UseTLS``/``UseSTARTTLS`` wins but the *first*
``AuthUser``, ``AuthPass`` and ``AuthMethod`` win ("command-line overrides these"),
``UseSTARTTLS=YES`` also sets ``use_tls`` and ``UseTLS=NO`` also clears STARTTLS. Lines end at
LF only, as for ``fgets``: a CR stays in the value.

Pure parser: problems never quote a line's text, and the password stays in a Secret.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from smtpcheck.credentials.labelled import Problem
from smtpcheck.providers import digits
from smtpcheck.secrets import REDACTOR, Secret


@dataclass(frozen=True)
class SsmtpConf:
    """What ssmtp takes from ``/etc/ssmtp/ssmtp.conf``."""

    mailhub_host: str | None = None  # the last mailhub (None: ssmtp's default "mailhub")
    mailhub_port: int | None = None  # None: never set, so 25
    auth_user: str | None = None  # the first AuthUser
    auth_pass: Secret | None = field(repr=False, default=None)  # the first AuthPass, as read
    use_tls: bool = False  # ssmtp's use_tls: set by UseTLS=YES and by UseSTARTTLS=YES
    use_starttls: bool = False
    auth_method: str | None = None
    mailhub_lines: int = 0
    auth_pass_truncated: bool = False  # ssmtp reads less than the line holds (':', '#', ' ')
    problems: tuple[Problem, ...] = ()

    @property
    def tls_mode(self) -> Literal["none", "implicit", "starttls"]:
        if self.use_starttls:
            return "starttls"
        return "implicit" if self.use_tls else "none"


def _strtok(text: str, position: int, delimiters: str) -> tuple[str | None, int]:
    """C's ``strtok``: the next token from ``position`` and where the one after starts."""
    while position < len(text) and text[position] in delimiters:
        position += 1
    if position >= len(text):
        return None, len(text)
    end = position
    while end < len(text) and text[end] not in delimiters:
        end += 1
    return text[position:end], end + 1


def _atoi(text: str) -> int:
    """C's atoi; a number too long for any port reads as -1 (out of range, a problem)."""
    match = re.match(r"[ \t]*([+-]?)([0-9]+)", text)
    if match is None:
        return 0
    value = digits(match.group(2))
    if value is None:
        return -1
    return -value if match.group(1) == "-" else value


def parse_ssmtp_conf(text: str) -> SsmtpConf:
    """Parse ``ssmtp.conf`` as ssmtp 2.64 does. Pure; problems are reported, not raised."""
    reader = _SsmtpReader()
    if "\r" in text:
        reader.problems.append(
            Problem("lines end in CR LF: ssmtp keeps the CR in each value", fatal=False)
        )
    # fgets splits at LF only: a CR stays in the line, as it does for ssmtp.
    for number, raw in enumerate(text.split("\n"), start=1):
        reader.line(number, raw)
    return reader.result()


class _SsmtpReader:
    """ssmtp's ``read_config`` state: one global per setting, set line by line."""

    def __init__(self) -> None:
        self.found: dict[str, str | None] = {"mailhub": None, "authuser": None, "authmethod": None}
        self.port: int | None = None
        self.use_tls = False
        self.use_starttls = False
        self.secrets: list[str] = []  # AuthPass as ssmtp reads it, then as the line holds it
        self.counts = {"mailhub": 0, "authuser": 0, "authpass": 0}
        self.problems: list[Problem] = []

    def line(self, number: int, raw: str) -> None:
        line = raw.split("#", 1)[0]
        if "=" not in line:
            return
        key, position = _strtok(line, 0, "= \t")
        value, position = _strtok(line, position, "= \t:")
        if key is None or value is None:
            return
        key = key.lower() if key.isascii() else key
        yes = value.isascii() and value.lower() == "yes"
        if key in self.counts:
            self.counts[key] += 1
        if key == "mailhub":
            self._mailhub(number, value, _strtok(line, position, "= \t:")[0])
        elif key == "remoteport":
            self._set_port(number, value)
        elif key == "usetls":  # UseTLS=NO also turns STARTTLS off
            self.use_tls, self.use_starttls = yes, self.use_starttls and yes
        elif key == "usestarttls":  # UseSTARTTLS=YES also sets use_tls
            self.use_starttls, self.use_tls = yes, self.use_tls or yes
        elif key in ("authuser", "authmethod") and self.found[key] is None:
            self.found[key] = value
        elif key == "authpass" and not self.secrets:
            self.secrets = [value, raw.partition("=")[2].strip(" \t")]

    def _mailhub(self, number: int, host: str, port: str | None) -> None:
        self.found["mailhub"] = host
        if host.startswith("["):
            self.problems.append(
                Problem(f"line {number}: ssmtp cannot read an IPv6 mailhub (it splits at ':')")
            )
        elif port is not None and not port.rstrip("\r").isdigit():
            self.problems.append(Problem(f"line {number}: the mailhub port is not a number"))
        if port is not None:
            self._set_port(number, port)

    def _set_port(self, number: int, text: str) -> None:
        """ssmtp's atoi of the port; a number outside 1..65535 is a problem, not a port to dial
        (text that is no number at all gives atoi's 0, or the mailhub's own problem)."""
        self.port = _atoi(text)
        if re.fullmatch(r"[ \t]*[+-]?[0-9]+\r?", text) and not 0 < self.port < 65536:
            self.problems.append(Problem(f"line {number}: the port is not from 1 to 65535"))

    def result(self) -> SsmtpConf:
        for key, label in (("authuser", "AuthUser"), ("authpass", "AuthPass")):
            if self.counts[key] > 1:
                self.problems.append(
                    Problem(
                        f"{label} is set {self.counts[key]} times; ssmtp uses the first",
                        fatal=False,
                    )
                )
        user = self.found["authuser"]
        for secret in self.secrets:
            REDACTOR.register(Secret(secret), [user or ""])
        return SsmtpConf(
            mailhub_host=self.found["mailhub"],
            mailhub_port=self.port,
            auth_user=user,
            auth_pass=Secret(self.secrets[0]) if self.secrets else None,
            use_tls=self.use_tls,
            use_starttls=self.use_starttls,
            auth_method=self.found["authmethod"],
            mailhub_lines=self.counts["mailhub"],
            auth_pass_truncated=bool(self.secrets) and self.secrets[0] != self.secrets[1],
            problems=tuple(self.problems),
        )
