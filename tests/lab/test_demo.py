"""``smtpcheck demo`` as the README runs it: every status in the report, nothing left running."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from smtpcheck.lab.demo import DEMO_CREDENTIALS
from smtpcheck.lab.sshd import SUDOERS_DIR
from smtpcheck.secrets import encoded_forms


def test_demo_shows_every_status_and_stops_its_servers(tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "smtpcheck", "demo", "--report-dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    ) as demo:  # fmt: skip
        stdout, stderr = demo.communicate(timeout=300)
    assert demo.returncode == 0, stdout + stderr
    assert f"open {tmp_path / 'report.html'}" in stdout
    report = json.loads((tmp_path / "report.json").read_text())
    assert all(
        report["summary"][status] > 0 for status in ("pass", "fail", "warn", "skip", "error")
    )
    findings = report["findings"]
    apps = {f["evidence"].get("app") for f in findings}
    assert {"wordpress", "moodle", "drupal", "joomla"} <= apps
    domains = {f["target"] for f in findings if f["control_id"].startswith(("SPF", "DMARC"))}
    assert domains == {"shop.example", "eleven-lookups.example", "weak-key.example",
                       "p-none.example"}  # fmt: skip
    delivered = [f for f in findings if f["control_id"] == "SMTP-05" and f["status"] == "pass"]
    relay = [f"{f['control_id']} {f['target']}: {f['status']} {f['summary']}"
             for f in findings if f["control_id"] in ("SMTP-04", "SMTP-05")]  # fmt: skip
    assert delivered, "no SMTP-05 pass:\n" + "\n".join(relay) + "\n" + stdout + stderr
    assert all(f["evidence"]["dkim_verified"] is True for f in delivered)
    relay_failures = [f for f in findings if f["control_id"].startswith("SMTP-")
                      and f["status"] == "fail"]  # fmt: skip
    assert relay_failures
    assert "report.html" in stdout
    # JUnit that CI test views don't squash: one (classname, name) pair per case; real times
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    pairs = [(case.get("classname"), case.get("name"), float(case.get("time") or "nan"))
             for case in cases]  # fmt: skip
    assert len({(classname, name) for classname, name, _ in pairs}) == len(pairs) == len(findings)
    assert sum(seconds for _, _, seconds in pairs) > 0
    leftovers = subprocess.run(["pgrep", "-f", "smtpcheck-demo-"], capture_output=True, text=True)
    assert leftovers.stdout == ""
    assert list(SUDOERS_DIR.glob(f"smtpcheck-lab-{demo.pid}-*")) == []
    users = subprocess.run(["getent", "passwd"], capture_output=True, text=True).stdout
    assert f"smtpcheck-pw{demo.pid}-" not in users
    outputs = stdout + stderr + "".join(p.read_text() for p in tmp_path.iterdir())
    leaked = [form for form in encoded_forms(DEMO_CREDENTIALS.password) if form in outputs]
    assert leaked == []
