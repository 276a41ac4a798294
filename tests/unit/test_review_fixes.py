"""Behaviour decided after the first unit-test round: whose problems count when PHP and the
static reader disagree, short secrets, ``static`` properties, text sent to the terminal."""

from __future__ import annotations

from pathlib import Path

import pytest

from smtpcheck.credentials.evaluate import evaluate_well_formed
from smtpcheck.credentials.joomla import parse_joomla_config
from smtpcheck.findings import Status
from smtpcheck.remote.facts import PhpReading
from smtpcheck.secrets import Redactor, Secret
from smtpcheck.targets import App
from smtpcheck.text import terminal_safe
from tests.unit.builders import evidence, file_facts, needs_php, run_php_reader

# A declaration split over two lines: PHP (and so Joomla) reads it; the static reader refuses.
SPLIT = b"""<?php
class JConfig {
\tpublic $mailer = 'smtp';
\tpublic $smtpauth = 1;
\tpublic $smtphost =
\t\t'in-v3.mailjet.com';
\tpublic $smtpsecure = 'ssl';
\tpublic $smtpport = 465;
}
"""


@needs_php
def test_static_objections_are_notes_when_php_accepts_the_file(tmp_path: Path) -> None:
    path = tmp_path / "configuration.php"
    path.write_bytes(SPLIT)
    status, output = run_php_reader(path)
    assert status == 0
    assert b'"smtphost":"in-v3.mailjet.com"' in output
    php = PhpReading(available=True, exit_status=status, output=output)
    facts = file_facts("/var/www/html/configuration.php", SPLIT, php=php)
    ev = evidence(App.JOOMLA, facts=facts, run_php=True)
    assert ev.reading is not None
    assert ev.reading.problems == ()
    assert any("$smtphost" in note for note in ev.reading.notes)
    finding = evaluate_well_formed(ev)
    assert finding.status is Status.PASS
    assert "static_reader_notes" in finding.evidence


def test_the_same_file_without_php_fails_on_the_static_reader() -> None:
    ev = evidence(App.JOOMLA, SPLIT, run_php=False)
    assert ev.reading is not None
    assert [p.fatal for p in ev.reading.problems] == [True]
    assert ev.reading.notes == ()


def test_static_properties_are_not_settings() -> None:
    config = parse_joomla_config(
        "<?php\nclass JConfig {\n\tpublic static $smtphost = 'x';\n\tpublic $smtphost = 'y';\n}\n"
    )
    assert config.problems == ()
    assert config.properties["smtphost"].value == "y"


@pytest.mark.parametrize(
    ("secret", "text", "shown"),
    [
        ("p", "smtp password: p", "smtp password: <redacted>"),
        ("p", "PHP Error: Undefined constant", "PHP Error: Undefined constant"),
        ("pw1", "user:pw1;", "user:<redacted>;"),
        ("pw1", "pw12 is another token", "pw12 is another token"),
        ("LongEnough-9", "xxLongEnough-9yy", "xx<redacted>yy"),  # long: replaced anywhere
    ],
)
def test_short_secrets_are_redacted_only_where_they_stand_alone(
    secret: str, text: str, shown: str
) -> None:
    redactor = Redactor()
    redactor.register(Secret(secret))
    assert redactor.scrub(text) == shown


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("banner \x1b[31mred\x1b[0m", "banner \\x1b[31mred\\x1b[0m"),
        ("line\roverwritten", "line\\x0doverwritten"),
        ("tab\tand\nnewline", "tab\\x09and\\x0anewline"),
        ("C1 \x9b control", "C1 \\x9b control"),
        ("plain ascii and é", "plain ascii and é"),
    ],
)
def test_terminal_safe(text: str, shown: str) -> None:
    assert terminal_safe(text) == shown


def test_html_matrix_columns_follow_the_catalogue_order() -> None:
    from datetime import UTC, datetime

    from smtpcheck.findings import Finding, Severity
    from smtpcheck.reports.html_report import render_html
    from smtpcheck.result import AuditResult

    findings = [
        Finding(cid, "shop.example", Status.PASS, Severity.HIGH, "ok")
        for cid in ("MX-01", "DKIM-01", "SPF-02", "DMARC-01", "SPF-01")
    ]
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    html = render_html(AuditResult.of(findings, moment, moment, "0"))
    header = html[html.index("Sending domains") :]
    positions = [header.index(f">{cid}</th>") for cid in ("SPF-01", "SPF-02", "DKIM-01",
                                                             "DMARC-01", "MX-01")]  # fmt: skip
    assert positions == sorted(positions)


@pytest.mark.parametrize(
    "url",
    [
        "paramiko://deploy:pa@ss@web1:1035",
        "paramiko://deploy:pa/ss@web1:1035",
        "deploy:p@ss/word@web1",
        "ssh://deploy:a/b@c@web1",
    ],
)
def test_url_with_raw_at_or_slash_in_the_password_is_refused_unshown(url: str) -> None:
    from smtpcheck.errors import InventoryError
    from smtpcheck.targets import parse_host_url

    with pytest.raises(InventoryError) as refused:
        parse_host_url(url, "wordpress")
    message = str(refused.value)
    assert "percent-encode" in message
    for part in ("pa", "ss", "word", "a/b", "p@ss"):
        assert f"{part}@" not in message and f":{part}" not in message


@pytest.mark.parametrize(
    "url",
    [
        "paramiko://deploy:pa%40ss@web1:1035",
        "paramiko://web1:1035?ssh_identity_file=/keys/a@b",
        "paramiko://deploy@web1:1035",
    ],
)
def test_encoded_passwords_and_at_signs_in_the_query_are_fine(url: str) -> None:
    from smtpcheck.targets import parse_host_url

    assert parse_host_url(url, "wordpress").host == "web1"
