"""Read an .xlsx return's workbook: its parts directly, every sheet by the fast reader or, where
that declines, the element tree."""

from __future__ import annotations

import posixpath

from xlperf.read.book import MAX_ELEMENTS, Book, Corrupt, TooLarge
from xlperf.read.cells import SheetSink
from xlperf.read.container import is_protected, rels, rels_name, workbook_part
from xlperf.read.fastsheet import Fallback, sheet_fast, strings_fast
from xlperf.read.guard import FileKind
from xlperf.read.treesheet import sheet_tree, strings_tree


def read_xlsx(kind: FileKind, fast: bool = True) -> Book:
    parts = kind.parts
    root_rels = rels(parts, "_rels/.rels", "")
    wb_part = next((t for typ, t in root_rels.values() if typ.endswith("/officeDocument")), None)
    if wb_part is None or wb_part not in parts:
        wb_part = "xl/workbook.xml" if "xl/workbook.xml" in parts else None
    if wb_part is None:
        raise Corrupt("找不到工作簿部件 xl/workbook.xml")
    wb_rels = rels(parts, rels_name(wb_part), posixpath.dirname(wb_part))
    wb = workbook_part(parts[wb_part])
    sheets: list[tuple[str, str, str | None]] = []  # name, state, part
    for name, state, rid in wb.sheets:
        rel = wb_rels.get(rid or "")
        target = rel[1] if rel and rel[0].endswith("/worksheet") else None
        sheets.append((name, state, target))
    date1904 = wb.date1904
    names = dict(wb.names)
    sheet_names = [s[0] for s in sheets]

    strings: list[str] = []
    ss_part = next((t for typ, t in wb_rels.values() if typ.endswith("/sharedStrings")), None)
    if ss_part is None and "xl/sharedStrings.xml" in parts:
        ss_part = "xl/sharedStrings.xml"
    if ss_part is not None and ss_part in parts:
        data = parts[ss_part]
        try:
            if not fast:
                raise Fallback
            strings = strings_fast(data)
        except Fallback:
            strings = strings_tree(data)

    book = Book(
        sheets=sheet_names,
        hidden=[n for n, state, _ in sheets if state != "visible"],
        cells={}, formulas={}, no_cache=set(), errors={},
        names=names, date1904=date1904,
    )
    # Every element takes at least one byte ("<"), so sheets of MAX_ELEMENTS bytes in all need no count.
    if sum(len(parts.get(part or "", b"")) for _, _, part in sheets) <= MAX_ELEMENTS:
        elements = 0
    else:
        elements = sum(parts.get(part or "", b"").count(b"<") for _, _, part in sheets)
    if elements > MAX_ELEMENTS:
        raise TooLarge(f"工作表共有 {elements} 个 XML 元素")
    for name, _, part in sheets:
        if part is None:
            continue  # a chart sheet, or a sheet whose relationship is missing
        data = parts.get(part, b"")
        if not data:
            book.notes.append(f"工作表“{name}”的内容部件缺失（{part}），按空表处理")
            continue
        sink = SheetSink(name, strings, book)
        try:
            if not fast:
                raise Fallback
            sheet_fast(data, sink)
        except Fallback:
            sink.reset()
            sheet_tree(data, sink)
        sink.finish()
        book.protected[name] = is_protected(data)
    return book

