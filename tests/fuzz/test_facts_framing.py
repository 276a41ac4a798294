"""``parse_fact_output``: the framing facts.sh prints (``remote/facts.sh``) read back exactly, and
any other bytes (a broken host, a hostile one, output cut short) are a ParseError, which
``fetch_host_facts`` turns into a failed observation; never another exception.

Valid output comes two ways: framed here record by record as facts.sh frames it (``key value``
lines, every host-supplied value base64 ``-w0``, a path or home of plain characters as it is),
and printed by the real facts.sh over a small
tree; both are then mutated.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smtpcheck.errors import ParseError
from smtpcheck.remote.facts import (
    FileFacts,
    HostFacts,
    PhpReading,
    StatInfo,
    build_fact_argv,
    parse_fact_output,
)


def _b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.b64encode(raw).decode()


def _stat_line(info: StatInfo) -> str:
    """``stat -c '%F|%a|%u|%g|%U|%G|%s'``: %a is octal without a leading zero."""
    return f"{info.kind}|{info.mode:o}|{info.uid}|{info.gid}|{info.owner}|{info.group}|{info.size}"


_PLAIN = re.compile(r"[A-Za-z0-9._/~:@+-]+")


def _named(key: str, value: str) -> str:
    """A path or home record: as it is when facts.sh's ``case`` lets it through, else base64."""
    return f"{key}-text {value}" if _PLAIN.fullmatch(value) else f"{key} {_b64(value)}"


def frame(facts: HostFacts) -> bytes:
    """``facts`` as facts.sh prints them (uname, id and readlink end output with a newline)."""
    lines = ["smtpcheck-facts 1", f"hostname {_b64(facts.hostname + chr(10))}",
             f"user {_b64(facts.user + chr(10))}", f"uid {facts.uid}"]  # fmt: skip
    lines += [_named("home", home) for home in facts.homes]
    for file in facts.files.values():
        lines.append(_named("path", file.path))
        if not file.exists:
            lines.append("missing")
            continue
        assert file.lstat is not None
        lines.append(f"lstat {_b64(_stat_line(file.lstat))}")
        if file.link is not None:
            lines += [
                f"link {_b64(file.link + chr(10))}",
                f"resolved {_b64((file.resolved or '') + chr(10))}",
            ]
            if file.stat is not None:
                lines.append(f"stat {_b64(_stat_line(file.stat))}")
        if file.content is not None:
            lines.append(f"content {_b64(file.content)}")
        elif file.denied:
            lines.append("content-denied")
        if file.php is not None:
            if file.php.available:
                lines += [f"php-exit {file.php.exit_status}", f"php {_b64(file.php.output)}"]
            else:
                lines.append("php-absent")
    lines.append("end")
    return ("\n".join(lines) + "\n").encode()


_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=20)
_NAME = st.from_regex(r"[a-z_][a-z0-9_-]{0,8}", fullmatch=True)
_KINDS = ["regular file", "regular empty file", "directory", "symbolic link", "fifo", "socket"]
_STAT = st.builds(
    StatInfo,
    kind=st.sampled_from(_KINDS),
    mode=st.integers(0, 0o7777),
    uid=st.integers(0, 2**32 - 1),
    gid=st.integers(0, 2**32 - 1),
    owner=_NAME,
    group=_NAME,
    size=st.integers(0, 2**40),
)
_PHP = st.one_of(
    st.none(),
    st.just(PhpReading(available=False)),
    st.builds(PhpReading, st.just(True), st.integers(0, 255), st.binary(max_size=40)),
)


@st.composite
def _file(draw: st.DrawFn, path: str) -> FileFacts:
    if draw(st.integers(0, 5)) == 0:
        return FileFacts(path, exists=False)
    lstat = draw(_STAT)
    link = resolved = stat = None
    if draw(st.booleans()):  # a symbolic link, dangling or not
        link, resolved = draw(_TEXT), draw(_TEXT)
        lstat = StatInfo("symbolic link", 0o777, *(lstat.uid, lstat.gid, lstat.owner),
                         lstat.group, len(link.encode()))  # fmt: skip
        stat = draw(st.none() | _STAT)
    else:
        stat = lstat
    readable = draw(st.sampled_from(["content", "denied", "neither"]))
    content = draw(st.binary(max_size=60)) if readable == "content" else None
    php = draw(_PHP) if content is not None else None
    return FileFacts(path, True, lstat, link, resolved, stat, content, readable == "denied", php)


@st.composite
def host_facts(draw: st.DrawFn) -> HostFacts:
    paths = draw(st.lists(_TEXT, unique=True, max_size=4))
    files = {path: draw(_file(path)) for path in paths}
    return HostFacts(
        hostname=draw(_TEXT),
        user=draw(_TEXT),
        uid=draw(st.integers(-1, 2**32)),
        files=files,
        homes=tuple(draw(st.lists(_TEXT, max_size=3))),
    )


@given(facts=host_facts())
def test_what_facts_sh_frames_is_read_back_exactly(facts: HostFacts) -> None:
    assert parse_fact_output(frame(facts)) == facts


# --- mutations of valid output ----------------------------------------------------------------

_KEYS = ["smtpcheck-facts", "hostname", "user", "uid", "home", "home-text", "path", "path-text",
         "missing", "lstat", "stat",
         "link", "resolved", "content", "content-denied", "php-absent", "php-exit", "php", "end",
         "bogus", ""]  # fmt: skip
_VALUE = st.one_of(
    _TEXT,
    _TEXT.map(_b64),
    st.sampled_from(["", "=", "A", "AAA", "!!!!", "٣", "²", "-1", "9" * 5000, "1_0", " 1 ",
                     _b64("a|b"), _b64("regular file|644|0|0|root|root|x"),
                     _b64("regular file|9" + "9" * 5000 + "|0|0|r|r|1"), _b64("|" * 6)]),
)  # fmt: skip
_LINE = st.builds(
    lambda key, sep, value: f"{key}{sep}{value}".encode(),
    st.sampled_from(_KEYS),
    st.sampled_from([" ", "  ", "\t", ""]),
    _VALUE,
)


@st.composite
def mutated(draw: st.DrawFn, output: bytes) -> bytes:
    lines = output.split(b"\n")
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "replace", "flip",
                                   "cut", "crlf", "append"]))  # fmt: skip
        at = draw(st.integers(0, max(0, len(lines) - 1)))
        if op == "delete" and lines:
            del lines[at]
        elif op == "duplicate" and lines:
            lines.insert(at, lines[at])
        elif op == "swap" and len(lines) > 1:
            other = draw(st.integers(0, len(lines) - 1))
            lines[at], lines[other] = lines[other], lines[at]
        elif op == "insert":
            lines.insert(at, draw(_LINE))
        elif op == "replace" and lines:
            key = lines[at].partition(b" ")[0]
            lines[at] = key + b" " + draw(_VALUE).encode()
        elif op == "flip" and lines and lines[at]:
            line = bytearray(lines[at])
            line[draw(st.integers(0, len(line) - 1))] ^= draw(st.integers(1, 255))
            lines[at] = bytes(line)
        elif op == "cut":
            joined = b"\n".join(lines)
            lines = joined[: draw(st.integers(0, len(joined)))].split(b"\n")
        elif op == "crlf" and lines:
            lines[at] += b"\r"
        elif op == "append":
            lines.append(draw(st.binary(max_size=20)))
    return b"\n".join(lines)


def _parsed_or_refused(stdout: bytes) -> None:
    """The property: a HostFacts, or the module's own ParseError."""
    try:
        facts: HostFacts | ParseError = parse_fact_output(stdout)
    except ParseError as exc:
        facts = exc
    if isinstance(facts, ParseError):
        assert str(facts).startswith(("fact output", "the fact command"))
        return
    assert isinstance(facts, HostFacts)
    for path, file in facts.files.items():
        assert file.path == path


@given(data=st.data(), facts=host_facts())
def test_mutated_output_is_facts_or_a_parse_error(data: st.DataObject, facts: HostFacts) -> None:
    _parsed_or_refused(data.draw(mutated(frame(facts))))


@given(stdout=st.one_of(
    st.binary(),
    st.binary().map(lambda raw: b"smtpcheck-facts 1\n" + raw + b"\nend\n"),
    st.lists(_LINE, max_size=12).map(lambda ls: b"\n".join([b"smtpcheck-facts 1", *ls, b"end"])),
))  # fmt: skip
def test_arbitrary_bytes_are_facts_or_a_parse_error(stdout: bytes) -> None:
    _parsed_or_refused(stdout)


# --- the real facts.sh ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_output() -> Iterator[bytes]:
    """What facts.sh prints for a file, an empty file, a symlink, a dangling one, a directory,
    an unreadable-by-nobody file and a missing path, run here under /bin/sh."""
    tree = Path(tempfile.mkdtemp(prefix="smtpcheck-fuzz-facts-"))
    try:
        (tree / "wordpresssmtp").write_bytes(b"FROM ADDRESS: a@b.example\nPASSWORD: x:y\n")
        (tree / "empty").write_bytes(b"")
        (tree / "link").symlink_to(tree / "wordpresssmtp")
        (tree / "dangling").symlink_to(tree / "gone")
        (tree / "dir").mkdir()
        names = ["wordpresssmtp", "empty", "link", "dangling", "dir", "missing\nname"]
        argv = build_fact_argv([str(tree / name) for name in names], max_bytes=20)
        result = subprocess.run(argv, capture_output=True, check=True, timeout=30, cwd="/",
                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")})  # fmt: skip
        assert parse_fact_output(result.stdout).files  # the seed itself parses
        yield result.stdout
    finally:
        shutil.rmtree(tree)


@given(data=st.data())
def test_mutated_real_output_is_facts_or_a_parse_error(
    real_output: bytes, data: st.DataObject
) -> None:
    _parsed_or_refused(data.draw(mutated(real_output)))


PLAIN_PATH = re.compile(r"[A-Za-z0-9._/~:@+-]+")  # what facts.sh prints as "path-text"


@given(
    name=st.text(
        st.characters(exclude_categories=["Cs"], exclude_characters="\x00/"),
        min_size=1,
        max_size=30,
    ).filter(lambda name: name not in (".", ".."))
)
def test_any_file_name_comes_back_exactly_from_the_real_facts_sh(name: str) -> None:
    """Whatever a host's file is called (glob and shell characters, line breaks, any script),
    facts.sh frames it so that the parser reads back that name, its link's target and its
    content; it is printed as text only when every character is plain."""
    with tempfile.TemporaryDirectory(prefix="smtpcheck-fuzz-name-") as tree:
        (Path(tree) / "files").mkdir()
        file, link = Path(tree) / "files" / name, Path(tree) / "link"
        file.write_bytes(b"x")
        link.symlink_to(file)
        path = str(file)
        argv = build_fact_argv([path, str(link)], max_bytes=10)
        stdout = subprocess.run(argv, capture_output=True, check=True, timeout=30).stdout

    facts = parse_fact_output(stdout)

    assert list(facts.files) == [path, str(link)]
    assert facts.files[path].content == b"x"
    lstat = facts.files[path].lstat
    assert lstat is not None and lstat.is_regular
    assert facts.files[str(link)].link == path
    record = next(line for line in stdout.splitlines() if line.startswith(b"path"))
    assert record.startswith(b"path-text ") == bool(PLAIN_PATH.fullmatch(path))
