"""The canary: a planted password never appears in a transcript, evidence, repr, log or output.

Every form it travels in is checked: itself, base64 (AUTH LOGIN), and AUTH PLAIN's
``\\0user\\0password`` and ``user\\0user\\0password`` in base64 (SPEC §5).
"""

from __future__ import annotations

import json
import logging

import pytest

from smtpcheck.lab.certs import LabCA
from smtpcheck.lab.fakerelay import FakeRelay, Fault
from smtpcheck.providers import ProviderCatalogue, TlsMode
from smtpcheck.relay import (
    RelayEndpoint,
    RelaySession,
    evaluate_delivery,
    evaluate_relay,
    fetch_delivery,
    mailbox_settings,
    relay_job_key,
    resolve_endpoint,
    run_relay_session,
)
from smtpcheck.relay.transcript import render_transcript
from smtpcheck.secrets import Secret, encoded_forms
from tests.relay.conftest import CANARY, MAILJET_USER, RECIPIENT, Lab, deployed

FORMS = encoded_forms(CANARY, [MAILJET_USER])


def _everything(session: RelaySession, *more: object) -> str:
    findings = evaluate_relay(session)
    parts = [
        repr(session),
        str(session),
        "\n".join(render_transcript(session.transcript)),
        json.dumps([f.to_dict() for f in findings]),
        repr(findings),
        *(repr(item) for item in more),
    ]
    return "\n".join(parts)


def _assert_clean(text: str) -> None:
    leaked = sum(form in text for form in FORMS)  # a count: a failing assert must not print it
    assert leaked == 0, f"{leaked} encoded form(s) of the canary leaked"


@pytest.mark.lab
def test_canary_absent_from_a_full_round_trip(
    lab: Lab, mailbox_env: str, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    host = deployed(lab.mailjet)
    endpoint = resolve_endpoint(host, lab.catalogue)
    assert isinstance(endpoint, RelayEndpoint)
    session = run_relay_session(endpoint, host, recipient=RECIPIENT, send=True, timeout=10)
    assert session.accepted
    assert any("AUTH PLAIN <redacted>" in line.text for line in session.transcript)
    settings = mailbox_settings(lab.stack.mailbox_table(mailbox_env) | {"poll_interval": 0.1})
    delivery = fetch_delivery(settings, session.token or "", sent_at=session.sent_at,
                              dkim_dns=lab.resolver)  # fmt: skip
    finding = evaluate_delivery(session, delivery)
    key = relay_job_key(endpoint, host)
    out, err = capfd.readouterr()
    _assert_clean(_everything(session, delivery, finding, finding.to_dict(), key, host, endpoint))
    _assert_clean(caplog.text + out + err)


@pytest.mark.parametrize(
    ("fault", "provider"),
    [(Fault.AUTH_535, "mailjet"), (Fault.AUTH_535, "ses"), (Fault.ACCEPT, "ses")],
    ids=["PLAIN refused", "LOGIN refused", "LOGIN accepted"],
)
def test_canary_absent_when_auth_fails_or_uses_login(
    lab_ca: LabCA,
    fault: Fault,
    provider: str,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)  # aiosmtpd logs what it receives at debug level
    builtin = ProviderCatalogue.builtin()
    name = builtin.get(provider).endpoint  # type: ignore[union-attr]
    with FakeRelay(
        fault, lab_ca, host=name, username=MAILJET_USER, password=Secret(CANARY)
    ) as relay:
        catalogue = builtin.with_overrides(
            {provider: {"connect_address": relay.address, "port_map": {"587": relay.port},
                        "ca_file": str(lab_ca.ca_file)}}
        )  # fmt: skip
        host = deployed(catalogue.get(provider), port=587, tls=TlsMode.STARTTLS)
        endpoint = resolve_endpoint(host, catalogue)
        assert isinstance(endpoint, RelayEndpoint)
        session = run_relay_session(endpoint, host, recipient=RECIPIENT, send=True, timeout=5)
    expected = "PLAIN" if provider == "mailjet" else "LOGIN"
    assert session.auth_mechanism == expected
    assert session.authenticated is (fault is Fault.ACCEPT)
    out, err = capfd.readouterr()
    _assert_clean(_everything(session, relay.received))
    _assert_clean(out + err)
    # aiosmtpd's own debug log is the fake server's, not smtpcheck's output; it is checked
    # too because a test run prints it on failure.
    _assert_clean(caplog.text)
