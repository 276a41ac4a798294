"""The DNS layer inside a whole audit: which domains are checked (each once), DNS that cannot
be reached, and pre-flight from a zone file, through the CLI as an operator runs it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from smtpcheck.lab import seeds
from smtpcheck.lab.nsd import NsdServer
from smtpcheck.lab.sshd import SshLab
from smtpcheck.targets import App
from tests.lab.conftest import CREDS

GOOD = replace(CREDS, from_address="notifications@good-mailjet.example")
PNONE = replace(CREDS, from_address="web@p-none.example")


@pytest.fixture(scope="module")
def inventory(ssh_lab: SshLab, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two hosts sending from two domains (one shared with the build-time settings)."""
    entries = [f'[defaults]\nidentity_file = "{ssh_lab.client_key}"\nsudo = true\n']
    for name, creds in (("dns-good", GOOD), ("dns-pnone", PNONE), ("dns-good-2", GOOD)):
        host = ssh_lab.add_host(name)
        seeds.seed_credentials(host, App.WORDPRESS, seeds.labelled_file(creds))
        entries.append(f'[[hosts]]\nname = "{name}"\nurl = "{host.url()}"\napp = "wordpress"\n')
    path = tmp_path_factory.mktemp("dns-audit") / "inventory.toml"
    path.write_text("\n".join(entries))
    return path


def _audit(
    lab: SshLab, inventory: Path, reports: Path, *args: str
) -> tuple[subprocess.CompletedProcess[str], dict[str, dict[str, str]]]:
    environ = {**os.environ, **GOOD.environment()}
    done = subprocess.run(
        [sys.executable, "-m", "smtpcheck", "audit", "--inventory", str(inventory),
         "--known-hosts", str(lab.known_hosts), "--layers", "host,dns",
         "--report-dir", str(reports), *args],
        capture_output=True, text=True, env=environ, timeout=120, check=False,
    )  # fmt: skip
    report = json.loads((reports / "report.json").read_text())
    by_target: dict[str, dict[str, str]] = {}
    for finding in report["findings"]:
        by_target.setdefault(finding["target"], {})[finding["control_id"]] = finding["status"]
    return done, by_target


def test_each_sending_domain_checked_once(
    ssh_lab: SshLab, dns_lab: NsdServer, inventory: Path, tmp_path: Path
) -> None:
    done, by_target = _audit(
        ssh_lab, inventory, tmp_path, "--nameserver", dns_lab.nameserver,
        "--domain", "weak-key.example",
    )  # fmt: skip
    assert done.returncode == 1, done.stdout + done.stderr
    domains = {t for t in by_target if "." in t and not t.startswith("dns-")}
    assert domains == {"good-mailjet.example", "p-none.example", "weak-key.example"}
    assert set(by_target["good-mailjet.example"].values()) == {"pass"}
    assert len(by_target["good-mailjet.example"]) == 12
    assert by_target["p-none.example"]["DMARC-03"] == "warn"
    assert by_target["weak-key.example"]["DKIM-02"] == "fail"
    assert set(by_target["dns-good"].values()) == {"pass", "skip"}  # no toolkit files (gen A/B)


@pytest.fixture
def dead_nameserver() -> Iterator[str]:
    """A UDP port on loopback that never answers (bound, never read)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"127.0.0.1:{sock.getsockname()[1]}"


def test_unreachable_dns_is_error_and_host_controls_still_run(
    ssh_lab: SshLab, inventory: Path, tmp_path: Path, dead_nameserver: str
) -> None:
    done, by_target = _audit(
        ssh_lab, inventory, tmp_path, "--nameserver", dead_nameserver, "--dns-timeout", "0.3"
    )
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    for domain in ("good-mailjet.example", "p-none.example"):
        assert set(by_target[domain].values()) == {"error"}, by_target[domain]
    for host in ("dns-good", "dns-pnone", "dns-good-2"):  # evaluated as usual, DNS or not
        assert "error" not in by_target[host].values(), by_target[host]
    assert set(by_target["dns-good"].values()) == {"pass", "skip"}  # no toolkit files (gen A/B)
    assert by_target["dns-pnone"]["CRED-04"] == "fail"  # it sends from another address


def test_zone_file_pre_flight(
    ssh_lab: SshLab, dns_lab: NsdServer, inventory: Path, tmp_path: Path
) -> None:
    """Records not yet published: the zone file answers for its zone, NSD for the rest."""
    zone = tmp_path / "good-mailjet.example.zone"
    zone.write_text(
        "$ORIGIN good-mailjet.example.\n$TTL 300\n"
        "@ SOA ns1 hostmaster 1 3600 900 604800 60\n@ NS ns1\n"
        '@ TXT "v=spf1 include:spf.mailjet.com +all"\n'
        '_dmarc TXT "v=DMARC1; p=quarantine"\n@ MX 10 mx\nmx A 192.0.2.25\n'
    )
    done, by_target = _audit(
        ssh_lab, inventory, tmp_path / "reports", "--nameserver", dns_lab.nameserver,
        "--zone-file", str(zone),
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    checked = by_target["good-mailjet.example"]
    assert checked["SPF-03"] == "pass"  # the include is followed to NSD's spf.mailjet.com
    assert checked["SPF-04"] == "fail"  # +all, as written in the file
    assert checked["DKIM-01"] == "fail"  # not in the file: the key is not published yet


def test_bad_zone_file_is_a_usage_error(ssh_lab: SshLab, inventory: Path, tmp_path: Path) -> None:
    zone = tmp_path / "broken.zone"
    zone.write_text("$ORIGIN broken.example.\n@ TXT \n")
    environ = {**os.environ, **GOOD.environment()}
    done = subprocess.run(
        [sys.executable, "-m", "smtpcheck", "audit", "--inventory", str(inventory),
         "--zone-file", str(zone), "--report-dir", str(tmp_path)],
        capture_output=True, text=True, env=environ, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("smtpcheck: error: zone file")
    assert done.stderr.count("\n") == 1
