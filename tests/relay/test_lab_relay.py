"""The full chain against a real provider on loopback: credential file → send → IMAP → DKIM.

postfix (implicit TLS and STARTTLS submission, dovecot SASL), opendkim signing with its key in
NSD, a second hop whose opendkim writes Authentication-Results, dovecot IMAP for the mailbox.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from smtpcheck.findings import Status
from smtpcheck.lab.nsd import NsdServer, zone_text
from smtpcheck.mailauth.resolver import make_dns_client
from smtpcheck.providers import TlsMode
from smtpcheck.relay import (
    RELAY_CONTROLS,
    Outcome,
    Phase,
    RelayEndpoint,
    dns_resolve,
    evaluate_delivery,
    evaluate_relay,
    fetch_delivery,
    mailbox_settings,
    resolve_endpoint,
    run_relay_session,
)
from smtpcheck.relay.message import new_token
from tests.relay.conftest import RECIPIENT, Lab, deployed

pytestmark = pytest.mark.lab


def _endpoint(lab: Lab, **kwargs: object) -> RelayEndpoint:
    endpoint = resolve_endpoint(deployed(lab.mailjet, **kwargs), lab.catalogue)  # type: ignore[arg-type]
    assert isinstance(endpoint, RelayEndpoint)
    return endpoint


def _statuses(findings: list) -> dict[str, Status]:  # type: ignore[type-arg]
    return {finding.control_id: finding.status for finding in findings}


@pytest.mark.parametrize(
    ("port", "tls"), [(465, TlsMode.IMPLICIT), (587, TlsMode.STARTTLS)], ids=["465", "587"]
)
def test_full_chain_send_arrives_with_verified_dkim(
    lab: Lab, mailbox_env: str, port: int, tls: TlsMode
) -> None:
    host = deployed(lab.mailjet, port=port, tls=tls)
    endpoint = _endpoint(lab, port=port, tls=tls)
    session = run_relay_session(endpoint, host, recipient=RECIPIENT, send=True, timeout=10)
    assert session.failure is None, session.failure
    assert _statuses(evaluate_relay(session)) == dict.fromkeys(RELAY_CONTROLS, Status.PASS)
    assert session.tls is not None
    assert session.tls.version in ("TLSv1.2", "TLSv1.3")
    assert session.tls.mode is tls
    assert session.queue_id
    assert session.token

    table = lab.stack.mailbox_table(mailbox_env) | {"poll_interval": 0.1, "timeout": 20}
    settings = mailbox_settings(table)
    delivery = fetch_delivery(
        settings, session.token, sent_at=session.sent_at, dkim_dns=lab.resolver
    )
    assert delivery.error is None
    arrived = delivery.arrived
    assert arrived is not None
    assert arrived.folder == "INBOX"
    assert arrived.dkim.verified, arrived.dkim
    assert (arrived.dkim.domain, arrived.dkim.selector) == ("example.test", "mailjet")
    assert arrived.auth_results is not None
    assert arrived.auth_results.authserv_id == "mx.recipient.test"
    assert arrived.removed == "deleted"
    finding = evaluate_delivery(session, delivery)
    assert finding.status is Status.PASS, finding.summary
    assert finding.evidence["dkim"] == "pass"
    assert finding.evidence["dmarc"] == "pass (aligned DKIM, computed)"

    again = fetch_delivery(replace(settings, timeout=0.3), session.token)
    assert again.arrived is None  # the test message was deleted


def test_no_send_authenticates_and_sends_nothing(lab: Lab) -> None:
    endpoint = _endpoint(lab)
    session = run_relay_session(
        endpoint, deployed(lab.mailjet), recipient=RECIPIENT, send=False, timeout=10
    )
    findings = {f.control_id: f for f in evaluate_relay(session)}
    assert _statuses(list(findings.values())) == {
        "SMTP-01": Status.PASS,
        "SMTP-02": Status.PASS,
        "SMTP-03": Status.PASS,
        "SMTP-04": Status.SKIP,
    }
    assert session.token is None
    sent = [line.text for line in session.transcript if line.direction == "C"]
    assert not any(text.startswith(("MAIL", "RCPT", "DATA")) for text in sent)
    assert sent[-1] == "QUIT"


def test_relay_name_resolves_through_the_run_resolver(lab: Lab) -> None:
    """No connect_address: the name is looked up in the lab NSD, the port still mapped."""
    catalogue = lab.catalogue.with_overrides({"mailjet": {"connect_address": ""}})
    endpoint = resolve_endpoint(deployed(catalogue.get("mailjet")), catalogue)
    assert isinstance(endpoint, RelayEndpoint)
    assert endpoint.connect_address is None
    session = run_relay_session(
        endpoint,
        deployed(lab.mailjet),
        recipient=RECIPIENT,
        send=False,
        timeout=10,
        dns_resolve=dns_resolve(lab.resolver),
    )
    assert session.failure is None, session.failure
    assert session.addresses == ("127.0.0.1",)


def test_ses_region_without_smtp_endpoint_fails_to_resolve(lab: Lab) -> None:
    endpoint = resolve_endpoint(
        deployed(None, host="email-smtp.ap-southeast-3.amazonaws.com", port=587,
                 tls=TlsMode.STARTTLS),
        lab.catalogue,
    )  # fmt: skip
    assert isinstance(endpoint, RelayEndpoint)
    session = run_relay_session(
        endpoint,
        deployed(None),
        recipient=RECIPIENT,
        send=True,
        timeout=5,
        dns_resolve=dns_resolve(lab.resolver),
    )
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.RESOLVE, Outcome.NAME)
    smtp01 = RELAY_CONTROLS["SMTP-01"](session)
    assert smtp01.status is Status.FAIL
    assert "no SMTP endpoint in region ap-southeast-3" in smtp01.remediation
    assert RELAY_CONTROLS["SMTP-02"](session).summary == "not reached: resolve failed"


def test_wrong_password_is_535_from_the_real_relay(lab: Lab) -> None:
    host = deployed(lab.mailjet, password="not-the-secret")
    session = run_relay_session(_endpoint(lab), host, recipient=RECIPIENT, send=True, timeout=10)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.code) == (Phase.AUTH, 535)
    statuses = _statuses(evaluate_relay(session))
    assert statuses == {
        "SMTP-01": Status.PASS,
        "SMTP-02": Status.PASS,
        "SMTP-03": Status.FAIL,
        "SMTP-04": Status.SKIP,
    }
    assert "API secret key" in RELAY_CONTROLS["SMTP-03"](session).remediation


def test_unvalidated_sender_is_refused_by_the_real_relay(lab: Lab) -> None:
    host = deployed(lab.mailjet, from_address="someone@example.test")
    session = run_relay_session(_endpoint(lab), host, recipient=RECIPIENT, send=True, timeout=10)
    assert session.failure is not None
    # postfix answers sender restrictions at RCPT TO (smtpd_delay_reject=yes, its default)
    assert (session.failure.phase, session.failure.code) == (Phase.RCPT, 553)
    assert "Sender address rejected" in (session.failure.reply or "")
    smtp04 = RELAY_CONTROLS["SMTP-04"](session)
    assert smtp04.status is Status.FAIL
    assert "validate someone@example.test" in smtp04.remediation
    assert smtp04.evidence["token"] == session.token


def test_joomla_default_port_25_is_closed(lab: Lab) -> None:
    """Gen C main: $smtp_port ignored, Joomla dials 25, which the lab (like clouds) blocks."""
    host = deployed(
        lab.mailjet, port=25, tls=TlsMode.STARTTLS, host="in-v3.mailjet.com",
        source="/var/www/html/configuration.php",
    )  # fmt: skip
    endpoint = resolve_endpoint(host, lab.catalogue)
    assert isinstance(endpoint, RelayEndpoint)
    session = run_relay_session(endpoint, host, recipient=RECIPIENT, send=True, timeout=5)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.CONNECT, Outcome.NETWORK)
    smtp01 = RELAY_CONTROLS["SMTP-01"](session)
    assert smtp01.status is Status.FAIL
    assert "$smtpport" in smtp01.remediation


def test_cleartext_configuration_never_sends_auth(lab: Lab) -> None:
    """The toolkit's `sendemail -o tls=no` on 2525: a failing finding, not a send."""
    host = deployed(lab.mailjet, port=2525, tls=TlsMode.NONE)
    endpoint = _endpoint(lab, port=2525, tls=TlsMode.NONE)
    session = run_relay_session(endpoint, host, recipient=RECIPIENT, send=True, timeout=10)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.STARTTLS, Outcome.REFUSED)
    assert session.starttls_offered is True
    sent = [line.text for line in session.transcript if line.direction == "C"]
    assert sent == ["EHLO " + sent[0].split(" ", 1)[1], "QUIT"]
    findings = {f.control_id: f for f in evaluate_relay(session)}
    assert findings["SMTP-02"].status is Status.FAIL
    assert "tls=yes" in findings["SMTP-02"].remediation
    assert findings["SMTP-03"].status is Status.SKIP


def test_dkim_key_missing_from_dns_fails_delivery(
    lab: Lab, mailbox_env: str, tmp_path: Path
) -> None:
    """The from-domain never published the provider's key: what arrived does not verify."""
    host = deployed(lab.mailjet)
    session = run_relay_session(_endpoint(lab), host, recipient=RECIPIENT, send=True, timeout=10)
    assert session.token is not None
    zones = {"example.test": zone_text("example.test", "www 300 IN A 127.0.0.1")}
    with NsdServer(tmp_path / "nsd", zones) as bare:
        resolver = make_dns_client([bare.nameserver])
        settings = mailbox_settings(
            lab.stack.mailbox_table(mailbox_env) | {"poll_interval": 0.1, "timeout": 20}
        )
        delivery = fetch_delivery(settings, session.token, sent_at=session.sent_at,
                                  dkim_dns=resolver)  # fmt: skip
    assert delivery.arrived is not None
    assert not delivery.arrived.dkim.verified
    assert delivery.arrived.dkim.domain == "example.test"
    finding = evaluate_delivery(session, delivery)
    assert finding.status is Status.FAIL
    assert "DKIM does not verify" in finding.summary


def test_absent_message_and_missing_folder_are_reported(lab: Lab, mailbox_env: str) -> None:
    """A token that never arrives: fail after the timeout, having polled more than once."""
    settings = mailbox_settings(
        lab.stack.mailbox_table(mailbox_env)
        | {"folders": ["INBOX", "Spam"], "poll_interval": 0.1, "timeout": 0.5}
    )
    delivery = fetch_delivery(settings, new_token())
    assert delivery.error is None
    assert delivery.arrived is None
    assert delivery.polls > 1
    assert delivery.notes == ("folder 'Spam' cannot be selected",)


def test_wrong_mailbox_password_is_an_error_not_an_exception(lab: Lab) -> None:
    settings = mailbox_settings(
        lab.stack.mailbox_table("WRONG_MAILBOX_PW"), {"WRONG_MAILBOX_PW": "not-it"}
    )
    delivery = fetch_delivery(settings, new_token())
    assert delivery.arrived is None
    assert delivery.error is not None
    assert "AUTHENTICATIONFAILED" in delivery.error or "failed" in delivery.error.lower()
    assert "not-it" not in delivery.error
