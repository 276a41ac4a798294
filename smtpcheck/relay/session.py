"""One live submission session against a relay: the I/O of the relay layer (SPEC §4).

:func:`run_relay_session` resolves the endpoint, connects, negotiates TLS (implicit, RFC 8314, or
STARTTLS, RFC 3207) with the certificate chain and host name verified, authenticates with the
credentials deployed on the host (RFC 4954) and, unless ``send`` is false, submits the test
message (RFC 5321/6409). It never raises for a problem of the relay: the phase that failed and
why, and everything seen up to then, are data in the returned :class:`RelaySession`.

Credentials are only ever sent over TLS ≥ 1.2 that verified: a configuration without TLS, a
server that offers no STARTTLS, or a failed handshake ends the session before AUTH.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime

from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.errors import ProbeError
from smtpcheck.providers import TlsMode
from smtpcheck.relay.client import SmtpClient, SmtpReply
from smtpcheck.relay.endpoint import EndpointProblem, RelayEndpoint, relay_target
from smtpcheck.relay.message import build_probe_message, new_token, parse_queue_id
from smtpcheck.relay.model import Cause, Outcome, Phase, PhaseFailure, RelaySession
from smtpcheck.relay.network import Resolver, system_resolve, tls_context
from smtpcheck.relay.outcomes import failure_from, tls_facts
from smtpcheck.relay.transcript import Transcript
from smtpcheck.secrets import REDACTOR, fingerprint

MODERN_TLS = ("TLSv1.2", "TLSv1.3")
SUPPORTED_AUTH = ("PLAIN", "LOGIN")  # RFC 4616, draft-murchison-sasl-login


class _Stop(Exception):  # control flow inside this module; never escapes it
    def __init__(self, failure: PhaseFailure) -> None:
        super().__init__(failure.detail)
        self.failure = failure


def _mechanisms(extensions: Sequence[str]) -> tuple[str, ...]:
    """AUTH mechanisms from EHLO keywords (``AUTH PLAIN LOGIN``; old ``AUTH=PLAIN`` too)."""
    found: list[str] = []
    for line in extensions:
        words = line.replace("=", " ", 1).split()
        if words and words[0].upper() == "AUTH":
            found += [w.upper() for w in words[1:]]
    return tuple(dict.fromkeys(found))


def _is_mailbox(address: str) -> bool:
    """Good enough to put in MAIL FROM/RCPT TO without breaking the command line."""
    return "@" in address and not any(c in address for c in "<>\r\n\t ")


class _Session:
    """The state of one running session; each method is one phase."""

    def __init__(
        self,
        endpoint: RelayEndpoint,
        deployed: DeployedSmtp,
        transcript: Transcript,
        timeout: float,
        resolve: Resolver,
        base: RelaySession,
    ) -> None:
        self.endpoint = endpoint
        self.deployed = deployed
        self.transcript = transcript
        self.timeout = timeout
        self.resolve = resolve
        self.client = SmtpClient(transcript, timeout)
        self.context = tls_context(endpoint.ca_file)
        self.seen = replace(base, started_at=_now())  # what is observed, field by field
        self.completed: list[Phase] = []
        self.timings: list[tuple[str, int]] = []

    @contextlib.contextmanager
    def phase(self, phase: Phase) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        except (OSError, ProbeError) as exc:  # ssl.SSLError and TimeoutError are OSErrors
            raise _Stop(failure_from(phase, exc, self.timeout)) from None
        finally:
            self.timings.append((phase.value, round((time.monotonic() - start) * 1000)))
        self.completed.append(phase)

    def stop(self, phase: Phase, outcome: Outcome, detail: str, cause: Cause) -> _Stop:
        return _Stop(PhaseFailure(phase, outcome, detail, cause=cause))

    def expect(self, phase: Phase, reply: SmtpReply, *codes: int) -> SmtpReply:
        if reply.code not in codes:
            wanted = "/".join(str(c) for c in codes)
            detail = f"the server answered {reply.code} where {wanted} was expected"
            raise _Stop(PhaseFailure(phase, Outcome.REPLY, detail, reply.code, reply.text))
        return reply

    def run_resolve(self) -> list[str]:
        host = self.endpoint.host
        with self.phase(Phase.RESOLVE):
            if self.endpoint.connect_address:
                addresses = [self.endpoint.connect_address]
                self.transcript.event(
                    f"resolve {host}: not looked up, connect_address {addresses[0]} configured"
                )
            else:
                addresses = list(self.resolve(host))
                self.transcript.event(f"resolve {host}: {', '.join(addresses)}")
        self.seen = replace(self.seen, addresses=tuple(addresses))
        return addresses

    def run_connect(self, addresses: list[str]) -> None:
        port = self.endpoint.dial_port
        with self.phase(Phase.CONNECT):
            error: OSError = ConnectionRefusedError("no address to connect to")
            for address in addresses:
                try:
                    self.client.connect(address, port)
                except OSError as exc:
                    self.transcript.event(f"connect {address}:{port}: {exc.strerror or exc}")
                    error = exc
                    continue
                self.seen = replace(self.seen, connected_to=f"{address}:{port}")
                self.transcript.event(f"connected to {address}:{port}")
                break
            else:
                raise error

    def run_handshake(self, mode: TlsMode) -> None:
        with self.phase(Phase.TLS):
            sock = self.client.start_tls(self.context, self.endpoint.host)
            tls = tls_facts(sock, mode, self.endpoint.host)
            self.seen = replace(self.seen, tls=tls)
            self.transcript.event(
                f"TLS {tls.version} {tls.cipher} ({tls.bits} bits); certificate {tls.subject}, "
                f"issuer {tls.issuer}, valid until {tls.not_after}; verified for {tls.server_name}"
            )
            if tls.version not in MODERN_TLS:
                detail = f"{tls.version} negotiated: below TLS 1.2"
                raise self.stop(Phase.TLS, Outcome.REFUSED, detail, Cause.OLD_TLS)

    def run_greeting(self) -> None:
        with self.phase(Phase.BANNER):
            reply = self.client.read_reply()
            self.seen = replace(self.seen, banner=str(reply))
            self.expect(Phase.BANNER, reply, 220)
        self.run_ehlo()

    def run_ehlo(self) -> None:
        name = self.endpoint.ehlo_name or socket.gethostname() or "localhost"
        with self.phase(Phase.EHLO):
            reply = self.expect(Phase.EHLO, self.client.command(f"EHLO {name}"), 250)
            extensions = tuple(line.strip() for line in reply.lines[1:])
            self.seen = replace(self.seen, extensions=extensions)

    def run_starttls(self) -> None:
        with self.phase(Phase.STARTTLS):
            offered = any(e.upper() == "STARTTLS" for e in self.seen.extensions)
            self.seen = replace(self.seen, starttls_offered=offered)
            if self.endpoint.tls is TlsMode.NONE:
                server = "the server offers STARTTLS" if offered else "nor does the server offer it"
                raise self.stop(
                    Phase.STARTTLS,
                    Outcome.REFUSED,
                    "the application is configured without TLS, so its AUTH would carry the "
                    f"credentials in clear text ({server}); smtpcheck did not send AUTH",
                    Cause.CLEARTEXT_CONFIG,
                )
            if not offered:
                raise self.stop(
                    Phase.STARTTLS,
                    Outcome.REFUSED,
                    "the server does not offer STARTTLS (RFC 3207); smtpcheck did not send AUTH",
                    Cause.NO_STARTTLS,
                )
            self.expect(Phase.STARTTLS, self.client.command("STARTTLS"), 220)
        self.run_handshake(TlsMode.STARTTLS)
        self.run_ehlo()  # RFC 3207 §4.2: forget what was learnt before TLS

    def run_auth(self) -> None:
        with self.phase(Phase.AUTH):
            if not self.client.is_tls or self.seen.tls is None:  # a guard against bugs
                raise self.stop(Phase.AUTH, Outcome.REFUSED, "TLS is not in force", Cause.NOT_TLS)
            user, password = self.deployed.username, self.deployed.password
            if not user or not password:
                raise self.stop(
                    Phase.AUTH,
                    Outcome.REFUSED,
                    "the credential file holds no SMTP user name or password",
                    Cause.NO_CREDENTIALS,
                )
            offered = _mechanisms(self.seen.extensions)
            wanted = [m for m in (*self.endpoint.auth_mechanisms, *SUPPORTED_AUTH) if m in offered]
            mechanism = next((m for m in wanted if m in SUPPORTED_AUTH), None)
            if mechanism is None:
                what = ", ".join(offered) or "none"
                raise self.stop(
                    Phase.AUTH,
                    Outcome.REFUSED,
                    f"no AUTH mechanism in common (server offers: {what}; smtpcheck: PLAIN, LOGIN)",
                    Cause.NO_AUTH,
                )
            self.seen = replace(self.seen, auth_mechanism=mechanism)
            secret = password.reveal()
            if mechanism == "PLAIN":  # RFC 4616: authzid NUL authcid NUL passwd
                blob = base64.b64encode(f"\0{user}\0{secret}".encode()).decode()
                reply = self.client.command(f"AUTH PLAIN {blob}", redacted_as="AUTH PLAIN")
            else:
                reply = self._auth_login(user, secret)
            self.seen = replace(self.seen, auth_reply=str(reply))
            self.expect(Phase.AUTH, reply, 235)

    def _auth_login(self, user: str, secret: str) -> SmtpReply:
        reply = self.client.command("AUTH LOGIN")
        for value in (user, secret):
            if reply.code != 334:
                return reply
            blob = base64.b64encode(value.encode()).decode()
            reply = self.client.command(blob, redacted_as="")
        return reply

    def run_message(self, recipient: str | None, hosts: Sequence[str]) -> None:
        sender = self.deployed.from_address
        if not recipient:
            raise self.stop(
                Phase.MAIL_FROM,
                Outcome.UNCONFIGURED,
                "no recipient for the test message: set SYSTEM_TOEMAIL_ADDRESS",
                Cause.NO_RECIPIENT,
            )
        if not sender or not _is_mailbox(sender) or not _is_mailbox(recipient):
            raise self.stop(
                Phase.MAIL_FROM,
                Outcome.REFUSED,
                f"not a usable address pair: from {sender!r}, to {recipient!r}",
                Cause.BAD_ADDRESS,
            )
        message = build_probe_message(
            sender, recipient, new_token(), endpoint=str(self.endpoint), hosts=hosts
        )
        self.seen = replace(self.seen, token=message.token, message_id=message.message_id)
        with self.phase(Phase.MAIL_FROM):
            self.expect(Phase.MAIL_FROM, self.client.command(f"MAIL FROM:<{sender}>"), 250)
        with self.phase(Phase.RCPT):
            self.expect(Phase.RCPT, self.client.command(f"RCPT TO:<{recipient}>"), 250, 251)
        with self.phase(Phase.DATA):
            self.expect(Phase.DATA, self.client.command("DATA"), 354)
            self.client.send_message(message.data)
            reply = self.client.read_reply()
            self.seen = replace(self.seen, accepted_reply=str(reply))
            self.expect(Phase.DATA, reply, 250)
            self.seen = replace(self.seen, queue_id=parse_queue_id(reply.text), sent_at=time.time())

    def quit(self, failure: PhaseFailure | None) -> None:
        """QUIT when the connection can still carry it (not after a timeout, a drop or a failed
        handshake, where it would only wait again); errors here change nothing."""
        polite = failure is None or failure.outcome in _POLITE
        if polite and self.client.is_open:
            with contextlib.suppress(OSError, ProbeError):
                self.client.command("QUIT")
        self.client.close()

    def result(self, failure: PhaseFailure | None) -> RelaySession:
        """What was seen, with the phases, timings and transcript of the session."""
        return replace(
            self.seen,
            completed=tuple(self.completed),
            failure=failure,
            timings_ms=(*self.timings, ("total", round(self.transcript.elapsed() * 1000))),
            transcript=self.transcript.lines(),
        )


_POLITE = (Outcome.REPLY, Outcome.REFUSED, Outcome.UNCONFIGURED)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_relay_session(
    endpoint: RelayEndpoint,
    deployed: DeployedSmtp,
    *,
    recipient: str | None,
    send: bool,
    timeout: float | None = None,
    dns_resolve: Resolver | None = None,
    hosts: Sequence[str] = (),
    target: str | None = None,
) -> RelaySession:
    """The whole SMTP conversation with one relay endpoint, as data (SMTP-01…04).

    ``send=False`` (``--no-send``) connects, negotiates TLS and authenticates, then quits.
    ``timeout`` (default: the endpoint's) bounds each network operation. ``dns_resolve`` is the
    run's resolver (default: the system's); it is not used when the endpoint has a
    ``connect_address``. ``hosts`` are the hosts sharing this credential set, for the evidence
    and the message body. A bad ``ca_file`` raises ConfigError (operator input, not the relay).
    """
    REDACTOR.register(deployed.password, [deployed.username] if deployed.username else [])
    transcript = Transcript()
    limit = timeout or endpoint.timeout
    base = _base(
        target or relay_target(endpoint, deployed), endpoint, deployed, recipient, send, hosts
    )
    resolve = dns_resolve or system_resolve
    session = _Session(endpoint, deployed, transcript, limit, resolve, base)
    failure: PhaseFailure | None = None
    try:
        session.run_connect(session.run_resolve())
        if endpoint.tls is TlsMode.IMPLICIT:
            session.run_handshake(TlsMode.IMPLICIT)
        session.run_greeting()
        if endpoint.tls is not TlsMode.IMPLICIT:
            session.run_starttls()
        session.run_auth()
        if send:
            session.run_message(recipient, hosts)
        else:
            transcript.event("no-send: authenticated, the test message is not sent")
    except _Stop as stop:
        failure = stop.failure
        transcript.event(f"stopped in {failure.phase}: {failure.detail}")
    finally:
        session.quit(failure)
    return session.result(failure)


def session_for_problem(
    problem: EndpointProblem,
    deployed: DeployedSmtp,
    *,
    recipient: str | None,
    send: bool,
    hosts: Sequence[str] = (),
) -> RelaySession:
    """A session that never started because no endpoint could be derived (SMTP-01 fails)."""
    return replace(
        _base(problem.target, None, deployed, recipient, send, hosts),
        failure=PhaseFailure(
            Phase.ENDPOINT, Outcome.REFUSED, problem.reason, cause=Cause.NO_ENDPOINT
        ),
        endpoint_problem=problem,
    )


def _base(
    target: str,
    endpoint: RelayEndpoint | None,
    deployed: DeployedSmtp,
    recipient: str | None,
    send: bool,
    hosts: Sequence[str],
) -> RelaySession:
    return RelaySession(
        target=target,
        endpoint=endpoint,
        username=deployed.username,
        password_fingerprint=fingerprint(deployed.password) if deployed.password else None,
        from_address=deployed.from_address,
        recipient=recipient,
        send_requested=send,
        hosts=tuple(hosts),
        started_at=_now(),
        completed=(),
        failure=None,
    )
