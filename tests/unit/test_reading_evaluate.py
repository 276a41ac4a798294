"""``read_credentials`` and CRED-01…05 on host facts built in memory (no host, no SSH)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from smtpcheck.credentials.evaluate import (
    CRED_CONTROLS,
    HostEvidence,
    evaluate_protected,
    evaluate_transport,
    evaluate_values_match,
    evaluate_well_formed,
)
from smtpcheck.credentials.reading import read_credentials
from smtpcheck.findings import Finding, Severity, Status
from smtpcheck.lab import seeds
from smtpcheck.lab.seeds import LabCredentials
from smtpcheck.remote.facts import FileFacts, HostObservation, PhpReading
from smtpcheck.secrets import Secret, fingerprint
from smtpcheck.settings import Expected
from smtpcheck.targets import CREDENTIAL_PATHS, App
from tests.unit.builders import (
    CATALOGUE,
    CREDS,
    PASSWORD,
    creds,
    evidence,
    expected_of,
    file_facts,
    needs_php,
    observed,
    run_php_reader,
    stat_info,
    target,
)

LABELLED_APPS = [App.WORDPRESS, App.MOODLE, App.DRUPAL]
LABELLED = seeds.labelled_file(CREDS)
JOOMLA_PATH = CREDENTIAL_PATHS[App.JOOMLA]


def evaluate(ev: HostEvidence) -> dict[str, Finding]:
    """Every CRED control on one host: exactly one finding each, for the host's target."""
    found = {control_id: evaluator(ev) for control_id, evaluator in CRED_CONTROLS.items()}
    for control_id, finding in found.items():
        assert (finding.control_id, finding.target) == (control_id, ev.target)
    return found


def statuses(ev: HostEvidence) -> dict[str, str]:
    return {control_id: f.status.value for control_id, f in evaluate(ev).items()}


def joomla(c: LabCredentials = CREDS, *, host: str = "in-v3.mailjet.com", port: int = 465,
           secure: str = "ssl", **edits: tuple[str, str]) -> bytes:  # fmt: skip
    """A correct configuration.php, then each edit ``(old, new)`` applied (the keys only name
    the edits)."""
    text = seeds.joomla_fixed(c, host=host, port=port, secure=secure).decode()
    for old, new in edits.values():
        assert old in text
        text = text.replace(old, new)
    return text.encode()


def _no_secret_in(finding: Finding) -> None:
    text = repr(finding) + repr(finding.to_dict())
    assert PASSWORD not in text
    for part in PASSWORD.split():
        assert part not in text


# --- a compliant host, every app ----------------------------------------------------------------


@pytest.mark.parametrize("app", LABELLED_APPS)
def test_toolkit_labelled_file_passes_everything(app: App) -> None:
    ev = evidence(app, seeds.labelled_file(CREDS), expected=expected_of())

    found = evaluate(ev)

    assert {k: f.status for k, f in found.items()} == dict.fromkeys(CRED_CONTROLS, Status.PASS)
    path = ev.observation.target.credential_path
    assert found["CRED-01"].summary == f"{path} is a regular file of {len(LABELLED)} bytes"
    assert found["CRED-02"].summary.endswith("is 0400 root:root")
    assert found["CRED-05"].summary == "Mailjet on port 465 (implicit TLS)"
    for finding in found.values():
        _no_secret_in(finding)
        assert finding.evidence["app"] == app.value
        assert finding.evidence["hostname"] == "web1"


def test_fixed_joomla_passes_everything() -> None:
    ev = evidence(App.JOOMLA, joomla(), expected=expected_of(), mode=0o400, owner="www-data",
                  group="www-data")  # fmt: skip

    found = evaluate(ev)

    assert {k: f.status for k, f in found.items()} == dict.fromkeys(CRED_CONTROLS, Status.PASS)
    assert found["CRED-05"].summary == "Mailjet at in-v3.mailjet.com:465 with implicit TLS"


# --- CRED-01 ------------------------------------------------------------------------------------

PATH = "/var/www/wordpresssmtp"


def _symlink(path: str, to: str, *, dangling: bool = False, content: bytes = b"x") -> FileFacts:
    st = stat_info(mode=0o500, owner="www-data", group="www-data", size=len(content))
    return FileFacts(path, True, stat_info("symbolic link", 0o777), to, to,
                     None if dangling else st, None if dangling else content)  # fmt: skip


CRED_01 = {
    "missing": (
        FileFacts(PATH, False), Status.FAIL, f"no credential file at {PATH}",
        "generations C and D) do not write this file",
    ),
    "dangling-symlink": (
        _symlink(PATH, "/srv/gone", dangling=True), Status.FAIL,
        f"{PATH} is a dangling symlink to /srv/gone", "Point the symlink",
    ),
    "directory": (
        dataclasses.replace(file_facts(PATH, None), stat=stat_info("directory", 0o755),
                            lstat=stat_info("directory", 0o755)),
        Status.FAIL, f"{PATH} is a directory, not a regular file", f"Replace {PATH}",
    ),
    "fifo": (
        dataclasses.replace(file_facts(PATH, None), stat=stat_info("fifo", 0o600)),
        Status.FAIL, f"{PATH} is a fifo, not a regular file", "",
    ),
    "empty-regular-file": (
        dataclasses.replace(file_facts(PATH, b""), stat=stat_info("regular empty file")),
        Status.PASS, f"{PATH} is a regular file of 0 bytes", "",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("facts", "status", "summary", "remedy"), CRED_01.values(),
                         ids=CRED_01.keys())  # fmt: skip
def test_cred_01(facts: FileFacts, status: Status, summary: str, remedy: str) -> None:
    found = evaluate(evidence(App.WORDPRESS, facts=facts, expected=expected_of()))

    assert (found["CRED-01"].status, found["CRED-01"].summary) == (status, summary)
    assert remedy in found["CRED-01"].remediation
    if status is Status.FAIL:  # nothing further to judge: the others are not applicable
        assert {found[c].status for c in ("CRED-02", "CRED-03", "CRED-04", "CRED-05")} == {
            Status.SKIP
        }


def test_cred_01_missing_joomla_has_no_generation_note() -> None:
    found = evaluate(evidence(App.JOOMLA, facts=FileFacts(JOOMLA_PATH, False)))

    assert found["CRED-01"].status is Status.FAIL
    assert "generations C and D" not in found["CRED-01"].remediation


def test_cred_01_host_without_the_file_entry_at_all() -> None:
    ev = HostEvidence(observed(target(App.MOODLE)), Expected(), CATALOGUE)

    assert statuses(ev) == {"CRED-01": "fail", "CRED-02": "skip", "CRED-03": "skip",
                            "CRED-04": "skip", "CRED-05": "skip"}  # fmt: skip


def test_cred_01_gen_d_symlink_to_outside_webroot() -> None:
    real = seeds.JOOMLA_OUTSIDE_WEBROOT
    ev = evidence(App.JOOMLA, facts=_symlink(JOOMLA_PATH, real, content=joomla()),
                  expected=expected_of())  # fmt: skip

    found = evaluate(ev)

    assert found["CRED-01"].status is Status.PASS
    assert found["CRED-01"].summary.endswith(f"(symlink to {real})")
    assert found["CRED-01"].evidence["symlink_to"] == real
    assert found["CRED-02"].status is Status.PASS  # 0500 www-data: the target's mode counts
    assert found["CRED-02"].evidence["resolved"] == real
    assert ev.reading is not None and ev.reading.shape.startswith(
        f"generation D: symlink to {real}"
    )
    assert found["CRED-04"].status is Status.PASS


PROBE_FAILURES = {
    "HostUnreachable": "sshd listens on the port",
    "HostKeyUnknown": "--accept-new-host-keys",
    "HostKeyMismatch": "ssh-keygen -R",
    "LoginRefused": "identity file",
    "RemoteCommandFailed": "sudo_password_env",
    "ParseError": "See the failure in the evidence.",
}


@pytest.mark.parametrize(("kind", "remedy"), PROBE_FAILURES.items(), ids=PROBE_FAILURES.keys())
def test_unobservable_host_is_an_error_on_every_control(kind: str, remedy: str) -> None:
    observation = HostObservation(target(App.DRUPAL), None, f"{kind} happened", kind)
    ev = HostEvidence(observation, expected_of(), CATALOGUE)

    found = evaluate(ev)
    cause = found.pop("CRED-01")  # the cause once; the other controls point at it
    assert cause.status is Status.ERROR and cause.is_problem
    assert cause.summary == f"could not inspect the host: {kind} happened"
    assert cause.evidence["failure"] == kind and remedy in cause.remediation
    for finding in found.values():
        assert finding.status is Status.ERROR
        assert finding.summary == "not evaluated: the host could not be inspected (see CRED-01)"
        assert finding.evidence["root_cause"] == "CRED-01"


# --- CRED-02 ------------------------------------------------------------------------------------

CRED_02 = [
    # mode, owner, group, status, severity
    (0o400, "root", "root", Status.PASS, Severity.CRITICAL),
    (0o400, "www-data", "www-data", Status.PASS, Severity.CRITICAL),
    (0o500, "root", "root", Status.PASS, Severity.CRITICAL),
    (0o600, "www-data", "www-data", Status.PASS, Severity.CRITICAL),
    (0o640, "root", "root", Status.PASS, Severity.CRITICAL),
    (0o640, "root", "www-data", Status.PASS, Severity.CRITICAL),
    (0o440, "nginx", "nginx", Status.PASS, Severity.CRITICAL),
    (0o640, "root", "staff", Status.WARN, Severity.LOW),
    (0o644, "root", "root", Status.FAIL, Severity.CRITICAL),
    (0o444, "www-data", "www-data", Status.FAIL, Severity.CRITICAL),
    (0o602, "root", "root", Status.FAIL, Severity.CRITICAL),
    (0o601, "root", "root", Status.FAIL, Severity.MEDIUM),
    (0o620, "root", "root", Status.FAIL, Severity.HIGH),
    (0o660, "www-data", "www-data", Status.FAIL, Severity.HIGH),
    (0o400, "nobody", "nogroup", Status.FAIL, Severity.HIGH),
    (0o400, "X1a2b3c4d5e6f7g8h9iX", "root", Status.FAIL, Severity.HIGH),
    (0o777, "nobody", "staff", Status.FAIL, Severity.CRITICAL),
]


@pytest.mark.parametrize(
    ("mode", "owner", "group", "status", "severity"), CRED_02,
    ids=[f"{m:04o}-{o}-{g}" for m, o, g, *_ in CRED_02],
)  # fmt: skip
def test_cred_02(mode: int, owner: str, group: str, status: Status, severity: Severity) -> None:
    ev = evidence(App.MOODLE, seeds.labelled_file(CREDS), mode=mode, owner=owner, group=group)

    finding = evaluate_protected(ev)

    assert (finding.status, finding.severity) == (status, severity)
    assert finding.evidence["mode"] == f"{mode:04o}"
    assert (finding.evidence["owner"], finding.evidence["group"]) == (owner, group)
    if status is Status.FAIL:
        assert "chmod 0400" in finding.remediation
        assert "EnforcePermissions" not in finding.remediation


def test_cred_02_lists_every_problem_and_leads_with_the_worst() -> None:
    finding = evaluate_protected(
        evidence(App.WORDPRESS, b"x", mode=0o666, owner="nobody", group="nogroup")
    )

    assert finding.summary == f"{PATH} is readable by every local user (mode 0666)"
    assert finding.evidence["problems"] == (
        "readable by every local user (mode 0666)",
        "writable by every local user (mode 0666)",
        "writable by group nogroup (mode 0666)",
        "owned by nobody, not root or the web-server user",
    )


def test_cred_02_joomla_remediation_names_the_nightly_reset() -> None:
    finding = evaluate_protected(evidence(App.JOOMLA, joomla(), mode=0o644))

    assert finding.status is Status.FAIL
    assert "EnforcePermissions.sh" in finding.remediation


def test_cred_02_web_users_are_configurable() -> None:
    ev = evidence(App.WORDPRESS, b"x", mode=0o440, owner="php-fpm", group="php-fpm")

    assert evaluate_protected(ev).status is Status.FAIL
    custom = dataclasses.replace(ev, web_users=frozenset({"php-fpm"}))
    assert evaluate_protected(custom).status is Status.PASS


# --- read_credentials and CRED-03 ---------------------------------------------------------------

UNREADABLE = {
    # content, file options, status of CRED-03 (CRED-04/05 cannot be evaluated: error), why,
    # remediation
    "denied": (None, {"denied": True}, Status.ERROR, "permission denied", "sudo_password_env"),
    "binary": (LABELLED + b"\0\1", {}, Status.FAIL, "the file is binary (contains NUL bytes)",
               "Restore"),
    "too-large": (LABELLED, {"size": 70000}, Status.FAIL,
                  "the file is 70000 bytes, over the 64 KiB read limit", "Restore"),
    "not-utf8": (LABELLED.replace(b"USERNAME: ", b"USERNAME: \xe9"), {}, Status.FAIL,
                 "the file is not UTF-8 text", "Restore"),
    "not-read": (None, {}, Status.FAIL, "the content was not read", "Restore"),
}  # fmt: skip


@pytest.mark.parametrize(("content", "options", "status", "why", "remedy"),
                         UNREADABLE.values(), ids=UNREADABLE.keys())  # fmt: skip
def test_unreadable_content(
    content: bytes | None, options: dict[str, Any], status: Status, why: str, remedy: str
) -> None:
    ev = evidence(App.WORDPRESS, content, expected=expected_of(), **options)

    found = evaluate(ev)

    assert ev.reading is not None and ev.reading.deployed is None
    assert ev.reading.unreadable is not None and ev.reading.unreadable.startswith(why)
    assert found["CRED-01"].status is Status.PASS and found["CRED-02"].status is Status.PASS
    for control_id in ("CRED-03", "CRED-04", "CRED-05"):
        expected = status if control_id == "CRED-03" else Status.ERROR
        assert found[control_id].status is expected
        assert found[control_id].summary == f"cannot read the values: {ev.reading.unreadable}"
        assert remedy in found[control_id].remediation


LABELLED_SHAPES = {
    "toolkit": (LABELLED, Status.PASS, None),
    "crlf-warns": (LABELLED.replace(b"\n", b"\r\n"), Status.WARN,
                   "lines end in CR LF (edited on Windows?)"),
    "wrong-order-warns": (b"USERNAME: u\nFROM ADDRESS: a@b.example\nPASSWORD: Wrong-order-pw-1\n"
                          b"EMAIL PROVIDER: 2\nPORT: 465\n", Status.WARN, "the labels are not"),
    "missing-line-fails": (LABELLED.replace(b"PORT: 465\n", b""), Status.FAIL,
                           "the PORT line is missing"),
    "empty-value-fails": (LABELLED.replace(CREDS.username.encode(), b""), Status.FAIL,
                          "line 2: USERNAME is empty"),
    "extra-line-fails": (LABELLED + b"HOST: x\n", Status.FAIL, "line 6 is not one of the five"),
}  # fmt: skip


@pytest.mark.parametrize(("content", "status", "first"), LABELLED_SHAPES.values(),
                         ids=LABELLED_SHAPES.keys())  # fmt: skip
def test_cred_03_labelled(content: bytes, status: Status, first: str | None) -> None:
    finding = evaluate_well_formed(evidence(App.DRUPAL, content))

    assert finding.status is status
    assert finding.evidence["reader"] == "labelled-line parser"
    if first is None:
        assert finding.summary.startswith("/var/www/drupalsmtp is well-formed (labelled five-line")
    else:
        assert finding.summary.startswith(f"/var/www/drupalsmtp: {first}")
        assert "FROM ADDRESS:, USERNAME:, PASSWORD:" in finding.remediation
    assert finding.severity is (Severity.LOW if status is Status.WARN else Severity.HIGH)
    _no_secret_in(finding)


JOOMLA_SHAPES = {
    "gen-a": (seeds.joomla_gen_a, Status.PASS, "generation A (single quotes, ssl on 465)"),
    "gen-b": (seeds.joomla_gen_b, Status.PASS, "generation B (single quotes, tls)"),
    "gen-c-dev": (seeds.joomla_gen_c_dev, Status.PASS, "generation C dev (double-quoted values)"),
    "gen-c-main": (seeds.joomla_gen_c_main, Status.FAIL,
                   "generation C main or D, virgin build (the toolkit's sed left smtphost "
                   "unquoted)"),
}  # fmt: skip


@pytest.mark.parametrize(("build", "status", "shape"), JOOMLA_SHAPES.values(),
                         ids=JOOMLA_SHAPES.keys())  # fmt: skip
def test_cred_03_joomla_generations(build: Any, status: Status, shape: str) -> None:
    ev = evidence(App.JOOMLA, build(CREDS))

    finding = evaluate_well_formed(ev)

    assert finding.status is status
    assert finding.evidence["shape"] == shape
    assert finding.evidence["reader"] == (
        "static PHP-literal parser (running PHP is disabled for this host)"
    )
    if status is Status.FAIL:
        assert "$smtppass: unterminated string" in finding.summary  # CREDS has a ":"
        assert "php -l configuration.php" in finding.remediation


def test_cred_03_joomla_mailer_not_smtp_is_named_in_the_shape() -> None:
    ev = evidence(App.JOOMLA, joomla(m=("$mailer = 'smtp'", "$mailer = 'mail'")))

    assert ev.reading is not None
    assert "SMTP not enabled (mailer 'mail')" in ev.reading.shape


def _php(output: bytes, status: int | None = 0) -> PhpReading:
    return PhpReading(True, status, output)


@pytest.mark.parametrize(
    ("php", "run_php", "reader"),
    [
        pytest.param(None, False, "static PHP-literal parser (running PHP is disabled for this "
                     "host)", id="disabled"),
        pytest.param(PhpReading(False), True, "static PHP-literal parser (php is not installed "
                     "on the host)", id="php-absent"),
        pytest.param(_php(b"", 255), True, "static PHP-literal parser (php on the host failed, "
                     "exit 255)", id="php-died"),
        pytest.param(_php(b'{"php":"8.2.0","error":"not executed: the file holds T_EVAL at '
                          b'line 3, beyond property declarations"}'), True,
                     "static PHP-literal parser (PHP 8.2.0: not executed: the file holds T_EVAL",
                     id="php-refused"),
        pytest.param(_php(b'{"php":"8.2.0","values":{"mailer":"smtp","smtpauth":"1",'
                          b'"smtphost":"in-v3.mailjet.com","smtpport":"465","smtpsecure":"ssl",'
                          b'"smtpuser":"php-user","smtppass":"php-pass","mailfrom":"a@b.example"}}'),
                     True, "PHP 8.2.0 on the host, as Joomla reads it", id="php-read-it"),
    ],
)  # fmt: skip
def test_joomla_reader_choice(php: PhpReading | None, run_php: bool, reader: str) -> None:
    facts = file_facts(JOOMLA_PATH, joomla(), php=php)

    reading = read_credentials(facts, App.JOOMLA, CATALOGUE, run_php=run_php)

    assert reading.reader.startswith(reader)
    assert reading.deployed is not None
    if "as Joomla reads it" in reader:  # PHP's values win over the static reader's
        assert reading.deployed.username == "php-user"
        assert reading.deployed.password is not None
        assert reading.deployed.password.reveal() == "php-pass"
    else:
        assert reading.deployed.username == CREDS.username
        assert reading.deployed.password is not None
        assert reading.deployed.password.reveal() == PASSWORD


@needs_php
def test_cred_03_php_error_is_a_fatal_problem(tmp_path: Any) -> None:
    """Gen C main read by real PHP: 'Undefined constant' leads CRED-03."""
    content = seeds.joomla_gen_c_main(creds(provider=1, password="no-colon-in-it"))
    path = tmp_path / "configuration.php"
    path.write_bytes(content)
    status, output = run_php_reader(path)
    facts = file_facts(JOOMLA_PATH, content, php=_php(output, status))

    ev = evidence(App.JOOMLA, facts=facts, run_php=True)
    finding = evaluate_well_formed(ev)

    assert finding.status is Status.FAIL
    assert finding.summary.endswith(
        'PHP cannot load the configuration: Error: Undefined constant "smtp"'
    )
    assert str(finding.evidence["reader"]).startswith("static PHP-literal parser (PHP 8")


@needs_php
@pytest.mark.parametrize(
    "declaration",
    [
        pytest.param("$smtppass = 'Zx9'qTw7'x';", id="quotes-in-single-quotes"),
        pytest.param("$smtppass = Zx9qTw7unquoted;", id="unquoted"),
    ],
)
def test_cred_03_php_error_never_quotes_a_malformed_password(
    tmp_path: Any, declaration: str
) -> None:
    """The toolkit's sed writes a password with a ' unescaped: PHP's own message then quotes
    the rest of it ('unexpected identifier "qTw7"'), and nothing has registered it as a secret
    (no reader could take the value). PHP's words must not reach the evidence for that file."""
    content = joomla(p=("$smtppass = " + repr(PASSWORD).replace('"', "'") + ";", declaration))
    path = tmp_path / "configuration.php"
    path.write_bytes(content)
    status, output = run_php_reader(path)
    assert b"qTw7" in output or b"Zx9qTw7" in output  # PHP's error does quote it
    facts = file_facts(JOOMLA_PATH, content, php=_php(output, status))

    finding = evaluate_well_formed(evidence(App.JOOMLA, facts=facts, run_php=True))

    assert finding.status is Status.FAIL
    text = repr(finding) + repr(finding.to_dict())
    assert "qTw7" not in text
    assert "PHP cannot load the configuration" in text


# --- CRED-04 ------------------------------------------------------------------------------------


def test_cred_04_is_an_error_without_expected_values() -> None:
    """SPEC v1.1: no build-time settings at all is never a clean run."""
    finding = evaluate_values_match(evidence(App.WORDPRESS, LABELLED))

    assert finding.status is Status.ERROR
    assert "SYSTEM_EMAIL_*" in finding.remediation


_TRUNCATED = "differs: truncated at ':' (the toolkit splits config values on ':')"
CRED_04 = {
    # deployed (in the file), expected (build time), verdicts other than "matches", status
    "all-match": (CREDS, CREDS, {}, Status.PASS),
    "from-address-case-insensitive": (
        creds(from_address="Notifications@SHOP.example"), CREDS, {}, Status.PASS),
    "from-address-differs": (
        creds(from_address="noreply@shop.example"), CREDS,
        {"from_address": "differs: file has 'noreply@shop.example', expected "
                         "'notifications@shop.example'"}, Status.FAIL),
    "username-differs": (
        creds(username="other-user"), CREDS,
        {"username": "differs: file has 'other-user', expected 'smtp-user-8f2a'"}, Status.FAIL),
    "username-truncated-at-colon": (
        creds(username="8f2a"), creds(username="smtp:8f2a"), {"username": _TRUNCATED},
        Status.FAIL),
    "password-differs": (creds(password="another secret"), CREDS, {"password": "differs"},
                         Status.FAIL),
    "password-truncated-at-colon": (
        creds(password=PASSWORD.rsplit(":", 1)[1]), CREDS, {"password": _TRUNCATED},
        Status.FAIL),
    "provider-differs": (
        creds(provider=3), CREDS, {"provider": "differs: file has Amazon SES, expected Mailjet"},
        Status.FAIL),
}  # fmt: skip


@pytest.mark.parametrize(("deployed", "expected", "verdicts", "status"), CRED_04.values(),
                         ids=CRED_04.keys())  # fmt: skip
def test_cred_04_labelled(
    deployed: LabCredentials, expected: LabCredentials, verdicts: dict[str, str], status: Status
) -> None:
    ev = evidence(App.WORDPRESS, seeds.labelled_file(deployed), expected=expected_of(expected))

    finding = evaluate_values_match(ev)

    assert finding.status is status
    verdict = dict.fromkeys(("from_address", "username", "password", "provider"), "matches")
    verdict.update(verdicts)
    assert {k: finding.evidence[k] for k in verdict} == verdict
    if status is Status.PASS:
        assert finding.summary == "from address, username, password, provider match"
    else:  # the summary leads with the first difference
        [(name, why)] = verdicts.items()
        assert finding.summary == f"{name.replace('_', ' ')} {why}"
    assert finding.evidence["expected_from"] == ("environment",)
    assert finding.evidence["password_fingerprint"] == fingerprint(Secret(deployed.password))
    _no_secret_in(finding)


def test_cred_04_password_absent_from_the_file() -> None:
    content = LABELLED.replace(f"PASSWORD: {PASSWORD}\n".encode(), b"")
    finding = evaluate_values_match(evidence(App.WORDPRESS, content, expected=expected_of()))

    assert finding.status is Status.FAIL
    assert finding.evidence["password"] == "absent from the file"
    assert "password_fingerprint" not in finding.evidence


def test_cred_04_compares_only_what_was_given() -> None:
    expected = expected_of(SYSTEM_FROMEMAIL_ADDRESS=True, SYSTEM_EMAIL_USERNAME=True,
                           SYSTEM_EMAIL_PASSWORD=True)  # fmt: skip
    finding = evaluate_values_match(evidence(App.WORDPRESS, LABELLED, expected=expected))

    assert finding.status is Status.WARN  # the password was not given, so never compared
    assert finding.summary == "provider match; password not compared"
    assert "username" not in finding.evidence and "password" not in finding.evidence


def test_cred_04_password_not_given_is_never_a_pass() -> None:
    expected = expected_of(SYSTEM_EMAIL_PASSWORD=True)
    finding = evaluate_values_match(evidence(App.WORDPRESS, LABELLED, expected=expected))

    assert finding.status is Status.WARN
    assert finding.summary.endswith("password not compared")


def test_cred_04_unknown_provider_code_in_the_file() -> None:
    ev = evidence(App.WORDPRESS, seeds.labelled_file(CREDS, provider=7), expected=expected_of())

    finding = evaluate_values_match(ev)

    assert finding.status is Status.FAIL
    assert finding.evidence["provider"] == "differs: file has unknown, expected Mailjet"


def test_cred_04_gen_a_joomla_provider_2_wrote_gmail() -> None:
    """Generation A's Joomla scripts put smtp.gmail.com under provider 2 (Mailjet)."""
    ev = evidence(App.JOOMLA, seeds.joomla_gen_a(CREDS), expected=expected_of())

    finding = evaluate_values_match(ev)

    assert finding.status is Status.FAIL
    assert (
        finding.summary == "provider differs: file has Gmail / Google Workspace, expected Mailjet"
    )
    assert (finding.evidence["username"], finding.evidence["password"]) == ("matches", "matches")
    _no_secret_in(finding)


def test_cred_04_fingerprint_is_of_the_deployed_password_and_never_the_password() -> None:
    ev = evidence(App.JOOMLA, joomla(), expected=expected_of())

    finding = evaluate_values_match(ev)

    assert finding.evidence["password"] == "matches"
    fp = finding.evidence["password_fingerprint"]
    assert isinstance(fp, str) and fp.startswith("hmac-sha256:") and len(fp) == 24
    assert fp == fingerprint(Secret(PASSWORD))
    _no_secret_in(finding)


# --- CRED-05 ------------------------------------------------------------------------------------

CRED_05_LABELLED = {
    "sendpulse-465": (1, 465, Status.PASS, "SendPulse on port 465 (implicit TLS)"),
    "mailjet-465": (2, 465, Status.PASS, "Mailjet on port 465 (implicit TLS)"),
    "ses-465": (3, 465, Status.PASS, "Amazon SES on port 465 (implicit TLS)"),
    "ses-2465": (3, 2465, Status.PASS, "Amazon SES on port 2465 (implicit TLS)"),
    "sendpulse-2525-unconfirmed": (1, 2525, Status.WARN, "SendPulse on port 2525 (STARTTLS); "
                                   "that SendPulse serves STARTTLS on port 2525 is unconfirmed "
                                   "(reference tag U)"),
    "mailjet-587-starttls-unknowable": (2, 587, Status.WARN, "Mailjet on port 587 (STARTTLS): "
                                        "the file cannot say whether the mail plugin enforces "
                                        "STARTTLS"),
    "ses-587": (3, 587, Status.WARN, "Amazon SES on port 587 (STARTTLS): the file cannot say"),
    "unknown-provider-code": (4, 465, Status.FAIL, "EMAIL PROVIDER '4' is not a known provider "
                              "code"),
    "unknown-port": (2, 2526, Status.FAIL, "Mailjet does not serve SMTP on port 2526"),
    "gmail-has-no-code": (0, 465, Status.FAIL, "EMAIL PROVIDER '0' is not a known provider code"),
}  # fmt: skip


@pytest.mark.parametrize(("code", "port", "status", "summary"), CRED_05_LABELLED.values(),
                         ids=CRED_05_LABELLED.keys())  # fmt: skip
def test_cred_05_labelled(code: int, port: int, status: Status, summary: str) -> None:
    ev = evidence(App.WORDPRESS, seeds.labelled_file(CREDS, provider=code, port=port))

    finding = evaluate_transport(ev)

    assert finding.status is status
    assert finding.summary.startswith(summary)
    assert finding.severity is (Severity.LOW if status is Status.WARN else Severity.HIGH)
    assert finding.evidence["port"] == str(port)
    if status is not Status.PASS:
        assert finding.remediation


def test_cred_05_labelled_port_not_a_number() -> None:
    ev = evidence(App.WORDPRESS, LABELLED.replace(b"PORT: 465", b"PORT: smtps"))

    finding = evaluate_transport(ev)

    assert (finding.status, finding.summary) == (Status.FAIL, "PORT is not a number")


CRED_05_JOOMLA = {
    "ssl-465": (joomla(), Status.PASS, "Mailjet at in-v3.mailjet.com:465 with implicit TLS"),
    "tls-587": (joomla(port=587, secure="tls"), Status.PASS,
                "Mailjet at in-v3.mailjet.com:587 with STARTTLS"),
    "ses-regional-host": (joomla(host="email-smtp.us-east-1.amazonaws.com"), Status.PASS,
                          "Amazon SES at email-smtp.us-east-1.amazonaws.com:465 with implicit "
                          "TLS"),
    "ses-fips-2587": (joomla(host="email-smtp-fips.us-east-1.amazonaws.com", port=2587,
                             secure="tls"), Status.PASS, "Amazon SES at email-smtp-fips"),
    "sendpulse-2525-unconfirmed": (joomla(host="smtp-pulse.com", port=2525, secure="tls"),
                                   Status.WARN, "SendPulse at smtp-pulse.com:2525 with STARTTLS; "
                                   "that SendPulse serves STARTTLS on port 2525 is unconfirmed"),
    "mailer-mail": (joomla(m=("$mailer = 'smtp'", "$mailer = 'mail'")), Status.FAIL,
                    "SMTP was never configured on this site (mailer 'mail'): Joomla's mail does "
                    "not go through the relay"),
    "mailer-sendmail": (joomla(m=("$mailer = 'smtp'", "$mailer = 'sendmail'")), Status.FAIL,
                        "SMTP was never configured on this site (mailer 'sendmail')"),
    "smtpauth-0": (joomla(a=("$smtpauth = 1", "$smtpauth = 0")), Status.FAIL,
                   "smtpauth is off: Joomla would not authenticate to the relay"),
    "smtpauth-string-0": (joomla(a=("$smtpauth = 1", "$smtpauth = '0'")), Status.FAIL,
                          "smtpauth is off"),
    "smtpauth-true": (joomla(a=("$smtpauth = 1", "$smtpauth = true")), Status.PASS, "Mailjet"),
    "smtpsecure-none": (joomla(secure="none"), Status.FAIL,
                        "smtpsecure is 'none': the password would cross in clear"),
    "smtpsecure-empty": (joomla(secure=""), Status.FAIL, "smtpsecure is '': the password would"),
    "ssl-on-587": (joomla(port=587, secure="ssl"), Status.FAIL,
                   "smtpsecure 'ssl' means implicit TLS, but port 587 at Mailjet is STARTTLS"),
    "tls-on-465": (joomla(port=465, secure="tls"), Status.FAIL,
                   "smtpsecure 'tls' means STARTTLS, but port 465 at Mailjet is implicit TLS"),
    # That SendPulse's 2525 is STARTTLS is unconfirmed (U): the mismatch can only warn.
    "ssl-on-2525-unconfirmed": (joomla(host="smtp-pulse.com", port=2525, secure="ssl"),
                                Status.WARN, "smtpsecure 'ssl' means implicit TLS, but port 2525 "
                                "at SendPulse is STARTTLS (unconfirmed: reference tag U)"),
    "unknown-host": (joomla(host="mail.shop.example"), Status.FAIL,
                     "smtphost 'mail.shop.example' is not a known provider relay"),
    "empty-host": (joomla(host=""), Status.FAIL, "smtphost is empty"),
    "port-not-served": (joomla(port=2526, secure="tls"), Status.FAIL,
                        "Mailjet does not serve SMTP on port 2526"),
    "no-smtpport-means-25": (joomla(p=("\tpublic $smtpport = 465;\n", ""), secure="tls"),
                             Status.PASS, "Mailjet at in-v3.mailjet.com:25 with STARTTLS"),
    "gmail-gen-a": (seeds.joomla_gen_a(CREDS), Status.PASS,
                    "Gmail / Google Workspace at smtp.gmail.com:465 with implicit TLS"),
}  # fmt: skip


@pytest.mark.parametrize(("content", "status", "summary"), CRED_05_JOOMLA.values(),
                         ids=CRED_05_JOOMLA.keys())  # fmt: skip
def test_cred_05_joomla(content: bytes, status: Status, summary: str) -> None:
    finding = evaluate_transport(evidence(App.JOOMLA, content))

    assert finding.status is status
    assert finding.summary.startswith(summary)
    if status is not Status.PASS:
        assert finding.remediation
    _no_secret_in(finding)


@pytest.mark.parametrize("provider", [1, 2, 3])
def test_cred_05_smtp_port_is_ignored_by_joomla(provider: int) -> None:
    ev = evidence(App.JOOMLA, seeds.joomla_smtp_port_misnamed(creds(provider=provider)))

    finding = evaluate_transport(ev)

    assert finding.status is Status.FAIL
    assert finding.summary.startswith("smtp_port = ")
    assert finding.summary.endswith(
        "is not a Joomla setting: Joomla reads smtpport and uses port 25"
    )
    assert finding.evidence["effective_port"] == 25
    assert "Rename $smtp_port to $smtpport" in finding.remediation


def test_cred_05_smtp_port_without_smtpport_says_default() -> None:
    content = seeds.joomla_smtp_port_misnamed(CREDS).replace(b"\tpublic $smtpport = 25;\n", b"")

    finding = evaluate_transport(evidence(App.JOOMLA, content))

    assert finding.summary.endswith("uses port 25 (its default)")


@pytest.mark.parametrize("provider", [1, 2, 3])
@pytest.mark.parametrize("password", ["Plain9xPw", "Colon9x:tail7q", "Slash9x/tail7q"])
def test_cred_05_gen_c_main_virgin_never_passes(provider: int, password: str) -> None:
    """PHP cannot load the file (unquoted smtphost; a ':' also splits the literal)."""
    ev = evidence(App.JOOMLA, seeds.joomla_gen_c_main(creds(provider=provider, password=password)))

    finding = evaluate_transport(ev)

    assert finding.status is Status.FAIL
    assert finding.summary.startswith("Joomla cannot load configuration.php")
    assert password.split(":")[0] not in repr(finding.to_dict())


def test_cred_05_baseline_build_says_smtp_was_never_configured() -> None:
    finding = evaluate_transport(evidence(App.JOOMLA, seeds.joomla_gen_c_main_baseline()))

    assert finding.status is Status.FAIL
    assert finding.summary.startswith("SMTP was never configured on this site (mailer 'mail')")
    assert "baseline build" in finding.summary
    assert finding.evidence["baseline_build"] is True


@pytest.mark.parametrize(
    ("port_line", "problem"),
    [
        ("$smtpport = 'abc';", "smtpport is not a number (Joomla would cast it to 0)"),
        ("$smtpport = '²';", "smtpport is not a number (Joomla would cast it to 0)"),
    ],
)
def test_joomla_smtpport_not_a_number(port_line: str, problem: str) -> None:
    ev = evidence(App.JOOMLA, joomla(p=("$smtpport = 465;", port_line)))

    assert ev.reading is not None
    assert problem in [p.message for p in ev.reading.problems]
    assert evaluate_well_formed(ev).status is Status.FAIL
