"""The result type (Finding, Summary, exit status, AuditResult) and secret handling."""

from __future__ import annotations

import base64
import copy
import dataclasses
import hashlib
import hmac
import pickle
from datetime import UTC, datetime
from typing import Any

import pytest

from smtpcheck.catalogue import Layer
from smtpcheck.findings import (
    ExitStatus,
    Finding,
    Severity,
    Status,
    Summary,
    exit_status,
    gates,
)
from smtpcheck.result import AuditResult
from smtpcheck.secrets import REDACTED, Redactor, Secret, encoded_forms, fingerprint

# Evidence as callers really pass it: lists too (typed as tuples, frozen at construction).
RAW_EVIDENCE: Any = {"mode": "0644", "size": 102, "symlink": False, "note": None,
                     "problems": ["a", ("b", 1)]}  # fmt: skip
FINDING = Finding(
    "CRED-02",
    "paramiko://web1",
    Status.FAIL,
    Severity.CRITICAL,
    "readable by every local user",
    RAW_EVIDENCE,
    "chmod 0400",
    ("RFC 8314 §3",),
)


def test_finding_is_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        FINDING.summary = "changed"  # type: ignore[misc]
    with pytest.raises(TypeError):
        FINDING.evidence["mode"] = "0400"  # type: ignore[index]


def test_evidence_is_frozen_at_construction() -> None:
    problems = ["one"]
    evidence: Any = {"problems": problems}
    finding = Finding("CRED-02", "t", Status.FAIL, Severity.HIGH, "s", evidence)

    problems.append("two")

    assert finding.evidence["problems"] == ("one",)


@pytest.mark.parametrize(
    ("value", "frozen"),
    [
        pytest.param(["a", ["b"]], ("a", ("b",)), id="nested-lists"),
        pytest.param({"k": 1}, "{'k': 1}", id="dict-as-text"),
        pytest.param(Secret("Fs-9q-secret"), REDACTED, id="secret-as-redacted"),
        pytest.param(3.5, "3.5", id="float-as-text"),
        pytest.param(True, True, id="bool"),
        pytest.param(None, None, id="none"),
    ],
)
def test_evidence_values(value: Any, frozen: Any) -> None:
    finding = Finding("CRED-04", "t", Status.PASS, Severity.HIGH, "s", {"v": value})

    assert finding.evidence["v"] == frozen
    assert "Fs-9q-secret" not in repr(finding)


def test_to_dict_is_the_spec_shape() -> None:
    assert FINDING.to_dict() == {
        "control_id": "CRED-02",
        "target": "paramiko://web1",
        "status": "fail",
        "severity": "critical",
        "summary": "readable by every local user",
        "evidence": {"mode": "0644", "size": 102, "symlink": False, "note": None,
                     "problems": ["a", ["b", 1]]},
        "remediation": "chmod 0400",
        "references": ["RFC 8314 §3"],
    }  # fmt: skip


def test_from_dict_round_trip() -> None:
    assert Finding.from_dict(FINDING.to_dict()) == FINDING
    assert Finding.from_dict(FINDING.to_dict()).to_dict() == FINDING.to_dict()


def test_from_dict_defaults() -> None:
    minimal = {"control_id": "CRED-01", "target": "t", "status": "skip", "severity": "info",
               "summary": "s"}  # fmt: skip

    finding = Finding.from_dict(minimal)

    assert (finding.evidence, finding.remediation, finding.references) == ({}, "", ())


@pytest.mark.parametrize("field", ["status", "severity"])
def test_from_dict_rejects_unknown_enum_values(field: str) -> None:
    data = {**FINDING.to_dict(), field: "bogus"}

    with pytest.raises(ValueError, match="bogus"):
        Finding.from_dict(data)


@pytest.mark.parametrize(
    ("status", "problem"),
    [(Status.PASS, False), (Status.WARN, False), (Status.SKIP, False), (Status.FAIL, True),
     (Status.ERROR, True)],
)  # fmt: skip
def test_is_problem(status: Status, problem: bool) -> None:
    assert dataclasses.replace(FINDING, status=status).is_problem is problem


def _with(*statuses: Status) -> list[Finding]:
    return [dataclasses.replace(FINDING, status=s, target=f"t{i}") for i, s in enumerate(statuses)]


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        pytest.param((), ExitStatus.OK, id="nothing"),
        pytest.param((Status.PASS, Status.WARN, Status.SKIP), ExitStatus.OK, id="warn-is-ok"),
        pytest.param((Status.PASS, Status.FAIL), ExitStatus.FINDINGS, id="fail"),
        pytest.param((Status.ERROR,), ExitStatus.FINDINGS, id="error"),
        pytest.param((Status.SKIP, Status.SKIP), ExitStatus.OK, id="all-skipped"),
    ],
)
def test_summary_and_exit_status(statuses: tuple[Status, ...], code: ExitStatus) -> None:
    findings = _with(*statuses)
    summary = Summary.of(findings)

    assert summary.to_dict() == {**{s.value: statuses.count(s) for s in Status},
                                 "not_evaluated": 0}  # fmt: skip
    assert list(summary.to_dict()) == ["pass", "fail", "warn", "skip", "error", "not_evaluated"]
    assert summary.total == len(statuses)
    assert exit_status(findings) is code


@pytest.mark.parametrize(
    ("fail_on", "gated"),
    [
        (None, {"fail/critical", "fail/low", "fail/info", "error/low"}),
        ("critical", {"fail/critical", "error/low"}),
        ("high", {"fail/critical", "error/low"}),
        ("low", {"fail/critical", "fail/low", "error/low"}),
        ("warn", {"fail/critical", "fail/low", "fail/info", "error/low", "warn/high"}),
    ],
)
def test_fail_on_gates_by_severity_and_errors_always_gate(
    fail_on: str | None, gated: set[str]
) -> None:
    """Issue 9 item 4: --fail-on; a control that could not be evaluated always gates."""
    cases = {
        f"{status}/{severity}": dataclasses.replace(
            FINDING, status=Status(status), severity=Severity(severity)
        )
        for status, severity in (("fail", "critical"), ("fail", "low"), ("fail", "info"),
                                 ("error", "low"), ("warn", "high"), ("pass", "critical"),
                                 ("skip", "high"))
    }  # fmt: skip
    assert {name for name, finding in cases.items() if gates(finding, fail_on)} == gated
    for name, finding in cases.items():
        expected = ExitStatus.FINDINGS if name in gated else ExitStatus.OK
        assert exit_status([finding], fail_on) is expected
        result = AuditResult.of([finding], datetime(2026, 1, 1, tzinfo=UTC), fail_on=fail_on)
        assert result.exit_status is expected


def test_exit_status_values_are_the_spec_s() -> None:
    assert (int(ExitStatus.OK), int(ExitStatus.FINDINGS), int(ExitStatus.USAGE)) == (0, 1, 2)


def test_audit_result_orders_findings_and_computes_once() -> None:
    findings = [
        dataclasses.replace(FINDING, control_id="CRED-05", target="b"),
        dataclasses.replace(FINDING, control_id="CRED-01", target="b", status=Status.PASS),
        dataclasses.replace(FINDING, control_id="CRED-03", target="a", status=Status.WARN),
    ]
    started = datetime(2026, 1, 1, tzinfo=UTC)

    result = AuditResult.of(findings, started, started, "9.9")

    assert [(f.target, f.control_id) for f in result.findings] == [
        ("a", "CRED-03"), ("b", "CRED-01"), ("b", "CRED-05")
    ]  # fmt: skip
    assert result.summary.to_dict() == {
        "pass": 1, "fail": 1, "warn": 1, "skip": 0, "error": 0, "not_evaluated": 0
    }  # fmt: skip
    assert result.exit_status is ExitStatus.FINDINGS
    assert result.targets(Layer.HOST) == ["a", "b"]
    assert result.targets(Layer.DNS) == []
    assert (result.started_at, result.finished_at, result.tool_version) == (started, started, "9.9")


def test_an_error_is_counted_once_at_its_root_cause() -> None:
    """Issue 8 item 13: an unreachable host used to count as one error per control."""
    cause = dataclasses.replace(FINDING, status=Status.ERROR)
    followers = [
        dataclasses.replace(FINDING, control_id=c, status=Status.ERROR,
                            evidence={"root_cause": "CRED-01"})
        for c in ("CRED-02", "CRED-03")
    ]  # fmt: skip

    findings = [cause, *followers]
    summary = Summary.of(findings)

    assert summary.to_dict()["error"] == 1 and summary.to_dict()["not_evaluated"] == 2
    assert summary.counts[Status.ERROR] == 3  # JUnit still has a testcase per finding
    assert exit_status(findings) is ExitStatus.FINDINGS


# --- Secret -------------------------------------------------------------------------------------

VALUE = "Sx-41-correct horse"


@pytest.mark.parametrize(
    "show",
    [
        pytest.param(repr, id="repr"),
        pytest.param(str, id="str"),
        pytest.param(lambda s: f"{s}", id="f-string"),
        pytest.param(lambda s: f"{s!r}", id="f-string-r"),
        pytest.param(lambda s: f"{s:>40}", id="format-spec"),
        pytest.param(lambda s: "%s" % s, id="percent-s"),  # noqa: UP031
        pytest.param(lambda s: "%r" % s, id="percent-r"),  # noqa: UP031
        pytest.param(lambda s: "{}".format(s), id="str-format"),  # noqa: UP032
        pytest.param(lambda s: repr([s, {"k": s}]), id="inside-containers"),
    ],
)
def test_secret_never_shows_itself(show: Any) -> None:
    text = show(Secret(VALUE))

    assert VALUE not in text
    assert REDACTED in text


@pytest.mark.parametrize(
    "copier",
    [pickle.dumps, lambda s: pickle.dumps(s, protocol=0), copy.copy, copy.deepcopy],
)
def test_secret_refuses_pickle_and_copy(copier: Any) -> None:
    with pytest.raises(TypeError, match="never pickled"):
        copier(Secret(VALUE))


def test_secret_equality_without_revealing() -> None:
    a, b, c = Secret(VALUE), Secret(VALUE), Secret(VALUE + "!")

    assert a == b and a.matches(b) and hash(a) == hash(b)
    assert a != c and not a.matches(c)
    assert a != VALUE  # never equal to the plain string
    assert len({a, b, c}) == 2
    assert a.reveal() == VALUE
    assert not Secret("") and Secret(VALUE)


def test_secret_hash_is_not_the_string_hash() -> None:
    assert hash(Secret(VALUE)) != hash(VALUE)


# --- encoded forms and the redactor ---------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_encoded_forms_of_auth_login_and_plain() -> None:
    forms = encoded_forms("pw-Q9", ["mailer@shop.example"])

    assert forms == {
        "pw-Q9",
        _b64("pw-Q9"),  # AUTH LOGIN
        _b64("\0mailer@shop.example\0pw-Q9"),  # AUTH PLAIN without authzid
        _b64("mailer@shop.example\0mailer@shop.example\0pw-Q9"),  # with authzid
    }


def test_encoded_forms_without_users_and_non_ascii() -> None:
    assert encoded_forms("pässwörd") == {"pässwörd", _b64("pässwörd")}


def test_redactor_scrubs_every_form() -> None:
    redactor = Redactor()
    redactor.register(Secret("pw-Q9-secret"), ["relay-user"])
    transcript = (
        f"AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n{_b64('pw-Q9-secret')}\r\n"
        f"AUTH PLAIN {_b64(chr(0) + 'relay-user' + chr(0) + 'pw-Q9-secret')}\r\n"
        "password is pw-Q9-secret."
    )

    scrubbed = redactor.scrub(transcript)

    assert "pw-Q9-secret" not in scrubbed
    assert _b64("pw-Q9-secret") not in scrubbed
    assert scrubbed.count(REDACTED) == 3
    assert "334 VXNlcm5hbWU6" in scrubbed  # the server's own challenge stays


def test_redactor_replaces_the_longest_form_first() -> None:
    redactor = Redactor()
    redactor.register(Secret("abc-7"))
    redactor.register(Secret("abc-7-longer"))

    assert redactor.scrub("x abc-7-longer y abc-7 z") == f"x {REDACTED} y {REDACTED} z"


def test_redactor_ignores_empty_and_none_and_scrubs_nothing_unregistered() -> None:
    redactor = Redactor()
    redactor.register(None)
    redactor.register(Secret(""))

    assert redactor.scrub("nothing to hide") == "nothing to hide"
    redactor.register(Secret("hide-me-8"))
    redactor.register(Secret("hide-me-8"))  # twice is once
    assert redactor.scrub("a hide-me-8 b") == f"a {REDACTED} b"


def test_redactor_escapes_regex_metacharacters() -> None:
    redactor = Redactor()
    redactor.register(Secret("a.b*c(d)"))

    assert redactor.scrub("axb*c(d) a.b*c(d)") == f"axb*c(d) {REDACTED}"


def test_redactor_bytes_keep_non_utf8() -> None:
    redactor = Redactor()
    redactor.register(Secret("byte-secret"))

    assert redactor.scrub_bytes(b"\xff byte-secret \xfe") == b"\xff <redacted> \xfe"


# --- fingerprint --------------------------------------------------------------------------------


def test_fingerprint_is_stable_within_a_run_and_never_the_secret() -> None:
    first, again = fingerprint(Secret(VALUE)), fingerprint(Secret(VALUE))

    assert first == again
    assert first.startswith("hmac-sha256:") and len(first) == len("hmac-sha256:") + 12
    assert VALUE not in first
    assert fingerprint(Secret(VALUE + "x")) != first


def test_fingerprint_is_salted() -> None:
    salted = fingerprint(Secret(VALUE), salt=b"run-a")

    assert salted != fingerprint(Secret(VALUE), salt=b"run-b")
    assert salted != fingerprint(Secret(VALUE))  # the run's own random salt
    digest = hmac.new(b"run-a", VALUE.encode(), hashlib.sha256).hexdigest()[:12]
    assert salted == f"hmac-sha256:{digest}"
    unsalted = hashlib.sha256(VALUE.encode()).hexdigest()[:12]
    assert unsalted not in fingerprint(Secret(VALUE))
