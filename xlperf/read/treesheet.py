"""The element-tree xlsx reader: shared strings and worksheets the fast reader does not handle."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from xlperf.read.book import col_index, col_letters
from xlperf.read.cells import SheetSink, xstring
from xlperf.read.container import ns_of
from xlperf.read.guard import parse_xml


def strings_tree(data: bytes) -> list[str]:
    root = parse_xml(data)
    ns = ns_of(root.tag)
    out = []
    for si in root.iter(ns + "si"):
        out.append(xstring(_rich_text(si, ns)))
    return out


def _rich_text(el: ET.Element, ns: str) -> str:
    """Text of an <si> or <is>: its <t>, or the <t> of each run; phonetic runs left out."""
    parts = []
    for child in el:
        if child.tag == ns + "t":
            parts.append(child.text or "")
        elif child.tag == ns + "r":
            t = child.find(ns + "t")
            if t is not None:
                parts.append(t.text or "")
    return "".join(parts)


def sheet_tree(data: bytes, sink: SheetSink) -> None:
    root = parse_xml(data)
    ns = ns_of(root.tag)
    sheet_data = root.find(ns + "sheetData")
    if sheet_data is None:
        return
    row_no = 0
    for row in sheet_data.iter(ns + "row"):
        r = row.get("r")
        row_no = int(r) if r and r.isdigit() else row_no + 1
        col = 0
        for c in row.iter(ns + "c"):
            ref = c.get("r")
            if ref:
                ref = ref.upper()
                letters = ref.rstrip("0123456789")
                col = col_index(letters)
            else:
                col += 1
                ref = col_letters(col) + str(row_no)
            t = c.get("t") or "n"
            v_el = c.find(ns + "v")
            v = None if v_el is None else (v_el.text or "")
            f_el = c.find(ns + "f")
            f = None
            if f_el is not None:
                f = (f_el.get("t") or "normal", f_el.get("si"), f_el.text or "")
            inline = None
            if t == "inlineStr":
                is_el = c.find(ns + "is")
                inline = xstring(_rich_text(is_el, ns)) if is_el is not None else None
            if t == "str" and v is not None:
                v = xstring(v)
            if v is None and inline is None and f is None:
                continue
            sink.cell(ref, t, v, inline, f)
