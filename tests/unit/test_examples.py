"""The shipped examples (``examples/``) load the way smtpcheck and their schedulers read them:
the config, inventory and waivers through smtpcheck's own loaders, the CI files as YAML, the
systemd units as INI, the crontab line by its fields; every ``smtpcheck audit`` command line in
them parses with the CLI's parser (issue 9 §5)."""

from __future__ import annotations

import argparse
import configparser
import contextlib
import datetime as dt
import io
import ipaddress
import json
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from smtpcheck.catalogue import CONTROLS, Layer
from smtpcheck.cli import build_parser
from smtpcheck.config import AuditConfig, AuditOptions, load_audit_config, read_config_file
from smtpcheck.reports import REPORTERS
from smtpcheck.targets import App, HostTarget, read_inventory
from smtpcheck.waivers import Waiver, load_waivers

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
TODAY = dt.date(2026, 12, 1)  # the waivers must outlive this date
KEY_PREFIX = "id_ed25519_AGILE_DEPLOYMENT_BUILD_KEY_"
SUDO_VARIABLES = ("SHOP", "LEARN", "PORTAL", "INTRANET")
ENVIRON = {
    "SYSTEM_EMAIL_USERNAME": "0123456789abcdef0123456789abcdef",
    "SYSTEM_EMAIL_PASSWORD": "example-api-secret-key",
    "SMTPCHECK_MAILBOX_PASSWORD": "example-mailbox-password",
    **{f"SMTPCHECK_SUDO_PASSWORD_{build}": f"sudo-{build.lower()}" for build in SUDO_VARIABLES},
}
SHIPPED = {
    "README.md",
    "smtpcheck.toml",
    "inventory.toml",
    "waivers.toml",
    "github-actions.yml",
    "github-actions-matrix.yml",
    "gitlab-ci.yml",
    "cron",
    "smtpcheck.service",
    "smtpcheck.timer",
}


def test_every_example_is_shipped_and_described() -> None:
    assert {path.name for path in EXAMPLES.iterdir()} == SHIPPED
    readme = (EXAMPLES / "README.md").read_text(encoding="utf-8")
    for name in SHIPPED - {"README.md"}:
        assert f"**`{name}`**" in readme, f"examples/README.md does not describe {name}"


# --- command lines ---------------------------------------------------------------------------

_OPERATOR = re.compile(r"[();<>|&]+")


def smtpcheck_argv(command: str) -> list[str]:
    """The arguments of the first ``smtpcheck`` command in a shell command line, up to the
    first shell operator or redirection; a script given to ``sh -c`` is looked into."""
    lexer = shlex.shlex(command.replace("\\\n", " "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    words = list(lexer)
    for index, word in enumerate(words):
        if Path(word).name == "smtpcheck":
            argv = []
            for argument in words[index + 1 :]:
                if _OPERATOR.fullmatch(argument):
                    break
                argv.append(argument)
            return argv
        if "smtpcheck" in word and any(space in word for space in " \t\n"):
            with contextlib.suppress(LookupError):
                return smtpcheck_argv(word)
    raise LookupError(f"no smtpcheck command in {command[:80]!r}")


def parse_audit(command: str) -> argparse.Namespace:
    """``command``'s smtpcheck invocation, parsed by the CLI's own parser (a usage error is a
    test failure with argparse's message, not a SystemExit)."""
    argv = smtpcheck_argv(command)
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            args = build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"smtpcheck {shlex.join(argv)}: {errors.getvalue().strip()}")
    assert args.command == "audit"
    return args


def test_command_extraction() -> None:
    line = "flock -n /l sh -c 'set -a && exec /opt/bin/smtpcheck audit --jobs 2' >>/log 2>&1"
    assert smtpcheck_argv(line) == ["audit", "--jobs", "2"]
    assert smtpcheck_argv("smtpcheck audit \\\n  --no-send && echo ok") == ["audit", "--no-send"]
    with pytest.raises(LookupError):
        smtpcheck_argv("echo smtpcheck.toml")


# --- config ----------------------------------------------------------------------------------


def _set(text: str, key: str, value: Path | str) -> str:
    """``text`` with the (one, uncommented) string value of ``key`` replaced."""
    pattern = re.compile(rf'^{re.escape(key)} = "[^"\n]*"', re.MULTILINE)
    text, count = pattern.subn(f"{key} = {json.dumps(str(value))}", text)
    assert count == 1, f"{key} is not set exactly once"
    return text


def _uncommented(text: str) -> str:
    """The config with its optional settings switched on: lines such as ``#baseline = …`` or
    ``#[mailbox]`` (a "#" right before a key or a table; prose comments are "# …")."""
    return re.sub(r"^#(?=\[|[a-z_]+ = )", "", text, flags=re.MULTILINE)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A home directory with what the examples name under ``~``: the build keys, the bastion's
    ssh_config and known_hosts (so that the shipped inventory loads unchanged)."""
    home = tmp_path / "home"
    ssh = home / ".ssh"
    (ssh / "config.d").mkdir(parents=True)
    for build in SUDO_VARIABLES:
        (ssh / f"{KEY_PREFIX}{build.lower()}").write_text("not a real key\n")
    (ssh / "config.d" / "portal-bastion.conf").write_text("ProxyJump bastion.example.org\n")
    (ssh / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(home))
    return home


def _load(tmp_path: Path, text: str) -> AuditConfig:
    """The example config ``text``, with its paths pointed into ``tmp_path`` (the shipped
    history is /var/lib/smtpcheck/history), loaded with the example inventory."""
    text = _set(text, "history", tmp_path / "history")
    text = _set(text, "report_dir", tmp_path / "reports")
    text = _set(text, "waivers", EXAMPLES / "waivers.toml")
    config = tmp_path / "smtpcheck.toml"
    config.write_text(text, encoding="utf-8")
    options = AuditOptions(config=config, inventory=EXAMPLES / "inventory.toml")
    return load_audit_config(options, environ=dict(ENVIRON))


def test_config_tables_and_paths() -> None:
    data = read_config_file(EXAMPLES / "smtpcheck.toml")
    assert {"expected", "audit", "ssh", "dns", "providers"} <= set(data)
    audit = data["audit"]
    assert audit["waivers"] == "examples/waivers.toml"
    assert (ROOT / audit["waivers"]).is_file()  # relative to the repository, where CI runs
    assert audit["history"] == "/var/lib/smtpcheck/history"
    assert "SYSTEM_EMAIL_PASSWORD" not in data["expected"]  # the password: environment only


def test_config_loads_with_the_inventory(tmp_path: Path, home: Path) -> None:
    config = _load(tmp_path, (EXAMPLES / "smtpcheck.toml").read_text(encoding="utf-8"))
    assert config.layers == frozenset(Layer)
    assert config.expected.provider is not None and config.expected.provider.key == "mailjet"
    assert config.expected.from_domain == "example.org"
    assert config.expected.password is not None
    assert config.domains == ("news.example.org",)
    assert config.fail_on == "high"
    assert config.ssh.known_hosts == home / ".ssh" / "known_hosts"
    assert not config.ssh.accept_new_host_keys
    assert len(config.targets) == 6
    assert config.over_time.history == tmp_path / "history"
    assert config.over_time.extra_reports == ("sarif", "codequality")
    assert len(config.over_time.waivers) == 3
    assert config.over_time.key_file == tmp_path / "history" / "fingerprint.key"
    assert not config.over_time.key_file.exists()  # the audit makes it; loading makes nothing


def test_config_optional_settings_load(tmp_path: Path, home: Path) -> None:
    """The commented-out settings (baseline, fingerprint key, SES, mailbox...) are valid too."""
    text = _uncommented((EXAMPLES / "smtpcheck.toml").read_text(encoding="utf-8"))
    assert "\n[mailbox]" in text and "\n[providers.ses]" in text
    baseline = tmp_path / "baseline.json"
    baseline.write_text(json.dumps({"schema_version": 1, "findings": []}))
    text = _set(text, "baseline", baseline)
    text = _set(text, "fingerprint_key", tmp_path / "fingerprint.key")
    text = _set(text, "zone_file", tmp_path / "example.org.zone")
    config = _load(tmp_path, text)
    assert config.nameservers == ("192.0.2.53", "192.0.2.54:5353")
    assert config.over_time.baseline is not None
    assert "mailbox" in config.sections
    ses = config.providers.resolve("ses")
    assert ses is not None and len(ses.dkim_selectors) == 3


# --- inventory and waivers -------------------------------------------------------------------


def _inventory() -> list[HostTarget]:
    return read_inventory(EXAMPLES / "inventory.toml")


def test_inventory(home: Path) -> None:
    targets = _inventory()
    assert {target.app for target in targets} == set(App)
    assert len({target.name for target in targets}) == len(targets)
    for target in targets:
        assert target.port == 1035
        assert target.user is not None and re.fullmatch(r"X[A-Za-z0-9]{18}X", target.user)
        assert target.identity_file is not None
        assert target.identity_file.name.startswith(KEY_PREFIX)
        assert target.identity_file.is_file()
        assert target.sudo and target.sudo_password_env in ENVIRON
        assert target.host is not None
        if target.backend == "paramiko":
            assert ipaddress.ip_address(target.host) in ipaddress.ip_network("192.0.2.0/24")
        else:
            assert target.host.endswith(".example.org")
            assert target.ssh_config is not None and target.ssh_config.is_file()


def _waivers() -> tuple[Waiver, ...]:
    return load_waivers(EXAMPLES / "waivers.toml")


def test_waivers(home: Path) -> None:
    waivers = _waivers()
    assert 2 <= len(waivers) <= 3
    names = [target.name for target in _inventory()]
    domains = read_config_file(EXAMPLES / "smtpcheck.toml")["audit"]["domains"]
    for waiver in waivers:
        assert waiver.control in CONTROLS
        assert waiver.expires.year == 2027 and not waiver.expired(TODAY)
        assert len(waiver.justification) > 40
        # Every waiver covers something the examples audit: a host, or a domain.
        assert any(waiver.matches(waiver.control, name) for name in [*names, *domains])
    assert any(set(waiver.target) & set("*?[") for waiver in waivers)
    assert any(not waiver.run for waiver in waivers)


# --- CI --------------------------------------------------------------------------------------


def _yaml(name: str) -> dict[Any, Any]:
    data = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _report_dir(args: argparse.Namespace) -> str:
    """Where a CI command's reports go: --report-dir, else the config's report_dir."""
    if args.report_dir is not None:
        return str(args.report_dir).rstrip("/")
    value = read_config_file(ROOT / args.config)["audit"]["report_dir"]
    assert isinstance(value, str)
    return value.rstrip("/")


_SECRET = re.compile(r"\$\{\{\s*secrets\.[A-Za-z_][A-Za-z0-9_]*\s*\}\}")


def test_github_actions() -> None:
    workflow = _yaml("github-actions.yml")
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1: a bare `on` is True
    assert isinstance(triggers, dict)
    assert "workflow_dispatch" in triggers
    assert "deployment_status" in triggers or "repository_dispatch" in triggers
    (schedule,) = triggers["schedule"]
    assert len(schedule["cron"].split()) == 5
    steps = workflow["jobs"]["audit"]["steps"]
    uses = {step["uses"].split("@")[0]: step for step in steps if "uses" in step}

    (audit,) = [step for step in steps if "smtpcheck audit" in step.get("run", "")]
    args = parse_audit(audit["run"])
    assert (ROOT / args.config).is_file() and (ROOT / args.inventory).is_file()
    assert args.extra_report == ["sarif"]
    env = audit["env"]
    assert _SECRET.fullmatch(env["SYSTEM_EMAIL_PASSWORD"])
    for name, value in env.items():  # every password only from the secret store
        if "PASSWORD" in name:
            assert _SECRET.fullmatch(value), name

    history = str(args.history).rstrip("/")
    restore, save = uses["actions/cache/restore"]["with"], uses["actions/cache/save"]
    assert restore["path"] == save["with"]["path"] == history and "always()" in save["if"]
    assert restore["key"] == save["with"]["key"]  # a new key per run: caches are immutable
    assert restore["key"].startswith(restore["restore-keys"])  # the newest earlier run
    report_dir = _report_dir(args)
    artifact = uses["actions/upload-artifact"]
    assert artifact["with"]["path"].rstrip("/") == report_dir and "always()" in artifact["if"]
    sarif = uses["github/codeql-action/upload-sarif"]
    assert sarif["with"]["sarif_file"] == f"{report_dir}/report.sarif"
    assert "always()" in sarif["if"]
    assert workflow["permissions"]["security-events"] == "write"


def test_github_actions_matrix_shards_then_merges() -> None:
    workflow = _yaml("github-actions-matrix.yml")
    jobs = workflow["jobs"]
    matrix = jobs["shard"]["strategy"]["matrix"]["shard"]
    assert jobs["shard"]["strategy"]["fail-fast"] is False
    (audit,) = [s for s in jobs["shard"]["steps"] if "smtpcheck audit" in s.get("run", "")]
    command = audit["run"].replace("${{ matrix.shard }}", "1")
    args = parse_audit(command)
    assert args.shard == f"1/{len(matrix)}" and matrix == list(range(1, len(matrix) + 1))
    assert _SECRET.fullmatch(audit["env"]["SYSTEM_EMAIL_PASSWORD"])
    (merge,) = [s for s in jobs["merge"]["steps"] if "smtpcheck merge" in s.get("run", "")]
    argv = shlex.split(merge["run"])
    assert jobs["merge"]["needs"] == "shard" and jobs["merge"]["if"] == "always()"
    parsed = build_parser().parse_args(argv[1:])
    assert parsed.command == "merge" and parsed.reports


def test_gitlab_ci() -> None:
    job = _yaml("gitlab-ci.yml")["smtpcheck"]
    rules = job["rules"]
    assert any("schedule" in rule.get("if", "") for rule in rules)
    assert any(rule.get("when") == "manual" for rule in rules)
    (command,) = [line for line in job["script"] if "smtpcheck audit" in line]
    args = parse_audit(command)
    assert (ROOT / args.config).is_file() and (ROOT / args.inventory).is_file()
    assert args.extra_report == ["codequality"]
    artifacts = job["artifacts"]
    assert artifacts["when"] == "always"
    report_dir = _report_dir(args)
    assert [path.rstrip("/") for path in artifacts["paths"]] == [report_dir]
    assert artifacts["reports"] == {
        "junit": f"{report_dir}/{REPORTERS['junit'][0]}",
        "codequality": f"{report_dir}/gl-code-quality-report.json",
    }
    assert [path.rstrip("/") for path in job["cache"]["paths"]] == [str(args.history)]
    assert "PASSWORD" not in json.dumps(job.get("variables", {}))  # set in GitLab, not here


# --- systemd and cron ------------------------------------------------------------------------


class _Unit(configparser.ConfigParser):
    """A systemd unit file read as INI: case kept, no interpolation (``%n`` is systemd's)."""

    def __init__(self) -> None:
        super().__init__(interpolation=None, delimiters=("=",), strict=True)

    def optionxform(self, optionstr: str) -> str:
        return optionstr


def _unit(name: str) -> _Unit:
    unit = _Unit()
    unit.read_string((EXAMPLES / name).read_text(encoding="utf-8"), source=name)
    return unit


def _installed_paths(args: argparse.Namespace) -> None:
    """An installed copy names the example files by absolute path."""
    for given, example in ((args.config, "smtpcheck.toml"), (args.inventory, "inventory.toml"),
                           (args.waivers, "waivers.toml")):  # fmt: skip
        assert given is not None and given.is_absolute() and given.name == example


def test_systemd_service() -> None:
    unit = _unit("smtpcheck.service")
    assert unit.sections() == ["Unit", "Service"]
    service = unit["Service"]
    assert service["Type"] == "oneshot"
    assert service["User"] not in ("", "root") and "DynamicUser" not in service
    assert service["ProtectSystem"] == "strict"
    assert service["NoNewPrivileges"] == "yes"
    assert service["EnvironmentFile"].startswith("/etc/smtpcheck/")
    assert "0600" in (EXAMPLES / "smtpcheck.service").read_text(encoding="utf-8")
    args = parse_audit(service["ExecStart"])
    _installed_paths(args)
    writable = [Path(path) for path in service["ReadWritePaths"].split()]
    for path in (args.history, args.report_dir):
        assert path is not None and any(path.is_relative_to(root) for root in writable)


def test_systemd_timer() -> None:
    unit = _unit("smtpcheck.timer")
    assert unit.sections() == ["Unit", "Timer", "Install"]
    timer = unit["Timer"]
    assert re.fullmatch(r"\*-\*-\* \d\d:\d\d:\d\d", timer["OnCalendar"])  # daily
    assert timer["Persistent"] == "true"
    assert re.fullmatch(r"\d+(min|h|s)?", timer["RandomizedDelaySec"])
    assert timer["Unit"] == "smtpcheck.service"
    assert unit["Install"]["WantedBy"] == "timers.target"


_CRON_FIELD = re.compile(r"(\*|\d+(-\d+)?)(/\d+)?(,(\*|\d+(-\d+)?)(/\d+)?)*")


def test_cron() -> None:
    lines = [
        line
        for line in (EXAMPLES / "cron").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    settings = dict(line.split("=", 1) for line in lines if re.match(r"[A-Z_]+=", line))
    assert "@" in settings["MAILTO"]
    (job,) = [line for line in lines if not re.match(r"[A-Z_]+=", line)]
    *fields, command = job.split(None, 5)
    assert len(fields) == 5 and all(_CRON_FIELD.fullmatch(field) for field in fields)
    minute, hour, *rest = fields
    assert minute.isdigit() and hour.isdigit() and 0 <= int(hour) <= 23  # once a night
    assert rest == ["*", "*", "*"]
    assert "%" not in command  # cron turns % into a newline
    assert command.startswith("flock ")
    assert re.search(r">>\s*/\S+\.log 2>&1", command)
    _installed_paths(parse_audit(command))
