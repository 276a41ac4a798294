"""The relay layer inside a whole audit, through the CLI: lab hosts' deployed credentials sent
through a real mail stack posing as Mailjet, delivered, DKIM-verified; one message per distinct
credential set; --no-send; and the canary over every layer, SMTP transcripts included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from smtpcheck.lab import seeds
from smtpcheck.lab.maillab import MailLab
from smtpcheck.lab.sshd import SshLab
from smtpcheck.secrets import encoded_forms
from smtpcheck.targets import App
from tests.lab.conftest import CREDS, MAILBOX_ENV, MAILBOX_PASSWORD

WRONG = replace(CREDS, password="Cnry-relay-WRONG:pw")
SHARED_HOSTS = ("relay-wp", "relay-moodle", "relay-joomla-d")


@dataclass(frozen=True)
class Setup:
    inventory: Path
    config: Path
    lab: SshLab


@pytest.fixture(scope="module")
def setup(ssh_lab: SshLab, mail_lab: MailLab, tmp_path_factory: pytest.TempPathFactory) -> Setup:
    fixed_joomla = seeds.joomla_fixed(CREDS, host="in-v3.mailjet.com", port=465, secure="ssl")
    fleet = [
        ("relay-wp", App.WORDPRESS, seeds.labelled_file(CREDS), {}),
        ("relay-moodle", App.MOODLE, seeds.labelled_file(CREDS), {}),
        ("relay-joomla-d", App.JOOMLA, fixed_joomla, {"owner": "www-data", "mode": 0o500,
                                                      "outside_webroot": True}),
        ("relay-drupal-wrong", App.DRUPAL, seeds.labelled_file(WRONG), {}),
        ("relay-joomla-c-main", App.JOOMLA, seeds.joomla_smtp_port_misnamed(CREDS),
         {"owner": "www-data"}),
        ("relay-wp-gen-c", App.WORDPRESS, None, {}),  # system mail only: sendemail -o tls=no
    ]  # fmt: skip
    entries = [f'[defaults]\nidentity_file = "{ssh_lab.client_key}"\nsudo = true\n']
    for name, app, content, placement in fleet:
        host = ssh_lab.add_host(name)
        if content is None:
            seeds.seed_toolkit(host, CREDS, gen="C", app=app)
        else:
            seeds.seed_credentials(host, app, content, **placement)  # type: ignore[arg-type]
        entries.append(f'[[hosts]]\nname = "{name}"\nurl = "{host.url()}"\napp = "{app}"\n')
    directory = tmp_path_factory.mktemp("relay-audit")
    (directory / "inventory.toml").write_text("\n".join(entries))
    (directory / "smtpcheck.toml").write_text(
        mail_lab.config_toml(mailbox_password_env=MAILBOX_ENV)
    )
    return Setup(directory / "inventory.toml", directory / "smtpcheck.toml", ssh_lab)


def _environ() -> dict[str, str]:
    return {**os.environ, **CREDS.environment(), MAILBOX_ENV: MAILBOX_PASSWORD}


def _audit(setup: Setup, reports: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smtpcheck", "audit", "--inventory", str(setup.inventory),
         "--config", str(setup.config), "--known-hosts", str(setup.lab.known_hosts),
         "--report-dir", str(reports), *extra],
        capture_output=True, text=True, env=_environ(), timeout=180, check=False,
    )  # fmt: skip


def _relay_findings(reports: Path) -> dict[str, dict[str, dict[str, Any]]]:
    """target → control id → finding, for the SMTP controls."""
    findings = json.loads((reports / "report.json").read_text())["findings"]
    relays: dict[str, dict[str, dict[str, Any]]] = {}
    for finding in findings:
        if finding["control_id"].startswith("SMTP-"):
            relays.setdefault(finding["target"], {})[finding["control_id"]] = finding
    return relays


def _by_hosts(relays: dict[str, dict[str, dict[str, Any]]]) -> dict[tuple[str, ...], Any]:
    return {tuple(r["SMTP-01"]["evidence"]["hosts"]): r for r in relays.values()}


def test_one_message_per_credential_set_delivered_and_verified(
    setup: Setup, tmp_path: Path
) -> None:
    done = _audit(setup, tmp_path)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr
    relays = _relay_findings(tmp_path)
    assert len(relays) == 4  # shared set, wrong password, Joomla's port 25, system mail
    by_hosts = _by_hosts(relays)
    shared = by_hosts[SHARED_HOSTS]
    assert {cid: f["status"] for cid, f in shared.items()} == dict.fromkeys(shared, "pass")
    assert shared["SMTP-05"]["evidence"]["dkim_verified"] is True
    assert shared["SMTP-05"]["evidence"]["dkim_domain"] == "shop.example"
    accepted = [r for r in relays.values() if r["SMTP-04"]["status"] == "pass"]
    assert len(accepted) == 1  # three hosts, one message
    wrong = by_hosts[("relay-drupal-wrong",)]
    assert wrong["SMTP-03"]["status"] == "fail"
    assert "535" in wrong["SMTP-03"]["summary"]
    port_25 = by_hosts[("relay-joomla-c-main",)]
    assert port_25["SMTP-01"]["status"] == "fail"
    assert port_25["SMTP-01"]["target"].startswith("in-v3.mailjet.com:25 ")
    system_mail = by_hosts[("relay-wp-gen-c (system mail: sendemail)",)]
    assert system_mail["SMTP-01"]["target"].startswith("in.mailjet.com:2525 ")
    assert system_mail["SMTP-02"]["status"] == "fail"  # no TLS: AUTH is never sent
    assert system_mail["SMTP-03"]["status"] == "skip"
    transcript = system_mail["SMTP-02"]["evidence"]["transcript"]
    assert any(" S: 220" in line for line in transcript), transcript
    assert not any(" C: AUTH" in line for line in transcript)


def test_no_send_authenticates_but_sends_nothing(setup: Setup, tmp_path: Path) -> None:
    done = _audit(setup, tmp_path, "--no-send", "--layers", "relay")
    assert done.returncode == 1, done.stderr  # the wrong password still fails
    shared = _by_hosts(_relay_findings(tmp_path))[SHARED_HOSTS]
    statuses = {cid: f["status"] for cid, f in shared.items()}
    assert statuses == {
        "SMTP-01": "pass", "SMTP-02": "pass", "SMTP-03": "pass",
        "SMTP-04": "skip", "SMTP-05": "skip",
    }  # fmt: skip
    transcript = shared["SMTP-03"]["evidence"]["transcript"]  # lines: "  0.072 C: EHLO ..."
    assert any(" C: AUTH " in line for line in transcript)
    assert not any(" C: MAIL FROM" in line or " C: DATA" in line for line in transcript)


def test_relay_with_settings_only_and_no_hosts(mail_lab: MailLab, tmp_path: Path) -> None:
    """No hosts: the build-time settings are tested against the provider's endpoint."""
    config = tmp_path / "smtpcheck.toml"
    config.write_text(mail_lab.config_toml(mailbox_password_env=MAILBOX_ENV))
    done = subprocess.run(
        [sys.executable, "-m", "smtpcheck", "audit", "--config", str(config),
         "--layers", "dns,relay", "--report-dir", str(tmp_path)],
        capture_output=True, text=True, env=_environ(), timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    relays = _relay_findings(tmp_path)
    [relay] = relays.values()
    assert relay["SMTP-05"]["status"] == "pass"
    assert relay["SMTP-01"]["evidence"]["hosts"] == ["build-time settings"]


def test_canary_over_every_layer(setup: Setup, tmp_path: Path) -> None:
    """Transcripts of successful and refused AUTH at -vvv, through the CLI and pytest with
    locals and DEBUG logs: no secret in any form anywhere."""
    texts: dict[str, str] = {}
    done = _audit(setup, tmp_path / "cli", "-vvv")
    texts |= {"cli stdout": done.stdout, "cli stderr": done.stderr}
    texts |= {f"cli {p.name}": p.read_text() for p in (tmp_path / "cli").iterdir()}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "checks/", "-p", "smtpcheck.plugin",
         "--inventory", str(setup.inventory), "--config", str(setup.config),
         "--known-hosts", str(setup.lab.known_hosts), "--report-dir", str(tmp_path / "pt"),
         "-vvv", "-l", "-rA", "--tb=long", "--log-level=DEBUG",
         f"--junitxml={tmp_path / 'pytest-junit.xml'}"],
        capture_output=True, text=True, env=_environ(), timeout=180,
        cwd=Path(__file__).parents[2], check=False,
    )  # fmt: skip
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr
    texts |= {"pytest stdout": done.stdout, "pytest stderr": done.stderr}
    texts |= {f"pytest {p.name}": p.read_text() for p in (tmp_path / "pt").iterdir()}
    texts["pytest junitxml"] = (tmp_path / "pytest-junit.xml").read_text()
    assert "C: AUTH" in texts["cli report.json"]  # the transcript really is in the evidence
    forms = (
        encoded_forms(CREDS.password, [CREDS.username])
        | encoded_forms(WRONG.password, [CREDS.username])
        | encoded_forms(MAILBOX_PASSWORD, [CREDS.to_address])
    )
    leaks = [f"{form!r} in {where}" for where, text in texts.items() for form in forms
             if form in text]  # fmt: skip
    assert leaks == []
