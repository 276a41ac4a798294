"""Real servers for the tests that cross a network: the SSH lab (one sshd per web server).

The lab needs root (mount namespaces, lab users, binding 127.0.0.x); CI runs as root. When it
cannot start, the tests fail with the lab's own message rather than being skipped quietly.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from smtpcheck.audit import Audit
from smtpcheck.config import AuditOptions, load_audit_config
from smtpcheck.lab.maillab import MailLab
from smtpcheck.lab.mailstack import RelayAccount
from smtpcheck.lab.nsd import NsdServer
from smtpcheck.lab.proc import LabError
from smtpcheck.lab.seeds import LabCredentials
from smtpcheck.lab.sshd import LAB_USER, LabHost, SshLab
from smtpcheck.remote import SshOptions
from smtpcheck.secrets import Secret
from smtpcheck.targets import App, HostTarget, parse_host_url

CANARY = "Cnry-7f3e9a1b:SECRET-pw"  # unique enough to search every artifact for
CREDS = LabCredentials(
    provider=2,
    from_address="notifications@shop.example",
    to_address="ops@mailbox.example",
    username="4f1d0c2b9e8a7d6c5b4a39281706f5e4",
    password=CANARY,
)


@pytest.fixture(scope="session")
def lab_dir() -> Iterator[Path]:
    directory = Path(tempfile.mkdtemp(prefix="smtpcheck-tests-"))
    directory.chmod(0o755)  # lab login users must reach authorized_keys
    yield directory
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def ssh_lab(lab_dir: Path) -> Iterator[SshLab]:
    try:
        lab = SshLab(lab_dir / "ssh").start()
    except LabError as exc:
        pytest.fail(f"the SSH lab cannot run here: {exc}", pytrace=False)
    yield lab
    lab.stop()


def lab_target(
    lab: SshLab, host: LabHost, app: App, *, user: str = LAB_USER, **changes: object
) -> HostTarget:
    """A HostTarget for a lab host, read through passwordless sudo unless told otherwise."""
    target = parse_host_url(host.url(user), app)
    target = replace(target, name=host.name, identity_file=lab.client_key, sudo=True, timeout=5.0)
    return replace(target, **changes)  # type: ignore[arg-type]


def lab_audit(
    lab: SshLab,
    targets: list[HostTarget],
    creds: LabCredentials | None = CREDS,
    *,
    environ: dict[str, str] | None = None,
    ssh: SshOptions | None = None,
    report_dir: Path | None = None,
) -> Audit:
    """An Audit of ``targets`` (host layer) with ``creds`` as the build-time settings."""
    env = {**(creds.environment() if creds else {}), **(environ or {})}
    config = load_audit_config(AuditOptions(layers="host", report_dir=report_dir), env)
    config = replace(
        config,
        targets=tuple(targets),
        ssh=ssh or SshOptions(known_hosts=lab.known_hosts),
    )
    return Audit(config, env)


MAILBOX_ENV = "SMTPCHECK_TEST_MAILBOX_PASSWORD"
MAILBOX_PASSWORD = "mailbox-pw-4e1d"


@pytest.fixture(scope="session")
def mail_lab(lab_dir: Path) -> Iterator[MailLab]:
    """NSD (the DNS scenarios and shop.example) and a mail stack posing as Mailjet, whose one
    account is CREDS: the relay accepts exactly what a compliant lab host holds."""
    account = RelayAccount(CREDS.username, Secret(CREDS.password), (CREDS.from_address,))
    lab = MailLab(
        lab_dir / "mail",
        sending_domain=CREDS.from_address.split("@")[1],
        accounts=[account],
        recipient=CREDS.to_address,
        mailbox_password=Secret(MAILBOX_PASSWORD),
    )
    try:
        lab.start()
    except LabError as exc:
        pytest.fail(f"the mail lab cannot run here: {exc}", pytrace=False)
    yield lab
    lab.stop()


@pytest.fixture(scope="session")
def dns_lab(mail_lab: MailLab) -> NsdServer:
    """NSD serving the lab's DNS scenarios, the providers' stand-ins and shop.example."""
    return mail_lab.nsd
