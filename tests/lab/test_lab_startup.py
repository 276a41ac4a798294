"""The lab's servers are ready only when they themselves listen, on ports no other lab holds.

Several labs run at once (the test session's and the ``smtpcheck demo`` a test starts, xdist
workers): a server that could not bind its port must fail the lab's start with its log, not pass
for ready because another process listens there, and labs must not pick the same ports or
addresses in the first place.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import smtpcheck.lab.mailstack as mailstack
from smtpcheck.lab import mailconf
from smtpcheck.lab.mailstack import MailStack, RelayAccount
from smtpcheck.lab.nsd import NsdServer, zone_text
from smtpcheck.lab.proc import LabError, ServerProcess, free_port, free_ports
from smtpcheck.secrets import Secret

pytestmark = pytest.mark.lab

ZONES = {"example.test": zone_text("example.test", '@ TXT "lab"')}


@contextlib.contextmanager
def _listener(address: str = "127.0.0.1", port: int = 0) -> Iterator[int]:
    """A TCP listener of this process (another lab's server, as far as the lab can tell)."""
    with socket.socket() as sock:
        sock.bind((address, port))
        sock.listen()
        yield sock.getsockname()[1]


def _binder(port: int) -> list[str]:
    """A server that binds and listens on ``port``, as the lab's servers do."""
    code = (
        "import socket, time\n"
        f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(30)\n"
    )
    return [sys.executable, "-c", code]


def test_a_server_that_cannot_bind_is_not_ready_when_another_process_listens(
    tmp_path: Path,
) -> None:
    with _listener() as port:
        server = ServerProcess("binder", _binder(port), tmp_path / "binder.log").start()
        try:
            with pytest.raises(LabError, match=r"binder exited before listening.*listens there"):
                server.wait_for_port("127.0.0.1", port)
        finally:
            server.stop()
    assert "Address already in use" in (tmp_path / "binder.log").read_text()


def test_a_server_is_ready_when_it_listens_itself(tmp_path: Path) -> None:
    port = free_port()
    with ServerProcess("binder", _binder(port), tmp_path / "binder.log") as server:
        server.wait_for_port("127.0.0.1", port)
        assert server.running()


def test_nsd_whose_port_another_process_listens_on_fails_with_its_log(tmp_path: Path) -> None:
    with _listener() as port:
        nsd = NsdServer(tmp_path / "nsd", ZONES, port=port)
        try:
            with pytest.raises(LabError, match="can't bind tcp socket"):
                nsd.start()
        finally:
            nsd.stop()


@contextlib.contextmanager
def _udp_only_taken() -> Iterator[int]:
    """A port this test holds for UDP whose TCP side is free now (another process of a busy
    machine may hold the TCP side of the first one the kernel offers)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = udp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
            yield port
            return
    raise AssertionError("no port with a free TCP side in 50 tries")


def test_nsd_gets_a_port_free_for_udp_as_well(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NSD binds its port for UDP and TCP: a port whose TCP side is free is not enough."""
    with _udp_only_taken() as taken:  # TCP free, UDP taken
        offers = [taken]

        class KernelOffersTakenFirst(socket.socket):
            """The kernel's next TCP port-0 offer is the port whose UDP is in use."""

            def bind(self, address: Any) -> None:
                if self.type == socket.SOCK_STREAM and address[1] == 0 and offers:
                    address = (address[0], offers.pop())
                super().bind(address)

        monkeypatch.setattr(socket, "socket", KernelOffersTakenFirst)
        with NsdServer(tmp_path / "nsd", ZONES) as nsd:
            monkeypatch.undo()
            assert offers == []  # the taken port was offered, and passed over
            assert nsd.port != taken


def test_free_ports_are_distinct() -> None:
    for _ in range(200):
        assert len(set(free_ports(8))) == 8


def _stack() -> MailStack:
    return MailStack(
        accounts=[RelayAccount("user", Secret("startup-pw"), ("@example.test",))],
        mailbox_address="ops@recipient.test",
        mailbox_password=Secret("startup-mailbox"),
    )


def test_a_milter_port_taken_before_opendkim_binds_it_fails_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another lab's server takes the signing milter's port between pick and bind: postfix would
    otherwise talk to that server and defer every message (milter_default_action=tempfail)."""
    with contextlib.ExitStack() as others:
        real = free_ports

        def then_taken(count: int, address: str = "127.0.0.1", **kw: bool) -> list[int]:
            ports = real(count, address, **kw)
            others.enter_context(_listener(address, ports[4]))  # the signing milter's
            return ports

        monkeypatch.setattr(mailstack, "free_ports", then_taken)
        stack = _stack()
        try:
            with pytest.raises(LabError, match=r"opendkim-sign exited before listening.*listens"):
                stack.start()
            assert stack._servers == []  # everything it had started is stopped
        finally:
            stack.stop()


def test_the_milters_listen_where_postfix_looks_for_them(tmp_path: Path) -> None:
    """postfix's smtpd_milters name the stack's address: so must opendkim's sockets."""
    key = tmp_path / "key.private"
    mailconf.write_opendkim_signer(
        tmp_path / "sign", ("127.0.0.9", 4001), "example.test", "lab", key
    )
    mailconf.write_opendkim_verifier(
        tmp_path / "verify", ("127.0.0.9", 4002), ("127.0.0.9", 53), "mx.recipient.test"
    )
    assert "Socket inet:4001@127.0.0.9\n" in (tmp_path / "sign" / "opendkim.conf").read_text()
    assert "Socket inet:4002@127.0.0.9\n" in (tmp_path / "verify" / "opendkim.conf").read_text()


def _first_address_in_a_new_process() -> str:
    code = "from smtpcheck.lab.sshd import next_loopback_address; print(next_loopback_address())"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_labs_in_different_processes_hand_out_different_addresses() -> None:
    """The test session and the demo it runs each number their hosts: never the same ones."""
    first, second = _first_address_in_a_new_process(), _first_address_in_a_new_process()
    assert first != second
    assert not first.startswith("127.0.") and not second.startswith("127.0.")
