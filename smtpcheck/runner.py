"""Running an audit: the pytest session in this process, its story on the terminal, and
the exit status from the findings. Imported only when an audit runs (``smtpcheck --help``
and ``controls`` stay fast: they load no pytest, paramiko or dnspython)."""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Iterator, Mapping
from importlib import resources
from pathlib import Path

import pytest

from smtpcheck import __version__
from smtpcheck.audit import Audit
from smtpcheck.catalogue import Layer
from smtpcheck.config import AuditOptions
from smtpcheck.console import render_summary
from smtpcheck.findings import INTERRUPTED, ExitStatus
from smtpcheck.plugin import CliAudit
from smtpcheck.reports import REPORTERS, scrubbed
from smtpcheck.settings import FROM_ADDRESS, PROVIDER, TO_ADDRESS, USERNAME
from smtpcheck.text import terminal_safe


def options_from_args(args: argparse.Namespace) -> AuditOptions:
    given = {
        PROVIDER: args.provider,
        FROM_ADDRESS: args.from_address,
        TO_ADDRESS: args.to_address,
        USERNAME: args.username,
    }
    return AuditOptions(
        hosts=args.hosts,
        app=args.app,
        inventory=args.inventory,
        adt_template=args.adt_template,
        config=args.config,
        nameservers=tuple(args.nameserver),
        domains=tuple(args.domain),
        layers=args.layers,
        no_send=args.no_send,
        report_dir=args.report_dir,
        jobs=args.jobs,
        known_hosts=args.known_hosts,
        accept_new_host_keys=args.accept_new_host_keys,
        ssh_identity_file=args.ssh_identity_file,
        ssh_config=args.ssh_config,
        sudo=args.sudo,
        sudo_password_env=args.sudo_password_env,
        zone_file=args.zone_file,
        dns_timeout=args.dns_timeout,
        fail_on=args.fail_on,
        waivers=args.waivers,
        baseline=args.baseline,
        history=args.history,
        fingerprint_key=args.fingerprint_key,
        fail_on_new=args.fail_on_new,
        extra_reports=tuple(args.extra_report),
        shard=args.shard,
        expected={k: v for k, v in given.items() if v is not None},
    )


def checks_dir() -> Path:
    """Where the controls live: ``checks/`` in a source tree, ``smtpcheck/checks`` installed."""
    return Path(str(resources.files("smtpcheck.checks")))


def pytest_args(verbosity: int) -> list[str]:
    """pytest's own output only at ``-vv`` and above (for debugging); below that the run
    tells its own story (:func:`run_audit`), not pytest's dots and counts."""
    directory = checks_dir()
    args = [
        str(directory),
        "-c", str(directory / "pytest.ini"),
        "--rootdir", str(directory),
        "-p", "smtpcheck.plugin",
        "--assert=plain",  # checks assert nothing themselves; never introspect values
    ]  # fmt: skip
    if verbosity < 2:  # nothing of pytest's is shown: leave out what only feeds its terminal
        return [*args, *_QUIET]
    tb = "--tb=short" if verbosity > 2 else "--tb=no"
    return [*args, "--no-header", "-rN", tb, "-" + "v" * verbosity]


# pytest's terminal goes (its options -q, --tb, -r with it), and so do the per-item costs whose
# only output is that terminal: log and warning capture, and capture at the file-descriptor level
# (two dup2 and an fstat per phase: a fifth of a 300-host audit's main thread). Python-level
# output is still captured; paramiko's log records and warnings are dropped in `_quiet` as the
# plugins dropped them. Unraisable and thread exceptions keep pytest's hooks: without them they
# would print tracebacks on stderr.
_QUIET = ("-p", "no:terminal", "-p", "no:logging", "-p", "no:warnings", "--capture=sys")

_COMPLETED = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)


def _start_line(audit: Audit) -> str:
    config = audit.config
    layers = ", ".join(layer.value for layer in Layer if layer in config.layers)
    hosts = f"{len(config.targets)} host(s)" if config.targets else "no hosts"
    send = "no message will be sent" if config.no_send else "one test message per credential set"
    relay = f"; {send}" if Layer.RELAY in config.layers else ""
    return f"smtpcheck {__version__}: auditing {hosts}; layers {layers}{relay}"


# The audit's pytest session is smtpcheck's own: it loads smtpcheck's plugin and pytest's, not
# every plugin installed beside it (trio, hypothesis, xdist…: a tenth of a second, and none is
# used), and takes no options from a CI job's environment meant for that job's own tests (a
# PYTEST_ADDOPTS=-x would stop the audit at its first fail, PYTEST_PLUGINS load anything).
_SESSION_ENVIRONMENT = {
    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    "PYTEST_ADDOPTS": None,
    "PYTEST_PLUGINS": None,
}


def _set_environment(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextlib.contextmanager
def _own_session() -> Iterator[None]:
    before = {name: os.environ.get(name) for name in _SESSION_ENVIRONMENT}
    try:
        _set_environment(_SESSION_ENVIRONMENT)
        yield
    finally:
        _set_environment(before)


@contextlib.contextmanager
def _quiet(verbosity: int) -> Iterator[None]:
    """Below ``-vv``, what pytest's logging and warnings plugins would have caught (paramiko's
    log records from its transport threads, library warnings) is dropped, not printed on stderr
    by Python's fallbacks: the run tells its own story."""
    if verbosity >= 2:
        yield
        return
    handler = logging.NullHandler()  # a handler found: logging's last resort stays silent
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.removeHandler(handler)


class _Progress:
    """A line per target as it finishes; on a terminal, a bar below them, redrawn in place
    (CI logs get the plain lines only)."""

    WIDTH = 30

    def __init__(self, *, bar: bool) -> None:
        self.bar = bar
        self.drawn = False

    def __call__(self, line: str, done: int, total: int) -> None:
        clear = "\r\x1b[K" if self.drawn else ""
        sys.stdout.write(f"{clear}  {terminal_safe(line)}\n")
        if self.bar and total:
            filled = self.WIDTH * done // total
            sys.stdout.write(f"  [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total}")
            self.drawn = done < total
            if not self.drawn:
                sys.stdout.write("\r\x1b[K")
        sys.stdout.flush()


def run_audit(audit: Audit, verbosity: int = 0, *, colour: bool = False, tty: bool = False) -> int:
    """Run the checks of ``audit`` through pytest; the exit status comes from the findings.

    A session that ended early (an error while collecting the checks, an internal error, an
    interrupt) still writes its reports, with the findings it has; it is never exit status 0.
    """
    if verbosity >= 0:
        print(terminal_safe(_start_line(audit)), flush=True)
        audit.progress = _Progress(bar=tty)
    with _own_session(), _quiet(verbosity):
        if audit.host_targets:  # every host's checks run: its SSH work overlaps pytest's start
            audit.start_observing()
        try:
            code = pytest.main(pytest_args(verbosity), plugins=[CliAudit(audit)])
        finally:  # the session's end already did, unless pytest stopped before it began
            audit.stop_observing()
    if audit.nothing_evaluated and code == pytest.ExitCode.INTERRUPTED:
        print("smtpcheck: interrupted before any control was evaluated; no report written",
              file=sys.stderr)  # fmt: skip
        return INTERRUPTED
    if audit.nothing_evaluated:
        print("smtpcheck: error: no control was evaluated; no report written", file=sys.stderr)
        return ExitStatus.USAGE
    if audit.result is None:
        print(
            f"smtpcheck: error: the audit did not run (pytest exit status {code})", file=sys.stderr
        )
        return ExitStatus.USAGE
    if verbosity < 2:  # pytest's terminal (and its summary hook) is off: say it here
        for line in render_summary(audit.result, audit.config.report_dir, verbosity, colour=colour):
            print(line)
    github_annotations(audit)
    if code not in _COMPLETED:
        why = (
            "interrupted"
            if code == pytest.ExitCode.INTERRUPTED
            else f"the checks could not all run (pytest exit status {int(code)})"
        )
        print(
            f"smtpcheck: error: {why}; the reports hold only the findings made before that",
            file=sys.stderr,
        )
        return max(int(audit.result.exit_status), ExitStatus.FINDINGS)
    return int(audit.result.exit_status)


def github_annotations(audit: Audit) -> None:
    """In a GitHub Actions job, one ``::error``/``::warning`` line per problem (on stdout,
    where the runner reads workflow commands)."""
    if audit.environ.get("GITHUB_ACTIONS") != "true" or audit.result is None:
        return
    from smtpcheck.reports.github import render_annotations

    for line in render_annotations(scrubbed(audit.result)):
        print(line)


def run_for_json(audit: Audit, verbosity: int) -> int:
    """``--format json``: everything the run prints goes to stderr; stdout gets only the
    report.json document (already scrubbed and written), so ``| jq`` always parses."""
    with contextlib.redirect_stdout(sys.stderr):
        status = run_audit(audit, verbosity)
    report = audit.config.report_dir / REPORTERS["json"][0]
    if audit.result is not None and report.is_file():
        sys.stdout.write(report.read_text(encoding="utf-8"))
    return status
