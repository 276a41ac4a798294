"""Hostile text made inert, declared once for every output.

Host files, DNS records, SMTP replies and banners reach the terminal and every report. C0 and
C1 controls (ESC sequences, CR overwriting a line), the bidirectional overrides and isolates
(which make a line read other than it is), lone surrogates and non-characters are shown as
``\\xNN`` / ``\\uNNNN``, never sent. Documents (HTML, XML) keep tab, LF and CR.
"""

from __future__ import annotations

import re

_OTHER = "\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff"
UNSAFE_TEXT = re.compile(f"[\x00-\x1f{_OTHER}]")  # one line of a terminal or Markdown
UNSAFE_IN_DOCUMENT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f{_OTHER}]")  # HTML, XML


def escaped(char: str) -> str:
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_safe(text: str) -> str:
    return UNSAFE_TEXT.sub(lambda m: escaped(m.group()), text)


def document_safe(text: str) -> str:
    """``text`` for an HTML or XML document: unsafe characters escaped, lines kept."""
    if UNSAFE_IN_DOCUMENT.search(text) is None:  # the common case, tens of thousands of times
        return text
    return UNSAFE_IN_DOCUMENT.sub(lambda m: escaped(m.group()), text)
