"""The host controls (SPEC §4, target: host): the application's credential file (CRED-01…05),
the toolkit's settings files (CRED-06/07) and its system mail (SYS-01/02).

``server`` carries every file the controls read, gathered once per run in one remote command per
host; each check evaluates one control and ``verdict`` records the finding.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smtpcheck.credentials.controls import HOST_CONTROLS
from smtpcheck.credentials.evaluate import HostEvidence
from smtpcheck.findings import Finding

Verdict = Callable[[Finding], None]


@pytest.mark.control("CRED-01")
def test_credential_file_present(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["CRED-01"](server))


@pytest.mark.control("CRED-02")
def test_credential_file_protected(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["CRED-02"](server))


@pytest.mark.control("CRED-03")
def test_credential_file_well_formed(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["CRED-03"](server))


@pytest.mark.control("CRED-04")
def test_credentials_match_build_settings(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["CRED-04"](server))


@pytest.mark.control("CRED-05")
def test_transport_secure_and_consistent(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["CRED-05"](server))


@pytest.mark.control("CRED-06")
def test_toolkit_settings_protected(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["CRED-06"](server))


@pytest.mark.control("CRED-07")
def test_toolkit_settings_match(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["CRED-07"](server))


@pytest.mark.control("SYS-01")
def test_system_mail_tls(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["SYS-01"](server))


@pytest.mark.control("SYS-02")
def test_system_mail_password_hidden(server: HostEvidence, verdict: Verdict) -> None:
    verdict(HOST_CONTROLS["SYS-02"](server))
