"""known_hosts parsed once per run (issue 10): the parser against paramiko's own loader as the
oracle, lookups (plain, hashed, bracketed ports, revoked), the per-run cache and its
invalidation, saving keys on first use from many threads, and the socket and ssh_config
helpers of the paramiko transport."""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from smtpcheck.errors import HostKeyMismatch, HostKeyUnknown, ProbeError
from smtpcheck.remote import SYSTEM_KNOWN_HOSTS, SshOptions, known_hosts
from smtpcheck.remote import paramiko_transport as transport
from smtpcheck.remote.known_hosts import (
    KnownHosts,
    host_key_name,
    known_hosts_files,
    known_hosts_for,
    load_known_hosts,
    parse_known_hosts,
    save_new_host_key,
)
from smtpcheck.targets import App, HostTarget

HERE = Path("known_hosts")


def ed25519() -> tuple[str, str]:
    """A fresh Ed25519 public key as known_hosts fields (type, base64)."""
    public = Ed25519PrivateKey.generate().public_key()
    text = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    kind, blob = text.decode().split()
    return kind, blob


def pkey(fields: tuple[str, str]) -> paramiko.PKey:
    return paramiko.PKey.from_type_string(fields[0], base64.b64decode(fields[1]))


def line(names: str, fields: tuple[str, str]) -> str:
    return f"{names} {fields[0]} {fields[1]}"


def blobs(keys: Sequence[paramiko.PKey]) -> list[bytes]:
    return [key.asbytes() for key in keys]


def parse(*lines: str) -> KnownHosts:
    return KnownHosts([parse_known_hosts("\n".join(lines) + "\n", HERE)])


@pytest.fixture
def loads(monkeypatch: pytest.MonkeyPatch) -> list[Sequence[tuple[Path, bytes | None]]]:
    """Every known_hosts load of the test (the loader, instrumented)."""
    calls: list[Sequence[tuple[Path, bytes | None]]] = []
    real = known_hosts.load_known_hosts

    def counting(files: Sequence[tuple[Path, bytes | None]]) -> KnownHosts:
        calls.append(files)
        return real(files)

    monkeypatch.setattr(known_hosts, "load_known_hosts", counting)
    return calls


# --- parsing: paramiko's loader is the oracle ------------------------------------------------


def _paramiko_view(path: Path, name: str) -> dict[str, bytes]:
    found = paramiko.HostKeys(str(path)).lookup(name)
    return {} if found is None else {kind: found[kind].asbytes() for kind in found}


def test_lookups_agree_with_paramikos_own_loader(tmp_path: Path) -> None:
    """For every name of a file mixing plain, bracketed, multi-name, hashed, duplicate and
    several-type lines, the keys the store gives are the ones paramiko's HostKeys would use."""
    a, b, c, d = ed25519(), ed25519(), ed25519(), ed25519()
    ecdsa = paramiko.ECDSAKey.generate()
    hashed = paramiko.HostKeys.hash_host("hidden.example")
    text = "\n".join(
        [
            "# a comment",
            "",
            line("web1.example", a),
            line("web1.example", b),  # second key of the same type: the first one counts
            f"web1.example {ecdsa.get_name()} {ecdsa.get_base64()}",
            line("[web1.example]:1035,[10.0.0.5]:1035", c),
            line("web2.example,10.0.0.6", d) + " a trailing comment",
            f"web3.example\t{a[0]}\t{a[1]}",  # tabs separate fields too
            line(hashed, b),
            "web4.example ssh-ed25519",  # too few fields: skipped
            "web5.example ssh-unknown AAAAB3NzaC1yc2E=",  # unknown key type: skipped
        ]
    )
    path = tmp_path / "known_hosts"
    path.write_text(text + "\n")
    store = parse(text)
    names = ["web1.example", "[web1.example]:1035", "[10.0.0.5]:1035", "web2.example",
             "10.0.0.6", "web3.example", "hidden.example", "web4.example", "web5.example",
             "nowhere.example", "[web2.example]:1035"]  # fmt: skip
    for name in names:
        ours = {key.get_name(): key.asbytes() for key in store.keys_for(name)}
        assert ours == _paramiko_view(path, name), name


@pytest.mark.parametrize(
    "text",
    [
        "web1 ssh-ed25519 A",  # paramiko: InvalidHostKey (base64)
        "web1 ssh-ed25519 " + base64.b64encode(b"\0\0\0\x0bssh-ed25519\0\0\0\x03abc").decode(),
        "web1  ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGEWLVz2nLSuwrOAkYom3wj+PyeZSEOrYqceLWa/E9TF",
    ],
    ids=["bad-base64", "short-key", "double-space"],
)
def test_lines_paramiko_fails_on_refuse_the_file_with_their_number(
    text: str, tmp_path: Path
) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(f"# header\n{text}\n")
    with pytest.raises(Exception):  # noqa: B017, PT011 - the oracle: paramiko raises something
        paramiko.HostKeys(str(path))
    with pytest.raises(ValueError, match=r"^line 2: "):
        parse_known_hosts(path.read_text(), path)


def test_crlf_and_blank_lines_read_as_paramiko_reads_them() -> None:
    a = ed25519()
    store = parse(f"\r\n  {line('web1', a)}  \r\n\r\n# x\r")
    assert blobs(store.keys_for("web1")) == [pkey(a).asbytes()]


def test_a_binary_or_corrupt_file_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    with pytest.raises(ProbeError, match=rf"cannot use known_hosts {path}: line 2 is not text"):
        load_known_hosts([(path, b"web1 ssh-ed25519 AAAA\n\x7fELF\x00\x01\xff\xfe")])
    with pytest.raises(ProbeError, match=rf"cannot use known_hosts {path}: line 1: "):
        load_known_hosts([(path, b"web1 ssh-ed25519 A\n")])


def test_hashed_names_are_found_by_hmac_and_plain_names_win() -> None:
    plain, hidden = ed25519(), ed25519()
    salted = paramiko.HostKeys.hash_host("[web1]:1035")
    store = parse(line(salted, hidden), line(paramiko.HostKeys.hash_host("web2"), hidden))
    assert blobs(store.keys_for("[web1]:1035")) == [pkey(hidden).asbytes()]
    assert blobs(store.keys_for("web2")) == [pkey(hidden).asbytes()]
    assert store.keys_for("web1") == ()  # the port is part of the hashed name
    both = parse(line(salted, hidden), line("[web1]:1035", plain))
    assert blobs(both.keys_for("[web1]:1035")) == [pkey(plain).asbytes()]


@pytest.mark.parametrize(
    "name", ["|1|c2FsdA==|aG1hYw==", "|1|not base64!|x", "|1|only-two"], ids=str
)
def test_a_malformed_hashed_name_refuses_the_file(name: str) -> None:
    with pytest.raises(ValueError, match=r"^line 1: "):
        parse_known_hosts(line(name, ed25519()) + "\n", HERE)


def test_bracketed_ports_are_distinct_names() -> None:
    on_22, on_1035 = ed25519(), ed25519()
    store = parse(line("web1", on_22), line("[web1]:1035", on_1035))
    assert host_key_name("web1", 22) == "web1"
    assert host_key_name("web1", 1035) == "[web1]:1035"
    assert blobs(store.keys_for(host_key_name("web1", 22))) == [pkey(on_22).asbytes()]
    assert blobs(store.keys_for(host_key_name("web1", 1035))) == [pkey(on_1035).asbytes()]
    assert store.keys_for(host_key_name("web1", 2222)) == ()


def test_host_names_are_compared_exactly_as_paramiko_does() -> None:
    """No patterns and no negation: paramiko matches neither (and OpenSSH's '*' lines must not
    vouch for hosts here either)."""
    store = parse(line("*.example,!web1.example,web?", ed25519()))
    assert store.keys_for("web1.example") == ()
    assert store.keys_for("webx") == ()


# --- markers -------------------------------------------------------------------------------


def test_a_revoked_key_is_never_given_and_is_known_as_revoked() -> None:
    bad, good = ed25519(), ed25519()
    store = parse(line("web1", bad), line("web1", good), "@revoked * " + " ".join(bad))
    assert blobs(store.keys_for("web1")) == [pkey(good).asbytes()]
    assert store.is_revoked(pkey(bad)) and not store.is_revoked(pkey(good))
    only = parse(line("web2", bad), "@revoked\tweb9 " + " ".join(bad))  # any name: refused
    assert only.keys_for("web2") == ()


def test_a_key_revoked_in_the_system_file_is_revoked_for_the_users_file_too() -> None:
    bad = ed25519()
    system = parse_known_hosts("@revoked web1 " + " ".join(bad) + "\n", SYSTEM_KNOWN_HOSTS)
    user = parse_known_hosts(line("web1", bad) + "\n", HERE)
    store = KnownHosts([system, user])
    assert store.keys_for("web1") == () and store.is_revoked(pkey(bad))


@pytest.mark.parametrize(
    "revoked", ["@revoked web1 ssh-ed25519 A", "@revoked web1", "@revoked"], ids=str
)
def test_an_unreadable_revoked_line_refuses_the_file(revoked: str) -> None:
    """Skipping it could let the revoked key in."""
    with pytest.raises(ValueError, match=r"^line 2: "):
        parse_known_hosts(line("web1", ed25519()) + f"\n{revoked}\n", HERE)


def test_cert_authority_and_unknown_markers_vouch_for_nothing() -> None:
    ca = ed25519()
    store = parse("@cert-authority *.example,web1 " + " ".join(ca), "@future web1 " + " ".join(ca))
    assert store.keys_for("web1") == () and not store.is_revoked(pkey(ca))


def test_paramiko_itself_cannot_read_marker_lines(tmp_path: Path) -> None:
    """Why markers are ours to handle: paramiko 5.1 fails the whole file on them."""
    path = tmp_path / "known_hosts"
    path.write_text("@revoked web1 " + " ".join(ed25519()) + "\n")
    with pytest.raises(paramiko.hostkeys.InvalidHostKey):
        paramiko.HostKeys(str(path))


# --- the system file and the user's ---------------------------------------------------------


def test_the_system_file_is_consulted_first_as_paramiko_does() -> None:
    in_system, in_user = ed25519(), ed25519()
    system = parse_known_hosts(line("web1", in_system) + "\n", SYSTEM_KNOWN_HOSTS)
    user = parse_known_hosts(line("web1", in_user) + "\n" + line("web2", in_user) + "\n", HERE)
    store = KnownHosts([system, user])
    assert blobs(store.keys_for("web1")) == [pkey(in_system).asbytes()]
    assert blobs(store.keys_for("web2")) == [pkey(in_user).asbytes()]


def test_which_files_a_run_trusts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    given = tmp_path / "kh"
    assert known_hosts_files(SshOptions(known_hosts=given)) == (given,)
    assert known_hosts_files(SshOptions()) == (
        SYSTEM_KNOWN_HOSTS,
        tmp_path / ".ssh" / "known_hosts",
    )


# --- once per run, again when the file changes ----------------------------------------------


def test_loaded_once_for_many_lookups_and_again_after_a_change(
    tmp_path: Path, loads: list[Sequence[tuple[Path, bytes | None]]]
) -> None:
    path = tmp_path / "known_hosts"
    first, second = ed25519(), ed25519()
    path.write_text(line("web1", first) + "\n")
    options = SshOptions(known_hosts=path)
    for _ in range(50):
        assert blobs(known_hosts_for(options).keys_for("web1")) == [pkey(first).asbytes()]
    assert len(loads) == 1
    path.write_text(line("web1", second) + "\n")  # same size, same inode
    assert blobs(known_hosts_for(options).keys_for("web1")) == [pkey(second).asbytes()]
    assert len(loads) == 2


def test_a_rewrite_within_one_timestamp_tick_is_seen(
    tmp_path: Path,
    loads: list[Sequence[tuple[Path, bytes | None]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Timestamps as coarse as a filesystem may keep them: a same-size rewrite leaves the stamp
    unchanged, and only the content of a recently changed file can tell."""
    tick = time.time_ns()
    real = known_hosts._stamp

    def coarse(path: Path) -> known_hosts._Stamp | None:
        stamp = real(path)
        return None if stamp is None else replace(stamp, mtime_ns=tick, ctime_ns=tick)

    monkeypatch.setattr(known_hosts, "_stamp", coarse)
    path = tmp_path / "known_hosts"
    first, second = ed25519(), ed25519()
    path.write_text(line("web1", first) + "\n")
    options = SshOptions(known_hosts=path)
    assert blobs(known_hosts_for(options).keys_for("web1")) == [pkey(first).asbytes()]
    path.write_text(line("web1", second) + "\n")
    assert blobs(known_hosts_for(options).keys_for("web1")) == [pkey(second).asbytes()]
    assert blobs(known_hosts_for(options).keys_for("web1")) == [pkey(second).asbytes()]
    assert len(loads) == 2


def test_an_old_file_is_trusted_by_its_stamp_alone(
    tmp_path: Path,
    loads: list[Sequence[tuple[Path, bytes | None]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "known_hosts"
    path.write_text(line("web1", ed25519()) + "\n")
    an_hour_ago = time.time() - 3600
    os.utime(path, (an_hour_ago, an_hour_ago))
    monkeypatch.setattr(known_hosts, "_RACY_NS", 0)  # ctime is now: count it as old too
    options = SshOptions(known_hosts=path)
    known_hosts_for(options)
    reads: list[Path] = []
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        reads.append(self)
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    for _ in range(20):
        known_hosts_for(options)
    assert reads == [] and len(loads) == 1


def test_a_missing_file_is_empty_and_is_read_once_it_appears(
    tmp_path: Path, loads: list[Sequence[tuple[Path, bytes | None]]]
) -> None:
    path = tmp_path / "sub" / "known_hosts"
    options = SshOptions(known_hosts=path)
    assert known_hosts_for(options).keys_for("web1") == ()
    assert known_hosts_for(options).keys_for("web1") == ()
    path.parent.mkdir()
    key = ed25519()
    path.write_text(line("web1", key) + "\n")
    assert blobs(known_hosts_for(options).keys_for("web1")) == [pkey(key).asbytes()]
    assert len(loads) == 2


def test_a_directory_is_read_as_no_file(tmp_path: Path) -> None:
    assert known_hosts_for(SshOptions(known_hosts=tmp_path)).keys_for("web1") == ()


def test_a_refused_file_is_refused_once_per_run_and_read_again_once_fixed(
    tmp_path: Path, loads: list[Sequence[tuple[Path, bytes | None]]]
) -> None:
    path = tmp_path / "known_hosts"
    path.write_bytes(b"\x7fELF\x00\x01\xff\xfe")
    options = SshOptions(known_hosts=path)
    for _ in range(5):
        with pytest.raises(ProbeError, match="line 1 is not text"):
            known_hosts_for(options)
    assert len(loads) == 1
    path.write_text(line("web1", ed25519()) + "\n")
    assert len(known_hosts_for(options).keys_for("web1")) == 1
    assert len(loads) == 2


def test_an_unreadable_file_is_each_hosts_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("")

    def denied(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_bytes", denied)  # as root, chmod 0 would not stop a read
    for _ in range(2):
        with pytest.raises(ProbeError, match=f"cannot read known_hosts {path}: Permission denied"):
            known_hosts_for(SshOptions(known_hosts=path))


def test_concurrent_first_users_wait_for_one_load(
    tmp_path: Path, loads: list[Sequence[tuple[Path, bytes | None]]]
) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("\n".join(line(f"web{i}", ed25519()) for i in range(200)) + "\n")
    options = SshOptions(known_hosts=path)
    found = _in_threads(8, lambda i: len(known_hosts_for(options).keys_for(f"web{i}")))
    assert found == [1] * 8 and len(loads) == 1


# --- trust on first use ---------------------------------------------------------------------


def _in_threads(count: int, work: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_eight_threads_saving_the_same_new_host_append_it_once(
    tmp_path: Path, loads: list[Sequence[tuple[Path, bytes | None]]]
) -> None:
    path = tmp_path / "ssh" / "known_hosts"
    options = SshOptions(known_hosts=path, accept_new_host_keys=True)
    key = pkey(ed25519())
    results = _in_threads(8, lambda _: save_new_host_key(options, "[web1]:1035", key))
    assert sum(result == () for result in results) == 1  # one saved it...
    assert all(blobs(r) == [key.asbytes()] for r in results if r != ())  # type: ignore[arg-type]
    assert path.read_text() == f"[web1]:1035 {key.get_name()} {key.get_base64()}\n"
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert blobs(known_hosts_for(options).keys_for("[web1]:1035")) == [key.asbytes()]
    assert len(loads) == 1  # the store was kept current: the append did not cost a reload


def test_saved_keys_join_an_existing_file_without_a_reload(
    tmp_path: Path, loads: list[Sequence[tuple[Path, bytes | None]]]
) -> None:
    path = tmp_path / "known_hosts"
    old = ed25519()
    path.write_text(line("web1", old) + "\n")
    options = SshOptions(known_hosts=path, accept_new_host_keys=True)
    new = [pkey(ed25519()) for _ in range(8)]
    assert _in_threads(8, lambda i: save_new_host_key(options, f"web{i + 2}", new[i])) == [()] * 8
    store = known_hosts_for(options)
    assert [blobs(store.keys_for(f"web{i + 2}")) for i in range(8)] == [[k.asbytes()] for k in new]
    assert len(loads) == 1
    assert len(path.read_text().splitlines()) == 9
    fresh = load_known_hosts([(path, path.read_bytes())])  # what the next run will read
    assert blobs(fresh.keys_for("web5")) == [new[3].asbytes()]


def test_a_file_changed_by_someone_else_meanwhile_is_read_again(
    tmp_path: Path, loads: list[Sequence[tuple[Path, bytes | None]]]
) -> None:
    path = tmp_path / "known_hosts"
    path.write_text("")
    options = SshOptions(known_hosts=path, accept_new_host_keys=True)
    known_hosts_for(options)
    other = ed25519()
    with path.open("a") as handle:  # another process appends (ssh-keyscan >> known_hosts)
        handle.write(line("web2", other) + "\n")
    assert save_new_host_key(options, "web1", pkey(ed25519())) == ()
    store = known_hosts_for(options)
    assert len(store.keys_for("web1")) == 1
    assert blobs(store.keys_for("web2")) == [pkey(other).asbytes()]


# --- the transport's policies ---------------------------------------------------------------


def test_refuse_unknown_names_the_file_and_refuses_revoked_keys_as_changed() -> None:
    bad, new = ed25519(), ed25519()
    store = parse("@revoked * " + " ".join(bad))
    policy = transport._RefuseUnknown((SYSTEM_KNOWN_HOSTS, HERE), store)
    client = paramiko.SSHClient()
    with pytest.raises(HostKeyUnknown, match=f"is not in {SYSTEM_KNOWN_HOSTS} or {HERE}; add it"):
        policy.missing_host_key(client, "web1", pkey(new))
    with pytest.raises(HostKeyMismatch, match="marked @revoked"):
        policy.missing_host_key(client, "web1", pkey(bad))


def test_accept_new_never_saves_a_revoked_key(tmp_path: Path) -> None:
    bad = ed25519()
    path = tmp_path / "known_hosts"
    path.write_text("@revoked * " + " ".join(bad) + "\n")
    options = SshOptions(known_hosts=path, accept_new_host_keys=True)
    notes: list[str] = []
    policy = transport._AcceptNew(options, notes, known_hosts_for(options))
    with pytest.raises(HostKeyMismatch, match="marked @revoked"):
        policy.missing_host_key(paramiko.SSHClient(), "web1", pkey(bad))
    assert path.read_text().count("\n") == 1 and notes == []


def test_a_host_whose_every_key_is_revoked_is_changed_not_new(tmp_path: Path) -> None:
    """The leaked key was revoked; a man in the middle shows his own: OpenSSH's HOST_CHANGED,
    never trusted on first use (it used to be accepted and saved)."""
    leaked, attacker = ed25519(), ed25519()
    path = tmp_path / "known_hosts"
    path.write_text("web1 " + " ".join(leaked) + "\n@revoked * " + " ".join(leaked) + "\n")
    before = path.read_text()
    options = SshOptions(known_hosts=path, accept_new_host_keys=True)
    store = known_hosts_for(options)
    notes: list[str] = []

    with pytest.raises(HostKeyMismatch, match="every key for it is marked @revoked"):
        transport._AcceptNew(options, notes, store).missing_host_key(
            paramiko.SSHClient(), "web1", pkey(attacker)
        )
    with pytest.raises(HostKeyMismatch, match="every key for it is marked @revoked"):
        transport._RefuseUnknown([path], store).missing_host_key(
            paramiko.SSHClient(), "web1", pkey(attacker)
        )
    assert path.read_text() == before and notes == []


def test_a_revoked_plain_line_does_not_hide_a_good_hashed_one() -> None:
    revoked, good = ed25519(), ed25519()
    hashed = paramiko.HostKeys.hash_host("web1")
    store = parse(f"web1 {' '.join(revoked)}\n@revoked * {' '.join(revoked)}\n"
                  f"{hashed} {' '.join(good)}")  # fmt: skip

    assert blobs(store.keys_for("web1")) == [pkey(good).asbytes()]


def test_accept_new_compares_with_a_key_saved_meanwhile(tmp_path: Path) -> None:
    """Two inventory entries for one host name: the second connection finds the first one's
    key (no second line); a different key under that name is a changed key."""
    path = tmp_path / "known_hosts"
    options = SshOptions(known_hosts=path, accept_new_host_keys=True)
    first, other = pkey(ed25519()), pkey(ed25519())
    notes: list[str] = []
    store = known_hosts_for(options)
    transport._AcceptNew(options, notes, store).missing_host_key(
        paramiko.SSHClient(), "web1", first
    )
    assert len(notes) == 1 and "accepted on first use" in notes[0]
    again: list[str] = []
    transport._AcceptNew(options, again, store).missing_host_key(
        paramiko.SSHClient(), "web1", first
    )
    assert again == [] and path.read_text().count("\n") == 1
    with pytest.raises(paramiko.BadHostKeyException):
        transport._AcceptNew(options, [], store).missing_host_key(
            paramiko.SSHClient(), "web1", other
        )


# --- the socket and ssh_config ---------------------------------------------------------------


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.create_server(("127.0.0.1", 0))
    yield server
    server.close()


def test_the_ssh_socket_has_nodelay_and_the_timeout(listener: socket.socket) -> None:
    sock = transport._open_socket("127.0.0.1", listener.getsockname()[1], 4.0)
    try:
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert sock.gettimeout() == 4.0
    finally:
        sock.close()


def test_a_refused_connection_is_reported_as_paramiko_reported_it(
    listener: socket.socket,
) -> None:
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError) as caught:
        transport._open_socket("127.0.0.1", port, 4.0)
    assert [str(e) for e in caught.value.errors.values()] == ["[Errno 111] Connection refused"]


def _target(name: str, config: Path) -> HostTarget:
    return HostTarget(name, "paramiko", App.WORDPRESS, host=name, ssh_config=config)


def test_ssh_config_is_parsed_once_per_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host web*\n  Port 1035\n  User deploy\nHost web2\n  HostName 10.0.0.2\n")
    parses: list[object] = []
    real = paramiko.SSHConfig.from_file

    def counting(flo: object) -> paramiko.SSHConfig:
        parses.append(flo)
        return real(flo)  # type: ignore[arg-type]

    monkeypatch.setattr(paramiko.SSHConfig, "from_file", counting)
    values = [transport._ssh_config_values(_target(f"web{i}", config)) for i in range(1, 21)]
    assert len(parses) == 1
    assert values[0] == {"hostname": "web1", "port": 1035, "username": "deploy"}
    assert values[1] == {"hostname": "10.0.0.2", "port": 1035, "username": "deploy"}
    config.write_text("Host web*\n  Port 2222\n")
    assert transport._ssh_config_values(_target("web1", config))["port"] == 2222
    assert len(parses) == 2


def test_a_broken_ssh_config_is_each_hosts_error_naming_it(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_bytes(b"Host *\n  Port \xff\n")
    for name in ("web1", "web2"):
        with pytest.raises(ProbeError, match=f"cannot use the SSH config {config} for {name}: "):
            transport._ssh_config_values(_target(name, config))


@pytest.mark.parametrize("port", ["0", "65536", "99999", "1_000", "+22", "22.0", "\u0662\u0662",
                                  "9" * 5000, "-1"])  # fmt: skip
def test_a_port_openssh_would_refuse_is_each_hosts_error(tmp_path: Path, port: str) -> None:
    """Port as OpenSSH reads it, not as Python's int() does (which takes '1_000' and '٢٢')."""
    config = tmp_path / "ssh_config"
    config.write_text(f"Host web*\n  Port {port}\n", encoding="utf-8")

    with pytest.raises(ProbeError, match="is not a port number"):
        transport._ssh_config_values(_target("web1", config))
    config.write_text("Host web*\n  Port 65535\n")
    assert transport._ssh_config_values(_target("web1", config))["port"] == 65535


def _no_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """A uid with no HOME and no passwd entry (CI containers run so): '~' cannot be expanded."""
    import pwd

    def unknown(uid: int) -> pwd.struct_passwd:
        raise KeyError(uid)

    monkeypatch.delenv("HOME", raising=False)
    monkeypatch.setattr(pwd, "getpwuid", unknown)
    with pytest.raises(RuntimeError):
        Path("~").expanduser()


def test_a_user_without_a_home_trusts_the_system_file_and_saves_nowhere(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_home(monkeypatch)
    options = SshOptions(accept_new_host_keys=True)

    assert known_hosts_files(options) == (SYSTEM_KNOWN_HOSTS,)
    with pytest.raises(ProbeError, match=r"no home directory .* \(give --known-hosts FILE\)"):
        save_new_host_key(options, "web1", pkey(ed25519()))
    given = tmp_path / "kh"
    assert save_new_host_key(replace(options, known_hosts=given), "web1", pkey(ed25519())) == ()
    assert given.read_text().startswith("web1 ssh-ed25519 ")


def test_a_user_without_a_home_has_no_ssh_config_and_no_identity_to_expand(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _no_home(monkeypatch)
    assert transport._ssh_config_values(_target("web1", None)) == {}  # type: ignore[arg-type]
    config = tmp_path / "ssh_config"
    config.write_text("Host web*\n  IdentityFile ~/.ssh/id_ed25519\n")
    with pytest.raises(ProbeError, match="the local user has no name"):
        transport._ssh_config_values(_target("web1", config))
    monkeypatch.setenv("USER", "ci")
    with pytest.raises(ProbeError, match="no home directory to expand"):
        transport._ssh_config_values(_target("web1", config))


@pytest.mark.parametrize("name", ["web1\nevil", "web1,evil", "web1 evil", "web1#x"])
def test_a_host_name_that_would_write_another_line_is_never_saved(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / "known_hosts"
    options = SshOptions(known_hosts=path, accept_new_host_keys=True)

    with pytest.raises(HostKeyUnknown, match="cannot be saved to known_hosts"):
        save_new_host_key(options, name, pkey(ed25519()))
    assert not path.exists()
