"""NSD, authoritative, in the foreground on loopback: the lab's DNS (reference/test-lab.md).

NSD serves whatever zones it is given, so the lab publishes both the sending domains and
stand-ins for the providers' own zones (``spf.mailjet.com``, ``amazonses.com``, ...).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Self

import dns.exception
import dns.message
import dns.query
import dns.rdatatype

from smtpcheck.lab.proc import LabError, LabService, ServerProcess, free_port, log_tail

_SOA = "@ 3600 IN SOA ns1.{origin}. hostmaster.{origin}. 1 3600 900 604800 60"
_NS = "@ 3600 IN NS ns1.{origin}."


def zone_text(origin: str, records: str) -> str:
    """A complete zone: SOA and NS for ``origin`` followed by ``records`` (zone-file lines)."""
    origin = origin.rstrip(".")
    head = [f"$ORIGIN {origin}.", "$TTL 300", _SOA.format(origin=origin), _NS.format(origin=origin)]
    return "\n".join([*head, records.strip(), ""])


def txt_rdata(text: str) -> str:
    """A TXT rdata with ``text`` split into quoted strings of at most 255 octets (RFC 1035)."""
    raw = text.encode()
    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
    quoted = []
    for chunk in chunks:
        escaped = chunk.decode().replace("\\", "\\\\").replace('"', '\\"')
        quoted.append(f'"{escaped}"')
    return "( " + " ".join(quoted) + " )" if len(quoted) > 1 else quoted[0]


class NsdServer(LabService):
    """One NSD instance serving ``zones`` ({origin: zone text}) on ``address:port``."""

    def __init__(
        self,
        workdir: Path,
        zones: Mapping[str, str],
        *,
        address: str = "127.0.0.1",
        port: int | None = None,
    ) -> None:
        self.workdir = workdir
        self.zones = dict(zones)
        self.address = address
        self._given_port = port
        self.port = port or 0  # picked by start(), just before NSD binds it (TCP and UDP)
        self._server: ServerProcess | None = None

    @property
    def nameserver(self) -> str:
        """The ``ADDR:PORT`` form that ``--nameserver`` takes."""
        return f"{self.address}:{self.port}"

    def _write_config(self) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        lines = [
            "server:",
            f"  ip-address: {self.address}@{self.port}",
            f"  port: {self.port}",
            '  username: ""',
            '  chroot: ""',
            '  database: ""',
            f'  zonesdir: "{self.workdir}"',
            f'  pidfile: "{self.workdir}/nsd.pid"',
            f'  xfrdfile: "{self.workdir}/xfrd.state"',
            f'  zonelistfile: "{self.workdir}/zone.list"',
            f'  xfrdir: "{self.workdir}"',
            f'  logfile: "{self.workdir}/nsd.log"',
            "  server-count: 1",
            "  verbosity: 1",
            "remote-control:",
            "  control-enable: no",
        ]
        for origin, text in self.zones.items():
            name = origin.rstrip(".")
            (self.workdir / f"{name}.zone").write_text(text)
            lines += ["zone:", f"  name: {name}", f"  zonefile: {name}.zone"]
        config = self.workdir / "nsd.conf"
        config.write_text("\n".join(lines) + "\n")
        return config

    def start(self) -> Self:
        nsd = shutil.which("nsd") or "/usr/sbin/nsd"
        self.port = self._given_port or free_port(self.address, udp=True)
        config = self._write_config()
        check = shutil.which("nsd-checkconf") or "/usr/sbin/nsd-checkconf"
        result = subprocess.run([check, str(config)], capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise LabError(f"nsd config rejected: {result.stdout}{result.stderr}".strip())
        # NSD's output goes to its own log file (nsd.conf logfile), which then says why it failed
        self._server = ServerProcess("nsd", [nsd, "-d", "-c", str(config)], self.log_path)
        self._server.start()
        self._wait_ready()
        return self

    @property
    def log_path(self) -> Path:
        return self.workdir / "nsd.log"

    def _wait_ready(self, timeout: float = 10.0) -> None:
        """NSD listens on TCP (ours, not another lab's), then answers a query over UDP: the
        transport resolvers (libunbound, dnspython) use first."""
        assert self._server is not None
        self._server.wait_for_port(self.address, self.port, timeout)
        origin = next(iter(self.zones), ".").rstrip(".") + "."
        query = dns.message.make_query(origin, dns.rdatatype.SOA)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                dns.query.udp(query, self.address, port=self.port, timeout=0.2)
                return
            except (dns.exception.DNSException, OSError):
                if not self._server.running():
                    break
                time.sleep(0.02)
        raise LabError(
            f"nsd does not answer over UDP on {self.nameserver}:\n{log_tail(self.log_path)}"
        )

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
