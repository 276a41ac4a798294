"""Name resolution, TLS settings and deadlines shared by the relay session and the mailbox check.

The resolver is passed in (STYLE §1): the system's by default, or the run's ``--nameserver``
through :func:`dns_resolve`, so the lab and tests resolve relay names in NSD on loopback.
"""

from __future__ import annotations

import socket
import ssl
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from smtpcheck.errors import ConfigError, ProbeError
from smtpcheck.mailauth.client import DnsClient, Outcome

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer


class ResolveError(ProbeError):
    """The relay host name does not resolve to an address (NXDOMAIN, no A/AAAA)."""


class ResolverUnavailable(ResolveError):
    """The resolver gave no answer (timeout, no reachable name server): nothing was learnt."""


Resolver = Callable[[str], Sequence[str]]
"""Host name → addresses; raises :class:`ResolveError`."""


def system_resolve(host: str) -> list[str]:
    """The system resolver (``getaddrinfo``), addresses in its order, duplicates removed."""
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise ResolverUnavailable(f"{host}: {exc.strerror}") from None
        raise ResolveError(f"{host}: {exc.strerror}") from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def dns_resolve(client: DnsClient) -> Resolver:
    """A :data:`Resolver` asking the run's DNS client (``--nameserver``, ``--zone-file``) for A
    and AAAA: the relay's name is looked up where the DNS controls look, each question once."""

    def resolve(host: str) -> list[str]:
        addresses: list[str] = []
        for rdtype in ("A", "AAAA"):
            answer = client.query(host, rdtype)
            if answer.outcome is Outcome.NXDOMAIN:
                raise ResolveError(f"{host}: no such domain (NXDOMAIN)")
            if answer.failed:
                raise ResolverUnavailable(answer.describe())
            addresses += answer.records
        if not addresses:
            raise ResolveError(f"{host}: no A or AAAA record")
        return addresses

    return resolve


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verification on (chain and host name), TLS ≥ 1.2; ``ca_file`` replaces the system CAs."""
    try:
        context = ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"ca_file {ca_file}: {exc}") from None
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


def legacy_probe_context() -> ssl.SSLContext:
    """TLS 1.0/1.1 only, at OpenSSL security level 0, no verification: used only to learn which
    old version a relay speaks after a TLS ≥ 1.2 handshake with it failed. Nothing is sent over
    a connection made with it (the session closes it right after the handshake), so neither
    the lowered version nor the unverified certificate can expose anything."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # deprecated versions, on purpose
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = ssl.TLSVersion.TLSv1
        context.maximum_version = ssl.TLSVersion.TLSv1_1
    context.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 offers no TLS < 1.2 above level 0
    return context


class DeadlineExceeded(TimeoutError):
    """A phase or the whole session ran out of time, however the peer paced its bytes."""


class Deadline:
    """The time a relay session may still take: per read, per phase and in total.

    A socket timeout bounds one read, so a peer sending a byte every few seconds (a slow-loris
    or tarpit) never trips it. The bounded sockets below ask :meth:`budget` before each read,
    write and handshake: the wait is the smaller of the per-read timeout and what is left of
    the phase and of the session (monotonic clock), and nothing is waited for once either ends.
    """

    def __init__(
        self,
        per_read: float,
        phase: float,
        session: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_read = per_read
        self.phase_limit = phase
        self.session_limit = session
        self._clock = clock
        self._session_end = clock() + session
        self._phase_end = self._session_end
        self._phase_start = clock()
        self.received = 0  # octets received in the current phase
        self.reads = 0  # reads that returned data in the current phase

    def begin_phase(self) -> None:
        """A new phase: its own deadline, never beyond the session's."""
        now = self._clock()
        self._phase_start = now
        self._phase_end = min(now + self.phase_limit, self._session_end)
        self.received = self.reads = 0

    def remaining(self) -> float:
        return min(self._phase_end, self._session_end) - self._clock()

    @property
    def expired(self) -> bool:
        return self.remaining() <= 0

    @property
    def session_ended(self) -> bool:
        """The session's deadline, not the phase's, is (or ends with) the one that ran out."""
        return self._session_end <= self._phase_start + self.phase_limit

    def phase_elapsed(self) -> float:
        return self._clock() - self._phase_start

    def budget(self) -> float:
        """Seconds the next network operation may wait; DeadlineExceeded when none are left."""
        left = self.remaining()
        if left <= 0:
            raise DeadlineExceeded("the deadline has passed")
        return min(self.per_read, left)

    def count(self, octets: int) -> None:
        if octets:
            self.received += octets
            self.reads += 1


def _send_all(sock: socket.socket, data: bytes, deadline: Deadline) -> None:
    view = memoryview(data)
    while view:
        sock.settimeout(deadline.budget())
        sent = sock.send(view)
        view = view[sent:]


class _Bounded:
    """Reads and writes that keep to ``deadline`` (mixed into the TCP and the TLS socket)."""

    deadline: Deadline

    def recv(self, bufsize: int = 1024, flags: int = 0) -> bytes:
        self.settimeout(self.deadline.budget())  # type: ignore[attr-defined]
        data: bytes = super().recv(bufsize, flags)  # type: ignore[misc]
        self.deadline.count(len(data))
        return data

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        _send_all(self, bytes(data), self.deadline)  # type: ignore[arg-type]


class _BoundedSocket(_Bounded, socket.socket):
    """A TCP socket whose reads and writes keep to a :class:`Deadline`."""


class _BoundedTlsSocket(_Bounded, ssl.SSLSocket):
    """The TLS socket of a :func:`bounded_tls` context: handshake, reads and writes keep to
    the context's deadline (``SSLContext.sslsocket_class``)."""

    def do_handshake(self, block: bool = False) -> None:
        self.settimeout(self.deadline.budget())
        super().do_handshake(block)


def bounded_socket(sock: socket.socket, deadline: Deadline) -> socket.socket:
    """``sock`` (connected) as a socket that keeps to ``deadline``; ``sock`` is detached."""
    timeout = sock.gettimeout()
    bounded = _BoundedSocket(sock.family, sock.type, sock.proto, fileno=sock.detach())
    bounded.deadline = deadline
    bounded.settimeout(timeout)
    return bounded


def bounded_tls(context: ssl.SSLContext, deadline: Deadline) -> ssl.SSLContext:
    """``context``, whose sockets (handshake included) now keep to ``deadline``."""

    class _Tls(_BoundedTlsSocket):
        pass

    _Tls.deadline = deadline
    context.sslsocket_class = _Tls
    return context
