"""Benchmark: ``smtpcheck audit`` across a fleet, beside the SSH floor (issue 10).

Run as root: ``.venv/bin/python bench/fleet.py [--large]``. Starts one lab of real sshd servers on
loopback (in parallel; the start-up time is printed apart), seeded as compliant WordPress hosts,
and NSD serving ``shop.example``. Then, for N = 10, 30, 100, 300 hosts (and 1,000 with
``--large``), three repetitions each, interleaved:

- ``smtpcheck audit`` as an operator runs it: a new process, ``python -m smtpcheck audit
  --inventory INV --known-hosts KH --layers host --report-dir DIR --jobs J`` (the lab's client
  key and ``sudo = true`` in the inventory; KH holds exactly the N hosts' keys). Wall time from
  spawn to exit, and its peak RSS from ``os.wait4`` (that one process's rusage, what
  ``RUSAGE_CHILDREN`` of a fresh wrapper process would report);
- the floor, in this process: bare paramiko per host (TCP connect with TCP_NODELAY, key
  exchange, public-key auth, exec ``true``, exit status, close), hosts on a ThreadPoolExecutor of
  the same size J; known_hosts parsed once (per-line ``HostKeyEntry``, inside the timing) and the
  client key loaded once;
- the observation alone, in this process (the library path: ``Audit.observe_hosts``, the same
  connection, sudo and fact command per host at --jobs J, no interpreter start-up, pytest or
  reports): it splits the audit's time into SSH work and what the process adds around it;
- the client's CPU seconds (user + system) of each way: on this machine the servers share the
  CPUs with the client, so what the client burns the servers wait for;
- the servers' CPU seconds of each way (the sshd listeners' own and reaped children's times
  from /proc: every session, and what it ran: sudo and the fact script, or ``true``), and the
  total (client + servers) of the audit over the floor's;
- remote commands per host, counted on the servers (sshd's VERBOSE log, as bench/credentials.py);
- the reports the audit wrote (sizes), and the time to write them again: report.json read back
  into an ``AuditResult`` (``Finding.from_dict``, its scope) and ``write_reports`` timed here.

Also: ``smtpcheck --help`` / ``smtpcheck controls`` start-up (best of 5) and a one-domain DNS audit
against the lab's NSD. Every figure is printed with its issue-10 target and PASS/MISS; the ratio
targets are judged at the default ``--jobs``. ``--profile`` adds one py-spy pass of a 300-host
audit (``--gil``: the thread holding the interpreter lock; shares by phase, top functions);
``--repeats 0 --profile`` runs only that. Nothing is asserted or tuned. The figures move with
the machine's load (printed after each size): other work on its 2 CPUs slows the servers too.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from pathlib import Path

import paramiko
from paramiko.hostkeys import HostKeyEntry

import smtpcheck
from smtpcheck.audit import Audit
from smtpcheck.catalogue import Layer
from smtpcheck.config import DEFAULT_JOBS, AuditOptions, load_audit_config
from smtpcheck.findings import Finding
from smtpcheck.lab import seeds
from smtpcheck.lab.dnszones import DkimKeys, build_zones
from smtpcheck.lab.maillab import sending_zone
from smtpcheck.lab.nsd import NsdServer, txt_rdata
from smtpcheck.lab.proc import LabError, log_tail
from smtpcheck.lab.sshd import LAB_USER, LabHost, SshLab
from smtpcheck.reports import REPORTERS, scrubbed, write_reports
from smtpcheck.result import AuditResult
from smtpcheck.runner import checks_dir
from smtpcheck.scope import DomainScope, HostScope, RelayScope, Scope
from smtpcheck.targets import App

SIZES = (10, 30, 100, 300)
LARGE = 1000
REPEATS = 3
CREDS = seeds.LabCredentials(2, "notifications@shop.example", "ops@shop.example", "user", "pw")
DOMAIN = "shop.example"
MIB = 1024 * 1024
PYTHON = Path(sys.executable)
SMTPCHECK = PYTHON.parent / "smtpcheck"  # the console script an operator types
_RACY_SECONDS = 2.1  # smtpcheck re-reads a file changed < 2 s ago (known_hosts.FileCache)


@dataclass
class Run:
    """One measured run: wall seconds, peak RSS (MiB; floor: none), commands per host."""

    seconds: float
    rss_mib: float | None
    commands: float
    cpu: float  # user + system seconds of the client (the audit process; this process's)
    servers: float  # user + system seconds of the lab's sshd (sessions and what they ran)


@dataclass
class Cell:
    """Repetitions of one way (audit or floor) at one size and concurrency."""

    runs: list[Run] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(r.seconds for r in self.runs)

    def spread(self) -> str:
        times = [r.seconds for r in self.runs]
        return f"{min(times):.2f}-{max(times):.2f}"

    @property
    def cpu(self) -> float:
        return statistics.median(r.cpu for r in self.runs)

    @property
    def servers(self) -> float:
        return statistics.median(r.servers for r in self.runs)

    @property
    def rss(self) -> float:
        return max(r.rss_mib or 0.0 for r in self.runs)

    @property
    def commands(self) -> str:
        counts = sorted({r.commands for r in self.runs})
        return "/".join(f"{c:.1f}" for c in counts)


@dataclass
class Reports:
    sizes: dict[str, int]  # file name -> bytes, as the audit wrote them
    write_seconds: float  # write_reports, median of 3
    per_format: dict[str, float]  # render + write of each format, median of 3
    findings: int


# --- the lab ---------------------------------------------------------------------------------


def raise_fd_limit() -> tuple[int, int]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def mem_available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_fleet(lab: SshLab, count: int) -> list[LabHost]:
    """``count`` compliant WordPress hosts, started in parallel (add_host on a started lab
    starts its sshd: key generation, spawn, wait for its port)."""

    def add(index: int) -> LabHost:
        for attempt in range(3):
            name = f"web-{index:04d}" + (f"-{attempt}" if attempt else "")
            try:
                host = lab.add_host(name)
            except LabError as exc:  # e.g. its port taken between the lab's pick and sshd's bind
                failed = next(h for h in lab.hosts if h.name == name)
                print(f"lab: {name} did not start, trying again: {str(exc).splitlines()[0]}; "
                      f"sshd said: {log_tail(failed.log, 2)!r}", flush=True)  # fmt: skip
                continue
            seeds.seed_credentials(host, App.WORDPRESS, seeds.labelled_file(CREDS))
            return host
        raise SystemExit(f"lab: web-{index:04d} did not start in 3 attempts")

    with ThreadPoolExecutor(16) as pool:
        return list(pool.map(add, range(count)))


def start_nsd(workdir: Path) -> NsdServer:
    keys = DkimKeys.generate()
    zones = dict(build_zones(keys))
    dkim = f"v=DKIM1; k=rsa; p={keys.p('rsa2048')}"
    line = f"mailjet._domainkey.{DOMAIN}. 300 IN TXT {txt_rdata(dkim)}"
    zones[DOMAIN] = sending_zone(DOMAIN, line)
    return NsdServer(workdir, zones)  # started by `with`


def write_inputs(lab: SshLab, fleet: list[LabHost], n: int, workdir: Path) -> tuple[Path, Path]:
    """The inventory and known_hosts of the first ``n`` hosts (as an operator's would be)."""
    hosts = fleet[:n]
    known = workdir / f"known_hosts-{n}"
    known.write_text("".join(h.host_key_line() + "\n" for h in hosts))
    inventory = workdir / f"inventory-{n}.toml"
    entries = [f'[defaults]\nidentity_file = "{lab.client_key}"\nsudo = true\napp = "wordpress"']
    entries += [f'[[hosts]]\nname = "{h.name}"\nurl = "{h.url()}"' for h in hosts]
    inventory.write_text("\n\n".join(entries) + "\n")
    return inventory, known


def commands_per_host(hosts: Sequence[LabHost], before: int) -> float:
    time.sleep(0.3)  # let sshd flush its log lines (and reap its sessions: servers_cpu)
    return (sum(h.sessions() for h in hosts) - before) / len(hosts)


_TICKS = os.sysconf("SC_CLK_TCK")


def servers_cpu(hosts: Sequence[LabHost]) -> float:
    """CPU seconds the hosts' sshd have used so far: each listener's own and its reaped
    children's (every finished session, with what it ran: sudo, the fact script, ``true``)."""
    ticks = 0
    for host in hosts:
        pid = int((host.root / "sshd.pid").read_text())
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += sum(int(x) for x in fields[11:15])  # utime stime cutime cstime
    return ticks / _TICKS


# --- the two ways ------------------------------------------------------------------------------


def audit_argv(inventory: Path, known: Path, report_dir: Path, jobs: int) -> list[str]:
    return [str(PYTHON), "-m", "smtpcheck", "audit", "--inventory", str(inventory),
            "--known-hosts", str(known), "--layers", "host", "--report-dir", str(report_dir),
            "--jobs", str(jobs)]  # fmt: skip


def run_timed(
    argv: Sequence[str], log: Path, env: dict[str, str]
) -> tuple[float, float, int, float]:
    """Wall seconds from spawn to exit, peak RSS in MiB (wait4: that process's own rusage),
    exit status and CPU seconds (user + system)."""
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return seconds, usage.ru_maxrss / 1024, proc.returncode, usage.ru_utime + usage.ru_stime


def run_audit(hosts: Sequence[LabHost], argv: list[str], log: Path) -> Run:
    before, servers = sum(h.sessions() for h in hosts), servers_cpu(hosts)
    seconds, rss, status, cpu = run_timed(argv, log, {**os.environ, **CREDS.environment()})
    if status != 0:
        tail = log.read_text(errors="replace")[-2000:]
        raise SystemExit(f"audit exit status {status} ({' '.join(argv)}):\n{tail}")
    commands = commands_per_host(hosts, before)
    return Run(seconds, rss, commands, cpu, servers_cpu(hosts) - servers)


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)  # every thread of this process
    return usage.ru_utime + usage.ru_stime


def run_observe(hosts: Sequence[LabHost], inventory: Path, known: Path, jobs: int) -> Run:
    """``smtpcheck``'s observation of every host, in this process."""
    environ = CREDS.environment()
    before, servers = sum(h.sessions() for h in hosts), servers_cpu(hosts)
    cpu = _cpu_seconds()
    started = time.perf_counter()
    options = AuditOptions(inventory=inventory, known_hosts=known, layers="host", jobs=jobs)
    observations = Audit(load_audit_config(options, environ), environ).observe_hosts()
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    failed = [o.failure for o in observations.values() if o.failure is not None]
    if failed:
        raise SystemExit(f"observe: {len(failed)} host(s) failed, e.g. {failed[0]}")
    commands = commands_per_host(hosts, before)
    return Run(seconds, None, commands, cpu, servers_cpu(hosts) - servers)


def _load_keys(known: Path) -> dict[str, list[paramiko.PKey]]:
    keys: dict[str, list[paramiko.PKey]] = {}
    for line in known.read_text().splitlines():
        entry = HostKeyEntry.from_line(line)
        if entry is not None:
            for name in entry.hostnames:
                keys.setdefault(name, []).append(entry.key)
    return keys


def _floor_host(host: LabHost, keys: dict[str, list[paramiko.PKey]], pkey: paramiko.PKey) -> int:
    client = paramiko.SSHClient()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    name = f"[{host.address}]:{host.port}"
    for key in keys[name]:
        client.get_host_keys().add(name, key.get_name(), key)
    sock = socket.create_connection((host.address, host.port), timeout=30)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        client.connect(host.address, host.port, username=LAB_USER, pkey=pkey, sock=sock,
                       timeout=30, allow_agent=False, look_for_keys=False)  # fmt: skip
        _, stdout, _ = client.exec_command("true", timeout=30)
        return stdout.channel.recv_exit_status()
    finally:
        client.close()


def run_floor(hosts: Sequence[LabHost], known: Path, client_key: Path, jobs: int) -> Run:
    before, servers = sum(h.sessions() for h in hosts), servers_cpu(hosts)
    cpu = _cpu_seconds()
    started = time.perf_counter()
    keys = _load_keys(known)
    pkey = paramiko.Ed25519Key.from_private_key_file(str(client_key))
    with ThreadPoolExecutor(max(1, min(jobs, len(hosts)))) as pool:
        statuses = list(pool.map(lambda h: _floor_host(h, keys, pkey), hosts))
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu
    if any(statuses):
        raise SystemExit(f"floor: `true` failed on {sum(map(bool, statuses))} host(s)")
    commands = commands_per_host(hosts, before)
    return Run(seconds, None, commands, cpu, servers_cpu(hosts) - servers)


# --- reports -----------------------------------------------------------------------------------


def result_from_json(path: Path) -> AuditResult:
    """An ``AuditResult`` equal for the reporters to the audit's: findings and scope back from
    report.json (durations are not in it: JUnit's times are then 0)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    findings = [Finding.from_dict(f) for f in doc["findings"]]
    scope_doc, targets = doc["scope"], doc["targets"]
    scope = Scope(
        layers=tuple(Layer(name) for name in scope_doc["layers_run"]),
        hosts=tuple(HostScope(t["name"], t["url"], t["app"], t["generation"])
                    for t in targets if t["kind"] == "host"),
        domains=tuple(DomainScope(t["name"], t["provider"], tuple(t["used_by"]))
                      for t in targets if t["kind"] == "domain"),
        relays=tuple(RelayScope(t["name"], t["endpoint"], t["provider"], tuple(t["hosts"]))
                     for t in targets if t["kind"] == "relay"),
        expected_sources=scope_doc["expected_sources"],
        no_send=scope_doc["no_send"],
        delivery=scope_doc["delivery_checked"],
        selection=scope_doc["selection"],
        fingerprint_key=scope_doc["fingerprint_key"],
    )  # fmt: skip
    return AuditResult.of(
        findings,
        datetime.fromisoformat(doc["started_at"]),
        datetime.fromisoformat(doc["finished_at"]),
        fail_on=None if doc["fail_on"] == "any fail or error" else doc["fail_on"],
        scope=scope,
    )


def _median_seconds(action: Callable[[], object], times: int = 3) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def _render_and_write(
    render: Callable[[AuditResult], str], result: AuditResult, path: Path
) -> None:
    path.write_text(render(result), encoding="utf-8")


def measure_reports(report_dir: Path, out: Path) -> Reports:
    sizes = {name: (report_dir / name).stat().st_size for name, _ in REPORTERS.values()}
    result = result_from_json(report_dir / "report.json")
    total = _median_seconds(lambda: write_reports(result, out))
    clean = scrubbed(result)
    per_format = {"scrub": _median_seconds(lambda: scrubbed(result))}
    for name, (filename, render) in REPORTERS.items():
        per_format[name] = _median_seconds(
            partial(_render_and_write, render, clean, out / filename)
        )
    return Reports(sizes, total, per_format, len(result.findings))


# --- start-up and DNS --------------------------------------------------------------------------


def best_and_median(argv: Sequence[str], env: dict[str, str], times: int = 5) -> tuple[float, ...]:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        done = subprocess.run(argv, capture_output=True, env=env, check=False)
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)}: exit status {done.returncode}\n{done.stderr!r}")
    return min(samples), statistics.median(samples)


def measure_startup(nsd: NsdServer, workdir: Path) -> dict[str, tuple[float, ...]]:
    env = {**os.environ, **CREDS.environment()}
    dns_audit = [str(SMTPCHECK), "audit", "--domain", DOMAIN, "--layers", "dns", "--nameserver",
                 nsd.nameserver, "--report-dir", str(workdir / "dns-reports"), "-q"]  # fmt: skip
    return {
        "python -c pass": best_and_median([str(PYTHON), "-c", "pass"], env),
        "smtpcheck --help": best_and_median([str(SMTPCHECK), "--help"], env),
        "smtpcheck controls": best_and_median([str(SMTPCHECK), "controls"], env),
        "python -m smtpcheck --help": best_and_median(
            [str(PYTHON), "-m", "smtpcheck", "--help"], env
        ),
        f"DNS audit ({DOMAIN})": best_and_median(dns_audit, env),
    }


INVENTORY_SIZES = (300, 3000)


def measure_inventory(client_key: Path, known: Path, workdir: Path) -> dict[int, float]:
    """Seconds to load an inventory of N hosts (``load_audit_config``, median of 3; no lab
    needed): its cost per host must not grow with N (a duplicate-name check once went N^2)."""
    loads = {}
    for n in INVENTORY_SIZES:
        inventory = workdir / f"synthetic-{n}.toml"
        entries = [f'[defaults]\nidentity_file = "{client_key}"\nsudo = true\napp = "wordpress"']
        url = f"paramiko://{LAB_USER}@127.0.0.1"
        entries += [f'[[hosts]]\nname = "web-{i:05d}"\nurl = "{url}:{20000 + i}"' for i in range(n)]
        inventory.write_text("\n\n".join(entries) + "\n")
        options = AuditOptions(inventory=inventory, known_hosts=known, layers="host")
        loads[n] = partial(load_audit_config, options, CREDS.environment())
    loads[INVENTORY_SIZES[0]]()  # warm-up: the first load imports what loading needs
    return {n: _median_seconds(load) for n, load in loads.items()}


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Size:
    n: int
    audit: dict[int, Cell] = field(default_factory=dict)  # by --jobs
    observe: dict[int, Cell] = field(default_factory=dict)
    floor: dict[int, Cell] = field(default_factory=dict)
    reports: Reports | None = None


def measure_size(lab: SshLab, fleet: list[LabHost], n: int, jobs: Sequence[int],
                 inputs: tuple[Path, Path], workdir: Path, repeats: int) -> Size:  # fmt: skip
    hosts, (inventory, known) = fleet[:n], inputs
    size = Size(n, audit={j: Cell() for j in jobs}, observe={j: Cell() for j in jobs},
                floor={j: Cell() for j in jobs})  # fmt: skip
    report_dir = workdir / f"reports-{n}"
    for rep in range(repeats):
        for j in jobs:
            size.floor[j].runs.append(run_floor(hosts, known, lab.client_key, j))
            size.observe[j].runs.append(run_observe(hosts, inventory, known, j))
            argv = audit_argv(inventory, known, report_dir, j)
            size.audit[j].runs.append(run_audit(hosts, argv, workdir / f"audit-{n}-{j}-{rep}.log"))
    size.reports = measure_reports(report_dir, workdir / f"rewritten-{n}")
    return size


def _cell_text(cell: Cell) -> str:
    return f"{cell.median:6.2f} ({cell.spread():>11})"


def print_size(size: Size, previous: Size | None) -> None:
    for j in size.audit:
        ways = (size.audit[j], size.observe[j], size.floor[j])
        added = ""
        if previous is not None and j in previous.audit:
            before = (previous.audit[j], previous.observe[j], previous.floor[j])
            dn = size.n - previous.n
            ms = [
                (now.median - then.median) / dn * 1000
                for now, then in zip(ways, before, strict=True)
            ]
            added = " / ".join(f"{m:4.1f}" for m in ms)
        audit, observe, floor = ways
        print(
            f"{size.n:>5} {j:>4}  {_cell_text(audit)}  {_cell_text(observe)}  {_cell_text(floor)}"
            f"  {audit.median / floor.median:5.2f}x {observe.median / floor.median:5.2f}x"
            f"  {added:>18}  {audit.cpu:5.2f} {observe.cpu:5.2f} {floor.cpu:5.2f}"
            f"  {audit.servers:5.2f} {observe.servers:5.2f} {floor.servers:5.2f}"
            f"  {audit.rss:6.1f}  {audit.commands} / {floor.commands}",
            flush=True,
        )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{'':>5} machine load (1, 5, 15 min) after this size: {load}")
    if size.reports is not None:
        r = size.reports
        kib = {name: bytes_ / 1024 for name, bytes_ in r.sizes.items()}
        shown = "  ".join(f"{name} {v:,.0f} KiB" for name, v in kib.items())
        parts = "  ".join(f"{k} {v:.3f}" for k, v in r.per_format.items())
        print(f"{'':>5} reports: {r.findings} findings; {shown} "
              f"({r.sizes['report.html'] / size.n / 1024:.1f} KiB html/host)")  # fmt: skip
        print(f"{'':>5}   write_reports {r.write_seconds:.3f} s (render+write s: {parts})")


HEADER = (
    f"{'':>10}  {'smtpcheck audit':>20}  {'observe (library)':>20}  {'floor':>20}  "
    f"{'/floor':>13}  {'ms per added host':>18}  {'client CPU s':>17}  {'servers CPU s':>17}"
    f"  {'RSS':>6}  cmds/host\n"
    f"{'hosts':>5} {'jobs':>4}  {'s, median (min-max)':>20}  {'s, median (min-max)':>20}  "
    f"{'s, median (min-max)':>20}  {'audit':>6} {'obs.':>6}  {'audit / obs. / fl.':>18}  "
    f"{'audit  obs. floor':>17}  {'audit  obs. floor':>17}  {'MiB':>6}  audit / floor"
)


def verdict(label: str, value: float | None, limit: float, unit: str, note: str = "") -> None:
    if value is None:
        print(f"  {label:<44} {'n/a':>10}   target < {limit:g}{unit:<4} NOT MEASURED {note}")
        return
    status = "PASS" if value <= limit else "MISS"
    print(f"  {label:<44} {value:>9.3g}{unit:<1}   target < {limit:g}{unit:<4} {status} {note}")


def print_targets(sizes: dict[int, Size], startup: dict[str, tuple[float, ...]]) -> None:
    j = DEFAULT_JOBS
    print(f"\ntargets (issue 10; audit figures at the default --jobs {j}, medians)")

    def ratio(n: int) -> float | None:
        s = sizes.get(n)
        return s.audit[j].median / s.floor[j].median if s else None

    def per_added(n: int, prev: int) -> float | None:
        if n not in sizes or prev not in sizes:
            return None
        return (sizes[n].audit[j].median - sizes[prev].audit[j].median) / (n - prev)

    for n in (100, 300):
        verdict(f"audit / floor at {n} hosts", ratio(n), 1.5, "x")
    for n in (100, 300):  # the lab's servers share the client's CPUs: where its time goes
        if n in sizes:
            a, f = sizes[n].audit[j], sizes[n].floor[j]
            cpu = (a.cpu + a.servers) / (f.cpu + f.servers)
            print(f"  {f'CPU, client + servers: audit / floor at {n}':<44} {cpu:>9.3g}x   "
                  f"(client {a.cpu:.2f} / {f.cpu:.2f} s, servers {a.servers:.2f} / "
                  f"{f.servers:.2f} s; no target)")  # fmt: skip
    at30, at300 = per_added(30, 10), per_added(300, 100)
    if at30 and at300 is not None:
        note = f"({at30 * 1000:.1f} -> {at300 * 1000:.1f} ms/host)"
        verdict("per-added-host cost at 300 / at 30", at300 / at30, 1.2, "x", note)
    else:
        verdict("per-added-host cost at 300 / at 30", None, 1.2, "x")
    large = sizes.get(LARGE)
    verdict("audit at 1,000 hosts", large.audit[j].median if large else None, 60, "s")
    verdict("peak RSS at 1,000 hosts", large.audit[j].rss if large else None, 250, "MiB")
    for name in ("smtpcheck --help", "smtpcheck controls"):
        verdict(f"{name} (best of 5)", startup[name][0], 0.3, "s")
    verdict("one-domain DNS audit (best of 5)", startup[f"DNS audit ({DOMAIN})"][0], 0.6, "s")
    reports = large.reports if large else None
    html = reports.sizes["report.html"] / MIB if reports else None
    verdict("report.html at 1,000 hosts", html, 2, "MiB")
    html_s = reports.per_format["html"] if reports else None
    verdict("report.html rendered+written at 1,000 hosts", html_s, 0.5, "s", "(scrub apart)")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large", action="store_true", help=f"also {LARGE:,} hosts")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")],
                        help=f"host counts (default {','.join(map(str, SIZES))})")  # fmt: skip
    parser.add_argument("--jobs", type=lambda s: [int(x) for x in s.split(",")],
                        default=[DEFAULT_JOBS, 32], help="concurrencies (8,32)")  # fmt: skip
    parser.add_argument("--repeats", type=int, default=REPEATS)
    parser.add_argument(
        "--profile", action="store_true", help="a py-spy pass of a 300-host audit (needs py-spy)"
    )
    args = parser.parse_args(argv)
    args.sizes = sorted(set(args.sizes or [*SIZES, *([LARGE] if args.large else [])]))
    return args


def compile_bytecode() -> str:
    """Every audit here is a fresh process: without byte-code it compiles smtpcheck's ~80
    modules each time (0.1 s of a DNS audit), which no installed copy does (pip compiles on
    install; a source tree writes its own on the first run, unless PYTHONDONTWRITEBYTECODE)."""
    trees = [Path(smtpcheck.__file__).parent, checks_dir()]
    subprocess.run([str(PYTHON), "-m", "compileall", "-q", *map(str, trees)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    no_pyc = os.environ.get("PYTHONDONTWRITEBYTECODE")
    note = " (PYTHONDONTWRITEBYTECODE is set here)" if no_pyc else ""
    return f"byte-code compiled first, as an installed copy has it{note}"


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    limit = raise_fd_limit()
    workdir = Path(tempfile.mkdtemp(prefix="smtpcheck-fleet-"))
    workdir.chmod(0o755)
    print(
        f"smtpcheck fleet bench: {os.cpu_count()} CPUs, RLIMIT_NOFILE {limit[0]}, "
        f"sizes {args.sizes}, --jobs {args.jobs}, {args.repeats} repetitions; "
        f"{compile_bytecode()}",
        flush=True,
    )
    try:
        with SshLab(workdir / "ssh") as lab, start_nsd(workdir / "nsd") as nsd:
            memory = mem_available_mib()
            started = time.perf_counter()
            fleet = start_fleet(lab, max(args.sizes))
            print(f"lab: {len(fleet)} sshd started in {time.perf_counter() - started:.1f} s "
                  f"(16 at a time), {memory - mem_available_mib():.0f} MiB of memory; "
                  f"NSD on {nsd.nameserver}", flush=True)  # fmt: skip
            inputs = {n: write_inputs(lab, fleet, n, workdir) for n in args.sizes}
            written = time.monotonic()
            startup = measure_startup(nsd, workdir)
            print("start-up (best / median of 5, s):")
            for name, (best, median) in startup.items():
                print(f"  {name:<32} {best:.3f} / {median:.3f}")
            loads = measure_inventory(lab.client_key, inputs[args.sizes[0]][1], workdir)
            shown = ", ".join(f"{n:,} hosts {t:.3f} s ({t / n * 1e6:.0f} us/host)"
                              for n, t in loads.items())  # fmt: skip
            few, many = INVENTORY_SIZES
            growth = (loads[many] / many) / (loads[few] / few)
            print(f"inventory load (median of 3): {shown}; per host at {many:,} / at {few}: "
                  f"{growth:.2f}x")  # fmt: skip
            time.sleep(max(0.0, _RACY_SECONDS - (time.monotonic() - written)))
            run_floor(fleet[:4], inputs[args.sizes[0]][1], lab.client_key, 4)  # warm-up
            if args.repeats > 0:  # --repeats 0 --profile: only the profile
                print(f"\n{HEADER}", flush=True)
                sizes: dict[int, Size] = {}
                previous = None
                for n in args.sizes:
                    size = measure_size(lab, fleet, n, args.jobs, inputs[n], workdir, args.repeats)
                    print_size(size, previous)
                    sizes[n] = previous = size
                print_targets(sizes, startup)
            if args.profile:
                profile(lab, fleet, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


# --- profile -----------------------------------------------------------------------------------

# Frames every sample of a thread goes through (the interpreter's and pluggy's plumbing): left
# out of the inclusive ranking, where they would fill the top 10 and say nothing.
_PLUMBING = ("<frozen runpy>", "pluggy/", "threading.py", "concurrent/futures/",
             "smtpcheck/__main__.py", "smtpcheck/cli.py")  # fmt: skip
# Where the lock-holding time goes, by a frame on the stack (a sample may count in two).
_PHASES = {
    "imports (importlib)": "_find_and_load (",
    "host threads (Audit._observe)": "_observe (smtpcheck/audit.py)",
    "paramiko (host threads and its transport threads)": "(paramiko/",
    "pytest collection": "perform_collect (",
    "pytest running the checks": "pytest_runtestloop (",
    "writing the reports": "write_reports (",
}


def _frame_name(frame: str) -> str:
    """``function (path)`` from py-spy's raw format: no line number, no directory prefix."""
    function, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    return f"{function} ({path.split('site-packages/')[-1].replace(str(Path.cwd()) + '/', '')})"


def profile(lab: SshLab, fleet: list[LabHost], workdir: Path, n: int = 300) -> None:
    """py-spy over one audit at the default --jobs, sampling only the thread that holds the
    interpreter lock (``--gil``): where the client's CPU goes. Shares by phase, then the top 10
    functions by inclusive and by own samples; the share of samples taken at all is the lock's
    busy fraction (the rest of the time the process waits: on the servers, which share the
    machine's CPUs, or for a CPU)."""
    py_spy = shutil.which("py-spy") or str(PYTHON.parent / "py-spy")
    if not Path(py_spy).exists():
        print("\nprofile: py-spy is not installed (pip install py-spy)")
        return
    n = min(n, len(fleet))
    inventory, known = write_inputs(lab, fleet, n, workdir)
    time.sleep(_RACY_SECONDS)
    raw, rate = workdir / "profile.txt", 250
    argv = [py_spy, "record", "--gil", "--rate", str(rate), "--format", "raw", "--output",
            str(raw), "--", *audit_argv(inventory, known, workdir / "profile-reports",
                                        DEFAULT_JOBS)]  # fmt: skip
    env = {**os.environ, **CREDS.environment()}
    seconds, _, status, _ = run_timed(argv, workdir / "profile.log", env)
    if status != 0 or not raw.exists():
        print(f"\nprofile: py-spy failed ({status}):\n{(workdir / 'profile.log').read_text()}")
        return
    stacks = []
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        stacks.append(([_frame_name(f) for f in stack.split(";") if "(" in f], int(samples)))
    total = sum(count for _, count in stacks)
    print(f"\nprofile: {n}-host audit, --jobs {DEFAULT_JOBS}, under py-spy --gil: {seconds:.1f} s "
          f"wall, the interpreter lock held in {total} of ~{seconds * rate:.0f} samples "
          f"({100 * total / (seconds * rate):.0f} %)")  # fmt: skip
    print("  by phase (% of samples with the lock held):")
    for phase, marker in _PHASES.items():
        hits = sum(count for frames, count in stacks if any(marker in f for f in frames))
        print(f"    {100 * hits / total:5.1f} %  {phase}")
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for frames, count in stacks:
        if frames:
            own[frames[-1]] += count
        for name in set(frames):
            if not any(part in name for part in _PLUMBING):
                inclusive[name] += count
    _print_top("inclusive (plumbing frames left out)", inclusive, total)
    ours = Counter({name: c for name, c in inclusive.items() if "(smtpcheck/" in name})
    _print_top("inclusive, smtpcheck's own functions", ours, total)
    _print_top("own", own, total)


def _print_top(kind: str, counts: Counter[str], total: int) -> None:
    print(f"  top 10 by {kind} samples:")
    for name, count in counts.most_common(10):
        print(f"    {100 * count / total:5.1f} %  {name}")


if __name__ == "__main__":
    main()
