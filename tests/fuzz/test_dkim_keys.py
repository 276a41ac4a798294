"""DKIM key records (RFC 6376 §3.6.1, RFC 8301, RFC 8463): ``parse_dkim_key`` never raises,
whatever ``p=`` holds (random base64, a truncated or foreign key, an Ed25519 key); the key size is
read from the key itself, and each defect is named by its issue code.
"""

from __future__ import annotations

import base64
import functools
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import example, given
from hypothesis import strategies as st

from smtpcheck.mailauth.dkim import ADVISED_RSA_BITS, MIN_RSA_BITS, DkimKey, parse_dkim_key

_SPKI = (Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


@functools.cache
def _rsa_der(bits: int, seed: int) -> bytes:
    """An RSA public key of exactly ``bits`` bits (the modulus need not factor: only its size
    and encoding matter to the parser)."""
    modulus = (1 << (bits - 1)) | (seed * 2654435761 % (1 << (bits - 2))) << 1 | 1
    return rsa.RSAPublicNumbers(65537, modulus).public_key().public_bytes(*_SPKI)


@functools.cache
def _foreign_der(kind: str) -> bytes:
    """A DER key that is not RSA: what k=rsa must refuse as the wrong kind."""
    if kind == "ec":
        return ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(*_SPKI)
    if kind == "x25519":
        return x25519.X25519PrivateKey.generate().public_key().public_bytes(*_SPKI)
    return ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(*_SPKI)


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class Key:
    """A ``p=`` value and what it holds."""

    text: str
    raw: bytes | None  # None: not base64
    rsa_bits: int | None = None  # an RSA SubjectPublicKeyInfo of this size
    foreign: bool = False  # a DER key of another kind (EC, X25519, Ed25519 SPKI)

    def expect(self, key_type: str) -> tuple[set[str], int | None]:
        """The fatal issue codes and the key size the parser must find for ``k=key_type``."""
        if key_type not in ("rsa", "ed25519"):
            return {"key-type"}, None
        if self.raw is None:
            return {"key-data"}, None
        if key_type == "ed25519":
            return (set(), 256) if len(self.raw) == 32 else ({"key-data"}, None)
        if self.foreign:
            return {"key-type"}, None
        if self.rsa_bits is None:
            return {"key-data"}, None
        return ({"weak-key"} if self.rsa_bits < MIN_RSA_BITS else set()), self.rsa_bits


def _key(raw: bytes, **facts: Any) -> Key:
    return Key(base64.b64encode(raw).decode(), raw, **facts)


_RSA = st.builds(
    lambda bits, seed: _key(_rsa_der(bits, seed), rsa_bits=bits),
    st.sampled_from([512, 768, 1023, 1024, 1536, 2047, 2048, 3072, 4096]),
    st.integers(0, 3),
)
_ED25519 = st.binary(min_size=32, max_size=32).map(_key)
_TRUNCATED = st.builds(
    lambda bits, cut: _key(_rsa_der(bits, 0)[:cut]),
    st.sampled_from([1024, 2048]),
    st.integers(1, 120),
)
_FOREIGN = st.sampled_from(["ec", "x25519", "ed25519"]).map(
    lambda kind: _key(_foreign_der(kind), foreign=True)
)
_RANDOM = st.binary(min_size=1, max_size=300).map(_key)
_NOT_BASE64 = st.sampled_from(["!!!!", "AAA", "A===", "é", "MIIB*", "AAAA=AAA", "-_-_"]).map(
    lambda text: Key(text, None)
)
KEYS: st.SearchStrategy[Key] = st.one_of(_RSA, _ED25519, _TRUNCATED, _FOREIGN, _RANDOM, _NOT_BASE64)


@st.composite
def _folded(draw: st.DrawFn, text: str) -> str:
    """``text`` with blanks inside, as a record split into TXT strings and joined may have."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=3)))
    parts, last = [], 0
    for cut in cuts:
        parts += [text[last:cut], draw(st.sampled_from([" ", "\t", "  "]))]
        last = cut
    return "".join([*parts, text[last:]])


_HASHES = st.lists(st.sampled_from(["sha1", "sha256", "SHA256", "md5"]), max_size=3)
_SERVICES = st.lists(st.sampled_from(["email", "*", "other", "EMAIL"]), max_size=3)
_FLAGS = st.lists(st.sampled_from(["y", "s", "Y", "x"]), max_size=3)


@st.composite
def records(draw: st.DrawFn) -> tuple[str, set[str], int | None, bool]:
    """A key record from RFC 6376 tags; returns it with its fatal issue codes, the key size the
    parser must read and whether it is a testing key."""
    key = draw(KEYS)
    k = draw(st.sampled_from(["rsa", "ed25519", "", None, "dsa"]))
    tags: list[tuple[str, str]] = [("k", k)] if k is not None else []
    expected, bits = key.expect(k or "rsa")
    p_value = draw(_folded(key.text))
    presence = draw(st.sampled_from(["key", "key", "key", "empty", "absent"]))
    if presence == "key":
        tags.append(("p", p_value))
    elif presence == "empty":
        tags.append(("p", ""))
        expected, bits = {"revoked"}, None
    else:
        expected, bits = {"no-key"}, None
    hashes, services, flags = draw(_HASHES), draw(_SERVICES), draw(_FLAGS)
    if hashes:
        tags.append(("h", ":".join(hashes)))
        if "sha256" not in [h.lower() for h in hashes]:
            expected.add("sha1-only")
    if services:
        tags.append(("s", ":".join(services)))
        if not {"email", "*"} & {s.lower() for s in services}:
            expected.add("service")
    if flags:
        tags.append(("t", ":".join(flags)))
    tags = draw(st.permutations(tags))
    version = draw(st.sampled_from(["first", "none", "late", "wrong"]))
    if version == "first":
        tags.insert(0, ("v", "DKIM1"))
    elif version == "late" and tags:
        tags.append(("v", "DKIM1"))
        expected.add("version")
    elif version == "wrong":
        tags.insert(0, ("v", "DKIM2"))
        expected.add("version")
    sep = draw(st.sampled_from([";", "; ", " ;\t"]))
    text = sep.join(f"{name}={value}" for name, value in tags) + draw(st.sampled_from(["", ";"]))
    testing = "y" in [f.lower() for f in flags]
    return text, expected, bits, testing


def _check(key: DkimKey, text: str) -> None:
    assert key.text == text
    assert key.usable == (not any(issue.fatal for issue in key.issues))
    assert key.describe()
    assert key.key_bits is None or key.key_bits > 0
    if key.revoked:
        assert not key.usable and key.key_bits is None


@given(case=records())
@example(case=(f"v=DKIM1; k=rsa; p={_b64(_rsa_der(1024, 0))[:40]}", {"key-data"}, None, False))
def test_key_records_raise_exactly_their_issues(
    case: tuple[str, set[str], int | None, bool],
) -> None:
    text, expected, bits, testing = case

    key = parse_dkim_key(text)

    _check(key, text)
    fatal = {issue.code for issue in key.issues if issue.fatal}
    assert fatal == expected, [issue.describe() for issue in key.issues]
    assert key.key_bits == bits
    assert key.testing == testing
    codes = {issue.code for issue in key.issues}
    assert ("short-key" in codes) == (bits is not None and MIN_RSA_BITS <= bits < ADVISED_RSA_BITS)


_TEXT = st.one_of(
    st.text(),
    st.lists(
        st.one_of(st.sampled_from(["v=DKIM1", "k=", "rsa", "ed25519", "p=", "h=", "s=", "t=y",
                                   ";", "=", ":", " ", "MIIB", "=="]), st.text(max_size=6)),
        max_size=20,
    ).map("".join),
    KEYS.map(lambda key: f"v=DKIM1; p={key.text}"),
)  # fmt: skip


@given(text=_TEXT)
def test_arbitrary_text_is_a_key_with_issues(text: str) -> None:
    _check(parse_dkim_key(text), text)
