"""Strategies shared by the fuzz properties: planted secrets and the forms they can travel in.

A planted secret is arbitrary Unicode (quotes, backslashes, control characters, non-ASCII
included) of at least 8 characters. The forms a secret can reach an output in are the ones the
issue names: the value itself, its ``repr()``, the ``repr()`` of its UTF-8 bytes, base64 (of the
password as AUTH LOGIN sends it, of ``\\0user\\0password`` and ``user\\0user\\0password`` as AUTH
PLAIN does), URL-encoded, and any of these cut short to a prefix of at least 6 characters at the
end of a string.
"""

from __future__ import annotations

import base64
import urllib.parse
from dataclasses import dataclass

from hypothesis import assume
from hypothesis import strategies as st

from smtpcheck.secrets import REDACTED

MIN_PREFIX = 6  # the shortest cut-short piece of a secret that counts as showing it

USER = "0123abcd0123abcd0123abcd0123abcd"  # a Mailjet-style API key as the SMTP user name

# Every code point UTF-8 can carry (no lone surrogates), and the characters that change a
# secret's repr, its URL encoding, its JSON, XML or HTML escaping, or a report's structure.
_ANY_CHAR = st.characters(codec="utf-8", exclude_categories=["Cs"])
_AWKWARD = st.sampled_from(list("'\"\\%+/=&<>;: \t\n\r\x00\x1b\x7f\x85\u2028é€𝄞"))
SECRETS = st.text(st.one_of(_ANY_CHAR, _AWKWARD), min_size=8, max_size=24)


def repr_forms(value: str) -> set[str]:
    """``repr(value)`` without its quotes, in both of Python's quoting styles: a repr of a
    longer string that also holds the other quote escapes ``'`` where ``repr(value)`` did not."""
    raw = value.encode()
    return {
        repr(value)[1:-1],
        repr(value + '"')[1:-2],  # single quotes whatever the value holds: ' escaped
        repr(raw)[2:-1],
        repr(raw + b'"')[2:-2],
    }


def url_forms(value: str) -> set[str]:
    return {urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value)}


def b64_forms(value: str, user: str = USER) -> set[str]:
    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    return {b64(value), b64(f"\0{user}\0{value}"), b64(f"{user}\0{user}\0{value}")}


def full_forms(value: str, user: str = USER) -> set[str]:
    """Every whole form of ``value`` (see the module docstring)."""
    return {value} | repr_forms(value) | url_forms(value) | b64_forms(value, user)


def pieces(forms: set[str], size: int = MIN_PREFIX) -> set[str]:
    """Every ``size``-character window of every form."""
    return {form[i : i + size] for form in forms for i in range(len(form) - size + 1)}


@dataclass(frozen=True)
class Plant:
    """A secret, and one of its forms as it was planted in a string."""

    secret: str
    form: str  # whole, or a prefix of at least MIN_PREFIX characters
    kind: str  # "plain", "repr", "url", "base64", or "prefix of …"

    @property
    def truncated(self) -> bool:
        return self.kind.startswith("prefix")

    def leak_forms(self) -> set[str]:
        """What an output must not hold: every whole form, and the planted prefix."""
        return full_forms(self.secret) | {self.form}


def _kinds(secret: str) -> dict[str, set[str]]:
    return {
        "plain": {secret},
        "repr": repr_forms(secret),
        "url": url_forms(secret),
        "base64": b64_forms(secret),
    }


@st.composite
def plants(draw: st.DrawFn, secret: st.SearchStrategy[str] = SECRETS) -> Plant:
    value = draw(secret)
    # A secret sharing six characters with "<redacted>" would be "found" in every redaction.
    assume(not any(piece in REDACTED for piece in pieces(full_forms(value))))
    kinds = _kinds(value)
    kind = draw(st.sampled_from(sorted(kinds)))
    form = draw(st.sampled_from(sorted(kinds[kind])))
    if len(form) > MIN_PREFIX and draw(st.booleans()):
        cut = draw(st.integers(MIN_PREFIX, len(form) - 1))
        return Plant(value, form[:cut], f"prefix of {kind}")
    return Plant(value, form, kind)


# Text around a planted form: arbitrary, and words every report and message is made of.
FILLER = st.one_of(
    st.text(_ANY_CHAR, max_size=30),
    st.lists(
        st.sampled_from(["pass", "fail", "error", " ", ": ", "'", '"', "\\", "\n", "=", "password",
                         "AUTH PLAIN ", "535 5.7.8 ", "<", "&", "%", "+"]),
        max_size=8,
    ).map("".join),
)  # fmt: skip


def free_of(text: str, plant: Plant) -> bool:
    """``text`` holds no six-character window of any form of the planted secret: whatever of
    it shows later in an output came from the plant."""
    return not any(piece in text for piece in pieces(plant.leak_forms()))


def leaks(output: str, plant: Plant) -> list[str]:
    return sorted(form for form in plant.leak_forms() if form in output)
