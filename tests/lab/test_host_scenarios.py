"""Every application × toolkit generation on a real sshd, with the expected status per control.

One lab host per case, all audited together (concurrently, one SSH round trip each), the same
way ``smtpcheck audit`` does; each case then asserts all nine host controls (CRED-01…07,
SYS-01/02) and the shape and reader named in the evidence (reference/adt-toolkit.md, with its
"Corrections" and "Where gen C/D servers keep the SMTP credentials", is the ground truth).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

import pytest

from smtpcheck.credentials.controls import HOST_CONTROLS
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
SLASH = replace(CREDS, provider=3, username="AKIAIOSFODNN7EXAMPLE", password="Sl4sh/pw+Zq9/x")
NO_COLON = replace(CREDS, password="Pl41n-pw-no-colon")
NO_TOOLKIT = (Status.SKIP,) * 4  # CRED-06, CRED-07, SYS-01, SYS-02 on a host without its files
SENDEMAIL_TLS_NO = (Status.PASS, Status.PASS, Status.FAIL, Status.FAIL)  # the toolkit as shipped


@dataclass(frozen=True)
class Case:
    name: str
    app: App
    content: Callable[[LabCredentials], bytes] | None  # None: no file at all
    statuses: tuple[Status, Status, Status, Status, Status]
    toolkit_statuses: tuple[Status, Status, Status, Status] = NO_TOOLKIT
    toolkit: str | None = None  # "C" or "D": the toolkit's settings and SendEmail.sh are seeded
    ssmtp: bool = False  # EMAILUTIL:ssmtp and an ssmtp.conf
    webroot: str | None = None  # application.dat's WEBROOT_DIRECTORY, if not the generation's
    path: str | None = None  # where the credential file goes, if not its documented path
    more_files: Callable[[LabCredentials], dict[str, bytes]] | None = None  # path → content
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
    # Gens C/D write no /var/www/*smtp file: CRED-01…05 skip, the toolkit's own files are judged.
    *(
        Case(f"{app.value}-gen-{gen.lower()}-{c.provider}", app, None, (S, S, S, S, S),
             SENDEMAIL_TLS_NO, toolkit=gen, expected=c,
             summaries={"CRED-01": "generation C/D does not write this file",
                        "SYS-01": "without TLS: AUTH crosses in clear",
                        "SYS-02": "passes the password on its command line (-xp)"})
        for app, gen, c in ((App.WORDPRESS, "C", SENDPULSE), (App.MOODLE, "D", CREDS),
                            (App.DRUPAL, "C", SLASH))
    ),
    Case("drupal-gen-d-ssmtp", App.DRUPAL, None, (S, S, S, S, S), (P, P, P, P), toolkit="D",
         ssmtp=True, expected=NO_COLON,
         summaries={"SYS-01": "STARTTLS to in-v3.mailjet.com:587",
                    "SYS-02": "ssmtp.conf protected"}),
    Case("drupal-gen-d-ssmtp-colon-password", App.DRUPAL, None, (S, S, S, S, S), (P, F, P, P),
         toolkit="D", ssmtp=True, summaries={"CRED-07": "ssmtp reads it cut short"}),
    Case("wordpress-gen-c-settings-drift", App.WORDPRESS, None, (S, S, S, S, S), (P, F, F, F),
         toolkit="C", deployed=NO_COLON, summaries={"CRED-07": "password (build-time) differs"}),
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
    # Gen C main / D virgin builds: PHP cannot load the file; the nightly job leaves it 0644.
    Case("joomla-gen-c-main", App.JOOMLA, seeds.joomla_gen_c_main, (P, F, F, F, F),
         (P, F, F, F), toolkit="C", owner="www-data", mode=0o644, shape="virgin build",
         reader="PHP 8",
         summaries={"CRED-03": "PHP cannot load the configuration", "CRED-04": "from address",
                    "CRED-05": "Joomla cannot load configuration.php",
                    "CRED-07": "from address (/var/www/html/configuration.php) differs"}),
    Case("joomla-gen-c-main-no-colon", App.JOOMLA, seeds.joomla_gen_c_main, (P, P, F, F, F),
         (P, F, F, F), toolkit="C", expected=NO_COLON, owner="www-data", mode=0o600,
         reader="Undefined constant", summaries={"CRED-03": "Undefined constant"}),
    Case("joomla-gen-c-main-no-php", App.JOOMLA, seeds.joomla_gen_c_main, (P, P, F, F, F),
         owner="www-data", mode=0o600, php=False, shape="virgin build",
         reader="php is not installed", summaries={"CRED-03": "$smtppass: unterminated string",
                                                   "CRED-05": "cannot load"}),
    Case("joomla-gen-c-main-baseline", App.JOOMLA, lambda c: seeds.joomla_gen_c_main_baseline(),
         (P, P, P, F, F), owner="www-data", mode=0o600, shape="baseline build",
         summaries={"CRED-05": "SMTP was never configured on this site (mailer 'mail')"}),
    # Gen D: the webroot is /var/www/html/joomla; its configuration.php is a symlink to
    # /var/www/outside_webroot, and nothing is at /var/www/html/configuration.php.
    Case("joomla-gen-d", App.JOOMLA,
         lambda c: seeds.joomla_fixed(c, host="in-v3.mailjet.com", port=465, secure="ssl"),
         (P, P, P, P, P), SENDEMAIL_TLS_NO, toolkit="D", owner="www-data", mode=0o500,
         outside_webroot=True, shape="generation D",
         summaries={"CRED-01": "symlink to /var/www/outside_webroot"}),
    Case("joomla-gen-d-virgin", App.JOOMLA, seeds.joomla_gen_c_main, (P, P, F, F, F),
         (P, F, F, F), toolkit="D", owner="www-data", mode=0o500, outside_webroot=True,
         shape="generation D", summaries={"CRED-05": "cannot load"}),
    # Gen C: the webroot's configuration.php may only require the real one.
    Case("joomla-gen-c-require-stub", App.JOOMLA,
         lambda c: seeds.joomla_fixed(c, host="in-v3.mailjet.com", port=465, secure="ssl"),
         (P, P, P, P, P), SENDEMAIL_TLS_NO, toolkit="C", webroot="/var/www/html/joomla",
         owner="www-data", mode=0o600,
         more_files=lambda c: {seeds.JOOMLA_GEN_D_LINK: seeds.joomla_require_stub()},
         summaries={"CRED-01": "/var/www/html/joomla/configuration.php requires "
                               "/var/www/html/configuration.php"}),
    # A webroot only application.dat names: found by the one follow-up command.
    Case("joomla-webroot-from-application-dat", App.JOOMLA,
         lambda c: seeds.joomla_fixed(c, host="in-v3.mailjet.com", port=465, secure="ssl"),
         (P, P, P, P, P), SENDEMAIL_TLS_NO, toolkit="C", webroot="/var/www/site",
         owner="www-data", mode=0o600, path="/var/www/site/configuration.php",
         summaries={"CRED-01": "/var/www/site/configuration.php is a regular file"}),
    Case("joomla-require-only", App.JOOMLA,
         lambda c: b"<?php\nrequire('/var/www/html/joomla/configuration.php');\n",
         (F, S, S, S, S), owner="www-data", mode=0o600,
         summaries={"CRED-01": "which does not exist"}),
    Case("joomla-code-in-configuration", App.JOOMLA,
         lambda c: seeds.joomla_fixed(c, host="in-v3.mailjet.com", port=465, secure="ssl")
         .replace(b"}\n", b"\tpublic function __construct() { @touch('/tmp/x'); }\n}\n"),
         (P, P, F, P, E), owner="www-data", mode=0o600,
         summaries={"CRED-03": "executable code", "CRED-05": "holds executable code"}),
    Case("joomla-code-in-configuration-no-php", App.JOOMLA,
         lambda c: b"<?php\nnamespace Evil;\n" + seeds.joomla_fixed(
             c, host="in-v3.mailjet.com", port=465, secure="ssl").removeprefix(b"<?php\n"),
         (P, P, F, P, E), owner="www-data", mode=0o600, php=False,
         summaries={"CRED-03": "namespace"}),
]  # fmt: skip


COMMANDS: dict[str, int] = {}  # remote commands each case's host needed


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
            deployed = case.deployed or expected
            if case.content is not None:
                seeds.seed_credentials(
                    host, case.app, case.content(deployed), mode=case.mode, owner=case.owner,
                    outside_webroot=case.outside_webroot, path=case.path,
                )  # fmt: skip
            if case.toolkit is not None:
                seeds.seed_toolkit(host, deployed, gen=case.toolkit, app=case.app,
                                   ssmtp=case.ssmtp, webroot=case.webroot)  # fmt: skip
            for path, content in (case.more_files(deployed) if case.more_files else {}).items():
                host.put(path, content, mode=0o644, owner=case.owner)
            targets.append(lab_target(ssh_lab, host, case.app))
        audit = lab_audit(ssh_lab, targets, expected)
        for target in targets:
            evidence = audit.host_evidence(target)
            results[target.name] = {cid: check(evidence) for cid, check in HOST_CONTROLS.items()}
            assert evidence.observation.facts is not None
            COMMANDS[target.name] = evidence.observation.facts.commands_run
    return results


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_scenario(case: Case, outcomes: dict[str, dict[str, Finding]]) -> None:
    findings = outcomes[case.name]
    want = dict(zip(HOST_CONTROLS, case.statuses + case.toolkit_statuses, strict=True))
    wrong = {cid: f"{f.status.value} (want {want[cid].value}): {f.summary}"
             for cid, f in findings.items() if f.status is not want[cid]}  # fmt: skip
    assert not wrong
    well_formed = findings["CRED-03"].evidence
    if case.shape:
        assert case.shape in str(well_formed.get("shape")), well_formed
    if case.reader:
        assert case.reader in str(well_formed.get("reader")), well_formed
    for control_id, text in case.summaries.items():
        assert text in findings[control_id].summary, findings[control_id]
    for finding in findings.values():
        assert finding.target == case.name


def test_one_remote_command_per_host_unless_a_path_is_named_later(
    outcomes: dict[str, dict[str, Finding]],
) -> None:
    follow_up = {"joomla-webroot-from-application-dat"}
    assert {name: n for name, n in COMMANDS.items() if n != 1} == dict.fromkeys(follow_up, 2)
    assert len(COMMANDS) == len(CASES)


def test_password_never_in_findings(outcomes: dict[str, dict[str, Finding]]) -> None:
    for findings in outcomes.values():
        for finding in findings.values():
            text = repr(finding.to_dict())
            assert CREDS.password not in text
            assert TRUNCATED.password not in text
            assert SLASH.password not in text and NO_COLON.password not in text
            assert "lab-db-secret" not in text  # Joomla's database password sits in the file too
