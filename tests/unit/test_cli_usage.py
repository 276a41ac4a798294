"""``smtpcheck`` usage errors (exit 2, one line on stderr, no traceback) and ``controls``.

No test here may start an audit: ``run_audit`` is replaced by a function that fails the test.
"""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path

import pytest

import smtpcheck.runner
from smtpcheck import __version__
from smtpcheck.catalogue import CONTROLS
from smtpcheck.cli import build_parser, main, run
from smtpcheck.settings import ACCEPTED_NAMES, VARIABLES


@pytest.fixture(autouse=True)
def no_audit(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> int:
        raise AssertionError("a usage error must stop smtpcheck before any audit runs")

    monkeypatch.setattr(smtpcheck.runner, "run_audit", refuse)
    for name in VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _exit_code(argv: list[str]) -> int:
    """main's exit status, whether it returns it or argparse raises SystemExit."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else -1


def _one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    assert "Traceback" not in err
    return err.rstrip("\n")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param([], "smtpcheck: error: the following arguments are required: command "
                     "(see smtpcheck --help)", id="no-command"),
        pytest.param(["audit", "--bogus"], "smtpcheck: error: unrecognized arguments: --bogus "
                     "(see smtpcheck --help)", id="unknown-option"),
        pytest.param(["check"], "smtpcheck: error: argument command: invalid choice: 'check'",
                     id="unknown-command"),
        pytest.param(["audit", "--jobs", "many"], "smtpcheck audit: error: argument --jobs: "
                     "invalid int value: 'many' (see smtpcheck audit --help)", id="jobs-not-int"),
        pytest.param(["audit", "--layers", "host,smtp"], "smtpcheck: error: --layers: 'smtp' is "
                     "not a layer (use host,dns,relay)", id="bad-layers"),
        pytest.param(["audit", "--layers", ""], "smtpcheck: error: --layers: give at least one "
                     "of host, dns, relay", id="empty-layers"),
        pytest.param(["audit", "--jobs", "0"], "smtpcheck: error: --jobs must be at least 1, "
                     "not 0", id="jobs-zero"),
        pytest.param(["audit", "--jobs", "-3"], "smtpcheck: error: --jobs must be at least 1, "
                     "not -3", id="jobs-negative"),
        pytest.param(["audit", "--app", "joomla"], "smtpcheck: error: --app needs --hosts (or "
                     "use an inventory)", id="app-without-hosts"),
        pytest.param(["audit", "--hosts", "web1"], "smtpcheck: error: --hosts: 'web1' has no "
                     "application: give --app or an inventory", id="hosts-without-app"),
        pytest.param(["audit", "--hosts", "web1", "--app", "typo3"], "smtpcheck: error: --hosts: "
                     "app 'typo3' is not one of wordpress, moodle, drupal, joomla",
                     id="unknown-app"),
        pytest.param(["audit", "--hosts", "winrm://web1", "--app", "moodle"], "smtpcheck: error: "
                     "--hosts: backend 'winrm' is not supported", id="unsupported-backend"),
        pytest.param(["audit", "--provider", "sendgrid"], "smtpcheck: error: "
                     "SYSTEM_EMAIL_PROVIDER (from command line): 'sendgrid' is not a provider",
                     id="bad-provider-option"),
        pytest.param(["audit", "--from-address", "nobody"], "smtpcheck: error: "
                     "SYSTEM_FROMEMAIL_ADDRESS (from command line): 'nobody' is not an email "
                     "address", id="bad-from-option"),
    ],
)  # fmt: skip
def test_usage_errors(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    code = _exit_code(argv)

    captured = capsys.readouterr()
    assert code == 2
    assert _one_line(captured.err).startswith(message)
    assert captured.out == ""


def test_bad_provider_in_the_environment(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYSTEM_EMAIL_PROVIDER", "9")

    assert _exit_code(["audit"]) == 2
    assert _one_line(capsys.readouterr().err) == (
        "smtpcheck: error: SYSTEM_EMAIL_PROVIDER (from environment): '9' is not a provider; "
        "use 1 or sendpulse, 2 or mailjet, 3 or ses"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: p / "absent.toml", "cannot read inventory {path}: [Errno 2]",
                     id="missing"),
        pytest.param(lambda p: p, "cannot read inventory {path}: [Errno 21] Is a directory",
                     id="directory"),
        pytest.param(lambda p: _write(p / "latin1.toml", b"# caf\xe9\n"),
                     "cannot read inventory {path}: 'utf-8' codec can't decode", id="not-utf8"),
        pytest.param(lambda p: _write(p / "bad.toml", b"[[hosts]\n"),
                     "{path}: not valid TOML", id="invalid-toml"),
    ],
)  # fmt: skip
def test_unreadable_inventory(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, make: object, message: str
) -> None:
    path = make(tmp_path)  # type: ignore[operator]

    assert _exit_code(["audit", "--inventory", str(path)]) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        "smtpcheck: error: " + message.format(path=path)
    )


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_bad_template_and_config(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    template = _write(tmp_path / "build.tmpl", b'#\nexport SYSTEM_EMAIL_PASSWORD="$PW"\n')
    config = _write(tmp_path / "c.toml", b"[smtp]\n")

    assert _exit_code(["audit", "--adt-template", str(template)]) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        f"smtpcheck: error: {template}:2: the value uses shell expansion"
    )
    assert _exit_code(["audit", "--config", str(config)]) == 2
    assert _one_line(capsys.readouterr().err).startswith(
        f"smtpcheck: error: {config}: unknown table [smtp]"
    )


def test_a_password_in_a_host_url_never_reaches_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["audit", "--hosts", "paramiko://deploy:Cli-pw-5512@web1"]) == 2

    err = _one_line(capsys.readouterr().err)
    assert "Cli-pw-5512" not in err and "deploy@web1" in err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert _exit_code(["--version"]) == 0
    assert capsys.readouterr().out == f"smtpcheck {__version__}\n"


# --- controls -----------------------------------------------------------------------------------


def test_controls_lists_exactly_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controls"]) == 0

    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == list(CONTROLS)
    for line, control in zip(lines, CONTROLS.values(), strict=True):
        assert line.split(maxsplit=3) == [
            control.id, control.layer.value, control.severity.value, control.title
        ]  # fmt: skip


def test_controls_json_is_the_catalogue(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["controls", "--json"]) == 0

    assert json.loads(capsys.readouterr().out) == [c.to_dict() for c in CONTROLS.values()]


def test_parser_has_the_spec_options() -> None:
    """SPEC §2: options may be added, never renamed."""
    audit = build_parser().parse_args(
        ["audit", "--hosts", "h", "--app", "joomla", "--inventory", "i", "--adt-template", "t",
         "--config", "c", "--nameserver", "127.0.0.1:53", "--nameserver", "::1",
         "--domain", "a.example", "--layers", "host", "--no-send", "--report-dir", "r",
         "--jobs", "2", "--known-hosts", "k", "--accept-new-host-keys"]
    )  # fmt: skip

    assert (audit.hosts, audit.app, audit.inventory, audit.adt_template) == (
        "h", "joomla", Path("i"), Path("t")
    )  # fmt: skip
    assert audit.nameserver == ["127.0.0.1:53", "::1"] and audit.domain == ["a.example"]
    assert (audit.layers, audit.no_send, audit.report_dir, audit.jobs) == (
        "host", True, Path("r"), 2
    )  # fmt: skip
    assert (audit.known_hosts, audit.accept_new_host_keys) == (Path("k"), True)


def test_an_audit_with_nothing_to_check_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ACCEPTED_NAMES:  # gen D's spellings too
        monkeypatch.delenv(name, raising=False)
    assert main(["audit"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("smtpcheck: error: nothing to audit")
    assert err.count("\n") == 1
    monkeypatch.setenv("SYSTEM_FROMEMAIL_ADDRESS", "a@shop.example")
    assert main(["audit", "--layers", "relay"]) == 2  # a domain, but the DNS layer is off


def test_the_program_returns_mains_exit_status_and_leaves_its_objects_to_the_exit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``smtpcheck`` (the console script, ``python -m smtpcheck``) is ``main`` and then the
    process's end: what the run built is frozen, so that the interpreter's last collection
    skips it (issue 10: a quarter of a second after a 300-host audit)."""
    monkeypatch.setattr(sys, "argv", ["smtpcheck", "controls", "--json"])
    try:
        assert run() == 0
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
    assert json.loads(capsys.readouterr().out)  # main's output, unchanged
