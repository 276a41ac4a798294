"""``smtpcheck demo``: the whole audit against the built-in lab, on loopback only (SPEC §6).

The lab fleet covers every application and toolkit generation, compliant and not, so the report
shows every status. The audit goes through the same inventory file, settings and checks an
operator's ``smtpcheck audit`` uses. Every server the demo starts is stopped before it returns.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from smtpcheck.audit import Audit
from smtpcheck.config import AuditOptions, load_audit_config
from smtpcheck.lab.proc import free_port, require_root
from smtpcheck.lab.seeds import (
    LabCredentials,
    joomla_fixed,
    joomla_gen_b,
    joomla_gen_c_main,
    labelled_file,
    seed_credentials,
)
from smtpcheck.lab.sshd import LAB_USER, SshLab
from smtpcheck.targets import App

DEMO_CREDENTIALS = LabCredentials(
    provider=2,
    from_address="notifications@shop.example",
    to_address="webmaster@shop.example",
    username="4f1d0c2b9e8a7d6c5b4a39281706f5e4",
    password="demo:Lab-only-secret-9f2",  # noqa: S106 (a lab value); contains ':' to show the toolkit's truncation defect
)
SUDO_PASSWORD_ENV = "SMTPCHECK_DEMO_SUDO_PASSWORD"  # noqa: S105 (a variable name)


@dataclass(frozen=True)
class DemoHost:
    name: str
    app: App
    story: str  # what the host shows in the report


def _seed_fleet(lab: SshLab, c: LabCredentials) -> list[tuple[DemoHost, str, str]]:
    """Lab hosts seeded per scenario; returns (host, url, login user) for the inventory."""
    truncated = LabCredentials(c.provider, c.from_address, c.to_address, c.username,
                               c.password.rsplit(":", 1)[1])  # fmt: skip
    crlf = labelled_file(c).replace(b"\n", b"\r\n")
    scenarios = [
        (DemoHost("wordpress-gen-a", App.WORDPRESS, "compliant: root 0400"), labelled_file(c),
         {}, LAB_USER),
        (DemoHost("moodle-www-data", App.MOODLE, "compliant: www-data 0400, sudo password"),
         labelled_file(c), {"owner": "www-data"}, lab.sudo_password_user),
        (DemoHost("moodle-crlf", App.MOODLE, "warn: edited on Windows (CR LF)"), crlf, {},
         LAB_USER),
        (DemoHost("drupal-truncated", App.DRUPAL, "fail: password truncated at ':'"),
         labelled_file(truncated), {}, LAB_USER),
        (DemoHost("joomla-gen-b", App.JOOMLA, "compliant: Mailjet 587 STARTTLS"),
         joomla_gen_b(c), {"owner": "www-data", "mode": 0o600}, LAB_USER),
        (DemoHost("joomla-gen-c-main", App.JOOMLA,
                  "fail: unquoted smtphost, smtp_port ignored, 0644 after the nightly job"),
         joomla_gen_c_main(c), {"owner": "www-data", "mode": 0o644}, LAB_USER),
        (DemoHost("joomla-gen-d", App.JOOMLA, "compliant: outside the webroot, 0500, no php"),
         joomla_fixed(c, host="in-v3.mailjet.com", port=465, secure="ssl"),
         {"owner": "www-data", "mode": 0o500, "outside_webroot": True}, LAB_USER),
    ]  # fmt: skip
    fleet = []
    for demo, content, placement, user in scenarios:
        host = lab.add_host(demo.name, php=demo.name != "joomla-gen-d")
        seed_credentials(host, demo.app, content, **placement)  # type: ignore[arg-type]
        fleet.append((demo, host.url(user), user))
    gen_c = lab.add_host("wordpress-gen-c")  # built after 2024-10-26: no credential file
    fleet.append((DemoHost("wordpress-gen-c", App.WORDPRESS, "fail: no file (generation C)"),
                  gen_c.url(), LAB_USER))  # fmt: skip
    return fleet


def _inventory(fleet: list[tuple[DemoHost, str, str]], lab: SshLab) -> str:
    lines = [
        "[defaults]",
        f'identity_file = "{lab.client_key}"',
        "sudo = true",
        "",
    ]
    for demo, url, user in fleet:
        lines += ["[[hosts]]", f'name = "{demo.name}"', f'url = "{url}"', f'app = "{demo.app}"']
        if user == lab.sudo_password_user:
            lines.append(f'sudo_password_env = "{SUDO_PASSWORD_ENV}"')
        lines.append("")
    down = f"paramiko://{LAB_USER}@127.0.0.1:{free_port()}"  # nothing listens there
    lines += ["[[hosts]]", 'name = "wordpress-unreachable"', f'url = "{down}"',
              'app = "wordpress"', ""]  # fmt: skip
    return "\n".join(lines)


def run_demo(report_dir: Path, verbosity: int = 0) -> int:
    """Start the lab, audit it, print where the report is, stop everything."""
    from smtpcheck.cli import run_audit

    require_root("smtpcheck demo")
    workdir = Path(tempfile.mkdtemp(prefix="smtpcheck-demo-"))
    workdir.chmod(0o755)  # lab login users must reach their authorized_keys
    try:
        with SshLab(workdir / "ssh") as lab:
            fleet = _seed_fleet(lab, DEMO_CREDENTIALS)
            inventory = workdir / "inventory.toml"
            inventory.write_text(_inventory(fleet, lab))
            environ = {**DEMO_CREDENTIALS.environment(), SUDO_PASSWORD_ENV: lab.sudo_password}
            options = AuditOptions(
                inventory=inventory,
                known_hosts=lab.known_hosts,
                report_dir=report_dir,
                layers="host",
            )
            print(f"smtpcheck demo: {len(fleet) + 1} lab web servers on loopback")
            for demo, _, _ in fleet:
                print(f"  {demo.name:<22} {demo.app.value:<9} {demo.story}")
            print("  wordpress-unreachable  wordpress error: nothing listens on its port")
            audit = Audit(load_audit_config(options, environ), environ)
            status = run_audit(audit, verbosity)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"smtpcheck demo: audit exit status {status} (the non-compliant lab hosts fail on "
        f"purpose); open {report_dir / 'report.html'}"
    )
    return 0 if status in (0, 1) else status


if __name__ == "__main__":
    sys.exit(run_demo(Path("reports")))
