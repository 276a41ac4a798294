"""Shared builders for the unit tests: credentials, host facts and evidence, and the two real
programs the pure parsers are checked against (``facts.sh`` and ``joomla_config.php``)."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import replace
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from smtpcheck.credentials.controls import host_evidence
from smtpcheck.credentials.evaluate import HostEvidence
from smtpcheck.lab.seeds import LabCredentials
from smtpcheck.providers import ProviderCatalogue
from smtpcheck.remote.facts import (
    FileFacts,
    HostFacts,
    HostObservation,
    PhpReading,
    StatInfo,
    build_fact_argv,
    parse_fact_output,
)
from smtpcheck.settings import Expected, Setting, validate_settings
from smtpcheck.targets import App, HostTarget, parse_host_url

CATALOGUE = ProviderCatalogue.builtin()

# A password with the two things the toolkit mangles or a sloppy parser splits on: ':' and a space.
PASSWORD = "Tr0ub4dor: horse-battery staple"
CREDS = LabCredentials(
    provider=2,
    from_address="notifications@shop.example",
    to_address="ops@shop.example",
    username="smtp-user-8f2a",
    password=PASSWORD,
)


def creds(**changes: Any) -> LabCredentials:
    """The standard lab credentials with some fields changed."""
    return dataclasses.replace(CREDS, **changes)


def one_line(error: BaseException) -> str:
    """The message of an error shown to the operator, which must be one line (SPEC §2)."""
    message = str(error)
    assert message and "\n" not in message, f"not one line: {message!r}"
    return message


def settings_of(values: Mapping[str, str], source: str = "environment") -> dict[str, Setting]:
    return {name: Setting(value, source) for name, value in values.items()}


def expected_of(c: LabCredentials = CREDS, **drop: bool) -> Expected:
    """The build-time settings of ``c`` (validated); ``SYSTEM_EMAIL_X=True`` drops one."""
    values = {k: v for k, v in c.environment().items() if not drop.get(k)}
    return validate_settings(settings_of(values), CATALOGUE)


def stat_info(
    kind: str = "regular file",
    mode: int = 0o400,
    owner: str = "root",
    group: str = "root",
    size: int = 0,
) -> StatInfo:
    uid = 0 if owner == "root" else 33
    gid = 0 if group == "root" else 33
    return StatInfo(kind, mode, uid, gid, owner, group, size)


def file_facts(
    path: str,
    content: bytes | None,
    *,
    mode: int = 0o400,
    owner: str = "root",
    group: str = "root",
    size: int | None = None,
    denied: bool = False,
    php: PhpReading | None = None,
) -> FileFacts:
    """Facts of a regular file as facts.sh reports them."""
    length = size if size is not None else len(content or b"")
    st = stat_info(mode=mode, owner=owner, group=group, size=length)
    return FileFacts(path, True, st, None, None, st, content, denied, php)


def target(app: App | str, url: str = "paramiko://web1.shop.example:1035") -> HostTarget:
    return parse_host_url(url, app)


def observed(host: HostTarget, *files: FileFacts) -> HostObservation:
    facts = HostFacts("web1", "X0000000000000000000X", 1000, {f.path: f for f in files}, "root")
    return HostObservation(host, facts)


def evidence(
    app: App,
    content: bytes | None = None,
    *,
    expected: Expected | None = None,
    facts: FileFacts | None = None,
    run_php: bool = False,
    **file_options: Any,
) -> HostEvidence:
    """HostEvidence for one app whose credential file holds ``content`` (or is ``facts``)."""
    host = replace(target(app), run_php=run_php)
    if facts is None:
        facts = file_facts(host.credential_path, content, **file_options)
    return host_evidence(observed(host, facts), expected or Expected(), CATALOGUE)


# --- the real programs --------------------------------------------------------------------------

PHP = shutil.which("php")
# Tests that need php-cli skip on a developer machine without it, but never under CI, which
# installs it (scripts/setup): there a missing php must fail, not hide.
needs_php = pytest.mark.skipif(
    PHP is None and not os.environ.get("CI"), reason="php-cli is not installed"
)
PHP_READER = resources.files("smtpcheck.remote").joinpath("joomla_config.php").read_bytes()


def run_php_reader(path: Path) -> tuple[int, bytes]:
    """``joomla_config.php`` run on ``path`` exactly as facts.sh runs it: code on stdin."""
    assert PHP is not None
    result = subprocess.run(
        [
            PHP,
            "-n",
            "-d",
            "extension=tokenizer",
            "-d",
            "display_errors=stderr",
            "-d",
            "error_reporting=0",
            "-d",
            "max_execution_time=5",
            "-d",
            "memory_limit=64M",
            "--",
            str(path),
        ],
        input=PHP_READER,
        capture_output=True,
        check=False,
        timeout=30,
    )
    return result.returncode, result.stdout


def php_json(path: Path) -> dict[str, Any] | None:
    """PHP's reading as JSON, or None when PHP died without printing any (fatal error)."""
    _, stdout = run_php_reader(path)
    if not stdout.strip():
        return None
    data = json.loads(stdout)
    assert isinstance(data, dict)
    return data


def run_facts(
    paths: Sequence[str],
    *,
    max_bytes: int = 65536,
    run_php: bool = False,
    as_user: str | None = None,
    env: Mapping[str, str] | None = None,
    server_user: str = "",
) -> HostFacts:
    """Run facts.sh locally (as ``as_user`` through runuser when given) and parse its output.

    Non-UTF-8 names are passed as ``os.fsdecode`` strings: subprocess turns them back into the
    original bytes."""
    args = [f"php:{path}" if run_php else path for path in paths]
    argv = build_fact_argv(args, max_bytes=max_bytes, server_user=server_user)
    if as_user is not None:
        argv = ["runuser", "-u", as_user, "--", *argv]
    result = subprocess.run(argv, capture_output=True, check=True, cwd="/", timeout=30, env=env)
    return parse_fact_output(result.stdout)
