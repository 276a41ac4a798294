"""Test-suite guard: no test ever sends traffic beyond loopback (reference/test-lab.md).

An audit hook refuses ``socket.connect``/``sendto`` to any address outside 127.0.0.0/8, ::1 and
Unix sockets, so a misrouted lookup fails the test instead of leaving the machine.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import settings

from smtpcheck.secrets import REDACTOR

if os.environ.get("CI"):
    # CI runs every property on the same examples each time (as tests/fuzz's "ci" profile
    # does): a red build is reproducible and a green one is not luck. Locally, hypothesis
    # keeps exploring new examples, and what it finds becomes a test.
    settings.register_profile("ci-derandomized", derandomize=True, database=None)
    settings.load_profile("ci-derandomized")


class NonLoopbackConnect(AssertionError):
    """A test tried to reach an address outside loopback."""


def _is_loopback(address: Any) -> bool:
    if isinstance(address, str | bytes):  # AF_UNIX path
        return True
    if not isinstance(address, tuple) or not address:
        return True
    host = address[0]
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False  # a name: resolution would already have been a lookup, refuse it


def _loopback_guard(event: str, args: tuple[Any, ...]) -> None:
    if event in ("socket.connect", "socket.sendto"):
        sock, address = args[0], args[-1]
        family = getattr(sock, "family", None)
        if family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise NonLoopbackConnect(f"test tried to reach {address!r}: only loopback is allowed")
    elif event == "socket.getaddrinfo":
        host = args[0]
        if isinstance(host, bytes):
            host = host.decode()
        if host and not _is_loopback((host,)):
            raise NonLoopbackConnect(f"test tried to resolve {host!r}: only loopback is allowed")


sys.addaudithook(_loopback_guard)


@pytest.fixture(autouse=True)
def _isolated_redactor() -> Iterator[None]:
    """Secrets one test registers in the process-wide redactor must not scrub another test's
    output (a one-letter test password would otherwise blank that letter everywhere after)."""
    before = REDACTOR.snapshot()
    yield
    REDACTOR.restore(before)


pytest_plugins = ["pytester"]
