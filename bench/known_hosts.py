"""Micro-benchmark: host-key lookups for a fleet, paramiko's per-connection load vs. the store.

Run as ``python bench/known_hosts.py``. For N hosts and an N-entry known_hosts (Ed25519 keys
under ``[address]:port`` names, as the lab writes them; and the same file hashed, as
``ssh-keygen -H`` leaves it), prints the CPU time to look up every host's keys:

- "paramiko per connection": what each connection did before issue 10, ``HostKeys(path)``
  (its ``load`` compares each line with all earlier ones) then ``lookup``;
- "store, first use": one parse (``load_known_hosts``) and N lookups;
- "store, per run": N calls of ``known_hosts_for`` + ``keys_for``, what the transport does: a
  stat per host, and for a file changed in the last 2 s a read and compare of its bytes too.

Single-threaded: under the interpreter lock, host threads add no parallelism to this CPU work.
Figures only, best of three; nothing is asserted.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smtpcheck.remote import SshOptions, known_hosts

SIZES = (10, 100, 200)
REPEAT = 3


def _public_key() -> str:
    public = Ed25519PrivateKey.generate().public_key()
    text = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return text.decode()


def _names(count: int) -> list[str]:
    return [f"[127.1.{i // 250}.{1 + i % 250}]:{20000 + i}" for i in range(count)]


def _write(path: Path, names: list[str], *, hashed: bool) -> None:
    lines = []
    for name in names:
        shown = paramiko.HostKeys.hash_host(name) if hashed else name
        lines.append(f"{shown} {_public_key()}\n")
    path.write_text("".join(lines))


def _best(work: Callable[[], object]) -> float:
    times = []
    for _ in range(REPEAT):
        started = time.process_time()
        work()
        times.append(time.process_time() - started)
    return min(times)


def _paramiko_per_connection(path: Path, names: list[str]) -> None:
    for name in names:
        keys = paramiko.HostKeys(str(path))
        assert keys.lookup(name) is not None


def _store_first_use(path: Path, names: list[str]) -> None:
    store = known_hosts.load_known_hosts([(path, path.read_bytes())])
    for name in names:
        assert store.keys_for(name)


def _store_per_run(options: SshOptions, names: list[str]) -> None:
    for name in names:
        assert known_hosts.known_hosts_for(options).keys_for(name)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="smtpcheck-bench-kh-") as directory:
        files = {}
        for size in SIZES:
            for hashed in (False, True):
                path = Path(directory) / f"known_hosts-{size}-{'hashed' if hashed else 'plain'}"
                _write(path, _names(size), hashed=hashed)
                files[size, hashed] = path
        fresh = {key: _measure(path, _names(key[0]), fresh=True) for key, path in files.items()}
        time.sleep(known_hosts._RACY_NS / 1e9 + 0.1)  # let the files age: stamps alone decide
        aged = {key: _measure(path, _names(key[0]), fresh=False) for key, path in files.items()}
    print(f"host-key lookups for N hosts in an N-entry known_hosts (CPU ms, best of {REPEAT})")
    head = (f"{'N':>4} {'names':>6} {'paramiko per connection':>24} {'store, first use':>17} "
            f"{'store, per run (fresh file)':>28} {'(aged file)':>12} {'speed-up':>9}")  # fmt: skip
    print(head)
    for (size, hashed), (old, first, per_run) in fresh.items():
        aged_run = aged[size, hashed][2]
        print(
            f"{size:>4} {'hashed' if hashed else 'plain':>6} {old * 1e3:>24.1f} "
            f"{first * 1e3:>17.2f} {per_run * 1e3:>28.2f} {aged_run * 1e3:>12.2f} "
            f"{old / max(first, 1e-9):>8.0f}×"
        )
    print("speed-up: paramiko per connection / store, first use (one run's whole cost)")


def _measure(path: Path, names: list[str], *, fresh: bool) -> tuple[float, float, float]:
    old = _best(lambda: _paramiko_per_connection(path, names)) if fresh else 0.0
    first = _best(lambda: _store_first_use(path, names))
    options = SshOptions(known_hosts=path)
    known_hosts.known_hosts_for(options)  # the run's one parse, outside the timing
    per_run = _best(lambda: _store_per_run(options, names))
    return old, first, per_run


if __name__ == "__main__":
    main()
