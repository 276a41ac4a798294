"""Waivers (issue 9 §2, InSpec semantics): parsed whole before the audit, shown, and gating
again the day after they expire."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from pathlib import Path

import pytest

from smtpcheck import waivers
from smtpcheck.errors import ConfigError
from smtpcheck.findings import ExitStatus, Finding, Severity, Status
from smtpcheck.result import AuditResult
from smtpcheck.waivers import Waiver, load_waivers, parse_waivers

STARTED = datetime(2027, 1, 1, tzinfo=UTC)
GOOD = """
[[waiver]]
control = "dmarc-03"
target = "*.example.org"
justification = "p=reject after the March migration (CHG-1042)"
expires = 2027-03-31

[[waiver]]
control = "SMTP-05"
target = "in-v3.mailjet.com:465*"
justification = "no test mailbox yet"
expires = "2027-02-01"
run = false
"""


def _finding(control: str, target: str, status: Status = Status.FAIL) -> Finding:
    return Finding(control, target, status, Severity.HIGH, f"{control} on {target}")


def test_a_waiver_file_parses_with_ids_normalised_and_dates() -> None:
    first, second = parse_waivers(GOOD, "waivers.toml")

    assert (first.control, first.target, first.expires) == (
        "DMARC-03", "*.example.org", dt.date(2027, 3, 31))  # fmt: skip
    assert first.run is True and second.run is False
    assert second.expires == dt.date(2027, 2, 1)  # an ISO string is accepted too
    assert second.where == "waivers.toml: waiver 2"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[waiver]]\ncontrol = "DNS-99"\ntarget = "a"\njustification = "j"\n'
         "expires = 2027-01-01", "unknown control 'DNS-99'"),
        ('[[waiver]]\ncontrol = "SPF-01"\ntarget = "a"\nexpires = 2027-01-01',
         "justification is required"),
        ('[[waiver]]\ncontrol = "SPF-01"\ntarget = "a"\njustification = "j"',
         "expires is required"),
        ('[[waiver]]\ncontrol = "SPF-01"\ntarget = "a"\njustification = "  "\n'
         "expires = 2027-01-01", "justification must be a non-empty string"),
        ('[[waiver]]\ncontrol = "SPF-01"\ntarget = "a"\njustification = "j"\n'
         'expires = "next week"', "expires must be a date"),
        ('[[waiver]]\ncontrol = "SPF-01"\ntarget = "a"\njustification = "j"\n'
         "expires = 2027-01-01T10:00:00", "not a date and time"),
        ('[[waiver]]\ncontrol = "SPF-01"\ntarget = "a"\njustification = "j"\n'
         'expires = 2027-01-01\nrun = "no"', "run must be true or false"),
        ('[[waiver]]\ncontrol = "SPF-01"\ntarget = "a"\njustification = "j"\n'
         "expires = 2027-01-01\nexpiry = 2027-02-01", "unknown key(s) 'expiry'"),
        ('[waiver]\ncontrol = "SPF-01"', "array of tables"),
        ('[waivers]\nx = 1', "unknown table(s) 'waivers'"),
        ("[[waiver]\n", "not valid TOML"),
    ],
)  # fmt: skip
def test_a_bad_waiver_is_one_config_error(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=r"waivers\.toml") as raised:
        parse_waivers(text, "waivers.toml")
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_a_waiver_file_that_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        load_waivers(tmp_path)  # a directory
    with pytest.raises(ConfigError):
        load_waivers(tmp_path / "missing.toml")


def test_globs_match_whole_targets_case_sensitively() -> None:
    waiver = Waiver("DMARC-03", "*.example.org", "j", dt.date(2027, 1, 1))

    assert waiver.matches("DMARC-03", "shop.example.org")
    assert not waiver.matches("DMARC-03", "shop.example.org.evil")
    assert not waiver.matches("DMARC-03", "SHOP.EXAMPLE.ORG")
    assert not waiver.matches("DMARC-02", "shop.example.org")


def _result(findings: list[Finding], today: dt.date) -> AuditResult:
    return AuditResult.of(findings, STARTED, waivers=parse_waivers(GOOD, "w.toml"), today=today)


def test_an_active_waiver_keeps_its_fail_from_gating_and_is_shown() -> None:
    findings = [_finding("DMARC-03", "shop.example.org"), _finding("SPF-01", "a.example")]
    only_waived = [findings[0]]

    result = _result(only_waived, dt.date(2027, 3, 31))  # the last day it waives

    assert result.exit_status is ExitStatus.OK
    applied = result.waiver_of(only_waived[0])
    assert applied is not None and applied.active
    assert "CHG-1042" in applied.label()
    # a fail the waiver does not cover still gates
    assert _result(findings, dt.date(2027, 3, 31)).exit_status is ExitStatus.FINDINGS


def test_the_day_after_expiry_the_waiver_is_reported_expired_and_gates_again() -> None:
    finding = _finding("DMARC-03", "shop.example.org")

    result = _result([finding], dt.date(2027, 4, 1))

    assert result.exit_status is ExitStatus.FINDINGS
    applied = result.waiver_of(finding)
    assert applied is not None and applied.expired
    assert applied.label().startswith("expired 2027-03-31")


def test_the_clock_waivers_are_judged_by_can_be_frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    finding = _finding("DMARC-03", "shop.example.org")
    waiver_list = parse_waivers(GOOD, "w.toml")

    monkeypatch.setattr(waivers, "today_utc", lambda: dt.date(2027, 3, 1))
    assert AuditResult.of([finding], STARTED, waivers=waiver_list).exit_status is ExitStatus.OK
    monkeypatch.setattr(waivers, "today_utc", lambda: dt.date(2027, 4, 2))
    result = AuditResult.of([finding], STARTED, waivers=waiver_list)
    assert result.exit_status is ExitStatus.FINDINGS
    assert result.today == dt.date(2027, 4, 2)


def test_an_active_waiver_wins_over_an_expired_one_for_the_same_finding() -> None:
    old = Waiver("SPF-01", "*", "old", dt.date(2026, 1, 1))
    new = Waiver("SPF-01", "a.example", "renewed", dt.date(2027, 6, 1))

    applied = waivers.waiver_for([old, new], "SPF-01", "a.example", dt.date(2027, 1, 1))

    assert applied is not None and applied.active and applied.waiver is new


def test_a_waived_error_does_not_gate_but_an_unwaived_one_does() -> None:
    waiver = Waiver("SMTP-05", "relay", "mailbox being moved", dt.date(2027, 6, 1))
    error = _finding("SMTP-05", "relay", Status.ERROR)

    assert AuditResult.of([error], STARTED, waivers=[waiver], today=dt.date(2027, 1, 1)
                          ).exit_status is ExitStatus.OK  # fmt: skip
    assert AuditResult.of([error], STARTED, today=dt.date(2027, 1, 1)
                          ).exit_status is ExitStatus.FINDINGS  # fmt: skip
