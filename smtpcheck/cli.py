"""``smtpcheck``: audit, controls, demo (SPEC §2).

``audit`` validates every input first (a problem is one line on stderr and exit status 2), then
runs the controls in ``checks/`` as a pytest session in this process, and exits 0 (nothing
failed or errored) or 1. The exit status is decided once, from the findings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import NoReturn

import pytest

from smtpcheck import __version__
from smtpcheck.audit import Audit
from smtpcheck.catalogue import CONTROLS
from smtpcheck.config import AuditOptions, load_audit_config, require_work
from smtpcheck.errors import SmtpcheckError
from smtpcheck.findings import FAIL_ON, ExitStatus
from smtpcheck.plugin import CliAudit
from smtpcheck.reports import REPORTERS
from smtpcheck.secrets import REDACTOR, environment
from smtpcheck.settings import FROM_ADDRESS, PROVIDER, TO_ADDRESS, USERNAME

EXIT_CODES = """\
exit status:
  0  nothing gates: no fail (at or above --fail-on) and no error
  1  a fail gates, or a control could not be evaluated (error), or the run did not complete
  2  usage or configuration error, or nothing to evaluate (one line on stderr; no audit ran)

  One status for "failed" and "could not evaluate": both mean the run cannot vouch for the
  fleet; report.json's summary tells them apart (fail, error, not_evaluated).
"""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and exit status 2), as for every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _add_audit_options(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_argument_group("targets")
    targets.add_argument(
        "--hosts", help="comma-separated host URLs (paramiko://, ssh://, local://)"
    )
    targets.add_argument("--app", help="wordpress, moodle, drupal or joomla (for --hosts)")
    targets.add_argument("--inventory", type=Path, help="TOML inventory of hosts")
    expected = parser.add_argument_group("build-time settings (override SYSTEM_EMAIL_*)")
    expected.add_argument("--adt-template", type=Path, help="ADT template / build_environment")
    expected.add_argument("--provider", help="1/sendpulse, 2/mailjet or 3/ses")
    expected.add_argument("--from-address", help="SYSTEM_FROMEMAIL_ADDRESS")
    expected.add_argument("--to-address", help="SYSTEM_TOEMAIL_ADDRESS")
    expected.add_argument("--username", help="SYSTEM_EMAIL_USERNAME (the password: environment)")
    run = parser.add_argument_group("run")
    run.add_argument("--config", type=Path, help="smtpcheck TOML config file")
    run.add_argument("--nameserver", action="append", default=[], help="ADDR[:PORT], repeatable")
    run.add_argument("--domain", action="append", default=[], help="extra sending domain")
    run.add_argument("--zone-file", type=Path, help="check records in a BIND zone file first")
    run.add_argument("--dns-timeout", type=float, help="seconds per DNS query (default 2)")
    run.add_argument("--layers", help="host,dns,relay (default: all)")
    run.add_argument("--no-send", action="store_true", help="authenticate, but send no message")
    run.add_argument("--report-dir", type=Path, help="where reports go (default: reports/)")
    run.add_argument("--jobs", type=int, help="hosts audited at once (default 8)")
    run.add_argument(
        "--fail-on", choices=FAIL_ON,
        help="exit 1 only for fails of this severity or above (warn: warns too); errors "
        "always exit 1 (default: any fail or error)",
    )  # fmt: skip
    ssh = parser.add_argument_group("ssh")
    ssh.add_argument("--known-hosts", type=Path, help="known_hosts file to verify host keys")
    ssh.add_argument(
        "--accept-new-host-keys",
        action="store_true",
        help="trust unknown host keys on first use (changed keys are always refused)",
    )
    ssh.add_argument("--ssh-identity-file", type=Path, help="private key for every host")
    ssh.add_argument("--ssh-config", type=Path, help="OpenSSH client config file")
    ssh.add_argument("--sudo", action="store_true", help="read the files through sudo")
    ssh.add_argument("--sudo-password-env", metavar="VAR",
                     help="environment variable holding the sudo password")  # fmt: skip
    parser.add_argument("-v", "--verbose", action="count", default=0)
    parser.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="json: report.json on stdout and nothing else there (the run's story on stderr)",
    )  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="smtpcheck", description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--version", action="version", version=f"smtpcheck {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    audit = commands.add_parser(
        "audit", help="audit hosts, domains and relay", epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _add_audit_options(audit)
    controls = commands.add_parser("controls", help="list the implemented controls")
    controls.add_argument("--json", action="store_true")
    demo = commands.add_parser("demo", help="the whole audit against the built-in lab (root)")
    demo.add_argument("--report-dir", type=Path, default=Path("reports"))
    demo.add_argument("-v", "--verbose", action="count", default=0)
    return parser


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
        expected={k: v for k, v in given.items() if v is not None},
    )


def checks_dir() -> Path:
    """Where the controls live: ``checks/`` in a source tree, ``smtpcheck/checks`` installed."""
    return Path(str(resources.files("smtpcheck.checks")))


def pytest_args(verbosity: int) -> list[str]:
    directory = checks_dir()
    args = [
        str(directory),
        "-c", str(directory / "pytest.ini"),
        "--rootdir", str(directory),
        "-p", "smtpcheck.plugin",
        "--no-header",
        "--assert=plain",  # checks assert nothing themselves; never introspect values
        "-rN",
        "--tb=short" if verbosity > 2 else "--tb=no",
    ]  # fmt: skip
    return [*args, "-q"] if verbosity == 0 else [*args, "-" + "v" * verbosity]


_COMPLETED = (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED, pytest.ExitCode.NO_TESTS_COLLECTED)


def run_audit(audit: Audit, verbosity: int = 0) -> int:
    """Run the checks of ``audit`` through pytest; the exit status comes from the findings.

    A session that ended early (an error while collecting the checks, an internal error, an
    interrupt) still writes its reports, with the findings it has; it is never exit status 0.
    """
    code = pytest.main(pytest_args(verbosity), plugins=[CliAudit(audit)])
    if audit.nothing_evaluated:
        print("smtpcheck: error: no control was evaluated; no report written", file=sys.stderr)
        return ExitStatus.USAGE
    if audit.result is None:
        print(
            f"smtpcheck: error: the audit did not run (pytest exit status {code})", file=sys.stderr
        )
        return ExitStatus.USAGE
    if code not in _COMPLETED:
        print(
            f"smtpcheck: error: the checks could not all run (pytest exit status {int(code)}); "
            "the reports hold only the findings made before that",
            file=sys.stderr,
        )
        return max(int(audit.result.exit_status), ExitStatus.FINDINGS)
    return int(audit.result.exit_status)


def _run_for_json(audit: Audit, verbosity: int) -> int:
    """``--format json``: everything the run prints goes to stderr; stdout gets only the
    report.json document (already scrubbed and written), so ``| jq`` always parses."""
    with contextlib.redirect_stdout(sys.stderr):
        status = run_audit(audit, verbosity)
    report = audit.config.report_dir / REPORTERS["json"][0]
    if audit.result is not None and report.is_file():
        sys.stdout.write(report.read_text(encoding="utf-8"))
    return status


def _controls(as_json: bool) -> int:
    if as_json:
        print(json.dumps([control.to_dict() for control in CONTROLS.values()], indent=2))
        return 0
    for control in CONTROLS.values():
        print(
            f"{control.id:<9} {control.layer.value:<6} {control.severity.value:<9} {control.title}"
        )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "controls":
            return _controls(args.json)
        if args.command == "demo":
            from smtpcheck.lab.demo import run_demo

            return run_demo(args.report_dir, args.verbose)
        environ = environment()  # its repr shows no value, should a traceback print it
        config = load_audit_config(options_from_args(args), environ)
        require_work(config)
        audit = Audit(config, environ)
        if args.format == "json":
            return _run_for_json(audit, args.verbose)
        return run_audit(audit, args.verbose)
    except SmtpcheckError as exc:
        print(f"smtpcheck: error: {REDACTOR.scrub(str(exc))}", file=sys.stderr)
        return ExitStatus.USAGE
    except KeyboardInterrupt:
        print("smtpcheck: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
