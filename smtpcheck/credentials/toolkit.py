"""The toolkit's own settings files on gen C/D servers: ``webserver_configuration_settings.dat``
and ``application.dat`` (reference/adt-toolkit.md, "Where gen C/D servers keep the SMTP
credentials").

Both are ``KEY:value`` lines. The toolkit reads a setting with ``grep "^KEY:"`` and then
``cut -d: -f2-`` (gens C/D: everything after the first ``:``) or, in gens A/B, ``awk -F:
'{print $NF}'`` (the last ``:``-separated field). A lone CR ends a line here too, as in
:mod:`smtpcheck.credentials.labelled`, so that no value can hold the rest of the file.

Pure parsers: problems are data and never quote a line's text, since any line may hold the
password. The system-mail files (``SendEmail.sh``, ``ssmtp.conf``) are in
:mod:`smtpcheck.credentials.sysmail`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from smtpcheck.credentials.labelled import CRLF_PROBLEM, Problem, split_lines
from smtpcheck.secrets import REDACTOR, Secret

SYSTEMFROMEMAILADDRESS = "SYSTEMFROMEMAILADDRESS"
SYSTEMTOEMAILADDRESS = "SYSTEMTOEMAILADDRESS"
EMAILUSERNAME = "EMAILUSERNAME"
EMAILPASSWORD = "EMAILPASSWORD"
EMAILPROVIDER = "EMAILPROVIDER"
EMAILNOTIFICATIONLEVEL = "EMAILNOTIFICATIONLEVEL"
EMAILUTIL = "EMAILUTIL"
SETTINGS_KEYS = (
    SYSTEMFROMEMAILADDRESS,
    SYSTEMTOEMAILADDRESS,
    EMAILUSERNAME,
    EMAILPASSWORD,
    EMAILPROVIDER,
    EMAILNOTIFICATIONLEVEL,
    EMAILUTIL,
)
PROVIDER_CODES = ("1", "2", "3")
NOTIFICATION_LEVELS = ("INFO", "ERROR", "MANDATORY")

INDIVIDUAL_SETTING = "INDIVIDUAL_SETTING"
WEBROOT_DIRECTORY = "WEBROOT_DIRECTORY"
CONFIG_FILE = "CONFIG_FILE"
SMTPPASS = "smtppass"
# The Joomla mail settings the toolkit may place in application.dat. A fixed vocabulary: only
# these names are kept or named in a problem, so no mistyped line can put its text in either.
MAIL_SETTINGS = frozenset(
    {
        "mailer",
        "mailfrom",
        "fromname",
        "replyto",
        "replytoname",
        "smtpauth",
        "smtpuser",
        SMTPPASS,
        "smtphost",
        "smtpport",
        "smtp_port",
        "smtpsecure",
    }
)
# What the build machine leaves when its sed fails (an SES password with '/').
_PLACEHOLDER = re.compile(r"XXXX[A-Z0-9_]+XXXX")


@dataclass(frozen=True)
class ToolkitSettings:
    """``webserver_configuration_settings.dat``: the keys smtpcheck cares about."""

    values: Mapping[str, str]  # keys of interest but EMAILPASSWORD: the value after the first ':'
    password: Secret | None = field(repr=False)  # gens C/D: after the first ':'
    password_last_field: Secret | None = field(repr=False)  # gens A/B: after the last ':'
    found: tuple[str, ...] = ()  # keys of interest present (EMAILPASSWORD too), in file order
    duplicates: tuple[str, ...] = ()  # keys of interest on more than one line
    problems: tuple[Problem, ...] = ()

    @property
    def has_smtp_values(self) -> bool:
        return bool(self.found)

    @property
    def has_colon_in_password(self) -> bool:
        """Gens A/B would have read a different (truncated) password from this file."""
        first, last = self.password, self.password_last_field
        if first is None or last is None:
            return (first is None) != (last is None)
        return not first.matches(last)


def parse_settings_dat(text: str) -> ToolkitSettings:
    """Parse ``webserver_configuration_settings.dat``. Pure; problems are reported, not raised.

    A key on two lines is reported and its first line kept: the toolkit's grep returns both
    lines, so the shell variable then holds two lines, and neither reading is what it uses."""
    problems: list[Problem] = []
    if "\r" in text:
        problems.append(Problem(CRLF_PROBLEM, fatal=False))
    values: dict[str, str] = {}
    found: list[str] = []
    duplicates: list[str] = []
    raw_password: str | None = None
    for number, line in enumerate(split_lines(text), start=1):
        key, sep, value = line.partition(":")
        if not sep or key not in SETTINGS_KEYS:
            continue
        if key in found:
            if key not in duplicates:
                duplicates.append(key)
            problems.append(Problem(f"line {number}: {key} appears again (grep reads both lines)"))
            continue
        found.append(key)
        if key == EMAILPASSWORD:
            raw_password = value
        else:
            values[key] = value
    problems.extend(_settings_value_problems(values, raw_password))
    password = Secret(raw_password) if raw_password else None
    last = raw_password.rpartition(":")[2] if raw_password else ""
    password_last_field = Secret(last) if last else None
    users = [values.get(EMAILUSERNAME, "")]
    REDACTOR.register(password, users)
    REDACTOR.register(password_last_field, users)
    return ToolkitSettings(
        values=values,
        password=password,
        password_last_field=password_last_field,
        found=tuple(found),
        duplicates=tuple(duplicates),
        problems=tuple(problems),
    )


def _settings_value_problems(values: Mapping[str, str], password: str | None) -> list[Problem]:
    problems: list[Problem] = []
    mail_wanted = bool(values.get(EMAILUSERNAME) or values.get(EMAILPROVIDER))
    if password == "":
        # Fatal only where system mail is configured: without it no password is expected.
        problems.append(Problem("EMAILPASSWORD is empty", fatal=mail_wanted))
    for key, text in ((EMAILUSERNAME, values.get(EMAILUSERNAME, "")), (EMAILPASSWORD, password)):
        if text and any(char.isspace() for char in text):
            problems.append(
                Problem(
                    f"{key} contains whitespace: SendEmail.sh passes it unquoted, "
                    "so sendemail receives only part of it",
                    fatal=False,
                )
            )
    provider = values.get(EMAILPROVIDER, "")
    if provider and provider not in PROVIDER_CODES:
        problems.append(Problem("EMAILPROVIDER is not 1, 2 or 3", fatal=False))
    level = values.get(EMAILNOTIFICATIONLEVEL, "")
    if level and level not in NOTIFICATION_LEVELS:
        problems.append(
            Problem("EMAILNOTIFICATIONLEVEL is not INFO, ERROR or MANDATORY", fatal=False)
        )
    return problems


@dataclass(frozen=True)
class ApplicationDat:
    """``application.dat``: Joomla's mail settings, its webroot and its configuration file."""

    smtp: Mapping[str, str]  # INDIVIDUAL_SETTING mail settings but smtppass, quotes removed
    smtppass: Secret | None = field(repr=False)
    webroot: str | None = None  # WEBROOT_DIRECTORY, only if absolute and without '..'
    config_file: str | None = None  # CONFIG_FILE, likewise
    placeholders: tuple[str, ...] = ()  # mail settings still holding a build placeholder
    problems: tuple[Problem, ...] = ()


def parse_application_dat(text: str) -> ApplicationDat:
    """Parse ``application.dat``. Pure; problems are reported, not raised.

    An INDIVIDUAL_SETTING given twice keeps the later value: the build's sed rewrites the line
    once per setting, so the last one is what lands in ``configuration.php``."""
    problems: list[Problem] = []
    if "\r" in text:
        problems.append(Problem(CRLF_PROBLEM, fatal=False))
    settings: dict[str, str] = {}
    paths: dict[str, str | None] = {}
    for number, line in enumerate(split_lines(text), start=1):
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        if key == INDIVIDUAL_SETTING:
            problems.extend(_read_setting(number, rest, settings))
        elif key in (WEBROOT_DIRECTORY, CONFIG_FILE):
            if key in paths:
                problems.append(Problem(f"line {number}: {key} appears again", fatal=False))
                continue
            paths[key] = _safe_path(rest)
            if paths[key] is None:
                problems.append(
                    Problem(f"line {number}: {key} is not an absolute path without '..'")
                )
    raw_pass = settings.pop(SMTPPASS, None)
    smtppass = Secret(raw_pass) if raw_pass else None
    REDACTOR.register(smtppass, [settings.get("smtpuser", "")])
    placeholders = [name for name, value in settings.items() if _PLACEHOLDER.fullmatch(value)]
    if raw_pass is not None and _PLACEHOLDER.fullmatch(raw_pass):
        placeholders.append(SMTPPASS)
    for name in placeholders:
        problems.append(Problem(f"INDIVIDUAL_SETTING {name} is still the build's placeholder"))
    if raw_pass is not None and ":" in raw_pass:
        problems.append(
            Problem(
                "INDIVIDUAL_SETTING smtppass contains ':', which splits it when the build "
                "writes configuration.php (gens C main and D)",
                fatal=False,
            )
        )
    return ApplicationDat(
        smtp=settings,
        smtppass=smtppass,
        webroot=paths.get(WEBROOT_DIRECTORY),
        config_file=paths.get(CONFIG_FILE),
        placeholders=tuple(placeholders),
        problems=tuple(problems),
    )


def _read_setting(number: int, rest: str, settings: dict[str, str]) -> list[Problem]:
    """One ``INDIVIDUAL_SETTING:name=value`` line into ``settings``; its problems."""
    name, eq, raw = rest.partition("=")
    name = name.strip()
    if not eq or name not in MAIL_SETTINGS:
        return []  # not a mail setting (cache_handler, sef, …): not ours to judge
    problems: list[Problem] = []
    value, balanced = _unquote(raw.strip())
    if not balanced:
        problems.append(Problem(f"line {number}: INDIVIDUAL_SETTING {name} has unbalanced quotes"))
    if name in settings:
        problems.append(
            Problem(
                f"line {number}: INDIVIDUAL_SETTING {name} appears again; the later one applies",
                fatal=False,
            )
        )
    settings[name] = value
    return problems


def _unquote(raw: str) -> tuple[str, bool]:
    """``raw`` without one pair of matching quotes, and whether its quotes balance."""
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "'\"":
        return raw[1:-1], True
    if raw and (raw[0] in "'\"" or raw[-1] in "'\""):
        return raw, False
    return raw, True


def _safe_path(value: str) -> str | None:
    """``value`` if it is an absolute POSIX path without '..' or control characters."""
    if not value.startswith("/") or any(ord(char) < 32 or ord(char) == 127 for char in value):
        return None
    if ".." in PurePosixPath(value).parts:
        return None
    return value
