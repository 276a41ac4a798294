"""``smtpcheck audit`` and ``pytest checks/`` as an operator runs them, against lab hosts; and the
canary: the planted secrets appear in no output of any run, at any verbosity (SPEC §5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from smtpcheck.lab import seeds
from smtpcheck.lab.nsd import NsdServer
from smtpcheck.lab.sshd import LAB_USER, SshLab
from smtpcheck.secrets import encoded_forms
from smtpcheck.targets import App
from tests.lab.conftest import CREDS

WRONG_PASSWORD = "Cnry-0d2c4e6f:WRONG-pw"  # a deployed secret that differs: a secret as well
URL_PASSWORD = "Cnry-url-5a5a5a"  # an SSH password given in a host URL
DB_PASSWORD = "lab-db-secret"  # Joomla's database password, in the same file


@dataclass(frozen=True)
class Fleet:
    compliant: Path  # inventory of compliant hosts only
    mixed: Path  # inventory with failing, erroring and compliant hosts
    lab: SshLab


def _entry(name: str, url: str, app: App, extra: str = "") -> str:
    return f'[[hosts]]\nname = "{name}"\nurl = "{url}"\napp = "{app.value}"\n{extra}\n'


@pytest.fixture(scope="module")
def fleet(ssh_lab: SshLab, tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    good = ssh_lab.add_host("e2e-good")
    seeds.seed_credentials(good, App.WORDPRESS, seeds.labelled_file(CREDS))
    joomla = ssh_lab.add_host("e2e-joomla")
    seeds.seed_credentials(
        joomla, App.JOOMLA, seeds.joomla_gen_b(CREDS), owner="www-data", mode=0o600
    )
    wrong = ssh_lab.add_host("e2e-wrong")
    seeds.seed_credentials(
        wrong, App.DRUPAL, seeds.labelled_file(replace(CREDS, password=WRONG_PASSWORD))
    )
    c_main = ssh_lab.add_host("e2e-c-main")
    c_main_file = seeds.joomla_gen_c_main(replace(CREDS, password=WRONG_PASSWORD))
    seeds.seed_credentials(c_main, App.JOOMLA, c_main_file, owner="www-data", mode=0o644)
    # Current servers: the password sits in the toolkit's settings, SendEmail.sh's command line
    # and ssmtp.conf; gen D's Joomla file lives outside the webroot.
    gen_d = ssh_lab.add_host("e2e-gen-d")
    seeds.seed_credentials(gen_d, App.JOOMLA, seeds.joomla_gen_c_main(CREDS), owner="www-data",
                           mode=0o500, outside_webroot=True)  # fmt: skip
    seeds.seed_toolkit(gen_d, CREDS, gen="D", app=App.JOOMLA, ssmtp=True)
    gen_c = ssh_lab.add_host("e2e-gen-c")
    seeds.seed_toolkit(gen_c, CREDS, gen="C", app=App.WORDPRESS)
    directory = tmp_path_factory.mktemp("inventories")
    not_a_key = directory / "not-a-key"  # exists (checked up front), holds no key: login fails
    not_a_key.write_text("not a private key\n")
    head = f'[defaults]\nidentity_file = "{ssh_lab.client_key}"\nsudo = true\n\n'
    compliant = (
        _entry("good", good.url(), App.WORDPRESS)
        + _entry("joomla", joomla.url(ssh_lab.sudo_password_user), App.JOOMLA,
                 'sudo_password_env = "LAB_SUDO_PW"')
    )  # fmt: skip
    url_with_password = f"paramiko://{LAB_USER}:{URL_PASSWORD}@{good.address}:{good.port}"
    mixed = (
        compliant
        + _entry("wrong", wrong.url(), App.DRUPAL)
        + _entry("c-main", c_main.url(), App.JOOMLA)
        + _entry("password-url", url_with_password, App.MOODLE, f'identity_file = "{not_a_key}"')
        + _entry("gen-d", gen_d.url(), App.JOOMLA)
        + _entry("gen-c", gen_c.url(), App.WORDPRESS)
    )
    (directory / "compliant.toml").write_text(head + compliant)
    (directory / "mixed.toml").write_text(head + mixed)
    return Fleet(directory / "compliant.toml", directory / "mixed.toml", ssh_lab)


def _environ(lab: SshLab) -> dict[str, str]:
    return {**os.environ, **CREDS.environment(), "LAB_SUDO_PW": lab.sudo_password}


def _smtpcheck(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpcheck", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def _audit(
    fleet: Fleet, inventory: Path, reports: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    return _smtpcheck(
        "audit", "--inventory", str(inventory), "--known-hosts", str(fleet.lab.known_hosts),
        "--layers", "host", "--report-dir", str(reports), *extra, env=_environ(fleet.lab),
    )  # fmt: skip


def test_compliant_fleet_exits_0_with_all_reports(fleet: Fleet, tmp_path: Path) -> None:
    done = _audit(fleet, fleet.compliant, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stderr == ""
    report = json.loads((tmp_path / "report.json").read_text())
    # Gen A/B hosts without the toolkit's settings files: CRED-06/07 and SYS-01/02 do not apply.
    assert report["summary"] == {
        "pass": 10, "fail": 0, "warn": 0, "skip": 8, "error": 0, "not_evaluated": 0
    }  # fmt: skip
    assert {f["target"] for f in report["findings"]} == {"good", "joomla"}
    suites = ET.parse(tmp_path / "junit.xml").getroot().findall("testsuite")
    assert sorted(s.get("name", "") for s in suites) == ["good", "joomla"]
    assert "Compliant" in (tmp_path / "report.html").read_text()


def test_mixed_fleet_exits_1_and_reports_every_host(fleet: Fleet, tmp_path: Path) -> None:
    done = _audit(fleet, fleet.mixed, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    by_host: dict[str, dict[str, str]] = {}
    for finding in report["findings"]:
        by_host.setdefault(finding["target"], {})[finding["control_id"]] = finding["status"]
    assert set(by_host["good"].values()) == {"pass", "skip"}
    assert by_host["wrong"]["CRED-04"] == "fail"
    assert by_host["gen-d"]["CRED-01"] == "pass"  # found at /var/www/html/joomla
    assert by_host["gen-d"]["CRED-05"] == "fail"  # PHP cannot load it
    assert by_host["gen-d"]["SYS-01"] == "pass"  # ssmtp with STARTTLS on 587
    assert by_host["gen-d"]["CRED-07"] == "fail"  # ssmtp cuts the ':' password short
    assert by_host["gen-c"]["CRED-01"] == "skip"  # gen C writes no /var/www/wordpresssmtp
    assert by_host["gen-c"]["SYS-01"] == by_host["gen-c"]["SYS-02"] == "fail"
    assert by_host["c-main"]["CRED-02"] == by_host["c-main"]["CRED-03"] == "fail"
    assert set(by_host["password-url"].values()) == {"error"}
    assert report["exit_status"] == 1
    assert "FAIL  CRED-04   wrong: password differs" in done.stdout


@pytest.mark.parametrize(("fail_on", "code"), [(None, 1), ("high", 1), ("critical", 0)])
def test_fail_on_gates_the_exit_status_by_severity(
    fleet: Fleet, tmp_path: Path, fail_on: str | None, code: int
) -> None:
    """The wrong host fails CRED-04 (high) only: --fail-on critical lets it through, and the
    report says the same as the process."""
    wrong = next(h for h in fleet.lab.hosts if h.name == "e2e-wrong")
    inventory = tmp_path / "wrong.toml"
    inventory.write_text(
        f'[defaults]\nidentity_file = "{fleet.lab.client_key}"\nsudo = true\n\n'
        + _entry("wrong", wrong.url(), App.DRUPAL)
    )
    done = _audit(fleet, inventory, tmp_path / "r", *(["--fail-on", fail_on] if fail_on else []))
    assert done.returncode == code, done.stdout + done.stderr
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["exit_status"] == code
    assert report["fail_on"] == (fail_on or "any fail or error")
    assert {f["control_id"] for f in report["findings"] if f["status"] == "fail"} == {"CRED-04"}


def test_format_json_puts_only_report_json_on_stdout(fleet: Fleet, tmp_path: Path) -> None:
    """Issue 9 item 5: `smtpcheck audit --format json | jq` must always parse."""
    done = _audit(fleet, fleet.mixed, tmp_path, "--format", "json", "-v")
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout) == json.loads((tmp_path / "report.json").read_text())
    assert "FAIL  CRED-04   wrong: password differs" in done.stderr  # the story, on stderr


def test_pytest_checks_directly(fleet: Fleet, tmp_path: Path) -> None:
    hosts = ",".join(
        h.url() for h in fleet.lab.hosts if h.name in ("e2e-good", "e2e-wrong")
    )  # the wrong host is a Drupal file read as WordPress: CRED-01 fails there
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/", "-p", "smtpcheck.plugin", "--hosts", hosts,
         "--app", "wordpress", "--sudo", "--ssh-identity-file", str(fleet.lab.client_key),
         "--known-hosts", str(fleet.lab.known_hosts), "--layers", "host",
         "--report-dir", str(tmp_path), "-q"],
        capture_output=True, text=True, env=_environ(fleet.lab), timeout=120,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    assert "1 failed" in done.stdout
    assert "12 skipped" in done.stdout  # 4 after CRED-01's fail, 2 × 4 toolkit controls
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["summary"]["pass"] == 5


def test_pytest_n_observes_each_host_once(fleet: Fleet, dns_lab: NsdServer, tmp_path: Path) -> None:
    """Issue 8 item 14: each xdist worker used to observe every host at collection (one SSH
    command per host per worker); the controller now observes once and hands the facts out."""
    chosen = [h for h in fleet.lab.hosts if h.name in ("e2e-good", "e2e-wrong", "e2e-gen-c")]
    before = {h.name: h.sessions() for h in chosen}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/", "-p", "smtpcheck.plugin", "-n", "2",
         "--hosts", ",".join(h.url() for h in chosen), "--app", "wordpress", "--sudo",
         "--ssh-identity-file", str(fleet.lab.client_key),
         "--known-hosts", str(fleet.lab.known_hosts), "--layers", "host,dns",
         "--nameserver", dns_lab.nameserver, "--report-dir", str(tmp_path), "-q"],
        capture_output=True, text=True, env=_environ(fleet.lab), timeout=120,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    assert {h.name: h.sessions() - before[h.name] for h in chosen} == dict.fromkeys(before, 1)
    report = json.loads((tmp_path / "report.json").read_text())
    by_target = {(f["control_id"], f["target"]): f["status"] for f in report["findings"]}
    hosts = {h.url() for h in chosen}
    assert {t for _, t in by_target if t in hosts} == hosts  # every host judged
    assert by_target[("CRED-04", chosen[0].url())] == "pass"
    derived = CREDS.from_address.split("@")[1]  # the DNS targets come from the facts
    assert {c for c, t in by_target if t == derived} >= {"SPF-01", "DKIM-01", "DMARC-01"}


def test_configuration_error_is_one_line_and_exit_2(fleet: Fleet, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[hosts]]\nname = "x"\naddress = "127.0.0.1"\napp = "typo3"\n')
    done = _audit(fleet, bad, tmp_path / "reports")
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1
    assert "app 'typo3' is not one of" in done.stderr
    assert "Traceback" not in done.stderr


def _secret_forms(lab: SshLab) -> set[str]:
    forms = encoded_forms(CREDS.password, [CREDS.username]) | encoded_forms(
        WRONG_PASSWORD, [CREDS.username]
    )
    return forms | encoded_forms(lab.sudo_password) | encoded_forms(URL_PASSWORD) | {DB_PASSWORD}


def _leaks(texts: dict[str, str], forms: set[str]) -> list[str]:
    return [
        f"{form!r} in {where}" for where, text in texts.items() for form in forms if form in text
    ]


def test_canary_secrets_appear_nowhere(fleet: Fleet, tmp_path: Path) -> None:
    """Passing and failing audits, CLI at -vvv and pytest with locals, DEBUG logs, pytest's own
    JUnit: no secret, nor its base64 SMTP AUTH forms, in any output or artifact."""
    texts: dict[str, str] = {}
    for name, inventory in (("compliant", fleet.compliant), ("mixed", fleet.mixed)):
        reports = tmp_path / f"cli-{name}"
        done = _audit(fleet, inventory, reports, "-vvv")
        assert done.returncode in (0, 1), done.stderr
        texts[f"cli {name} stdout"] = done.stdout
        texts[f"cli {name} stderr"] = done.stderr
        texts |= {f"cli {name} {p.name}": p.read_text() for p in reports.iterdir()}
    reports = tmp_path / "pytest"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/", "-p", "smtpcheck.plugin",
         "--inventory", str(fleet.mixed), "--known-hosts", str(fleet.lab.known_hosts),
         "--layers", "host", "--report-dir", str(reports), "-vvv", "-l", "-rA", "--tb=long",
         "--log-level=DEBUG", f"--log-file={tmp_path / 'debug.log'}", "--log-file-level=DEBUG",
         f"--junitxml={tmp_path / 'pytest-junit.xml'}"],
        capture_output=True, text=True, env=_environ(fleet.lab), timeout=120,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    texts |= {"pytest stdout": done.stdout, "pytest stderr": done.stderr}
    texts |= {f"pytest {p.name}": p.read_text() for p in reports.iterdir()}
    texts["pytest junitxml"] = (tmp_path / "pytest-junit.xml").read_text()
    texts["debug log"] = (tmp_path / "debug.log").read_text()
    assert "paramiko" in texts["debug log"]  # DEBUG logging really was on
    assert "hmac-sha256:" in texts["cli mixed report.json"]  # evidence still identifies secrets
    assert _leaks(texts, _secret_forms(fleet.lab)) == []


def test_four_shards_and_merge_give_the_unsharded_findings(
    fleet: Fleet, dns_lab: NsdServer, tmp_path: Path
) -> None:
    """Issue 10: a CI matrix of --shard K/4 jobs, then smtpcheck merge, is the same audit as one
    run: the same findings, the same exit status; each host in exactly one shard."""
    dns = ("--layers", "host,dns", "--nameserver", dns_lab.nameserver)
    whole = _smtpcheck("audit", "--inventory", str(fleet.mixed), "--known-hosts",
                       str(fleet.lab.known_hosts), *dns, "--report-dir", str(tmp_path / "whole"),
                       env=_environ(fleet.lab))  # fmt: skip
    assert whole.returncode == 1, whole.stdout + whole.stderr
    before = {h.name: h.sessions() for h in fleet.lab.hosts}
    for k in range(1, 5):
        shard = _smtpcheck("audit", "--inventory", str(fleet.mixed), "--known-hosts",
                           str(fleet.lab.known_hosts), *dns, "--shard", f"{k}/4",
                           "--report-dir", str(tmp_path / f"shard{k}"),
                           env=_environ(fleet.lab))  # fmt: skip
        assert shard.returncode in (0, 1), shard.stdout + shard.stderr
    opened = {h.name: h.sessions() - before[h.name] for h in fleet.lab.hosts}
    assert set(opened.values()) <= {0, 1}  # no host observed by two shards
    shards = [str(tmp_path / f"shard{k}") for k in range(1, 5)]

    merged = _smtpcheck("merge", *shards, "--report-dir", str(tmp_path / "merged"),
                        env=_environ(fleet.lab))  # fmt: skip

    assert merged.returncode == whole.returncode, merged.stdout + merged.stderr

    def verdicts(directory: str) -> set[tuple[str, str, str]]:
        report = json.loads((tmp_path / directory / "report.json").read_text())
        return {(f["control_id"], f["target"], f["status"]) for f in report["findings"]}

    assert verdicts("merged") == verdicts("whole")
    merged_report = json.loads((tmp_path / "merged" / "report.json").read_text())
    whole_report = json.loads((tmp_path / "whole" / "report.json").read_text())

    def targets(report: dict[str, Any], kind: str) -> set[str]:
        return {t["name"] for t in report["targets"] if t["kind"] == kind}

    assert len(targets(merged_report, "host")) == 7
    for kind in ("host", "domain"):
        assert targets(merged_report, kind) == targets(whole_report, kind)
    assert (
        merged_report["scope"]["shard"] is None and merged_report["scope"]["whole_audit"] is False
    )
    # a lost CI job: the merge refuses, and writes nothing
    missing = _smtpcheck("merge", *shards[:3], "--report-dir", str(tmp_path / "partial"),
                         env=_environ(fleet.lab))  # fmt: skip
    assert missing.returncode == 2
    assert "shard(s) 4 of 4 missing" in missing.stderr
    assert not (tmp_path / "partial").exists()


def test_verbosity_levels_tell_the_story_then_findings_then_evidence(
    fleet: Fleet, tmp_path: Path
) -> None:
    quiet = _audit(fleet, fleet.compliant, tmp_path / "q", "-q")
    default = _audit(fleet, fleet.compliant, tmp_path / "d")
    verbose = _audit(fleet, fleet.compliant, tmp_path / "v", "-v")
    debug = _audit(fleet, fleet.compliant, tmp_path / "vv", "-vv")

    assert quiet.stdout.strip().splitlines()[-1].startswith("smtpcheck: Compliant")
    assert "auditing" not in quiet.stdout and "reports:" not in quiet.stdout
    assert default.stdout.startswith("smtpcheck 0.1.0: auditing 2 host(s); layers host")
    assert "passed" not in default.stdout  # no pytest counts that disagree with smtpcheck's
    assert "  PASS  CRED-02" not in default.stdout and "  PASS  CRED-02" in verbose.stdout
    assert "        mode: 0400" not in verbose.stdout and "        mode: 0400" in debug.stdout
    assert "PASSED" in debug.stdout  # pytest's own per-test lines, for debugging


def test_a_run_false_waiver_is_reported_under_pytest_n(fleet: Fleet, tmp_path: Path) -> None:
    """The waived control is skipped in its worker before any fixture runs, and its finding
    reaches the controller's report (it used to be dropped at collection on the workers)."""
    good = next(h for h in fleet.lab.hosts if h.name == "e2e-good")
    waivers = tmp_path / "waivers.toml"
    waivers.write_text('[[waiver]]\ncontrol = "CRED-05"\ntarget = "*"\n'
                       'justification = "checked by hand"\nexpires = 2999-01-01\n'
                       "run = false\n")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/", "-p", "smtpcheck.plugin", "-n", "2",
         "--hosts", good.url(), "--app", "wordpress", "--sudo",
         "--ssh-identity-file", str(fleet.lab.client_key),
         "--known-hosts", str(fleet.lab.known_hosts), "--layers", "host",
         "--waivers", str(waivers), "--report-dir", str(tmp_path), "-q"],
        capture_output=True, text=True, env=_environ(fleet.lab), timeout=120,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    waived = [f for f in report["findings"] if f["control_id"] == "CRED-05"]
    assert [(f["status"], f["summary"][:27]) for f in waived] == [
        ("skip", "not run: waived until 2999-")]  # fmt: skip
    assert waived[0]["waiver"]["active"] is True
