"""The xlsx package around the sheets: relationships, the workbook part (sheets, date system,
defined names) and the sheet protection flag.

The package parts below are the same bytes in every return of a template: their parsed form is
cached by content (identical bytes parse identically; parse errors are not cached).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import NamedTuple

from xlperf.form.metasheet import NAME_PREFIX
from xlperf.read.guard import parse_xml

_REL_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


def rels_name(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")



PART_CACHE_SIZE = 64


class WorkbookPart(NamedTuple):
    sheets: tuple[tuple[str, str, str | None], ...]
    """(name, state, relationship id) of every sheet, in order."""
    date1904: bool
    names: tuple[tuple[str, tuple[str, str]], ...]
    """Defined names ``xp_*`` that point at one cell of a sheet of the workbook, as resolved."""


@lru_cache(maxsize=PART_CACHE_SIZE)
def workbook_part(data: bytes) -> WorkbookPart:
    wb = parse_xml(data)
    ns = ns_of(wb.tag)
    sheets = []
    for el in wb.iter(ns + "sheet"):
        rid = next((el.get(f"{{{n}}}id") for n in _REL_NS if el.get(f"{{{n}}}id")), None)
        sheets.append((el.get("name") or "", el.get("state") or "visible", rid))
    pr = wb.find(ns + "workbookPr")
    date1904 = pr is not None and (pr.get("date1904") or "").lower() in ("1", "true")

    names: dict[str, tuple[str, str]] = {}
    sheet_names = {s[0] for s in sheets}
    for el in wb.iter(ns + "definedName"):
        name = el.get("name") or ""
        if not name.lower().startswith(NAME_PREFIX):
            continue
        local = el.get("localSheetId")
        dest = _parse_ref(el.text or "")
        if dest is None or dest[0] not in sheet_names:
            continue  # #REF! and the like: the key will be read by the field map, with a note
        if local is None or name not in names:  # a workbook-wide name wins over a sheet's own
            names[name] = dest
    return WorkbookPart(tuple(sheets), date1904, tuple(names.items()))


def rels(parts: Mapping[str, bytes], name: str, base: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, target part name) of one .rels part ({} if absent)."""
    data = parts.get(name)
    if not data:
        return {}
    return dict(_rels_part(data, base))


@lru_cache(maxsize=PART_CACHE_SIZE)
def _rels_part(data: bytes, base: str) -> tuple[tuple[str, tuple[str, str]], ...]:
    out = {}
    for el in parse_xml(data).iter(_PKG_REL_NS + "Relationship"):
        if el.get("TargetMode") == "External":
            continue
        target = el.get("Target") or ""
        target = target[1:] if target.startswith("/") else posixpath.join(base, target)
        out[el.get("Id") or ""] = (el.get("Type") or "", posixpath.normpath(target))
    return tuple(out.items())


def ns_of(tag: str) -> str:
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


# Linear time: the text is stripped first and an unquoted sheet name cannot start with a space,
# so no run of spaces can be split between the patterns in more than one way (a name of 3,000
# spaces took 52 s when "\s*", "\s*" and the sheet name could all take them).
_REF = re.compile(r"^=?\s*(?:'((?:[^']|'')+)'|([^'!\s][^'!]*))!\$?([A-Za-z]{1,3})\$?([0-9]+)"
                  r"(?::\$?([A-Za-z]{1,3})\$?([0-9]+))?$")


@lru_cache(maxsize=4096)  # returns of one template repeat the same names
def _parse_ref(text: str) -> tuple[str, str] | None:
    """``'评分表'!$D$4`` → ("评分表", "D4"); None for #REF!, ranges, constants and formulas."""
    m = _REF.match(text.strip())
    if m is None:
        return None
    sheet = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
    cell = m.group(3).upper() + m.group(4)
    if m.group(5) is not None and (m.group(5).upper() + m.group(6)) != cell:
        return None
    return sheet, cell


# [^<>]: an attempt ends at the next tag, so a run of unclosed tags costs linear time.
_PROTECTION = re.compile(rb"<(?:\w+:)?sheetProtection\b[^<>]*?\ssheet=\"(?:1|true)\"")


def is_protected(data: bytes) -> bool:
    # A match holds "sheetProtection" right after its "<" (and a tag prefix, which has no "<"):
    # none starts before the last "<" ahead of the word's first occurrence, so the search may
    # start there instead of scanning the whole sheet data with the pattern.
    at = data.find(b"sheetProtection")
    if at < 0:
        return False
    return _PROTECTION.search(data, max(data.rfind(b"<", 0, at), 0)) is not None

