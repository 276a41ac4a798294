"""Build-time settings: the ADT template parser, precedence of the four sources, validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpcheck.config import AuditOptions, load_audit_config
from smtpcheck.errors import ConfigError
from smtpcheck.settings import (
    ACCEPTED_NAMES,
    FROM_ADDRESS,
    PASSWORD,
    PROVIDER,
    SPELLINGS,
    TO_ADDRESS,
    USERNAME,
    VARIABLES,
    Expected,
    Setting,
    parse_adt_template,
    settings_from_mapping,
    validate_settings,
)
from tests.unit.builders import CATALOGUE, one_line, settings_of

# An excerpt in the shape of the toolkit's templates (templatedconfigurations/templates/*/*.tmpl):
# decorative rulers, "#MANDATORY" trailing comments, unrelated variables, and the deployer's edit
# appended below the blank default (the later assignment wins, as when the shell sources it).
TEMPLATE = r"""#!/bin/sh
##################################################################################################
####################### EMAIL SETTINGS ###########################################################
##################################################################################################
export WEBSITE_URL="www.shop.example" #MANDATORY
export SYSTEM_EMAIL_PROVIDER="" #MANDATORY - 1: SendPulse 2: Mailjet 3: Amazon SES
export SYSTEM_TOEMAIL_ADDRESS="" #MANDATORY
export SYSTEM_FROMEMAIL_ADDRESS="" #MANDATORY
export SYSTEM_EMAIL_USERNAME="" #MANDATORY
export SYSTEM_EMAIL_PASSWORD="" #MANDATORY
export EMAIL_NOTIFICATION_LEVEL="ERROR"
# The SYSTEM_EMAIL_* values below were filled in by the deployer
   export SYSTEM_EMAIL_PROVIDER="2"   #MANDATORY
export SYSTEM_TOEMAIL_ADDRESS='ops@shop.example'
SYSTEM_FROMEMAIL_ADDRESS=notifications@shop.example
export SYSTEM_EMAIL_USERNAME="smtp \"quoted\" user" # escaped quotes
export SYSTEM_EMAIL_PASSWORD="pa\$\$word\\with#hash" #MANDATORY
"""


def test_template_excerpt_reads_the_last_assignment_of_each_variable() -> None:
    found = parse_adt_template(TEMPLATE, "shop.tmpl")

    assert {name: setting.value for name, setting in found.items()} == {
        PROVIDER: "2",
        TO_ADDRESS: "ops@shop.example",
        FROM_ADDRESS: "notifications@shop.example",
        USERNAME: 'smtp "quoted" user',
        PASSWORD: "pa$$word\\with#hash",
    }
    assert {setting.source for setting in found.values()} == {"adt-template shop.tmpl"}


@pytest.mark.parametrize(
    ("line", "value"),
    [
        pytest.param('export SYSTEM_EMAIL_USERNAME="plain"', "plain", id="double-quoted"),
        pytest.param("export SYSTEM_EMAIL_USERNAME='a$b\\c'", "a$b\\c", id="single-quoted-literal"),
        pytest.param("SYSTEM_EMAIL_USERNAME=bare", "bare", id="unquoted-no-export"),
        pytest.param('export SYSTEM_EMAIL_USERNAME=""', "", id="empty"),
        pytest.param('export SYSTEM_EMAIL_USERNAME="a\\\\b"', "a\\b", id="escaped-backslash"),
        pytest.param('export SYSTEM_EMAIL_USERNAME="a\\`b"', "a`b", id="escaped-backtick"),
        pytest.param('export SYSTEM_EMAIL_USERNAME="a\\nb"', "a\\nb", id="backslash-n-kept"),
        pytest.param("export SYSTEM_EMAIL_USERNAME='x' #note", "x", id="comment-after-space"),
        pytest.param("\texport SYSTEM_EMAIL_USERNAME=x", "x", id="indented"),
        # In sh a '#' starts a comment only at the start of a word: it is part of this value.
        pytest.param("export SYSTEM_EMAIL_USERNAME=ab#cd", "ab#cd", id="hash-inside-word"),
    ],
)
def test_assignment_forms(line: str, value: str) -> None:
    assert parse_adt_template(line + "\n", "t")[USERNAME].value == value


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("# export SYSTEM_EMAIL_PASSWORD=$(cat /secret)\n", id="commented-out"),
        pytest.param('export SYSTEM_EMAIL_PASSWORD_OLD="$X"\n', id="other-variable-same-prefix"),
        pytest.param('export OTHER="$HOME"\n', id="expansion-in-unrelated-variable"),
        pytest.param("echo starting\n\n", id="unrelated-command"),
    ],
)
def test_lines_that_are_not_ours_are_ignored(text: str) -> None:
    assert parse_adt_template(text, "t") == {}


@pytest.mark.parametrize(
    ("text", "line_number"),
    [
        pytest.param('export SYSTEM_EMAIL_PASSWORD="$SECRET"', 1, id="dollar-in-double-quotes"),
        pytest.param('export SYSTEM_EMAIL_PASSWORD="${SECRET}"', 1, id="braced-expansion"),
        pytest.param('export SYSTEM_EMAIL_PASSWORD="x`id`"', 1, id="backtick"),
        pytest.param(
            'export SYSTEM_EMAIL_PASSWORD="a\\\\$b"', 1, id="escaped-backslash-then-dollar"
        ),
        pytest.param("\n\nexport SYSTEM_EMAIL_PASSWORD=$SECRET", 3, id="unquoted-expansion"),
        pytest.param("export SYSTEM_EMAIL_USERNAME=a b", 1, id="unquoted-space"),
        pytest.param('export SYSTEM_EMAIL_PROVIDER = "2"', 1, id="spaces-around-equals"),
        pytest.param('#\nexport SYSTEM_EMAIL_USERNAME="x"; echo', 2, id="second-command"),
        pytest.param("export SYSTEM_EMAIL_USERNAME='it'\\''s'", 1, id="quote-concatenation"),
        pytest.param('export SYSTEM_EMAIL_USERNAME="unterminated', 1, id="unterminated"),
        pytest.param('export SYSTEM_EMAIL_USERNAME="x"#glued', 1, id="comment-glued-to-value"),
    ],
)
def test_unreadable_assignment_is_a_config_error_with_file_and_line(
    text: str, line_number: int
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_adt_template(text, "env/build_environment")

    assert one_line(caught.value).startswith(f"env/build_environment:{line_number}: ")


def test_a_malformed_line_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"^t:1: cannot read SYSTEM_EMAIL_PROVIDER"):
        parse_adt_template("export SYSTEM_EMAIL_PROVIDER = 2", "t")


def test_password_held_in_a_template_is_never_in_the_error_message() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_adt_template('export SYSTEM_EMAIL_PASSWORD="hunter2$x"', "t")

    assert "hunter2" not in str(caught.value)


# --- precedence ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("layers", "value", "source"),
    [
        pytest.param({"template"}, "1", "adt-template {template}", id="template-only"),
        pytest.param({"template", "config"}, "2", "config {config}", id="config-over-template"),
        pytest.param(
            {"template", "config", "environment"}, "3", "environment", id="environment-over-config"
        ),
        pytest.param(
            {"template", "config", "environment", "cli"},
            "sendpulse",
            "command line",
            id="command-line-over-all",
        ),
        pytest.param({"config", "cli"}, "sendpulse", "command line", id="cli-over-config"),
        pytest.param({"environment"}, "3", "environment", id="environment-only"),
    ],
)
def test_precedence_template_config_environment_command_line(
    tmp_path: Path, layers: set[str], value: str, source: str
) -> None:
    template = tmp_path / "build.tmpl"
    template.write_text('export SYSTEM_EMAIL_PROVIDER="1"\nexport SYSTEM_EMAIL_USERNAME="tpl"\n')
    config = tmp_path / "smtpcheck.toml"
    config.write_text("[expected]\nSYSTEM_EMAIL_PROVIDER = 2\n")
    options = AuditOptions(
        adt_template=template if "template" in layers else None,
        config=config if "config" in layers else None,
        expected={PROVIDER: "sendpulse"} if "cli" in layers else {},
        layers="host",
    )
    environ = {PROVIDER: "3", "UNRELATED": "x"} if "environment" in layers else {}

    expected = load_audit_config(options, environ).expected

    assert expected.provider == CATALOGUE.resolve(value)
    assert expected.sources[PROVIDER] == source.format(template=template, config=config)
    if "template" in layers:  # a variable given only in the template keeps its source
        assert expected.username == "tpl"
        assert expected.sources[USERNAME] == f"adt-template {template}"


def test_an_empty_later_value_overrides_an_earlier_one(tmp_path: Path) -> None:
    """The toolkit's empty SYSTEM_EMAIL_PROVIDER means "no system mail": it counts as given."""
    template = tmp_path / "t"
    template.write_text('export SYSTEM_EMAIL_PROVIDER="2"\n')

    expected = load_audit_config(AuditOptions(adt_template=template), {PROVIDER: ""}).expected

    assert expected.provider is None
    assert expected.sources[PROVIDER] == "environment"


def test_missing_template_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^cannot read ADT template .*nope"):
        load_audit_config(AuditOptions(adt_template=tmp_path / "nope"), {})


# --- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("1", "sendpulse"),
        ("2", "mailjet"),
        ("3", "ses"),
        (" 2 ", "mailjet"),
        ("sendpulse", "sendpulse"),
        ("Mailjet", "mailjet"),
        ("SES", "ses"),
    ],
)
def test_provider_by_code_or_name(given: str, key: str) -> None:
    expected = validate_settings(settings_of({PROVIDER: given}), CATALOGUE)

    assert expected.provider is not None and expected.provider.key == key


@pytest.mark.parametrize(
    ("name", "value", "shown"),
    [
        pytest.param(PROVIDER, "4", "'4'", id="provider-unknown-code"),
        pytest.param(PROVIDER, "0", "'0'", id="provider-zero"),
        pytest.param(PROVIDER, "sendgrid", "'sendgrid'", id="provider-unknown-name"),
        pytest.param(PROVIDER, "²", "'²'", id="provider-superscript-digit"),
        pytest.param(PROVIDER, "2\n3", "'2\\n3'", id="provider-newline"),
        pytest.param(FROM_ADDRESS, "notifications", "'notifications'", id="from-no-at"),
        pytest.param(FROM_ADDRESS, "a@b@shop.example", "'a@b@shop.example'", id="from-two-at"),
        pytest.param(TO_ADDRESS, "ops@localhost", "'ops@localhost'", id="to-no-dot"),
        pytest.param(TO_ADDRESS, "o ps@shop.example", "'o ps@shop.example'", id="to-space"),
        pytest.param(
            FROM_ADDRESS, "a@shop.example\nb@shop.example", "\\n", id="from-newline-escaped"
        ),
    ],
)
def test_invalid_value_is_one_line_config_error_naming_variable_and_source(
    name: str, value: str, shown: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        validate_settings(settings_of({name: value}, "config smtpcheck.toml"), CATALOGUE)

    message = one_line(caught.value)
    assert message.startswith(f"{name} (from config smtpcheck.toml): ")
    assert shown in message


def test_invalid_provider_lists_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"use 1 or sendpulse, 2 or mailjet, 3 or ses$"):
        validate_settings(settings_of({PROVIDER: "9"}), CATALOGUE)


def test_values_are_stripped_but_the_password_is_kept_verbatim() -> None:
    expected = validate_settings(
        settings_of({FROM_ADDRESS: " a@shop.example ", PASSWORD: " secret with spaces "}),
        CATALOGUE,
    )

    assert expected.from_address == "a@shop.example"
    assert expected.from_domain == "shop.example"
    assert expected.password is not None
    assert expected.password.reveal() == " secret with spaces "


def test_password_is_a_secret_and_never_in_the_repr_of_expected() -> None:
    expected = validate_settings(
        settings_of({USERNAME: "u", PASSWORD: "zebra-cobalt-91"}), CATALOGUE
    )

    assert expected.password is not None
    assert expected.password.reveal() == "zebra-cobalt-91"
    for text in (repr(expected), str(expected), f"{expected}", f"{expected.password}"):
        assert "zebra-cobalt-91" not in text
    assert "password" not in repr(expected)  # the field itself is repr=False


def test_nothing_given_is_empty() -> None:
    expected = validate_settings({}, CATALOGUE)

    assert expected == Expected()
    assert expected.is_empty
    assert expected.from_domain is None


def test_from_domain_is_lower_case() -> None:
    expected = validate_settings(settings_of({FROM_ADDRESS: "Mail@Shop.EXAMPLE"}), CATALOGUE)

    assert expected.from_domain == "shop.example"


@pytest.mark.parametrize(
    ("table", "error"),
    [
        pytest.param({PROVIDER: True}, "SYSTEM_EMAIL_PROVIDER must be a string", id="bool"),
        pytest.param({USERNAME: 5}, "SYSTEM_EMAIL_USERNAME must be a string", id="int-username"),
        pytest.param({PASSWORD: ["x"]}, "SYSTEM_EMAIL_PASSWORD must be a string", id="list"),
    ],
)
def test_config_table_types(table: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError, match=f"^config c.toml: {error}$"):
        settings_from_mapping(table, "config c.toml")


def test_config_table_accepts_provider_as_integer() -> None:
    found = settings_from_mapping({PROVIDER: 3, "OTHER": 1}, "config c.toml")

    assert {name: s.value for name, s in found.items()} == {PROVIDER: "3"}


# --- gen D spellings (SYSTEM_FROM_EMAIL_ADDRESS, SYSTEM_TO_EMAIL_ADDRESS) -----------------------

FROM_D = "SYSTEM_FROM_EMAIL_ADDRESS"
TO_D = "SYSTEM_TO_EMAIL_ADDRESS"


def test_spellings_are_declared_once_in_generation_order() -> None:
    assert SPELLINGS[FROM_ADDRESS] == (FROM_ADDRESS, FROM_D)
    assert SPELLINGS[TO_ADDRESS] == (TO_ADDRESS, TO_D)
    assert set(SPELLINGS) == set(VARIABLES)
    assert all(SPELLINGS[name][0] == name for name in VARIABLES)
    assert set(ACCEPTED_NAMES) == {*VARIABLES, FROM_D, TO_D}


def test_gen_d_template_alone_is_read_under_the_canonical_keys() -> None:
    text = (
        'export SYSTEM_FROM_EMAIL_ADDRESS="" #MANDATORY\n'
        'export SYSTEM_TO_EMAIL_ADDRESS="" #MANDATORY\n'
        "export SYSTEM_FROM_EMAIL_ADDRESS=notifications@shop.example\n"
        "export SYSTEM_TO_EMAIL_ADDRESS='ops@shop.example'\n"
        'export SYSTEM_EMAIL_PROVIDER="2"\n'
    )

    found = parse_adt_template(text, "d.tmpl")

    assert found == {
        FROM_ADDRESS: Setting(
            "notifications@shop.example", f"adt-template d.tmpl ({FROM_D})", FROM_D
        ),
        TO_ADDRESS: Setting("ops@shop.example", f"adt-template d.tmpl ({TO_D})", TO_D),
        PROVIDER: Setting("2", "adt-template d.tmpl", PROVIDER),
    }
    expected = validate_settings(found, CATALOGUE)
    assert expected.from_address == "notifications@shop.example"
    assert expected.to_address == "ops@shop.example"
    assert expected.sources[FROM_ADDRESS] == f"adt-template d.tmpl ({FROM_D})"


def test_gen_c_template_source_is_unchanged() -> None:
    found = parse_adt_template("SYSTEM_FROMEMAIL_ADDRESS=a@shop.example\n", "c.tmpl")

    assert found[FROM_ADDRESS].source == "adt-template c.tmpl"
    assert found[FROM_ADDRESS].name == FROM_ADDRESS


@pytest.mark.parametrize(
    "lines",
    [
        pytest.param(
            ["SYSTEM_FROMEMAIL_ADDRESS=old@shop.example", f"{FROM_D}=new@shop.example"],
            id="gen-d-last",
        ),
        pytest.param(
            [f"{FROM_D}=new@shop.example", "SYSTEM_FROMEMAIL_ADDRESS=old@shop.example"],
            id="gen-d-first",
        ),
    ],
)
def test_both_spellings_in_one_template_gen_d_wins_in_either_order(lines: list[str]) -> None:
    found = parse_adt_template("\n".join(lines) + "\n", "t")

    assert found[FROM_ADDRESS] == Setting(
        "new@shop.example",
        f"adt-template t ({FROM_D}; SYSTEM_FROMEMAIL_ADDRESS also set, ignored)",
        FROM_D,
    )


def test_within_one_spelling_the_later_assignment_still_wins() -> None:
    text = f"{TO_D}=a@shop.example\nSYSTEM_TOEMAIL_ADDRESS=c@shop.example\n{TO_D}=b@shop.example\n"

    assert parse_adt_template(text, "t")[TO_ADDRESS].value == "b@shop.example"


@pytest.mark.parametrize(
    ("line", "name"),
    [
        pytest.param('export SYSTEM_FROM_EMAIL_ADDRESS = "a@b.example"', FROM_D, id="from-spaces"),
        pytest.param("export SYSTEM_TO_EMAIL_ADDRESS=a b", TO_D, id="to-unquoted-space"),
        pytest.param('SYSTEM_TO_EMAIL_ADDRESS="x"; echo', TO_D, id="to-second-command"),
        pytest.param(f"echo ${FROM_D} > /tmp/x", FROM_D, id="from-mentioned-in-command"),
    ],
)
def test_a_gen_d_name_on_a_line_that_is_not_an_assignment_is_an_error(line: str, name: str) -> None:
    with pytest.raises(ConfigError, match=rf"^t:2: cannot read {name}: expected export {name}="):
        parse_adt_template("#\n" + line + "\n", "t")


def test_environment_gen_d_beats_template_gen_c_by_precedence(tmp_path: Path) -> None:
    template = tmp_path / "build_environment"
    template.write_text('export SYSTEM_FROMEMAIL_ADDRESS="tpl@shop.example"\n')
    environ = {FROM_D: "env@shop.example"}

    expected = load_audit_config(AuditOptions(adt_template=template), environ).expected

    assert expected.from_address == "env@shop.example"
    assert expected.sources[FROM_ADDRESS] == f"environment ({FROM_D})"


def test_template_gen_d_loses_to_environment_gen_c_by_precedence(tmp_path: Path) -> None:
    template = tmp_path / "build_environment"
    template.write_text(f'export {FROM_D}="tpl@shop.example"\n')
    environ = {FROM_ADDRESS: "env@shop.example"}

    expected = load_audit_config(AuditOptions(adt_template=template), environ).expected

    assert expected.from_address == "env@shop.example"
    assert expected.sources[FROM_ADDRESS] == "environment"


def test_environment_with_both_spellings_gen_d_wins_and_says_so() -> None:
    environ = {FROM_ADDRESS: "old@shop.example", FROM_D: "new@shop.example", "OTHER": "x"}

    found = settings_from_mapping(environ, "environment")

    assert found == {
        FROM_ADDRESS: Setting(
            "new@shop.example",
            f"environment ({FROM_D}; SYSTEM_FROMEMAIL_ADDRESS also set, ignored)",
            FROM_D,
        )
    }


def test_config_table_accepts_gen_d_names(tmp_path: Path) -> None:
    config = tmp_path / "smtpcheck.toml"
    config.write_text(
        f'[expected]\n{FROM_D} = "new@shop.example"\n'
        'SYSTEM_FROMEMAIL_ADDRESS = "old@shop.example"\n'
        f'{TO_D} = "ops@shop.example"\n'
    )

    expected = load_audit_config(AuditOptions(config=config, layers="dns"), {}).expected

    assert expected.from_address == "new@shop.example"
    assert expected.to_address == "ops@shop.example"
    assert expected.sources == {
        FROM_ADDRESS: f"config {config} ({FROM_D}; SYSTEM_FROMEMAIL_ADDRESS also set, ignored)",
        TO_ADDRESS: f"config {config} ({TO_D})",
    }


def test_config_table_still_rejects_unknown_keys(tmp_path: Path) -> None:
    config = tmp_path / "smtpcheck.toml"
    config.write_text('[expected]\nSYSTEM_FROM_EMAIL_ADRESS = "a@shop.example"\n')

    with pytest.raises(
        ConfigError, match=r"unknown key\(s\) in \[expected\]: SYSTEM_FROM_EMAIL_ADRESS"
    ):
        load_audit_config(AuditOptions(config=config), {})


def test_a_gen_d_value_of_the_wrong_type_names_the_spelling() -> None:
    with pytest.raises(ConfigError, match=f"^config c.toml: {TO_D} must be a string$"):
        settings_from_mapping({TO_D: 5}, "config c.toml")


def test_an_ignored_spelling_of_the_wrong_type_is_still_an_error() -> None:
    with pytest.raises(ConfigError, match=f"^config c.toml: {TO_ADDRESS} must be a string$"):
        settings_from_mapping({TO_ADDRESS: 5, TO_D: "ops@shop.example"}, "config c.toml")


def test_an_invalid_gen_d_value_names_the_spelling_used() -> None:
    found = settings_from_mapping({FROM_D: "nobody"}, "environment")

    with pytest.raises(ConfigError) as caught:
        validate_settings(found, CATALOGUE)

    assert one_line(caught.value).startswith(f"{FROM_D} (from environment ({FROM_D})): ")
