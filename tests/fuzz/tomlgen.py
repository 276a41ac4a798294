"""A small TOML writer and the strategies of TOML values, for fuzzing what reads config files.

``dumps`` writes tables as ``[a.b]`` sections, arrays of tables as ``[[a]]`` and everything
deeper inline; ``loads(dumps(doc)) == doc`` is checked by the tests that use it, so a document
that reaches the parser is the one that was generated.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

_BARE = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}  # fmt: skip


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(name: str) -> str:
    return name if _BARE.fullmatch(name) else _string(name)


def _inline(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(_inline(item) for item in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_key(k)} = {_inline(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"not a TOML value: {value!r}")


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _table(lines: list[str], path: list[str], table: Mapping[str, Any]) -> None:
    for name, value in table.items():
        if not isinstance(value, Mapping) and not _is_table_array(value):
            lines.append(f"{_key(name)} = {_inline(value)}")
    for name, value in table.items():
        header = ".".join(_key(part) for part in [*path, name])
        if isinstance(value, Mapping):
            lines.append(f"[{header}]")
            _table(lines, [*path, name], value)
        elif _is_table_array(value):
            for item in value:
                lines.append(f"[[{header}]]")
                _table(lines, [*path, name], item)


def dumps(document: Mapping[str, Any]) -> str:
    lines: list[str] = []
    _table(lines, [], document)
    return "\n".join(lines) + "\n"


def same(a: Any, b: Any) -> bool:
    """Equality in which nan equals nan (TOML has nan; Python's == says nan != nan)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=16)
SCALARS = st.one_of(
    TEXT,
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 1, 22, 465, 587, 65535, 65536, 2**31, 2**63 - 1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.datetimes(timezones=st.none() | st.just(datetime.UTC)).map(
        lambda moment: moment.replace(microsecond=0)
    ),
)


def values(keys: st.SearchStrategy[str] = TEXT) -> st.SearchStrategy[Any]:
    """Any TOML value: scalars, arrays and tables of them, a few levels deep."""
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)
        ),
        max_leaves=8,
    )


def deep(kind: str, depth: int) -> str:
    """A document nested ``depth`` levels: arrays, inline tables or dotted headers."""
    if kind == "array":
        return "a = " + "[" * depth + "]" * depth + "\n"
    if kind == "table":
        return "a = " + "{b = " * depth + "1" + "}" * depth + "\n"
    return "[" + ".".join(["t"] * depth) + "]\n"
