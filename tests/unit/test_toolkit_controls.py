"""All nine host controls on gen C/D servers built in memory, as the toolkit's own scripts leave
them (reference/adt-toolkit.md, "Corrections" and "Where gen C/D servers keep the SMTP
credentials"): every generation × application × provider, with passwords holding ':' and '/'.
The lab's tests/lab/test_host_scenarios.py runs the same shapes through real sshd."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smtpcheck.credentials.controls import HOST_CONTROLS, host_evidence
from smtpcheck.credentials.evaluate import HostEvidence
from smtpcheck.findings import Finding, Status
from smtpcheck.lab import seeds
from smtpcheck.lab.seeds import LabCredentials
from smtpcheck.remote.facts import FileFacts, HostFacts, HostObservation
from smtpcheck.settings import Expected
from smtpcheck.targets import App
from tests.unit.builders import CATALOGUE, CREDS, expected_of, file_facts, stat_info, target

P, F, W, S, E = Status.PASS, Status.FAIL, Status.WARN, Status.SKIP, Status.ERROR
HOME = f"/home/{seeds.SERVER_USER}"
PASSWORDS = {"plain": "Pl41nPw-x9q", "colon": "c0l0n:Pw-x9q", "slash": "Sl4sh/Pw+x9q/z7Kd"}
SCRIPT_DIR = {"C": "providerscripts/email", "D": "services/email"}


def _facts(*files: FileFacts) -> HostFacts:
    return HostFacts("web1", "root", 0, {f.path: f for f in files}, "root", homes=(HOME,))


def toolkit_files(
    c: LabCredentials,
    gen: str,
    app: App,
    *,
    settings_mode: int = 0o660,
    ssmtp: bool = False,
    ssmtp_mode: int = 0o640,
    script: str = seeds.SEND_EMAIL_BALANCED,
) -> list[FileFacts]:
    settings = seeds.settings_dat(c, util="ssmtp" if ssmtp else "sendemail")
    files = [
        file_facts(f"{HOME}/.ssh/webserver_configuration_settings.dat", settings,
                   mode=settings_mode),
        file_facts(f"{HOME}/runtime/webserver_configuration_settings.dat", settings,
                   mode=settings_mode, owner=seeds.SERVER_USER),
        file_facts(f"{HOME}/{SCRIPT_DIR[gen]}/SendEmail.sh", script.encode(), mode=0o750),
    ]  # fmt: skip
    if app is App.JOOMLA:
        webroot = "/var/www/html/joomla" if gen == "D" else "/var/www/html"
        files.append(file_facts(f"{HOME}/runtime/application.dat",
                                seeds.application_dat(c, webroot=webroot), mode=0o640))  # fmt: skip
    if ssmtp:
        files.append(file_facts("/etc/ssmtp/ssmtp.conf", seeds.ssmtp_conf(c), mode=ssmtp_mode,
                                group="mail"))  # fmt: skip
    return files


def gen_d_joomla(content: bytes) -> list[FileFacts]:
    """Gen D's webroot: /var/www/html/joomla/configuration.php → /var/www/outside_webroot."""
    real = stat_info(mode=0o600, owner="www-data", group="www-data", size=len(content))
    link = stat_info(kind="symbolic link", mode=0o777, size=43)
    return [FileFacts(seeds.JOOMLA_GEN_D_LINK, True, link, seeds.JOOMLA_OUTSIDE_WEBROOT,
                      seeds.JOOMLA_OUTSIDE_WEBROOT, real, content)]  # fmt: skip


def evaluate(
    app: App, files: list[FileFacts], expected: Expected | None = None
) -> dict[str, Finding]:
    host = replace(target(app), run_php=False)
    ev: HostEvidence = host_evidence(
        HostObservation(host, _facts(*files)), expected or Expected(), CATALOGUE
    )
    return {cid: check(ev) for cid, check in HOST_CONTROLS.items()}


def statuses(found: dict[str, Finding]) -> tuple[Status, ...]:
    return tuple(finding.status for finding in found.values())


def _no_secret(found: dict[str, Finding], password: str) -> None:
    text = "".join(repr(f.to_dict()) for f in found.values())
    for part in {password, *password.replace(":", " ").replace("/", " ").split()}:
        assert part not in text


@pytest.mark.parametrize("password", PASSWORDS.values(), ids=PASSWORDS.keys())
@pytest.mark.parametrize("provider", [1, 2, 3])
@pytest.mark.parametrize("gen", ["C", "D"])
@pytest.mark.parametrize("app", [App.WORDPRESS, App.MOODLE, App.DRUPAL])
def test_gen_cd_labelled_apps(app: App, gen: str, provider: int, password: str) -> None:
    """No /var/www/*smtp file: CRED-01…05 skip; the settings pass; system mail as shipped
    (sendemail -o tls=no -xp PASSWORD) fails SYS-01 and SYS-02."""
    c = replace(CREDS, provider=provider, password=password)
    found = evaluate(app, toolkit_files(c, gen, app), expected_of(c))

    assert statuses(found) == (S, S, S, S, S, P, P, F, F), {k: f.summary for k, f in found.items()}
    assert "generation C/D does not write this file" in found["CRED-01"].summary
    assert found["SYS-01"].severity.value == "critical"
    assert "without TLS" in found["SYS-01"].summary
    assert "-xp" in found["SYS-02"].summary
    _no_secret(found, password)


@pytest.mark.parametrize("password", PASSWORDS.values(), ids=PASSWORDS.keys())
@pytest.mark.parametrize("provider", [1, 2, 3])
@pytest.mark.parametrize("gen", ["C", "D"])
def test_gen_cd_joomla_virgin(gen: str, provider: int, password: str) -> None:
    """Gen C main / D virgin: PHP cannot load the file, mailfrom is the to address."""
    c = replace(CREDS, provider=provider, password=password)
    content = seeds.joomla_gen_c_main(c)
    app_file = (gen_d_joomla(content) if gen == "D"
                else [file_facts("/var/www/html/configuration.php", content, mode=0o600,
                                 owner="www-data")])  # fmt: skip
    found = evaluate(App.JOOMLA, app_file + toolkit_files(c, gen, App.JOOMLA), expected_of(c))

    assert statuses(found) == (P, P, F, F, F, P, F, F, F), {k: f.summary for k, f in found.items()}
    assert found["CRED-01"].evidence["path"] == (
        seeds.JOOMLA_GEN_D_LINK if gen == "D" else "/var/www/html/configuration.php"
    )
    assert found["CRED-05"].summary.startswith("Joomla cannot load configuration.php")
    assert "from address" in found["CRED-04"].summary  # mailfrom is the to address
    _no_secret(found, password)


def test_gen_d_joomla_fixed_passes_the_file_and_fails_the_system_mail() -> None:
    content = seeds.joomla_fixed(CREDS, host="in-v3.mailjet.com", port=465, secure="ssl")
    found = evaluate(App.JOOMLA, gen_d_joomla(content) + toolkit_files(CREDS, "D", App.JOOMLA),
                     expected_of())  # fmt: skip

    assert statuses(found) == (P, P, P, P, P, P, P, F, F)
    assert "generation" in found["CRED-01"].evidence
    assert found["CRED-01"].evidence["named_by"] == f"CONFIG_FILE in {HOME}/runtime/application.dat"


def test_ssmtp_with_starttls_and_protected_conf_passes() -> None:
    c = replace(CREDS, password=PASSWORDS["plain"])
    found = evaluate(App.WORDPRESS, toolkit_files(c, "C", App.WORDPRESS, ssmtp=True),
                     expected_of(c))  # fmt: skip

    assert statuses(found)[5:] == (P, P, P, P), {k: f.summary for k, f in found.items()}


@pytest.mark.parametrize("password", [PASSWORDS["colon"], "sp ace", "ha#sh"])
def test_ssmtp_cuts_the_password_short(password: str) -> None:
    c = replace(CREDS, password=password)
    found = evaluate(App.WORDPRESS, toolkit_files(c, "C", App.WORDPRESS, ssmtp=True),
                     expected_of(c))  # fmt: skip

    assert found["CRED-07"].status is F
    assert "ssmtp reads it cut short" in found["CRED-07"].summary


def test_ssmtp_conf_readable_by_other_fails_sys_02() -> None:
    found = evaluate(App.WORDPRESS, toolkit_files(CREDS, "C", App.WORDPRESS, ssmtp=True,
                                                  ssmtp_mode=0o644), expected_of())  # fmt: skip

    assert found["SYS-02"].status is F
    assert "readable by every local user" in found["SYS-02"].summary


@pytest.mark.parametrize(
    ("mode", "status", "text"),
    [(0o660, P, "protected"), (0o600, P, "protected"), (0o664, F, "readable by every local user"),
     (0o750, P, "protected"), (0o666, F, "writable by every local user")],
)  # fmt: skip
def test_cred_06_settings_modes(mode: int, status: Status, text: str) -> None:
    found = evaluate(App.WORDPRESS, toolkit_files(CREDS, "C", App.WORDPRESS, settings_mode=mode),
                     expected_of())  # fmt: skip

    finding = found["CRED-06"]
    assert finding.status is status
    assert text in finding.summary + str(finding.evidence.get("problems", ()))


def test_cred_06_other_group_fails() -> None:
    files = toolkit_files(CREDS, "C", App.WORDPRESS)
    files[1] = replace(files[1], stat=stat_info(mode=0o660, group="www-data"))
    found = evaluate(App.WORDPRESS, files, expected_of())

    assert found["CRED-06"].status is F
    assert "writable by group www-data" in found["CRED-06"].summary


def test_cred_07_password_drift_and_no_settings() -> None:
    deployed = replace(CREDS, password="Dr1ft-pw")
    files = toolkit_files(deployed, "C", App.WORDPRESS)

    assert evaluate(App.WORDPRESS, files, expected_of())["CRED-07"].status is F
    assert evaluate(App.WORDPRESS, files)["CRED-07"].status is E  # nothing given to compare
    without_password = expected_of(SYSTEM_EMAIL_PASSWORD=True)
    assert evaluate(App.WORDPRESS, toolkit_files(CREDS, "C", App.WORDPRESS),
                    without_password)["CRED-07"].status is W  # fmt: skip


def test_require_credential_file_keeps_cred_01_failing() -> None:
    host = target(App.WORDPRESS)
    observation = HostObservation(host, _facts(*toolkit_files(CREDS, "C", App.WORDPRESS)))
    ev = host_evidence(observation, expected_of(), CATALOGUE, require_app_file=True)

    assert HOST_CONTROLS["CRED-01"](ev).status is F


def test_unidentified_host_without_the_file_still_fails_cred_01() -> None:
    """Only ~/.ssh's settings (gens A/B keep that copy too): not positively gen C/D."""
    files = toolkit_files(CREDS, "C", App.WORDPRESS)
    found = evaluate(App.WORDPRESS, [files[0]], expected_of())

    assert found["CRED-01"].status is F
    assert found["SYS-01"].status is S


def test_same_line_fi_script_still_fails_and_says_why() -> None:
    """The shipped commit whose fi sits after the Mailjet command: sh cannot parse the block,
    but once the script is repaired the clear-text path runs: never a pass."""
    files = toolkit_files(CREDS, "C", App.WORDPRESS, script=seeds.SEND_EMAIL_SAME_LINE_FI)
    found = evaluate(App.WORDPRESS, files, expected_of())

    assert found["SYS-01"].status is F
    assert "sh cannot parse" in found["SYS-01"].summary


@pytest.mark.parametrize(
    ("edit", "status", "text"),
    [("-o tls=yes", W, "unconfirmed"), ("-o tls=auto", F, "tls=auto"), ("", F, "without TLS")],
)
def test_sys_01_sendemail_tls_options(edit: str, status: Status, text: str) -> None:
    """SendPulse's 2525 STARTTLS is tagged unconfirmed in the provider profile."""
    c = replace(CREDS, provider=1)
    script = seeds.send_email_script("", tls=edit)
    found = evaluate(App.WORDPRESS, toolkit_files(c, "C", App.WORDPRESS, script=script),
                     expected_of(c))  # fmt: skip

    assert found["SYS-01"].status is status, found["SYS-01"].summary
    assert text in found["SYS-01"].summary


@pytest.mark.parametrize(
    "unreadable", [0, 1, 2], ids=["ssh-settings", "runtime-settings", "script"]
)
def test_a_copy_that_could_not_be_read_is_never_a_pass_or_skip(unreadable: int) -> None:
    """Permission denied on one copy: the controls that read it say so, as an error."""
    c = replace(CREDS, password=PASSWORDS["plain"])
    files = toolkit_files(c, "C", App.WORDPRESS, ssmtp=True)
    files[unreadable] = replace(files[unreadable], content=None, denied=True)
    found = evaluate(App.WORDPRESS, files, expected_of(c))

    judged = ("CRED-07",) if unreadable < 2 else ("SYS-01", "SYS-02")
    for control_id in judged:
        assert found[control_id].status is E, found[control_id].summary
        assert "permission denied" in found[control_id].summary
    assert found["CRED-06"].status is P  # modes are still judged from stat
