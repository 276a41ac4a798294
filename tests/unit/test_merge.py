"""--shard K/N and smtpcheck merge (issue 10): a deterministic split of the hosts, and a
merge that refuses anything short of every shard exactly once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smtpcheck.catalogue import Layer
from smtpcheck.config import Shard, parse_shard
from smtpcheck.errors import ConfigError
from smtpcheck.findings import ExitStatus, Finding, Severity, Status
from smtpcheck.merge import merge_shards
from smtpcheck.reports import write_reports
from smtpcheck.result import AuditResult
from smtpcheck.scope import DomainScope, HostScope, Scope
from smtpcheck.targets import App, HostTarget

STARTED = datetime(2027, 1, 1, 2, 0, tzinfo=UTC)


def test_the_split_is_by_sorted_name_and_covers_every_host_once() -> None:
    names = [f"web{n:02d}" for n in (7, 3, 11, 1, 5)]
    targets = [HostTarget(name, "local", App.WORDPRESS) for name in names]

    parts = [Shard(k, 2).select(targets) for k in (1, 2)]

    assert [t.name for t in parts[0]] == ["web01", "web05", "web11"]
    assert [t.name for t in parts[1]] == ["web03", "web07"]
    assert Shard(1, 2).select(list(reversed(targets))) == parts[0]  # order given: irrelevant


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "a/b", "1", "1/4/2", "²/4", "1/1001"])
def test_a_bad_shard_is_a_usage_error(text: str) -> None:
    with pytest.raises(ConfigError, match="--shard"):
        parse_shard(text)


def _shard(tmp_path: Path, k: int, n: int, findings: list[Finding], *,
           complete: bool = True) -> Path:  # fmt: skip
    scope = Scope(layers=(Layer.HOST, Layer.DNS), shard=f"{k}/{n}",
                  hosts=(HostScope(f"web{k}", f"ssh://web{k}", "wordpress", "A/B"),),
                  domains=(DomainScope("example.org", "Mailjet", (f"web{k}",)),))  # fmt: skip
    result = AuditResult.of(findings, STARTED, scope=scope, complete=complete)
    return write_reports(result, tmp_path / f"shard{k}")["json"].parent


def _f(control: str, target: str, status: Status) -> Finding:
    return Finding(control, target, status, Severity.HIGH, f"{control} {status}")


def test_merge_keeps_a_shared_domain_once_the_worse_and_decides_the_exit_again(
    tmp_path: Path,
) -> None:
    one = _shard(tmp_path, 1, 2, [_f("CRED-02", "web1", Status.PASS),
                                  _f("SPF-01", "example.org", Status.PASS)])  # fmt: skip
    two = _shard(tmp_path, 2, 2, [_f("CRED-02", "web2", Status.PASS),
                                  _f("SPF-01", "example.org", Status.FAIL)])  # fmt: skip

    result = merge_shards([two, one / "report.json"])

    statuses = {(f.control_id, f.target): f.status for f in result.findings}
    assert statuses == {("CRED-02", "web1"): Status.PASS, ("CRED-02", "web2"): Status.PASS,
                        ("SPF-01", "example.org"): Status.FAIL}  # fmt: skip
    assert result.exit_status is ExitStatus.FINDINGS
    assert result.scope is not None and result.scope.shard is None
    assert [h.name for h in result.scope.hosts] == ["web1", "web2"]
    assert result.scope.domains[0].used_by == ("web1", "web2")


def test_merge_refuses_a_missing_a_doubled_or_an_incomplete_shard(tmp_path: Path) -> None:
    one = _shard(tmp_path, 1, 3, [_f("CRED-02", "web1", Status.PASS)])
    two = _shard(tmp_path, 2, 3, [_f("CRED-02", "web2", Status.PASS)])
    three = _shard(tmp_path, 3, 3, [_f("CRED-02", "web3", Status.PASS)], complete=False)

    with pytest.raises(ConfigError, match=r"shard\(s\) 3 of 3 missing"):
        merge_shards([one, two])
    with pytest.raises(ConfigError, match="given twice"):
        merge_shards([one, two, one])
    with pytest.raises(ConfigError, match="did not complete"):
        merge_shards([one, two, three])


@pytest.mark.parametrize(
    "document",
    ["{", "[]", '{"schema_version": 1, "findings": []}',
     '{"schema_version": 1, "scope": {"shard": "x/y"}, "complete": true, "findings": []}',
     '{"schema_version": 1, "scope": {"shard": "1/1"}, "complete": true, "findings": {}}',
     '{"schema_version": 1, "scope": {"shard": "1/1"}, "complete": true,'
     ' "findings": [{"control_id": "X"}]}',
     '{"schema_version": 1, "scope": {"shard": "1/1", "layers_run": ["moon"]},'
     ' "complete": true, "findings": [], "started_at": "2027-01-01T00:00:00+00:00",'
     ' "finished_at": "2027-01-01T00:00:00+00:00"}'],
)  # fmt: skip
def test_a_malformed_shard_report_is_one_config_error(tmp_path: Path, document: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(document)

    with pytest.raises(ConfigError):
        merge_shards([path])


def test_a_report_that_is_not_a_shard_is_refused(tmp_path: Path) -> None:
    written = write_reports(AuditResult.of([], STARTED, scope=Scope(layers=(Layer.DNS,))),
                            tmp_path)  # fmt: skip
    assert json.loads(written["json"].read_text())["scope"]["shard"] is None

    with pytest.raises(ConfigError, match="not the report of a --shard"):
        merge_shards([tmp_path])
