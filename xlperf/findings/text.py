"""Text that every writer can encode: lone surrogates replaced by U+FFFD.

Two kinds of input put lone surrogates into Python strings: a cell whose OOXML escape
``_xDFFF_`` names half of a surrogate pair (only a crafted file has one), and a file name that is
not UTF-8 (GBK names from a zip unpacked on Linux decode with ``surrogateescape``). UTF-8 cannot
encode them, so the JSON, HTML, xlsx and terminal writers would fail on them; :func:`scrub` is
applied where such text enters a result or a report.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["REPLACEMENT", "has_surrogates", "scrub", "shown_name"]

REPLACEMENT = "\ufffd"
_SURROGATES = re.compile("[\ud800-\udfff]")


def has_surrogates(text: str) -> bool:
    """Whether ``text`` holds a lone surrogate: exactly what strict UTF-8 refuses, found by the
    encoder in C (several times faster than searching for the range; a return's every text is
    asked at once)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def scrub(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD (unchanged when it has none)."""
    return _SURROGATES.sub(REPLACEMENT, text) if not text.isascii() else text


def shown_name(path: Path) -> str:
    """A file's name as shown to a person: bytes that are not UTF-8 appear as U+FFFD."""
    return scrub(path.name)
