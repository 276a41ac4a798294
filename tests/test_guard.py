"""The loopback guard itself: a connect beyond loopback must fail the test, loopback must work."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import NonLoopbackConnect


def test_connect_beyond_loopback_is_refused() -> None:
    with socket.socket() as sock, pytest.raises(NonLoopbackConnect):
        sock.connect(("192.0.2.1", 25))


def test_name_resolution_beyond_loopback_is_refused() -> None:
    with pytest.raises(NonLoopbackConnect):
        socket.getaddrinfo("example.com", 25)


def test_udp_beyond_loopback_is_refused() -> None:
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock,
        pytest.raises(NonLoopbackConnect),
    ):
        sock.sendto(b"x", ("198.51.100.1", 53))


def test_loopback_is_allowed() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
