"""Shapes shared by the record parsers: an issue found in a record, and the tag=value list.

DKIM key records (RFC 6376 §3.2) and DMARC records (RFC 7489 §6.4) share the tag-list syntax;
they differ in whether tag names are case-sensitive (DKIM: yes, §3.2; DMARC: ABNF literals are
case-insensitive, RFC 5234 §2.3).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

_TAG_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Issue:
    """One problem in a record. ``code`` is stable; ``fatal`` means the record does not work
    (SPF permerror, unusable DKIM key, invalid DMARC value): a ``fail``; otherwise a ``warn``."""

    code: str
    message: str
    reference: str
    fatal: bool = True

    def describe(self) -> str:
        return f"{self.message} ({self.reference})"


@dataclass(frozen=True)
class TagList:
    """A parsed ``tag=value; tag=value`` list; problems are kept as data."""

    tags: Mapping[str, str]
    order: tuple[str, ...]  # tag names in the order written, duplicates included
    duplicates: tuple[str, ...]
    malformed: tuple[str, ...]  # segments that are not tag=value


def parse_tag_list(text: str, *, fold_case: bool) -> TagList:
    """Split ``text`` on ``;`` into tags; whitespace around names and values is dropped."""
    tags: dict[str, str] = {}
    order: list[str] = []
    duplicates: list[str] = []
    malformed: list[str] = []
    for segment in text.split(";"):
        if not segment.strip():
            continue
        name, sep, value = segment.partition("=")
        name = name.strip()
        if not sep or not _TAG_NAME.match(name):
            malformed.append(segment.strip())
            continue
        if fold_case:
            name = name.lower()
        order.append(name)
        if name in tags:
            duplicates.append(name)
            continue
        tags[name] = value.strip()
    return TagList(MappingProxyType(tags), tuple(order), tuple(duplicates), tuple(malformed))
