"""From a host's facts to one :class:`CredentialReading`, whatever the application and generation.

The reading says which file shape (toolkit generation) was found, which reader produced the
values, every well-formedness problem, and the :class:`DeployedSmtp` the application would use.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from smtpcheck.credentials import joomla, labelled
from smtpcheck.credentials.labelled import Problem
from smtpcheck.credentials.model import DeployedSmtp
from smtpcheck.providers import ProviderCatalogue, TlsMode, default_tls, digits
from smtpcheck.remote.facts import FileFacts
from smtpcheck.secrets import Secret
from smtpcheck.targets import App

JOOMLA_DEFAULT_PORT = 25  # what Joomla uses when configuration.php sets no smtpport
_SECURE = {"ssl": TlsMode.IMPLICIT, "tls": TlsMode.STARTTLS}


@dataclass(frozen=True)
class CredentialReading:
    path: str
    shape: str
    reader: str
    problems: tuple[Problem, ...]
    deployed: DeployedSmtp | None  # None: the values could not be read at all
    settings: Mapping[str, str | int | bool | None]  # non-secret values, for evidence
    unreadable: str | None = None  # why the content could not be read
    notes: tuple[str, ...] = ()  # what the static reader objected to in a file PHP accepted
    loadable: bool | None = None  # Joomla: False when PHP cannot load it; None: not known
    code: str | None = None  # Joomla: executable code found beyond property declarations
    aligned: bool = False  # Joomla: the mail block is aligned, so the toolkit's sed missed it

    @property
    def fatal_problems(self) -> list[Problem]:
        return [problem for problem in self.problems if problem.fatal]


def decode_content(facts: FileFacts, max_note: str = "64 KiB") -> tuple[str | None, str | None]:
    """The file's text, or why there is none (denied, binary, too large)."""
    if facts.denied:
        return None, "permission denied for the reading user (configure sudo for this host)"
    if facts.content is None:
        return None, "the content was not read"
    if b"\0" in facts.content:
        return None, "the file is binary (contains NUL bytes), not a credential file"
    if facts.truncated and facts.stat is not None:
        return None, f"the file is {facts.stat.size} bytes, over the {max_note} read limit"
    try:
        return facts.content.decode("utf-8"), None
    except UnicodeDecodeError:
        return None, "the file is not UTF-8 text"


def read_labelled(facts: FileFacts, text: str, catalogue: ProviderCatalogue) -> CredentialReading:
    parsed = labelled.parse_labelled(text)
    code = parsed.values.get(labelled.EMAIL_PROVIDER, "").strip()
    number = digits(code)
    provider = catalogue.by_code(number) if number is not None else None
    port = parsed.port
    deployed = DeployedSmtp(
        source=facts.path,
        shape=labelled.SHAPE,
        provider=provider,
        host=None,  # the file never names a host: the provider's endpoint is used
        port=port,
        tls=None if port is None else provider.tls_for(port) if provider else default_tls(port),
        username=parsed.values.get(labelled.USERNAME),
        password=parsed.password,
        from_address=parsed.values.get(labelled.FROM_ADDRESS),
    )
    settings = {
        "from_address": parsed.values.get(labelled.FROM_ADDRESS),
        "username": parsed.values.get(labelled.USERNAME),
        "email_provider": code or None,
        "port": parsed.values.get(labelled.PORT),
    }
    return CredentialReading(
        facts.path, labelled.SHAPE, "labelled-line parser", parsed.problems, deployed, settings
    )


def _joomla_shape(
    config: joomla.JoomlaConfig, facts: FileFacts, values: Mapping[str, object]
) -> str:
    traits = []
    resolved = facts.resolved or ""
    if facts.link is not None:
        gen_d = "outside_webroot" in resolved
        where = "generation D: " if gen_d else ""
        traits.append(f"{where}symlink to {resolved or facts.link}")
    host = config.properties.get("smtphost")
    if host is not None and host.kind == "expression":
        traits.append("generation C main or D, virgin build (the toolkit's sed left smtphost "
                      "unquoted)")  # fmt: skip
    elif config.aligned and str(values.get("mailer", "")) != "smtp":
        traits.append("generation C main or D, baseline build (aligned mail block: the "
                      "toolkit's sed applied no SMTP setting)")  # fmt: skip
    elif "smtp_port" in config.properties:
        traits.append("smtp_port written (the toolkit descriptor's name; Joomla reads smtpport)")
    elif '"' in config.quotes:
        traits.append("generation C dev (double-quoted values)")
    elif str(values.get("smtpsecure")) == "ssl" and str(values.get("smtpport")) == "465":
        traits.append("generation A (single quotes, ssl on 465)")
    elif str(values.get("smtpsecure")) == "tls":
        traits.append("generation B (single quotes, tls)")
    if str(values.get("mailer", "")) != "smtp":
        traits.append(f"SMTP not enabled (mailer {values.get('mailer')!r})")
    return "; ".join(traits) or "Joomla configuration.php (generation not recognised)"


_WITHHELD = (
    "its message is not shown: $smtppass is not a plain string literal, so the message could "
    "quote part of the password"
)


def _php_reading(
    facts: FileFacts, run_php: bool, config: joomla.JoomlaConfig
) -> tuple[joomla.PhpResult | None, str]:
    """PHP's own reading when it worked, else why the static reader is used.

    PHP's error quotes the code it choked on (``unexpected identifier "rest"``, ``Undefined
    constant "word"``). When that code may be the password (a ``'`` the toolkit's sed left
    unescaped, an unquoted value), no reader took a value to register as a secret, so the
    message is withheld instead."""
    if not run_php:
        return None, "static PHP-literal parser (running PHP is disabled for this host)"
    if facts.php is None or not facts.php.available:
        return None, "static PHP-literal parser (php is not installed on the host)"
    result = joomla.parse_php_output(facts.php.output)
    if result is None:
        status = facts.php.exit_status
        return None, f"static PHP-literal parser (php on the host failed, exit {status})"
    if result.error is not None and not result.refused and not _password_is_literal(config):
        result = replace(result, error=_WITHHELD)
    if result.error is not None:
        return result, f"static PHP-literal parser (PHP {result.php_version}: {result.error})"
    return result, f"PHP {result.php_version} on the host, as Joomla reads it"


def _password_is_literal(config: joomla.JoomlaConfig) -> bool:
    """True unless the file declares $smtppass with something other than one string literal."""
    literal = config.properties.get("smtppass")
    return literal is None or literal.kind == "string"


def _is_on(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true")


def read_joomla(
    facts: FileFacts, text: str, catalogue: ProviderCatalogue, *, run_php: bool
) -> CredentialReading:
    config = joomla.parse_joomla_config(text)
    php, reader = _php_reading(facts, run_php, config)
    problems = list(config.problems)
    notes: tuple[str, ...] = ()
    loadable = None if php is None or php.refused else php.error is None
    if php is not None and php.error is not None and not php.refused:
        problems.insert(0, Problem(f"PHP cannot load the configuration: {php.error}",
                                   unloadable=True))  # fmt: skip
    code = _code_in(php, text)
    if code is not None:
        problems.insert(0, Problem(
            f"the file holds executable code: {code}; Joomla would run it on every page",
            critical=True,
        ))  # fmt: skip
    if loadable is None and any(problem.unloadable for problem in problems):
        loadable = False
    if php is not None and php.error is None:
        # PHP, as Joomla, accepted the file: the static reader is stricter than PHP (it refuses
        # constant expressions, split declarations...), so its objections are only notes.
        notes = tuple(problem.message for problem in problems)
        problems = []
        values: dict[str, object] = dict(php.values)
        password: Secret | None = php.smtppass
    else:
        values = {k: lit.value for k, lit in config.properties.items() if k != "smtppass"}
        password = config.smtppass
    port_text = values.get("smtpport")
    port = JOOMLA_DEFAULT_PORT if port_text is None else _int_or_none(port_text)
    if port_text is not None and port is None:
        problems.append(Problem("smtpport is not a number (Joomla would cast it to 0)"))
    host = str(values["smtphost"]).strip() if values.get("smtphost") not in (None, "") else None
    secure = str(values.get("smtpsecure", "none")).strip().lower()
    deployed = DeployedSmtp(
        source=facts.path,
        shape=_joomla_shape(config, facts, values),
        provider=catalogue.for_host(host) if host else None,
        host=host,
        port=port,
        tls=_SECURE.get(secure, TlsMode.NONE),
        username=_str_or_none(values.get("smtpuser")),
        password=password,
        from_address=_str_or_none(values.get("mailfrom")),
    )
    settings = {
        "mailer": _str_or_none(values.get("mailer")),
        "smtpauth": _is_on(values.get("smtpauth")),
        "smtphost": host,
        "smtpport": _str_or_none(port_text),
        "smtp_port (ignored by Joomla)": _str_or_none(values.get("smtp_port")),
        "smtpsecure": secure,
        "smtpuser": deployed.username,
        "mailfrom": deployed.from_address,
    }
    return CredentialReading(
        facts.path, deployed.shape, reader, tuple(problems), deployed,
        {k: v for k, v in settings.items() if v is not None}, notes=notes,
        loadable=loadable, code=code, aligned=config.aligned,
    )  # fmt: skip


_NOT_EXECUTED = "not executed: the file holds "


def _code_in(php: joomla.PhpResult | None, text: str) -> str | None:
    """The code PHP's token check refused, or (without PHP's reading) what the static finder
    sees; PHP's acceptance is the authority where it ran."""
    if php is not None and php.error is not None and php.error.startswith(_NOT_EXECUTED):
        return php.error.removeprefix(_NOT_EXECUTED)
    if php is not None and not php.refused:
        return None
    return joomla.find_code(text)


def _int_or_none(value: object) -> int | None:
    return digits(str(value).strip())


def _str_or_none(value: object) -> str | None:
    return None if value is None else str(value)


def read_credentials(
    facts: FileFacts,
    app: App,
    catalogue: ProviderCatalogue,
    *,
    run_php: bool = True,
    max_note: str = "64 KiB",
) -> CredentialReading:
    """The reading of an existing credential file (CRED-03/04/05 and the relay layer use it)."""
    text, unreadable = decode_content(facts, max_note)
    if text is None:
        return CredentialReading(facts.path, "unknown", "none", (), None, {}, unreadable)
    if app is App.JOOMLA:
        return read_joomla(facts, text, catalogue, run_php=run_php)
    return read_labelled(facts, text, catalogue)
