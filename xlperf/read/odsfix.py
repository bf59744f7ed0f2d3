"""Make an indented .ods readable by python-calamine.

Gnumeric writes ``content.xml`` indented: line breaks and spaces between ``<table:table-row>``
and its ``<table:table-cell>`` elements. python-calamine 0.9 expects a cell there and refuses the
whole file ("Expecting 'table-cell', found 'Text(...)'"), so every Gnumeric .ods return would be
rejected as corrupt. The spaces between elements outside the text elements mean nothing (text is inside
``<text:p>``, whose spaces are left alone), so they are taken out and the package is rebuilt in memory.
"""

from __future__ import annotations

import io
import re
import zipfile

__all__ = ["tidy_ods"]

# Whitespace-only text between a tag and the next one, unless the tag is a text element's
# (<text:p>, <text:span>, ...), where a space between two spans is a printed space.
_BETWEEN_TAGS = re.compile(rb"(<(?!/?text:)[^<>]*>)\s+(?=<)")


def tidy_ods(data: bytes) -> bytes:
    """``data`` (an .ods package the guard has passed: its sizes are bounded) with the whitespace
    between the non-text elements of its ``content.xml`` taken out; unchanged when there is none."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as src:
            if "content.xml" not in src.namelist():
                return data
            content = src.read("content.xml")
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return data  # calamine reports what is wrong with it
    tidy = _BETWEEN_TAGS.sub(rb"\1", content)
    if tidy == content:
        return data
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = tidy if info.filename == "content.xml" else src.read(info)
            # mimetype must stay first and stored, as ODF requires
            method = zipfile.ZIP_STORED if info.filename == "mimetype" else zipfile.ZIP_DEFLATED
            dst.writestr(info.filename, body, compress_type=method)
    return out.getvalue()
