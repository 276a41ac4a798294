"""Host keys against real sshd servers (issue 10): known_hosts parsed once per audit, and the
verdicts unchanged: a matching key connects, a changed or revoked key is refused, an unknown key
is refused unless accepted on first use, and then saved once; TCP_NODELAY on the socket, and
ProxyCommand still used when ssh_config gives one."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import paramiko
import pytest

from smtpcheck.lab import seeds
from smtpcheck.lab.sshd import LabHost, SshLab
from smtpcheck.remote import SshOptions, known_hosts
from smtpcheck.remote.facts import HostObservation
from smtpcheck.remote.paramiko_transport import ParamikoConnection
from smtpcheck.targets import App, HostTarget
from tests.lab.conftest import CREDS, lab_audit, lab_target

FLEET = 20


@pytest.fixture(scope="module")
def fleet(ssh_lab: SshLab) -> list[LabHost]:
    hosts = [ssh_lab.add_host(f"kh-{i:02d}") for i in range(FLEET)]
    for host in hosts[:2]:
        seeds.seed_credentials(host, App.WORDPRESS, seeds.labelled_file(CREDS))
    return hosts


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Sequence[tuple[Path, bytes | None]]]:
    """Every known_hosts load (our loader, instrumented); paramiko's own must never run."""
    calls: list[Sequence[tuple[Path, bytes | None]]] = []
    real = known_hosts.load_known_hosts

    def counting(files: Sequence[tuple[Path, bytes | None]]) -> known_hosts.KnownHosts:
        calls.append(files)
        return real(files)

    def paramiko_load(self: paramiko.HostKeys, filename: str) -> None:
        raise AssertionError(f"paramiko loaded {filename} itself")

    monkeypatch.setattr(known_hosts, "load_known_hosts", counting)
    monkeypatch.setattr(paramiko.HostKeys, "load", paramiko_load)
    return calls


def _observe(lab: SshLab, targets: list[HostTarget], ssh: SshOptions) -> dict[str, HostObservation]:
    return dict(lab_audit(lab, targets, ssh=ssh).observe_hosts())


def test_one_known_hosts_load_per_audit_of_twenty_hosts(
    ssh_lab: SshLab,
    fleet: list[LabHost],
    tmp_path: Path,
    loads: list[Sequence[tuple[Path, bytes | None]]],
) -> None:
    known = tmp_path / "known_hosts"  # a file no earlier audit of this process has read
    shutil.copy(ssh_lab.known_hosts, known)
    targets = [lab_target(ssh_lab, host, App.WORDPRESS) for host in fleet]
    observed = _observe(ssh_lab, targets, SshOptions(known_hosts=known))
    assert [obs.failure for obs in observed.values()] == [None] * FLEET
    assert len(loads) == 1
    assert sum(host.sessions() > 0 for host in fleet) == FLEET

    other = ssh_lab.add_host("kh-late")  # the file changes between two audits of one process
    with known.open("a") as handle:
        handle.write(other.host_key_line() + "\n")
    late = [*targets, lab_target(ssh_lab, other, App.WORDPRESS)]
    observed = _observe(ssh_lab, late, SshOptions(known_hosts=known))
    assert [obs.failure for obs in observed.values()] == [None] * (FLEET + 1)
    assert len(loads) == 2


def test_a_matching_key_connects_and_the_socket_has_nodelay(
    ssh_lab: SshLab, fleet: list[LabHost], tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text(fleet[0].host_key_line() + "\n")
    target = lab_target(ssh_lab, fleet[0], App.WORDPRESS)
    connection = ParamikoConnection(target, SshOptions(known_hosts=known))
    try:
        transport = connection._client.get_transport()
        assert transport is not None and transport.is_active()
        sock = transport.sock
        assert isinstance(sock, socket.socket)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert connection.run(["true"]).exit_status == 0
    finally:
        connection.close()


def test_hashed_known_hosts_written_by_openssh_are_used(
    ssh_lab: SshLab, fleet: list[LabHost], tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("\n".join(h.host_key_line() for h in fleet[:5]) + "\n")
    subprocess.run(["ssh-keygen", "-q", "-H", "-f", str(known)], check=True, capture_output=True)
    assert "|1|" in known.read_text() and fleet[0].address not in known.read_text()
    targets = [lab_target(ssh_lab, host, App.WORDPRESS) for host in fleet[:5]]
    observed = _observe(ssh_lab, targets, SshOptions(known_hosts=known))
    assert [obs.failure for obs in observed.values()] == [None] * 5


def test_a_changed_key_is_refused_even_when_accepting_new_keys(
    ssh_lab: SshLab, fleet: list[LabHost], tmp_path: Path
) -> None:
    host, other = fleet[0], fleet[1]
    forged = tmp_path / "known_hosts"
    key_type, key = other.host_key_line().split()[1:]
    forged.write_text(f"[{host.address}]:{host.port} {key_type} {key}\n")
    before = forged.read_text()
    target = lab_target(ssh_lab, host, App.WORDPRESS)
    for accept in (False, True):
        ssh = SshOptions(known_hosts=forged, accept_new_host_keys=accept)
        (obs,) = _observe(ssh_lab, [target], ssh).values()
        assert obs.failure_kind == "HostKeyMismatch"
        assert obs.failure is not None
        assert obs.failure.startswith(f"host key for {host.address}:{host.port} does not match")
        assert "the host was rebuilt, or the connection is intercepted" in obs.failure
    assert forged.read_text() == before


def test_a_revoked_key_is_refused_even_when_listed_and_accepting_new_keys(
    ssh_lab: SshLab, fleet: list[LabHost], tmp_path: Path
) -> None:
    host = fleet[2]
    known = tmp_path / "known_hosts"
    key_type, key = host.host_key_line().split()[1:]
    known.write_text(f"{host.host_key_line()}\n@revoked * {key_type} {key}\n")
    before, sessions = known.read_text(), host.sessions()
    target = lab_target(ssh_lab, host, App.WORDPRESS)
    for accept in (False, True):
        ssh = SshOptions(known_hosts=known, accept_new_host_keys=accept)
        (obs,) = _observe(ssh_lab, [target], ssh).values()
        assert obs.failure_kind == "HostKeyMismatch"
        assert "marked @revoked in known_hosts" in str(obs.failure)
    assert known.read_text() == before
    assert host.sessions() == sessions  # refused before any login or command


def test_an_unknown_key_is_refused_then_saved_once_on_first_use(
    ssh_lab: SshLab, fleet: list[LabHost], tmp_path: Path
) -> None:
    host = fleet[3]
    known = tmp_path / "ssh" / "known_hosts"
    target = lab_target(ssh_lab, host, App.WORDPRESS)
    (refused,) = _observe(ssh_lab, [target], SshOptions(known_hosts=known)).values()
    assert refused.failure_kind == "HostKeyUnknown"
    assert f"is not in {known}; add it, or pass --accept-new-host-keys" in str(refused.failure)
    assert not known.exists()

    # two inventory entries for one host (same name and port), connecting at the same time
    twins = [replace(target, name="twin-a"), replace(target, name="twin-b")]
    accept = SshOptions(known_hosts=known, accept_new_host_keys=True)
    observed = _observe(ssh_lab, twins, accept)
    assert [obs.failure for obs in observed.values()] == [None, None]
    notes = [note for obs in observed.values() if obs.facts for note in obs.facts.notes]
    assert len(notes) == 1 and f"accepted on first use and saved to {known}" in notes[0]
    assert known.read_text() == f"{host.host_key_line()}\n"

    (again,) = _observe(ssh_lab, [target], SshOptions(known_hosts=known)).values()
    assert again.failure is None and again.facts is not None and again.facts.notes == ()
    assert known.read_text() == f"{host.host_key_line()}\n"


def test_a_binary_known_hosts_fails_every_host_once_naming_the_file(
    ssh_lab: SshLab,
    fleet: list[LabHost],
    tmp_path: Path,
    loads: list[Sequence[tuple[Path, bytes | None]]],
) -> None:
    known = tmp_path / "known_hosts"
    known.write_bytes(b"\x7fELF\x00\x01\xff\xfe" * 8)
    targets = [lab_target(ssh_lab, host, App.WORDPRESS) for host in fleet[:4]]
    observed = _observe(ssh_lab, targets, SshOptions(known_hosts=known))
    assert {obs.failure for obs in observed.values()} == {
        f"cannot use known_hosts {known}: line 1 is not text"
    }
    assert len(loads) == 1


RELAY = """\
import socket, sys, threading
upstream = socket.create_connection((sys.argv[1], int(sys.argv[2])))
def pump():
    while data := sys.stdin.buffer.read1(65536):
        upstream.sendall(data)
    upstream.shutdown(socket.SHUT_WR)
threading.Thread(target=pump, daemon=True).start()
while data := upstream.recv(65536):
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
"""


def test_a_proxycommand_from_ssh_config_is_still_the_socket(
    ssh_lab: SshLab, fleet: list[LabHost], tmp_path: Path
) -> None:
    host = fleet[4]
    relay = tmp_path / "relay.py"
    relay.write_text(RELAY)
    config = tmp_path / "ssh_config"
    config.write_text(
        f"Host proxied\n  HostName {host.address}\n  Port {host.port}\n"
        f"  ProxyCommand {sys.executable} {relay} %h %p\n"
    )
    target = replace(lab_target(ssh_lab, host, App.WORDPRESS), host="proxied", port=None,
                     ssh_config=config)  # fmt: skip
    connection = ParamikoConnection(target, SshOptions(known_hosts=ssh_lab.known_hosts))
    try:
        transport = connection._client.get_transport()
        assert transport is not None
        assert isinstance(transport.sock, paramiko.ProxyCommand)
        assert connection.run(["true"]).exit_status == 0
    finally:
        connection.close()
