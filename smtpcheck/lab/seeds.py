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


def _toolkit_password(password: str) -> str:
    """The password declaration's value as the toolkit's sed leaves it: a ':' ends the sed's
    value, so the literal loses its tail and its closing quote (reference: "Corrections")."""
    if ":" in password:
        return "'" + password.split(":", 1)[0] + ";"
    return _php_single(password) + ";"


def joomla_gen_c_main(c: LabCredentials) -> bytes:
    """Generation C main / D, a virgin build: Joomla's installer wrote the file, then the
    toolkit's sed "s%\\$label =.*$%\\$label = value;%" rewrote the lines that exist: smtphost
    unquoted, mailfrom the *to* address, Joomla's own smtpport 25 kept (there is no smtp_port
    line to rewrite), a ':' in the password splitting its literal."""
    host, _ = _GEN_C_MAIN_ENDPOINTS[c.provider]
    q = _php_single
    password = _toolkit_password(c.password)
    body = (
        "\tpublic $mailer = 'smtp';\n"
        f"\tpublic $mailfrom = {q(c.to_address)};\n"
        "\tpublic $fromname = 'Lab Site';\n"
        "\tpublic $smtpauth = 1;\n"
        f"\tpublic $smtpuser = {q(c.username)};\n"
        f"\tpublic $smtppass = {password}\n"
        f"\tpublic $smtphost = {host};\n"
        "\tpublic $smtpsecure = 'tls';\n"
        "\tpublic $smtpport = 25;\n"
    )
    return (_JOOMLA_HEAD + body + _JOOMLA_TAIL).encode()


def joomla_gen_c_main_baseline() -> bytes:
    """Generation C main / D, a baseline build: the restored site aligns its mail block, the
    toolkit's sed (one space before '=') matches nothing, and Joomla keeps mailer 'mail'."""
    body = (
        "\tpublic $mailer          = 'mail';\n"
        "\tpublic $mailfrom        = 'admin@baseline.example';\n"
        "\tpublic $fromname        = 'Lab Site';\n"
        "\tpublic $smtpauth        = false;\n"
        "\tpublic $smtpuser        = '';\n"
        "\tpublic $smtppass        = '';\n"
        "\tpublic $smtphost        = 'localhost';\n"
        "\tpublic $smtpsecure      = 'none';\n"
        "\tpublic $smtpport        = 25;\n"
    )
    return (_JOOMLA_HEAD + body + _JOOMLA_TAIL).encode()


def joomla_smtp_port_misnamed(c: LabCredentials) -> bytes:
    """A hand-repaired gen C main file: smtphost quoted, but the port written under the
    descriptor's name smtp_port, which Joomla never reads (it keeps smtpport 25)."""
    host, port = _GEN_C_MAIN_ENDPOINTS[c.provider]
    q = _php_single
    body = (
        "\tpublic $mailer = 'smtp';\n"
        f"\tpublic $mailfrom = {q(c.from_address)};\n"
        "\tpublic $smtpauth = 1;\n"
        f"\tpublic $smtpuser = {q(c.username)};\n"
        f"\tpublic $smtppass = {q(c.password)};\n"
        f"\tpublic $smtphost = {q(host)};\n"
        "\tpublic $smtpsecure = 'tls';\n"
        "\tpublic $smtpport = 25;\n"
        f"\tpublic $smtp_port = {port};\n"
    )
    return (_JOOMLA_HEAD + body + _JOOMLA_TAIL).encode()


def joomla_require_stub(target: str = "/var/www/html/configuration.php") -> bytes:
    """Generation C's webroot file that only loads the real configuration."""
    return f"<?php\nrequire('{target}');\n".encode()


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
JOOMLA_GEN_D_LINK = "/var/www/html/joomla/configuration.php"
SERVER_USER = "X7fa93bd2c041e58a6dX"  # the toolkit's X<18 alphanumerics>X server user


def seed_credentials(
    host: LabHost,
    app: App,
    content: bytes,
    *,
    mode: int = 0o400,
    owner: str = "root",
    outside_webroot: bool = False,
    path: str | None = None,
) -> None:
    """Place an application's credential file where the toolkit puts it (or at ``path``).

    ``outside_webroot`` is generation D's layout for Joomla: the file lives in
    /var/www/outside_webroot and the webroot's /var/www/html/joomla/configuration.php is a
    symlink to it (nothing at /var/www/html/configuration.php).
    """
    path = path or CREDENTIAL_PATHS[app]
    if outside_webroot:
        host.put(JOOMLA_OUTSIDE_WEBROOT, content, mode=mode, owner=owner)
        host.symlink(JOOMLA_GEN_D_LINK, JOOMLA_OUTSIDE_WEBROOT)
    else:
        host.put(path, content, mode=mode, owner=owner)


# --- the toolkit's own files on gen C/D servers (reference: "Where gen C/D servers keep …") ---

_PROVIDER_BLOCK_TLS = "-o tls=no"


def settings_dat(c: LabCredentials, *, util: str = "sendemail") -> bytes:
    """webserver_configuration_settings.dat: KEY:value lines, the e-mail keys among others."""
    return (
        "WEBSITE_URL:www.shop.example\nAPPLICATION:joomla\nBUILD_IDENTIFIER:lab\n"
        f"SYSTEMFROMEMAILADDRESS:{c.from_address}\nSYSTEMTOEMAILADDRESS:{c.to_address}\n"
        f"EMAILUSERNAME:{c.username}\nEMAILPASSWORD:{c.password}\nEMAILPROVIDER:{c.provider}\n"
        f"EMAILNOTIFICATIONLEVEL:ERROR\nEMAILUTIL:{util}\nSSH_PORT:1035\n"
    ).encode()


def application_dat(c: LabCredentials, *, webroot: str = "/var/www/html/joomla") -> bytes:
    """application.dat of a Joomla build: its webroot and the INDIVIDUAL_SETTING mail lines."""
    return (
        f"WEBROOT_DIRECTORY:{webroot}\nCONFIG_FILE:{webroot}/configuration.php\n"
        "INDIVIDUAL_SETTING:mailer='smtp'\nINDIVIDUAL_SETTING:smtpauth=1\n"
        f"INDIVIDUAL_SETTING:smtpuser='{c.username}'\nINDIVIDUAL_SETTING:smtppass='{c.password}'\n"
        "INDIVIDUAL_SETTING:smtpsecure='tls'\nINDIVIDUAL_SETTING:cache_handler='file'\n"
    ).encode()


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


_FRAME_TOP = [
    "#!/bin/sh",
    'subject="$1"',
    'message="$2"',
    "USERNAME=\"`${HOME}/providerscripts/utilities/config/ExtractConfigValue.sh 'EMAILUSERNAME'`\"",
    "PASSWORD=\"`${HOME}/providerscripts/utilities/config/ExtractConfigValue.sh 'EMAILPASSWORD'`\"",
    'EMAIL_PROVIDER="`${HOME}/providerscripts/utilities/config/ExtractConfigValue.sh '
    "'EMAILPROVIDER'`\"",
    'if ( [ "${FROM_ADDRESS}" != "" ] && [ "${PASSWORD}" != "" ] )',
    "then",
]


def _sendemail(server: str, tls: str) -> str:
    return (
        f"\t\t\t/usr/bin/sendemail {tls} -f ${{FROM_ADDRESS}} -t ${{TO_ADDRESS}} -s {server} "
        '-xu ${USERNAME} -xp ${PASSWORD} -u "${subject} `/bin/date`" -m ${message}'
    )


def _provider(code: int, server: str, tail: str, tls: str) -> list[str]:
    return [
        f'\t\tif ( [ "${{EMAIL_PROVIDER}}" = "{code}" ] )',
        "\t\tthen",
        _sendemail(server, tls) + tail,
        *([] if tail else ["\t\tfi"]),
    ]


def _ssmtp_provider(code: int, mailhub: str) -> list[str]:
    return [
        f'\t\t\tif ( [ "${{EMAIL_PROVIDER}}" = "{code}" ] )',
        "\t\t\tthen",
        f'\t\t\t\t/bin/echo "mailhub={mailhub}" >> /etc/ssmtp/ssmtp.conf',
        "\t\t\tfi",
    ]


def send_email_script(mailjet_tail: str = "", *, tls: str = _PROVIDER_BLOCK_TLS) -> str:
    """The toolkit's SendEmail.sh (gen C providerscripts/email, gen D services/email): sendemail
    per provider with ``-o tls=no`` and ``-xp ${PASSWORD}``, or the ssmtp.conf branch."""
    return _lines(
        *_FRAME_TOP,
        '\tif ( [ "`${HOME}/providerscripts/utilities/config/CheckBuildStyle.sh '
        '\'EMAILUTIL:sendemail\'`" = "1" ] )',
        "\tthen",
        *_provider(1, "smtp-pulse.com:2525", "", tls),
        *_provider(2, "in.mailjet.com:2525", mailjet_tail, tls),
        *_provider(3, "email-smtp.eu-west-1.amazonaws.com", "", tls),
        "\tfi",
        '\tif ( [ "`${HOME}/providerscripts/utilities/config/CheckBuildStyle.sh '
        '\'EMAILUTIL:ssmtp\'`" = "1" ] )',
        "\tthen",
        "\t\tif ( [ ! -f ${HOME}/runtime/SSMTP_INITIALISED ] )",
        "\t\tthen",
        *_ssmtp_provider(1, "smtp-pulse.com:2525"),
        *_ssmtp_provider(2, "in-v3.mailjet.com:587"),
        *_ssmtp_provider(3, "email-smtp.eu-west-1.amazonaws.com"),
        '\t\t\t/bin/echo "AuthUser=${USERNAME}" >> /etc/ssmtp/ssmtp.conf',
        '\t\t\t/bin/echo "AuthPass=${PASSWORD}" >> /etc/ssmtp/ssmtp.conf',
        '\t\t\t/bin/echo "FromLineOverride=YES" >> /etc/ssmtp/ssmtp.conf',
        '\t\t\t/bin/echo "UseSTARTTLS=YES" >> /etc/ssmtp/ssmtp.conf',
        "\t\t\t/bin/touch ${HOME}/runtime/SSMTP_INITIALISED",
        "\t\tfi",
        "\tfi",
        "else",
        '\t/bin/echo "${0} `/bin/date`:Email not sent because of missing parameter(s)"',
        "fi",
    )


# One shipped commit has the Mailjet branch's fi after its command ("    \t\tfi"); others have
# it on a line of its own.
SEND_EMAIL_SAME_LINE_FI = send_email_script("    \t\tfi")
SEND_EMAIL_BALANCED = send_email_script("    \t\t\n\t\tfi")

_SSMTP_HUBS = {1: "smtp-pulse.com:2525", 2: "in-v3.mailjet.com:587",
               3: "email-smtp.eu-west-1.amazonaws.com"}  # fmt: skip


def ssmtp_conf(c: LabCredentials) -> bytes:
    """Debian's ssmtp.conf with what SendEmail.sh's ssmtp branch appends."""
    return (
        "#\n# Config file for sSMTP sendmail\n#\nroot=postmaster\nmailhub=mail\n"
        "hostname=web1\n"
        f"mailhub={_SSMTP_HUBS[c.provider]}\nAuthUser={c.username}\nAuthPass={c.password}\n"
        "FromLineOverride=YES\nUseSTARTTLS=YES\n"
    ).encode()


def seed_toolkit(
    host: LabHost,
    c: LabCredentials,
    *,
    gen: str = "C",
    app: App = App.WORDPRESS,
    script: str | None = None,
    ssmtp: bool = False,
    webroot: str | None = None,
) -> str:
    """The toolkit's files on a gen C/D server, as the nightly job leaves them; the home."""
    home = f"/home/{SERVER_USER}"
    host.put("/home/homedir.dat", f"{SERVER_USER}\n".encode(), mode=0o644)
    settings = settings_dat(c, util="ssmtp" if ssmtp else "sendemail")
    host.put(f"{home}/.ssh/webserver_configuration_settings.dat", settings, mode=0o660)
    host.put(f"{home}/runtime/webserver_configuration_settings.dat", settings, mode=0o660)
    if app is App.JOOMLA:
        webroot = webroot or ("/var/www/html/joomla" if gen == "D" else "/var/www/html")
        host.put(f"{home}/runtime/application.dat", application_dat(c, webroot=webroot),
                 mode=0o640)  # fmt: skip
    folder = "services/email" if gen == "D" else "providerscripts/email"
    host.put(f"{home}/{folder}/SendEmail.sh", (script or SEND_EMAIL_BALANCED).encode(),
             mode=0o750)  # fmt: skip
    if ssmtp:
        host.put("/etc/ssmtp/ssmtp.conf", ssmtp_conf(c), mode=0o640, group="mail")
    return home
