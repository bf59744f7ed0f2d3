"""When a workbook says it was last saved: ``dcterms:modified`` of its ``docProps/core.xml``.

Excel, WPS, LibreOffice and openpyxl write it on every save (in UTC); it is the file's own
evidence of which of two versions is the newer, whatever order they arrive in. Read before the
guard has seen the file, so everything is bounded: one zip member of at most
:data:`MAX_CORE_BYTES`, and the one element's text found by a pattern, not an XML parser (no
DTD or entity is ever expanded; a third of the time of defusedxml). Anything odd gives None.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

__all__ = ["MAX_CORE_BYTES", "saved_time"]

MAX_CORE_BYTES = 64 * 1024
"""A core.xml is a few hundred bytes; one larger is not read."""
_MODIFIED = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?modified\b[^>]*>\s*([0-9T:.+\-Z ]{4,40})\s*<")
"""``dcterms:modified`` under any prefix (``cp:lastModifiedBy`` does not match)."""


def saved_time(data: bytes) -> dt.datetime | None:
    """The workbook's last-saved time as naive UTC; None when the file has none (not an OOXML
    zip, no core.xml, no or an unreadable date)."""
    if not data.startswith(b"PK"):
        return None
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            info = zf.getinfo("docProps/core.xml")
            if info.file_size > MAX_CORE_BYTES:
                return None
            with zf.open(info) as part:
                raw = part.read(MAX_CORE_BYTES + 1)
    except Exception:  # noqa: BLE001 - a broken or hostile zip has no saved time; the guard says the rest
        return None
    found = _MODIFIED.search(raw) if len(raw) <= MAX_CORE_BYTES else None
    return _utc(found.group(1).decode("ascii").strip()) if found else None


def _utc(text: str) -> dt.datetime | None:
    """W3CDTF (``2024-03-01T08:30:00Z``, fractions and offsets allowed) as naive UTC."""
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when
