"""Secrets: a wrapper that never prints itself, fingerprints, and a redactor for text.

SPEC §5: the SMTP password and any sudo or SSH password never appear in any output. A secret is
held as :class:`Secret` from the moment it is read; only the code that must use it (comparison,
SMTP AUTH, sudo) calls :meth:`Secret.reveal`. Everything that leaves the process passes through a
:class:`Redactor` as a second line of defence.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
import secrets as _random
import threading
import urllib.parse
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, NamedTuple

REDACTED = "<redacted>"


class Environment(Mapping[str, str]):
    """The process environment as smtpcheck passes it around: it holds SYSTEM_EMAIL_PASSWORD
    and the sudo password, so its repr (what pytest's --showlocals and tracebacks print) shows
    only how many variables it has. Read-only."""

    __slots__ = ("_values",)

    def __init__(self, values: Mapping[str, str]) -> None:
        self._values = dict(values)

    def __getitem__(self, key: str) -> str:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"<environment: {len(self._values)} variables, values not shown>"


def environment(values: Mapping[str, str] | None = None) -> Environment:
    """``values`` (default: the process environment) behind a repr that shows no value."""
    if isinstance(values, Environment):
        return values
    return Environment(os.environ if values is None else values)


class Secret:
    """A secret string. ``str()``, ``repr()`` and f-strings show ``<redacted>``."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret itself: only for comparison, authentication and sudo."""
        return self._value

    def matches(self, other: Secret) -> bool:
        """Constant-time comparison that says nothing about either value."""
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({REDACTED})"

    def __str__(self) -> str:
        return REDACTED

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and self.matches(other)

    def __hash__(self) -> int:
        return hash(hashlib.sha256(self._value.encode()).digest())

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret is never pickled or serialised")


_RUN_SALT = _random.token_bytes(16)
_key: list[bytes] = [_RUN_SALT]  # the key fingerprints are made with now (one per process)


def use_fingerprint_key(key: Secret | None) -> None:
    """Key fingerprints with the operator's local key (hex, from the history directory), so
    that runs with the same key can be compared; None: this process's random salt, so that
    equal secrets give equal fingerprints within one run only."""
    _key[0] = bytes.fromhex(key.reveal()) if key is not None else _RUN_SALT


def fingerprint(secret: Secret, salt: bytes | None = None) -> str:
    """A short keyed fingerprint (HMAC-SHA256, 12 hex digits): without the key, nothing can
    be learnt from it, not even by trying guesses."""
    key = _key[0] if salt is None else salt
    digest = hmac.new(key, secret.reveal().encode(), hashlib.sha256).hexdigest()
    return f"hmac-sha256:{digest[:12]}"


def encoded_forms(value: str, users: Iterable[str] = ()) -> set[str]:
    """The forms in which ``value`` can travel: itself, base64 (AUTH LOGIN) and, for each user
    name, the base64 of AUTH PLAIN's ``\\0user\\0password`` and ``user\\0user\\0password``."""
    raw = value.encode(errors="surrogatepass")  # a lone surrogate is still a secret's part
    forms = {value, base64.b64encode(raw).decode()}
    for user in users:
        for authzid in ("", user):
            plain = f"{authzid}\0{user}\0{value}".encode(errors="surrogatepass")
            forms.add(base64.b64encode(plain).decode())
    return {form for form in forms if form}


def quoted_forms(value: str) -> set[str]:
    """The forms in which code or a server may write ``value`` back: its ``repr()`` (in either
    quoting style: inside a longer string's repr, ``'`` may be escaped where ``repr(value)``
    left it), the repr of its UTF-8 bytes, and URL-encoded (a space as ``%20`` or ``+``)."""
    raw = value.encode(errors="surrogatepass")
    forms = {
        repr(value)[1:-1],
        repr(value + '"')[1:-2],  # single quotes whatever the value holds: ' escaped
        repr(raw)[2:-1],
        repr(raw + b'"')[2:-2],
        urllib.parse.quote(value, safe="", errors="surrogatepass"),
        urllib.parse.quote_plus(value, safe="", errors="surrogatepass"),
    }
    return {form for form in forms if form}


ECHO_WINDOW = 6  # the shortest piece of a secret that counts as quoting it


class EchoGuard:
    """Recognises text that quotes a sent secret: any ``ECHO_WINDOW``-character piece of it in
    a form it travelled in (itself, base64, AUTH PLAIN's blobs) or that a server may write it
    back in (:func:`quoted_forms`). A relay that answers AUTH by echoing the blob cut short, or
    the password re-encoded, is caught here, where the redactor's whole-form match is not.
    Its repr shows nothing of the pieces it holds."""

    __slots__ = ("_pieces",)

    def __init__(self, secret: Secret, users: Iterable[str] = ()) -> None:
        value = secret.reveal()
        forms = encoded_forms(value, users) | quoted_forms(value)
        pieces: set[str] = set()
        for form in forms:
            n = min(ECHO_WINDOW, len(form))
            pieces.update(form[i : i + n] for i in range(len(form) - n + 1))
        self._pieces = frozenset(piece for piece in pieces if piece)

    def echoes(self, text: str) -> bool:
        return any(piece in text for piece in self._pieces)

    def __repr__(self) -> str:
        return "EchoGuard(<redacted>)"


SHORT_SECRET = 8


def _form_pattern(form: str) -> str:
    """A long form is replaced wherever it appears. A short one (a weak password like ``p``)
    only where it stands alone, so that it does not eat every ``p`` of every message."""
    if len(form) >= SHORT_SECRET:
        return re.escape(form)
    return rf"(?<![0-9A-Za-z]){re.escape(form)}(?![0-9A-Za-z])"


class _Compiled(NamedTuple):
    pattern: re.Pattern[str] | None
    # the forms longer than ECHO_WINDOW by their first ECHO_WINDOW characters: text that ends in
    # a proper prefix of one (cut short) is found by its start, in memory linear in the forms
    # (a set of every prefix grew with the square of a secret's length: a hostile host's
    # 60 KB "password" would have needed gigabytes)
    by_head: Mapping[str, tuple[str, ...]]
    longest: int
    # the first ECHO_WINDOW characters of every form: text holding none of them holds no form
    # and no cut-short form, so the big pattern (one alternative per form: its cost grows with
    # the fleet) runs only on text that may need it. None: a form is shorter than that.
    heads: frozenset[str] | None


def _compile(forms: set[str]) -> _Compiled:
    ordered = sorted(forms, key=len, reverse=True)
    if not ordered:
        return _Compiled(None, {}, 0, frozenset())
    pattern = re.compile("|".join(_form_pattern(form) for form in ordered))
    by_head: dict[str, list[str]] = {}
    for form in ordered:
        if len(form) > ECHO_WINDOW:
            by_head.setdefault(form[:ECHO_WINDOW], []).append(form)
    short = any(len(form) < ECHO_WINDOW for form in forms)
    heads = None if short else frozenset(form[:ECHO_WINDOW] for form in forms)
    tails = {head: tuple(group) for head, group in by_head.items()}
    return _Compiled(pattern, tails, len(ordered[0]), heads)


def _cut_short_at(text: str, by_head: Mapping[str, tuple[str, ...]], longest: int) -> int:
    """Where ``text`` ends in the longest proper prefix (at least ECHO_WINDOW characters) of a
    form, or -1."""
    for start in range(max(0, len(text) - longest + 1), len(text) - ECHO_WINDOW + 1):
        forms = by_head.get(text[start : start + ECHO_WINDOW])
        if forms is not None:
            tail = text[start:]
            if any(len(form) > len(tail) and form.startswith(tail) for form in forms):
                return start
    return -1


def _may_hold(text: str, heads: frozenset[str] | None) -> bool:
    if heads is None:
        return True
    return any(text[i : i + ECHO_WINDOW] in heads for i in range(len(text) - ECHO_WINDOW + 1))


class Redactor:
    """Replaces every registered secret, in every encoded and quoted form, by ``<redacted>``;
    and a string that ends in the first ``ECHO_WINDOW`` or more characters of one of those forms
    (text cut short before it reached the redactor: a capped read, a truncated echo) loses
    that end too.

    Thread-safe: hosts are audited concurrently and each may register its deployed password.
    """

    def __init__(self) -> None:
        self._forms: set[str] = set()
        # the compiled forms (_Compiled), built from _forms on first use
        # after a change: a fleet registering a password per host compiles once, not per host
        self._compiled: _Compiled | None = _compile(set())
        self._lock = threading.Lock()

    def register(self, secret: Secret | None, users: Iterable[str] = ()) -> None:
        if secret is None or not secret:
            return
        value = secret.reveal()
        forms = encoded_forms(value, users) | quoted_forms(value)
        with self._lock:
            if not forms <= self._forms:
                self._forms |= forms
                self._compiled = None

    def _current(self) -> _Compiled:
        compiled = self._compiled
        if compiled is not None:
            return compiled
        with self._lock:
            if self._compiled is None:
                self._compiled = _compile(self._forms)
            return self._compiled

    def snapshot(self) -> frozenset[str]:
        """What is registered now (one process may run several audits, e.g. a test suite)."""
        with self._lock:
            return frozenset(self._forms)

    def restore(self, forms: frozenset[str]) -> None:
        """Forget every secret registered since :meth:`snapshot` returned ``forms``."""
        with self._lock:
            self._forms = set(forms)
            self._compiled = None

    def scrub(self, text: str) -> str:
        pattern, by_head, longest, heads = self._current()
        if pattern is None or not _may_hold(text, heads):
            return text
        text = pattern.sub(REDACTED, text)
        start = _cut_short_at(text, by_head, longest)
        return text if start < 0 else text[:start] + REDACTED

    def scrub_data(self, value: Any) -> Any:
        """``value`` with every string *value* in it scrubbed, walking dicts, lists and tuples;
        dict keys are structure (evidence names), never rewritten.

        For structured data, scrub before serialising: JSON writes ``"`` as ``\\"`` and
        ``ö`` as ``\\u00f6``, HTML and XML ``&`` as ``&amp;``, and a secret written that way
        no longer matches its registered form."""
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {k: self.scrub_data(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.scrub_data(item) for item in value)
        return value

    def excerpt(self, value: str | bytes, limit: int = 80) -> str:
        """Host-supplied text as a message may quote it: scrubbed *first*, then shortened and
        quoted, so that no truncation, escaping or bytes repr can cut a secret out of the
        redactor's sight (a relay echoing AUTH PLAIN, a line holding the password)."""
        text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        text = self.scrub(text)
        return repr(text if len(text) <= limit else text[:limit] + "…")

    def scrub_bytes(self, data: bytes) -> bytes:
        return self.scrub(data.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape"
        )


REDACTOR = Redactor()
"""The process-wide redactor: every secret smtpcheck reads is registered here."""
