"""``smtpcheck demo``: the whole audit against the built-in lab, on loopback only (SPEC §6).

The lab: web servers (one sshd each) covering every application and toolkit generation,
compliant and not; NSD serving the sending domain and DNS scenarios with known defects; a real
mail stack posing as Mailjet, and a mailbox. The audit goes through the same inventory file,
config file, settings and checks an operator's ``smtpcheck audit`` uses, so the report shows
every status of every layer, including a delivered, DKIM-verified test message. Every server the
demo starts is stopped before it returns.
"""

from __future__ import annotations

import secrets
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from smtpcheck.audit import Audit
from smtpcheck.config import AuditOptions, load_audit_config
from smtpcheck.lab.maillab import MailLab
from smtpcheck.lab.mailstack import RelayAccount
from smtpcheck.lab.proc import free_port, require_root
from smtpcheck.lab.seeds import (
    LabCredentials,
    joomla_fixed,
    joomla_gen_b,
    joomla_gen_c_main,
    joomla_gen_c_main_baseline,
    labelled_file,
    seed_credentials,
    seed_toolkit,
)
from smtpcheck.lab.sshd import LAB_USER, SshLab
from smtpcheck.secrets import Secret
from smtpcheck.targets import App

DEMO_CREDENTIALS = LabCredentials(
    provider=2,
    from_address="notifications@shop.example",
    to_address="webmaster@mailbox.example",
    username="4f1d0c2b9e8a7d6c5b4a39281706f5e4",
    password="demo:Lab-only-secret-9f2",  # noqa: S106 (a lab value); contains ':' to show the toolkit's truncation defect
)
SUDO_PASSWORD_ENV = "SMTPCHECK_DEMO_SUDO_PASSWORD"  # noqa: S105 (a variable name)
MAILBOX_PASSWORD_ENV = "SMTPCHECK_DEMO_MAILBOX_PASSWORD"  # noqa: S105 (a variable name)
DEMO_DOMAINS = {
    "eleven-lookups.example": "fail: 11 DNS-querying SPF terms (RFC 7208 §4.6.4)",
    "weak-key.example": "fail: a 512-bit DKIM key",
    "p-none.example": "warn: DMARC p=none",
}
RELAY_STORIES = (
    "in-v3.mailjet.com:465  the fleet's shared credentials: sent, delivered, DKIM verified",
    "in-v3.mailjet.com:587  joomla-gen-b (STARTTLS): sent and delivered",
    "...:465 credential set 2  drupal-truncated's truncated password: AUTH refused (535)",
    "in.mailjet.com:2525    the gen C/D hosts' system mail (sendemail -o tls=no): SMTP-02 "
    "fails, AUTH never sent",
)


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
    scenarios: list[tuple[DemoHost, bytes, dict[str, object], str]] = [
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
                  "fail: PHP cannot load it (unquoted smtphost), 0644 after the nightly job; "
                  "system mail in clear"),
         joomla_gen_c_main(c), {"owner": "www-data", "mode": 0o644, "toolkit": "C"}, LAB_USER),
        (DemoHost("joomla-gen-c-baseline", App.JOOMLA,
                  "fail: SMTP never configured (a baseline build keeps mailer 'mail')"),
         joomla_gen_c_main_baseline(), {"owner": "www-data", "mode": 0o600}, LAB_USER),
        (DemoHost("joomla-gen-d", App.JOOMLA,
                  "compliant file at /var/www/html/joomla -> outside_webroot, no php; system "
                  "mail through ssmtp with STARTTLS"),
         joomla_fixed(c, host="in-v3.mailjet.com", port=465, secure="ssl"),
         {"owner": "www-data", "mode": 0o500, "outside_webroot": True, "toolkit": "D",
          "ssmtp": True}, LAB_USER),
    ]  # fmt: skip
    fleet = []
    for demo, content, placement, user in scenarios:
        host = lab.add_host(demo.name, php=demo.name != "joomla-gen-d")
        gen, ssmtp = placement.pop("toolkit", None), bool(placement.pop("ssmtp", False))
        seed_credentials(host, demo.app, content, **placement)  # type: ignore[arg-type]
        if gen is not None:
            seed_toolkit(host, c, gen=str(gen), app=demo.app, ssmtp=ssmtp)
        fleet.append((demo, host.url(user), user))
    # Built after 2024-10-26: no /var/www/wordpresssmtp; the credentials are in the toolkit's
    # settings files and its system mail sends them with sendemail -o tls=no -xp PASSWORD.
    gen_c = lab.add_host("wordpress-gen-c")
    seed_toolkit(gen_c, c, gen="C", app=App.WORDPRESS)
    fleet.append((DemoHost("wordpress-gen-c", App.WORDPRESS,
                           "fail: system mail sends the password in clear, on the command line "
                           "(CRED-01…05 skip: gen C writes no file)"),
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


def _print_story(fleet: list[tuple[DemoHost, str, str]]) -> None:
    print(f"smtpcheck demo: {len(fleet) + 1} lab web servers on loopback")
    for demo, _, _ in fleet:
        print(f"  {demo.name:<22} {demo.app.value:<9} {demo.story}")
    print("  wordpress-unreachable  wordpress error: nothing listens on its port")
    print("sending domains (NSD on loopback):")
    print(f"  {DEMO_CREDENTIALS.from_address.split('@')[1]:<22} compliant for Mailjet")
    for domain, story in DEMO_DOMAINS.items():
        print(f"  {domain:<22} {story}")
    print("relay tests (a real postfix + dovecot + opendkim posing as Mailjet):")
    for story in RELAY_STORIES:
        print(f"  {story}")


def run_demo(report_dir: Path, verbosity: int = 0) -> int:
    """Start the lab, audit it, print where the report is, stop everything."""
    from smtpcheck.runner import run_audit

    require_root("smtpcheck demo")
    workdir = Path(tempfile.mkdtemp(prefix="smtpcheck-demo-"))
    workdir.chmod(0o755)  # lab login users must reach their authorized_keys
    c = DEMO_CREDENTIALS
    mailbox_password = secrets.token_urlsafe(12)
    account = RelayAccount(c.username, Secret(c.password), (c.from_address,))
    try:
        with (
            SshLab(workdir / "ssh") as lab,
            MailLab(workdir / "mail", sending_domain=c.from_address.split("@")[1],
                    accounts=[account], recipient=c.to_address,
                    mailbox_password=Secret(mailbox_password)) as mail,
        ):  # fmt: skip
            fleet = _seed_fleet(lab, c)
            inventory = workdir / "inventory.toml"
            inventory.write_text(_inventory(fleet, lab))
            config = workdir / "smtpcheck.toml"
            config.write_text(
                mail.config_toml(
                    mailbox_password_env=MAILBOX_PASSWORD_ENV, domains=list(DEMO_DOMAINS)
                )
            )
            environ = {
                **c.environment(),
                SUDO_PASSWORD_ENV: lab.sudo_password,
                MAILBOX_PASSWORD_ENV: mailbox_password,
            }
            options = AuditOptions(
                inventory=inventory, config=config, known_hosts=lab.known_hosts,
                report_dir=report_dir,
            )  # fmt: skip
            _print_story(fleet)
            audit = Audit(load_audit_config(options, environ), environ)
            status = run_audit(audit, verbosity)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(
        f"smtpcheck demo: audit exit status {status} (the non-compliant lab hosts, domains and "
        f"relays fail on purpose); open {report_dir / 'report.html'}"
    )
    return 0 if status in (0, 1) else status


if __name__ == "__main__":
    sys.exit(run_demo(Path("reports")))
