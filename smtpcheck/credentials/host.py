"""From the registry to one host's readings: what to probe, which file the app uses, what each
toolkit file says.

``probe_plan`` turns the registry rows of the host's application into the arguments of the one
fact command. ``locate_app_file`` finds the credential file the application really reads (for
Joomla: the webroot named in application.dat, gen D's symlink, gen C's ``require`` stub).
``read_toolkit_files`` parses every settings, application.dat, SendEmail.sh and ssmtp.conf copy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial

from smtpcheck.credentials import joomla, sysmail, toolkit
from smtpcheck.credentials.reading import decode_content
from smtpcheck.credentials.sources import (
    JOOMLA_GEN_D_DIR,
    Role,
    Source,
    app_source,
    expand,
    sources_for,
)
from smtpcheck.remote.facts import FileFacts, HostFacts, ProbePlan
from smtpcheck.targets import App, HostTarget

Parsed = (
    toolkit.ToolkitSettings | toolkit.ApplicationDat | sysmail.SystemMailScript | sysmail.SsmtpConf
)
_READERS: Mapping[Role, Callable[[str], Parsed]] = {
    Role.SETTINGS: toolkit.parse_settings_dat,
    Role.APPLICATION_DAT: toolkit.parse_application_dat,
    Role.SYSTEM_MAIL: sysmail.parse_send_email,
    Role.SSMTP: sysmail.parse_ssmtp_conf,
}


def _php(path: str, source: Source, target: HostTarget) -> str:
    return f"php:{path}" if source.run_php and target.run_php else path


def probe_plan(target: HostTarget) -> ProbePlan:
    """Every path of every source of the host's application, in one command."""
    paths = [_php(path, s, target) for s in sources_for(target.app) for path in s.paths]
    follow = partial(follow_up_paths, target) if target.app is App.JOOMLA else None
    return ProbePlan(tuple(paths), target.server_user or "", follow)


def _is_file(facts: FileFacts | None) -> bool:
    return facts is not None and facts.exists and facts.stat is not None and facts.stat.is_regular


@dataclass(frozen=True)
class SourceReading:
    """One copy of a toolkit file: its facts and what its reader made of it."""

    source: Source
    path: str
    facts: FileFacts
    parsed: Parsed | None  # None: not a readable text file
    unreadable: str | None = None


def read_toolkit_files(target: HostTarget, facts: HostFacts) -> tuple[SourceReading, ...]:
    """Every existing copy of the host's toolkit files (all but the app's own file), parsed."""
    readings = []
    for src in sources_for(target.app):
        reader = _READERS.get(src.role)
        if reader is None:
            continue
        for template in src.paths:
            for path in expand(template, facts.homes):
                file = facts.files.get(path)
                if file is None or not (file.exists or file.link is not None):
                    continue
                text, why = decode_content(file) if _is_file(file) else (None, "not a file")
                parsed = reader(text) if text is not None else None
                readings.append(SourceReading(src, path, file, parsed, why))
    return tuple(readings)


def _named_config_paths(readings: Sequence[SourceReading]) -> list[tuple[str, str]]:
    """(path, what named it) of the configuration.php the host's application.dat names."""
    named = []
    for reading in readings:
        parsed = reading.parsed
        if not isinstance(parsed, toolkit.ApplicationDat):
            continue
        if parsed.config_file:
            named.append((parsed.config_file, f"CONFIG_FILE in {reading.path}"))
        if parsed.webroot:
            config = f"{parsed.webroot.rstrip('/')}/configuration.php"
            named.append((config, f"WEBROOT_DIRECTORY in {reading.path}"))
    return named


def _stub_target(file: FileFacts | None) -> str | None:
    """The path a gen C ``require`` stub loads, when ``file`` is one."""
    if not _is_file(file):
        return None
    assert file is not None
    text, _ = decode_content(file)
    return joomla.require_target(text) if text is not None else None


def follow_up_paths(target: HostTarget, facts: HostFacts) -> list[str]:
    """Joomla paths the first answer points at: application.dat's webroot, a stub's target
    (one round: a stub found by the follow-up is not followed again)."""
    src = app_source(App.JOOMLA)
    paths = [path for path, _ in _named_config_paths(read_toolkit_files(target, facts))]
    for path in [*paths, *src.paths]:
        if (stub := _stub_target(facts.files.get(path))) is not None:
            paths.append(stub)
    return [_php(path, src, target) for path in paths]


@dataclass(frozen=True)
class AppFile:
    """The application's credential file as the application reads it."""

    source: Source
    path: str  # the path the application opens (the webroot's configuration.php)
    facts: FileFacts | None  # of the file whose values count (a stub's target); None: not found
    candidates: tuple[str, ...]  # every path probed, in order
    via: str | None = None  # gen C's stub: "X requires Y"
    named_by: str | None = None  # "WEBROOT_DIRECTORY in ~/runtime/application.dat"
    also_present: tuple[str, ...] = ()  # other candidates that exist, not used

    @property
    def generation(self) -> str | None:
        """What the location says of the toolkit generation (None: nothing specific)."""
        if self.facts is None:
            return None
        if (self.facts.resolved or "").startswith(JOOMLA_GEN_D_DIR):
            return "D (configuration.php outside the webroot, symlinked)"
        if self.via is not None:
            return "C (webroot configuration.php requires the real one)"
        return None


def locate_app_file(
    target: HostTarget, facts: HostFacts, readings: Sequence[SourceReading]
) -> AppFile:
    """The first candidate that exists: application.dat's path, then the registry's paths."""
    src = app_source(target.app)
    named = dict(reversed(_named_config_paths(readings))) if target.app is App.JOOMLA else {}
    candidates = tuple(dict.fromkeys([*named, *src.paths]))
    present = [
        path for path in candidates
        if (file := facts.files.get(path)) is not None and (file.exists or file.link is not None)
    ]  # fmt: skip
    if not present:
        return AppFile(src, candidates[0], None, candidates, named_by=named.get(candidates[0]))
    path = present[0]
    file, via = facts.files[path], None
    stub = _stub_target(file) if target.app is App.JOOMLA else None
    if stub is not None and stub in facts.files:
        via, file = f"{path} requires {stub}", facts.files[stub]
    others = tuple(p for p in present[1:] if p != stub)
    return AppFile(src, path, file, candidates, via, named.get(path), others)


def is_generation_cd(readings: Sequence[SourceReading]) -> bool:
    """Positively gen C/D: the settings copy in ~/runtime (gens A/B keep only ~/.ssh) or gen D's
    services/email/SendEmail.sh."""
    return any(
        (r.source.role is Role.SETTINGS and "/runtime/" in r.path)
        or (r.source.role is Role.SYSTEM_MAIL and "/services/email/" in r.path)
        for r in readings
    )
