"""The five-line ``/var/www/*smtp`` file of WordPress, Moodle and Drupal (toolkit gens A/B)."""

from __future__ import annotations

import pytest

from smtpcheck.credentials.labelled import (
    EMAIL_PROVIDER,
    FROM_ADDRESS,
    PORT,
    USERNAME,
    parse_labelled,
)
from smtpcheck.lab.seeds import labelled_file
from tests.unit.builders import CREDS, PASSWORD

TOOLKIT = labelled_file(CREDS).decode()
FIRST, SECOND, THIRD, FOURTH, FIFTH = TOOLKIT.splitlines()


def _lines(*lines: str) -> str:
    return "\n".join(lines) + "\n"


# (file text, the problems as (message, fatal), the values read)
CASES = {
    "toolkit-output": (TOOLKIT, [], {PORT: "465", EMAIL_PROVIDER: "2"}),
    "toolkit-port-2525": (labelled_file(CREDS, port=2525).decode(), [], {PORT: "2525"}),
    "no-final-newline": (TOOLKIT.rstrip("\n"), [], {PORT: "465"}),
    "crlf": (
        TOOLKIT.replace("\n", "\r\n"),
        [("lines end in CR LF (edited on Windows?)", False)],
        {USERNAME: CREDS.username, PORT: "465"},
    ),
    "cr-only": (
        TOOLKIT.replace("\n", "\r"),
        [("lines end in CR LF (edited on Windows?)", False)],
        {FROM_ADDRESS: CREDS.from_address, PORT: "465"},
    ),
    "missing-port": (
        _lines(FIRST, SECOND, THIRD, FOURTH),
        [("the PORT line is missing", True)],
        {EMAIL_PROVIDER: "2"},
    ),
    "missing-password": (
        _lines(FIRST, SECOND, FOURTH, FIFTH),
        [("the PASSWORD line is missing", True)],
        {PORT: "465"},
    ),
    "duplicate-label": (
        _lines(FIRST, SECOND, THIRD, FOURTH, FIFTH, "PORT: 587"),
        [("line 6: PORT appears twice", True)],
        {PORT: "465"},  # the first one is what a reader copying by hand would take
    ),
    "duplicate-password": (
        _lines(FIRST, SECOND, THIRD, "PASSWORD: other", FOURTH, FIFTH),
        [("line 4: PASSWORD appears twice", True)],
        {},
    ),
    "extra-line": (
        _lines(FIRST, SECOND, THIRD, FOURTH, FIFTH, "SMTP HOST: in-v3.mailjet.com"),
        [("line 6 is not one of the five labelled lines", True)],
        {PORT: "465"},
    ),
    "lower-case-label": (
        _lines(FIRST, SECOND, THIRD, FOURTH, "port: 465"),
        [
            ("line 5 is not one of the five labelled lines", True),
            ("the PORT line is missing", True),
        ],
        {},
    ),
    "empty-value": (
        _lines(FIRST, "USERNAME: ", THIRD, FOURTH, FIFTH),
        [("line 2: USERNAME is empty", True)],
        {USERNAME: ""},
    ),
    "empty-value-no-space": (
        _lines(FIRST, "USERNAME:", THIRD, FOURTH, FIFTH),
        [("line 2: USERNAME is empty", True)],
        {USERNAME: ""},
    ),
    "blank-line": (
        _lines(FIRST, SECOND, "", THIRD, FOURTH, FIFTH),
        [("line 3 is blank", False)],
        {PORT: "465"},
    ),
    "wrong-order": (
        _lines(SECOND, FIRST, THIRD, FIFTH, FOURTH),
        [("the labels are not in the toolkit's order", False)],
        {USERNAME: CREDS.username, PORT: "465", EMAIL_PROVIDER: "2"},
    ),
    "provider-not-numeric": (
        _lines(FIRST, SECOND, THIRD, "EMAIL PROVIDER: mailjet", FIFTH),
        [("EMAIL PROVIDER is not a number", True)],
        {EMAIL_PROVIDER: "mailjet"},
    ),
    "port-not-numeric": (
        _lines(FIRST, SECOND, THIRD, FOURTH, "PORT: 465/tcp"),
        [("PORT is not a number", True)],
        {PORT: "465/tcp"},
    ),
    "port-superscript-digits": (
        _lines(FIRST, SECOND, THIRD, FOURTH, "PORT: ⁴⁶⁵"),
        [("PORT is not a number", True)],
        {PORT: "⁴⁶⁵"},
    ),
    "provider-arabic-indic-digit": (
        _lines(FIRST, SECOND, THIRD, "EMAIL PROVIDER: ٢", FIFTH),
        [("EMAIL PROVIDER is not a number", True)],
        {},
    ),
    "trailing-whitespace": (
        _lines(FIRST, SECOND + "  ", THIRD, FOURTH, FIFTH),
        [("line 2: USERNAME has surrounding whitespace", True)],
        {USERNAME: CREDS.username + "  "},
    ),
    "no-space-after-colon": (
        _lines(FIRST, SECOND.replace(": ", ":"), THIRD, FOURTH, FIFTH),
        [],
        {USERNAME: CREDS.username},
    ),
}


@pytest.mark.parametrize(("text", "problems", "values"), CASES.values(), ids=CASES.keys())
def test_file_shapes(text: str, problems: list[tuple[str, bool]], values: dict[str, str]) -> None:
    parsed = parse_labelled(text)

    assert [(p.message, p.fatal) for p in parsed.problems] == problems
    for label, value in values.items():
        assert parsed.values[label] == value


@pytest.mark.parametrize(("text", "_p", "_v"), CASES.values(), ids=CASES.keys())
def test_no_problem_message_contains_the_password(text: str, _p: object, _v: object) -> None:
    parsed = parse_labelled(text)

    for problem in parsed.problems:
        for fragment in (PASSWORD, *PASSWORD.split()):
            assert fragment not in problem.message
    assert "PASSWORD" not in parsed.values  # the password lives only in the Secret
    assert PASSWORD not in repr(parsed)


def test_password_with_colon_and_spaces_is_kept_whole() -> None:
    parsed = parse_labelled(TOOLKIT)

    assert parsed.password is not None
    assert parsed.password.reveal() == PASSWORD
    assert parsed.port == 465


def test_password_with_trailing_space_is_kept_and_reported() -> None:
    parsed = parse_labelled(_lines(FIRST, SECOND, THIRD + " ", FOURTH, FIFTH))

    assert parsed.password is not None and parsed.password.reveal() == PASSWORD + " "
    assert [p.message for p in parsed.problems] == ["line 3: PASSWORD has surrounding whitespace"]


def test_empty_password_is_a_fatal_problem_and_an_empty_secret() -> None:
    parsed = parse_labelled(_lines(FIRST, SECOND, "PASSWORD: ", FOURTH, FIFTH))

    assert parsed.password is not None and not parsed.password
    assert [(p.message, p.fatal) for p in parsed.problems] == [("line 3: PASSWORD is empty", True)]


@pytest.mark.parametrize(
    ("port_line", "port"),
    [("PORT: 465", 465), ("PORT: 0465", 465), ("PORT: x", None), ("PORT: ²", None)],
)
def test_port_property(port_line: str, port: int | None) -> None:
    assert parse_labelled(_lines(FIRST, SECOND, THIRD, FOURTH, port_line)).port == port
