"""CRED-01…CRED-05 (SPEC §4): the application's SMTP credential file on each web server.

Each check evaluates one control on one server; ``server`` carries the host's facts, gathered
once per run in one remote command, and ``verdict`` records the finding.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smtpcheck.credentials.evaluate import (
    HostEvidence,
    evaluate_present,
    evaluate_protected,
    evaluate_transport,
    evaluate_values_match,
    evaluate_well_formed,
)
from smtpcheck.findings import Finding

Verdict = Callable[[Finding], None]


@pytest.mark.control("CRED-01")
def test_credential_file_present(server: HostEvidence, verdict: Verdict) -> None:
    verdict(evaluate_present(server))


@pytest.mark.control("CRED-02")
def test_credential_file_protected(server: HostEvidence, verdict: Verdict) -> None:
    verdict(evaluate_protected(server))


@pytest.mark.control("CRED-03")
def test_credential_file_well_formed(server: HostEvidence, verdict: Verdict) -> None:
    verdict(evaluate_well_formed(server))


@pytest.mark.control("CRED-04")
def test_credentials_match_build_settings(server: HostEvidence, verdict: Verdict) -> None:
    verdict(evaluate_values_match(server))


@pytest.mark.control("CRED-05")
def test_transport_secure_and_consistent(server: HostEvidence, verdict: Verdict) -> None:
    verdict(evaluate_transport(server))
