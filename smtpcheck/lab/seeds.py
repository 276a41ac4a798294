"""Credential files as each toolkit generation writes them (reference/adt-toolkit.md).

Used by the demo and the tests to seed lab hosts: one builder per application format and
generation, faithful to the toolkit's own writers (spacing, quoting, property names, ports).
"""

from __future__ import annotations

from dataclasses import dataclass

from smtpcheck.lab.sshd import LabHost
from smtpcheck.targets import CREDENTIAL_PATHS, App


@dataclass(frozen=True)
class LabCredentials:
    """Build-time settings of a lab deployment (the SYSTEM_EMAIL_* values)."""

    provider: int
    from_address: str
    to_address: str
    username: str
    password: str

    def environment(self) -> dict[str, str]:
        return {
            "SYSTEM_EMAIL_PROVIDER": str(self.provider),
            "SYSTEM_FROMEMAIL_ADDRESS": self.from_address,
            "SYSTEM_TOEMAIL_ADDRESS": self.to_address,
            "SYSTEM_EMAIL_USERNAME": self.username,
            "SYSTEM_EMAIL_PASSWORD": self.password,
        }


def labelled_file(c: LabCredentials, *, port: int = 465, provider: int | None = None) -> bytes:
    """ActivateSMTP.sh (generations A/B): five echo lines, PORT 465 hard-coded."""
    code = c.provider if provider is None else provider
    return (
        f"FROM ADDRESS: {c.from_address}\nUSERNAME: {c.username}\nPASSWORD: {c.password}\n"
        f"EMAIL PROVIDER: {code}\nPORT: {port}\n"
    ).encode()


def _php_single(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _php_double(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$")
    return f'"{escaped}"'


_JOOMLA_HEAD = """<?php
class JConfig {
	public $offline = false;
	public $offline_message = 'This site is down for maintenance.<br>Please check back again soon.';
	public $display_offline_message = 1;
	public $sitename = 'Lab Site';
	public $editor = 'tinymce';
	public $list_limit = 20;
	public $access = 1;
	public $debug = false;
	public $dbtype = 'mysqli';
	public $host = '127.0.0.1:2035';
	public $user = 'labdbuser';
	public $password = 'lab-db-secret; not an smtp value';
	public $db = 'labdb';
	public $dbprefix = 'jos_';
	public $secret = 'Xk3lab9secret';
	public $gzip = false;
	public $error_reporting = 'default';
	public $helpurl = 'https://help.joomla.org/proxy?keyref=Help{major}{minor}:{keyref}&lang={langcode}';
	public $offset = 'UTC';
	public $mailonline = true;
	public $sendmail = '/usr/sbin/sendmail';
"""
_JOOMLA_TAIL = """	public $caching = 0;
	public $cache_handler = 'file';
	public $cachetime = 15;
	public $log_path = '/var/www/html/administrator/logs';
	public $tmp_path = '/var/www/html/tmp';
	public $lifetime = 15;
	public $session_handler = 'database';
	public $cors_allowed_headers = 'Content-Type,X-Joomla-Token';
}
"""

# Generation A's sed lines: "public \\$smtphost= '...'" (no space before =), 8-space indent.
_GEN_A_HOSTS = {1: "smtp-pulse.com", 2: "smtp.gmail.com", 3: "email-smtp.eu-west-1.amazonaws.com"}
_GEN_B_ENDPOINTS = {
    1: ("smtp-pulse.com", 2525),
    2: ("in-v3.mailjet.com", 587),
    3: ("email-smtp.eu-west-1.amazonaws.com", 587),
}
_GEN_C_DEV_ENDPOINTS = {**_GEN_B_ENDPOINTS, 2: ("in.mailjet.com", 2525)}
_GEN_C_MAIN_ENDPOINTS = {
    1: ("smtp-pulse.com", 2525),
    2: ("in-v3.mailjet.com", 587),
    3: ("email-smtp.eu-west-1.amazonaws.com", 2525),
}


def joomla_gen_a(c: LabCredentials) -> bytes:
    """Generation A: sed on runtime/joomla_configuration.php, single quotes, ssl on 465."""
    q = _php_single
    body = (
        "        public $mailer = 'smtp';\n"
        "        public $fromname = 'Lab Site';\n"
        f"        public $mailfrom = {q(c.from_address)};\n"
        f"        public $smtpuser = {q(c.username)};\n"
        f"        public $smtppass = {q(c.password)};\n"
        f"        public $smtphost= {q(_GEN_A_HOSTS[c.provider])};\n"
        "        public $smtpport= '465';\n"
        "        public $smtpauth= '1';\n"
        "        public $smtpsecure= 'ssl';\n"
    )
    return (_JOOMLA_HEAD + body + _JOOMLA_TAIL).encode()


def _gen_b_body(c: LabCredentials, quote: type | None, host: str, port: int) -> str:
    q = _php_double if quote is str else _php_single
    return (
        f"\tpublic $mailer = {q('smtp')};\n"
        f"\tpublic $mailfrom = {q(c.from_address)};\n"
        f"\tpublic $fromname = {q('Lab Site Webmaster')};\n"
        f"\tpublic $replyto = {q(c.to_address)};\n"
        f"\tpublic $replytoname = {q('Lab Site Webmaster')};\n"
        f"\tpublic $smtpauth = {q('1')};\n"
        f"\tpublic $smtpuser = {q(c.username)};\n"
        f"\tpublic $smtppass = {q(c.password)};\n"
        f"\tpublic $smtphost = {q(host)};\n"
        f"\tpublic $smtpsecure = {q('tls')};\n"
        f"\tpublic $smtpport = {q(str(port))};\n"
    )


def joomla_gen_b(c: LabCredentials) -> bytes:
    """Generation B: sed replaces whole lines, single quotes, tls on the provider's port."""
    host, port = _GEN_B_ENDPOINTS[c.provider]
    return (_JOOMLA_HEAD + _gen_b_body(c, None, host, port) + _JOOMLA_TAIL).encode()


def joomla_gen_c_dev(c: LabCredentials) -> bytes:
    """Generation C dev: configuration.php.default edited on the build machine, double quotes."""
    host, port = _GEN_C_DEV_ENDPOINTS[c.provider]
    head = _JOOMLA_HEAD.replace("'", '"')
    return (head + _gen_b_body(c, str, host, port) + _JOOMLA_TAIL.replace("'", '"')).encode()


def joomla_gen_c_main(c: LabCredentials) -> bytes:
    """Generation C main: joomla.dat placeholders applied with sed "s%\\$label =.*$%...%",
    values inserted verbatim: an unquoted smtphost and smtp_port (Joomla reads smtpport, which
    keeps the installer's 25)."""
    host, port = _GEN_C_MAIN_ENDPOINTS[c.provider]
    q = _php_single
    body = (
        "\tpublic $mailer='smtp';\n"
        f"\tpublic $mailfrom = {q(c.from_address)};\n"
        "\tpublic $smtpauth = 1;\n"
        f"\tpublic $smtpuser = {q(c.username)};\n"
        f"\tpublic $smtppass = {q(c.password)};\n"
        f"\tpublic $smtphost = {host};\n"
        "\tpublic $smtpsecure='tls';\n"
        "\tpublic $smtpport = 25;\n"
        f"\tpublic $smtp_port = {port};\n"
    )
    return (_JOOMLA_HEAD + body + _JOOMLA_TAIL).encode()


def joomla_fixed(c: LabCredentials, *, host: str, port: int, secure: str) -> bytes:
    """A correct configuration: what an operator should end up with."""
    q = _php_single
    body = (
        "\tpublic $mailer = 'smtp';\n"
        f"\tpublic $mailfrom = {q(c.from_address)};\n"
        "\tpublic $fromname = 'Lab Site';\n"
        "\tpublic $smtpauth = 1;\n"
        f"\tpublic $smtpuser = {q(c.username)};\n"
        f"\tpublic $smtppass = {q(c.password)};\n"
        f"\tpublic $smtphost = {q(host)};\n"
        f"\tpublic $smtpsecure = {q(secure)};\n"
        f"\tpublic $smtpport = {port};\n"
    )
    return (_JOOMLA_HEAD + body + _JOOMLA_TAIL).encode()


JOOMLA_OUTSIDE_WEBROOT = "/var/www/outside_webroot/configuration.php"


def seed_credentials(
    host: LabHost,
    app: App,
    content: bytes,
    *,
    mode: int = 0o400,
    owner: str = "root",
    outside_webroot: bool = False,
) -> None:
    """Place an application's credential file where the toolkit puts it.

    ``outside_webroot`` is generation D's layout for Joomla: the file lives in
    /var/www/outside_webroot and the documented path is a symlink to it.
    """
    path = CREDENTIAL_PATHS[app]
    if outside_webroot:
        host.put(JOOMLA_OUTSIDE_WEBROOT, content, mode=mode, owner=owner)
        host.symlink(path, JOOMLA_OUTSIDE_WEBROOT)
    else:
        host.put(path, content, mode=mode, owner=owner)
