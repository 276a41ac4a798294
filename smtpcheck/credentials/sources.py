"""The credential-source registry: every place a toolkit server keeps its SMTP credentials.

One row per source says where to probe (in order; a symlink is followed), which applications it
applies to, which controls judge it, whether PHP may read it, and how to fix it. The host's one
remote command gathers every source of its application (``probe_plan``); the readers are in
:mod:`smtpcheck.credentials.host`. Paths are the toolkit's (reference/adt-toolkit.md, "Where gen
C/D servers keep the SMTP credentials"); ``~/`` is the server user's home, ``/home/X…X``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from smtpcheck.targets import App

HOME = "~/"
ALL_APPS = frozenset(App)
CRED_FILE_CONTROLS = ("CRED-01", "CRED-02", "CRED-03", "CRED-04", "CRED-05")
JOOMLA_WEBROOTS = ("/var/www/html/joomla", "/var/www/html")  # gen C/D first, then gens A/B/C
JOOMLA_GEN_D_DIR = "/var/www/outside_webroot/"  # gen D keeps configuration.php here


class Role(enum.StrEnum):
    APP = "application credential file"
    SETTINGS = "toolkit settings"
    APPLICATION_DAT = "application settings"
    SYSTEM_MAIL = "system mail script"
    SSMTP = "ssmtp configuration"


@dataclass(frozen=True)
class Source:
    key: str
    role: Role
    title: str
    paths: tuple[str, ...]  # probed in order; "~/" under every toolkit home
    apps: frozenset[App]
    controls: tuple[str, ...]
    run_php: bool = False
    remediation: str = ""

    def applies_to(self, app: App) -> bool:
        return app in self.apps


_LABELLED_FIX = (
    "Run the toolkit's ActivateSMTP.sh for the application, or write the five labelled lines "
    "to {path} (chmod 400)."
)
_SETTINGS_FIX = (
    "chmod 0660 (or 0600) the file and keep its group root: the toolkit's nightly job leaves "
    "the ~/.ssh copy root:root 0660 and the ~/runtime copy <server user>:root 0660."
)

SOURCES: tuple[Source, ...] = (
    *(
        Source(
            f"{app.value}-smtp",
            Role.APP,
            f"{app.value.capitalize()} credential file",
            (f"/var/www/{app.value}smtp",),
            frozenset({app}),
            CRED_FILE_CONTROLS,
            remediation=_LABELLED_FIX.format(path=f"/var/www/{app.value}smtp"),
        )
        for app in (App.WORDPRESS, App.MOODLE, App.DRUPAL)
    ),
    Source(
        "joomla-configuration",
        Role.APP,
        "Joomla configuration.php",
        tuple(f"{root}/configuration.php" for root in JOOMLA_WEBROOTS),
        frozenset({App.JOOMLA}),
        CRED_FILE_CONTROLS,
        run_php=True,
        remediation="Write Joomla's SMTP settings in the webroot's configuration.php.",
    ),
    Source(
        "settings",
        Role.SETTINGS,
        "webserver_configuration_settings.dat",
        (
            f"{HOME}.ssh/webserver_configuration_settings.dat",
            f"{HOME}runtime/webserver_configuration_settings.dat",
        ),
        ALL_APPS,
        ("CRED-06", "CRED-07"),
        remediation=_SETTINGS_FIX,
    ),
    Source(
        "application-dat",
        Role.APPLICATION_DAT,
        "application.dat",
        (f"{HOME}runtime/application.dat", f"{HOME}.ssh/application.dat"),
        frozenset({App.JOOMLA}),
        ("CRED-06", "CRED-07"),
        remediation=_SETTINGS_FIX,
    ),
    Source(
        "sendemail",
        Role.SYSTEM_MAIL,
        "SendEmail.sh",
        (f"{HOME}providerscripts/email/SendEmail.sh", f"{HOME}services/email/SendEmail.sh"),
        ALL_APPS,
        ("SYS-01", "SYS-02"),
        remediation="In SendEmail.sh, drop '-o tls=no' (use '-o tls=yes') and send on a port "
        "the provider serves with TLS (587, or 465 with ssmtp's UseTLS=YES); take the password "
        "from a protected file instead of '-xp' on the command line (ssmtp's AuthPass in "
        "root:mail 0640 ssmtp.conf).",
    ),
    Source(
        "ssmtp",
        Role.SSMTP,
        "ssmtp.conf",
        ("/etc/ssmtp/ssmtp.conf",),
        ALL_APPS,
        ("SYS-01", "SYS-02", "CRED-07"),
        remediation="Keep /etc/ssmtp/ssmtp.conf root:mail 0640 with UseSTARTTLS=YES (port 587) "
        "or UseTLS=YES (port 465) and a mailhub the provider serves with TLS.",
    ),
)

_BY_KEY = {source.key: source for source in SOURCES}


def source(key: str) -> Source:
    return _BY_KEY[key]


def sources_for(app: App) -> tuple[Source, ...]:
    return tuple(s for s in SOURCES if s.applies_to(app))


def app_source(app: App) -> Source:
    """The application's own credential file (CRED-01…05)."""
    return next(s for s in sources_for(app) if s.role is Role.APP)


def expand(path: str, homes: Sequence[str]) -> tuple[str, ...]:
    """The concrete paths a registry path stands for on a host with these homes."""
    if not path.startswith(HOME):
        return (path,)
    return tuple(f"{home}/{path.removeprefix(HOME)}" for home in homes)
