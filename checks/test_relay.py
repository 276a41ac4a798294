"""The live test message (SPEC §4, target: a relay endpoint with one credential set).

``relay`` carries the SMTP session run with the credentials deployed on the hosts (one session
per distinct credential set across the fleet) and, when a mailbox is configured, what arrived.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smtpcheck.findings import Finding
from smtpcheck.relay.evaluate import RELAY_CONTROLS, evaluate_delivery
from smtpcheck.relay.targets import RelayEvidence

Verdict = Callable[[Finding], None]


@pytest.mark.control("SMTP-01")
def test_relay_reachable(relay: RelayEvidence, verdict: Verdict) -> None:
    verdict(RELAY_CONTROLS["SMTP-01"](relay.session))


@pytest.mark.control("SMTP-02")
def test_tls_before_auth(relay: RelayEvidence, verdict: Verdict) -> None:
    verdict(RELAY_CONTROLS["SMTP-02"](relay.session))


@pytest.mark.control("SMTP-03")
def test_deployed_credentials_authenticate(relay: RelayEvidence, verdict: Verdict) -> None:
    verdict(RELAY_CONTROLS["SMTP-03"](relay.session))


@pytest.mark.control("SMTP-04")
def test_message_accepted(relay: RelayEvidence, verdict: Verdict) -> None:
    verdict(RELAY_CONTROLS["SMTP-04"](relay.session))


@pytest.mark.control("SMTP-05")
def test_message_delivered_and_authenticated(relay: RelayEvidence, verdict: Verdict) -> None:
    verdict(evaluate_delivery(relay.session, relay.delivery))
