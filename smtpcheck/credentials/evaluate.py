"""CRED-01…CRED-05: pure evaluation of a host's credential file (SPEC §4).

Each evaluator takes the same :class:`HostEvidence` and returns exactly one finding. A host that
could not be observed gives ``error`` on every control; a missing file fails CRED-01 and makes
the others ``skip`` (not applicable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smtpcheck.catalogue import get_control
from smtpcheck.credentials.host import AppFile, SourceReading, is_generation_cd
from smtpcheck.credentials.reading import CredentialReading
from smtpcheck.credentials.transport import judge_transport
from smtpcheck.findings import ROOT_CAUSE, EvidenceValue, Finding, Severity, Status
from smtpcheck.providers import ProviderCatalogue
from smtpcheck.remote.facts import FileFacts, HostObservation
from smtpcheck.secrets import REDACTOR, Secret, fingerprint
from smtpcheck.settings import Expected
from smtpcheck.targets import App

WEB_USERS = frozenset({"www-data", "apache", "nginx", "http", "wwwrun"})

_PROBE_REMEDIATION = {
    "HostUnreachable": "Check that the host is up and that sshd listens on the port given "
    "(the toolkit uses 1035) and admits this machine (the toolkit's firewall opens SSH only to "
    "the build machine and the VPC).",
    "HostKeyUnknown": "Verify the host's key fingerprint out of band, then add it to "
    "known_hosts (ssh-keyscan -p PORT HOST), or pass --accept-new-host-keys to trust it on "
    "first use.",
    "HostKeyMismatch": "Do not proceed until the key change is explained: if the server was "
    "rebuilt, remove its old key (ssh-keygen -R '[HOST]:PORT') and add the new one.",
    "LoginRefused": "Check the user (the toolkit's X…X sudo user) and the identity file "
    "(id_ed25519_AGILE_DEPLOYMENT_BUILD_KEY_<build id>).",
    "RemoteCommandFailed": "The credential file is root-owned 0400: read it through sudo. "
    "Set sudo = true for the host and give the sudo password in the environment variable "
    "named by sudo_password_env.",
}


@dataclass(frozen=True)
class HostEvidence:
    """Everything the CRED controls judge, gathered once per host."""

    observation: HostObservation
    expected: Expected
    catalogue: ProviderCatalogue
    reading: CredentialReading | None = None
    web_users: frozenset[str] = field(default=WEB_USERS)
    app_file: AppFile | None = None  # None: the host could not be observed
    toolkit: tuple[SourceReading, ...] = ()  # every settings / system-mail file found
    require_app_file: bool = False  # [audit] require_credential_file: no gen C/D skip

    @property
    def target(self) -> str:
        return self.observation.target.name

    @property
    def file(self) -> FileFacts | None:
        return self.app_file.facts if self.app_file is not None else None

    @property
    def path(self) -> str:
        """The path the application opens for its credentials."""
        if self.app_file is not None:
            return self.app_file.path
        return self.observation.target.credential_path

    @property
    def generation_cd(self) -> bool:
        return is_generation_cd(self.toolkit)

    def base_evidence(self) -> dict[str, EvidenceValue]:
        facts = self.observation.facts
        evidence: dict[str, EvidenceValue] = {
            "app": self.observation.target.app.value,
            "path": self.path,
        }
        app_file = self.app_file
        if app_file is not None and app_file.via is not None and app_file.facts is not None:
            evidence["read"] = app_file.facts.path
            evidence["via"] = app_file.via
        if app_file is not None and app_file.named_by is not None:
            evidence["named_by"] = app_file.named_by
        if app_file is not None and app_file.generation is not None:
            evidence["generation"] = app_file.generation
        if facts is not None:
            evidence.update(hostname=facts.hostname, read_as=facts.read_as)
            if facts.notes:
                evidence["ssh"] = facts.notes
        return evidence


ROOT_CONTROL = "CRED-01"  # a host that could not be observed is reported there, once


def unobserved(control_id: str, ev: HostEvidence) -> Finding | None:
    """``error`` when the host could not be observed: the cause on CRED-01, and on every other
    host control "not evaluated", pointing at it (one cause, one error in the summary)."""
    obs = ev.observation
    if obs.facts is not None:
        return None
    kind = obs.failure_kind or "ProbeError"
    if control_id != ROOT_CONTROL:
        return get_control(control_id).finding(
            ev.target, Status.ERROR,
            f"not evaluated: the host could not be inspected (see {ROOT_CONTROL})",
            {**ev.base_evidence(), "failure": kind, ROOT_CAUSE: ROOT_CONTROL},
        )  # fmt: skip
    return get_control(control_id).finding(
        ev.target,
        Status.ERROR,
        f"could not inspect the host: {obs.failure}",
        {**ev.base_evidence(), "failure": kind},
        _PROBE_REMEDIATION.get(kind, "See the failure in the evidence."),
    )


GEN_CD_SKIP = (
    "generation C/D does not write this file; the credentials are checked in CRED-06/07 "
    "(the toolkit's settings files) and SYS-01/02 (its system mail)"
)


def _not_written(ev: HostEvidence) -> bool:
    """A WordPress/Moodle/Drupal host positively identified as gen C/D, without the file."""
    return (
        ev.observation.target.app is not App.JOOMLA
        and not ev.require_app_file
        and ev.generation_cd
        and (ev.file is None or not ev.file.exists)
    )


def _unobservable(control_id: str, ev: HostEvidence) -> Finding | None:
    """``error`` when the host could not be observed, ``skip`` when there is no file."""
    control = get_control(control_id)
    if (failed := unobserved(control_id, ev)) is not None:
        return failed
    if _not_written(ev):
        return control.finding(
            ev.target, Status.SKIP, GEN_CD_SKIP,
            {**ev.base_evidence(), "generation": "C/D (settings in ~/runtime or services/email)"},
            "Set require_credential_file = true in the [audit] table if this host must have it.",
        )  # fmt: skip
    file = ev.file
    if control_id != "CRED-01" and (file is None or not _is_regular(file)):
        return control.finding(
            ev.target, Status.SKIP, "no credential file to inspect (see CRED-01)",
            ev.base_evidence(),
        )  # fmt: skip
    return None


def _is_regular(file: FileFacts) -> bool:
    return file.exists and file.stat is not None and file.stat.is_regular


def evaluate_present(ev: HostEvidence) -> Finding:
    """CRED-01: the documented file exists and is a regular file (a symlink is followed)."""
    control = get_control("CRED-01")
    if (early := _unobservable(control.id, ev)) is not None:
        return early
    file, evidence = ev.file, ev.base_evidence()
    path = ev.path
    if ev.app_file is not None:
        evidence["probed"] = ev.app_file.candidates
        if ev.app_file.also_present:
            evidence["also_present"] = ev.app_file.also_present
    via = ev.app_file.via if ev.app_file is not None else None
    if via is not None and file is not None and not (file.exists or file.link is not None):
        return control.finding(
            ev.target, Status.FAIL, f"{via}, which does not exist", evidence,
            "Point the require at the real configuration.php, or replace the stub with it.",
        )  # fmt: skip
    if file is None or not (file.exists or file.link is not None):
        where = " or ".join(ev.app_file.candidates) if ev.app_file else path
        generation_note = (
            " Servers built with toolkit code from after 2024-10-26 (generations C and D) do "
            "not write this file: their SMTP settings live only in the application's mail plugin."
            if ev.observation.target.app is not App.JOOMLA
            else ""
        )
        fix = ev.app_file.source.remediation if ev.app_file else ""
        return control.finding(
            ev.target, Status.FAIL, f"no credential file at {where}", evidence,
            f"{fix}{generation_note}",
        )  # fmt: skip
    if file.link is not None:
        evidence.update(symlink_to=file.link, resolved=file.resolved)
    if file.stat is None:
        return control.finding(
            ev.target, Status.FAIL, f"{path} is a dangling symlink to {file.link}", evidence,
            "Point the symlink at the real configuration file or replace it with the file.",
        )  # fmt: skip
    evidence.update(type=file.stat.kind, size=file.stat.size)
    if not file.stat.is_regular:
        return control.finding(
            ev.target, Status.FAIL, f"{path} is a {file.stat.kind}, not a regular file", evidence,
            f"Replace {path} with the credential file itself.",
        )  # fmt: skip
    via = f" (symlink to {file.resolved})" if file.link is not None else ""
    if ev.app_file is not None and ev.app_file.via is not None:
        via += f" ({ev.app_file.via})"
    return control.finding(
        ev.target, Status.PASS, f"{path} is a regular file of {file.stat.size} bytes{via}", evidence
    )


def evaluate_protected(ev: HostEvidence) -> Finding:
    """CRED-02: nothing for other, no group write, owner root or the web-server user."""
    control = get_control("CRED-02")
    if (early := _unobservable(control.id, ev)) is not None:
        return early
    file = ev.file
    assert file is not None and file.stat is not None
    st = file.stat
    evidence = {**ev.base_evidence(), "mode": st.mode_text, "owner": st.owner, "group": st.group}
    if file.link is not None:
        evidence["resolved"] = file.resolved
    problems: list[tuple[Severity, str]] = []
    if st.mode & 0o004:
        problems.append((Severity.CRITICAL, f"readable by every local user (mode {st.mode_text})"))
    if st.mode & 0o002:
        problems.append((Severity.CRITICAL, f"writable by every local user (mode {st.mode_text})"))
    if st.mode & 0o001 and not st.mode & 0o006:
        problems.append((Severity.MEDIUM, f"has permissions for other (mode {st.mode_text})"))
    if st.mode & 0o020:
        problems.append((Severity.HIGH, f"writable by group {st.group} (mode {st.mode_text})"))
    if st.owner != "root" and st.owner not in ev.web_users:
        problems.append((Severity.HIGH, f"owned by {st.owner}, not root or the web-server user"))
    joomla_note = (
        " The toolkit's nightly utilities/security/EnforcePermissions.sh resets every file "
        "under /var/www/html to 644: exclude configuration.php from it or the fix will not last."
        if ev.observation.target.app is App.JOOMLA
        else ""
    )
    if problems:
        order = list(Severity)
        severity = min((sev for sev, _ in problems), key=order.index)
        evidence["problems"] = tuple(text for _, text in problems)
        return control.finding(
            ev.target, Status.FAIL, f"{file.path} is {problems[0][1]}", evidence,
            f"chmod 0400 (or 0600) {file.resolved or file.path} and chown it to root or the "
            f"web-server user.{joomla_note}",
            severity=severity,
        )  # fmt: skip
    if st.mode & 0o040 and st.group != "root" and st.group not in ev.web_users:
        return control.finding(
            ev.target, Status.WARN,
            f"{file.path} is readable by group {st.group} (mode {st.mode_text})", evidence,
            "Unless that group needs the SMTP password, chmod g-r.", severity=Severity.LOW,
        )  # fmt: skip
    return control.finding(
        ev.target, Status.PASS, f"{file.path} is {st.mode_text} {st.owner}:{st.group}", evidence
    )


def _reading_unavailable(control_id: str, ev: HostEvidence) -> Finding | None:
    """A finding when the file exists but its content could not be read."""
    reading = ev.reading
    if reading is not None and reading.unreadable is None:
        return None
    why = reading.unreadable if reading is not None else "the content was not read"
    denied = ev.file is not None and ev.file.denied
    # A file that is not text fails well-formedness; its values cannot be judged at all.
    status = Status.FAIL if control_id == "CRED-03" and not denied else Status.ERROR
    return get_control(control_id).finding(
        ev.target, status, f"cannot read the values: {why}",
        ev.base_evidence(),
        _PROBE_REMEDIATION["RemoteCommandFailed"] if denied
        else "Restore the credential file from the toolkit's ActivateSMTP output.",
    )  # fmt: skip


def evaluate_well_formed(ev: HostEvidence) -> Finding:
    """CRED-03: the five labelled lines, or Joomla's SMTP properties as valid PHP literals."""
    control = get_control("CRED-03")
    if (early := _unobservable(control.id, ev)) is not None:
        return early
    if (unread := _reading_unavailable(control.id, ev)) is not None:
        return unread
    reading = ev.reading
    assert reading is not None
    evidence = {**ev.base_evidence(), "shape": reading.shape, "reader": reading.reader}
    if reading.problems:
        evidence["problems"] = tuple(problem.message for problem in reading.problems)
    if reading.notes:
        evidence["static_reader_notes"] = reading.notes
    fatal = sorted(reading.fatal_problems, key=lambda problem: not problem.critical)
    if fatal:
        critical = fatal[0].critical
        return control.finding(
            ev.target, Status.FAIL, f"{reading.path}: {fatal[0].message}", evidence,
            "Remove everything but the class of property declarations from the file and find "
            "out who put the code there: the site may be compromised." if critical
            else _format_remediation(ev.observation.target.app),
            severity=Severity.CRITICAL if critical else None,
        )  # fmt: skip
    if reading.problems:
        return control.finding(
            ev.target, Status.WARN, f"{reading.path}: {reading.problems[0].message}", evidence,
            _format_remediation(ev.observation.target.app), severity=Severity.LOW,
        )  # fmt: skip
    return control.finding(
        ev.target, Status.PASS, f"{reading.path} is well-formed ({reading.shape})", evidence
    )


def _format_remediation(app: App) -> str:
    if app is App.JOOMLA:
        return (
            "Write every SMTP property as a quoted PHP literal, e.g. "
            "public $smtphost = 'smtp-pulse.com'; and public $smtpport = 465; "
            "(check with: php -l configuration.php)."
        )
    return (
        "Rewrite the file as exactly five lines: FROM ADDRESS:, USERNAME:, PASSWORD:, "
        "EMAIL PROVIDER: (1, 2 or 3) and PORT:, each followed by one space and the value."
    )


NO_SETTINGS_FIX = "Give the SYSTEM_EMAIL_* values: environment, --adt-template or the config file."


def compare_text(found: str | None, expected: str, *, fold: bool) -> str:
    if found is None:
        return "absent from the file"
    a, b = (found.casefold(), expected.casefold()) if fold else (found, expected)
    if a == b:
        return "matches"
    if ":" in expected and a == b.rsplit(":", 1)[1]:
        return "differs: truncated at ':' (the toolkit splits config values on ':')"
    return f"differs: file has {REDACTOR.excerpt(found)}, expected {REDACTOR.excerpt(expected)}"


def compare_password(found: Secret | None, expected: Secret) -> str:
    if found is None or not found:
        return "absent from the file"
    if found.matches(expected):
        return "matches"
    tail = expected.reveal().rsplit(":", 1)[-1]
    if ":" in expected.reveal() and found.matches(Secret(tail)):
        return "differs: truncated at ':' (the toolkit splits config values on ':')"
    return "differs"


def evaluate_values_match(ev: HostEvidence) -> Finding:
    """CRED-04: from address, user name, password (without disclosure) and provider match."""
    control = get_control("CRED-04")
    if (early := _unobservable(control.id, ev)) is not None:
        return early
    exp = ev.expected
    if exp.is_empty:
        return control.finding(
            ev.target, Status.ERROR, "no build-time settings given: nothing was compared",
            ev.base_evidence(), NO_SETTINGS_FIX,
        )  # fmt: skip
    if (unread := _reading_unavailable(control.id, ev)) is not None:
        return unread
    assert ev.reading is not None and ev.reading.deployed is not None
    dep = ev.reading.deployed
    results: dict[str, str] = {}
    if exp.from_address:
        results["from_address"] = compare_text(dep.from_address, exp.from_address, fold=True)
    if exp.username:
        results["username"] = compare_text(dep.username, exp.username, fold=False)
    if exp.password is not None:
        results["password"] = compare_password(dep.password, exp.password)
    if exp.provider is not None:
        found = dep.provider.name if dep.provider else "unknown"
        results["provider"] = (
            "matches" if dep.provider == exp.provider
            else f"differs: file has {found}, expected {exp.provider.name}"
        )  # fmt: skip
    evidence: dict[str, EvidenceValue] = {**ev.base_evidence(), **results}
    if dep.password is not None and dep.password:
        evidence["password_fingerprint"] = fingerprint(dep.password)
    evidence["expected_from"] = tuple(sorted(set(exp.sources.values())))
    differing = [name for name, verdict in results.items() if verdict != "matches"]
    if differing:
        first = differing[0]
        return control.finding(
            ev.target, Status.FAIL,
            f"{first.replace('_', ' ')} {results[first]}" if first != "password"
            else f"password {results[first]}",
            evidence,
            "Re-run the toolkit's ActivateSMTP with the build-time values, or correct the file; "
            "values containing ':' must be avoided (the toolkit keeps only the last part).",
        )  # fmt: skip
    checked = ", ".join(name.replace("_", " ") for name in results)
    if exp.password is None:
        return control.finding(
            ev.target, Status.WARN, f"{checked} match; password not compared", evidence,
            "Give SYSTEM_EMAIL_PASSWORD (environment or --adt-template) so the password is "
            "compared too.", severity=Severity.MEDIUM,
        )  # fmt: skip
    return control.finding(ev.target, Status.PASS, f"{checked} match", evidence)


def evaluate_transport(ev: HostEvidence) -> Finding:
    """CRED-05: known provider, a port it serves, TLS on (and Joomla's own settings)."""
    control = get_control("CRED-05")
    if (early := _unobservable(control.id, ev)) is not None:
        return early
    if (unread := _reading_unavailable(control.id, ev)) is not None:
        return unread
    assert ev.reading is not None and ev.reading.deployed is not None
    status, summary, remediation, extra = judge_transport(
        ev.reading, ev.observation.target.app, ev.catalogue
    )
    evidence = {**ev.base_evidence(), **ev.reading.settings, **extra}
    severity = Severity.LOW if status is Status.WARN else None
    return control.finding(ev.target, status, summary, evidence, remediation, severity=severity)


CRED_CONTROLS: Mapping[str, Callable[[HostEvidence], Finding]] = {
    "CRED-01": evaluate_present,
    "CRED-02": evaluate_protected,
    "CRED-03": evaluate_well_formed,
    "CRED-04": evaluate_values_match,
    "CRED-05": evaluate_transport,
}
