"""CRED-05's judgement: is the way the application would reach its relay secure and consistent?

RFC 8314 §3: implicit TLS (465) is preferred; STARTTLS must be in force before AUTH. The provider
profile says which ports a provider serves in which TLS mode and how sure we are of it
(reference confidence tags): a fact tagged U makes a warning, never a failure.
"""

from __future__ import annotations

from smtpcheck.credentials.reading import JOOMLA_DEFAULT_PORT, CredentialReading
from smtpcheck.findings import EvidenceValue, Status
from smtpcheck.providers import Confidence, PortProfile, Provider, ProviderCatalogue, TlsMode
from smtpcheck.targets import App

Judgement = tuple[Status, str, str, dict[str, EvidenceValue]]

TLS_WORDS = {TlsMode.IMPLICIT: "implicit TLS", TlsMode.STARTTLS: "STARTTLS", TlsMode.NONE: "none"}


def _served_ports(provider: Provider) -> str:
    return ", ".join(
        f"{port} ({TLS_WORDS[profile.tls]})" for port, profile in sorted(provider.ports.items())
    )


def _port_judgement(provider: Provider, port: int, profile: PortProfile | None) -> Judgement | None:
    if profile is None:
        return (
            Status.FAIL,
            f"{provider.name} does not serve SMTP on port {port}",
            f"Use a port {provider.name} serves: {_served_ports(provider)}; 465 (implicit TLS) "
            "is what the toolkit writes.",
            {"provider": provider.name, "provider_ports": _served_ports(provider)},
        )
    return None


def _unconfirmed(provider: Provider, profile: PortProfile, what: str) -> Judgement:
    return (
        Status.WARN,
        f"{what}; that {provider.name} serves {TLS_WORDS[profile.tls]} on port {profile.port} "
        "is unconfirmed (reference tag U)",
        f"Prefer a port the provider documents: {_served_ports(provider)}.",
        {"provider": provider.name, "port_confidence": profile.confidence.value},
    )


def _judge_labelled(reading: CredentialReading, catalogue: ProviderCatalogue) -> Judgement:
    dep = reading.deployed
    assert dep is not None
    code = reading.settings.get("email_provider")
    if dep.provider is None:
        return (
            Status.FAIL,
            f"EMAIL PROVIDER {code!r} is not a known provider code",
            f"Set EMAIL PROVIDER to one of {catalogue.describe_choices()}.",
            {},
        )
    if dep.port is None:
        return Status.FAIL, "PORT is not a number", "Set PORT: 465 (implicit TLS).", {}
    profile = dep.provider.ports.get(dep.port)
    if (bad := _port_judgement(dep.provider, dep.port, profile)) is not None:
        return bad
    assert profile is not None
    what = f"{dep.provider.name} on port {dep.port} ({TLS_WORDS[profile.tls]})"
    if profile.confidence is Confidence.UNCONFIRMED:
        return _unconfirmed(dep.provider, profile, what)
    if profile.tls is TlsMode.STARTTLS:
        return (
            Status.WARN,
            f"{what}: the file cannot say whether the mail plugin enforces STARTTLS",
            "Use PORT: 465 (implicit TLS), or make sure the application's SMTP plugin is set "
            "to TLS/STARTTLS so the password never crosses in clear.",
            {"provider": dep.provider.name},
        )
    return Status.PASS, what, "", {"provider": dep.provider.name}


def _joomla_settings_problem(reading: CredentialReading) -> Judgement | None:
    dep, settings = reading.deployed, reading.settings
    assert dep is not None
    mailer = settings.get("mailer")
    if mailer != "smtp":
        said = "no mailer" if mailer is None else f"mailer {mailer!r}"
        cause = (
            " (a baseline build: the toolkit's sed needs exactly one space before '=', and "
            "this file aligns its mail block, so no SMTP setting was applied)"
            if reading.aligned
            else ""
        )
        return (
            Status.FAIL,
            f"SMTP was never configured on this site ({said}){cause}: Joomla's mail does not "
            "go through the relay",
            "Set public $mailer = 'smtp'; and the smtp* settings in configuration.php (on a "
            "baseline build, write them with one space before '=' so the toolkit's sed applies, "
            "or set them in Joomla's Global Configuration).",
            {"baseline_build": True} if reading.aligned else {},
        )
    if not settings.get("smtpauth"):
        return (
            Status.FAIL,
            "smtpauth is off: Joomla would not authenticate to the relay",
            "Set public $smtpauth = 1;.",
            {},
        )
    if dep.tls is TlsMode.NONE:
        return (
            Status.FAIL,
            f"smtpsecure is {settings.get('smtpsecure')!r}: the password would cross in clear",
            "Set public $smtpsecure = 'ssl'; with port 465 (or 'tls' with 587).",
            {},
        )
    ignored = settings.get("smtp_port (ignored by Joomla)")
    if ignored is not None and str(ignored) != str(settings.get("smtpport")):
        return (
            Status.FAIL,
            f"smtp_port = {ignored} is not a Joomla setting: Joomla reads smtpport and uses port "
            f"{dep.port}" + (" (its default)" if "smtpport" not in settings else ""),
            "Rename $smtp_port to $smtpport in configuration.php (toolkit generation C main "
            "writes the wrong property name).",
            {"effective_port": dep.port},
        )
    if not dep.host:
        return Status.FAIL, "smtphost is empty", "Set $smtphost to the provider's relay.", {}
    return None


def _judge_joomla(reading: CredentialReading, catalogue: ProviderCatalogue) -> Judgement:
    if reading.code is not None:
        return (
            Status.ERROR,
            "not judged: configuration.php holds executable code (see CRED-03)",
            "Remove the code; its values cannot be trusted until then.",
            {},
        )
    if reading.loadable is False:
        reason = next(p.message for p in reading.problems if p.unloadable)
        return (
            Status.FAIL,
            f"Joomla cannot load configuration.php, so it sends no mail with it: {reason}",
            "Quote every value as a PHP string literal (public $smtphost = 'smtp-pulse.com';) "
            "and check with php -l configuration.php.",
            {"loadable": False},
        )
    if (problem := _joomla_settings_problem(reading)) is not None:
        return problem
    dep = reading.deployed
    assert dep is not None and dep.host is not None and dep.tls is not None
    if dep.provider is None:
        known = ", ".join(p.endpoint for p in catalogue)
        return (
            Status.FAIL,
            f"smtphost {dep.host!r} is not a known provider relay",
            f"Use the provider's endpoint ({known}), or describe this relay in the config's "
            "[providers] table.",
            {},
        )
    port = dep.port if dep.port is not None else JOOMLA_DEFAULT_PORT
    profile = dep.provider.ports.get(port)
    if (bad := _port_judgement(dep.provider, port, profile)) is not None:
        return bad
    assert profile is not None
    if profile.tls is not dep.tls:
        secure = reading.settings.get("smtpsecure")
        unconfirmed = profile.confidence is Confidence.UNCONFIRMED  # the mismatch rests on U
        return (
            Status.WARN if unconfirmed else Status.FAIL,
            f"smtpsecure {secure!r} means {TLS_WORDS[dep.tls]}, but port {port} at "
            f"{dep.provider.name} is {TLS_WORDS[profile.tls]}"
            + (" (unconfirmed: reference tag U)" if unconfirmed else ""),
            "Pair 'ssl' with an implicit-TLS port (465) and 'tls' with a STARTTLS port (587).",
            {"provider": dep.provider.name},
        )
    what = f"{dep.provider.name} at {dep.host}:{port} with {TLS_WORDS[dep.tls]}"
    if profile.confidence is Confidence.UNCONFIRMED:
        return _unconfirmed(dep.provider, profile, what)
    return Status.PASS, what, "", {"provider": dep.provider.name}


def judge_transport(
    reading: CredentialReading, app: App, catalogue: ProviderCatalogue
) -> Judgement:
    """Status, summary, remediation and extra evidence for CRED-05."""
    if app is App.JOOMLA:
        return _judge_joomla(reading, catalogue)
    return _judge_labelled(reading, catalogue)
