"""Waivers, with InSpec's semantics: an accepted, justified, dated exception for one control on
some targets.

A waived finding is still evaluated (unless ``run = false``) and shown with its waiver; it does
not gate the exit status until the waiver expires. An expired waiver is reported and waives
nothing. A waiver file is checked whole before the audit starts: a malformed file, a waiver
without justification or expiry, or one naming an unknown control is a usage error (exit 2).

The file is TOML::

    [[waiver]]
    control = "DNS-05"            # a control id
    target = "*.example.org"      # a target name, or a glob (fnmatch, case-sensitive)
    justification = "DMARC moves to p=reject after the March migration (CHG-1042)"
    expires = 2027-03-31          # the last day it waives (UTC)
    run = true                    # false: do not evaluate it at all
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smtpcheck.catalogue import CONTROLS
from smtpcheck.errors import ConfigError
from smtpcheck.findings import Finding
from smtpcheck.providers import parse_toml, read_input_file

_KEYS = ("control", "target", "justification", "expires", "run")
MAX_WAIVERS = 10_000


@dataclass(frozen=True)
class Waiver:
    control: str
    target: str
    justification: str
    expires: dt.date  # inclusive: the waiver holds through this day (UTC)
    run: bool = True
    where: str = ""  # "waivers.toml: waiver 3", for messages

    def matches(self, control_id: str, target: str) -> bool:
        return control_id == self.control and fnmatch.fnmatchcase(target, self.target)

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def to_dict(self, today: dt.date) -> dict[str, Any]:
        return {
            "control": self.control,
            "target": self.target,
            "justification": self.justification,
            "expires": self.expires.isoformat(),
            "run": self.run,
            "expired": self.expired(today),
        }


@dataclass(frozen=True)
class AppliedWaiver:
    """The waiver that covers one finding, and whether it still waives."""

    waiver: Waiver
    expired: bool

    @property
    def active(self) -> bool:
        return not self.expired

    def label(self) -> str:
        state = "expired" if self.expired else "waived"
        return f"{state} {self.waiver.expires.isoformat()}: {self.waiver.justification}"


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        raise ConfigError(f"{where}: expires must be a date (2027-03-31), not a date and time")
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise ConfigError(f"{where}: expires must be a date such as 2027-03-31")


def _waiver(entry: object, where: str) -> Waiver:
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: must be a table ([[waiver]])")
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise ConfigError(
            f"{where}: unknown key(s) {', '.join(map(repr, unknown))}; valid: {', '.join(_KEYS)}"
        )
    for key in ("control", "target", "justification", "expires"):
        if key not in entry:
            raise ConfigError(f"{where}: {key} is required")
    for key in ("control", "target", "justification"):
        if not isinstance(entry[key], str) or not entry[key].strip():
            raise ConfigError(f"{where}: {key} must be a non-empty string")
    control = entry["control"].strip().upper()
    if control not in CONTROLS:
        raise ConfigError(
            f"{where}: unknown control {entry['control'][:40]!r} (smtpcheck controls)"
        )
    run = entry.get("run", True)
    if not isinstance(run, bool):
        raise ConfigError(f"{where}: run must be true or false")
    return Waiver(
        control=control,
        target=entry["target"].strip(),
        justification=" ".join(entry["justification"].split()),
        expires=_date(entry["expires"], where),
        run=run,
        where=where,
    )


def parse_waivers(text: str, source: str) -> tuple[Waiver, ...]:
    data = parse_toml(text, source)
    unknown = sorted(set(data) - {"waiver"})
    if unknown:
        raise ConfigError(
            f"{source}: unknown table(s) {', '.join(map(repr, unknown))}; waivers are [[waiver]]"
        )
    entries = data.get("waiver", [])
    if not isinstance(entries, list):
        raise ConfigError(f"{source}: waiver must be an array of tables ([[waiver]])")
    if len(entries) > MAX_WAIVERS:
        raise ConfigError(f"{source}: more than {MAX_WAIVERS} waivers")
    return tuple(_waiver(entry, f"{source}: waiver {n}") for n, entry in enumerate(entries, 1))


def load_waivers(path: Path) -> tuple[Waiver, ...]:
    return parse_waivers(read_input_file(path, "waivers"), str(path))


def today_utc() -> dt.date:
    """The date waivers are judged on (one place, so that tests can freeze it)."""
    return dt.datetime.now(dt.UTC).date()


def waiver_for(
    waivers: Sequence[Waiver], control_id: str, target: str, today: dt.date
) -> AppliedWaiver | None:
    """The waiver covering (``control_id``, ``target``): an active one if any, else the first
    expired one (shown so that the lapse is seen), else None."""
    matching = [w for w in waivers if w.matches(control_id, target)]
    active = [w for w in matching if not w.expired(today)]
    if active:
        return AppliedWaiver(active[0], expired=False)
    return AppliedWaiver(matching[0], expired=True) if matching else None


def apply_waivers(
    findings: Iterable[Finding], waivers: Sequence[Waiver], today: dt.date
) -> dict[tuple[str, str], AppliedWaiver]:
    """Each finding's waiver, keyed by (control id, target)."""
    applied = {}
    for finding in findings:
        found = waiver_for(waivers, finding.control_id, finding.target, today)
        if found is not None:
            applied[finding.key] = found
    return applied
