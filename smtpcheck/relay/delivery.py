"""Delivery of the test message (SMTP-05, opt-in): find it in the mailbox, verify what arrived.

:func:`fetch_delivery` logs in to the recipient mailbox over IMAP with TLS (RFC 9051, RFC 8314;
certificate and host name verified), polls the configured folders (INBOX, Junk) for the test
token until the timeout, verifies the DKIM signature of the arrived message with dkimpy against
the run's resolver (RFC 6376 §6), reads the receiver's Authentication-Results (RFC 8601), and
deletes the message unless asked to keep it. Problems are data in the returned
:class:`Delivery`; only bad settings raise (ConfigError, at load time).

Mailbox settings (a ``[mailbox]`` table; the password comes from the environment):
``host``, ``port`` (993), ``tls`` ("implicit" or "starttls"), ``user``, ``password_env`` (name of
the environment variable holding the password), ``folders`` (["INBOX", "Junk"]), ``timeout``
(seconds, 120), ``poll_interval`` (seconds, 2), ``keep_message`` (false), ``ca_file``,
``connect_address`` (as for relays), ``authserv_id`` (the receiver's Authentication-Results id to
trust; default: the topmost header).
"""

from __future__ import annotations

import imaplib
import os
import re
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from email.parser import BytesHeaderParser
from email.policy import compat32
from typing import Any

import dkim

from smtpcheck.errors import ConfigError
from smtpcheck.mailauth.client import DnsClient
from smtpcheck.mailauth.client import Outcome as MailauthOutcome
from smtpcheck.providers import TlsMode
from smtpcheck.relay.authresults import AuthResultsHeader, trusted_results
from smtpcheck.relay.message import TOKEN_HEADER, is_token
from smtpcheck.relay.network import tls_context
from smtpcheck.secrets import REDACTOR, Secret

DnsFunc = Callable[..., bytes | None]  # dkimpy's dnsfunc(name: bytes, timeout=5)


@dataclass(frozen=True)
class MailboxSettings:
    """Where the test message should arrive, and how to look for it."""

    host: str
    user: str
    password: Secret = field(repr=False)
    port: int = 993
    tls: TlsMode = TlsMode.IMPLICIT
    folders: tuple[str, ...] = ("INBOX", "Junk")
    timeout: float = 120.0
    poll_interval: float = 2.0
    keep_message: bool = False
    ca_file: str | None = None
    connect_address: str | None = None
    authserv_id: str | None = None

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}"


def _number(table: Mapping[str, Any], name: str, default: float) -> float:
    value = table.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"mailbox.{name} must be a positive number")
    return float(value)


def _text(table: Mapping[str, Any], name: str) -> str | None:
    value = table.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise ConfigError(f"mailbox.{name} must be a string")
    return value


def _required(table: Mapping[str, Any], name: str) -> str:
    value = _text(table, name)
    if value is None:
        raise ConfigError(f"mailbox.{name} is required")
    return value


def mailbox_settings(
    table: Mapping[str, Any], environ: Mapping[str, str] = os.environ
) -> MailboxSettings:
    """Settings from a ``[mailbox]`` table; the password is read from ``password_env``."""
    host, user, variable = (_required(table, k) for k in ("host", "user", "password_env"))
    if variable not in environ:
        raise ConfigError(f"mailbox.password_env: the environment variable {variable} is not set")
    password = Secret(environ[variable])
    REDACTOR.register(password, [user])
    try:
        tls = TlsMode(table.get("tls", "implicit"))
    except ValueError:
        raise ConfigError("mailbox.tls must be implicit or starttls") from None
    if tls is TlsMode.NONE:
        raise ConfigError("mailbox.tls: smtpcheck does not log in to a mailbox without TLS")
    folders = table.get("folders", ["INBOX", "Junk"])
    if not isinstance(folders, list) or not folders or not all(isinstance(f, str) for f in folders):
        raise ConfigError("mailbox.folders must be a non-empty list of folder names")
    port = int(_number(table, "port", 993 if tls is TlsMode.IMPLICIT else 143))
    ca_file = _text(table, "ca_file")
    if ca_file is not None:
        tls_context(ca_file)  # a bad file is a ConfigError now, not when the mailbox is polled
    return MailboxSettings(
        host=host,
        user=user,
        password=password,
        port=port,
        tls=tls,
        folders=tuple(folders),
        timeout=_number(table, "timeout", 120.0),
        poll_interval=_number(table, "poll_interval", 2.0),
        keep_message=bool(table.get("keep_message", False)),
        ca_file=ca_file,
        connect_address=_text(table, "connect_address"),
        authserv_id=_text(table, "authserv_id"),
    )


@dataclass(frozen=True)
class DkimCheck:
    """dkimpy's verdict on the DKIM signatures of what arrived."""

    verified: bool
    domain: str | None  # d= of the signature that verified (or of the last one tried)
    selector: str | None
    detail: str
    signatures: int


@dataclass(frozen=True)
class ArrivedMessage:
    folder: str
    uid: str
    latency_s: float | None  # from the relay's 250 to the poll that found it (an upper bound)
    internal_date: str | None
    size: int
    from_header: str | None
    dkim: DkimCheck
    auth_results: AuthResultsHeader | None
    removed: str  # "deleted", "kept", "marked deleted (no UIDPLUS: not expunged)", "failed: …"


@dataclass(frozen=True)
class Delivery:
    """What the mailbox showed for one token."""

    mailbox: str
    token: str
    folders: tuple[str, ...]
    timeout_s: float
    waited_s: float
    polls: int
    arrived: ArrivedMessage | None
    error: str | None = None  # the mailbox could not be checked
    notes: tuple[str, ...] = ()  # e.g. a configured folder that does not exist


def dkim_dnsfunc(client: DnsClient) -> DnsFunc:
    """A dkimpy ``dnsfunc`` asking the run's DNS client: the key is read where DKIM-01/02 read
    it (CNAME chains, as SES uses, are followed by the client)."""

    def txt(name: bytes, timeout: float = 5) -> bytes | None:
        answer = client.query(name.decode(), "TXT")
        if answer.outcome is MailauthOutcome.TIMEOUT:
            raise dkim.DnsTimeoutError(answer.describe())
        if answer.outcome is not MailauthOutcome.ANSWER or not answer.strings:
            return None
        return b"".join(answer.strings[0])

    return txt


def verify_dkim(raw: bytes, dnsfunc: DnsFunc | None = None) -> DkimCheck:
    """Verify each DKIM-Signature (topmost first) until one verifies."""
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    count = len(headers.get_all("DKIM-Signature") or [])
    if count == 0:
        return DkimCheck(False, None, None, "the message carries no DKIM-Signature", 0)
    domain = selector = None
    detail = ""
    for index in range(count):
        try:  # what arrived comes from outside: dkimpy raises more than DKIMException for it
            signature = dkim.DKIM(raw, minkey=1024)
            lookup = {"dnsfunc": dnsfunc} if dnsfunc else {}
            ok = bool(signature.verify(idx=index, **lookup))
        # binascii.Error (a ValueError) for a bh= with inner padding; IndexError for i= equal to d=
        except (dkim.DKIMException, ValueError, IndexError) as exc:
            detail = f"signature {index + 1}: {exc}"
            continue
        domain = _ascii(signature.domain)
        selector = _ascii(signature.selector)
        if ok:
            return DkimCheck(True, domain, selector, "the signature verifies", count)
        detail = f"signature {index + 1} (d={domain}, s={selector}) does not verify"
    return DkimCheck(False, domain, selector, detail, count)


def _ascii(value: object) -> str | None:
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return None if value is None else str(value)


class _Imap(imaplib.IMAP4):
    """IMAP4 that can connect to ``connect_address`` while naming ``host`` (for STARTTLS)."""

    def __init__(self, host: str, port: int, timeout: float, connect_address: str | None):
        self._connect_address = connect_address
        super().__init__(host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return socket.create_connection((self._connect_address or self.host, self.port), timeout)


class _ImapTls(imaplib.IMAP4_SSL):
    """IMAP over implicit TLS, certificate verified for ``host`` wherever it connects."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        connect_address: str | None,
        context: ssl.SSLContext,
    ):
        self._connect_address = connect_address
        super().__init__(host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = socket.create_connection((self._connect_address or self.host, self.port), timeout)
        tls: ssl.SSLSocket = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        return tls


def _login(settings: MailboxSettings) -> imaplib.IMAP4:
    context = tls_context(settings.ca_file)
    timeout = min(settings.timeout, 30.0)
    imap: imaplib.IMAP4
    if settings.tls is TlsMode.IMPLICIT:
        imap = _ImapTls(settings.host, settings.port, timeout, settings.connect_address, context)
    else:
        imap = _Imap(settings.host, settings.port, timeout, settings.connect_address)
        imap.starttls(context)
    imap.login(settings.user, settings.password.reveal())
    return imap


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


_INTERNALDATE = re.compile(rb'INTERNALDATE "([^"]+)"')


class _NoFolder(Exception):
    """The folder cannot be selected (it does not exist, or access is refused)."""


def _find(imap: imaplib.IMAP4, folder: str, token: str) -> str | None:
    """The UID of the message carrying ``token`` in ``folder``, or None; _NoFolder."""
    status, _ = imap.select(_quote(folder))
    if status != "OK":
        raise _NoFolder(folder)
    status, data = imap.uid("SEARCH", "HEADER", TOKEN_HEADER, token)
    uids = data[0].split() if status == "OK" and data and isinstance(data[0], bytes) else []
    return uids[-1].decode() if uids else None


def _fetch(imap: imaplib.IMAP4, uid: str) -> tuple[bytes, str | None]:
    status, data = imap.uid("FETCH", uid, "(INTERNALDATE BODY.PEEK[])")
    for item in data if status == "OK" else []:
        if isinstance(item, tuple) and len(item) == 2:
            date = _INTERNALDATE.search(item[0])
            return bytes(item[1]), date.group(1).decode() if date else None
    raise imaplib.IMAP4.error(f"FETCH of UID {uid} returned no message")


def _remove(imap: imaplib.IMAP4, uid: str) -> str:
    """Delete the test message only: UID EXPUNGE (RFC 4315) never touches other messages."""
    imap.uid("STORE", uid, "+FLAGS.SILENT", r"(\Deleted)")
    status, data = imap.capability()  # after login: the list before it may be shorter
    words = data[0].upper().split() if status == "OK" and isinstance(data[0], bytes) else []
    if b"UIDPLUS" not in words:
        return "marked deleted (no UIDPLUS: not expunged)"
    status, _ = imap.uid("EXPUNGE", uid)
    return "deleted" if status == "OK" else "marked deleted (UID EXPUNGE refused)"


@dataclass
class _Search:
    found: tuple[str, str] | None = None  # folder, UID
    polls: int = 0
    missing: set[str] = field(default_factory=set)  # folders that could not be selected


def _poll(imap: imaplib.IMAP4, settings: MailboxSettings, token: str, started: float) -> _Search:
    """Poll the folders until the token shows up or the timeout passes."""
    search = _Search()
    while True:
        search.polls += 1
        for folder in settings.folders:
            try:
                uid = _find(imap, folder, token)
            except _NoFolder:
                search.missing.add(folder)
                continue
            if uid is not None:
                search.found = (folder, uid)
                return search
        if time.monotonic() - started + settings.poll_interval > settings.timeout:
            return search
        time.sleep(settings.poll_interval)
        imap.noop()


def _arrived(
    imap: imaplib.IMAP4,
    settings: MailboxSettings,
    folder: str,
    uid: str,
    sent_at: float | None,
    dnsfunc: DnsFunc | None,
) -> ArrivedMessage:
    found_at = time.time()
    raw, internal_date = _fetch(imap, uid)
    headers = BytesHeaderParser(policy=compat32).parsebytes(raw)
    results = [str(v) for v in headers.get_all("Authentication-Results") or []]
    if settings.keep_message:
        removed = "kept"
    else:
        try:
            removed = _remove(imap, uid)
        except (OSError, imaplib.IMAP4.error) as exc:
            removed = f"failed: {exc}"
    return ArrivedMessage(
        folder=folder,
        uid=uid,
        latency_s=round(found_at - sent_at, 3) if sent_at else None,
        internal_date=internal_date,
        size=len(raw),
        from_header=str(headers["From"]) if headers["From"] else None,
        dkim=verify_dkim(raw, dnsfunc),
        auth_results=trusted_results(results, settings.authserv_id),
        removed=removed,
    )


def fetch_delivery(
    settings: MailboxSettings,
    token: str,
    *,
    sent_at: float | None = None,
    dkim_dns: DnsClient | None = None,
) -> Delivery:
    """Look for the test message carrying ``token`` (SMTP-05); never raises for the mailbox.

    ``sent_at`` is the session's ``sent_at`` (for the latency); ``dkim_dns`` the run's resolver
    (default: the system's) for the DKIM key lookup.
    """
    if not is_token(token):
        raise ValueError("not an smtpcheck token")  # a bug: tokens come from new_token()
    started = time.monotonic()
    dnsfunc = dkim_dnsfunc(dkim_dns) if dkim_dns is not None else None
    base = Delivery(str(settings), token, settings.folders, settings.timeout, 0.0, 0, None)
    imap: imaplib.IMAP4 | None = None
    try:
        imap = _login(settings)
        search = _poll(imap, settings, token, started)
        found = search.found
        arrived = _arrived(imap, settings, *found, sent_at, dnsfunc) if found else None
    except (OSError, imaplib.IMAP4.error) as exc:  # ssl.SSLError and timeouts are OSErrors
        return _replace(base, started, error=REDACTOR.scrub(f"{type(exc).__name__}: {exc}"))
    finally:
        if imap is not None:
            _logout(imap)
    notes = tuple(f"folder {f!r} cannot be selected" for f in sorted(search.missing))
    return _replace(base, started, polls=search.polls, arrived=arrived, notes=notes)


def _replace(base: Delivery, started: float, **changes: Any) -> Delivery:
    return replace(base, waited_s=round(time.monotonic() - started, 3), **changes)


def _logout(imap: imaplib.IMAP4) -> None:
    try:
        imap.logout()
    except (OSError, imaplib.IMAP4.error):
        imap.shutdown()
