"""``smtpcheck merge``: the reports of ``--shard K/N`` runs (a CI matrix) as one audit.

Every shard 1…N must be there exactly once, all of one N, each a complete report.json of
schema 1; anything else is a usage error (exit 2), so a lost CI job can never make a merged
report look whole. A finding that two shards both made (a sending domain their hosts share)
is kept once, the worse of the two. The exit status is decided again, from the merged
findings, with the gate the shards ran with.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from smtpcheck.catalogue import Layer
from smtpcheck.choices import MAX_SHARDS
from smtpcheck.errors import ConfigError
from smtpcheck.findings import FAIL_ON, STATUS_RANK, Finding, Severity, Status
from smtpcheck.history import Change, Diff, Key, is_schema_one
from smtpcheck.providers import read_input_file
from smtpcheck.result import AuditResult
from smtpcheck.scope import DomainScope, HostScope, RelayScope, Scope
from smtpcheck.waivers import Waiver

_SHARD = re.compile(r"([1-9][0-9]{0,3})/([1-9][0-9]{0,3})")  # as str(Shard) writes it
_DEFAULT_GATE = "any fail or error"  # report.json's fail_on without --fail-on
_FINDING_TEXTS = ("control_id", "target", "summary")
# tuples, not sets: a hostile value may be a list, which a set cannot be asked about
_STATUSES = tuple(status.value for status in Status)
_SEVERITIES = tuple(severity.value for severity in Severity)
_CHANGES = tuple(change.value for change in Change)


@dataclass(frozen=True)
class ShardReport:
    path: Path
    index: int
    count: int
    data: Mapping[str, Any]


def _report_path(given: Path) -> Path:
    return given / "report.json" if given.is_dir() else given


def read_shard(given: Path) -> ShardReport:
    path = _report_path(given)
    text = read_input_file(path, "shard report", limit=256 << 20)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from None
    if not is_schema_one(data):
        raise ConfigError(f"{path}: not a smtpcheck report.json (schema_version 1)")
    scope = data.get("scope")
    shard = scope.get("shard") if isinstance(scope, dict) else None
    if not isinstance(shard, str) or "/" not in shard:
        raise ConfigError(f"{path}: not the report of a --shard K/N run")
    matched = _SHARD.fullmatch(shard)
    if matched is None:
        raise ConfigError(f"{path}: shard {shard[:20]!r} is not K/N")
    index, count = int(matched[1]), int(matched[2])
    if not index <= count <= MAX_SHARDS:
        raise ConfigError(f"{path}: shard {shard}: K must be 1 to N, N at most {MAX_SHARDS}")
    if data.get("complete") is not True:
        raise ConfigError(f"{path}: shard {shard} did not complete; run it again")
    if not isinstance(data.get("findings"), list):
        raise ConfigError(f"{path}: its findings are not a list")
    if not data["findings"]:  # a run that evaluated nothing writes no report at all
        raise ConfigError(f"{path}: shard {shard} has no findings; run it again")
    fail_on = data.get("fail_on")
    if fail_on not in (None, _DEFAULT_GATE, *FAIL_ON):
        raise ConfigError(f"{path}: fail_on {str(fail_on)[:20]!r} is not a --fail-on value")
    return ShardReport(path, index, count, data)


def check_complete(shards: Sequence[ShardReport]) -> None:
    counts = {shard.count for shard in shards}
    if len(counts) != 1:
        raise ConfigError(f"the reports come from different splits: N = {sorted(counts)}")
    count = counts.pop()
    seen: dict[int, Path] = {}
    for shard in shards:
        if shard.index in seen:
            raise ConfigError(
                f"shard {shard.index}/{count} given twice: {seen[shard.index]}, {shard.path}"
            )
        seen[shard.index] = shard.path
    missing = [str(i) for i in range(1, count + 1) if i not in seen]
    if missing:
        raise ConfigError(f"shard(s) {', '.join(missing)} of {count} missing: nothing merged")
    gates = {(s.data.get("fail_on"), bool(s.data.get("fail_on_new"))) for s in shards}
    if len(gates) != 1:
        raise ConfigError("the shards ran with different --fail-on / --fail-on-new")
    layers = {repr(s.data["scope"].get("layers_run")) for s in shards}
    if len(layers) != 1:  # a union would call a layer run that some hosts never had
        raise ConfigError("the shards ran with different --layers: not one split of one run")
    owner: dict[str, Path] = {}
    for shard in shards:
        targets = shard.data.get("targets")
        for target in targets if isinstance(targets, list) else ():
            if not (isinstance(target, dict) and target.get("kind") == "host"):
                continue
            name = str(target.get("name"))
            if name in owner and owner[name] != shard.path:
                raise ConfigError(
                    f"host {name[:80]!r} is in two shards ({owner[name]}, {shard.path}): "
                    "the reports are not one split of one run"
                )
            owner[name] = shard.path


def _finding(row: object, path: Path) -> Finding:
    """One finding of a shard report, every field of the type smtpcheck writes."""
    if not isinstance(row, dict):
        raise ConfigError(f"{path}: a finding is not an object")
    bad = [name for name in _FINDING_TEXTS if not isinstance(row.get(name), str)]
    if not isinstance(row.get("evidence", {}), dict):
        bad.append("evidence")
    if not isinstance(row.get("remediation", ""), str):
        bad.append("remediation")
    references = row.get("references", [])
    if not (isinstance(references, list) and all(isinstance(r, str) for r in references)):
        bad.append("references")
    if row.get("status") not in _STATUSES:
        bad.append("status")
    if row.get("severity") not in _SEVERITIES:
        bad.append("severity")
    if bad:
        raise ConfigError(f"{path}: a finding cannot be read: bad {', '.join(bad)}")
    return Finding.from_dict(row)


def _change(row: Mapping[str, Any], finding: Finding, path: Path) -> Change:
    """The finding's change against its shard's baseline; a problem without one is new (a
    report that lost its change must not make a fail pass ``--fail-on-new``)."""
    value = row.get("change")
    if value is None:
        return Change.NEW if finding.status.value in _PROBLEMS else Change.UNCHANGED
    if value not in _CHANGES:
        raise ConfigError(f"{path}: a finding's change {str(value)[:20]!r} is not one")
    return Change(value)


_PROBLEMS = frozenset({Status.FAIL.value, Status.ERROR.value, Status.WARN.value})


def _findings(shards: Sequence[ShardReport]) -> tuple[list[Finding], dict[Key, Change]]:
    kept: dict[Key, Finding] = {}
    changes: dict[Key, Change] = {}
    for shard in sorted(shards, key=lambda s: s.index):
        for row in shard.data["findings"]:
            finding = _finding(row, shard.path)
            change = _change(row, finding, shard.path)
            key = finding.key
            other = kept.get(key)
            if other is None or STATUS_RANK[finding.status] < STATUS_RANK[other.status]:
                kept[key] = finding
                changes[key] = change
            elif finding.status is other.status and change is Change.NEW:
                changes[key] = change  # new to one shard's baseline: new
    return list(kept.values()), changes


def _scope(shards: Sequence[ShardReport]) -> Scope:
    layers: set[Layer] = set()
    hosts: dict[str, HostScope] = {}
    domains: dict[str, DomainScope] = {}
    relays: dict[str, RelayScope] = {}
    ordered = sorted(shards, key=lambda s: s.index)
    scopes = [s.data["scope"] for s in ordered]
    for shard, scope in zip(ordered, scopes, strict=True):
        layers |= {Layer(name) for name in scope.get("layers_run", [])}
        for target in shard.data.get("targets", []):
            kind, name = target.get("kind"), str(target.get("name"))
            if kind == "host":
                hosts[name] = HostScope(name, str(target.get("url")), str(target.get("app")),
                                        str(target.get("generation")))  # fmt: skip
            elif kind == "domain" and name not in domains:
                domains[name] = DomainScope(name, target.get("provider"),
                                            tuple(target.get("used_by", ())))  # fmt: skip
            elif kind == "domain":
                used = (*domains[name].used_by, *target.get("used_by", ()))
                domains[name] = DomainScope(name, domains[name].provider,
                                            tuple(dict.fromkeys(used)))  # fmt: skip
            elif kind == "relay":
                relays[name] = RelayScope(name, target.get("endpoint"), target.get("provider"),
                                          tuple(target.get("hosts", ())))  # fmt: skip
    keys = {scope.get("fingerprint_key") for scope in scopes}
    selections = {scope.get("selection") for scope in scopes} - {None}
    return Scope(
        layers=tuple(layer for layer in Layer if layer in layers),
        hosts=tuple(sorted(hosts.values(), key=lambda h: h.name)),
        domains=tuple(domains.values()),
        relays=tuple(relays.values()),
        expected_sources=scopes[0].get("expected_sources", {}),
        no_send=any(scope.get("no_send") for scope in scopes),
        delivery=all(scope.get("delivery_checked") for scope in scopes),
        selection=" | ".join(sorted(selections)) or None,
        fingerprint_key=keys.pop() if len(keys) == 1 else None,
    )


def _waivers(shards: Sequence[ShardReport]) -> list[Waiver]:
    seen: dict[tuple[str, str, str], Waiver] = {}
    for shard in shards:
        for row in shard.data.get("waivers", []):
            expires = dt.date.fromisoformat(row["expires"])
            waiver = Waiver(row["control"], row["target"], row["justification"], expires,
                            bool(row.get("run", True)))  # fmt: skip
            seen.setdefault((waiver.control, waiver.target, row["expires"]), waiver)
    return list(seen.values())


def _time(value: object, path: Path) -> dt.datetime:
    try:
        moment = dt.datetime.fromisoformat(str(value))
    except ValueError:
        raise ConfigError(f"{path}: started_at/finished_at is not a time") from None
    if moment.tzinfo is None:  # smtpcheck writes UTC with its offset; naive ones do not compare
        raise ConfigError(f"{path}: started_at/finished_at has no time zone")
    return moment


def merge_shards(given: Sequence[Path]) -> AuditResult:
    """The one result of a complete set of shard reports."""
    shards = [read_shard(path) for path in given]
    check_complete(shards)
    findings, changes = _findings(shards)
    first = shards[0].data
    fail_on = first.get("fail_on")
    diffs = [s.data.get("diff") for s in shards]
    diff = None
    if all(isinstance(d, dict) for d in diffs):
        baselines = ", ".join(str(d.get("baseline")) for d in diffs if isinstance(d, dict))
        diff = Diff(baselines, min(str(d.get("baseline_started_at")) for d in diffs
                                   if isinstance(d, dict)), MappingProxyType(changes))  # fmt: skip
    try:
        waivers = _waivers(shards)
        scope = _scope(shards)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"a shard's scope or waivers cannot be read: {exc}") from None
    return AuditResult.of(
        findings,
        min(_time(s.data.get("started_at"), s.path) for s in shards),
        max(_time(s.data.get("finished_at"), s.path) for s in shards),
        complete=True,
        fail_on=None if fail_on in (None, _DEFAULT_GATE) else str(fail_on),
        scope=scope,
        waivers=waivers,
        diff=diff,
        fail_on_new=bool(first.get("fail_on_new")),
    )
