"""Relay-layer benchmark against the lab's real provider (postfix + dovecot + opendkim + NSD).

    python bench/relay.py [--rounds 20] [--hosts 1,5,10,20]

Measures, on loopback:
- time per send: resolve + connect + TLS + AUTH + MAIL/RCPT/DATA + QUIT (``run_relay_session``);
- time per --no-send session (connect + TLS + AUTH only);
- time per full round trip: send → found over IMAP → DKIM verified against NSD → deleted;
- how the number of sends (and the wall time) grows with N hosts that share one credential set
  versus N hosts with a credential set each (grouped with ``relay_job_key``).

Needs root (the lab starts real servers). Prints a small table; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.lab.mailstack import MailStack, RelayAccount
from smtpcheck.lab.nsd import NsdServer, zone_text
from smtpcheck.mailauth.resolver import make_dns_client
from smtpcheck.providers import Provider, ProviderCatalogue, TlsMode
from smtpcheck.relay import (
    RelayEndpoint,
    fetch_delivery,
    mailbox_settings,
    plan_relay_jobs,
    resolve_endpoint,
    run_relay_session,
)
from smtpcheck.secrets import Secret

SENDER = "noreply@example.test"
RECIPIENT = "ops@recipient.test"
PASSWORD_ENV = "SMTPCHECK_BENCH_MAILBOX"  # noqa: S105 (the variable's name)


def _deployed(provider: Provider | None, user: str, password: str, port: int) -> DeployedSmtp:
    return DeployedSmtp(
        source="/var/www/wordpresssmtp",
        shape="labelled",
        provider=provider,
        host=None,
        port=port,
        tls=TlsMode.IMPLICIT if port == 465 else TlsMode.STARTTLS,
        username=user,
        password=Secret(password),
        from_address=SENDER,
    )


def _stats(label: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return (
        f"{label:<44} n={len(ms):<3} median {statistics.median(ms):7.1f} ms"
        f"   mean {statistics.fmean(ms):7.1f} ms   p95 {p95:7.1f} ms"
    )


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--hosts", default="1,5,10,20,50")
    args = parser.parse_args()
    counts = [int(n) for n in args.hosts.split(",")]
    accounts = [
        RelayAccount(f"bench{i:03d}", Secret(f"bench-password-{i:03d}"), (SENDER,))
        for i in range(max(counts))
    ]
    stack = MailStack(
        accounts=accounts, mailbox_address=RECIPIENT, mailbox_password=Secret("bench-mailbox")
    )
    zones = {"example.test": zone_text("example.test", stack.dkim_zone_line())}
    started = time.perf_counter()
    with NsdServer(Path(tempfile.mkdtemp(prefix="bench-nsd-")), zones) as nsd:
        stack.start(nameserver=(nsd.address, nsd.port))
        try:
            print(f"lab up in {time.perf_counter() - started:.2f} s (NSD + postfix, dovecot, "
                  "2× opendkim)\n")  # fmt: skip
            _run(stack, nsd, accounts, args.rounds, counts)
        finally:
            stack.stop()


def _run(
    stack: MailStack, nsd: NsdServer, accounts: list[RelayAccount], rounds: int, counts: list[int]
) -> None:
    catalogue = ProviderCatalogue.builtin().with_overrides({"mailjet": stack.provider_table()})
    mailjet = catalogue.get("mailjet")
    first = accounts[0]
    resolver = make_dns_client([nsd.nameserver])
    os.environ[PASSWORD_ENV] = "bench-mailbox"
    mailbox = mailbox_settings(stack.mailbox_table(PASSWORD_ENV) | {"poll_interval": 0.02})

    for port in (465, 587):
        host = _deployed(mailjet, first.username, first.password.reveal(), port)
        endpoint = resolve_endpoint(host, catalogue)
        assert isinstance(endpoint, RelayEndpoint)

        def session(send: bool, host: DeployedSmtp = host, ep: RelayEndpoint = endpoint) -> None:
            result = run_relay_session(ep, host, recipient=RECIPIENT, send=send, timeout=10)
            assert result.failure is None, result.failure

        mode = "implicit TLS" if port == 465 else "STARTTLS"
        print(_stats(f"--no-send session, {port} ({mode})",
                     [_timed(lambda: session(False)) for _ in range(rounds)]))  # fmt: skip
        print(_stats(f"send, {port} ({mode})",
                     [_timed(lambda: session(True)) for _ in range(rounds)]))  # fmt: skip

        def round_trip(host: DeployedSmtp = host, ep: RelayEndpoint = endpoint) -> None:
            result = run_relay_session(ep, host, recipient=RECIPIENT, send=True, timeout=10)
            assert result.token is not None
            delivery = fetch_delivery(
                mailbox, result.token, sent_at=result.sent_at, dkim_dns=resolver
            )
            assert delivery.arrived is not None
            assert delivery.arrived.dkim.verified

        print(_stats(f"round trip (send → IMAP → DKIM), {port}",
                     [_timed(round_trip) for _ in range(rounds)]))  # fmt: skip
        print()
    _scaling(catalogue, mailjet, accounts, counts)


def _scaling(
    catalogue: ProviderCatalogue,
    mailjet: Provider | None,
    accounts: list[RelayAccount],
    counts: list[int],
) -> None:
    header = f"{'hosts':>5} | {'shared: sends':>13} {'wall':>9} | {'own creds: sends':>16}"
    print(f"{header} {'wall':>9}")
    for count in counts:
        row = [f"{count:>5}"]
        for shared in (True, False):
            fleet = [
                (f"web{i}", _deployed(mailjet, (a := accounts[0 if shared else i]).username,
                                      a.password.reveal(), 465))
                for i in range(count)
            ]  # fmt: skip
            jobs, _ = plan_relay_jobs(fleet, catalogue)
            start = time.perf_counter()
            for job in jobs:
                run_relay_session(job.endpoint, job.deployed, recipient=RECIPIENT, send=True,
                                  timeout=10, hosts=job.hosts)  # fmt: skip
            wall = time.perf_counter() - start
            width = 13 if shared else 16
            row.append(f"{len(jobs):>{width}} {wall * 1000:>7.0f}ms")
        print(" | ".join(row))


if __name__ == "__main__":
    main()
