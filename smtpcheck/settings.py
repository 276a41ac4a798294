"""The build-time settings a deployment was made with: the toolkit's SYSTEM_EMAIL_* variables.

Read, in increasing precedence, from an ADT template / ``build_environment`` file, the config
file's ``[expected]`` table, the process environment and command-line options (SPEC §1). Each
value remembers where it came from, so that a finding can say "expected (from environment)".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from smtpcheck.errors import ConfigError
from smtpcheck.providers import Provider, ProviderCatalogue
from smtpcheck.secrets import REDACTOR, Secret

PROVIDER = "SYSTEM_EMAIL_PROVIDER"
FROM_ADDRESS = "SYSTEM_FROMEMAIL_ADDRESS"
TO_ADDRESS = "SYSTEM_TOEMAIL_ADDRESS"
USERNAME = "SYSTEM_EMAIL_USERNAME"
PASSWORD = "SYSTEM_EMAIL_PASSWORD"  # noqa: S105 (the variable's name, not a password)
VARIABLES = (PROVIDER, FROM_ADDRESS, TO_ADDRESS, USERNAME, PASSWORD)  # canonical names

# Every spelling accepted for each variable, in generation order (reference: adt-toolkit.md): gen D
# renamed the two address variables. Within one layer (one template, environment or config table)
# the latest generation's spelling wins when several are given; keys stay canonical.
SPELLINGS: Mapping[str, tuple[str, ...]] = {
    PROVIDER: (PROVIDER,),
    FROM_ADDRESS: (FROM_ADDRESS, "SYSTEM_FROM_EMAIL_ADDRESS"),
    TO_ADDRESS: (TO_ADDRESS, "SYSTEM_TO_EMAIL_ADDRESS"),
    USERNAME: (USERNAME,),
    PASSWORD: (PASSWORD,),
}
ACCEPTED_NAMES = tuple(spelling for name in VARIABLES for spelling in SPELLINGS[name])
_CANONICAL = {spelling: name for name in VARIABLES for spelling in SPELLINGS[name]}

# `export NAME="value"  # comment`, `NAME='value'`, `NAME=value` (shell assignment forms). As in
# sh, `#` starts a comment only at the start of a word: `NAME=a#b` is the value `a#b`, and
# `NAME="a"#b` is not a plain assignment. Unquoted backslashes are refused, not interpreted.
_ASSIGNMENT = re.compile(
    r"""^\s*(?:export\s+)?(?P<name>[A-Za-z_][A-Za-z0-9_]*)=
        (?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|(?:[^\s"'#;\\][^\s"';\\]*)?)
        (?:\s+\#.*)?\s*$""",
    re.VERBOSE,
)
_EXPANSION = (
    "the value uses shell expansion ($ or `), which smtpcheck does not perform; "
    "write it in single quotes"
)
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass(frozen=True)
class Setting:
    """A raw value and where it came from (``environment``, ``config FILE``, ...).

    ``name`` is the spelling the value was given under (see :data:`SPELLINGS`); None means the
    canonical name, the key the setting is stored under.
    """

    value: str
    source: str
    name: str | None = None


@dataclass(frozen=True)
class Expected:
    """The build-time settings, validated. ``None`` where nothing was given."""

    provider: Provider | None = None
    from_address: str | None = None
    to_address: str | None = None
    username: str | None = None
    password: Secret | None = field(default=None, repr=False)
    sources: Mapping[str, str] = field(default_factory=dict)

    @property
    def from_domain(self) -> str | None:
        if not self.from_address:
            return None
        return self.from_address.rsplit("@", 1)[1].lower()

    @property
    def is_empty(self) -> bool:
        return not any(
            (self.provider, self.from_address, self.to_address, self.username, self.password)
        )


def _unquote(raw: str, where: str) -> str:
    if raw.startswith("'"):
        return raw[1:-1]  # single quotes: literal, as in sh
    if raw.startswith('"'):
        body = raw[1:-1]
        if re.search(r"(?<!\\)(?:\\\\)*[$`]", body):
            raise ConfigError(f"{where}: {_EXPANSION}")
        return re.sub(r"\\([\\\"$`])", r"\1", body)
    if re.search(r"[$`]", raw):  # unquoted: sh would expand it too
        raise ConfigError(f"{where}: {_EXPANSION}")
    return raw


def _pick(name: str, given: Mapping[str, str], source: str) -> Setting:
    """The setting of canonical ``name`` from the raw values of its spellings given in one layer:
    the latest generation's spelling wins, and the source says so unless it is the canonical one
    alone."""
    spellings = [spelling for spelling in SPELLINGS[name] if spelling in given]
    used, ignored = spellings[-1], spellings[:-1]
    if ignored:
        source = f"{source} ({used}; {', '.join(ignored)} also set, ignored)"
    elif used != name:
        source = f"{source} ({used})"
    return Setting(given[used], source, used)


def parse_adt_template(text: str, source: str) -> dict[str, Setting]:
    """The SYSTEM_EMAIL_* assignments of an ADT template or ``build_environment`` file.

    Templates hold many other variables and decorative comment lines; those are ignored. A later
    assignment wins, as when the shell sources the file; but when a variable is assigned under
    two spellings (:data:`SPELLINGS`), the later generation's spelling wins wherever it is. A line
    that mentions one of our variables but is not a plain assignment is an error, never a silent
    guess.
    """
    given: dict[str, dict[str, str]] = {}  # canonical name -> spelling -> last value
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{source}:{number}"
        match = _ASSIGNMENT.match(line)
        if match is None:
            stripped = line.strip()
            mentioned = [spelling for spelling in ACCEPTED_NAMES if spelling in line]
            if stripped.startswith("#") or not mentioned:
                continue
            name = mentioned[0]
            raise ConfigError(f'{where}: cannot read {name}: expected export {name}="value"')
        spelling = match["name"]
        if spelling in _CANONICAL:
            value = _unquote(match["value"], where)
            given.setdefault(_CANONICAL[spelling], {})[spelling] = value
    return {
        name: _pick(name, given[name], f"adt-template {source}")
        for name in VARIABLES
        if name in given
    }


def read_adt_template(path: Path) -> dict[str, Setting]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read ADT template {path}: {exc}") from None
    return parse_adt_template(text, str(path))


def settings_from_mapping(values: Mapping[str, object], source: str) -> dict[str, Setting]:
    """The SYSTEM_EMAIL_* entries of a mapping (environment, config ``[expected]`` table).

    Every spelling of :data:`SPELLINGS` is read (and type-checked); when several are given, the
    later generation's spelling wins. Keys of the result are canonical.
    """
    found: dict[str, Setting] = {}
    for name in VARIABLES:
        given: dict[str, str] = {}
        for spelling in SPELLINGS[name]:
            value = values.get(spelling)
            if value is None:
                continue
            if isinstance(value, int) and not isinstance(value, bool) and name == PROVIDER:
                value = str(value)
            if not isinstance(value, str):
                raise ConfigError(f"{source}: {spelling} must be a string")
            given[spelling] = value
        if given:
            found[name] = _pick(name, given, source)
    return found


def merge_settings(*layers: Mapping[str, Setting]) -> dict[str, Setting]:
    """Later layers win; an empty value counts as given (the toolkit's "no system mail")."""
    merged: dict[str, Setting] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def validate_settings(raw: Mapping[str, Setting], catalogue: ProviderCatalogue) -> Expected:
    """Check each given value; raise ConfigError with a one-line message for the first bad one."""
    values = {name: setting.value.strip() for name, setting in raw.items()}

    def fail(name: str, why: str) -> ConfigError:
        return ConfigError(f"{raw[name].name or name} (from {raw[name].source}): {why}")

    provider = None
    if values.get(PROVIDER):
        provider = catalogue.resolve(values[PROVIDER])
        if provider is None:
            shown = values[PROVIDER][:40]
            raise fail(PROVIDER, f"{shown!r} is not a provider; use {catalogue.describe_choices()}")
    for name in (FROM_ADDRESS, TO_ADDRESS):
        if values.get(name) and not _ADDRESS.match(values[name]):
            raise fail(name, f"{values[name][:80]!r} is not an email address")
    password = None
    if PASSWORD in raw and raw[PASSWORD].value:
        password = Secret(raw[PASSWORD].value)  # not stripped: spaces may be part of a secret
        REDACTOR.register(password, [values.get(USERNAME) or ""])
    return Expected(
        provider=provider,
        from_address=values.get(FROM_ADDRESS) or None,
        to_address=values.get(TO_ADDRESS) or None,
        username=values.get(USERNAME) or None,
        password=password,
        sources={name: setting.source for name, setting in raw.items()},
    )
