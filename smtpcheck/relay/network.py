"""Name resolution and TLS settings shared by the relay session and the mailbox check.

The resolver is passed in (STYLE §1): the system's by default, or the run's ``--nameserver``
through :func:`dns_resolve`, so the lab and tests resolve relay names in NSD on loopback.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable, Sequence

from smtpcheck.errors import ConfigError, ProbeError
from smtpcheck.mailauth.client import DnsClient, Outcome


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
