"""Every host control's evaluator, by id: the one table ``checks/test_credentials.py`` reads."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from smtpcheck.credentials.evaluate import CRED_CONTROLS, WEB_USERS, HostEvidence
from smtpcheck.credentials.host import SourceReading, locate_app_file, read_toolkit_files
from smtpcheck.credentials.reading import CredentialReading, read_credentials
from smtpcheck.credentials.system import (
    evaluate_settings_match,
    evaluate_settings_protected,
    evaluate_system_mail_secret,
    evaluate_system_mail_tls,
)
from smtpcheck.findings import Finding
from smtpcheck.providers import ProviderCatalogue
from smtpcheck.remote.facts import HostObservation
from smtpcheck.settings import Expected

HOST_CONTROLS: Mapping[str, Callable[[HostEvidence], Finding]] = {
    **CRED_CONTROLS,
    "CRED-06": evaluate_settings_protected,
    "CRED-07": evaluate_settings_match,
    "SYS-01": evaluate_system_mail_tls,
    "SYS-02": evaluate_system_mail_secret,
}


def host_evidence(
    observation: HostObservation,
    expected: Expected,
    catalogue: ProviderCatalogue,
    *,
    web_users: frozenset[str] = WEB_USERS,
    max_note: str = "64 KiB",
    require_app_file: bool = False,
) -> HostEvidence:
    """Every reading of one observed host: the app's file as the app reads it, and each toolkit
    file of the registry."""
    target, facts = observation.target, observation.facts
    reading: CredentialReading | None = None
    toolkit: tuple[SourceReading, ...] = ()
    app_file = None
    if facts is not None:
        toolkit = read_toolkit_files(target, facts)
        app_file = locate_app_file(target, facts, toolkit)
        file = app_file.facts
        if file is not None and file.stat is not None and file.stat.is_regular:
            reading = read_credentials(
                file, target.app, catalogue, run_php=target.run_php, max_note=max_note
            )
    return HostEvidence(
        observation, expected, catalogue, reading, web_users, app_file, toolkit, require_app_file
    )
