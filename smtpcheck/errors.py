"""One exception hierarchy for smtpcheck.

Problems found in the checked system are findings, not exceptions (STYLE §4). These exceptions
are for input the operator must fix (exit status 2) and for observations that could not be made
(turned into ``error`` findings at the fetch layer). Each class's docstring says what it means.
"""

from __future__ import annotations


class SmtpcheckError(Exception):
    """Base class of every error smtpcheck raises on purpose."""


class ConfigError(SmtpcheckError):
    """A setting, option or configuration file is invalid; the message says which and why."""


class InventoryError(ConfigError):
    """The host inventory or a host URL is invalid."""


class ParseError(SmtpcheckError):
    """Text from a checked system could not be parsed (becomes a finding, never a crash)."""


class ProbeError(SmtpcheckError):
    """An observation of a remote system failed (connect, authenticate, run, resolve)."""


class HostUnreachable(ProbeError):
    """The host did not accept a connection (refused, no route, DNS failure, timeout)."""


class HostKeyUnknown(ProbeError):
    """The host's SSH key is not in known_hosts and accepting new keys was not asked for."""


class HostKeyMismatch(ProbeError):
    """The host's SSH key differs from the one in known_hosts: possible interception."""


class LoginRefused(ProbeError):
    """The SSH server refused every offered credential."""


class RemoteCommandFailed(ProbeError):
    """The fact-gathering command ran but did not produce a usable answer (e.g. sudo refused)."""
