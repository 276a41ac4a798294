"""What one relay session observed: phases, replies, TLS facts, timings, transcript.

A :class:`RelaySession` is pure data. Problems of the relay (a refused connection, a 535, a
certificate for the wrong host) are a :class:`PhaseFailure` in it, never an exception; the
evaluators in :mod:`smtpcheck.relay.evaluate` turn it into findings.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smtpcheck.providers import TlsMode
from smtpcheck.relay.endpoint import EndpointProblem, RelayEndpoint
from smtpcheck.relay.transcript import TranscriptLine


class Phase(enum.StrEnum):
    """The steps of a submission session, named as swaks reports them."""

    ENDPOINT = "endpoint"  # deriving the endpoint from the credential file
    RESOLVE = "resolve"
    CONNECT = "connect"
    BANNER = "banner"
    EHLO = "EHLO"
    STARTTLS = "STARTTLS"
    TLS = "TLS handshake"
    AUTH = "AUTH"
    MAIL_FROM = "MAIL FROM"
    RCPT = "RCPT TO"
    DATA = "DATA"


class Outcome(enum.StrEnum):
    """How a phase failed."""

    REPLY = "reply"  # the server answered with a code that ends the session
    TIMEOUT = "timeout"
    CLOSED = "closed"  # the server closed the connection
    NETWORK = "network"  # refused, reset, unreachable
    NAME = "name"  # the host name does not resolve
    TLS = "tls"  # the handshake failed (protocol, cipher, not TLS at all)
    CERTIFICATE = "certificate"  # the certificate chain or host name did not verify
    REFUSED = "refused"  # smtpcheck stopped: going on would be unsafe or pointless
    PROTOCOL = "protocol"  # the server broke the protocol (malformed reply, injection)
    UNCONFIGURED = "unconfigured"  # smtpcheck lacks a setting it needs (e.g. the recipient)


class Cause(enum.StrEnum):
    """What exactly went wrong, where the outcome alone does not say (remediation keys on it)."""

    UNSPECIFIED = ""
    NO_ENDPOINT = "no-endpoint"  # the credential file gives no host/provider or no port
    CLEARTEXT_CONFIG = "cleartext-config"  # the application is configured without TLS
    NO_STARTTLS = "no-starttls"  # STARTTLS configured, not offered by the server
    NOT_TLS = "not-tls"  # implicit TLS configured, the server spoke plain text
    OLD_TLS = "old-tls"  # no TLS ≥ 1.2 in common
    NO_CREDENTIALS = "no-credentials"  # the credential file has no user name or password
    NO_AUTH = "no-auth"  # no AUTH offered, or no mechanism in common
    BAD_ADDRESS = "bad-address"  # the from-address or recipient cannot go in a command
    NO_RECIPIENT = "no-recipient"  # SYSTEM_TOEMAIL_ADDRESS not set
    DEADLINE = "deadline"  # the phase's or session's deadline ran out while the peer trickled


@dataclass(frozen=True)
class PhaseFailure:
    """The phase that ended the session, and why."""

    phase: Phase
    outcome: Outcome
    detail: str  # one line for a reader
    code: int | None = None  # the SMTP reply code, for outcome REPLY
    reply: str | None = None  # the raw reply text (escaped by reporters, not here)
    cause: Cause = Cause.UNSPECIFIED


@dataclass(frozen=True)
class TlsFacts:
    """The TLS connection that carried AUTH."""

    mode: TlsMode
    version: str  # e.g. "TLSv1.3"
    cipher: str
    bits: int | None
    server_name: str  # the host name that was verified (and sent as SNI)
    subject: str | None
    issuer: str | None
    not_after: str | None
    names: tuple[str, ...]  # subjectAltName DNS and IP entries


@dataclass(frozen=True)
class RelaySession:
    """Everything one relay session observed (SMTP-01…04), secrets redacted."""

    target: str
    endpoint: RelayEndpoint | None  # None when no endpoint could be derived
    username: str | None
    password_fingerprint: str | None
    from_address: str | None
    recipient: str | None
    send_requested: bool
    hosts: tuple[str, ...]
    started_at: str  # UTC, ISO 8601
    completed: tuple[Phase, ...]
    failure: PhaseFailure | None
    addresses: tuple[str, ...] = ()  # what the host name resolved to
    connected_to: str | None = None  # address:port actually connected to
    banner: str | None = None
    extensions: tuple[str, ...] = ()  # EHLO keywords (after TLS when TLS was negotiated)
    starttls_offered: bool | None = None
    tls: TlsFacts | None = None
    auth_mechanism: str | None = None
    auth_reply: str | None = None
    token: str | None = None
    message_id: str | None = None
    queue_id: str | None = None
    accepted_reply: str | None = None
    sent_at: float | None = None  # epoch seconds of the 250 to DATA (delivery latency)
    timings_ms: tuple[tuple[str, int], ...] = ()  # phase → milliseconds, plus "total"
    transcript: tuple[TranscriptLine, ...] = ()
    endpoint_problem: EndpointProblem | None = None
    # After a failed TLS ≥ 1.2 handshake: the version a second, TLS 1.0/1.1-only connection
    # negotiated (nothing was sent over it), or None when no probe ran or it failed too.
    probed_tls_version: str | None = None
    deadlines_s: tuple[tuple[str, float], ...] = ()  # "read"/"phase"/"session" → seconds

    def reached(self, phase: Phase) -> bool:
        """True when ``phase`` completed."""
        return phase in self.completed

    @property
    def authenticated(self) -> bool:
        return Phase.AUTH in self.completed

    @property
    def accepted(self) -> bool:
        """The relay took the test message (250 to the end of DATA)."""
        return Phase.DATA in self.completed

    @property
    def total_ms(self) -> int | None:
        return dict(self.timings_ms).get("total")
