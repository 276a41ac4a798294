"""Benchmark: smtpcheck's one-command-per-host audit vs the plain testinfra way.

Run as root: ``python bench/credentials.py``. Starts N lab web servers (real sshd on loopback),
then times, for N = 1, 10, 30:

- smtpcheck (library path: observe every host once, evaluate CRED-01…05), with --jobs 8 and 1;
- ``smtpcheck audit`` as an operator runs it (a new process: interpreter, pytest, reports);
- the plain testinfra way, one ``host.file(...)`` property per assertion, as testinfra's docs
  show, hosts one after the other (what ``pytest --hosts=...`` does without xdist).

Remote commands are counted on the servers themselves (sshd's VERBOSE log), not by the client.
Prints figures; it asserts nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import testinfra
import testinfra.host

from smtpcheck.audit import Audit
from smtpcheck.config import AuditOptions, load_audit_config
from smtpcheck.credentials.evaluate import CRED_CONTROLS
from smtpcheck.lab import seeds
from smtpcheck.lab.sshd import LabHost, SshLab
from smtpcheck.remote import SshOptions
from smtpcheck.targets import App, parse_host_url

SIZES = (1, 10, 30)
CREDS = seeds.LabCredentials(2, "notifications@shop.example", "ops@shop.example", "user", "pw")


def smtpcheck_library(lab: SshLab, hosts: list[LabHost], jobs: int) -> None:
    targets = [
        replace(parse_host_url(h.url(), App.WORDPRESS), name=h.name,
                identity_file=lab.client_key, sudo=True)
        for h in hosts
    ]  # fmt: skip
    config = load_audit_config(AuditOptions(layers="host", jobs=jobs), CREDS.environment())
    config = replace(config, targets=tuple(targets), ssh=SshOptions(known_hosts=lab.known_hosts))
    audit = Audit(config, CREDS.environment())
    for target in targets:
        evidence = audit.host_evidence(target)
        findings = [check(evidence) for check in CRED_CONTROLS.values()]
        assert all(f.status.value == "pass" for f in findings), findings


def smtpcheck_cli(lab: SshLab, hosts: list[LabHost], workdir: Path) -> None:
    inventory = workdir / f"inventory-{len(hosts)}.toml"
    entries = [f'[defaults]\nidentity_file = "{lab.client_key}"\nsudo = true\napp = "wordpress"']
    entries += [f'[[hosts]]\nname = "{h.name}"\nurl = "{h.url()}"' for h in hosts]
    inventory.write_text("\n\n".join(entries) + "\n")
    done = subprocess.run(
        [sys.executable, "-m", "smtpcheck", "audit", "--inventory", str(inventory),
         "--known-hosts", str(lab.known_hosts), "--layers", "host",
         "--report-dir", str(workdir / "reports")],
        env={**os.environ, **CREDS.environment()}, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def forget_testinfra_hosts() -> None:
    """Cold caches, as a new pytest session has: testinfra keeps every host it made in
    ``Host._host_cache`` (``get_host``) and ``Host._hosts_cache`` (``get_hosts``), and with each
    host its open connection (the backend's ``client``) and what it learnt (``has_command_v``,
    ``system_info``). Without this, a size reused the hosts of the smaller sizes before it and
    showed 7.0-9.7 commands per host instead of the 10 a fresh session issues."""
    cached = [*testinfra.host.Host._host_cache.values()]
    cached += [host for hosts in testinfra.host.Host._hosts_cache.values() for host in hosts]
    for host in cached:
        client = vars(host.backend).get("client")  # a functools.cached_property, once used
        if client is not None:
            client.close()
    testinfra.host.Host._host_cache.clear()
    testinfra.host.Host._hosts_cache.clear()


def plain_testinfra(lab: SshLab, hosts: list[LabHost]) -> None:
    """What testinfra's documentation shows: one property of host.file() per assertion, every
    host new to testinfra (no host or connection cached by an earlier run).

    testinfra's paramiko backend loads no known_hosts and accepts every host key with a
    warning; those warnings are silenced here to keep the figures readable."""
    warnings.filterwarnings("ignore", message="Unknown .* host key")
    forget_testinfra_hosts()
    for lab_host in hosts:
        host = testinfra.get_host(lab_host.url(), ssh_identity_file=str(lab.client_key), sudo=True)
        smtp = host.file("/var/www/wordpresssmtp")
        assert smtp.exists
        assert smtp.is_file
        assert not smtp.is_symlink
        assert smtp.user in ("root", "www-data")
        assert smtp.group in ("root", "www-data")
        assert smtp.mode & 0o007 == 0
        lines = dict(line.split(": ", 1) for line in smtp.content_string.splitlines())
        assert lines["FROM ADDRESS"] == CREDS.from_address
        assert lines["USERNAME"] == CREDS.username
        assert lines["PASSWORD"] == CREDS.password
        assert lines["EMAIL PROVIDER"] == str(CREDS.provider)
        assert lines["PORT"] == "465"


def measure(hosts: list[LabHost], run: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds and remote commands per host (from the servers' logs)."""
    before = sum(h.sessions() for h in hosts)
    started = time.perf_counter()
    run()
    seconds = time.perf_counter() - started
    time.sleep(0.2)  # let sshd flush its log lines
    return seconds, (sum(h.sessions() for h in hosts) - before) / len(hosts)


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="smtpcheck-bench-"))
    workdir.chmod(0o755)
    try:
        with SshLab(workdir / "ssh") as lab:
            fleet = [lab.add_host(f"bench-{i:02d}") for i in range(max(SIZES))]
            for host in fleet:
                seeds.seed_credentials(host, App.WORDPRESS, seeds.labelled_file(CREDS))
            plain_testinfra(lab, fleet[:1])  # warm-up: imports, first connections
            print(f"{'hosts':>5}  {'way':<34} {'wall s':>7} {'s/host':>7} {'cmds/host':>9}")
            for n in SIZES:
                hosts = fleet[:n]
                ways: list[tuple[str, Callable[[], None]]] = [
                    ("smtpcheck library, --jobs 8", partial(smtpcheck_library, lab, hosts, 8)),
                    ("smtpcheck library, --jobs 1", partial(smtpcheck_library, lab, hosts, 1)),
                    ("smtpcheck audit (new process)", partial(smtpcheck_cli, lab, hosts, workdir)),
                    ("plain testinfra, serial", partial(plain_testinfra, lab, hosts)),
                ]
                results = {}
                for name, run in ways:
                    seconds, commands = measure(hosts, run)
                    results[name] = seconds
                    print(
                        f"{n:>5}  {name:<34} {seconds:>7.2f} {seconds / n:>7.3f} {commands:>9.1f}"
                    )
                ratio = results["plain testinfra, serial"] / results["smtpcheck library, --jobs 8"]
                cli = results["plain testinfra, serial"] / results["smtpcheck audit (new process)"]
                print(
                    f"{n:>5}  speed-up vs plain testinfra: library x{ratio:.1f}, audit x{cli:.1f}"
                )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
