"""Every application × toolkit generation on a real sshd, with the expected status per control.

One lab host per case, all audited together (concurrently, one SSH round trip each), the same
way ``smtpcheck audit`` does; each case then asserts CRED-01…CRED-05 and the shape and reader
named in the evidence (reference/adt-toolkit.md is the ground truth for every shape).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from smtpcheck.credentials.evaluate import CRED_CONTROLS
from smtpcheck.findings import Finding, Status
from smtpcheck.lab import seeds
from smtpcheck.lab.seeds import LabCredentials
from smtpcheck.lab.sshd import SshLab
from smtpcheck.targets import App
from tests.lab.conftest import CREDS, lab_audit, lab_target

P, F, W, S, E = Status.PASS, Status.FAIL, Status.WARN, Status.SKIP, Status.ERROR
SENDPULSE = replace(CREDS, provider=1)
SES = replace(CREDS, provider=3, username="AKIAIOSFODNN7EXAMPLE")
TRUNCATED = replace(CREDS, password=CREDS.password.rsplit(":", 1)[1])


@dataclass(frozen=True)
class Case:
    name: str
    app: App
    content: Callable[[LabCredentials], bytes] | None  # None: no file at all
    statuses: tuple[Status, Status, Status, Status, Status]
    expected: LabCredentials = CREDS  # the build-time settings of the deployment
    deployed: LabCredentials | None = None  # what the file holds, when it differs
    mode: int = 0o400
    owner: str = "root"
    outside_webroot: bool = False
    php: bool = True
    shape: str = ""  # expected in CRED-03's shape evidence
    reader: str = ""  # expected in CRED-03's reader evidence
    summaries: dict[str, str] = field(default_factory=dict)  # control id → text in summary


def _labelled(**kwargs: int) -> Callable[[LabCredentials], bytes]:
    return lambda c: seeds.labelled_file(c, **kwargs)


LABELLED = "labelled five-line file"
CASES = [
    *(
        Case(f"{app.value}-gen-ab", app, seeds.labelled_file, (P, P, P, P, P), shape=LABELLED)
        for app in (App.WORDPRESS, App.MOODLE, App.DRUPAL)
    ),
    Case("moodle-www-data", App.MOODLE, seeds.labelled_file, (P, P, P, P, P), owner="www-data"),
    Case("wordpress-world-readable", App.WORDPRESS, seeds.labelled_file, (P, F, P, P, P),
         mode=0o644, summaries={"CRED-02": "readable by every local user"}),
    Case("drupal-group-writable", App.DRUPAL, seeds.labelled_file, (P, F, P, P, P), mode=0o460,
         summaries={"CRED-02": "writable by group"}),
    Case("drupal-truncated-at-colon", App.DRUPAL, seeds.labelled_file, (P, P, P, F, P),
         deployed=TRUNCATED, summaries={"CRED-04": "truncated at ':'"}),
    Case("wordpress-gen-c-no-file", App.WORDPRESS, None, (F, S, S, S, S),
         summaries={"CRED-01": "no credential file"}),
    Case("moodle-crlf", App.MOODLE, lambda c: seeds.labelled_file(c).replace(b"\n", b"\r\n"),
         (P, P, W, P, P), summaries={"CRED-03": "CR LF"}),
    Case("drupal-unknown-provider", App.DRUPAL, _labelled(provider=7), (P, P, P, F, F),
         summaries={"CRED-05": "not a known provider code"}),
    Case("wordpress-sendpulse-2525", App.WORDPRESS, _labelled(port=2525), (P, P, P, P, W),
         expected=SENDPULSE, summaries={"CRED-05": "unconfirmed"}),
    Case("moodle-ses", App.MOODLE, seeds.labelled_file, (P, P, P, P, P), expected=SES),
    Case("joomla-gen-a-sendpulse", App.JOOMLA, seeds.joomla_gen_a, (P, P, P, P, P),
         expected=SENDPULSE, owner="www-data", mode=0o640, shape="generation A",
         reader="PHP 8"),
    Case("joomla-gen-a-gmail", App.JOOMLA, seeds.joomla_gen_a, (P, P, P, F, P), owner="www-data",
         mode=0o640, shape="generation A", summaries={"CRED-04": "Gmail"}),
    Case("joomla-gen-b-sendpulse", App.JOOMLA, seeds.joomla_gen_b, (P, P, P, P, W),
         expected=SENDPULSE, owner="www-data", mode=0o600, shape="generation B"),
    Case("joomla-gen-b-mailjet", App.JOOMLA, seeds.joomla_gen_b, (P, P, P, P, P),
         owner="www-data", mode=0o600, shape="generation B", reader="PHP 8"),
    Case("joomla-gen-b-ses", App.JOOMLA, seeds.joomla_gen_b, (P, P, P, P, P), expected=SES,
         owner="www-data", mode=0o600, shape="generation B"),
    Case("joomla-gen-b-after-nightly-job", App.JOOMLA, seeds.joomla_gen_b, (P, F, P, P, P),
         owner="www-data", mode=0o644, summaries={"CRED-02": "readable by every local user"}),
    Case("joomla-gen-c-dev", App.JOOMLA, seeds.joomla_gen_c_dev, (P, P, P, P, P),
         owner="www-data", mode=0o600, shape="generation C dev"),
    Case("joomla-gen-c-main", App.JOOMLA, seeds.joomla_gen_c_main, (P, F, F, P, F),
         owner="www-data", mode=0o644, shape="generation C main",
         reader="Undefined constant",
         summaries={"CRED-03": "Undefined constant", "CRED-05": "smtp_port"}),
    Case("joomla-gen-c-main-no-php", App.JOOMLA, seeds.joomla_gen_c_main, (P, P, F, P, F),
         owner="www-data", mode=0o600, php=False, shape="generation C main",
         reader="php is not installed", summaries={"CRED-03": "not a PHP literal"}),
    Case("joomla-gen-d", App.JOOMLA,
         lambda c: seeds.joomla_fixed(c, host="in-v3.mailjet.com", port=465, secure="ssl"),
         (P, P, P, P, P), owner="www-data", mode=0o500, outside_webroot=True,
         shape="generation D", summaries={"CRED-01": "symlink to /var/www/outside_webroot"}),
    Case("joomla-gen-d-with-c-main-values", App.JOOMLA, seeds.joomla_gen_c_main, (P, P, F, P, F),
         owner="www-data", mode=0o500, outside_webroot=True, shape="generation D"),
    Case("joomla-require-only", App.JOOMLA,
         lambda c: b"<?php\nrequire('/var/www/html/joomla/configuration.php');\n",
         (P, P, F, F, F), owner="www-data", mode=0o600, reader="static",
         summaries={"CRED-03": "no class JConfig", "CRED-04": "absent from the file",
                    "CRED-05": "sets no mailer"}),
]  # fmt: skip


@pytest.fixture(scope="module")
def outcomes(ssh_lab: SshLab) -> dict[str, dict[str, Finding]]:
    """Seed one lab host per case, audit each group of cases sharing build-time settings."""
    groups: dict[LabCredentials, list[Case]] = {}
    for case in CASES:
        groups.setdefault(case.expected, []).append(case)
    results: dict[str, dict[str, Finding]] = {}
    for expected, cases in groups.items():
        targets = []
        for case in cases:
            host = ssh_lab.add_host(case.name, php=case.php)
            if case.content is not None:
                seeds.seed_credentials(
                    host, case.app, case.content(case.deployed or expected),
                    mode=case.mode, owner=case.owner, outside_webroot=case.outside_webroot,
                )  # fmt: skip
            targets.append(lab_target(ssh_lab, host, case.app))
        audit = lab_audit(ssh_lab, targets, expected)
        for target in targets:
            evidence = audit.host_evidence(target)
            results[target.name] = {cid: check(evidence) for cid, check in CRED_CONTROLS.items()}
    return results


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_scenario(case: Case, outcomes: dict[str, dict[str, Finding]]) -> None:
    findings = outcomes[case.name]
    got = tuple(findings[f"CRED-0{i}"].status for i in range(1, 6))
    detail = {cid: f"{f.status.value}: {f.summary}" for cid, f in findings.items()}
    assert got == case.statuses, detail
    well_formed = findings["CRED-03"].evidence
    if case.shape:
        assert case.shape in str(well_formed.get("shape")), well_formed
    if case.reader:
        assert case.reader in str(well_formed.get("reader")), well_formed
    for control_id, text in case.summaries.items():
        assert text in findings[control_id].summary, findings[control_id]
    for finding in findings.values():
        assert finding.target == case.name


def test_password_never_in_findings(outcomes: dict[str, dict[str, Finding]]) -> None:
    for findings in outcomes.values():
        for finding in findings.values():
            text = repr(finding.to_dict())
            assert CREDS.password not in text
            assert TRUNCATED.password not in text
            assert "lab-db-secret" not in text  # Joomla's database password sits in the file too
