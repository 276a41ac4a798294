"""CRED-06, CRED-07, SYS-01, SYS-02: the toolkit's own settings files and system mail (SPEC §4,
"Toolkit settings and system mail"). Same signature as CRED-01…05: one HostEvidence in, one
finding out; evidence lists every copy found.

The system-mail path is what ``SendEmail.sh`` runs for the host's provider: ``sendemail`` (the
toolkit's default, ``EMAILUTIL:sendemail``) or ssmtp through ``/etc/ssmtp/ssmtp.conf``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from smtpcheck.catalogue import Control, get_control
from smtpcheck.credentials import sysmail, toolkit
from smtpcheck.credentials.evaluate import (
    NO_SETTINGS_FIX,
    HostEvidence,
    compare_password,
    compare_text,
    unobserved,
)
from smtpcheck.credentials.host import SourceReading
from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.credentials.sources import Role, source
from smtpcheck.credentials.transport import TLS_WORDS
from smtpcheck.findings import EvidenceValue, Finding, Severity, Status
from smtpcheck.providers import Confidence, Provider, ProviderCatalogue, TlsMode, digits
from smtpcheck.remote.facts import StatInfo
from smtpcheck.secrets import Secret

_ORDER = list(Severity)


def _copies(ev: HostEvidence, *roles: Role) -> list[SourceReading]:
    return [r for r in ev.toolkit if r.source.role in roles]


def _judged_by(ev: HostEvidence, control_id: str) -> list[SourceReading]:
    """The copies of every source the registry says ``control_id`` judges."""
    return [r for r in ev.toolkit if control_id in r.source.controls]


def _worst(problems: list[tuple[Severity, str]]) -> Severity:
    return min((severity for severity, _ in problems), key=_ORDER.index)


def _describe(reading: SourceReading) -> str:
    st = reading.facts.stat
    if st is None:
        return f"{reading.path}: dangling symlink"
    return f"{reading.path}: {st.mode_text} {st.owner}:{st.group}"


def _mode_problems(
    path: str, st: StatInfo, *, groups: frozenset[str], other: Severity
) -> list[tuple[Severity, str]]:
    """Other gets nothing; group read only for ``groups``, group write only for root (a
    writable ssmtp.conf lets group mail point the mailhub elsewhere)."""
    problems: list[tuple[Severity, str]] = []
    if st.mode & 0o004:
        problems.append((other, f"{path} is readable by every local user ({st.mode_text})"))
    if st.mode & 0o002:
        problems.append((other, f"{path} is writable by every local user ({st.mode_text})"))
    if st.mode & 0o001 and not st.mode & 0o006:
        problems.append((Severity.MEDIUM, f"{path} has permissions for other ({st.mode_text})"))
    if st.group != "root" and st.mode & 0o020:
        problems.append((Severity.HIGH, f"{path} is writable by group {st.group}"))
    elif st.group not in groups and st.mode & 0o040:
        problems.append((Severity.MEDIUM, f"{path} is readable by group {st.group}"))
    return problems


def evaluate_settings_protected(ev: HostEvidence) -> Finding:
    """CRED-06: every settings / application.dat copy: nothing for other, group only root."""
    control = get_control("CRED-06")
    if (failed := unobserved(control.id, ev)) is not None:
        return failed
    copies = _judged_by(ev, control.id)
    evidence: dict[str, EvidenceValue] = {**ev.base_evidence(), "homes": _homes(ev)}
    if not copies:
        return control.finding(
            ev.target, Status.SKIP, "no toolkit settings file on this host", evidence
        )
    evidence["copies"] = tuple(_describe(r) for r in copies)
    problems: list[tuple[Severity, str]] = []
    for reading in copies:
        st = reading.facts.stat
        if st is not None:
            problems += _mode_problems(
                reading.path, st, groups=frozenset({"root"}), other=Severity.CRITICAL
            )
    passed = f"{len(copies)} settings file(s) protected"
    return _verdict(control, ev, problems, evidence, passed, source("settings").remediation)


def _verdict(
    control: Control,
    ev: HostEvidence,
    problems: list[tuple[Severity, str]],
    evidence: dict[str, EvidenceValue],
    passed: str,
    remediation: str,
) -> Finding:
    """Fail with the first problem at the worst problem's severity, else pass."""
    if not problems:
        return control.finding(ev.target, Status.PASS, passed, evidence)
    evidence["problems"] = tuple(text for _, text in problems)
    return control.finding(
        ev.target, Status.FAIL, problems[0][1], evidence, remediation, severity=_worst(problems)
    )


def _homes(ev: HostEvidence) -> tuple[str, ...]:
    facts = ev.observation.facts
    return facts.homes if facts is not None else ()


@dataclass(frozen=True)
class _Values:
    """One file's e-mail values, in the shape every comparison takes."""

    where: str
    from_address: str | None
    username: str | None
    password: Secret | None
    provider_code: str | None
    password_note: str | None = None  # why the reading differs from the line (ssmtp cut-off)


def _values_of(reading: SourceReading) -> Iterator[_Values]:
    parsed = reading.parsed
    if isinstance(parsed, toolkit.ToolkitSettings) and parsed.has_smtp_values:
        values = parsed.values
        yield _Values(
            reading.path,
            values.get(toolkit.SYSTEMFROMEMAILADDRESS) or None,
            values.get(toolkit.EMAILUSERNAME) or None,
            parsed.password,
            values.get(toolkit.EMAILPROVIDER) or None,
        )
    elif isinstance(parsed, toolkit.ApplicationDat) and (parsed.smtp or parsed.smtppass):
        yield _Values(reading.path, None, parsed.smtp.get("smtpuser"), parsed.smtppass, None)
    elif isinstance(parsed, sysmail.SsmtpConf) and parsed.auth_user is not None:
        note = (
            "ssmtp reads it cut short at ':', '#' or a blank"
            if parsed.auth_pass_truncated
            else None
        )
        yield _Values(reading.path, None, parsed.auth_user, parsed.auth_pass, None, note)


def _compare(found: _Values, against: _Values | None, ev: HostEvidence) -> dict[str, str]:
    """Verdicts of ``found`` against another file (``against``) or the build-time settings."""
    exp = ev.expected
    want_from = against.from_address if against else exp.from_address
    want_user = against.username if against else exp.username
    want_pass = against.password if against else exp.password
    want_code = (
        against.provider_code
        if against
        else (str(exp.provider.code) if exp.provider is not None and exp.provider.code else None)
    )
    out: dict[str, str] = {}
    if want_from and found.from_address is not None:
        out["from address"] = compare_text(found.from_address, want_from, fold=True)
    if want_user and found.username is not None:
        out["username"] = compare_text(found.username, want_user, fold=False)
    if want_pass is not None and found.password is not None:
        verdict = compare_password(found.password, want_pass)
        if verdict != "matches" and found.password_note:
            verdict = f"differs: {found.password_note}"
        out["password"] = verdict
    if want_code and found.provider_code is not None:
        out["provider"] = (
            "matches"
            if found.provider_code == want_code
            else f"differs: file has {found.provider_code!r}, expected {want_code!r}"
        )
    if against is not None:  # "expected" would read as the right value: it is only the other file's
        return {k: v.replace(", expected ", f", {against.where} has ") for k, v in out.items()}
    return out


def _app_values(ev: HostEvidence) -> _Values | None:
    dep = ev.reading.deployed if ev.reading is not None else None
    if dep is None:
        return None
    code = str(dep.provider.code) if dep.provider is not None and dep.provider.code else None
    return _Values(dep.source, dep.from_address, dep.username, dep.password, code)


def _evaluate_settings_match(ev: HostEvidence) -> Finding:
    """CRED-07: each copy's e-mail values against the build-time settings and the app's file."""
    control = get_control("CRED-07")
    if (failed := unobserved(control.id, ev)) is not None:
        return failed
    found = [v for r in _judged_by(ev, control.id) for v in _values_of(r)]
    evidence: dict[str, EvidenceValue] = ev.base_evidence()
    if not found:
        return control.finding(
            ev.target, Status.SKIP, "no toolkit file on this host holds e-mail values", evidence
        )
    app = _app_values(ev)
    rows: list[tuple[str, str, str]] = []  # (file, what, verdict)
    for values in found:
        if not ev.expected.is_empty:
            rows += [
                (values.where, f"{k} (build-time)", v)
                for k, v in _compare(values, None, ev).items()
            ]
        if app is not None:
            rows += [
                (values.where, f"{k} ({app.where})", v)
                for k, v in _compare(values, app, ev).items()
            ]
    if ev.expected.is_empty and len(found) > 1:
        rows += [
            (v.where, f"{k} ({found[0].where})", verdict)
            for v in found[1:]
            for k, verdict in _compare(v, found[0], ev).items()
        ]
    evidence["compared"] = tuple(f"{where}: {what} {verdict}" for where, what, verdict in rows)
    evidence["expected_from"] = tuple(sorted(set(ev.expected.sources.values())))
    placeholders = [
        f"{r.path}: {name} is still the build's placeholder"
        for r in ev.toolkit
        if isinstance(r.parsed, toolkit.ApplicationDat)
        for name in r.parsed.placeholders
    ]
    differing = [row for row in rows if row[2] != "matches"]
    if placeholders or differing:
        summary = (
            placeholders[0]
            if placeholders
            else (f"{differing[0][0]}: {differing[0][1]} {differing[0][2]}")
        )
        return control.finding(
            ev.target,
            Status.FAIL,
            summary,
            evidence,
            "Correct the toolkit's settings (they are re-read by its scripts) to the build-time "
            "values, and re-run the build's SMTP step for the application.",
        )
    if ev.expected.is_empty:
        what = "only with each other and the application's file" if rows else "with nothing"
        return control.finding(
            ev.target,
            Status.ERROR,
            f"no build-time settings given: compared {what}",
            evidence,
            NO_SETTINGS_FIX,
        )
    if ev.expected.password is None:
        return control.finding(
            ev.target,
            Status.WARN,
            f"{len(rows)} values match; password not compared with the build-time settings",
            evidence,
            "Give SYSTEM_EMAIL_PASSWORD.",
            severity=Severity.MEDIUM,
        )
    return control.finding(
        ev.target, Status.PASS, f"{len(rows)} values in {len(found)} file(s) match", evidence
    )


# --- system mail ---------------------------------------------------------------------------


def _settings(ev: HostEvidence) -> toolkit.ToolkitSettings | None:
    """The copy the toolkit's scripts read (~/runtime first, then ~/.ssh)."""
    copies = [
        r.parsed
        for r in sorted(_copies(ev, Role.SETTINGS), key=lambda r: "/runtime/" not in r.path)
        if isinstance(r.parsed, toolkit.ToolkitSettings)
    ]
    return copies[0] if copies else None


@dataclass(frozen=True)
class MailPath:
    """One way the system mail would send: what, where, how."""

    what: str  # "sendemail (SendEmail.sh line 40)", "ssmtp (/etc/ssmtp/ssmtp.conf)"
    provider: Provider | None
    host: str | None
    port: int
    tls: TlsMode
    password_on_command_line: bool = False
    opportunistic: bool = False  # sendemail -o tls=auto
    username: str | None = None  # what the path authenticates with
    password: Secret | None = field(default=None, repr=False)
    from_address: str | None = None

    @property
    def kind(self) -> str:
        return self.what.split(" ", 1)[0]

    def deployed(self) -> DeployedSmtp:
        """This path as a credential set the relay layer sends with."""
        return DeployedSmtp(
            source=self.what, shape="toolkit system mail", provider=self.provider,
            host=self.host, port=self.port, tls=self.tls, username=self.username,
            password=self.password, from_address=self.from_address,
        )  # fmt: skip


def _provider_code(ev: HostEvidence) -> int | None:
    settings = _settings(ev)
    code = digits(settings.values.get(toolkit.EMAILPROVIDER, "")) if settings else None
    if code is not None:
        return code
    return ev.expected.provider.code if ev.expected.provider is not None else None


def _email_util(ev: HostEvidence) -> str:
    settings = _settings(ev)
    return (settings.values.get(toolkit.EMAILUTIL, "") if settings else "").strip().lower()


_UNPARSED = ", in a block sh cannot parse: fix the script's 'fi'"


def system_mail_paths(ev: HostEvidence, catalogue: ProviderCatalogue) -> list[MailPath]:
    """Every sending path the host's system mail would take for its provider, with the
    credentials it would authenticate with."""
    code, util, settings = _provider_code(ev), _email_util(ev), _settings(ev)
    values = settings.values if settings is not None else {}
    paths: list[MailPath] = []
    for reading in _copies(ev, Role.SYSTEM_MAIL):
        script = reading.parsed
        if not isinstance(script, sysmail.SystemMailScript) or util == "ssmtp":
            continue
        for call in script.sendemail:
            if code is not None and call.provider_code not in (None, code):
                continue
            provider = catalogue.by_code(call.provider_code) if call.provider_code else None
            if call.server_host:
                provider = catalogue.for_host(call.server_host) or provider
            tls = call.tls or "none"
            unparsed = _UNPARSED if call.in_unterminated_block else ""
            paths.append(MailPath(
                f"sendemail ({reading.path} line {call.line}{unparsed})", provider,
                call.server_host, call.server_port or 25,
                TlsMode.STARTTLS if tls in ("yes", "auto") else TlsMode.NONE,
                call.password_on_command_line, tls == "auto",
                values.get(toolkit.EMAILUSERNAME) or None,
                call.password_literal or (settings.password if settings else None),
                values.get(toolkit.SYSTEMFROMEMAILADDRESS) or None,
            ))  # fmt: skip
    for reading in _copies(ev, Role.SSMTP):
        conf = reading.parsed
        if not isinstance(conf, sysmail.SsmtpConf) or (conf.auth_user is None and util != "ssmtp"):
            continue
        mode = _SSMTP_TLS.get(conf.tls_mode, TlsMode.NONE)
        host = conf.mailhub_host
        paths.append(MailPath(
            f"ssmtp ({reading.path})", catalogue.for_host(host) if host else None, host,
            conf.mailhub_port or 25, mode, username=conf.auth_user, password=conf.auth_pass,
            from_address=values.get(toolkit.SYSTEMFROMEMAILADDRESS) or None,
        ))  # fmt: skip
    return paths


_SSMTP_TLS = {"starttls": TlsMode.STARTTLS, "implicit": TlsMode.IMPLICIT}


def system_mail_deployments(ev: HostEvidence) -> list[tuple[str, DeployedSmtp]]:
    """(who, credential set) of each system-mail path that can authenticate, for the relay
    layer: "web1 (system mail: sendemail)"."""
    found: dict[str, DeployedSmtp] = {}
    for path in system_mail_paths(ev, ev.catalogue):
        if path.username and path.password:
            label = f"{ev.target} (system mail: {path.kind})"
            found.setdefault(label, path.deployed())
    return list(found.items())


def _path_verdict(path: MailPath) -> tuple[Status, str]:
    where = f"{path.host or 'localhost'}:{path.port}"
    if path.tls is TlsMode.NONE:
        return Status.FAIL, f"{path.what} sends to {where} without TLS: AUTH crosses in clear"
    if path.opportunistic:
        return Status.FAIL, f"{path.what} uses -o tls=auto: clear text when STARTTLS is stripped"
    if path.provider is None:
        return Status.WARN, f"{path.what}: {where} is not a known provider relay"
    profile = path.provider.ports.get(path.port)
    if profile is None:
        return Status.FAIL, f"{path.what}: {path.provider.name} does not serve port {path.port}"
    if profile.tls is not path.tls:
        return Status.FAIL, (
            f"{path.what}: {TLS_WORDS[path.tls]} on port {path.port}, where "
            f"{path.provider.name} serves {TLS_WORDS[profile.tls]}"
        )
    if profile.confidence is Confidence.UNCONFIRMED:
        return Status.WARN, (
            f"{path.what}: {TLS_WORDS[path.tls]} to {where} (unconfirmed: reference tag U)"
        )
    return Status.PASS, f"{path.what}: {TLS_WORDS[path.tls]} to {where}"


def _system_mail_skip(ev: HostEvidence, control_id: str) -> Finding | None:
    scripts = _judged_by(ev, control_id)
    if scripts:
        return None
    return get_control(control_id).finding(
        ev.target,
        Status.SKIP,
        "no toolkit system mail on this host (no SendEmail.sh)",
        {**ev.base_evidence(), "homes": _homes(ev)},
    )


def _evaluate_system_mail_tls(ev: HostEvidence) -> Finding:
    """SYS-01: every system-mail path sends with TLS on a port the provider serves with TLS."""
    control = get_control("SYS-01")
    if (early := unobserved(control.id, ev) or _system_mail_skip(ev, control.id)) is not None:
        return early
    paths = system_mail_paths(ev, ev.catalogue)
    evidence: dict[str, EvidenceValue] = {
        **ev.base_evidence(),
        "files": tuple(_describe(r) for r in _judged_by(ev, control.id)),
    }
    if _email_util(ev):
        evidence["emailutil"] = _email_util(ev)
    if not paths:
        return control.finding(
            ev.target,
            Status.SKIP,
            "the system-mail script runs no sendemail and ssmtp holds no credentials",
            evidence,
        )
    verdicts = [_path_verdict(path) for path in paths]
    evidence["paths"] = tuple(text for _, text in verdicts)
    for wanted in (Status.FAIL, Status.WARN):
        hit = next((text for status, text in verdicts if status is wanted), None)
        if hit is not None:
            return control.finding(
                ev.target,
                wanted,
                hit,
                evidence,
                source("sendemail").remediation,
                severity=None if wanted is Status.FAIL else Severity.LOW,
            )
    return control.finding(ev.target, Status.PASS, verdicts[0][1], evidence)


def _evaluate_system_mail_secret(ev: HostEvidence) -> Finding:
    """SYS-02: no -xp on a command line; ssmtp.conf protected (root:mail 0640)."""
    control = get_control("SYS-02")
    if (early := unobserved(control.id, ev) or _system_mail_skip(ev, control.id)) is not None:
        return early
    problems: list[tuple[Severity, str]] = []
    for path in system_mail_paths(ev, ev.catalogue):
        if path.password_on_command_line:
            problems.append(
                (
                    Severity.HIGH,
                    f"{path.what} passes the password on its command line (-xp): "
                    "every local user sees it in the process list",
                )
            )
    confs = [
        r
        for r in _copies(ev, Role.SSMTP)
        if isinstance(r.parsed, sysmail.SsmtpConf) and r.parsed.auth_pass is not None
    ]
    for reading in confs:
        st = reading.facts.stat
        if st is not None and st.owner != "root":
            owner = f"{reading.path} is owned by {st.owner}, not root: that user can read it"
            problems.append((Severity.HIGH, owner))
        if st is not None:
            problems += _mode_problems(
                reading.path, st, groups=frozenset({"root", "mail"}), other=Severity.HIGH
            )
    evidence: dict[str, EvidenceValue] = {
        **ev.base_evidence(),
        "files": tuple(_describe(r) for r in _judged_by(ev, control.id)),
    }
    passed = "no password on a command line" + (", ssmtp.conf protected" if confs else "")
    return _verdict(control, ev, problems, evidence, passed, source("sendemail").remediation)


def _unless_unread(
    evaluate: Callable[[HostEvidence], Finding],
) -> Callable[[HostEvidence], Finding]:
    """A control that reads file contents never passes, skips or warns while a copy it judges
    could not be read (permission denied, binary, over the size cap): it did not evaluate
    that copy, so the finding is an error naming it. A fail found elsewhere stays a fail."""

    def judged(ev: HostEvidence) -> Finding:
        finding = evaluate(ev)
        control = get_control(finding.control_id)
        unread = [f"{r.path}: {r.unreadable}" for r in _judged_by(ev, control.id)
                  if r.parsed is None and r.unreadable]  # fmt: skip
        if not unread or finding.status in (Status.FAIL, Status.ERROR):
            return finding
        return control.finding(
            ev.target, Status.ERROR, f"not evaluated: cannot read {unread[0]}",
            {**finding.evidence, "unreadable": tuple(unread)},
            "Read the host's toolkit files through sudo (sudo = true for the host).",
        )  # fmt: skip

    judged.__doc__ = evaluate.__doc__
    return judged


evaluate_settings_match = _unless_unread(_evaluate_settings_match)
evaluate_system_mail_tls = _unless_unread(_evaluate_system_mail_tls)
evaluate_system_mail_secret = _unless_unread(_evaluate_system_mail_secret)
