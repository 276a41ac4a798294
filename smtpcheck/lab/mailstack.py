"""A real mail provider on loopback: postfix + dovecot + opendkim (reference/test-lab.md).

The stack pretends to be a relay provider such as Mailjet, end to end:

- **postfix** submission with STARTTLS (``smtpd_tls_auth_only=yes``, RFC 3207/6409) and a
  ``smtpd_tls_wrappermode=yes`` service for implicit TLS (RFC 8314), both presenting a certificate
  for the provider's host names (``in-v3.mailjet.com``, ``in.mailjet.com``) issued by the lab
  CA. AUTH goes through dovecot SASL; each relay account may only send from its validated
  senders (``reject_sender_login_mismatch``), like a provider's sender validation. Nothing can
  leave: every transport but the lab mailbox domain is ``error:``.
- **opendkim** (signer) signs for the sending domain with a key generated here; the TXT record
  text is exposed so the caller publishes it in an :class:`~smtpcheck.lab.nsd.NsdServer`.
- The signed message then takes a second SMTP hop, as to a recipient's MX: a postfix ``mx``
  service whose **opendkim** (verifier, resolving through the caller's NSD) writes an
  ``Authentication-Results`` header, before the message lands in a maildir.
- **dovecot** serves the recipient mailbox over IMAPS (with an INBOX and a Junk folder).

Every directory lives under one work directory that must not have a world-writable parent:
opendkim refuses keys and configuration below one (so not /tmp). :meth:`MailStack.stop` stops all
it started.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets as _random
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from smtpcheck.lab import mailconf
from smtpcheck.lab.certs import LabCA
from smtpcheck.lab.nsd import txt_rdata
from smtpcheck.lab.proc import LabError, LabService, ServerProcess, free_ports, require_root
from smtpcheck.secrets import REDACTOR, Secret

LAB_ROOT = Path("/var/lib/smtpcheck-lab")
"""Default parent of the stacks' work directories: root-owned, not world-writable."""

_MAIL_UID = _MAIL_GID = 65534  # nobody/nogroup owns the maildirs (postfix virtual, dovecot)


@dataclass(frozen=True)
class RelayAccount:
    """An account at the pretend provider: SMTP AUTH credentials and its validated senders.

    ``senders`` holds addresses (``noreply@example.test``) or whole domains (``@example.test``);
    any other MAIL FROM is refused, as an unvalidated sender is at Mailjet or SES.
    """

    username: str
    password: Secret = field(repr=False)
    senders: tuple[str, ...]


def ssha512(password: Secret) -> str:
    """A dovecot ``{SSHA512}`` hash: the lab's files never hold a password in clear."""
    salt = _random.token_bytes(8)
    digest = hashlib.sha512(password.reveal().encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode()


def _dkim_key() -> tuple[bytes, str]:
    """A 2048-bit RSA key (PEM) and its DKIM TXT record text (RFC 6376 §3.6.1)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem, "v=DKIM1; k=rsa; p=" + base64.b64encode(der).decode()


class PostfixMaster(ServerProcess):
    """``postfix start-fg``: its master calls setsid(), leaving the process group that
    :meth:`ServerProcess.stop` signals, so it is stopped through its pid file as well."""

    def __init__(self, config_dir: Path, queue_dir: Path, log_path: Path) -> None:
        super().__init__("postfix", ["postfix", "-c", str(config_dir), "start-fg"], log_path)
        self.pid_file = queue_dir / "pid" / "master.pid"

    def stop(self, timeout: float = 5.0) -> None:
        try:
            master = int(self.pid_file.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            master = None
        if master is not None:
            _stop_group(master, timeout)
        super().stop(timeout)


def _stop_group(leader: int, timeout: float) -> None:
    """SIGTERM the process group led by ``leader``, SIGKILL it if it outlives ``timeout``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(leader, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(leader, 0)
            except ProcessLookupError:
                return
            time.sleep(0.02)


class MailStack(LabService):
    """postfix + dovecot + two opendkim instances pretending to be one provider on loopback."""

    def __init__(
        self,
        *,
        accounts: Sequence[RelayAccount],
        mailbox_address: str,
        mailbox_password: Secret,
        relay_hosts: Sequence[str] = ("in-v3.mailjet.com", "in.mailjet.com"),
        signing_domain: str = "example.test",
        dkim_selector: str = "mailjet",
        imap_host: str = "imap.recipient.test",
        address: str = "127.0.0.1",
        workdir: Path | None = None,
    ) -> None:
        if "@" not in mailbox_address:
            raise LabError(f"mailbox address {mailbox_address!r} has no domain")
        self.accounts = tuple(accounts)
        self.mailbox_address = mailbox_address
        self.mailbox_password = mailbox_password
        self.relay_hosts = tuple(relay_hosts)
        self.signing_domain = signing_domain
        self.dkim_selector = dkim_selector
        self.imap_host = imap_host
        self.address = address
        self._own_workdir = workdir is None
        self._workdir = workdir
        # Ports are picked by start(), just before the servers bind them (0 until then).
        self.submission_port = self.smtps_port = self.mx_port = self.imap_port = 0
        self._sign_port = self._verify_port = 0
        self._dkim_pem, self.dkim_txt = _dkim_key()
        self._closed: socket.socket | None = None
        self.closed_port = 0
        self._servers: list[ServerProcess] = []
        self.ca_file: Path | None = None
        for account in self.accounts:
            REDACTOR.register(account.password, [account.username])
        REDACTOR.register(mailbox_password, [mailbox_address])

    @property
    def workdir(self) -> Path:
        if self._workdir is None:
            raise LabError("the mail stack is not started")
        return self._workdir

    @property
    def dkim_record_name(self) -> str:
        """The owner name of the DKIM key record, ``<selector>._domainkey.<domain>``."""
        return f"{self.dkim_selector}._domainkey.{self.signing_domain}"

    def dkim_zone_line(self) -> str:
        """The zone-file line publishing the DKIM key (absolute owner name)."""
        return f"{self.dkim_record_name}. 300 IN TXT {txt_rdata(self.dkim_txt)}"

    def provider_table(self) -> dict[str, object]:
        """The ``[providers.<key>]`` overrides that point a provider at this stack.

        Implicit-TLS ports go to the wrapper-mode service, STARTTLS ports to submission, and
        port 25 to a port where nothing listens (as many clouds block outbound 25).
        """
        ca_file = self._started_ca()
        port_map = {
            "465": self.smtps_port,
            "2465": self.smtps_port,
            "587": self.submission_port,
            "2587": self.submission_port,
            "2525": self.submission_port,
            "25": self.closed_port,
        }
        return {
            "connect_address": self.address,
            "port_map": port_map,
            "ca_file": ca_file,
        }

    def mailbox_table(self, password_env: str) -> dict[str, object]:
        """The mailbox settings (SMTP-05) for this stack's recipient mailbox."""
        return {
            "host": self.imap_host,
            "port": self.imap_port,
            "tls": "implicit",
            "user": self.mailbox_address,
            "password_env": password_env,
            "folders": ["INBOX", "Junk"],
            "ca_file": self._started_ca(),
            "connect_address": self.address,
            "authserv_id": self.authserv_id,
        }

    def _started_ca(self) -> str:
        if self.ca_file is None:
            raise LabError("the mail stack is not started: its ports and CA are not known yet")
        return str(self.ca_file)

    @property
    def authserv_id(self) -> str:
        """The id in the Authentication-Results header of the pretend recipient MX."""
        return "mx." + self.mailbox_address.rpartition("@")[2]

    # -- life cycle ---------------------------------------------------------------------------

    def start(self, nameserver: tuple[str, int] | None = None) -> Self:
        """Start everything; ``nameserver`` (NSD) is where the verifying hop looks up DKIM keys."""
        require_root("the mail stack")
        if self._workdir is None:
            LAB_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
            self._workdir = Path(tempfile.mkdtemp(prefix="mailstack-", dir=LAB_ROOT))
        self._workdir.chmod(0o755)  # the maildirs' owner (nobody) must traverse it
        self._closed = socket.socket()
        self._closed.bind((self.address, 0))  # bound, never listening: connections refused
        self.closed_port = self._closed.getsockname()[1]
        try:
            self._prepare(nameserver)
            self._launch()
        except BaseException:
            self.stop()
            raise
        return self

    def _prepare(self, nameserver: tuple[str, int] | None) -> None:
        root = self.workdir
        ca = LabCA(root / "certs")
        self.ca_file = ca.ca_file
        relay_cert = ca.issue("relay", *self.relay_hosts)
        imap_cert = ca.issue("imap", self.imap_host)
        # Picked now, in one batch (six distinct ports), not when the stack was built: the key
        # and certificate generation before this took seconds, in which another lab could take
        # a port; wait_for_port still fails loudly if one does before our server binds it.
        (self.submission_port, self.smtps_port, self.mx_port, self.imap_port,
         self._sign_port, self._verify_port) = free_ports(6, self.address)  # fmt: skip
        local, domain = self.mailbox_address.rsplit("@", 1)
        maildir = root / "mail" / domain / local / "Maildir"
        for folder in (maildir, maildir / ".Junk"):
            for sub in ("cur", "new", "tmp"):
                (folder / sub).mkdir(parents=True, exist_ok=True)
        for path in [root / "mail", *(root / "mail").rglob("*")]:
            os.chown(path, _MAIL_UID, _MAIL_GID)
        (maildir / "subscriptions").write_text("Junk\n")
        os.chown(maildir / "subscriptions", _MAIL_UID, _MAIL_GID)
        mailconf.write_postfix(
            root / "postfix",
            mailconf.PostfixSettings(
                address=self.address,
                submission_port=self.submission_port,
                smtps_port=self.smtps_port,
                mx_port=self.mx_port,
                sign_port=self._sign_port,
                verify_port=self._verify_port if nameserver else None,
                cert=relay_cert,
                mail_root=root / "mail",
                mailbox_domain=domain,
                mailboxes={self.mailbox_address: f"{domain}/{local}/Maildir/"},
                sender_logins=_sender_logins(self.accounts),
                uid=_MAIL_UID,
                gid=_MAIL_GID,
            ),
        )
        users = [(a.username, ssha512(a.password)) for a in self.accounts]
        users.append((self.mailbox_address, ssha512(self.mailbox_password)))
        mailconf.write_dovecot(
            root / "dovecot",
            address=self.address,
            imaps_port=self.imap_port,
            cert=imap_cert,
            users=users,
            auth_socket=root / "postfix" / "spool" / "private" / "auth",
            mail_root=root / "mail",
            uid=_MAIL_UID,
        )
        key_dir = root / "opendkim-sign"
        key_dir.mkdir(mode=0o700, exist_ok=True)
        key_file = key_dir / f"{self.dkim_selector}.private"
        key_file.touch(mode=0o600)
        key_file.write_bytes(self._dkim_pem)
        mailconf.write_opendkim_signer(
            key_dir,
            (self.address, self._sign_port),
            self.signing_domain,
            self.dkim_selector,
            key_file,
        )
        if nameserver:
            mailconf.write_opendkim_verifier(
                root / "opendkim-verify",
                (self.address, self._verify_port),
                nameserver,
                self.authserv_id,
            )

    def _launch(self) -> None:
        root = self.workdir
        postfix = PostfixMaster(
            root / "postfix" / "etc", root / "postfix" / "spool", root / "log" / "postfix.log"
        )
        self._run(postfix, self.submission_port, self.smtps_port, self.mx_port)
        dovecot = ServerProcess(
            "dovecot",
            ["dovecot", "-F", "-c", str(root / "dovecot" / "dovecot.conf")],
            root / "log" / "dovecot.log",
        )
        self._run(dovecot, self.imap_port)
        opendkim = shutil.which("opendkim") or "/usr/sbin/opendkim"
        for name, port in (("opendkim-sign", self._sign_port), ("opendkim-verify", None)):
            conf = root / name / "opendkim.conf"
            if not conf.exists():
                continue
            server = ServerProcess(
                name, [opendkim, "-f", "-x", str(conf)], root / "log" / f"{name}.log"
            )
            self._run(server, port or self._verify_port)

    def _run(self, server: ServerProcess, *ports: int) -> None:
        self._servers.append(server.start())
        for port in ports:
            server.wait_for_port(self.address, port)

    def stop(self) -> None:
        """Stop every server this stack started and remove a work directory it created."""
        while self._servers:
            server = self._servers.pop()
            # libmilter lingers ~5 s on SIGTERM; a lab filter holds nothing worth waiting for
            server.stop(timeout=0.5 if server.name.startswith("opendkim") else 5.0)
        if self._closed is not None:
            self._closed.close()
            self._closed = None
        if self._own_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None


def _sender_logins(accounts: Sequence[RelayAccount]) -> dict[str, str]:
    """``smtpd_sender_login_maps`` entries: each validated sender → the logins that own it."""
    owners: dict[str, list[str]] = {}
    for account in accounts:
        for sender in account.senders:
            owners.setdefault(sender.lower(), []).append(account.username)
    return {sender: ",".join(logins) for sender, logins in owners.items()}
