"""The evaluators on sessions and deliveries built by hand: one finding per control, pure."""

from __future__ import annotations

from dataclasses import replace

import pytest

from smtpcheck.findings import Status
from smtpcheck.providers import ProviderCatalogue, TlsMode
from smtpcheck.relay import (
    RELAY_CONTROLS,
    EndpointProblem,
    Outcome,
    Phase,
    PhaseFailure,
    RelayEndpoint,
    RelaySession,
    evaluate_delivery,
    evaluate_relay,
    resolve_endpoint,
    session_for_problem,
)
from smtpcheck.relay.authresults import parse_authentication_results
from smtpcheck.relay.delivery import ArrivedMessage, Delivery, DkimCheck
from smtpcheck.relay.model import TlsFacts
from tests.relay.conftest import RECIPIENT, SENDER, deployed

CATALOGUE = ProviderCatalogue.builtin()
TOKEN = "smtpcheck-0123456789abcdef0123"
ALL = (Phase.RESOLVE, Phase.CONNECT, Phase.TLS, Phase.BANNER, Phase.EHLO, Phase.AUTH,
       Phase.MAIL_FROM, Phase.RCPT, Phase.DATA)  # fmt: skip


def _accepted(provider: str = "mailjet") -> RelaySession:
    host = deployed(CATALOGUE.get(provider))
    endpoint = resolve_endpoint(host, CATALOGUE)
    assert isinstance(endpoint, RelayEndpoint)
    tls = TlsFacts(TlsMode.IMPLICIT, "TLSv1.3", "TLS_AES_256_GCM_SHA384", 256,
                   endpoint.host, "CN=x", "CN=ca", "Jan 1 00:00:00 2030 GMT", ())  # fmt: skip
    return RelaySession(
        target="t", endpoint=endpoint, username=host.username, password_fingerprint="hmac:1",
        from_address=SENDER, recipient=RECIPIENT, send_requested=True, hosts=("web1",),
        started_at="2026-01-01T00:00:00+00:00", completed=ALL, failure=None,
        addresses=("192.0.2.1",), banner="220 ok", tls=tls, auth_mechanism="PLAIN",
        auth_reply="235 ok", token=TOKEN, queue_id="Q1", accepted_reply="250 Ok",
        sent_at=1000.0,
    )  # fmt: skip


def _failed(phase: Phase, outcome: Outcome, code: int | None = None) -> RelaySession:
    done = ALL[: ALL.index(phase)]
    session = _accepted()
    return replace(
        session,
        completed=done,
        failure=PhaseFailure(phase, outcome, "detail", code, f"{code} text" if code else None),
        tls=session.tls if Phase.TLS in done else None,
    )


def _statuses(session: RelaySession) -> list[Status]:
    return [finding.status for finding in evaluate_relay(session)]


P, F, E, S = Status.PASS, Status.FAIL, Status.ERROR, Status.SKIP


@pytest.mark.parametrize(
    ("phase", "outcome", "code", "expected"),
    [
        (Phase.RESOLVE, Outcome.NAME, None, [F, S, S, S]),
        (Phase.RESOLVE, Outcome.TIMEOUT, None, [E, S, S, S]),  # the resolver said nothing
        (Phase.CONNECT, Outcome.NETWORK, None, [F, S, S, S]),
        (Phase.TLS, Outcome.CERTIFICATE, None, [E, F, S, S]),  # implicit: no greeting was read
        (Phase.BANNER, Outcome.REPLY, 554, [F, P, S, S]),
        (Phase.BANNER, Outcome.REPLY, 421, [E, P, S, S]),
        (Phase.AUTH, Outcome.REPLY, 535, [P, P, F, S]),
        (Phase.AUTH, Outcome.REPLY, 454, [P, P, E, S]),
        (Phase.AUTH, Outcome.REFUSED, None, [P, P, F, S]),
        (Phase.MAIL_FROM, Outcome.REPLY, 550, [P, P, P, F]),
        (Phase.MAIL_FROM, Outcome.UNCONFIGURED, None, [P, P, P, E]),
        (Phase.RCPT, Outcome.REPLY, 451, [P, P, P, E]),
        (Phase.DATA, Outcome.CLOSED, None, [P, P, P, F]),
    ],
)
def test_the_control_owning_the_failed_phase_answers_for_it(
    phase: Phase, outcome: Outcome, code: int | None, expected: list[Status]
) -> None:
    assert _statuses(_failed(phase, outcome, code)) == expected


def test_each_control_gives_exactly_one_finding_with_its_id() -> None:
    session = _accepted()
    findings = [control(session) for control in RELAY_CONTROLS.values()]
    assert [f.control_id for f in findings] == ["SMTP-01", "SMTP-02", "SMTP-03", "SMTP-04"]
    assert all(f.target == "t" for f in findings)


def test_failing_finding_carries_phase_reply_and_remediation() -> None:
    finding = RELAY_CONTROLS["SMTP-03"](_failed(Phase.AUTH, Outcome.REPLY, 535))
    assert finding.evidence["failed_phase"] == "AUTH"
    assert finding.evidence["reply_code"] == 535
    assert finding.evidence["reply"] == "535 text"
    assert finding.summary == "AUTH: the relay answered 535 535 text"
    assert finding.remediation
    assert "transcript" in finding.evidence


def test_skipped_findings_say_what_was_not_reached_and_carry_no_remediation() -> None:
    finding = RELAY_CONTROLS["SMTP-04"](_failed(Phase.CONNECT, Outcome.NETWORK))
    assert finding.status is Status.SKIP
    assert finding.summary == "not reached: connect failed"
    assert finding.remediation == ""


def test_no_send_skips_smtp04_only() -> None:
    session = replace(_accepted(), send_requested=False, completed=ALL[:6], token=None)
    assert _statuses(session) == [P, P, P, S]
    assert RELAY_CONTROLS["SMTP-04"](session).summary == "--no-send: no test message was sent"


def test_endpoint_problem_fails_smtp01_and_skips_the_rest() -> None:
    problem = EndpointProblem("/var/www/wordpresssmtp", "names no provider", "Set EMAIL PROVIDER")
    session = session_for_problem(problem, deployed(None), recipient=RECIPIENT, send=True)
    findings = evaluate_relay(session)
    assert [f.status for f in findings] == [F, S, S, S]
    assert findings[0].remediation == "Set EMAIL PROVIDER"
    assert findings[0].target == "/var/www/wordpresssmtp"


def _delivery(**arrived: object) -> Delivery:
    header = parse_authentication_results(
        "mx.recipient.test; spf=pass smtp.mailfrom=bounce.mailjet.com; dkim=pass "
        "header.d=example.test; dmarc=pass header.from=example.test"
    )
    message = ArrivedMessage(
        folder="INBOX", uid="7", latency_s=1.25, internal_date=None, size=900,
        from_header=SENDER, dkim=DkimCheck(True, "example.test", "mailjet", "ok", 1),
        auth_results=header, removed="deleted",
    )  # fmt: skip
    values = {"arrived": replace(message, **arrived)}  # type: ignore[arg-type]
    return Delivery("m", TOKEN, ("INBOX", "Junk"), 30.0, 1.3, 2, **values)  # type: ignore[arg-type]


def test_delivered_and_authenticated_passes() -> None:
    finding = evaluate_delivery(_accepted(), _delivery())
    assert finding.status is Status.PASS
    assert finding.summary == (
        "delivered to INBOX after 1.2 s; DKIM verified (d=example.test, s=mailjet)"
    )
    assert finding.evidence["latency_ms"] == 1250
    assert (finding.evidence["spf"], finding.evidence["dmarc"]) == ("pass", "pass")


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"folder": "Junk"}, Status.WARN, "delivered to Junk"),
        ({"dkim": DkimCheck(False, "example.test", "mailjet", "body hash mismatch", 1)},
         Status.FAIL, "DKIM does not verify: body hash mismatch"),
        ({"auth_results": parse_authentication_results("mx; spf=softfail; dkim=pass")},
         Status.WARN, "spf=softfail"),
        ({"auth_results": parse_authentication_results("mx; dkim=pass; dmarc=fail")},
         Status.FAIL, "dmarc=fail"),
        ({"auth_results": None, "dkim": DkimCheck(True, "mailjet.com", "s1", "ok", 1)},
         Status.FAIL, "DMARC cannot pass: no aligned DKIM signature and no SPF pass"),
        ({"auth_results": parse_authentication_results("mx; spf=pass; dkim=pass"),
          "dkim": DkimCheck(True, "mailjet.com", "s1", "ok", 1)},
         Status.WARN, "passes only if the SPF-authenticated MAIL FROM is aligned"),
        ({"auth_results": parse_authentication_results("mx; spf=fail; dkim=pass; dmarc=pass")},
         Status.FAIL, "spf=fail"),
        ({"auth_results": None}, Status.PASS, "DKIM verified"),
    ],
    ids=["junk", "dkim fails", "spf softfail", "dmarc fail", "unaligned, no spf",
         "unaligned, spf pass", "spf fail", "no A-R, aligned"],
)  # fmt: skip
def test_delivery_verdicts(change: dict[str, object], status: Status, words: str) -> None:
    finding = evaluate_delivery(_accepted(), _delivery(**change))
    assert finding.status is status, finding.summary
    assert words in finding.summary


def test_delivery_not_arrived_fails_with_the_queue_id_in_the_remedy() -> None:
    delivery = replace(_delivery(), arrived=None, polls=15)
    finding = evaluate_delivery(_accepted(), delivery)
    assert finding.status is Status.FAIL
    assert "not delivered within 30 s" in finding.summary
    assert "queue id Q1" in finding.remediation


def test_delivery_mailbox_error_is_an_error() -> None:
    finding = evaluate_delivery(_accepted(), replace(_delivery(), error="login failed"))
    assert finding.status is Status.ERROR


def test_delivery_is_skipped_without_mailbox_or_accepted_message() -> None:
    no_mailbox = evaluate_delivery(_accepted(), None)
    assert (no_mailbox.status, no_mailbox.summary) == (
        Status.SKIP,
        "no mailbox configured (SMTP-05 is opt-in)",
    )
    rejected = _failed(Phase.DATA, Outcome.REPLY, 554)
    for delivery in (_delivery(), None):  # a mailbox or not: nothing was sent to look for
        finding = evaluate_delivery(rejected, delivery)
        assert (finding.status, finding.summary) == (
            Status.SKIP,
            "not reached: the relay did not accept the test message",
        )


def test_port_25_advice_only_when_the_connection_failed() -> None:
    session = _failed(Phase.BANNER, Outcome.REPLY, 421)
    assert session.endpoint is not None
    on_25 = replace(session, endpoint=replace(session.endpoint, port=25))
    assert "refused the session (421)" in RELAY_CONTROLS["SMTP-01"](on_25).remediation
    refused = replace(on_25, failure=PhaseFailure(Phase.CONNECT, Outcome.NETWORK, "refused"))
    assert "$smtpport" in RELAY_CONTROLS["SMTP-01"](refused).remediation
