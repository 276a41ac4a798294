"""Audits over time: a baseline to diff against, a history of runs, and keyed fingerprints.

Every finding of a run is marked against the previous run (a ``--baseline`` report.json, or the
latest run in ``--history``): **new** (a problem now, not in the baseline or not a problem
there), **fixed** (a problem there, not now), **changed** (status or lasting evidence differ)
or **unchanged**. Evidence that differs on every run (times, queue ids, tokens, transcripts,
ports the connection came from) is not compared.

Password fingerprints are keyed with a local HMAC key (``fingerprint.key`` in the history
directory, or ``--fingerprint-key``; created 0600 on first use), so that two runs with the same
key can tell "password changed" from "unchanged" without either report disclosing anything.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import os
import re
import secrets as _random
import shutil
import stat
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

from smtpcheck.errors import ConfigError
from smtpcheck.findings import STATUS_RANK, Finding, Status
from smtpcheck.providers import read_input_file
from smtpcheck.secrets import Secret

Key = tuple[str, str]  # (control id, target)


class Change(enum.StrEnum):
    NEW = "new"
    FIXED = "fixed"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


# Evidence that differs from run to run without anything having changed on the fleet.
VOLATILE_EVIDENCE = frozenset({
    "timings_ms", "transcript", "started_at", "connect_override", "connected_to", "queue_id",
    "message_id", "token", "accepted_reply", "waited_ms", "latency_ms", "size", "internal_date",
    "certificate_not_after",
})  # fmt: skip
FINGERPRINT_EVIDENCE = ("password_fingerprint", "password")  # compared only under one key
_PROBLEMS = frozenset({Status.FAIL.value, Status.ERROR.value, Status.WARN.value})


@dataclass(frozen=True)
class PastFinding:
    status: str
    evidence: Mapping[str, Any]


@dataclass(frozen=True)
class Baseline:
    """The findings of an earlier run, from its report.json."""

    source: str
    started_at: str
    key_id: str | None  # the fingerprint key it was made with; None: per-run salt
    findings: Mapping[Key, PastFinding]


def is_schema_one(data: object) -> bool:
    """A report.json of schema version 1: the integer 1 (``true`` and ``1.0`` compare equal
    to 1 in Python, and are not what any smtpcheck wrote)."""
    if not isinstance(data, dict):
        return False
    version = data.get("schema_version")
    return type(version) is int and version == 1


def _baseline_error(path: Path, why: str) -> ConfigError:
    return ConfigError(f"--baseline {path}: {why}")


def read_baseline(path: Path) -> Baseline:
    """A report.json of schema 1 as a baseline; anything else is a usage error."""
    text = read_input_file(path, "baseline", limit=64 << 20)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise _baseline_error(path, f"not JSON: {exc}") from None
    if not is_schema_one(data):
        raise _baseline_error(path, "not a smtpcheck report.json (schema_version 1)")
    findings: dict[Key, PastFinding] = {}
    rows = data.get("findings")
    if not isinstance(rows, list):
        raise _baseline_error(path, "its findings are not a list")
    for row in rows:
        if not isinstance(row, dict):
            raise _baseline_error(path, "a finding is not an object")
        control, target, status = row.get("control_id"), row.get("target"), row.get("status")
        evidence = row.get("evidence", {})
        if not (isinstance(control, str) and isinstance(target, str) and isinstance(status, str)):
            raise _baseline_error(path, "a finding lacks control_id, target or status")
        if status not in {s.value for s in Status} or not isinstance(evidence, dict):
            shown = repr(control[:20])  # hostile text: one line, visible
            raise _baseline_error(path, f"a finding of {shown} has a bad status or evidence")
        findings[(control, target)] = PastFinding(status, evidence)
    scope = data.get("scope")
    key = scope.get("fingerprint_key") if isinstance(scope, dict) else None
    started = data.get("started_at")
    return Baseline(
        str(path),
        started if isinstance(started, str) else "?",
        key if isinstance(key, str) else None,
        MappingProxyType(findings),
    )


def _lasting(evidence: Mapping[str, Any], fingerprints: bool) -> dict[str, Any]:
    return {
        key: value
        for key, value in evidence.items()
        if key not in VOLATILE_EVIDENCE and (fingerprints or key not in FINGERPRINT_EVIDENCE)
    }


@dataclass(frozen=True)
class Diff:
    """This run against its baseline."""

    baseline: str
    baseline_started_at: str
    changes: Mapping[Key, Change]
    gone: tuple[Key, ...] = ()  # in the baseline, not evaluated in this run
    credentials: Mapping[Key, str] = field(default_factory=dict)  # "password changed since …"

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys((change.value for change in Change), 0)
        for change in self.changes.values():
            counts[change.value] += 1
        return {**counts, "not_in_this_run": len(self.gone)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "baseline_started_at": self.baseline_started_at,
            "counts": self.counts(),
            "not_in_this_run": [{"control_id": c, "target": t} for c, t in self.gone],
        }


def compare(findings: Iterable[Finding], baseline: Baseline, key_id: str | None) -> Diff:
    """Mark each finding against ``baseline``. Fingerprints are compared only when both runs
    were keyed with the same key (per-run salts make every password look changed)."""
    comparable = key_id is not None and key_id == baseline.key_id
    changes: dict[Key, Change] = {}
    credentials: dict[Key, str] = {}
    seen: set[Key] = set()
    for finding in findings:
        key = finding.key
        seen.add(key)
        past = baseline.findings.get(key)
        now_problem = finding.status.value in _PROBLEMS
        evidence = finding.to_dict()["evidence"]
        if past is None:
            changes[key] = Change.NEW if now_problem else Change.UNCHANGED
            continue
        was_problem = past.status in _PROBLEMS
        if (now_problem and not was_problem) or _worse_now(finding.status.value, past.status):
            changes[key] = Change.NEW
        elif was_problem and not now_problem:
            changes[key] = Change.FIXED
        elif past.status == finding.status.value and _lasting(
            past.evidence, comparable
        ) == _lasting(evidence, comparable):
            changes[key] = Change.UNCHANGED
        else:
            changes[key] = Change.CHANGED
        if comparable:
            note = _credential_note(evidence, past.evidence, baseline.started_at)
            if note:
                credentials[key] = note
    gone = tuple(key for key in baseline.findings if key not in seen)
    return Diff(
        baseline.source,
        baseline.started_at,
        MappingProxyType(changes),
        gone,
        MappingProxyType(credentials),
    )


def _worse_now(now: str, past: str) -> bool:
    """A fail where the baseline had a warn or an error is a new fail (a warn that became a
    fail got worse; an error proved nothing, so the fail was never seen before); a warn where
    it had an error is a new warn. Either way ``--fail-on-new`` must gate on it."""
    if now == Status.FAIL.value:
        return past != Status.FAIL.value
    if now == Status.WARN.value:
        return past not in (Status.FAIL.value, Status.WARN.value)
    return False


def _credential_note(now: Mapping[str, Any], past: Mapping[str, Any], since: str) -> str | None:
    for name in FINGERPRINT_EVIDENCE:
        new, old = now.get(name), past.get(name)
        if isinstance(new, str) and new.startswith("hmac-") and isinstance(old, str):
            state = "unchanged" if new == old else "changed"
            return f"password {state} since the baseline run of {since[:10]}"
    return None


# The history directory -----------------------------------------------------------------------

INDEX = "index.json"
KEY_FILE = "fingerprint.key"
RUN_FILES = ("report.json", "report.html", "junit.xml")


def check_history_dir(path: Path, given: str) -> None:
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{given} {path}: not a directory")
    parent = path if path.exists() else path.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{given} {path}: not writable")
    if path.is_dir():
        try:
            _index(path)
        except ConfigError as exc:
            raise ConfigError(f"{given} {path}: {exc}; move it aside to start afresh") from None


def check_key_file(path: Path) -> Secret | None:
    """The key in ``path`` (hex, as a Secret), or None when it is yet to be made there (its
    directory, or the history directory that will hold it, can be written). Makes nothing."""
    if path.exists() or path.is_symlink():
        return Secret(_read_key(path).hex())
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"fingerprint key {path}: cannot be created ({parent} not writable)")
    return None


def load_or_create_key(path: Path) -> bytes:
    """The local fingerprint key: 32 random bytes, hex, in a file only its owner can read,
    made on first use (and its directory). A key file that others can read or write is
    refused (it would let them test guesses)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except FileExistsError:
        pass
    except OSError as exc:
        raise ConfigError(f"fingerprint key {path}: cannot create: {exc.strerror}") from None
    else:
        with os.fdopen(fd, "w") as out:
            out.write(_random.token_hex(32) + "\n")
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    try:
        info = path.lstat()
    except OSError as exc:
        raise ConfigError(f"fingerprint key {path}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(f"fingerprint key {path}: not a regular file")
    if info.st_mode & 0o077:
        raise ConfigError(
            f"fingerprint key {path}: readable or writable by others "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); chmod 600 it"
        )
    text = read_input_file(path, "fingerprint key", limit=4096).strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ConfigError(f"fingerprint key {path}: not a hex key") from None
    if len(key) < 16:
        raise ConfigError(f"fingerprint key {path}: shorter than 16 bytes")
    return key


def key_id(key: bytes) -> str:
    """Names a key without disclosing it: equal ids, comparable fingerprints."""
    return hmac.new(key, b"smtpcheck fingerprint key id", hashlib.sha256).hexdigest()[:12]


MAX_INDEX_BYTES = 16 << 20
MAX_REPORT_BYTES = 64 << 20
# The names record_run gives run directories; an index entry naming anything else ("..", ".",
# "", a path) is ignored, so that no index can make smtpcheck read outside the history.
_RUN_DIR = re.compile(r"\d{8}T\d{6}Z(?:-\d{1,6})?")


def _index(directory: Path) -> list[Any] | None:
    """The ``runs`` of ``directory/index.json``; None when there is no index yet. A file
    that is there but is no index (not JSON, not ``{"runs": [...]}``, not a regular file, too
    big) is a ConfigError: it would otherwise be read as "no runs" and then overwritten."""
    path = directory / INDEX
    if not (path.exists() or path.is_symlink()):
        return None
    text = read_input_file(path, "history index", limit=MAX_INDEX_BYTES)
    try:
        data = json.loads(text)
    except ValueError:
        raise ConfigError(f"history index {path}: not JSON") from None
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list):
        raise ConfigError(f'history index {path}: not a smtpcheck index ({{"runs": [...]}})')
    return runs


def _runs(directory: Path) -> list[dict[str, Any]]:
    """The index's well-formed entries, oldest first; entries naming anything but a run
    directory are left out. An unreadable index reads as no runs (see :func:`_index`)."""
    try:
        runs = _index(directory) or []
    except ConfigError:
        return []
    return [
        run for run in runs
        if isinstance(run, dict) and isinstance(run.get("dir"), str)
        and _RUN_DIR.fullmatch(run["dir"])
    ]  # fmt: skip


def latest_report(directory: Path) -> Path | None:
    """The report.json of the latest run kept in ``directory``."""
    for run in reversed(_runs(directory)):
        path: Path = directory / str(run["dir"]) / "report.json"
        if path.is_file():
            return path
    return None


def run_dir_name(started_at: datetime) -> str:
    return started_at.strftime("%Y%m%dT%H%M%SZ")


def record_run(directory: Path, started_at: datetime, written: Mapping[str, Path],
               entry: Mapping[str, Any]) -> Path:  # fmt: skip
    """Copy this run's reports to ``directory/<UTC timestamp>/`` and add it to the index."""
    directory.mkdir(parents=True, exist_ok=True)
    name = run_dir_name(started_at)
    run = directory / name
    suffix = 1
    while run.exists():  # two runs in one second
        suffix += 1
        run = directory / f"{name}-{suffix}"
    try:
        kept = _index(directory) or []
    except ConfigError:  # broken since the audit began: keep it beside, never overwrite it
        (directory / INDEX).replace(directory / f"{INDEX}.broken-{run.name}")
        kept = []
    run.mkdir()
    for path in written.values():
        shutil.copy2(path, run / path.name)
    runs = [*kept, {"dir": run.name, **entry}]
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=f".{INDEX}.")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        json.dump({"runs": runs}, out, indent=2)
        out.write("\n")
    Path(temporary).chmod(0o644)
    Path(temporary).replace(directory / INDEX)
    return run


_WORST = {status.value: rank for status, rank in STATUS_RANK.items()}


@dataclass(frozen=True)
class TrendPoint:
    """One past run: when, and each control's worst status over its targets."""

    started_at: str
    statuses: Mapping[str, str]


def worst_statuses(rows: Iterable[tuple[str, str]]) -> dict[str, str]:
    """(control id, status) pairs to each control's worst status."""
    worst: dict[str, str] = {}
    for control, status in rows:
        if status in _WORST and (control not in worst or _WORST[status] < _WORST[worst[control]]):
            worst[control] = status
    return worst


def read_trend(directory: Path, limit: int = 10) -> tuple[TrendPoint, ...]:
    """The last ``limit`` runs kept in ``directory``, oldest first (unreadable ones left out)."""
    points = []
    for run in _runs(directory)[-limit:]:
        path = directory / run["dir"] / "report.json"
        try:
            data = json.loads(read_input_file(path, "report", limit=MAX_REPORT_BYTES))
            rows = [(str(f["control_id"]), str(f["status"])) for f in data["findings"]]
            started = str(data["started_at"])
        except (ConfigError, ValueError, KeyError, TypeError):  # a FIFO is refused, not read
            continue
        points.append(TrendPoint(started, MappingProxyType(worst_statuses(rows))))
    return tuple(points)
