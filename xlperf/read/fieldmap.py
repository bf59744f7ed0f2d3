"""The hidden ``_xlperf`` sheet of a book read: its meta rows and field map."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from functools import cache

from xlperf.read.book import Book
from xlperf.read.returns import META_SHEET, CellRef, FieldRef, Value


def find_meta_sheet(sheets: list[str]) -> str | None:
    if META_SHEET in sheets:
        return META_SHEET
    return next((s for s in sheets if s.strip().lower() == META_SHEET), None)


def as_text(value: Value) -> str:
    if value.__class__ is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


META_CACHE_SIZE = 64
MAX_CACHED_META_CELLS = 20_000
"""A meta sheet has ~5 cells per field; one far larger is not cached (its key would be huge)."""
_META_CACHE: OrderedDict[tuple[object, ...], tuple[dict[str, str], dict[str, FieldRef]]] = OrderedDict()


def cached_field_map(book: Book, sheet: str) -> tuple[dict[str, str], dict[str, FieldRef]]:
    """:func:`parse_meta` of the meta sheet, cached by the sheet's cells.

    Every return of a template carries the same meta sheet, and parsing its few hundred rows
    costs a few per cent of checking the file. The key is every cell of the sheet: addresses in
    order, values and their types (True and 1.0 are equal in Python but not here), so a hit
    means identical cells and so an identical map; the caller gets fresh dicts."""
    cells = book.sheet_cells.get(sheet)
    if cells is None:  # a book assembled elsewhere (tests): take the sheet's cells from the book
        cells = {ref: v for ref, v in book.cells.items() if ref[0] == sheet}
    if len(cells) > MAX_CACHED_META_CELLS:
        return parse_meta(cells, sheet)
    key = (sheet, tuple(cells), tuple(cells.values()), tuple(map(type, cells.values())))
    hit = _META_CACHE.get(key)
    if hit is None:
        hit = parse_meta(cells, sheet)
        _META_CACHE[key] = hit
        if len(_META_CACHE) > META_CACHE_SIZE:
            _META_CACHE.popitem(last=False)
    else:
        _META_CACHE.move_to_end(key)
    return dict(hit[0]), dict(hit[1])


def parse_meta(cells: Mapping[CellRef, Value], sheet: str) -> tuple[dict[str, str], dict[str, FieldRef]]:
    """The meta rows (name in A, value in B) and the field map below its header row."""
    meta: dict[str, str] = {}
    field_map: dict[str, FieldRef] = {}
    get = cells.get
    row, blank, header = 0, 0, False
    while blank < 20 and row < 100_000:
        row += 1
        a_ref, b_ref, c_ref, d_ref, e_ref = _row_refs(row)
        a = as_text(get((sheet, a_ref)))
        if not a:
            blank += 1
            continue
        blank = 0
        b = as_text(get((sheet, b_ref)))
        if header:
            sheet_name = as_text(get((sheet, c_ref)))
            cell = as_text(get((sheet, d_ref)))
            if sheet_name and cell:
                kind = as_text(get((sheet, e_ref)))
                field_map[a] = FieldRef(b, sheet_name, cell.replace("$", "").upper(), kind)
        elif a == "key" and b == "label":
            header = True
        else:
            meta[a] = b
    return meta, field_map


@cache
def _row_refs(row: int) -> tuple[str, str, str, str, str]:
    n = str(row)
    return "A" + n, "B" + n, "C" + n, "D" + n, "E" + n

