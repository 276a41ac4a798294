"""The ``smtpcheck`` command: audit, controls, demo (SPEC §2).

``audit`` validates every input first (a problem is one line on stderr and exit status 2), then
runs the controls in ``checks/`` as a pytest session in this process, and exits 0 (nothing
failed or errored) or 1. The exit status is decided once, from the findings.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from smtpcheck import __version__
from smtpcheck.choices import OPTIONAL_REPORTS
from smtpcheck.errors import ConfigError, SmtpcheckError
from smtpcheck.findings import FAIL_ON, INTERRUPTED, ExitStatus

EXIT_CODES = """\
exit status:
  0  nothing gates: no fail (at or above --fail-on, not waived, new with --fail-on-new)
     and no error
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
    over_time = parser.add_argument_group("over time (nightly CI)")
    over_time.add_argument("--waivers", type=Path, help="TOML file of accepted, dated exceptions")
    over_time.add_argument(
        "--baseline", type=Path, help="an earlier report.json: mark findings new/fixed/changed"
    )
    over_time.add_argument(
        "--history", type=Path, metavar="DIR",
        help="keep each run in DIR/<UTC time>/; the latest one is the baseline",
    )  # fmt: skip
    over_time.add_argument(
        "--fingerprint-key", type=Path, metavar="FILE",
        help="HMAC key for password fingerprints (default: DIR/fingerprint.key; made 0600)",
    )  # fmt: skip
    over_time.add_argument(
        "--fail-on-new", action="store_true",
        help="exit 1 only for fails new since the baseline (errors always exit 1)",
    )  # fmt: skip
    over_time.add_argument(
        "--shard", metavar="K/N",
        help="audit part K of N of the hosts (a CI matrix); combine with smtpcheck merge",
    )  # fmt: skip
    over_time.add_argument(
        "--extra-report", action="append", default=[], choices=OPTIONAL_REPORTS,
        help="also write report.sarif (sarif) or gl-code-quality-report.json (codequality)",
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
    noise = parser.add_mutually_exclusive_group()
    noise.add_argument("-v", "--verbose", action="count", default=0)
    noise.add_argument(
        "-q", "--quiet", action="store_true", help="print only the problems and the verdict"
    )
    parser.add_argument("--no-color", action="store_true", help="no colour (also: NO_COLOR=1)")
    parser.add_argument(
        "--format", choices=("text", "json"), default="text",
        help="json: report.json on stdout and nothing else there (the run's story on stderr)",
    )  # fmt: skip


DESCRIPTION = """\
Checks the mail set-up of servers deployed by the Agile Deployment Toolkit: the SMTP
credential files on each host (over SSH), the sending domains' SPF, DKIM and DMARC, and a live
test message through the provider's relay over TLS. Writes report.html, report.json and
junit.xml, and exits with a status CI can gate on."""

AUDIT_EPILOG = f"""\
examples:
  smtpcheck audit --hosts paramiko://deploy@192.0.2.10 --app wordpress --known-hosts kh
  smtpcheck audit --inventory fleet.toml --config smtpcheck.toml --history /var/lib/smtpcheck
  smtpcheck audit --domain example.org --layers dns -q
  smtpcheck audit --inventory fleet.toml --format json | jq .summary

environment (the build-time settings; options of the same name override them):
  SYSTEM_EMAIL_PROVIDER     1/sendpulse, 2/mailjet or 3/ses
  SYSTEM_FROMEMAIL_ADDRESS  the from address the servers send as
  SYSTEM_TOEMAIL_ADDRESS    where the test message goes
  SYSTEM_EMAIL_USERNAME     the relay user name
  SYSTEM_EMAIL_PASSWORD     the relay password (only ever from the environment; never shown)
  NO_COLOR                  set: no colour in the terminal
  GITHUB_STEP_SUMMARY       set (GitHub Actions): a Markdown summary is appended to it

{EXIT_CODES}"""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="smtpcheck", description=DESCRIPTION,
                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="version", version=f"smtpcheck {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    audit = commands.add_parser(
        "audit", help="audit hosts, domains and relay", epilog=AUDIT_EPILOG,
        description="Audit hosts, sending domains and the relay; see the README for more.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    _add_audit_options(audit)
    controls = commands.add_parser("controls", help="list the implemented controls")
    controls.add_argument("--json", action="store_true")
    merge = commands.add_parser(
        "merge", help="combine the reports of --shard K/N runs into one audit",
        description="Combine the report.json of every --shard K/N run (a CI matrix) into one "
        "set of reports with one exit status. Every shard must be given, exactly once.",
        epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    merge.add_argument("reports", nargs="+", type=Path, help="shard report dirs or report.json")
    merge.add_argument("--report-dir", type=Path, default=Path("reports"))
    merge.add_argument("--extra-report", action="append", default=[], choices=OPTIONAL_REPORTS)
    merge.add_argument("-q", "--quiet", action="store_true")
    demo = commands.add_parser("demo", help="the whole audit against the built-in lab (root)")
    demo.add_argument("--report-dir", type=Path, default=Path("reports"))
    demo.add_argument("-v", "--verbose", action="count", default=0)
    return parser


def _controls(as_json: bool) -> int:
    from smtpcheck.catalogue import CONTROLS

    if as_json:
        print(json.dumps([control.to_dict() for control in CONTROLS.values()], indent=2))
        return 0
    for control in CONTROLS.values():
        print(
            f"{control.id:<9} {control.layer.value:<6} {control.severity.value:<9} {control.title}"
        )
    return 0


def _merge(args: argparse.Namespace) -> int:
    from smtpcheck.console import render_summary
    from smtpcheck.merge import merge_shards
    from smtpcheck.reports import write_reports

    result = merge_shards(args.reports)
    try:
        write_reports(result, args.report_dir, args.extra_report)
    except OSError as exc:
        raise ConfigError(f"--report-dir {args.report_dir}: {exc.strerror or exc}") from None
    for line in render_summary(result, args.report_dir, -1 if args.quiet else 0):
        print(line)
    return int(result.exit_status)


def _audit(args: argparse.Namespace) -> int:
    import dns._features

    # This process is smtpcheck's own: DNS over HTTPS is never used, and importing its HTTP/2
    # stack (dns.query does, when httpx is installed) costs a quarter of a second.
    dns._features.force("doh", False)
    from smtpcheck.audit import Audit
    from smtpcheck.config import load_audit_config, require_work
    from smtpcheck.runner import options_from_args, run_audit, run_for_json
    from smtpcheck.secrets import environment

    environ = environment()  # its repr shows no value, should a traceback print it
    config = load_audit_config(options_from_args(args), environ)
    require_work(config)
    audit = Audit(config, environ)
    verbosity = -1 if args.quiet else args.verbose
    if args.format == "json":
        return run_for_json(audit, verbosity)
    tty = sys.stdout.isatty()
    colour = tty and not args.no_color and not environ.get("NO_COLOR")
    return run_audit(audit, verbosity, colour=colour, tty=tty)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "controls":
            return _controls(args.json)
        if args.command == "merge":
            return _merge(args)
        if args.command == "demo":
            from smtpcheck.lab.demo import run_demo

            return run_demo(args.report_dir, args.verbose)
        return _audit(args)
    except SmtpcheckError as exc:
        from smtpcheck.secrets import REDACTOR

        print(f"smtpcheck: error: {REDACTOR.scrub(str(exc))}", file=sys.stderr)
        return ExitStatus.USAGE
    except KeyboardInterrupt:
        print("smtpcheck: interrupted", file=sys.stderr)
        return INTERRUPTED


def run() -> int:
    """The ``smtpcheck`` program: :func:`main`, and then the process ends. What the run built
    is frozen first, so that the interpreter's last garbage collection does not walk it all
    once more (a quarter of a second after a 300-host audit)."""
    status = main()
    gc.freeze()
    return status


if __name__ == "__main__":
    sys.exit(run())
