"""What an error of the network, TLS or the SMTP client means for the phase it happened in.

Pure classification: an exception raised while a phase ran becomes a :class:`PhaseFailure`
(timeout, refused, closed, certificate not accepted, not TLS at all, TLS too old, …), and a
negotiated TLS connection becomes :class:`TlsFacts` for the evidence of SMTP-02.
"""

from __future__ import annotations

import ssl

from smtpcheck.providers import TlsMode
from smtpcheck.relay.client import ConnectionClosed, MalformedReply, ResponseInjection
from smtpcheck.relay.model import Cause, Outcome, Phase, PhaseFailure, TlsFacts
from smtpcheck.relay.network import ResolveError, ResolverUnavailable

_OLD_TLS_REASONS = {
    "UNSUPPORTED_PROTOCOL",
    "TLSV1_ALERT_PROTOCOL_VERSION",
    "NO_PROTOCOLS_AVAILABLE",
    "TLSV1_ALERT_INSUFFICIENT_SECURITY",
}


def _tls_error(phase: Phase, exc: ssl.SSLError) -> PhaseFailure:
    reason = exc.reason or ""
    if isinstance(exc, ssl.SSLCertVerificationError):
        detail = f"certificate not accepted: {exc.verify_message} (code {exc.verify_code})"
        return PhaseFailure(phase, Outcome.CERTIFICATE, detail)
    if reason == "WRONG_VERSION_NUMBER":
        detail = "the server did not answer in TLS (a plain-text or STARTTLS port?)"
        return PhaseFailure(phase, Outcome.TLS, detail, cause=Cause.NOT_TLS)
    if reason in _OLD_TLS_REASONS:
        detail = f"no TLS version ≥ 1.2 in common with the server ({reason})"
        return PhaseFailure(phase, Outcome.TLS, detail, cause=Cause.OLD_TLS)
    return PhaseFailure(phase, Outcome.TLS, f"TLS handshake failed: {reason or exc}")


def failure_from(phase: Phase, exc: Exception, timeout: float) -> PhaseFailure:
    """A failure record for an exception raised by the network in ``phase``."""
    if isinstance(exc, TimeoutError):
        return PhaseFailure(phase, Outcome.TIMEOUT, f"no answer within {timeout:g} s")
    if isinstance(exc, ssl.SSLError):
        return _tls_error(phase, exc)
    if isinstance(exc, ConnectionClosed):
        return PhaseFailure(phase, Outcome.CLOSED, str(exc))
    if isinstance(exc, MalformedReply | ResponseInjection):
        return PhaseFailure(phase, Outcome.PROTOCOL, str(exc))
    if isinstance(exc, ResolverUnavailable):
        return PhaseFailure(phase, Outcome.TIMEOUT, str(exc))
    if isinstance(exc, ResolveError):
        return PhaseFailure(phase, Outcome.NAME, str(exc))
    if isinstance(exc, ConnectionRefusedError):
        return PhaseFailure(phase, Outcome.NETWORK, "connection refused")
    if isinstance(exc, OSError):
        return PhaseFailure(phase, Outcome.NETWORK, exc.strerror or str(exc))
    raise exc  # not a network problem: a bug


def _dn(name: object) -> str | None:
    """``CN=…, O=…`` from ``getpeercert()``'s nested tuples."""
    if not isinstance(name, tuple):
        return None
    parts = [f"{k}={v}" for rdn in name for (k, v) in rdn]
    return ", ".join(parts) or None


def tls_facts(sock: ssl.SSLSocket, mode: TlsMode, server_name: str) -> TlsFacts:
    """The negotiated version and cipher and the verified certificate's names and dates."""
    cert = sock.getpeercert() or {}
    cipher = sock.cipher()
    sans = [entry for entry in cert.get("subjectAltName", ()) if len(entry) == 2]
    return TlsFacts(
        mode=mode,
        version=sock.version() or "unknown",
        cipher=cipher[0] if cipher else "unknown",
        bits=cipher[2] if cipher else None,
        server_name=server_name,
        subject=_dn(cert.get("subject")),
        issuer=_dn(cert.get("issuer")),
        not_after=str(cert["notAfter"]) if "notAfter" in cert else None,
        names=tuple(f"{entry[0]}:{entry[1]}" for entry in sans),
    )
