"""``parse_fact_output`` on what ``facts.sh`` really prints, run locally over a tree of files.

The script is the one smtpcheck sends to every host; here it runs under /bin/sh on this machine
(as root, and as ``nobody`` through runuser for "permission denied"), so the parser is checked
against the real framing, not a hand-written imitation of it.
"""

from __future__ import annotations

import base64
import grp
import os
import pwd
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from smtpcheck.credentials.joomla import parse_php_output
from smtpcheck.errors import ParseError
from smtpcheck.lab.seeds import joomla_fixed, labelled_file
from smtpcheck.remote.facts import StatInfo, build_fact_argv, parse_fact_output, parse_stat
from tests.unit.builders import CREDS, PASSWORD, needs_php, run_facts

LABELLED = labelled_file(CREDS)
# Who runs the tests owns the files they create (root in the lab and CI).
UID, GID = os.geteuid(), os.getegid()
USER, GROUP = pwd.getpwuid(UID).pw_name, grp.getgrgid(GID).gr_name
needs_root = pytest.mark.skipif(UID != 0, reason="runs facts.sh as nobody through runuser")


@pytest.fixture
def tree() -> Iterator[Path]:
    """A directory every user may traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="smtpcheck-facts-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def _file(path: Path, content: bytes, mode: int = 0o400) -> str:
    path.write_bytes(content)
    path.chmod(mode)
    return str(path)


def test_header_names_host_and_user(tree: Path) -> None:
    facts = run_facts([str(tree / "absent")])

    assert facts.hostname == os.uname().nodename
    assert (facts.user, facts.uid) == (USER, UID)


def test_regular_file(tree: Path) -> None:
    path = _file(tree / "wordpresssmtp", LABELLED)

    file = run_facts([path]).files[path]

    assert file.exists and file.link is None and file.resolved is None and not file.denied
    assert (
        file.lstat
        == file.stat
        == StatInfo("regular file", 0o400, UID, GID, USER, GROUP, len(LABELLED))
    )
    assert file.content == LABELLED
    assert not file.truncated
    assert file.php is None  # PHP only runs when asked


def test_empty_file(tree: Path) -> None:
    path = _file(tree / "empty", b"", 0o600)

    file = run_facts([path]).files[path]

    assert file.stat is not None and file.stat.kind == "regular empty file"
    assert file.stat.is_regular and file.stat.size == 0
    assert file.content == b""


def test_symlink_is_followed_and_its_target_shown(tree: Path) -> None:
    (tree / "outside_webroot").mkdir()
    real = _file(tree / "outside_webroot" / "configuration.php", b"<?php\n", 0o500)
    link = tree / "configuration.php"
    link.symlink_to(real)

    file = run_facts([str(link)]).files[str(link)]

    assert file.exists
    assert file.lstat is not None and file.lstat.kind == "symbolic link"
    assert file.link == real and file.resolved == real
    assert file.stat == StatInfo("regular file", 0o500, UID, GID, USER, GROUP, 6)
    assert file.content == b"<?php\n"


def test_relative_symlink_keeps_its_own_text(tree: Path) -> None:
    _file(tree / "real", b"x")
    (tree / "rel").symlink_to("real")

    file = run_facts([str(tree / "rel")]).files[str(tree / "rel")]

    assert file.link == "real"
    assert file.resolved == str(tree / "real")


def test_dangling_symlink(tree: Path) -> None:
    link = tree / "wordpresssmtp"
    link.symlink_to(tree / "gone")

    file = run_facts([str(link)]).files[str(link)]

    assert file.exists  # the path exists: it is a link
    assert file.lstat is not None and file.lstat.kind == "symbolic link"
    assert file.link == str(tree / "gone")
    assert file.stat is None and file.content is None and not file.denied


def test_directory(tree: Path) -> None:
    (tree / "moodlesmtp").mkdir(mode=0o755)
    path = str(tree / "moodlesmtp")

    file = run_facts([path]).files[path]

    assert file.stat is not None and file.stat.kind == "directory" and not file.stat.is_regular
    assert file.content is None and not file.denied


def test_missing(tree: Path) -> None:
    path = str(tree / "drupalsmtp")

    file = run_facts([path]).files[path]

    assert not file.exists
    assert file.lstat is None and file.stat is None and file.content is None


@needs_root
def test_unreadable_for_the_reading_user_is_denied(tree: Path) -> None:
    path = _file(tree / "wordpresssmtp", LABELLED, 0o000)

    facts = run_facts([path], as_user="nobody")

    file = facts.files[path]
    assert (facts.user, facts.uid) == ("nobody", 65534)
    assert file.denied
    assert file.content is None
    assert file.stat is not None and file.stat.mode == 0 and file.stat.size == len(LABELLED)


@needs_root
def test_root_reads_a_mode_000_file(tree: Path) -> None:
    path = _file(tree / "wordpresssmtp", LABELLED, 0o000)

    file = run_facts([path]).files[path]

    assert not file.denied and file.content == LABELLED


def test_content_is_truncated_at_the_cap(tree: Path) -> None:
    path = _file(tree / "big", b"A" * 100 + b"B" * 100)

    file = run_facts([path], max_bytes=100).files[path]

    assert file.content == b"A" * 100
    assert file.stat is not None and file.stat.size == 200
    assert file.truncated


def test_exactly_the_cap_is_not_truncated(tree: Path) -> None:
    path = _file(tree / "exact", b"C" * 100)

    assert not run_facts([path], max_bytes=100).files[path].truncated


def test_binary_content_survives_the_framing(tree: Path) -> None:
    data = bytes(range(256)) + b"\nend\npath x\n\r\n"
    path = _file(tree / "binary", data)

    file = run_facts([path]).files[path]

    assert file.content == data


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("with space", id="space"),
        pytest.param("new\nline", id="newline"),
        pytest.param("trailing-newline\n", id="trailing-newline"),
        pytest.param("end", id="named-like-the-trailer"),
        pytest.param("missing", id="named-like-a-record"),
        pytest.param(os.fsdecode(b"caf\xe9-latin1"), id="non-utf8"),
        pytest.param("naïve-☃", id="utf8"),
        pytest.param("-dash", id="leading-dash"),
    ],
)
def test_file_names_survive_the_framing(tree: Path, name: str) -> None:
    path = _file(tree / name, b"content of " + name.encode("utf-8", "surrogateescape"))
    other = _file(tree / "after", b"second file")

    facts = run_facts([path, other])

    # Names come back as text: bytes that are not UTF-8 are shown as U+FFFD.
    shown = os.fsencode(path).decode("utf-8", "replace")
    assert list(facts.files) == [shown, other]
    assert facts.files[shown].content == Path(path).read_bytes()
    assert facts.files[other].content == b"second file"


@pytest.mark.parametrize(
    ("name", "record"),
    [
        ("plain-Name_1.2~:@+", "path-text"),
        ("with space", "path"),
        ("glob*", "path"),
        ("a$(id)", "path"),
        ("back\\slash", "path"),
        ("[x]", "path"),
        ("tab\tname", "path"),
    ],
)
def test_only_plain_names_are_printed_without_base64(tree: Path, name: str, record: str) -> None:
    """facts.sh prints a path as it is (no process) only when nothing in it can break a line."""
    path = _file(tree / name, b"x")
    argv = build_fact_argv([path], max_bytes=10)
    out = subprocess.run(argv, capture_output=True, check=True, timeout=30).stdout

    keys = [line.split(" ")[0] for line in out.decode().splitlines()]
    assert [key for key in keys if key.startswith("path")] == [record]
    assert list(parse_fact_output(out).files) == [path]


def test_symlink_target_with_newline_is_reported_exactly(tree: Path) -> None:
    target = _file(tree / "new\nline", b"x")
    link = tree / "link"
    link.symlink_to(target)

    file = run_facts([str(link)]).files[str(link)]

    assert file.link == target
    assert file.resolved == target


def test_several_paths_one_command(tree: Path) -> None:
    regular = _file(tree / "a", b"1")
    missing = str(tree / "b")
    (tree / "c").symlink_to(regular)

    facts = run_facts([regular, missing, str(tree / "c")])

    assert [(p, f.exists) for p, f in facts.files.items()] == [
        (regular, True),
        (missing, False),
        (str(tree / "c"), True),
    ]


@needs_php
def test_php_reading_is_framed_with_the_file(tree: Path) -> None:
    content = joomla_fixed(CREDS, host="in-v3.mailjet.com", port=465, secure="ssl")
    path = _file(tree / "configuration.php", content)

    file = run_facts([path], run_php=True).files[path]

    assert file.php is not None and file.php.available and file.php.exit_status == 0
    assert PASSWORD not in repr(file)
    result = parse_php_output(file.php.output)
    assert result is not None and result.error is None
    assert result.values["smtphost"] == "in-v3.mailjet.com"
    assert result.values["smtpport"] == 465
    assert result.smtppass is not None and result.smtppass.reveal() == PASSWORD


def test_php_absent(tree: Path) -> None:
    """A host without php: PATH holds every tool facts.sh needs except php."""
    bin_dir = tree / "bin"
    bin_dir.mkdir()
    for tool in ("base64", "uname", "tr", "id", "stat", "readlink", "head"):
        found = shutil.which(tool)
        assert found is not None
        (bin_dir / tool).symlink_to(found)
    path = _file(tree / "configuration.php", b"<?php\n")

    file = run_facts([path], run_php=True, env={"PATH": str(bin_dir)}).files[path]

    assert file.php is not None and not file.php.available
    assert file.content == b"<?php\n"


@needs_root
def test_php_not_run_for_missing_or_unreadable_files(tree: Path) -> None:
    path = _file(tree / "configuration.php", b"<?php\n", 0o000)

    facts = run_facts([path, str(tree / "absent")], run_php=True, as_user="nobody")

    assert all(file.php is None for file in facts.files.values())


def test_file_kinds_are_read_in_english_whatever_the_host_locale(tree: Path) -> None:
    """stat's %F is translated: a German server (LANGUAGE=de, passed on by PAM and sudo) said
    "reguläre Datei", and its credential file was not a regular file to the controls."""
    path = _file(tree / "wordpresssmtp", LABELLED)
    german = {"PATH": os.environ["PATH"], "LANG": "C.UTF-8", "LANGUAGE": "de"}
    shown = subprocess.run(["stat", "-c", "%F", path], capture_output=True, text=True, env=german)
    if shown.stdout.strip() == "regular file":
        pytest.skip("this machine has no German coreutils messages to test with")

    file = run_facts([path], env=german).files[path]

    assert file.stat is not None and file.stat.kind == "regular file" and file.stat.is_regular
    assert file.content == LABELLED


def _in_uts_namespace(hostname: bytes, argv: list[str]) -> bytes:
    """facts.sh's output on a host called ``hostname`` (a UTS namespace of its own)."""
    wrapper = "import os, socket, sys; socket.sethostname(os.fsencode(sys.argv[1])); "
    wrapper += "os.execvp(sys.argv[2], sys.argv[2:])"
    setup = ["unshare", "--uts", sys.executable, "-c", wrapper, os.fsdecode(hostname)]
    done = subprocess.run([*setup, *argv], capture_output=True, timeout=30, check=False)
    if done.returncode != 0 and not done.stdout:
        pytest.skip(f"no UTS namespace here: {done.stderr.decode(errors='replace')[:100]}")
    return done.stdout


@needs_root
@pytest.mark.parametrize(
    ("hostname", "record"),
    [
        (b"web1.example-2", "hostname-text"),
        (b"we ird", "hostname"),
        (b"tab\there", "hostname"),
        (b"end", "hostname-text"),
        (b"caf\xc3\xa9", "hostname"),
    ],
)
def test_hostname_is_text_only_when_plain(tree: Path, hostname: bytes, record: str) -> None:
    argv = build_fact_argv([str(tree / "absent")], max_bytes=10)
    out = _in_uts_namespace(hostname, argv)

    keys = [line.split(" ")[0] for line in out.decode().splitlines()]
    assert [key for key in keys if key.startswith("hostname")] == [record]
    assert parse_fact_output(out).hostname == hostname.decode()


@pytest.mark.parametrize(
    ("record", "identity"),
    [
        pytest.param(b"id-text uid=0(root) gid=0(root) groups=0(root)", ("root", 0), id="text"),
        pytest.param(b"id " + base64.b64encode(b"uid=1001(we ird) gid=1001 groups=1001"),
                     ("we ird", 1001), id="base64"),
        pytest.param(b"id-text uid=4242 gid=4242 groups=4242", ("", 4242), id="no-name"),
        pytest.param(b"id-text ", ("", -1), id="id-failed"),
        pytest.param(b"id ", ("", -1), id="id-failed-base64"),  # how facts.sh prints it now
        pytest.param(b"user cm9vdA==\nuid 0", ("root", 0), id="separate-records"),
    ],
)  # fmt: skip
def test_user_and_uid_come_from_id(record: bytes, identity: tuple[str, int]) -> None:
    stdout = b"smtpcheck-facts 1\nhostname-text web1\n" + record + b"\npath-text /x\nmissing\nend\n"

    facts = parse_fact_output(stdout)

    assert (facts.hostname, facts.user, facts.uid) == ("web1", *identity)


def test_plain_stat_lines_need_no_base64(tree: Path) -> None:
    """A stat line of plain characters is printed as it is: one process fewer per file."""
    target = _file(tree / "a", b"1")
    (tree / "link").symlink_to(target)
    out = subprocess.run(build_fact_argv([str(tree / "link")], max_bytes=10),
                         capture_output=True, check=True, timeout=30).stdout  # fmt: skip

    keys = [line.split(" ")[0] for line in out.decode().splitlines()]
    assert "lstat-text" in keys and "stat-text" in keys and "lstat" not in keys
    file = parse_fact_output(out).files[str(tree / "link")]
    assert file.lstat is not None and file.lstat.kind == "symbolic link"
    assert file.stat == StatInfo("regular file", 0o400, UID, GID, USER, GROUP, 1)


# --- framing errors (pure) ----------------------------------------------------------------------

GOOD = b"smtpcheck-facts 1\nhostname d2ViMQ==\nuser cm9vdA==\nuid 0\npath L3g=\nmissing\nend\n"


def test_hand_built_output_parses() -> None:
    facts = parse_fact_output(GOOD)

    assert (facts.hostname, facts.user, facts.uid) == ("web1", "root", 0)
    assert not facts.files["/x"].exists


@pytest.mark.parametrize(
    ("stdout", "message"),
    [
        pytest.param(b"", "the fact command printed no smtpcheck header", id="empty"),
        pytest.param(b"sudo: a password is required\n", "the fact command printed no smtpcheck "
                     "header", id="no-header"),
        pytest.param(b"smtpcheck-facts 2\nend\n", "the fact command printed no smtpcheck header",
                     id="other-version"),
        pytest.param(GOOD[: GOOD.index(b"end")], "the fact command output was cut short",
                     id="cut-short"),
        pytest.param(GOOD.replace(b"path L3g=", b"path L3g"), "fact output: path is not base64",
                     id="bad-base64-path"),
        pytest.param(GOOD.replace(b"missing", b"content !!!"),
                     "fact output: content is not base64", id="bad-base64-content"),
        pytest.param(GOOD.replace(b"missing", b"owner cm9vdA=="),
                     "fact output: unknown record 'owner'", id="unknown-record"),
        pytest.param(GOOD.replace(b"uid 0", b"uid 0\nkernel TGludXg="),
                     "fact output: unknown record 'kernel'", id="unknown-header-record"),
        pytest.param(GOOD.replace(b"uid 0", b"uid root"), "fact output: uid is not a number",
                     id="uid-not-number"),
        pytest.param(GOOD.replace(b"user cm9vdA==\nuid 0", b"id-text uid=" + b"1" * 5000),
                     "fact output: uid is not a number", id="uid-too-long-for-int"),
        pytest.param(GOOD.replace(b"missing", b"php-exit x\nphp e30="),
                     "fact output: php-exit is not a number", id="php-exit-not-number"),
        pytest.param(GOOD.replace(b"missing", b"lstat cmVndWxhciBmaWxl"),
                     "fact output: stat line has 1 fields, expected 7", id="stat-short"),
        pytest.param(GOOD.replace(b"missing", b"lstat "),  # what facts.sh prints if stat fails
                     "fact output: stat line has 1 fields, expected 7", id="stat-failed"),
        pytest.param(GOOD.replace(b"missing", b"lstat " + base64.b64encode(
                         b"regular file|6x4|0|0|root|root|1")),
                     "fact output: stat values are not numbers", id="stat-mode-not-octal"),
    ],
)  # fmt: skip
def test_broken_framing_is_a_parse_error(stdout: bytes, message: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_fact_output(stdout)

    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("text", "info"),
    [
        ("regular file|400|0|0|root|root|102", StatInfo("regular file", 0o400, 0, 0, "root",
                                                        "root", 102)),
        ("regular empty file|644|33|33|www-data|www-data|0\n",
         StatInfo("regular empty file", 0o644, 33, 33, "www-data", "www-data", 0)),
        ("directory|4755|0|0|root|root|4096", StatInfo("directory", 0o4755, 0, 0, "root",
                                                       "root", 4096)),
        ("symbolic link|777|0|0|root|root|42", StatInfo("symbolic link", 0o777, 0, 0, "root",
                                                         "root", 42)),
        ("regular file|600|1234|1234|UNKNOWN|UNKNOWN|5", StatInfo("regular file", 0o600, 1234,
                                                                  1234, "UNKNOWN", "UNKNOWN", 5)),
    ],
)  # fmt: skip
def test_parse_stat(text: str, info: StatInfo) -> None:
    assert parse_stat(text) == info


def test_stat_info_helpers() -> None:
    info = parse_stat("regular file|40|0|0|root|root|1")

    assert info.mode_text == "0040"
    assert info.is_regular
    assert not parse_stat("directory|755|0|0|root|root|1").is_regular


# --- toolkit homes: "~/" paths are probed under every home the toolkit names ------------------


@pytest.fixture
def homes() -> Iterator[dict[str, Path]]:
    """Three homes under the real /home (facts.sh only looks there), removed afterwards: one
    named by /home/homedir.dat, one X<18>X by the toolkit's naming, one only by server_user."""
    if not os.access("/home", os.W_OK):
        pytest.skip("needs a writable /home")
    tag = secrets.token_hex(4)
    names = {
        "homedir": f"Xhd{tag}0123456789X",
        "pattern": f"Xpt{tag}01234567X",  # 18 letters or digits between the X's
        "server_user": f"websrv{tag}",
        "not-a-toolkit-name": f"Xno{tag}X",  # not 18 alphanumerics between the X's
    }
    made = {key: Path("/home") / name for key, name in names.items()}
    homedir = Path("/home/homedir.dat")
    if homedir.exists():
        pytest.skip("this machine has a /home/homedir.dat of its own")
    try:
        for path in made.values():
            (path / "runtime").mkdir(parents=True)
            _file(path / "runtime" / "settings.dat", b"EMAILUTIL:sendemail\n", 0o640)
        homedir.write_text(f"{names['homedir']}\n")
        yield made
    finally:
        homedir.unlink(missing_ok=True)
        for path in made.values():
            shutil.rmtree(path, ignore_errors=True)


def test_home_paths_expand_under_every_toolkit_home(homes: dict[str, Path]) -> None:
    facts = run_facts(["~/runtime/settings.dat"], server_user=homes["server_user"].name)

    found = {path for path, file in facts.files.items() if file.exists}
    expected = {str(homes[key] / "runtime" / "settings.dat")
                for key in ("homedir", "pattern", "server_user")}  # fmt: skip
    assert expected <= found
    assert str(homes["not-a-toolkit-name"] / "runtime" / "settings.dat") not in facts.files
    assert facts.homes[0] == str(
        homes["homedir"]
    )  # homedir.dat first: it is what the toolkit reads
    assert len(facts.homes) == len(set(facts.homes))


@pytest.mark.parametrize("server_user", ["../etc", "a/b", ".", ".."])
def test_server_user_cannot_leave_home(server_user: str) -> None:
    facts = run_facts(["~/passwd"], server_user=server_user)

    assert all(home.count("/") == 2 and home.startswith("/home/") for home in facts.homes)
    assert "/etc/passwd" not in facts.files and "/home/../etc/passwd" not in facts.files
