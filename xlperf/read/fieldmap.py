"""The field map of a book read: :func:`xlperf.form.metasheet.parse_meta` of its ``_xlperf``
sheet, cached by the sheet's cells."""

from __future__ import annotations

from xlperf.form.metasheet import FieldRef, parse_meta
from xlperf.read.book import Book

META_CACHE_SIZE = 64
MAX_CACHED_META_CELLS = 20_000
"""A meta sheet has ~5 cells per field; one far larger is not cached (its key would be huge)."""
_META_CACHE: dict[tuple[object, ...], tuple[dict[str, str], dict[str, FieldRef]]] = {}
"""First in, first out: a hit is not moved to the end, which would hash its key (every cell of the
sheet) a second time; a bureau's few forms never fill it."""


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
            del _META_CACHE[next(iter(_META_CACHE))]
    return dict(hit[0]), dict(hit[1])
