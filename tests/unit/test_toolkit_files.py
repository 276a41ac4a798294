"""The toolkit's own files on gen C/D servers: the settings and application .dat files,
SendEmail.sh and ssmtp.conf (reference/adt-toolkit.md, "Where gen C/D servers keep the SMTP
credentials")."""

from __future__ import annotations

import dataclasses
import shlex

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpcheck.credentials.ssmtp import parse_ssmtp_conf
from smtpcheck.credentials.sysmail import SendEmailCall, SsmtpMailhub, parse_send_email
from smtpcheck.credentials.toolkit import (
    EMAILPASSWORD,
    EMAILPROVIDER,
    EMAILUSERNAME,
    EMAILUTIL,
    SYSTEMFROMEMAILADDRESS,
    parse_application_dat,
    parse_settings_dat,
)
from smtpcheck.lab import seeds
from smtpcheck.secrets import REDACTED, REDACTOR

CANARY = "Cn4ry'pw:/\\x"


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


def _problems(parsed: object) -> list[tuple[str, bool]]:
    return [(p.message, p.fatal) for p in getattr(parsed, "problems", ())]


# ---------------------------------------------------------------------------------------------
# webserver_configuration_settings.dat

SETTINGS = _lines(
    "BUILDOS:debian",
    "BUILDOSVERSION:12",
    "CLOUDHOST:linode",
    "WEBSITEURL:www.example.com",
    "SYSTEMFROMEMAILADDRESS:system@example.com",
    "SYSTEMTOEMAILADDRESS:admin@example.com",
    "EMAILUSERNAME:a1b2c3d4e5f6",
    "EMAILPASSWORD:Pa:ss/w0rd",
    "EMAILPROVIDER:2",
    "EMAILNOTIFICATIONLEVEL:ERROR",
    "DBPASSWORD:not-ours",
    "EMAILUTIL:sendemail",
)

# (text, problems, values, password (gens C/D), password_last_field (gens A/B), duplicates)
SETTINGS_CASES = {
    "gen-c-password-with-colon-and-slash": (
        SETTINGS,
        [],
        {EMAILPROVIDER: "2", EMAILUTIL: "sendemail", EMAILUSERNAME: "a1b2c3d4e5f6"},
        "Pa:ss/w0rd",
        "ss/w0rd",
        (),
    ),
    "password-without-colon": (
        SETTINGS.replace("Pa:ss/w0rd", "Pass/w0rd"),
        [],
        {SYSTEMFROMEMAILADDRESS: "system@example.com"},
        "Pass/w0rd",
        "Pass/w0rd",
        (),
    ),
    "password-ending-in-colon": (
        SETTINGS.replace("Pa:ss/w0rd", "abc:"),
        [],
        {},
        "abc:",
        None,
        (),
    ),
    "crlf": (
        SETTINGS.replace("\n", "\r\n"),
        [("lines end in CR LF (edited on Windows?)", False)],
        {EMAILPROVIDER: "2", EMAILUTIL: "sendemail"},
        "Pa:ss/w0rd",
        "ss/w0rd",
        (),
    ),
    "cr-only": (
        SETTINGS.replace("\n", "\r"),
        [("lines end in CR LF (edited on Windows?)", False)],
        {SYSTEMFROMEMAILADDRESS: "system@example.com"},
        "Pa:ss/w0rd",
        "ss/w0rd",
        (),
    ),
    "duplicate-password": (
        SETTINGS + "EMAILPASSWORD:other\n",
        [("line 13: EMAILPASSWORD appears again (grep reads both lines)", True)],
        {},
        "Pa:ss/w0rd",
        "ss/w0rd",
        (EMAILPASSWORD,),
    ),
    "empty-password-with-mail-configured": (
        SETTINGS.replace("Pa:ss/w0rd", ""),
        [("EMAILPASSWORD is empty", True)],
        {EMAILPROVIDER: "2"},
        None,
        None,
        (),
    ),
    "empty-password-without-mail": (
        _lines("EMAILUSERNAME:", "EMAILPASSWORD:", "EMAILPROVIDER:"),
        [("EMAILPASSWORD is empty", False)],
        {EMAILUSERNAME: "", EMAILPROVIDER: ""},
        None,
        None,
        (),
    ),
    "password-with-space": (
        SETTINGS.replace("Pa:ss/w0rd", "two words"),
        [
            (
                "EMAILPASSWORD contains whitespace: SendEmail.sh passes it unquoted, "
                "so sendemail receives only part of it",
                False,
            )
        ],
        {},
        "two words",
        "two words",
        (),
    ),
    "grep-anchors-at-line-start": (
        _lines("#EMAILPASSWORD:commented", " EMAILPASSWORD:indented", "emailpassword:lower"),
        [],
        {},
        None,
        None,
        (),
    ),
    "odd-provider-and-level": (
        _lines("EMAILPROVIDER:mailjet", "EMAILNOTIFICATIONLEVEL:DEBUG"),
        [
            ("EMAILPROVIDER is not 1, 2 or 3", False),
            ("EMAILNOTIFICATIONLEVEL is not INFO, ERROR or MANDATORY", False),
        ],
        {EMAILPROVIDER: "mailjet"},
        None,
        None,
        (),
    ),
    "inner-whitespace-kept": (
        _lines("SYSTEMFROMEMAILADDRESS: padded@example.com "),
        [],
        {SYSTEMFROMEMAILADDRESS: " padded@example.com "},
        None,
        None,
        (),
    ),
}


@pytest.mark.parametrize(
    ("text", "problems", "values", "password", "last_field", "duplicates"),
    SETTINGS_CASES.values(),
    ids=SETTINGS_CASES.keys(),
)
def test_settings_dat_shapes(
    text: str,
    problems: list[tuple[str, bool]],
    values: dict[str, str],
    password: str | None,
    last_field: str | None,
    duplicates: tuple[str, ...],
) -> None:
    parsed = parse_settings_dat(text)

    assert _problems(parsed) == problems
    for key, value in values.items():
        assert parsed.values[key] == value
    assert EMAILPASSWORD not in parsed.values
    assert (parsed.password.reveal() if parsed.password else None) == password
    last = parsed.password_last_field
    assert (last.reveal() if last else None) == last_field
    assert parsed.duplicates == duplicates
    assert parsed.has_colon_in_password == (password != last_field)


def test_settings_dat_predicates_and_redaction() -> None:
    parsed = parse_settings_dat(SETTINGS)

    assert parsed.has_smtp_values
    assert not parse_settings_dat(_lines("BUILDOS:debian", "CLOUDHOST:linode")).has_smtp_values
    assert parse_settings_dat("EMAILPASSWORD:\n").has_smtp_values  # present, though empty
    assert "Pa:ss/w0rd" not in repr(parsed)
    assert REDACTOR.scrub("sendemail -xp Pa:ss/w0rd") == f"sendemail -xp {REDACTED}"
    assert REDACTOR.scrub("gen B read ss/w0rd") == f"gen B read {REDACTED}"


# ---------------------------------------------------------------------------------------------
# application.dat (Joomla, gen D descriptor shape with the build's values filled in)

APPLICATION = _lines(
    "#The description of your website as it will appear on your webpage",
    "WEBSITE_NAME:Vanilla Joomla Website",
    "WEBSITE_PASSWORD:site-admin-pw",
    "DIRECTORIES_TO_CREATE:logs:tmp:cache",
    "WEBROOT_DIRECTORY:/var/www/html/joomla",
    "CONFIG_FILE:/var/www/html/configuration.php",
    "MANDATORY_INDIVIDUAL_SETTING:password='db-secret-pw'",
    "INDIVIDUAL_SETTING:mailer='smtp'",
    "INDIVIDUAL_SETTING:smtpauth=1",
    "INDIVIDUAL_SETTING:smtpuser='a1b2c3d4e5f6'",
    "INDIVIDUAL_SETTING:smtppass='s3cret'",
    "INDIVIDUAL_SETTING:smtpsecure='tls'",
    "INDIVIDUAL_SETTING:smtp_port=2525",
    "INDIVIDUAL_SETTING:smtphost=smtp-pulse.com",
    "INDIVIDUAL_SETTING:cache_handler='file'",
    "INDIVIDUAL_SETTING:tmp_path='/var/www/html/tmp'",
)

# (text, problems, smtp settings, smtppass, webroot, config_file, placeholders)
APPLICATION_CASES = {
    "joomla-gen-d": (
        APPLICATION,
        [],
        {
            "mailer": "smtp",
            "smtpauth": "1",
            "smtpuser": "a1b2c3d4e5f6",
            "smtpsecure": "tls",
            "smtp_port": "2525",
            "smtphost": "smtp-pulse.com",
        },
        "s3cret",
        "/var/www/html/joomla",
        "/var/www/html/configuration.php",
        (),
    ),
    "double-quoted-and-bare": (
        _lines('INDIVIDUAL_SETTING:smtppass="dq pw"', "INDIVIDUAL_SETTING:smtpuser=bare"),
        [],
        {"smtpuser": "bare"},
        "dq pw",
        None,
        None,
        (),
    ),
    "password-with-colon": (
        _lines("INDIVIDUAL_SETTING:smtppass='abc:def'"),
        [
            (
                "INDIVIDUAL_SETTING smtppass contains ':', which splits it when the build "
                "writes configuration.php (gens C main and D)",
                False,
            )
        ],
        {},
        "abc:def",
        None,
        None,
        (),
    ),
    "ses-password-placeholder-left": (
        _lines("INDIVIDUAL_SETTING:smtppass='XXXXSMTP_PASSXXXX'", "INDIVIDUAL_SETTING:smtphost=h"),
        [("INDIVIDUAL_SETTING smtppass is still the build's placeholder", True)],
        {"smtphost": "h"},
        "XXXXSMTP_PASSXXXX",
        None,
        None,
        ("smtppass",),
    ),
    "unbalanced-quotes": (
        _lines("INDIVIDUAL_SETTING:smtppass='abc", "INDIVIDUAL_SETTING:smtpuser=\"u'"),
        [
            ("line 1: INDIVIDUAL_SETTING smtppass has unbalanced quotes", True),
            ("line 2: INDIVIDUAL_SETTING smtpuser has unbalanced quotes", True),
        ],
        {"smtpuser": "\"u'"},
        "'abc",
        None,
        None,
        (),
    ),
    "duplicate-later-wins": (
        _lines("INDIVIDUAL_SETTING:smtphost=old", "INDIVIDUAL_SETTING:smtphost='new'"),
        [("line 2: INDIVIDUAL_SETTING smtphost appears again; the later one applies", False)],
        {"smtphost": "new"},
        None,
        None,
        None,
        (),
    ),
    "unsafe-paths": (
        _lines("WEBROOT_DIRECTORY:var/www/html", "CONFIG_FILE:/var/www/../../etc/shadow"),
        [
            ("line 1: WEBROOT_DIRECTORY is not an absolute path without '..'", True),
            ("line 2: CONFIG_FILE is not an absolute path without '..'", True),
        ],
        {},
        None,
        None,
        None,
        (),
    ),
    "crlf-and-empty-password": (
        APPLICATION.replace("'s3cret'", "''").replace("\n", "\r\n"),
        [("lines end in CR LF (edited on Windows?)", False)],
        {"smtphost": "smtp-pulse.com"},
        None,
        "/var/www/html/joomla",
        "/var/www/html/configuration.php",
        (),
    ),
}


@pytest.mark.parametrize(
    ("text", "problems", "smtp", "smtppass", "webroot", "config_file", "placeholders"),
    APPLICATION_CASES.values(),
    ids=APPLICATION_CASES.keys(),
)
def test_application_dat_shapes(
    text: str,
    problems: list[tuple[str, bool]],
    smtp: dict[str, str],
    smtppass: str | None,
    webroot: str | None,
    config_file: str | None,
    placeholders: tuple[str, ...],
) -> None:
    parsed = parse_application_dat(text)

    assert _problems(parsed) == problems
    for name, value in smtp.items():
        assert parsed.smtp[name] == value
    assert "smtppass" not in parsed.smtp
    assert (parsed.smtppass.reveal() if parsed.smtppass else None) == smtppass
    assert (parsed.webroot, parsed.config_file) == (webroot, config_file)
    assert parsed.placeholders == placeholders


def test_application_dat_keeps_only_mail_settings() -> None:
    parsed = parse_application_dat(APPLICATION)

    assert set(parsed.smtp) <= {"mailer", "smtpauth", "smtpuser", "smtpsecure"} | {
        "smtp_port",
        "smtphost",
    }
    for secret in ("s3cret", "db-secret-pw", "site-admin-pw"):
        assert secret not in repr(parsed)


# ---------------------------------------------------------------------------------------------
# SendEmail.sh: the provider block as the toolkit ships it (gen C providerscripts/email, gen D
# services/email), framed by the outer tests of the script.

SEND_EMAIL_SAME_LINE_FI = seeds.SEND_EMAIL_SAME_LINE_FI
SEND_EMAIL_BALANCED = seeds.SEND_EMAIL_BALANCED


def _line_of(text: str, fragment: str, occurrence: int = 0) -> int:
    numbers = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return numbers[occurrence]


def _calls(text: str, unterminated: bool) -> list[SendEmailCall]:
    servers = [
        (1, "smtp-pulse.com", 2525),
        (2, "in.mailjet.com", 2525),
        (3, "email-smtp.eu-west-1.amazonaws.com", None),
    ]
    return [
        SendEmailCall(
            line=_line_of(text, f"-s {host}"),
            provider_code=code,
            server_host=host,
            server_port=port,
            tls="no",
            password_on_command_line=True,
            password_literal=None,
            username_argument_is_variable=True,
            in_unterminated_block=unterminated,
        )
        for code, host, port in servers
    ]


def _mailhubs(text: str) -> list[SsmtpMailhub]:
    hubs = [
        (1, "smtp-pulse.com", 2525),
        (2, "in-v3.mailjet.com", 587),
        (3, "email-smtp.eu-west-1.amazonaws.com", None),
    ]
    return [
        SsmtpMailhub(code, host, port, _line_of(text, f"mailhub={host}"))
        for code, host, port in hubs
    ]


@pytest.mark.parametrize(
    "text", [SEND_EMAIL_SAME_LINE_FI, SEND_EMAIL_BALANCED], ids=["same-line-fi", "balanced"]
)
def test_send_email_calls_and_mailhubs(text: str) -> None:
    parsed = parse_send_email(text)
    unterminated = text is SEND_EMAIL_SAME_LINE_FI

    assert list(parsed.sendemail) == _calls(text, unterminated)
    assert list(parsed.ssmtp_mailhubs) == _mailhubs(text)
    assert parsed.ssmtp_starttls_appended
    assert parsed.uses_sendemail_branch
    assert parsed.uses_ssmtp_branch
    assert parsed.unclosed_blocks == (1 if unterminated else 0)


def test_send_email_same_line_fi_is_reported() -> None:
    parsed = parse_send_email(SEND_EMAIL_SAME_LINE_FI)
    mailjet = _line_of(SEND_EMAIL_SAME_LINE_FI, "in.mailjet.com")

    assert _problems(parsed) == [
        (
            f"line {mailjet}: 'fi' follows a command on the same line, so sh passes it to the "
            "command instead of closing the block",
            False,
        ),
        (
            "the script ends inside 1 unclosed block(s): sh stops with a syntax error and "
            "never runs the outermost one",
            True,
        ),
    ]
    assert _problems(parse_send_email(SEND_EMAIL_BALANCED)) == []


# (script, the calls' (provider, host, port, tls, -xp given, literal password, user variable))
SEND_EMAIL_CASES: dict[str, tuple[str, list[tuple[object, ...]]]] = {
    "options-split-and-combined": (
        "sendemail -o message-charset=utf-8 tls=YES -o tls=No -s h.example:587 -xu $U -xp $P\n",
        [(None, "h.example", 587, "no", True, None, True)],
    ),
    "ipv6-server": (
        "/usr/bin/sendEmail -s [::1]:2525 -xp `cat /root/pw`\n",
        [(None, "::1", 2525, None, True, None, False)],
    ),
    "literal-password-and-user": (
        "sendemail -s smtp-pulse.com:2525 -xu alice -xp 'hand edited'\n",
        [(None, "smtp-pulse.com", 2525, None, True, "hand edited", False)],
    ),
    "password-as-o-option": (
        "sendemail -s h -o username=bob password=lit\n",
        [(None, "h", None, None, True, "lit", False)],
    ),
    "one-line-if-with-separators": (
        'if [ "$EMAIL_PROVIDER" = "2" ]; then cd /tmp && sendemail -s h:25 -xp "$P"; fi\n'
        "true || sendemail -s g\n",
        [(2, "h", 25, None, True, None, False), (None, "g", None, None, False, None, False)],
    ),
    "elif-and-else": (
        _lines(
            'if [ "${EMAIL_PROVIDER}" = "1" ]',
            "then",
            "  sendemail -s a",
            'elif [ 3 = "${EMAIL_PROVIDER}" ]',
            "then",
            "  sendemail -s b",
            "else",
            "  sendemail -s c",
            "fi",
        ),
        [
            (1, "a", None, None, False, None, False),
            (3, "b", None, None, False, None, False),
            (None, "c", None, None, False, None, False),
        ],
    ),
    "comments-heredoc-continuation": (
        _lines(
            "# sendemail -s commented.out",
            "echo ${#x} # sendemail -s also.commented",
            "cat <<EOF",
            "sendemail -s in.heredoc",
            "EOF",
            "sendemail -s continued \\",
            "  -xp $P",
            "/usr/bin/sendemail.bak -s not.sendemail",
        ),
        [(None, "continued", None, None, True, None, False)],
    ),
}


@pytest.mark.parametrize(("text", "calls"), SEND_EMAIL_CASES.values(), ids=SEND_EMAIL_CASES.keys())
def test_send_email_edge_cases(text: str, calls: list[tuple[object, ...]]) -> None:
    parsed = parse_send_email(text)

    assert [
        (
            call.provider_code,
            call.server_host,
            call.server_port,
            call.tls,
            call.password_on_command_line,
            call.password_literal.reveal() if call.password_literal else None,
            call.username_argument_is_variable,
        )
        for call in parsed.sendemail
    ] == calls
    for call in parsed.sendemail:
        if call.password_literal is not None:
            assert call.password_literal.reveal() not in repr(parsed)


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        ('sendemail -s h -xp "unclosed\n', [("line 1: unbalanced quotes", True)]),
        (
            "sendemail -xp $P\n",
            [("line 1: sendemail without -s sends to localhost:25", False)],
        ),
        ("sendemail -s\n", [("line 1: -s has no server", True)]),
        (
            "sendemail -s h:99999 -xp\n",
            [
                ("line 1: the -s server has a port that is not a number from 1 to 65535", True),
                ("line 1: -xp has no value", True),
            ],
        ),
        (
            "sendemail -s ::1\n",
            [("line 1: the -s server is an IPv6 address without brackets", True)],
        ),
        ("fi\n", [("line 1: 'fi' closes no open block", True)]),
        (
            "if true\nthen\r\n  sendemail -s h\r\nfi\n",
            [("lines end in CR LF: sh cannot read the script's keywords", True)],
        ),
    ],
    ids=[
        "unbalanced-quotes",
        "missing-s",
        "s-without-value",
        "bad-port",
        "bare-ipv6",
        "stray-fi",
        "crlf",
    ],
)
def test_send_email_problems(text: str, problems: list[tuple[str, bool]]) -> None:
    assert _problems(parse_send_email(text)) == problems


# ---------------------------------------------------------------------------------------------
# /etc/ssmtp/ssmtp.conf: Debian's default file, then what SendEmail.sh appends

DEBIAN_SSMTP = _lines(
    "#",
    "# Config file for sSMTP sendmail",
    "#",
    "# The person who gets all mail for userids < 1000",
    "# Make this empty to disable rewriting.",
    "root=postmaster",
    "",
    "# The place where the mail goes. The actual machine name is required no ",
    "# MX records are consulted. Commonly mailhosts are named mail.domain.com",
    "mailhub=mail",
    "",
    "# Where will the mail seem to come from?",
    "#rewriteDomain=",
    "",
    "# The full hostname",
    "hostname=webserver-1.example.com",
    "",
    "# Are users allowed to set their own From: address?",
    "# YES - Allow the user to specify their own From: address",
    "# NO - Use the system generated From: address",
    "#FromLineOverride=YES",
)


def _appended(mailhub: str, password: str) -> str:
    return DEBIAN_SSMTP + _lines(
        f"mailhub={mailhub}",
        "AuthUser=a1b2c3d4e5f6",
        f"AuthPass={password}",
        "FromLineOverride=YES",
        "UseSTARTTLS=YES",
    )


# (text, (host, port, user, password, use_tls, use_starttls, method, mailhub lines, truncated),
#  problems)
SSMTP_CASES: dict[str, tuple[str, tuple[object, ...], list[tuple[str, bool]]]] = {
    "debian-default": (
        DEBIAN_SSMTP,
        ("mail", None, None, None, False, False, None, 1, False),
        [],
    ),
    "toolkit-mailjet": (
        _appended("in-v3.mailjet.com:587", "s3cret"),
        ("in-v3.mailjet.com", 587, "a1b2c3d4e5f6", "s3cret", True, True, None, 2, False),
        [],
    ),
    "toolkit-ses-no-port": (
        _appended("email-smtp.eu-west-1.amazonaws.com", "s3cret"),
        (
            "email-smtp.eu-west-1.amazonaws.com",
            None,
            "a1b2c3d4e5f6",
            "s3cret",
            True,
            True,
            None,
            2,
            False,
        ),
        [],
    ),
    "password-with-colon-is-cut": (
        _appended("smtp-pulse.com:2525", "abc:def"),
        ("smtp-pulse.com", 2525, "a1b2c3d4e5f6", "abc", True, True, None, 2, True),
        [],
    ),
    "password-with-hash-is-cut": (
        _appended("smtp-pulse.com:2525", "abc#def"),
        ("smtp-pulse.com", 2525, "a1b2c3d4e5f6", "abc", True, True, None, 2, True),
        [],
    ),
    "appended-twice-first-credentials-win": (
        _appended("smtp-pulse.com:2525", "old") + _lines("AuthUser=new-user", "AuthPass=new"),
        ("smtp-pulse.com", 2525, "a1b2c3d4e5f6", "old", True, True, None, 2, False),
        [
            ("AuthUser is set 2 times; ssmtp uses the first", False),
            ("AuthPass is set 2 times; ssmtp uses the first", False),
        ],
    ),
    "keys-case-insensitive-spaces-allowed": (
        _lines("MAILHUB = relay.example:465", "authpass = pw", "UseTLS=yes", "AuthMethod=LOGIN"),
        ("relay.example", 465, None, "pw", True, False, "LOGIN", 1, False),
        [],
    ),
    "usetls-no-after-starttls-clears-both": (
        _lines("UseSTARTTLS=YES", "UseTLS=NO"),
        (None, None, None, None, False, False, None, 0, False),
        [],
    ),
    "later-mailhub-without-port-keeps-port": (
        _lines("mailhub=a.example:2525", "mailhub=b.example", "RemotePort=x"),
        ("b.example", 0, None, None, False, False, None, 2, False),
        [],
    ),
    "crlf-keeps-cr-in-values": (
        _appended("in-v3.mailjet.com:587", "s3cret").replace("\n", "\r\n"),
        ("in-v3.mailjet.com", 587, "a1b2c3d4e5f6\r", "s3cret\r", False, False, None, 2, False),
        [("lines end in CR LF: ssmtp keeps the CR in each value", False)],
    ),
    "ipv6-and-bad-port": (
        _lines("mailhub=[::1]:2525", "mailhub=h:smtp"),
        ("h", 0, None, None, False, False, None, 2, False),
        [
            ("line 1: ssmtp cannot read an IPv6 mailhub (it splits at ':')", True),
            ("line 2: the mailhub port is not a number", True),
        ],
    ),
    "empty-and-junk": (
        "=\nAuthPass=\nno equals sign\n\0\n",
        (None, None, None, None, False, False, None, 0, False),
        [],
    ),
}


@pytest.mark.parametrize(
    ("text", "expected", "problems"), SSMTP_CASES.values(), ids=SSMTP_CASES.keys()
)
def test_ssmtp_conf_shapes(
    text: str, expected: tuple[object, ...], problems: list[tuple[str, bool]]
) -> None:
    parsed = parse_ssmtp_conf(text)

    assert (
        parsed.mailhub_host,
        parsed.mailhub_port,
        parsed.auth_user,
        parsed.auth_pass.reveal() if parsed.auth_pass else None,
        parsed.use_tls,
        parsed.use_starttls,
        parsed.auth_method,
        parsed.mailhub_lines,
        parsed.auth_pass_truncated,
    ) == expected
    assert _problems(parsed) == problems


@pytest.mark.parametrize(
    ("text", "mode"),
    [
        (_appended("in-v3.mailjet.com:587", "s3cret"), "starttls"),
        ("UseTLS=YES\n", "implicit"),
        (DEBIAN_SSMTP, "none"),
    ],
    ids=["toolkit", "usetls", "debian-default"],
)
def test_ssmtp_tls_mode(text: str, mode: str) -> None:
    assert parse_ssmtp_conf(text).tls_mode == mode


# ---------------------------------------------------------------------------------------------
# Fuzzing: no parser raises, and a planted password never shows outside its Secret

PARSERS = [parse_settings_dat, parse_application_dat, parse_send_email, parse_ssmtp_conf]
FRAGMENTS = st.sampled_from(
    [
        "\n",
        "\r",
        "\r\n",
        " ",
        "\t",
        ":",
        "=",
        "#",
        "'",
        '"',
        "`",
        "$",
        "\\",
        ";",
        "&&",
        "|",
        "(",
        ")",
        "<<",
        ">>",
        "[",
        "]",
        "-o",
        "-s",
        "-xp",
        "-xu",
        "tls=no",
        "if",
        "then",
        "fi",
        "elif",
        "else",
        "for",
        "do",
        "done",
        "sendemail",
        "/usr/bin/sendEmail",
        "echo",
        "mailhub=",
        "AuthPass=",
        "AuthUser=",
        "UseSTARTTLS=YES",
        "EMAILPASSWORD:",
        "INDIVIDUAL_SETTING:",
        "smtppass=",
        "WEBROOT_DIRECTORY:",
        "${EMAIL_PROVIDER}",
        "2",
        "h:25",
        "[::1]:2525",
        "ssmtp.conf",
        "..",
        "/",
        "XXXXSMTP_PASSXXXX",
    ]
)
SHELLISH = st.lists(FRAGMENTS | st.text(max_size=3), max_size=40).map("".join)
ANY_TEXT = st.text() | SHELLISH
FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(text=ANY_TEXT)
def test_no_parser_raises(text: str) -> None:
    for parse in PARSERS:
        parse(text)


PLANTS = {
    "settings-dat": (parse_settings_dat, f"EMAILPASSWORD:{CANARY}"),
    "application-dat": (parse_application_dat, f"INDIVIDUAL_SETTING:smtppass='{CANARY}'"),
    "ssmtp-conf": (parse_ssmtp_conf, f"AuthPass={CANARY}"),
    "send-email": (parse_send_email, f"/usr/bin/sendemail -s h:25 -xp {shlex.quote(CANARY)}"),
}


def _public_text(parsed: object) -> str:
    """Every non-secret field, nested ones included, plus each problem's message."""
    parts = [repr(parsed)]
    for item in dataclasses.fields(parsed):  # type: ignore[arg-type]
        if item.repr:
            parts.append(str(getattr(parsed, item.name)))
    parts.extend(message for message, _fatal in _problems(parsed))
    return "\n".join(parts)


@FUZZ
@given(before=ANY_TEXT, after=ANY_TEXT, plant=st.sampled_from(sorted(PLANTS)))
def test_planted_password_never_leaves_its_secret(before: str, after: str, plant: str) -> None:
    parse, line = PLANTS[plant]
    parsed = parse(f"{before}\n{line}\n{after}")

    public = _public_text(parsed)
    assert CANARY not in public
    assert "Cn4ry" not in public  # not even the part ssmtp or gens A/B would read


@pytest.mark.parametrize("plant", sorted(PLANTS))
def test_planted_password_is_read_and_redacted(plant: str) -> None:
    parse, line = PLANTS[plant]
    parse(f"{line}\n")

    assert CANARY not in REDACTOR.scrub(f"evidence: {CANARY}")


@pytest.mark.parametrize(
    "text", ["mailhub=smtp-pulse.com:99999999999999999999\n", "RemotePort=-5\n", "RemotePort=0\n"]
)
def test_ssmtp_port_out_of_range_is_a_problem(text: str) -> None:
    parsed = parse_ssmtp_conf(text)

    assert [(p.message, p.fatal) for p in parsed.problems] == [
        ("line 1: the port is not from 1 to 65535", True)
    ]
