"""Joomla's configuration.php: the static PHP-literal reader, checked against real PHP.

Each case says what PHP itself makes of the file (the SMTP properties of ``new JConfig``, or that
PHP cannot load it). Three readers are held to that:

- PHP itself, loading the file without any filter (the oracle, ``_ORACLE`` below): confirms the
  expectation written in the table;
- the static reader (``parse_joomla_config``): the same values and no fatal problem where PHP
  loads the file, a fatal problem where PHP cannot, except for the accepted differences below;
- smtpcheck's PHP reader (``remote/joomla_config.php``, run as facts.sh runs it): PHP's values
  or PHP's error, unless its token filter refuses to evaluate the file at all.

Accepted differences (the static reader is stricter than PHP, never more lenient; the table marks
each case with its reason):

- constant expressions (``'smtp' . '.x'``, ``-'5'``), heredoc/nowdoc, ``self::X``: PHP evaluates
  them; a literal reader cannot, and says so with a fatal problem;
- a declaration spread over lines or two on one line: the reader works line by line, as Joomla
  and the toolkit write the file (one ``public $name = value;`` per line);
- output before ``<?php``: PHP loads the class but prints the text first (which breaks Joomla's
  headers); the static reader calls the file malformed.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from smtpcheck.credentials.joomla import (
    SMTP_PROPERTIES,
    JoomlaConfig,
    parse_joomla_config,
    parse_php_output,
)
from smtpcheck.lab import seeds
from smtpcheck.secrets import Secret
from tests.unit.builders import PHP, creds, needs_php, php_json

REJECTED = None  # PHP cannot load the file
ARRAY = "<array>"  # arrays are compared by kind: the static reader does not keep their items

# Loads the file the way Joomla does (require, new JConfig) with nothing filtered; any output
# the file makes is discarded. JSON_PRESERVE_ZERO_FRACTION keeps 465.0 apart from 465.
_ORACLE = b"""<?php
ob_start();
try {
    require $argv[1];
    $config = new JConfig();
    $values = [];
    foreach (json_decode($argv[2]) as $name) {
        if (property_exists($config, $name)) $values[$name] = $config->$name;
    }
    $out = ['values' => $values];
} catch (Throwable $e) {
    $out = ['error' => get_class($e) . ': ' . $e->getMessage()];
}
ob_end_clean();
echo json_encode($out, JSON_PRESERVE_ZERO_FRACTION);
"""


def php_itself(path: Path) -> dict[str, Any] | None:
    """PHP's own reading of the SMTP properties, or None when PHP cannot load the file."""
    assert PHP is not None
    result = subprocess.run(
        [PHP, "-n", "-d", "error_reporting=0", "--", str(path), json.dumps(SMTP_PROPERTIES)],
        input=_ORACLE, capture_output=True, check=False, timeout=30,
    )  # fmt: skip
    if result.returncode != 0 or not result.stdout:  # a compile error PHP cannot catch
        return None
    data = json.loads(result.stdout)
    return None if "error" in data else _arrays(data["values"])


def _written(directory: Path, text: str) -> Path:
    path = directory / "configuration.php"
    path.write_text(text)
    return path


def _arrays(values: dict[str, Any]) -> dict[str, Any]:
    return {k: ARRAY if isinstance(v, list | dict) else v for k, v in values.items()}


def static_values(config: JoomlaConfig) -> dict[str, Any]:
    """The static reader's SMTP properties in the shape of PHP's (smtppass revealed)."""
    values: dict[str, Any] = {}
    for name, literal in config.properties.items():
        values[name] = ARRAY if literal.kind == "array" else literal.value
    if "smtppass" in values:
        values["smtppass"] = config.smtppass.reveal() if config.smtppass is not None else None
    return values


def _class(*lines: str) -> str:
    return "<?php\nclass JConfig {\n" + "".join(f"\tpublic {line}\n" for line in lines) + "}\n"


@dataclass(frozen=True)
class Case:
    text: str
    php: dict[str, Any] | None  # the SMTP properties PHP reads, or REJECTED
    stricter: str = ""  # an accepted difference: why the static reader rejects what PHP reads


# A password that needs escaping in both quote styles and holds the toolkit's ':' hazard.
HARD = creds(password="q'uo\"te\\d $ig: n", username="o'brien")
SEEDED = {
    "gen-a-sendpulse": (seeds.joomla_gen_a(creds(provider=1)), "smtp-pulse.com", "465"),
    "gen-a-mailjet-is-gmail": (seeds.joomla_gen_a(HARD), "smtp.gmail.com", "465"),
    "gen-a-ses": (seeds.joomla_gen_a(creds(provider=3)), "email-smtp.eu-west-1.amazonaws.com",
                  "465"),
    "gen-b-sendpulse": (seeds.joomla_gen_b(creds(provider=1)), "smtp-pulse.com", "2525"),
    "gen-b-mailjet": (seeds.joomla_gen_b(HARD), "in-v3.mailjet.com", "587"),
    "gen-b-ses": (seeds.joomla_gen_b(creds(provider=3)), "email-smtp.eu-west-1.amazonaws.com",
                  "587"),
    "gen-c-dev-sendpulse": (seeds.joomla_gen_c_dev(creds(provider=1)), "smtp-pulse.com", "2525"),
    "gen-c-dev-mailjet": (seeds.joomla_gen_c_dev(HARD), "in.mailjet.com", "2525"),
    "gen-c-dev-ses": (seeds.joomla_gen_c_dev(creds(provider=3)),
                      "email-smtp.eu-west-1.amazonaws.com", "587"),
    "fixed-ssl-465": (seeds.joomla_fixed(HARD, host="in-v3.mailjet.com", port=465,
                                         secure="ssl"), "in-v3.mailjet.com", 465),
}  # fmt: skip

CASES: dict[str, Case] = {
    # --- every toolkit generation (values checked in detail in test_generations) ---------------
    **{
        name: Case(content.decode(), {"smtphost": host, "smtpport": port})
        for name, (content, host, port) in SEEDED.items()
    },
    "gen-c-main": Case(seeds.joomla_gen_c_main(creds(provider=1)).decode(), REJECTED),
    # --- strings ---------------------------------------------------------------------------------
    "single-quote-escapes": Case(
        _class(r"$smtpuser = 'a\'b\\c\d\n$e';"), {"smtpuser": "a'b\\c\\d\\n$e"}
    ),
    "double-quote-escapes": Case(
        _class(r'$smtpuser = "a\"b\\c\$d\x41\101\n\t\e\q";'),
        {"smtpuser": 'a"b\\c$dAA\n\t\x1b\\q'},
    ),
    "double-quote-unicode-escape": Case(_class(r'$smtpuser = "\u{41}\u{1F600}";'),
                                        {"smtpuser": "A\U0001f600"}),
    "double-quote-octal-wraps": Case(_class(r'$smtpuser = "\400\7";'), {"smtpuser": "\x00\x07"}),
    "double-quote-bad-escapes-kept": Case(_class(r'$smtpuser = "\xg\u41";'),
                                          {"smtpuser": "\\xg\\u41"}),
    "double-quote-empty-unicode-escape": Case(_class(r'$smtpuser = "\u{}";'), REJECTED),
    "double-quote-unicode-escape-too-big": Case(_class(r'$smtpuser = "\u{110000}";'), REJECTED),
    "double-quote-lone-dollars": Case(_class('$smtpuser = "a$ b$ 1$1";'),
                                      {"smtpuser": "a$ b$ 1$1"}),
    "double-quote-interpolation": Case(_class('$smtpuser = "a$b";'), REJECTED),
    "double-quote-brace-interpolation": Case(_class('$smtpuser = "a{$b}";'), REJECTED),
    "string-holding-comment-marks": Case(
        _class("$smtphost = 'a/*b'; // c", "$smtpuser = \"#x // y\";"),
        {"smtphost": "a/*b", "smtpuser": "#x // y"},
    ),
    "unterminated-string": Case(_class("$smtpuser = 'abc;", "$smtphost = 'h';"), REJECTED),
    "heredoc": Case(_class("$smtpuser = <<<EOT\nabc\nEOT;"), {"smtpuser": "abc"},
                    stricter="heredoc is not a single-line literal"),
    # --- constants -------------------------------------------------------------------------------
    "true-false-null": Case(
        _class("$smtpauth = true;", "$smtpuser = FALSE;", "$smtphost = null;",
               "$mailer = NULL;", "$fromname = True;"),
        {"smtpauth": True, "smtpuser": False, "smtphost": None, "mailer": None, "fromname": True},
    ),
    "bare-word": Case(_class("$smtphost = localhost;"), REJECTED),
    "class-constant": Case(
        "<?php\nclass JConfig {\n\tconst HOST = 'h';\n\tpublic $smtphost = self::HOST;\n}\n",
        {"smtphost": "h"}, stricter="a class constant is an expression",
    ),
    # --- numbers ---------------------------------------------------------------------------------
    "integers": Case(_class("$smtpport = 465;", "$smtpauth = -1;"),
                     {"smtpport": 465, "smtpauth": -1}),
    "hex": Case(_class("$smtpport = 0x1D1;", "$smtpauth = 0X1;"),
                {"smtpport": 465, "smtpauth": 1}),
    "leading-zero-is-octal": Case(_class("$smtpport = 0465;"), {"smtpport": 309}),
    "explicit-octal": Case(_class("$smtpport = 0o777;"), {"smtpport": 511}),
    "invalid-octal": Case(_class("$smtpport = 0589;"), REJECTED),
    "binary": Case(_class("$smtpport = 0b111010001;"), {"smtpport": 465}),
    "digit-separators": Case(_class("$smtpport = 2_525;"), {"smtpport": 2525}),
    "unary-plus": Case(_class("$smtpport = +465;"), {"smtpport": 465}),
    "too-big-for-int": Case(_class("$smtpport = 99999999999999999999;"), {"smtpport": 1e20}),
    "floats": Case(
        _class("$smtpport = 465.0;", "$smtpauth = 1e3;", "$smtp_port = .5;", "$mailer = 4.;"),
        {"smtpport": 465.0, "smtpauth": 1000.0, "smtp_port": 0.5, "mailer": 4.0},
    ),
    "negated-string": Case(_class("$smtpport = -'5';"), {"smtpport": -5},
                           stricter="unary minus on a string is an expression"),
    "concatenation": Case(_class("$smtphost = 'smtp' . '.x';"), {"smtphost": "smtp.x"},
                          stricter="concatenation is an expression"),
    # --- arrays ----------------------------------------------------------------------------------
    "array-old-syntax": Case(_class("$smtpuser = array('a;b', 'c)d', \"e]\");"),
                             {"smtpuser": ARRAY}),
    "array-short-syntax": Case(_class("$smtpuser = ['a]b', \"c;d\", 'e)' => [1, 2]];"),
                               {"smtpuser": ARRAY}),
    # --- comments, layout ------------------------------------------------------------------------
    "comments-after-semicolon": Case(
        _class("$smtpuser = 'u'; // trailing", "$smtphost = 'h'; # hash", "$smtpport = 25; /* */"),
        {"smtpuser": "u", "smtphost": "h", "smtpport": 25},
    ),
    "block-comment-hides-old-value": Case(
        "<?php\nclass JConfig {\n/*\n\tpublic $smtphost = 'old.example';\n*/\n"
        "\tpublic $smtphost = 'new.example';\n}\n",
        {"smtphost": "new.example"},
    ),
    "block-comment-after-value": Case(
        "<?php\nclass JConfig {\n\tpublic $smtphost = 'h'; /* was:\n"
        "\tpublic $smtpuser = 'x';\n*/\n}\n",
        {"smtphost": "h"},
    ),
    "quote-inside-comment": Case(
        _class("$smtpuser = 'u'; // don't", "$smtphost = 'h';"), {"smtpuser": "u", "smtphost": "h"}
    ),
    "var-and-typed": Case(
        "<?php\nclass JConfig {\n\tvar $smtpuser = 'u';\n\tpublic string $smtphost = 'h';\n}\n",
        {"smtpuser": "u", "smtphost": "h"},
    ),
    "multi-line-declaration": Case(_class("$smtpuser =\n\t\t'u';"), {"smtpuser": "u"},
                                   stricter="a declaration over two lines"),
    "two-on-one-line": Case(_class("$smtpuser = 'u'; public $smtphost = 'h';"),
                            {"smtpuser": "u", "smtphost": "h"},
                            stricter="two declarations on one line"),
    # --- file structure --------------------------------------------------------------------------
    "duplicate-property": Case(_class("$smtpuser = 'a';", "$smtpuser = 'b';"), REJECTED),
    "duplicate-other-property": Case(_class("$db = 'a';", "$db = 'b';"), REJECTED),
    "no-class": Case("<?php\n$smtphost = 'h';\n", REJECTED),
    "lower-case-class-name": Case("<?php\nclass jconfig {\n\tpublic $smtphost = 'h';\n}\n",
                                  {"smtphost": "h"}),
    "no-php-tag": Case("class JConfig {\n\tpublic $smtphost = 'h';\n}\n", REJECTED),
    "blank-line-before-php-tag": Case("\n" + _class("$smtphost = 'h';"), {"smtphost": "h"},
                                      stricter="output before <?php"),
    "empty-file": Case("", REJECTED),
}  # fmt: skip


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_static_reader(case: Case) -> None:
    config = parse_joomla_config(case.text)

    fatal = [p.message for p in config.problems if p.fatal]
    if case.php is REJECTED or case.stricter:
        assert fatal, "PHP cannot load this file (or the reader is stricter): a fatal problem"
    else:
        assert fatal == []
        assert {k: v for k, v in static_values(config).items() if k in case.php} == case.php
        assert type(static_values(config).get("smtpport")) is type(case.php.get("smtpport"))


@needs_php
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_php_itself_agrees_with_the_table(tmp_path: Path, case: Case) -> None:
    path = _written(tmp_path, case.text)

    php = php_itself(path)

    if case.php is REJECTED:
        assert php is None
    else:
        assert php is not None
        assert {k: v for k, v in php.items() if k in case.php} == case.php
        assert type(php.get("smtpport")) is type(case.php.get("smtpport"))


@needs_php
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_static_reader_against_php(tmp_path: Path, case: Case) -> None:
    """The differential check itself: where PHP loads the file, the static reader has PHP's
    values for every SMTP property (smtppass included); where PHP cannot, a fatal problem."""
    path = _written(tmp_path, case.text)
    php = php_itself(path)
    config = parse_joomla_config(case.text)
    fatal = [p for p in config.problems if p.fatal]

    if php is None or case.stricter:
        assert fatal
    else:
        assert fatal == []
        assert static_values(config) == php


# Files smtpcheck's PHP reader will not evaluate (its token filter allows property declarations
# only); the static reader's verdict stands for them.
# A file PHP cannot parse (an unterminated string, gen C main's split password) is a load error
# (ParseError), not a refusal: the reader parses with TOKEN_PARSE before its token check.
REFUSED_BY_PHP_READER = {
    "double-quote-interpolation", "double-quote-brace-interpolation",
    "heredoc", "class-constant", "no-class", "no-php-tag", "blank-line-before-php-tag",
    "empty-file",
}  # fmt: skip


@needs_php
@pytest.mark.parametrize("name", CASES.keys())
def test_smtpcheck_php_reader_gives_php_values_or_error(tmp_path: Path, name: str) -> None:
    path = _written(tmp_path, CASES[name].text)

    reading = php_json(path)
    php = php_itself(path)

    if reading is None:  # a compile error PHP cannot catch (duplicate property): no JSON at all
        assert php is None
        return
    result = parse_php_output(json.dumps(reading).encode())
    assert result is not None
    assert result.refused is (name in REFUSED_BY_PHP_READER)
    if result.refused:
        return
    if php is None:
        assert result.error is not None and result.error.startswith(("Error: ", "ParseError: "))
    else:
        assert result.error is None
        values = _arrays(reading["values"])
        assert values.keys() == php.keys()
        assert all(values[k] == php[k] for k in php)  # json_encode writes 465.0 as 465


@pytest.mark.parametrize("name", SEEDED.keys())
def test_generations(name: str) -> None:
    """Every generation's file: the build-time values come back exactly, password included."""
    content, host, port = SEEDED[name]
    config = parse_joomla_config(content.decode())

    values = static_values(config)
    c = HARD if values["smtpuser"] == HARD.username else creds()
    assert config.problems == ()
    assert config.has_class
    assert (values["smtphost"], values["smtpport"], values["mailer"]) == (host, port, "smtp")
    assert (values["smtpuser"], values["smtppass"]) == (c.username, c.password)
    assert values["mailfrom"] == c.from_address
    assert config.quotes == ({'"'} if "c-dev" in name else {"'"})


def test_gen_c_main_virgin_names_the_unquoted_host_and_keeps_joomlas_port() -> None:
    """The toolkit's sed rewrites only existing lines: smtphost unquoted, smtpport stays 25,
    no smtp_port line, mailfrom the *to* address (reference: "Corrections")."""
    c = creds(provider=2, password="no-colon-here")
    config = parse_joomla_config(seeds.joomla_gen_c_main(c).decode())

    host = config.properties["smtphost"]
    assert host.kind == "expression" and host.value == "in-v3.mailjet.com"
    assert "smtp_port" not in config.properties
    assert config.properties["smtpport"].value == 25
    assert config.properties["mailfrom"].value == c.to_address
    [problem] = config.problems
    assert problem.fatal and problem.unloadable
    assert problem.message.startswith(
        "line 30: $smtphost is not a PHP literal ('in-v3.mailjet.com')"
    )
    assert "Undefined constant" in problem.message


def test_gen_c_main_password_with_colon_splits_the_literal() -> None:
    config = parse_joomla_config(seeds.joomla_gen_c_main(creds(password="abc:def")).decode())

    assert config.smtppass is None
    assert any(p.unloadable and "$smtppass" in p.message for p in config.problems)
    assert all("abc" not in p.message for p in config.problems)


def test_smtp_port_misnamed_keeps_both_ports() -> None:
    config = parse_joomla_config(seeds.joomla_smtp_port_misnamed(creds(provider=2)).decode())

    assert config.properties["smtp_port"].value == 587
    assert config.properties["smtpport"].value == 25
    assert config.problems == ()


@pytest.mark.parametrize(
    "text",
    [
        _class("$smtppass = 'Zx9-not-a-literal;"),
        _class('$smtppass = "Zx9-$interpolated";'),
        _class("$smtppass = Zx9-bare-word;"),
        _class("$smtppass = 'Zx9-a' 'Zx9-b';"),
        _class("$smtppass = 'Zx9-one';", "$smtppass = 'Zx9-two';"),
    ],
)
def test_problems_never_quote_the_password(text: str) -> None:
    config = parse_joomla_config(text)

    assert config.problems
    assert all("Zx9" not in problem.message for problem in config.problems)
    assert "Zx9" not in repr(config)
    assert config.properties["smtppass"].value is None


def test_smtppass_is_a_secret() -> None:
    config = parse_joomla_config(_class("$smtppass = 'Zx9-secret';", "$smtpuser = 'u';"))

    assert isinstance(config.smtppass, Secret)
    assert config.smtppass.reveal() == "Zx9-secret"
    assert "Zx9" not in repr(config) and "Zx9" not in repr(config.properties)


def test_problem_names_the_line() -> None:
    config = parse_joomla_config(_class("$mailer = 'smtp';", "$smtphost = smtp.example;"))

    assert [p.message.split(":")[0] for p in config.problems] == ["line 4"]


# --- parse_php_output --------------------------------------------------------------------------


def test_php_output_values_and_secret() -> None:
    result = parse_php_output(
        b'{"php":"8.2.1","values":{"smtpuser":"u","smtppass":"Zx9-json","smtpport":465,'
        b'"smtpauth":true,"replyto":null,"mailfrom":["a","b"]}}'
    )

    assert result is not None
    assert result.php_version == "8.2.1" and result.error is None and not result.refused
    assert result.smtppass is not None and result.smtppass.reveal() == "Zx9-json"
    assert dict(result.values) == {
        "smtpuser": "u", "smtpport": 465, "smtpauth": True, "replyto": None,
        "mailfrom": "['a', 'b']",
    }  # fmt: skip
    assert "Zx9" not in repr(result)


@pytest.mark.parametrize(
    ("output", "error", "refused"),
    [
        (b'{"php":"8.2.1","error":"Error: Undefined constant \\"smtp\\""}',
         'Error: Undefined constant "smtp"', False),
        (b'{"php":"8.2.1","error":"not executed: the file holds T_EVAL at line 3, beyond '
         b'property declarations"}', "not executed: the file holds T_EVAL", True),
        (b'{"php":"8.2.1","error":"no class JConfig"}', "no class JConfig", True),
        (b'{"php":"8.2.1","error":"unreadable"}', "unreadable", True),
        (b'{"php":"8.2.1","error":"tokenizer extension missing"}', "tokenizer", True),
    ],
)  # fmt: skip
def test_php_output_errors(output: bytes, error: str, refused: bool) -> None:
    result = parse_php_output(output)

    assert result is not None
    assert result.error is not None and result.error.startswith(error)
    assert result.refused is refused
    assert result.values == {} and result.smtppass is None


@pytest.mark.parametrize(
    "output",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"PHP Fatal error: Cannot redeclare", id="php-error-text"),
        pytest.param(b'["a"]', id="list"),
        pytest.param(b"null", id="null"),
        pytest.param(b"{", id="cut"),
        pytest.param(b'"text"', id="string"),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="nested-too-deep"),
        pytest.param(b'{"values":' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="deep-values"),
        pytest.param(b'{"php":' + b"1" * 5000 + b"}", id="huge-number"),
    ],
)
def test_php_output_that_is_not_the_reader_json(output: bytes) -> None:
    assert parse_php_output(output) is None


def test_php_output_empty_password_is_no_secret() -> None:
    result = parse_php_output(b'{"php":"8","values":{"smtppass":""}}')

    assert result is not None and result.smtppass is None


def test_php_output_with_lone_surrogates_is_text_not_a_crash() -> None:
    """A host controls the php it runs: its JSON may carry \\ud800, which no UTF-8 writer,
    terminal or redactor (it encodes the secret) accepts."""
    result = parse_php_output(
        b'{"php":"8\\udfff","values":{"smtpuser":"u\\ud800","smtppass":"Zx9\\udc00pw"},'
        b'"error":null}'
    )

    assert result is not None
    assert result.values["smtpuser"] == "u\ufffd"
    assert result.php_version == "8\ufffd"
    assert result.smtppass is not None and result.smtppass.reveal() == "Zx9\ufffdpw"
    json.dumps(dict(result.values), ensure_ascii=False).encode("utf-8")  # writable
    error = parse_php_output(b'{"php":"8","error":"Error: \\ud800"}')
    assert error is not None and error.error == "Error: \ufffd"


# Statements outside the class body: every token of them is one the property filter allows
# (a name, parentheses, a string literal, a semicolon), but PHP would run them, as root when the
# file is read through sudo. A file the web server's user can write must never get that far.
_BODY = _class("$smtphost = 'h';").removeprefix("<?php\n")
OUTSIDE_THE_CLASS = {
    "call-before-class": "<?php\nsystem('touch {marker}');\n" + _BODY,
    "call-after-class": "<?php\n" + _BODY + "file_put_contents('{marker}', 'x');\n",
    "call-in-a-block": "<?php\n{ touch('{marker}'); }\n" + _BODY,
    "assignment-from-call": "<?php\n$x = touch('{marker}');\n" + _BODY,
}


@needs_php
@pytest.mark.parametrize("name", OUTSIDE_THE_CLASS.keys())
def test_smtpcheck_php_reader_runs_nothing_outside_the_class(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "ran"
    path = _written(tmp_path, OUTSIDE_THE_CLASS[name].replace("{marker}", str(marker)))

    reading = php_json(path)

    assert not marker.exists(), "the file's code ran"
    result = parse_php_output(json.dumps(reading).encode())
    assert result is not None and result.refused


def test_line_comments_end_where_php_ends_them() -> None:
    """At a bare CR (old Mac line ends) and at "?>"; "#[" opens an attribute, not a comment."""
    text = (
        "<?php\rclass JConfig { // note\r\tpublic $smtphost = 'h';\r\tpublic $smtpuser = 'u';\r}\r"
    )
    config = parse_joomla_config(text)

    assert {k: v.value for k, v in config.properties.items()} == {"smtphost": "h", "smtpuser": "u"}
