"""What to do about a failed relay phase: remediation text, provider-specific where it helps.

Pure: a :class:`~smtpcheck.relay.model.PhaseFailure` and the session's facts in, one paragraph
out. Provider facts come from reference/providers-and-rfcs.md (SES §3, Mailjet §2, SendPulse §1);
reply codes from RFC 5321 §4.2, RFC 3207 §4 and RFC 4954 §6.
"""

from __future__ import annotations

from smtpcheck.relay.model import Cause, Outcome, Phase, PhaseFailure, RelaySession

_IMPLICIT_ADVICE = (
    "use the provider's implicit-TLS port 465 (RFC 8314; Joomla: $smtpsecure = 'ssl' with "
    "$smtpport = '465') or STARTTLS on 587"
)

_AUTH_535 = {
    "mailjet": "Mailjet rejected the credentials: the user name must be the API key and the "
    "password the API secret key of the same (sub-)account. Regenerate the pair if in doubt and "
    "redeploy it to the host's credential file.",
    "ses": "Amazon SES rejected the credentials: use SMTP credentials (user = the IAM access key "
    "ID, AKIA…; password = the 44-character SMTP password derived for region {region}, starting "
    "with 'B'). They are per region; temporary (ASIA…) keys are refused; the IAM user needs "
    "ses:SendRawEmail.",
    "sendpulse": "SendPulse rejected the credentials: use the SMTP login and SMTP password shown "
    "under SMTP → Settings (not the account password, not the REST API ID/secret), and check "
    "that the SMTP service is activated.",
}

_SENDER = {
    "mailjet": "Mailjet refuses senders that are not validated: register and validate {sender} "
    "(or the whole domain, *@domain) under Account settings → Sender domains & addresses.",
    "ses": "Amazon SES requires every sender identity to be verified: verify {sender} or its "
    "domain in region {region} (Verified identities).",
    "sendpulse": "SendPulse sends only from verified senders on a corporate (not free-mail) "
    "domain, and only once the SMTP account has passed moderation (up to 24 h after "
    "activation): verify {sender} and check the account's SMTP status.",
}


def _provider(session: RelaySession) -> str:
    return (session.endpoint.provider_key or "") if session.endpoint else ""


def _fill(text: str, session: RelaySession) -> str:
    endpoint = session.endpoint
    return text.format(
        region=(endpoint.region if endpoint else None) or "(region of the endpoint)",
        sender=session.from_address or "the from-address",
        recipient=session.recipient or "the recipient",
    )


def _ses_rejection(reply: str, session: RelaySession) -> str | None:
    """SES names what failed: ``Email address is not verified. The following identities failed
    the check in region EU-WEST-1: <identities>`` or ``Access denied: … ses:SendRawEmail``."""
    text = reply.lower()
    if "sendrawemail" in text or "not authorized" in text:
        return (
            "The SES user may not send: attach a policy allowing ses:SendRawEmail to the IAM "
            "user whose access key is the SMTP user name."
        )
    if "not verified" not in text:
        return None
    failed = text.partition("region")[2]
    advice = []
    if session.from_address and session.from_address.lower() in failed:
        advice.append(_fill(_SENDER["ses"], session))
    if session.recipient and session.recipient.lower() in failed:
        advice.append(
            _fill(
                "The SES account is in the sandbox in region {region}: verify {recipient} too, "
                "use success@simulator.amazonses.com, or request production access "
                "(aws sesv2 put-account-details --production-access-enabled).",
                session,
            )
        )
    return " ".join(advice) or _fill(_SENDER["ses"], session)


def _rejected(failure: PhaseFailure, session: RelaySession) -> str:
    """A 4xx/5xx to MAIL FROM, RCPT TO or the end of DATA."""
    provider, reply = _provider(session), failure.reply or ""
    if provider == "ses" and (advice := _ses_rejection(reply, session)):
        return advice
    if provider == "sendpulse" and "moderat" in reply.lower():
        return _fill(_SENDER["sendpulse"], session)
    if failure.code is not None and 400 <= failure.code < 500:
        return (
            f"The relay deferred the message ({failure.code}, a transient reply, RFC 5321 "
            "§4.2.1): retry later; if it persists check the account's sending limits."
        )
    if "sender" in reply.lower() or failure.phase is Phase.MAIL_FROM:
        generic = "The relay refused the sender {sender}: validate it with the provider."
        return _fill(_SENDER.get(provider, generic), session)
    if failure.phase is Phase.RCPT:
        return _fill(
            "The relay refused the recipient {recipient}: check SYSTEM_TOEMAIL_ADDRESS and "
            "whether the provider limits recipients (sandbox, suppression list).",
            session,
        )
    if provider in _SENDER:  # a message refused at DATA: the sender gates are the usual cause
        return _fill(_SENDER[provider], session)
    return f"The relay refused the message ({failure.code}): read its reply in the evidence."


def _auth(failure: PhaseFailure, session: RelaySession) -> str:
    if failure.cause is Cause.NO_CREDENTIALS:
        return "Deploy the provider's SMTP user name and password to the credential file."
    if failure.cause is Cause.NO_AUTH:
        return "The relay offers no usable AUTH here: " + _IMPLICIT_ADVICE + "."
    if failure.code == 535:
        return _fill(
            _AUTH_535.get(
                _provider(session),
                "The relay rejected the credentials (535, RFC 4954 §6): compare them with the "
                "provider's SMTP credentials and redeploy them.",
            ),
            session,
        )
    if failure.code == 454:
        return (
            "Temporary authentication failure (454, RFC 4954 §6): retry later; if it "
            "persists the provider's authentication service is failing."
        )
    if failure.code in (530, 538):
        return (
            f"The relay wants encryption or authentication first ({failure.code}, RFC 4954 "
            "§6) although TLS was in force: the endpoint is misbehaving or not the provider's; "
            "check the host name."
        )
    return f"AUTH ended with {failure.code}: see the reply in the evidence (RFC 4954 §6)."


def _tls(failure: PhaseFailure, session: RelaySession) -> str:
    host = session.endpoint.host if session.endpoint else "the relay"
    if failure.outcome is Outcome.CERTIFICATE:
        return (
            f"Do not send credentials to this endpoint: its certificate did not verify for "
            f"{host}. Check that the host name is the provider's own relay name, that nothing "
            "intercepts TLS on the way, and that the CA store (or the configured ca_file) is "
            "current."
        )
    if failure.cause is Cause.NOT_TLS:
        return (
            "This port does not speak implicit TLS: use STARTTLS on it (Joomla: "
            "$smtpsecure = 'tls') or the provider's implicit-TLS port 465."
        )
    if failure.cause is Cause.OLD_TLS:
        version = session.probed_tls_version
        speaks = f" (it speaks {version}, which RFC 8996 deprecates)" if version else ""
        return (
            f"The relay offers no TLS 1.2 or newer{speaks}: smtpcheck sent no credentials to "
            f"it. Check that {host} is the provider's current relay name and use its current "
            "endpoint; an old TLS version there means something else answers on the way."
        )
    if failure.outcome is Outcome.TIMEOUT:
        return (
            f"The TLS handshake with {host} did not complete in time: the server may not be "
            "speaking TLS on this port (a STARTTLS port used with implicit TLS waits for a "
            "command) or something on the path holds the connection; check the port."
        )
    return f"The TLS handshake with {host} failed: check the network path for TLS interception."


def _starttls(failure: PhaseFailure) -> str:
    if failure.cause is Cause.CLEARTEXT_CONFIG:
        return (
            "Turn TLS on: " + _IMPLICIT_ADVICE + "; the toolkit's `sendemail -o tls=no` must "
            "become `-o tls=yes`. Rotate the SMTP password if it was ever sent this way."
        )
    if failure.code == 454:
        return (
            "The relay could not start TLS (454, RFC 3207 §4, transient): retry; if it persists "
            + _IMPLICIT_ADVICE
            + "."
        )
    return "This port offers no working STARTTLS, so credentials would go in clear: " + (
        _IMPLICIT_ADVICE + "."
    )


def _reach(failure: PhaseFailure, session: RelaySession) -> str:
    endpoint = session.endpoint
    if endpoint is None:
        return "Fix the credential file so that it names the provider and port."
    if failure.phase is Phase.RESOLVE:
        if endpoint.provider_key == "ses":
            return _fill(
                f"{endpoint.host} does not resolve: Amazon SES has no SMTP endpoint in region "
                "{region}, or the region is misspelt. Use a region with an SMTP interface (the "
                "toolkit uses eu-west-1) and SMTP credentials derived for it.",
                session,
            )
        return (
            f"{endpoint.host} does not resolve: check the relay host in the credential file "
            "(Joomla: $smtphost must be a quoted string such as 'in-v3.mailjet.com')."
        )
    if failure.phase is Phase.CONNECT and endpoint.port == 25:
        return (
            "Outbound port 25 is blocked or throttled by most clouds (EC2 included): "
            + _IMPLICIT_ADVICE
            + " — Joomla reads $smtpport, not the toolkit's $smtp_port."
        )
    if failure.phase is Phase.CONNECT:
        notes = "".join(f" Note: {note}." for note in endpoint.notes)
        return (
            f"Allow outbound TCP to {endpoint.host}:{endpoint.port} (firewall, security group) "
            f"or use a port the provider serves.{notes}"
        )
    if failure.code is not None and failure.code in (421, 554):
        return (
            f"The relay refused the session ({failure.code}): it may be throttling or blocking "
            "this client's address or account; retry later and check the account's status."
        )
    if failure.outcome in (Outcome.TIMEOUT, Outcome.CLOSED) and failure.phase is Phase.BANNER:
        return (
            "No greeting: the server may be waiting for TLS first (an implicit-TLS port used "
            "with STARTTLS) or be overloaded. " + "; ".join(endpoint.notes)
        ).strip()
    return "The relay did not complete the greeting: see the transcript in the evidence."


def _deadline(failure: PhaseFailure, session: RelaySession) -> str:
    endpoint = session.endpoint
    host = endpoint.host if endpoint else "the relay"
    key = (endpoint.provider_key if endpoint else None) or "<provider>"
    limits = dict(session.deadlines_s)
    now = (
        f" (now {limits['phase']:g} s a phase, {limits['session']:g} s the session)"
        if "phase" in limits and "session" in limits
        else ""
    )
    return (
        f"The relay kept the session busy past its deadline in {failure.phase}, answering "
        "slower than a provider's relay does (a tarpit, a slow-loris server, or an overloaded "
        f"or intercepting hop): check that {host} is the provider's relay and what sits on the "
        "network path. Only if the provider is known to be this slow, raise "
        f"[providers.{key}] timeout, from which the deadlines derive{now}."
    )


def remediation(failure: PhaseFailure, session: RelaySession) -> str:
    """The remediation for the phase that failed."""
    if failure.phase is Phase.ENDPOINT and session.endpoint_problem is not None:
        return session.endpoint_problem.remediation
    if failure.outcome is Outcome.UNCONFIGURED:
        return "Set SYSTEM_TOEMAIL_ADDRESS (the test message's recipient), or use --no-send."
    if failure.cause is Cause.DEADLINE:
        return _deadline(failure, session)
    if failure.phase in (Phase.ENDPOINT, Phase.RESOLVE, Phase.CONNECT, Phase.BANNER, Phase.EHLO):
        return _reach(failure, session)
    if failure.phase is Phase.STARTTLS:
        return _starttls(failure)
    if failure.phase is Phase.TLS:
        return _tls(failure, session)
    if failure.phase is Phase.AUTH:
        return _auth(failure, session)
    if failure.outcome in (Outcome.CLOSED, Outcome.TIMEOUT):
        return (
            f"The relay dropped or stalled the session in {failure.phase}: the message was not "
            "accepted (no 250). Retry; if it repeats check size limits and the provider's status."
        )
    if failure.cause is Cause.BAD_ADDRESS:
        return "Fix the FROM ADDRESS in the credential file (a plain user@domain address)."
    return _rejected(failure, session)
