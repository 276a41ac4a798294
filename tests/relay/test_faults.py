"""The faults a real relay cannot be made to produce on demand, served by aiosmtpd.

Each fault must end in the right phase with the right status and remediation, and — checked on
the server side too — no AUTH may ever arrive without TLS.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smtpcheck.findings import Finding, Status
from smtpcheck.lab.certs import LabCA
from smtpcheck.lab.fakerelay import FakeRelay, Fault
from smtpcheck.providers import ProviderCatalogue, TlsMode
from smtpcheck.relay import (
    RELAY_CONTROLS,
    Cause,
    Outcome,
    Phase,
    RelayEndpoint,
    RelaySession,
    evaluate_relay,
    resolve_endpoint,
    run_relay_session,
)
from smtpcheck.secrets import Secret
from tests.relay.conftest import CANARY, MAILJET_USER, RECIPIENT, SENDER, deployed

SES_HOST = "email-smtp.eu-west-1.amazonaws.com"


def _session(
    relay: FakeRelay,
    ca: LabCA,
    *,
    provider: str = "mailjet",
    port: int = 587,
    tls: TlsMode = TlsMode.STARTTLS,
    timeout: float = 5.0,
    send: bool = True,
) -> RelaySession:
    """A session against ``relay`` posing as ``provider``'s endpoint on ``port``."""
    override = {
        "connect_address": relay.address,
        "port_map": {str(port): relay.port},
        "ca_file": str(ca.ca_file),
    }
    catalogue = ProviderCatalogue.builtin().with_overrides({provider: override})
    host = deployed(catalogue.get(provider), port=port, tls=tls)
    endpoint = resolve_endpoint(host, catalogue)
    assert isinstance(endpoint, RelayEndpoint)
    return run_relay_session(endpoint, host, recipient=RECIPIENT, send=send, timeout=timeout)


@pytest.fixture
def relay(request: pytest.FixtureRequest, lab_ca: LabCA) -> Iterator[FakeRelay]:
    """A fault relay; ``@pytest.mark.parametrize("relay", [...], indirect=True)`` picks it."""
    spec = request.param if isinstance(request.param, dict) else {"fault": request.param}
    spec.setdefault("host", "in-v3.mailjet.com")
    with FakeRelay(ca=lab_ca, username=MAILJET_USER, password=Secret(CANARY), **spec) as server:
        yield server


def _by_id(session: RelaySession) -> dict[str, Finding]:
    return {finding.control_id: finding for finding in evaluate_relay(session)}


def _assert_no_auth_without_tls(relay: FakeRelay, session: RelaySession) -> None:
    assert "AUTH" not in relay.commands(tls=False)
    clear = [line.text for line in session.transcript if line.direction == "C"]
    if session.tls is None:
        assert not any(text.startswith("AUTH") for text in clear)


@pytest.mark.parametrize(
    ("relay", "tls"),
    [
        ({"fault": Fault.ACCEPT}, TlsMode.STARTTLS),
        ({"fault": Fault.ACCEPT, "implicit": True}, TlsMode.IMPLICIT),
    ],
    indirect=["relay"],
    ids=["starttls", "implicit"],
)
def test_healthy_relay_passes_everything(relay: FakeRelay, lab_ca: LabCA, tls: TlsMode) -> None:
    session = _session(relay, lab_ca, port=465 if relay.implicit else 587, tls=tls)
    assert session.failure is None, session.failure
    assert {f.status for f in evaluate_relay(session)} == {Status.PASS}
    assert session.queue_id == "FAKE0001"
    assert len(relay.messages) == 1
    assert session.token is not None
    assert session.token.encode() in relay.messages[0]
    assert relay.commands(tls=True)[:2] == ["EHLO", "AUTH"]
    _assert_no_auth_without_tls(relay, session)


@pytest.mark.parametrize("relay", [Fault.BANNER_421], indirect=True)
def test_421_greeting(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay, lab_ca)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.code) == (Phase.BANNER, 421)
    findings = _by_id(session)
    assert findings["SMTP-01"].status is Status.ERROR  # 4xx is transient (RFC 5321 §4.2.1)
    assert "refused the session (421)" in findings["SMTP-01"].remediation
    assert findings["SMTP-01"].evidence["reply_code"] == 421
    assert [findings[c].status for c in ("SMTP-02", "SMTP-03", "SMTP-04")] == [Status.SKIP] * 3
    assert findings["SMTP-02"].summary == "not reached: banner failed"
    assert relay.commands() == []  # it hung up after the greeting


@pytest.mark.parametrize("relay", [Fault.NO_STARTTLS], indirect=True)
def test_no_starttls_offered_means_no_auth(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay, lab_ca)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.STARTTLS, Outcome.REFUSED)
    assert session.starttls_offered is False
    findings = _by_id(session)
    assert findings["SMTP-02"].status is Status.FAIL
    assert "465" in findings["SMTP-02"].remediation
    assert findings["SMTP-03"].status is Status.SKIP
    assert relay.commands() == ["EHLO", "QUIT"]  # the server saw no AUTH, nor anything else
    _assert_no_auth_without_tls(relay, session)


@pytest.mark.parametrize("relay", [Fault.STARTTLS_454], indirect=True)
def test_starttls_454(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay, lab_ca)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.code) == (Phase.STARTTLS, 454)
    findings = _by_id(session)
    assert findings["SMTP-02"].status is Status.ERROR
    assert "454" in findings["SMTP-02"].remediation
    assert "AUTH" not in relay.commands()
    _assert_no_auth_without_tls(relay, session)


@pytest.mark.parametrize(
    ("relay", "code", "status", "advice"),
    [
        (Fault.AUTH_454, 454, Status.ERROR, "Temporary authentication failure"),
        (Fault.AUTH_530, 530, Status.FAIL, "wants encryption or authentication first"),
        (Fault.AUTH_535, 535, Status.FAIL, "API secret key"),
    ],
    indirect=["relay"],
)
def test_auth_refusals(
    relay: FakeRelay, lab_ca: LabCA, code: int, status: Status, advice: str
) -> None:
    session = _session(relay, lab_ca)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.code) == (Phase.AUTH, code)
    findings = _by_id(session)
    assert [findings[c].status for c in RELAY_CONTROLS] == [
        Status.PASS,
        Status.PASS,
        status,
        Status.SKIP,
    ]
    assert advice in findings["SMTP-03"].remediation
    assert relay.commands(tls=True).count("AUTH") == 1
    _assert_no_auth_without_tls(relay, session)


@pytest.mark.parametrize("relay", [{"fault": Fault.AUTH_535, "host": SES_HOST}], indirect=True)
def test_ses_535_explains_region_bound_smtp_credentials(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay, lab_ca, provider="ses")
    remediation = RELAY_CONTROLS["SMTP-03"](session).remediation
    assert "derived for region eu-west-1" in remediation
    assert "ses:SendRawEmail" in remediation


@pytest.mark.parametrize("relay", [Fault.REJECT_SENDER], indirect=True)
def test_rejected_sender(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay, lab_ca)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.code) == (Phase.MAIL_FROM, 553)
    smtp04 = RELAY_CONTROLS["SMTP-04"](session)
    assert smtp04.status is Status.FAIL
    assert f"validate {SENDER}" in smtp04.remediation  # Mailjet's sender validation
    assert smtp04.evidence["reply"] == relay.reply.split(" ", 1)[1]
    assert "DATA" not in relay.commands()


@pytest.mark.parametrize(
    ("relay", "advice"),
    [
        ({"fault": Fault.REJECT_MESSAGE, "host": SES_HOST}, "Verified identities"),
        (
            {
                "fault": Fault.REJECT_MESSAGE,
                "host": SES_HOST,
                "reply": "554 Message rejected: Email address is not verified. The following "
                f"identities failed the check in region EU-WEST-1: {RECIPIENT}",
            },
            "in the sandbox",
        ),
        (
            {
                "fault": Fault.REJECT_SENDER,
                "host": SES_HOST,
                "reply": "554 Access denied: User arn:aws:iam::123456789012:user/ses-smtp "
                "is not authorized to perform ses:SendRawEmail",
            },
            "attach a policy allowing ses:SendRawEmail",
        ),
    ],
    indirect=["relay"],
    ids=["sender not verified", "sandbox recipient", "IAM policy"],
)
def test_ses_rejections_name_the_ses_remedy(relay: FakeRelay, lab_ca: LabCA, advice: str) -> None:
    session = _session(relay, lab_ca, provider="ses")
    assert session.failure is not None
    assert session.failure.code == 554
    smtp04 = RELAY_CONTROLS["SMTP-04"](session)
    assert smtp04.status is Status.FAIL
    assert advice in smtp04.remediation
    assert "eu-west-1" in smtp04.remediation or "IAM" in smtp04.remediation


@pytest.mark.parametrize("relay", [Fault.REJECT_RECIPIENT], indirect=True)
def test_rejected_recipient(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay, lab_ca)
    assert session.failure is not None
    assert session.failure.phase is Phase.RCPT
    assert "SYSTEM_TOEMAIL_ADDRESS" in RELAY_CONTROLS["SMTP-04"](session).remediation


@pytest.mark.parametrize("relay", [Fault.DROP_IN_DATA], indirect=True)
def test_connection_dropped_mid_data(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay, lab_ca)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.DATA, Outcome.CLOSED)
    assert not session.accepted
    assert session.queue_id is None
    smtp04 = RELAY_CONTROLS["SMTP-04"](session)
    assert smtp04.status is Status.FAIL
    assert "not accepted (no 250)" in smtp04.remediation
    assert relay.messages == []


@pytest.mark.parametrize("relay", [{"fault": Fault.SLOW, "delay": 2.0}], indirect=True)
def test_server_slower_than_the_timeout(relay: FakeRelay, lab_ca: LabCA) -> None:
    session = _session(relay, lab_ca, timeout=0.3)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.BANNER, Outcome.TIMEOUT)
    smtp01 = RELAY_CONTROLS["SMTP-01"](session)
    assert smtp01.status is Status.FAIL
    assert "no answer within 0.3 s" in smtp01.summary
    assert "QUIT" not in [line.text for line in session.transcript]  # no second wait


@pytest.mark.parametrize(
    ("relay", "tls", "verify_message"),
    [
        (Fault.SELF_SIGNED, TlsMode.STARTTLS, "self-signed certificate"),
        (Fault.EXPIRED, TlsMode.STARTTLS, "certificate has expired"),
        (Fault.WRONG_HOST, TlsMode.STARTTLS, "Hostname mismatch"),
        ({"fault": Fault.SELF_SIGNED, "implicit": True}, TlsMode.IMPLICIT, "self-signed"),
        ({"fault": Fault.EXPIRED, "implicit": True}, TlsMode.IMPLICIT, "has expired"),
        ({"fault": Fault.WRONG_HOST, "implicit": True}, TlsMode.IMPLICIT, "Hostname mismatch"),
    ],
    indirect=["relay"],
    ids=lambda value: getattr(value, "value", None) or str(value),
)
def test_bad_certificates_stop_before_auth(
    relay: FakeRelay, lab_ca: LabCA, tls: TlsMode, verify_message: str
) -> None:
    session = _session(relay, lab_ca, port=465 if tls is TlsMode.IMPLICIT else 587, tls=tls)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.TLS, Outcome.CERTIFICATE)
    assert verify_message in session.failure.detail
    findings = _by_id(session)
    assert findings["SMTP-02"].status is Status.FAIL
    assert "Do not send credentials" in findings["SMTP-02"].remediation
    assert findings["SMTP-03"].status is Status.SKIP
    assert "AUTH" not in relay.commands()  # not with TLS, not without
    _assert_no_auth_without_tls(relay, session)


@pytest.mark.parametrize(
    ("relay", "tls"),
    [
        ({"fault": Fault.OLD_TLS}, TlsMode.STARTTLS),
        ({"fault": Fault.OLD_TLS, "implicit": True}, TlsMode.IMPLICIT),
    ],
    indirect=["relay"],
    ids=["starttls", "implicit"],
)
def test_tls_below_1_2_is_refused(relay: FakeRelay, lab_ca: LabCA, tls: TlsMode) -> None:
    session = _session(relay, lab_ca, port=465 if relay.implicit else 587, tls=tls)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.TLS, Outcome.TLS)
    assert session.failure.cause is Cause.OLD_TLS
    smtp02 = RELAY_CONTROLS["SMTP-02"](session)
    assert smtp02.status is Status.FAIL
    assert "no TLS 1.2 or newer" in smtp02.remediation
    assert "AUTH" not in relay.commands()


@pytest.mark.parametrize("relay", [Fault.ACCEPT], indirect=True)
def test_implicit_tls_against_a_starttls_port(relay: FakeRelay, lab_ca: LabCA) -> None:
    """Joomla's 'ssl' on a STARTTLS port: the server's greeting is not TLS."""
    session = _session(relay, lab_ca, port=465, tls=TlsMode.IMPLICIT)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.TLS, Outcome.TLS)
    assert "did not answer in TLS" in session.failure.detail
    assert "STARTTLS" in RELAY_CONTROLS["SMTP-02"](session).remediation
    assert "AUTH" not in relay.commands()


@pytest.mark.parametrize("relay", [{"fault": Fault.ACCEPT, "implicit": True}], indirect=True)
def test_starttls_against_an_implicit_port_times_out_at_the_greeting(
    relay: FakeRelay, lab_ca: LabCA
) -> None:
    """Joomla's 'tls' on 465: the server waits for a TLS ClientHello, the client for 220."""
    session = _session(relay, lab_ca, port=465, tls=TlsMode.STARTTLS, timeout=0.5)
    assert session.failure is not None
    assert (session.failure.phase, session.failure.outcome) == (Phase.BANNER, Outcome.TIMEOUT)
    smtp01 = RELAY_CONTROLS["SMTP-01"](session)
    assert "waiting for TLS first" in smtp01.remediation
    assert "serves port 465 with implicit TLS" in smtp01.remediation
