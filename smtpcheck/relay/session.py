"""One live submission session against a relay: the I/O of the relay layer (SPEC §4).

:func:`run_relay_session` resolves the endpoint, connects, negotiates TLS (implicit, RFC 8314, or
STARTTLS, RFC 3207) with the certificate chain and host name verified, authenticates with the
credentials deployed on the host (RFC 4954) and, unless ``send`` is false, submits the test
message (RFC 5321/6409). It never raises for a problem of the relay: the phase that failed and
why, and everything seen up to then, are data in the returned :class:`RelaySession`.

Credentials are only ever sent over TLS ≥ 1.2 that verified: a configuration without TLS, a
server that offers no STARTTLS, or a failed handshake ends the session before AUTH. When the
handshake fails in a way that may mean "only TLS < 1.2" (a protocol-version refusal, or the
connection closed mid-handshake, as version-intolerant servers do), a second connection allowing
only TLS 1.0/1.1 learns the relay's version; it is closed right after its handshake, unused.

Time is bounded three ways (:class:`~smtpcheck.relay.network.Deadline`): each read by the
timeout, each phase by ``phase_timeout`` (default: the timeout) and the whole session by
``session_timeout`` (default: :data:`SESSION_DEADLINE_FACTOR` × the phase deadline), so a server
trickling a byte every few seconds cannot hold a session open.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
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
from smtpcheck.relay.network import (
    Deadline,
    DeadlineExceeded,
    Resolver,
    bounded_socket,
    bounded_tls,
    legacy_probe_context,
    system_resolve,
    tls_context,
)
from smtpcheck.relay.outcomes import failure_from, tls_facts
from smtpcheck.relay.transcript import Transcript
from smtpcheck.secrets import REDACTOR, EchoGuard, fingerprint

MODERN_TLS = ("TLSv1.2", "TLSv1.3")
SUPPORTED_AUTH = ("PLAIN", "LOGIN")  # RFC 4616, draft-murchison-sasl-login
SESSION_DEADLINE_FACTOR = 4
"""The session deadline, in phase deadlines: a healthy relay answers each phase in a fraction
of its deadline, so four are ample for the ten or so phases of a session; a server that uses most
of each phase's deadline is stopped by the session's."""

# Handshake errors that may mean "the relay speaks only TLS < 1.2": worth a version probe.
_VERSION_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "TLSV1_ALERT_INSUFFICIENT_SECURITY",
    "UNEXPECTED_EOF_WHILE_READING",  # version-intolerant: closes on a TLS 1.2+ ClientHello
}

_AWAITED = {
    Phase.CONNECT: "the connection",
    Phase.BANNER: "the 220 greeting",
    Phase.TLS: "the TLS handshake",
    Phase.DATA: "the DATA exchange",
}


class _Stop(Exception):  # control flow inside this module; never escapes it
    def __init__(self, failure: PhaseFailure, error: Exception | None = None) -> None:
        super().__init__(failure.detail)
        self.failure = failure
        self.error = error  # what the network raised, if anything


class _BoundedClient(SmtpClient):
    """An :class:`SmtpClient` whose connection keeps to a :class:`Deadline`: the connect, each
    read and write, and the TLS handshake wait at most what the deadline has left."""

    def __init__(self, transcript: Transcript, deadline: Deadline) -> None:
        super().__init__(transcript, deadline.per_read)
        self.deadline = deadline

    def connect(self, address: str, port: int) -> None:
        self.timeout = self.deadline.budget()
        try:
            super().connect(address, port)
        finally:
            self.timeout = self.deadline.per_read
        self._sock = bounded_socket(self._socket(), self.deadline)


def _worth_probing(error: Exception | None) -> bool:
    """A handshake failure that a relay speaking only TLS 1.0/1.1 would cause."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return False
    if isinstance(error, ssl.SSLEOFError):
        return True
    if isinstance(error, ssl.SSLError):
        return (error.reason or "") in _VERSION_REASONS
    return isinstance(error, ConnectionError)  # reset or aborted mid-handshake


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
        deadline: Deadline,
        resolve: Resolver,
        base: RelaySession,
    ) -> None:
        self.endpoint = endpoint
        self.deployed = deployed
        self.transcript = transcript
        self.deadline = deadline
        self.timeout = deadline.per_read
        self.resolve = resolve
        self.client = _BoundedClient(transcript, deadline)
        self.context = bounded_tls(tls_context(endpoint.ca_file), deadline)
        self.seen = replace(base, started_at=_now())  # what is observed, field by field
        self.completed: list[Phase] = []
        self.timings: list[tuple[str, int]] = []
        self.address: str | None = None  # the address connected to

    @contextlib.contextmanager
    def phase(self, phase: Phase) -> Iterator[None]:
        start = time.monotonic()
        self.deadline.begin_phase()
        try:
            yield
        except (OSError, ProbeError) as exc:  # ssl.SSLError and TimeoutError are OSErrors
            timed_out = isinstance(exc, TimeoutError)
            if isinstance(exc, DeadlineExceeded) or (timed_out and self.deadline.expired):
                raise _Stop(self.deadline_failure(phase), exc) from None
            raise _Stop(failure_from(phase, exc, self.timeout), exc) from None
        finally:
            self.timings.append((phase.value, round((time.monotonic() - start) * 1000)))
        self.completed.append(phase)

    def deadline_failure(self, phase: Phase) -> PhaseFailure:
        """The phase ran out of time: the session's deadline, or the phase's while the server
        was still trickling bytes (a plain "no answer" when it sent nothing at all)."""
        deadline = self.deadline
        awaited = _AWAITED.get(phase, f"the {phase} reply")
        trickled = (
            f"{deadline.received} octets arrived in {deadline.reads} reads"
            if deadline.received
            else "nothing arrived"
        )
        if deadline.session_ended:
            detail = (
                f"the {deadline.session_limit:g} s session deadline ran out in {phase}, before "
                f"{awaited} completed ({trickled} in its last {deadline.phase_elapsed():.1f} s)"
            )
            return PhaseFailure(phase, Outcome.TIMEOUT, detail, cause=Cause.DEADLINE)
        limit = deadline.phase_limit
        if deadline.received:
            detail = (
                f"{awaited} did not complete within the {limit:g} s phase deadline: {trickled} "
                "(a server trickling its reply, slow-loris style)"
            )
            return PhaseFailure(phase, Outcome.TIMEOUT, detail, cause=Cause.DEADLINE)
        if phase is Phase.TLS:
            detail = f"{awaited} did not complete within {limit:g} s"
            return PhaseFailure(phase, Outcome.TIMEOUT, detail)
        return PhaseFailure(phase, Outcome.TIMEOUT, f"no answer within {limit:g} s")

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
                except DeadlineExceeded:
                    raise
                except OSError as exc:
                    self.transcript.event(f"connect {address}:{port}: {exc.strerror or exc}")
                    error = exc
                    continue
                self.address = address
                self.seen = replace(self.seen, connected_to=f"{address}:{port}")
                self.transcript.event(f"connected to {address}:{port}")
                break
            else:
                raise error

    def run_handshake(self, mode: TlsMode) -> None:
        try:
            self._handshake(mode)
        except _Stop as stop:
            if not _worth_probing(stop.error):
                raise
            raise _Stop(self.probe_tls_version(stop.failure, mode)) from None

    def _handshake(self, mode: TlsMode) -> None:
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

    def probe_tls_version(self, failure: PhaseFailure, mode: TlsMode) -> PhaseFailure:
        """After a TLS ≥ 1.2 handshake failed as a TLS 1.0/1.1-only relay makes it fail: one
        more connection allowing only TLS 1.0/1.1, to name the relay's version. It carries EHLO
        and STARTTLS (if that is the mode) in clear, as the first did, and nothing at all over
        its TLS: it is closed right after the handshake. Its client never sees the credentials.
        """
        self.transcript.event(
            "TLS version probe: a second connection allowing only TLS 1.0/1.1, to learn the "
            "relay's version; it is closed after the handshake, nothing is sent over it"
        )
        start = time.monotonic()
        self.deadline.begin_phase()
        probe = _BoundedClient(self.transcript, self.deadline)
        version: str | None = None
        problem = "no address to connect to"
        try:
            if self.address is not None:
                version = self._probe(probe, mode)
        except (OSError, ProbeError) as exc:
            problem = str(exc) or type(exc).__name__
        finally:
            probe.close()
            self.timings.append(("TLS version probe", round((time.monotonic() - start) * 1000)))
        if version is None:
            self.transcript.event(f"TLS version probe failed: {problem}")
            detail = (
                f"{failure.detail}; a second connection allowing TLS 1.0/1.1 failed too "
                f"({problem}), so the TLS version alone does not explain it"
            )
            return replace(failure, detail=detail)
        self.transcript.event(f"TLS version probe: the relay negotiated {version}")
        self.seen = replace(self.seen, probed_tls_version=version)
        if version in MODERN_TLS:  # cannot happen with a TLS 1.1 ceiling; keep the first story
            return failure
        detail = (
            f"the relay's TLS version is {version}, below the 1.2 SMTP-02 requires (asked for "
            f"TLS ≥ 1.2: {failure.detail}; a connection allowing TLS 1.0/1.1 negotiated "
            f"{version} and was closed unused)"
        )
        return PhaseFailure(Phase.TLS, Outcome.TLS, detail, cause=Cause.OLD_TLS)

    def _probe(self, probe: SmtpClient, mode: TlsMode) -> str | None:
        assert self.address is not None
        probe.connect(self.address, self.endpoint.dial_port)
        if mode is TlsMode.STARTTLS:
            for command, code in ((None, 220), (f"EHLO {self._ehlo_name()}", 250),
                                  ("STARTTLS", 220)):  # fmt: skip
                reply = probe.read_reply() if command is None else probe.command(command)
                if reply.code != code:
                    raise ProbeError(f"answered {reply.code} where {code} was expected")
        context = bounded_tls(legacy_probe_context(), self.deadline)
        return probe.start_tls(context, self.endpoint.host).version()

    def _ehlo_name(self) -> str:
        return self.endpoint.ehlo_name or socket.gethostname() or "localhost"

    def run_greeting(self) -> None:
        with self.phase(Phase.BANNER):
            reply = self.client.read_reply()
            self.seen = replace(self.seen, banner=str(reply))
            self.expect(Phase.BANNER, reply, 220)
        self.run_ehlo()

    def run_ehlo(self) -> None:
        name = self._ehlo_name()
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
            self.client.echo_guard = EchoGuard(password, [user])
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
        self.deadline.begin_phase()  # QUIT gets a phase's time, within the session's
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
            deadlines_s=(
                ("read", self.deadline.per_read),
                ("phase", self.deadline.phase_limit),
                ("session", self.deadline.session_limit),
            ),
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
    phase_timeout: float | None = None,
    session_timeout: float | None = None,
) -> RelaySession:
    """The whole SMTP conversation with one relay endpoint, as data (SMTP-01…04).

    ``send=False`` (``--no-send``) connects, negotiates TLS and authenticates, then quits.
    ``timeout`` (default: the endpoint's) bounds each network operation; ``phase_timeout``
    (default: ``timeout``) each phase, however the server paces its bytes, and
    ``session_timeout`` (default: :data:`SESSION_DEADLINE_FACTOR` × ``phase_timeout``) the
    whole session; a phase that runs out of time fails with outcome TIMEOUT. The resolver is
    not interruptible: its own timeouts bound the resolve phase, which counts towards the
    session's deadline. ``dns_resolve`` is the
    run's resolver (default: the system's); it is not used when the endpoint has a
    ``connect_address``. ``hosts`` are the hosts sharing this credential set, for the evidence
    and the message body. A bad ``ca_file`` raises ConfigError (operator input, not the relay).
    """
    REDACTOR.register(deployed.password, [deployed.username] if deployed.username else [])
    transcript = Transcript()
    limit = timeout or endpoint.timeout
    phase_limit = phase_timeout or limit
    session_limit = session_timeout or SESSION_DEADLINE_FACTOR * phase_limit
    deadline = Deadline(limit, phase_limit, session_limit)
    base = _base(
        target or relay_target(endpoint, deployed), endpoint, deployed, recipient, send, hosts
    )
    resolve = dns_resolve or system_resolve
    session = _Session(endpoint, deployed, transcript, deadline, resolve, base)
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
