"""Faults on real servers: each becomes an error/fail finding with evidence, and the rest of the
fleet is still audited in the same run."""

from __future__ import annotations

import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from smtpcheck.credentials.evaluate import CRED_CONTROLS
from smtpcheck.findings import Finding, Status
from smtpcheck.lab import seeds
from smtpcheck.lab.proc import free_port
from smtpcheck.lab.sshd import LabHost, SshLab
from smtpcheck.remote import SshOptions
from smtpcheck.remote.facts import DEFAULT_MAX_FILE_BYTES
from smtpcheck.targets import App, HostTarget
from tests.lab.conftest import CREDS, lab_audit, lab_target


def _findings(lab: SshLab, target: HostTarget, **kwargs: object) -> dict[str, Finding]:
    audit = lab_audit(lab, [target], **kwargs)  # type: ignore[arg-type]
    evidence = audit.host_evidence(target)
    return {cid: check(evidence) for cid, check in CRED_CONTROLS.items()}


def _statuses(findings: dict[str, Finding]) -> list[str]:
    return [findings[f"CRED-0{i}"].status.value for i in range(1, 6)]


@pytest.fixture(scope="module")
def good_host(ssh_lab: SshLab) -> LabHost:
    host = ssh_lab.add_host("fault-good")
    seeds.seed_credentials(host, App.WORDPRESS, seeds.labelled_file(CREDS))
    return host


def test_unreachable_host_is_error_and_the_fleet_goes_on(
    ssh_lab: SshLab, good_host: LabHost
) -> None:
    down = replace(lab_target(ssh_lab, good_host, App.WORDPRESS), name="down", port=free_port())
    good = lab_target(ssh_lab, good_host, App.WORDPRESS)
    audit = lab_audit(ssh_lab, [down, good])
    down_findings = [check(audit.host_evidence(down)) for check in CRED_CONTROLS.values()]
    good_findings = [check(audit.host_evidence(good)) for check in CRED_CONTROLS.values()]
    assert {f.status for f in down_findings} == {Status.ERROR}
    assert all(f.evidence["failure"] == "HostUnreachable" for f in down_findings)
    assert "connection refused" in down_findings[0].summary
    assert "1035" in down_findings[0].remediation  # the toolkit's SSH port is named
    assert {f.status for f in good_findings} == {Status.PASS}


def test_unusable_ssh_config_is_that_hosts_error_and_the_fleet_goes_on(
    ssh_lab: SshLab, good_host: LabHost, tmp_path: Path
) -> None:
    """A host's ssh_config that paramiko cannot use (a Port that is not a number) is a problem
    of that host: it must not take the observation of every other host down with it."""
    config = tmp_path / "ssh_config"
    config.write_text("Host *\n  Port abc\n")
    broken = replace(lab_target(ssh_lab, good_host, App.WORDPRESS), name="broken", port=None,
                     ssh_config=config)  # fmt: skip
    good = lab_target(ssh_lab, good_host, App.WORDPRESS)
    audit = lab_audit(ssh_lab, [broken, good])
    broken_findings = [check(audit.host_evidence(broken)) for check in CRED_CONTROLS.values()]
    good_findings = [check(audit.host_evidence(good)) for check in CRED_CONTROLS.values()]
    assert {f.status for f in broken_findings} == {Status.ERROR}
    assert str(config) in broken_findings[0].summary
    assert {f.status for f in good_findings} == {Status.PASS}


def test_login_refused_with_the_wrong_key(
    ssh_lab: SshLab, good_host: LabHost, tmp_path: Path
) -> None:
    wrong_key = tmp_path / "wrong"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(wrong_key)], check=True
    )
    target = lab_target(ssh_lab, good_host, App.WORDPRESS, identity_file=wrong_key)
    findings = _findings(ssh_lab, target)
    assert _statuses(findings) == ["error"] * 5
    assert findings["CRED-01"].evidence["failure"] == "LoginRefused"


def test_changed_host_key_is_refused_even_when_accepting_new_keys(
    ssh_lab: SshLab, good_host: LabHost, tmp_path: Path
) -> None:
    other = ssh_lab.add_host("fault-other-key")
    forged = tmp_path / "known_hosts"
    key_type, key = other.host_key_line().split()[1:]
    forged.write_text(f"[{good_host.address}]:{good_host.port} {key_type} {key}\n")
    target = lab_target(ssh_lab, good_host, App.WORDPRESS)
    ssh = SshOptions(known_hosts=forged, accept_new_host_keys=True)
    findings = _findings(ssh_lab, target, ssh=ssh)
    assert _statuses(findings) == ["error"] * 5
    assert findings["CRED-01"].evidence["failure"] == "HostKeyMismatch"
    assert "does not match known_hosts" in findings["CRED-01"].summary


def test_unknown_host_key_refused_by_default_and_saved_on_first_use_when_asked(
    ssh_lab: SshLab, good_host: LabHost, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    target = lab_target(ssh_lab, good_host, App.WORDPRESS)
    refused = _findings(ssh_lab, target, ssh=SshOptions(known_hosts=known))
    assert refused["CRED-01"].evidence["failure"] == "HostKeyUnknown"
    assert not known.exists()

    accepted = _findings(
        ssh_lab, target, ssh=SshOptions(known_hosts=known, accept_new_host_keys=True)
    )
    assert _statuses(accepted) == ["pass"] * 5
    assert "accepted on first use" in str(accepted["CRED-01"].evidence["ssh"])
    assert known.read_text().split()[:2] == [
        f"[{good_host.address}]:{good_host.port}",
        "ssh-ed25519",
    ]

    again = _findings(ssh_lab, target, ssh=SshOptions(known_hosts=known))  # now known: no opt-in
    assert _statuses(again) == ["pass"] * 5


def test_root_only_file_without_sudo(ssh_lab: SshLab, good_host: LabHost) -> None:
    target = lab_target(ssh_lab, good_host, App.WORDPRESS, sudo=False)
    findings = _findings(ssh_lab, target)
    assert _statuses(findings) == ["pass", "pass", "error", "error", "error"]
    assert "permission denied" in findings["CRED-03"].summary
    assert "sudo" in findings["CRED-03"].remediation


def test_sudo_password_right_wrong_and_missing(ssh_lab: SshLab, good_host: LabHost) -> None:
    target = lab_target(
        ssh_lab,
        good_host,
        App.WORDPRESS,
        user=ssh_lab.sudo_password_user,
        sudo_password_env="SUDO_PW",
    )
    right = _findings(ssh_lab, target, environ={"SUDO_PW": ssh_lab.sudo_password})
    assert _statuses(right) == ["pass"] * 5
    assert "root via sudo" in str(right["CRED-01"].evidence["read_as"])

    wrong = _findings(ssh_lab, target, environ={"SUDO_PW": "not-the-password"})
    assert _statuses(wrong) == ["error"] * 5
    assert "sudo refused" in wrong["CRED-01"].summary

    missing = _findings(ssh_lab, target, environ={})
    assert "SUDO_PW is not set" in missing["CRED-01"].summary


@pytest.mark.parametrize(
    ("name", "place", "statuses", "text"),
    [
        ("binary", lambda h: h.put("/var/www/wordpresssmtp", b"\x7fELF\x00\x01\x02" * 50),
         ["pass", "pass", "fail", "error", "error"], "binary"),
        ("huge", lambda h: h.put("/var/www/wordpresssmtp", b"A" * (DEFAULT_MAX_FILE_BYTES + 1)),
         ["pass", "pass", "fail", "error", "error"], "read limit"),
        ("directory", lambda h: h.mkdir("/var/www/wordpresssmtp"),
         ["fail", "skip", "skip", "skip", "skip"], "is a directory"),
        ("dangling-symlink", lambda h: h.symlink("/var/www/wordpresssmtp", "/var/www/gone"),
         ["fail", "skip", "skip", "skip", "skip"], "dangling symlink"),
        ("malformed", lambda h: h.put("/var/www/wordpresssmtp", b"PASSWORD x\nPORT: 465\n"),
         ["pass", "pass", "fail", "fail", "fail"], "not one of the five labelled lines"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)  # fmt: skip
def test_bad_files(
    ssh_lab: SshLab, name: str, place: object, statuses: list[str], text: str
) -> None:
    host = ssh_lab.add_host(f"fault-{name}")
    place(host)  # type: ignore[operator]
    findings = _findings(ssh_lab, lab_target(ssh_lab, host, App.WORDPRESS))
    assert _statuses(findings) == statuses
    assert any(text in f.summary for f in findings.values()), [f.summary for f in findings.values()]


def test_huge_file_is_read_only_up_to_the_cap(ssh_lab: SshLab) -> None:
    host = ssh_lab.add_host("fault-huge-cap")
    host.put("/var/www/wordpresssmtp", b"B" * (5 * 1024 * 1024))
    audit = lab_audit(ssh_lab, [lab_target(ssh_lab, host, App.WORDPRESS)])
    facts = audit.observe_hosts()[host.name].facts
    assert facts is not None
    file = facts.files["/var/www/wordpresssmtp"]
    assert file.content is not None
    assert len(file.content) == DEFAULT_MAX_FILE_BYTES
    assert file.stat is not None
    assert file.stat.size == 5 * 1024 * 1024


@pytest.fixture
def silent_server() -> Iterator[tuple[str, int]]:
    """A TCP server that accepts and never says anything: an SSH banner that never comes."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_host_that_never_answers_times_out(
    ssh_lab: SshLab, good_host: LabHost, silent_server: tuple[str, int]
) -> None:
    address, port = silent_server
    target = replace(
        lab_target(ssh_lab, good_host, App.WORDPRESS), host=address, port=port, timeout=1.0
    )
    findings = _findings(ssh_lab, target)
    assert _statuses(findings) == ["error"] * 5
    assert findings["CRED-01"].evidence["failure"] == "HostUnreachable"


def test_one_connection_and_one_command_per_host(ssh_lab: SshLab) -> None:
    hosts = [ssh_lab.add_host(f"count-{i}") for i in range(3)]
    for host in hosts:
        seeds.seed_credentials(host, App.JOOMLA, seeds.joomla_gen_b(CREDS), owner="www-data")
    before = [(h.sessions(), _logins(h)) for h in hosts]
    audit = lab_audit(ssh_lab, [lab_target(ssh_lab, h, App.JOOMLA) for h in hosts])
    for target in audit.config.targets:
        evidence = audit.host_evidence(target)
        for check in CRED_CONTROLS.values():
            check(evidence)
    after = [(h.sessions(), _logins(h)) for h in hosts]
    assert [(s2 - s1, l2 - l1) for (s1, l1), (s2, l2) in zip(before, after, strict=True)] == [
        (1, 1)
    ] * 3


def _logins(host: LabHost) -> int:
    return host.log.read_text(errors="replace").count("Accepted publickey")


def test_a_corrupt_identity_file_fails_its_host_alone_and_leaks_nothing(
    ssh_lab: SshLab, good_host: LabHost, tmp_path: Path
) -> None:
    """Issue 8 items 6 and 10: a binary identity file used to raise out of the observation
    during collection (DNS layer on): no findings, report.json exit 0 while the process said 1,
    and pytest --showlocals printed the environment holding the passwords."""
    import json
    import os
    import sys

    from smtpcheck.secrets import encoded_forms

    corrupt = tmp_path / "corrupt_key"
    corrupt.write_bytes(b"-----BEGIN OPENSSH PRIVATE KEY-----\n\x00\xff\xfe garbage \x80\n")
    inventory = tmp_path / "inventory.toml"
    inventory.write_text(
        f'[defaults]\nsudo = true\nidentity_file = "{ssh_lab.client_key}"\n'
        f'[[hosts]]\nname = "corrupt"\nurl = "{good_host.url()}"\napp = "wordpress"\n'
        f'identity_file = "{corrupt}"\n'
        f'[[hosts]]\nname = "good"\nurl = "{good_host.url()}"\napp = "wordpress"\n'
    )
    env = {**os.environ, **CREDS.environment()}
    dead_dns = "127.0.0.1:9"  # nothing answers: the DNS layer errors, but it still runs
    common = ["--inventory", str(inventory), "--known-hosts", str(ssh_lab.known_hosts),
              "--layers", "host,dns", "--nameserver", dead_dns, "--dns-timeout", "0.2"]  # fmt: skip
    cli = subprocess.run(
        [sys.executable, "-m", "smtpcheck", "audit", *common, "--report-dir",
         str(tmp_path / "cli"), "-vvv"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    report = json.loads((tmp_path / "cli" / "report.json").read_text())
    by_target: dict[str, dict[str, str]] = {}
    for finding in report["findings"]:
        by_target.setdefault(finding["target"], {})[finding["control_id"]] = finding["status"]
    assert set(by_target["corrupt"].values()) == {"error"}
    assert by_target["good"]["CRED-01"] == "pass"
    assert "shop.example" in by_target  # the domain's DNS checks were not lost
    assert report["exit_status"] == cli.returncode == 1
    assert "Traceback" not in cli.stderr + cli.stdout
    checks = Path(__file__).parents[2] / "checks"
    pytest_run = subprocess.run(
        [sys.executable, "-m", "pytest", str(checks), "-p", "smtpcheck.plugin", *common,
         "--report-dir", str(tmp_path / "pytest"), "--showlocals", "-vv", "--tb=long",
         f"--junitxml={tmp_path / 'junit.xml'}"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
        cwd=checks.parent,
    )  # fmt: skip
    assert pytest_run.returncode == 1, pytest_run.stdout[-2000:]
    outputs = (cli.stdout + cli.stderr + pytest_run.stdout + pytest_run.stderr
               + (tmp_path / "junit.xml").read_text())  # fmt: skip
    leaks = [form for form in encoded_forms(CREDS.password, [CREDS.username]) if form in outputs]
    assert leaks == []
