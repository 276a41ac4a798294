"""Configuration files of the lab mail stack (postfix, dovecot, opendkim), written from settings.

Kept apart from :mod:`smtpcheck.lab.mailstack` so that the life cycle reads on its own. Every
setting that matters to a check is commented with why it is there (reference/test-lab.md).
"""

from __future__ import annotations

import grp
import os
import pwd
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from smtpcheck.lab.certs import CertFiles

_REFUSE = "error:5.7.1 the smtpcheck lab delivers nothing beyond its own mailbox"

_MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {root}/spool
data_directory = {root}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = /dev/stdout
myhostname = {relay_name}
mydomain = lab.test
myorigin = $myhostname
mydestination =
mynetworks = 127.0.0.0/8
inet_interfaces = {address}
inet_protocols = ipv4
alias_maps =
alias_database =
biff = no
# Nothing can leave the machine: every transport but the lab mailbox domain refuses.
smtp_dns_support_level = disabled
default_transport = {refuse}
relay_transport = {refuse}
local_transport = {refuse}
virtual_mailbox_domains = {mailbox_domain}
virtual_mailbox_base = {mail_root}
virtual_mailbox_maps = texthash:{root}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 100
smtpd_peername_lookup = no
smtpd_error_sleep_time = 0
smtpd_soft_error_limit = 100
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_mandatory_protocols = >=TLSv1.2
smtpd_sasl_type = dovecot
smtpd_sasl_path = private/auth
smtpd_sasl_auth_enable = no
smtp_tls_security_level = none
milter_default_action = tempfail
milter_protocol = 6
smtputf8_enable = no
"""

# Submission as the providers run it: TLS before AUTH, only authenticated clients, only from the
# account's validated senders; signed by opendkim, then handed to the pretend recipient MX.
_SUBMISSION_OPTS = (
    "-o smtpd_sasl_auth_enable=yes",
    "-o smtpd_tls_auth_only=yes",
    "-o smtpd_client_restrictions=",
    "-o smtpd_helo_restrictions=",
    "-o smtpd_sender_login_maps=texthash:{root}/etc/sender_logins",
    "-o smtpd_sender_restrictions=reject_sender_login_mismatch",
    "-o smtpd_relay_restrictions=permit_sasl_authenticated,reject",
    "-o smtpd_recipient_restrictions=permit_sasl_authenticated,reject",
    "-o smtpd_milters=inet:{address}:{sign_port}",
    "-o content_filter=smtp:[{address}]:{mx_port}",
)

_MASTER_CF = """\
{address}:{submission_port} inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
{submission_opts}
{address}:{smtps_port} inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
  -o smtpd_tls_security_level=encrypt
{submission_opts}
{address}:{mx_port} inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=no
  -o content_filter=
  -o smtpd_relay_restrictions=reject_unauth_destination
  -o smtpd_recipient_restrictions=reject_unauth_destination
  -o smtpd_milters={verify_milter}
pickup unix n - n 60 1 pickup
cleanup unix n - n - 0 cleanup
qmgr unix n - n 300 1 qmgr
tlsmgr unix - - n 1000? 1 tlsmgr
rewrite unix - - n - - trivial-rewrite
bounce unix - - n - 0 bounce
defer unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
flush unix n - n 1000? 0 flush
proxymap unix - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp unix - - n - - smtp
relay unix - - n - - smtp
showq unix n - n - - showq
error unix - - n - - error
retry unix - - n - - error
discard unix - - n - - discard
virtual unix - n n - - virtual
anvil unix - - n - 1 anvil
scache unix - - n - 1 scache
postlog unix-dgram n - n - 1 postlogd
"""


@dataclass(frozen=True)
class PostfixSettings:
    address: str
    submission_port: int
    smtps_port: int
    mx_port: int
    sign_port: int
    verify_port: int | None  # None: the MX hop does not verify DKIM (no nameserver given)
    cert: CertFiles
    mail_root: Path
    mailbox_domain: str
    mailboxes: Mapping[str, str]  # address → maildir path under mail_root (trailing /)
    sender_logins: Mapping[str, str]  # sender or @domain → comma-separated logins
    uid: int
    gid: int


def write_postfix(root: Path, s: PostfixSettings) -> None:
    """main.cf, master.cf and the texthash maps under ``root/etc``; queue under ``root/spool``."""
    etc = root / "etc"
    for sub in (etc, root / "spool", root / "data"):
        sub.mkdir(parents=True, exist_ok=True)
    owner = pwd.getpwnam("postfix")
    os.chown(root / "data", owner.pw_uid, owner.pw_gid)  # master.lock, tls caches
    (etc / "main.cf").write_text(
        _MAIN_CF.format(
            root=root,
            relay_name=s.cert.cert.stem + ".lab.test",
            address=s.address,
            refuse=_REFUSE,
            mailbox_domain=s.mailbox_domain,
            mail_root=s.mail_root,
            uid=s.uid,
            gid=s.gid,
            cert=s.cert.cert,
            key=s.cert.key,
        )
    )
    opts = "\n".join(
        "  " + o.format(root=root, address=s.address, sign_port=s.sign_port, mx_port=s.mx_port)
        for o in _SUBMISSION_OPTS
    )
    verify = f"inet:{s.address}:{s.verify_port}" if s.verify_port else ""
    (etc / "master.cf").write_text(
        _MASTER_CF.format(
            address=s.address,
            submission_port=s.submission_port,
            smtps_port=s.smtps_port,
            mx_port=s.mx_port,
            submission_opts=opts,
            verify_milter=verify,
        )
    )
    (etc / "vmailbox").write_text("".join(f"{a} {p}\n" for a, p in s.mailboxes.items()))
    (etc / "sender_logins").write_text(
        "".join(f"{sender} {logins}\n" for sender, logins in s.sender_logins.items())
    )


_DOVECOT_CONF = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = /dev/stderr
protocols = imap
listen = {address}
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login
auth_failure_delay = 0
disable_plaintext_auth = yes
first_valid_uid = {uid}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = .
  mailbox Junk {{
    special_use = \\Junk
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=SSHA512 {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={uid} home={mail_root}/%d/%n
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
  inet_listener imaps {{
    port = {imaps_port}
    ssl = yes
  }}
}}
# No growing auth penalty (2 s, 4 s … per failure from one IP): tests fail AUTH on purpose.
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth {{
  unix_listener {auth_socket} {{
    mode = 0660
    user = postfix
    group = postfix
  }}
}}
"""


def write_dovecot(
    root: Path,
    *,
    address: str,
    imaps_port: int,
    cert: CertFiles,
    users: Sequence[tuple[str, str]],
    auth_socket: Path,
    mail_root: Path,
    uid: int,
) -> None:
    """dovecot.conf and its passwd-file (hashed passwords) under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    users_file = root / "users"
    users_file.touch(mode=0o640)
    users_file.write_text("".join(f"{user}:{hashed}::::::\n" for user, hashed in users))
    os.chown(users_file, 0, grp.getgrnam("dovecot").gr_gid)  # the auth process reads it
    (root / "dovecot.conf").write_text(
        _DOVECOT_CONF.format(
            root=root,
            address=address,
            cert=cert.cert,
            key=cert.key,
            uid=uid,
            mail_root=mail_root,
            imaps_port=imaps_port,
            auth_socket=auth_socket,
        )
    )


def write_opendkim_signer(
    root: Path, listen: tuple[str, int], domain: str, selector: str, key: Path
) -> None:
    """opendkim in signing mode for ``domain`` (RFC 6376), relaxed/relaxed, rsa-sha256, its
    milter socket on ``listen`` (the stack's address: where postfix's smtpd_milters points)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    (root / "opendkim.conf").write_text(
        "\n".join(
            [
                "Mode s",
                f"Socket inet:{listen[1]}@{listen[0]}",
                f"Domain {domain}",
                f"Selector {selector}",
                f"KeyFile {key}",
                "Canonicalization relaxed/relaxed",
                "SignatureAlgorithm rsa-sha256",
                "OversignHeaders From",
                "Syslog no",
                "LogWhy yes",
                f"PidFile {root}/opendkim.pid",
                "",
            ]
        )
    )


def write_opendkim_verifier(
    root: Path, listen: tuple[str, int], nameserver: tuple[str, int], authserv_id: str
) -> None:
    """opendkim in verifying mode on ``listen``, looking keys up in the lab NSD (libunbound)."""
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    address, ns_port = nameserver
    (root / "unbound.conf").write_text(
        "server:\n"
        "  do-not-query-localhost: no\n"
        '  module-config: "iterator"\n'
        # unbound answers the special-use names (RFC 6761: .test, .invalid) itself with
        # NXDOMAIN; the lab's domains live there, so let those queries reach NSD.
        '  local-zone: "test." nodefault\n'
        '  local-zone: "invalid." nodefault\n'
        "forward-zone:\n"
        '  name: "."\n'
        f"  forward-addr: {address}@{ns_port}\n"
    )
    (root / "opendkim.conf").write_text(
        "\n".join(
            [
                "Mode v",
                f"Socket inet:{listen[1]}@{listen[0]}",
                f"AuthservID {authserv_id}",
                "AlwaysAddARHeader yes",
                f"ResolverConfiguration {root}/unbound.conf",
                "Syslog no",
                "LogWhy yes",
                f"PidFile {root}/opendkim.pid",
                "",
            ]
        )
    )
