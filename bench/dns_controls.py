"""DNS layer benchmark: queries sent and wall time, smtpcheck against checkdmarc, 1 and 50 domains.

Run as ``python bench/dns_controls.py`` (root: it starts NSD on loopback). Figures only, no
thresholds.

Queries are counted the same way for both tools, as UDP datagrams sent by any socket plus TCP
queries through dnspython's ``dns.query.tcp``; for smtpcheck its own ``queries_sent`` is
printed beside it as a cross-check. Each figure is measured on a cold cache: a fresh client, and
checkdmarc's module-level cache cleared. "loopback" asks NSD directly; "+20 ms" asks it through
a UDP proxy that holds each query and each reply 10 ms, standing for a resolver on the network.
"""

from __future__ import annotations

import multiprocessing
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import checkdmarc.dmarc
import checkdmarc.spf
import checkdmarc.utils
import dns.nameserver
import dns.query

from smtpcheck.lab.dnszones import DkimKeys, build_scenarios, build_zones
from smtpcheck.lab.nsd import NsdServer, zone_text
from smtpcheck.mailauth.dmarc import fetch_dmarc
from smtpcheck.mailauth.domain import (
    evaluate_domain,
    fetch_all_domain_facts,
)
from smtpcheck.mailauth.resolver import make_dns_client
from smtpcheck.mailauth.spftree import fetch_spf_tree
from smtpcheck.providers import ProviderCatalogue

DOMAIN = "good-mailjet.example"
RUNS = 15
ROUND_TRIPS_MS = (20, 50)
MAILJET = ProviderCatalogue.builtin().get("mailjet")


class _PacketCounter:
    """Counts DNS messages any caller sends: UDP datagrams and TCP queries (dns.query.tcp)."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def _counted(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.count += 1
            return function(*args, **kwargs)

        return counted

    @contextmanager
    def installed(self) -> Iterator[_PacketCounter]:
        sendto, tcp = socket.socket.sendto, dns.query.tcp
        socket.socket.sendto = self._counted(sendto)  # type: ignore[method-assign]
        dns.query.tcp = self._counted(tcp)
        try:
            yield self
        finally:
            socket.socket.sendto = sendto  # type: ignore[method-assign]
            dns.query.tcp = tcp


def _serve_delayed(listen: socket.socket, upstream: tuple[str, int], one_way: float) -> None:
    """The proxy's process: each query and each reply held ``one_way`` seconds."""
    pool = ThreadPoolExecutor(256)

    def relay(data: bytes, client: tuple[str, int]) -> None:
        time.sleep(one_way)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(5)
            sock.sendto(data, upstream)
            reply = sock.recv(65535)
        time.sleep(one_way)
        listen.sendto(reply, client)

    while True:
        data, client = listen.recvfrom(65535)
        pool.submit(relay, data, client)


@contextmanager
def _delay_proxy(upstream: tuple[str, int], one_way: float) -> Iterator[str]:
    """A UDP proxy on loopback in its own process (so it takes no GIL time from the client)."""
    listen = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listen.bind(("127.0.0.1", 0))
    process = multiprocessing.get_context("fork").Process(
        target=_serve_delayed, args=(listen, upstream, one_way), daemon=True
    )
    process.start()
    try:
        yield f"127.0.0.1:{listen.getsockname()[1]}"
    finally:
        process.terminate()
        process.join()
        listen.close()


def _smtpcheck_spf_dmarc(nameserver: str, domain: str) -> int:
    client = make_dns_client([nameserver], timeout=3, retries=1)
    client.prefetch([(domain, "TXT"), (f"_dmarc.{domain}", "TXT")])  # as fetch_domain_facts does
    fetch_spf_tree([domain], client)
    fetch_dmarc(domain, client)
    return client.queries_sent


def _smtpcheck_all(nameserver: str, domains: list[str]) -> int:
    client = make_dns_client([nameserver], timeout=3, retries=1)
    for facts in fetch_all_domain_facts([(d, MAILJET) for d in domains], client):
        evaluate_domain(facts)
    return client.queries_sent


def _checkdmarc_spf_dmarc(nameserver: str, domains: list[str]) -> None:
    host, _, port = nameserver.partition(":")
    servers = [dns.nameserver.Do53Nameserver(host, int(port))]
    checkdmarc.utils.DNS_CACHE.clear()
    for domain in domains:
        checkdmarc.spf.check_spf(domain, nameservers=servers, timeout=3, retries=1)
        checkdmarc.dmarc.check_dmarc(domain, nameservers=servers, timeout=3, retries=1)


def _measure(action: Callable[[], object], runs: int = RUNS) -> tuple[float, int, object]:
    """Median wall time in ms, packets sent per run, and the action's last result."""
    times, packets, result = [], 0, None
    for _ in range(runs):
        with _PacketCounter().installed() as counter:
            start = time.perf_counter()
            result = action()
            times.append((time.perf_counter() - start) * 1000)
        packets = counter.count
    return statistics.median(times), packets, result


def _report(label: str, nameserver: str, domains50: list[str], runs: int) -> None:
    print(f"\n== {label}: {DOMAIN}, median of {runs} cold runs")
    ms, packets, own = _measure(lambda: _smtpcheck_spf_dmarc(nameserver, DOMAIN), runs)
    print(f"smtpcheck SPF+DMARC       {packets:4} queries ({own} by queries_sent) {ms:8.1f} ms")
    ms, packets, _ = _measure(lambda: _checkdmarc_spf_dmarc(nameserver, [DOMAIN]), runs)
    print(f"checkdmarc SPF+DMARC      {packets:4} queries                     {ms:8.1f} ms")
    one, packets, own = _measure(lambda: _smtpcheck_all(nameserver, [DOMAIN]), runs)
    print(f"smtpcheck all 12 controls {packets:4} queries ({own} by queries_sent) {one:8.1f} ms")
    fifty, packets, own = _measure(lambda: _smtpcheck_all(nameserver, domains50), max(3, runs // 5))
    print(
        f"smtpcheck 50 domains      {packets:4} queries ({own} by queries_sent) {fifty:8.1f} ms"
        f"  = {fifty / one:.1f}x one domain"
    )
    ms, packets, _ = _measure(lambda: _checkdmarc_spf_dmarc(nameserver, domains50), 1)
    print(f"checkdmarc 50 domains     {packets:4} queries (SPF+DMARC only)    {ms:8.1f} ms")


def main() -> None:
    keys = DkimKeys.generate()
    scenarios = build_scenarios(keys)
    zones = dict(build_zones(keys, scenarios))
    template = next(s for s in scenarios if s.domain == DOMAIN).records
    domains50 = [f"bench-{n:02}.example" for n in range(50)]
    for domain in domains50:
        zones[domain] = zone_text(domain, template.replace(DOMAIN, domain))
    with tempfile.TemporaryDirectory() as workdir, NsdServer(Path(workdir), zones) as nsd:
        _report("loopback", nsd.nameserver, domains50, RUNS)
        for rtt in ROUND_TRIPS_MS:
            with _delay_proxy(("127.0.0.1", nsd.port), rtt / 2000) as proxied:
                _report(f"+{rtt} ms round trip", proxied, domains50, 5)


if __name__ == "__main__":
    main()
