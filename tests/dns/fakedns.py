"""UDP test doubles for faults a real NSD cannot produce (the only mocks in the DNS suite).

- :class:`DeadServer`: a bound UDP socket nobody reads: every question times out.
- :class:`TruncatingServer`: answers every question with TC=1 and has no TCP listener.
- :class:`GatheringServer`: answers (NXDOMAIN) only once ``n`` questions are in flight at the
  same time, so a client that asks one at a time gets timeouts: concurrency shown without
  measuring time.
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType

import dns.flags
import dns.message
import dns.rcode


class _UdpServer:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port: int = self.sock.getsockname()[1]
        self.received = 0

    @property
    def nameserver(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> _UdpServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self.sock.close()


class DeadServer(_UdpServer):
    """Never answers."""


class _ThreadedServer(_UdpServer):
    def __init__(self) -> None:
        super().__init__()
        self.sock.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data, address = self.sock.recvfrom(4096)
            except TimeoutError:
                self.idle()
                continue
            except OSError:
                return
            self.received += 1
            self.handle(dns.message.from_wire(data), address)

    def idle(self) -> None:
        """Called when nothing arrived for a moment."""

    def handle(self, query: dns.message.Message, address: tuple[str, int]) -> None:
        raise NotImplementedError

    def reply(
        self,
        query: dns.message.Message,
        address: tuple[str, int],
        *,
        flags: int = 0,
        rcode: dns.rcode.Rcode = dns.rcode.NOERROR,
    ) -> None:
        response = dns.message.make_response(query)
        response.flags |= flags
        response.set_rcode(rcode)
        self.sock.sendto(response.to_wire(), address)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        super().close()


class TruncatingServer(_ThreadedServer):
    """TC=1 on every UDP answer; nothing listens on TCP at the same port."""

    def handle(self, query: dns.message.Message, address: tuple[str, int]) -> None:
        self.reply(query, address, flags=dns.flags.TC)


class GatheringServer(_ThreadedServer):
    """Holds every question until ``n`` are waiting, then answers them all NXDOMAIN."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.waiting: list[tuple[dns.message.Message, tuple[str, int]]] = []
        super().__init__()

    def handle(self, query: dns.message.Message, address: tuple[str, int]) -> None:
        self.waiting.append((query, address))
        if len(self.waiting) >= self.n:
            for waiting_query, waiting_address in self.waiting:
                self.reply(waiting_query, waiting_address, rcode=dns.rcode.NXDOMAIN)
            self.waiting.clear()
