"""SMTP-01…05: pure evaluators, one finding per control and relay session (SPEC §4).

Each phase of the session belongs to one control. The control that owns the failed phase fails
(or errors, for transient 4xx replies, an unanswered resolver, and settings smtpcheck lacks);
controls whose phases completed pass; later controls are ``skip`` with "not reached". With
``--no-send`` SMTP-04 is ``skip``. Evidence carries the transcript (redacted at the source),
phase, reply, TLS facts and timings; the raw server text is left for reporters to escape.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from email.utils import parseaddr

from smtpcheck.catalogue import get_control
from smtpcheck.findings import EvidenceValue, Finding, Status
from smtpcheck.relay.authresults import verdicts
from smtpcheck.relay.delivery import ArrivedMessage, Delivery
from smtpcheck.relay.endpoint import short_user
from smtpcheck.relay.model import Outcome, Phase, PhaseFailure, RelaySession
from smtpcheck.relay.remedies import remediation
from smtpcheck.relay.transcript import render_transcript

OWNER: Mapping[Phase, str] = {
    Phase.ENDPOINT: "SMTP-01",
    Phase.RESOLVE: "SMTP-01",
    Phase.CONNECT: "SMTP-01",
    Phase.BANNER: "SMTP-01",
    Phase.EHLO: "SMTP-01",
    Phase.STARTTLS: "SMTP-02",
    Phase.TLS: "SMTP-02",
    Phase.AUTH: "SMTP-03",
    Phase.MAIL_FROM: "SMTP-04",
    Phase.RCPT: "SMTP-04",
    Phase.DATA: "SMTP-04",
}
"""Which control answers for a failure in each phase."""

Evidence = dict[str, EvidenceValue]


def session_evidence(session: RelaySession) -> Evidence:
    """What every relay finding shows: the endpoint, who was tested, how far it got, timings."""
    endpoint = session.endpoint
    evidence: Evidence = {
        "endpoint": str(endpoint) if endpoint else None,
        "provider": endpoint.provider_name if endpoint else None,
        "username": session.username,
        "password": session.password_fingerprint or "absent",
        "from_address": session.from_address,
        "hosts": session.hosts,
        "phases_completed": tuple(str(p) for p in session.completed),
        "timings_ms": tuple(f"{name}: {ms}" for name, ms in session.timings_ms),
        "deadlines_s": tuple(f"{name}: {limit:g}" for name, limit in session.deadlines_s),
        "started_at": session.started_at,
    }
    if endpoint is not None:
        evidence["tls_mode"] = endpoint.tls.value
        if endpoint.region:
            evidence["region"] = endpoint.region
        if endpoint.connect_address or endpoint.connect_port:
            dial = f"{endpoint.connect_address or endpoint.host}:{endpoint.dial_port}"
            evidence["connect_override"] = dial
        if endpoint.notes:
            evidence["endpoint_notes"] = endpoint.notes
    return evidence


def _failure_evidence(failure: PhaseFailure) -> Evidence:
    return {
        "failed_phase": str(failure.phase),
        "outcome": failure.outcome.value,
        "detail": failure.detail,
        "reply_code": failure.code,
        "reply": failure.reply,
    }


def _status(failure: PhaseFailure) -> Status:
    """fail, or error when the relay's state could not be judged (RFC 5321 §4.2.1: 4xx is
    transient) or smtpcheck lacked a setting."""
    if failure.outcome is Outcome.UNCONFIGURED:
        return Status.ERROR
    if failure.phase is Phase.RESOLVE and failure.outcome is Outcome.TIMEOUT:
        return Status.ERROR
    if failure.outcome is Outcome.REPLY and failure.code is not None and failure.code < 500:
        return Status.ERROR
    return Status.FAIL


def _failed_summary(failure: PhaseFailure) -> str:
    if failure.outcome is Outcome.REPLY and failure.reply is not None:
        first = failure.reply.splitlines()[0] if failure.reply else ""
        return f"{failure.phase}: the relay answered {failure.code} {first}".strip()
    return f"{failure.phase}: {failure.detail}"


def _finding(
    control_id: str,
    session: RelaySession,
    status: Status,
    summary: str,
    extra: Evidence | None = None,
    fix: str = "",
) -> Finding:
    control = get_control(control_id)
    evidence = session_evidence(session)
    evidence.update(extra or {})
    failure = session.failure
    if status is Status.SKIP:
        return control.finding(session.target, status, summary, evidence)
    if failure is not None and OWNER[failure.phase] == control_id:
        evidence.update(_failure_evidence(failure))
        fix = remediation(failure, session)
    evidence["transcript"] = render_transcript(session.transcript)
    return control.finding(session.target, status, summary, evidence, fix)


def _judge(
    control_id: str, session: RelaySession, passed: bool, extra: Evidence | None = None
) -> Finding | None:
    """The failing or skipped finding of ``control_id``, or None when it passed."""
    failure = session.failure
    if failure is not None and OWNER[failure.phase] == control_id:
        return _finding(control_id, session, _status(failure), _failed_summary(failure), extra)
    if passed:
        return None
    reason = f"not reached: {failure.phase} failed" if failure else "not reached"
    return _finding(control_id, session, Status.SKIP, reason)


def evaluate_smtp01(session: RelaySession) -> Finding:
    """SMTP-01: resolves, accepts a connection on the configured port, greets with 220.

    It passes only once a complete 220 greeting was read. With implicit TLS the greeting comes
    inside TLS; when the handshake failed (SMTP-02 fails for it) the greeting was never seen,
    so SMTP-01 is ``error``, could not be evaluated: not ``pass``, which would claim a greeting
    nobody read, and not ``fail``, which would report a second defect that was not observed
    (the relay may well greet once TLS works) and point at the wrong fix.
    """
    endpoint = session.endpoint
    extra: Evidence = {
        "addresses": session.addresses,
        "connected_to": session.connected_to,
        "banner": session.banner,
        "extensions": session.extensions,
    }
    judged = _judge("SMTP-01", session, session.reached(Phase.CONNECT), extra)
    if judged is not None or endpoint is None:
        return judged or _finding("SMTP-01", session, Status.ERROR, "no endpoint")
    reached = (
        f"{endpoint.host} ({', '.join(session.addresses)}) accepts connections on port "
        f"{endpoint.port}"
    )
    if not session.reached(Phase.BANNER):  # implicit TLS: the greeting is behind the handshake
        failure = session.failure
        why = f"the {failure.phase} failed" if failure else "it was not reached"
        summary = (
            f"{reached}, but no 220 greeting was read: with implicit TLS it comes after the "
            f"TLS handshake, and {why} (see SMTP-02)"
        )
        extra["greeting"] = "not read: it comes after the TLS handshake, which failed"
        fix = "Fix what SMTP-02 reports; the greeting is then checked on the next run."
        return _finding("SMTP-01", session, Status.ERROR, summary, extra, fix)
    summary = f"{reached} and greets: {session.banner}"
    return _finding("SMTP-01", session, Status.PASS, summary, extra)


def evaluate_smtp02(session: RelaySession) -> Finding:
    """SMTP-02: TLS in force before AUTH, certificate valid for the host name, TLS ≥ 1.2."""
    tls = session.tls
    extra: Evidence = {"starttls_offered": session.starttls_offered}
    if session.probed_tls_version is not None:
        extra["tls_version_probed"] = session.probed_tls_version
    judged = _judge("SMTP-02", session, tls is not None, extra)
    if judged is not None or tls is None:
        return judged or _finding("SMTP-02", session, Status.ERROR, "no TLS facts")
    extra |= {
        "tls_version": tls.version,
        "cipher": tls.cipher,
        "cipher_bits": tls.bits,
        "certificate_subject": tls.subject,
        "certificate_issuer": tls.issuer,
        "certificate_not_after": tls.not_after,
        "certificate_names": tls.names,
        "verified_host_name": tls.server_name,
    }
    summary = (
        f"{tls.version} ({tls.cipher}) by {tls.mode.value} TLS before AUTH; the certificate "
        f"is valid for {tls.server_name}"
    )
    return _finding("SMTP-02", session, Status.PASS, summary, extra)


def evaluate_smtp03(session: RelaySession) -> Finding:
    """SMTP-03: AUTH succeeds with the deployed credentials (never tried in clear text)."""
    extra: Evidence = {"auth_mechanism": session.auth_mechanism, "auth_reply": session.auth_reply}
    judged = _judge("SMTP-03", session, session.authenticated, extra)
    if judged is not None:
        return judged
    summary = (
        f"AUTH {session.auth_mechanism} accepted for user {short_user(session.username)} "
        f"over TLS: {session.auth_reply}"
    )
    return _finding("SMTP-03", session, Status.PASS, summary, extra)


def evaluate_smtp04(session: RelaySession) -> Finding:
    """SMTP-04: the test message is accepted with 250 (skip with --no-send)."""
    extra: Evidence = {
        "recipient": session.recipient,
        "token": session.token,
        "message_id": session.message_id,
        "queue_id": session.queue_id,
        "accepted_reply": session.accepted_reply,
    }
    judged = _judge("SMTP-04", session, session.accepted, extra)
    if not session.send_requested and (judged is None or judged.status is Status.SKIP):
        return _finding("SMTP-04", session, Status.SKIP, "--no-send: no test message was sent")
    if judged is not None:
        return judged
    queue = f", queue id {session.queue_id}" if session.queue_id else ""
    summary = f"test message {session.token} to {session.recipient} accepted with 250{queue}"
    return _finding("SMTP-04", session, Status.PASS, summary, extra)


RELAY_CONTROLS: Mapping[str, Callable[[RelaySession], Finding]] = {
    "SMTP-01": evaluate_smtp01,
    "SMTP-02": evaluate_smtp02,
    "SMTP-03": evaluate_smtp03,
    "SMTP-04": evaluate_smtp04,
}
"""The relay controls, each giving exactly one finding for a session."""


def evaluate_relay(session: RelaySession) -> list[Finding]:
    """SMTP-01…04 for one session, in catalogue order."""
    return [evaluate(session) for evaluate in RELAY_CONTROLS.values()]


_JUNK_NAMES = ("junk", "spam", "bulk")
_BAD = ("fail", "permerror", "temperror")


def _aligned(from_header: str | None, dkim_domain: str | None) -> bool:
    """Relaxed DKIM alignment (RFC 7489 §3.1.1), with the organisational domain approximated
    as "one is the other or a subdomain of it" (no public-suffix list is consulted)."""
    address = parseaddr(from_header or "")[1]
    domain = address.rpartition("@")[2].lower().rstrip(".")
    signer = (dkim_domain or "").lower().rstrip(".")
    if not domain or not signer:
        return False
    return domain == signer or domain.endswith("." + signer) or signer.endswith("." + domain)


def _delivery_verdict(arrived: ArrivedMessage) -> tuple[list[str], list[str], Evidence]:
    """(failures, warnings, evidence) for a message that arrived."""
    failures: list[str] = []
    warnings: list[str] = []
    reported = verdicts(arrived.auth_results)
    dkim = arrived.dkim
    if not dkim.verified:
        failures.append(f"DKIM does not verify: {dkim.detail}")
    for method in ("dkim", "dmarc"):
        if reported.get(method) in _BAD:
            failures.append(f"the receiver reports {method}={reported[method]}")
    spf = reported.get("spf")
    if spf in ("fail", "permerror"):  # the relay is not authorised for the envelope sender
        failures.append(f"the receiver reports spf={spf}")
    elif spf is not None and spf != "pass":
        warnings.append(f"the receiver reports spf={spf}")
    aligned = dkim.verified and _aligned(arrived.from_header, dkim.domain)
    dmarc = reported.get("dmarc") or ("pass (aligned DKIM, computed)" if aligned else None)
    if dmarc is None and spf == "pass":
        # RFC 7489 §4.2: SPF can still carry DMARC if the MAIL FROM is aligned, which the
        # arrived message does not show reliably.
        warnings.append(
            "DMARC cannot pass by DKIM (the verified signature is not aligned); it passes only "
            "if the SPF-authenticated MAIL FROM is aligned with the From domain"
        )
    elif dmarc is None:
        failures.append("DMARC cannot pass: no aligned DKIM signature and no SPF pass")
    if arrived.folder.lower() in _JUNK_NAMES:
        warnings.append(f"delivered to {arrived.folder}")
    evidence: Evidence = {
        "folder": arrived.folder,
        "latency_ms": round(arrived.latency_s * 1000) if arrived.latency_s is not None else None,
        "internal_date": arrived.internal_date,
        "size": arrived.size,
        "from_header": arrived.from_header,
        "dkim_verified": dkim.verified,
        "dkim_domain": dkim.domain,
        "dkim_selector": dkim.selector,
        "dkim_detail": dkim.detail,
        "authserv_id": arrived.auth_results.authserv_id if arrived.auth_results else None,
        "spf": spf or "not reported",
        "dkim": reported.get("dkim") or "not reported",
        "dmarc": dmarc or "not reported, and no aligned DKIM pass",
        "test_message": arrived.removed,
    }
    return failures, warnings, evidence


def evaluate_delivery(session: RelaySession, delivery: Delivery | None) -> Finding:
    """SMTP-05: arrived within the timeout, DKIM verifies, SPF/DKIM/DMARC pass on arrival."""
    control = get_control("SMTP-05")
    evidence = session_evidence(session)
    if not session.accepted:  # judged first: nothing can arrive, mailbox or not
        summary = "not reached: the relay did not accept the test message"
        return control.finding(session.target, Status.SKIP, summary, evidence)
    if delivery is None:
        return control.finding(
            session.target, Status.SKIP, "no mailbox configured (SMTP-05 is opt-in)", evidence
        )
    if session.token != delivery.token:
        summary = "not reached: the mailbox was searched for another message's token"
        return control.finding(session.target, Status.SKIP, summary, evidence)
    evidence |= {
        "mailbox": delivery.mailbox,
        "token": delivery.token,
        "folders_searched": delivery.folders,
        "waited_ms": round(delivery.waited_s * 1000),
        "polls": delivery.polls,
        "mailbox_notes": delivery.notes,
    }
    if delivery.error is not None:
        summary = f"the mailbox {delivery.mailbox} could not be checked: {delivery.error}"
        fix = "Check the mailbox settings (host, port, user, password_env, ca_file)."
        return control.finding(session.target, Status.ERROR, summary, evidence, fix)
    arrived = delivery.arrived
    if arrived is None:
        summary = f"not delivered within {delivery.timeout_s:g} s (searched {delivery.folders})"
        fix = _undelivered_fix(session)
        return control.finding(session.target, Status.FAIL, summary, evidence, fix)
    failures, warnings, facts = _delivery_verdict(arrived)
    evidence |= facts
    evidence["problems"] = tuple(failures + warnings)
    latency = f" after {arrived.latency_s:.1f} s" if arrived.latency_s is not None else ""
    where = f"delivered to {arrived.folder}{latency}"
    if failures:
        fix = (
            "Publish the provider's DKIM key for the from-domain and let the provider sign "
            "with d= that domain (see the DKIM-* and DMARC-* findings)."
        )
        return control.finding(
            session.target, Status.FAIL, f"{where}, but {'; '.join(failures)}", evidence, fix
        )
    checks = f"DKIM verified (d={arrived.dkim.domain}, s={arrived.dkim.selector})"
    if warnings:
        fix = "Align the provider's DKIM d= with the From domain and publish SPF for the sender."
        summary = f"{where}; {checks}; but {'; '.join(warnings)}"
        return control.finding(session.target, Status.WARN, summary, evidence, fix)
    return control.finding(session.target, Status.PASS, f"{where}; {checks}", evidence)


def _undelivered_fix(session: RelaySession) -> str:
    provider = session.endpoint.provider_name if session.endpoint else "the provider"
    return (
        f"The relay accepted the message (queue id {session.queue_id or 'not given'}) but it "
        f"did not arrive: look it up in {provider}'s sending log (bounced, suppressed, held "
        "for review), and check the recipient's spam filtering and the mailbox folders."
    )
