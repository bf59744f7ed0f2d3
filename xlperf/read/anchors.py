"""Where the template's rows went: the fixed labels of a form (its anchors) found in a return.

Clerks insert rows when a table is full, or delete one, in whatever program they use; a file
saved as .xls or .ods keeps no defined names, and a tool that does not update names leaves them
pointing at the old rows. So the reader's addresses cannot be trusted on their own. Every
template knows its fixed labels and where they are (the layout's title, label, header and text
cells); they are found in the file's cells, which every format gives, and the template's rows
are aligned with the file's rows:

- each template row holding labels is matched with a file row holding the same labels, in
  order (a longest-common-subsequence alignment weighted by the labels the rows share, which
  tells the two rows labelled 其他 apart by their neighbours);
- a template row between two matched rows maps by their offset when the rows between them
  were neither added nor removed; otherwise its place is ambiguous (None), except in an
  open-ended table (indicator rows, all alike) that grew: there the rows are read in order,
  and rows beyond the template's are reported as not read;
- labels found in another column than the template's mean columns were inserted or deleted:
  the sheet cannot be mapped.

Nothing here judges the return; :class:`SheetShift` says what changed for the check that
reports it (``STRUCTURE_CHANGED``) and :func:`remap` gives the cells to read values from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.form.layout import FormLayout, SheetLayout, per_layout
from xlperf.form.signature import squeeze

__all__ = ["ANCHOR_STYLES", "SheetShift", "StructureMap", "map_structure"]

ANCHOR_STYLES = ("title", "label", "header", "section", "text")
"""Placed cells whose printed text is part of the form and never typed over (notes such as
"  年  月  日" are left out: units may write the signing date there)."""
_TABLE_KEY = re.compile(r"^(?:p\d+_)?([a-z]+)_(\d+)_")


@dataclass(frozen=True)
class Anchor:
    row: int
    col: int
    text: str
    """Squeezed."""


@dataclass
class SheetShift:
    """How one sheet of a return differs from its template in rows and columns."""

    sheet: str
    rows: dict[int, int | None] = field(default_factory=dict)
    """Template row → file row (0-based), None where the place is ambiguous or gone."""
    inserted: list[tuple[int, int, str, str]] = field(default_factory=list)
    """(file row of the first added row, count, label above, label below)."""
    removed: list[tuple[int, int, str, str]] = field(default_factory=list)
    """(template row of the first removed row, count, label above, label below)."""
    missing: list[Anchor] = field(default_factory=list)
    """Template labels not found in their row's place."""
    columns_changed: bool = False
    extra_rows: list[tuple[int, str]] = field(default_factory=list)
    """Rows added inside an open-ended table that hold something and have no template place:
    (file row, first text in it)."""

    @property
    def changed(self) -> bool:
        return bool(self.inserted or self.removed or self.columns_changed
                    or any(t != f for t, f in self.rows.items()))

    @property
    def mappable(self) -> bool:
        return not self.columns_changed


@dataclass
class StructureMap:
    """Every sheet's shift, and where each field key's cell is in the file."""

    sheets: dict[str, SheetShift]
    places: dict[str, tuple[str, str] | None]
    """Key → (sheet, A1) in the file; None where it cannot be placed. Only keys whose cell
    moved or cannot be placed are listed."""

    @property
    def changed(self) -> bool:
        return any(s.changed for s in self.sheets.values())


@per_layout
def _anchors(layout: FormLayout) -> dict[str, tuple[Anchor, ...]]:
    return {sheet.name: tuple(Anchor(p.row, p.col, squeeze(p.text)) for p in sheet.cells
                              if p.style in ANCHOR_STYLES and squeeze(p.text))
            for sheet in layout.sheets}


@per_layout
def _table_rows(layout: FormLayout) -> dict[str, frozenset[int]]:
    """Rows of open-ended tables (every keyed cell of the row is a numbered row key such as
    ``ind_3_name``), by sheet."""
    out = {}
    for sheet in layout.sheets:
        by_row: dict[int, list[str]] = {}
        for p in sheet.cells:
            if p.key:
                by_row.setdefault(p.row, []).append(p.key)
        out[sheet.name] = frozenset(r for r, keys in by_row.items() if all(_TABLE_KEY.match(k) for k in keys))
    return out


def map_structure(layout: FormLayout, cells: Mapping[tuple[str, str], object], sheets: list[str]) -> StructureMap:
    """Align every sheet of ``layout`` present in the file with the file's ``cells``."""
    shifts: dict[str, SheetShift] = {}
    for sheet in layout.sheets:
        if sheet.name in sheets:
            shifts[sheet.name] = _align_sheet(layout, sheet, cells)
    places: dict[str, tuple[str, str] | None] = {}
    changed = {name: shift for name, shift in shifts.items() if shift.changed}
    if not changed:  # every label in its place (most returns): no key to look at
        return StructureMap(shifts, places)
    for key, (sheet_name, placed) in layout.cells.items():
        shift = changed.get(sheet_name)
        if shift is None:
            continue
        if not shift.mappable:
            places[key] = None
            continue
        row = shift.rows.get(placed.row, placed.row)
        if row != placed.row:
            places[key] = None if row is None else (sheet_name, xl_rowcol_to_cell(row, placed.col))
    return StructureMap(shifts, places)


def _file_rows(sheet: str, cells: Mapping[tuple[str, str], object],
               texts: set[str]) -> dict[int, list[tuple[int, str]]]:
    """File row → [(col, squeezed text)] of the cells whose text is one of the anchors'."""
    rows: dict[int, list[tuple[int, str]]] = {}
    for (name, a1), value in cells.items():
        if name != sheet or not isinstance(value, str):
            continue
        text = squeeze(value)
        if text in texts:
            row, col = _rowcol(a1)
            rows.setdefault(row, []).append((col, text))
    return rows


def _rowcol(a1: str) -> tuple[int, int]:
    m = re.match(r"([A-Z]+)(\d+)$", a1)
    assert m, a1
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    return int(m.group(2)) - 1, col - 1


@per_layout
def _anchor_cells(layout: FormLayout) -> dict[str, tuple[tuple[tuple[str, str], str], ...]]:
    """((sheet, A1), squeezed text) of every anchor, by sheet: the quick test of an intact sheet."""
    return {name: tuple(((name, xl_rowcol_to_cell(a.row, a.col)), a.text) for a in anchors)
            for name, anchors in _anchors(layout).items()}


def _intact(layout: FormLayout, sheet: str, cells: Mapping[tuple[str, str], object]) -> bool:
    for ref, text in _anchor_cells(layout)[sheet]:
        value = cells.get(ref)
        if not isinstance(value, str) or (value != text and squeeze(value) != text):
            return False
    return True


def _align_sheet(layout: FormLayout, sheet: SheetLayout, cells: Mapping[tuple[str, str], object]) -> SheetShift:
    shift = SheetShift(sheet.name)
    if _intact(layout, sheet.name, cells):
        return shift  # every label in its place: nothing moved (most returns)
    anchors = _anchors(layout)[sheet.name]
    by_row: dict[int, list[Anchor]] = {}
    for a in anchors:
        by_row.setdefault(a.row, []).append(a)
    t_rows = sorted(by_row)
    found = _file_rows(sheet.name, cells, {a.text for a in anchors})
    f_rows = sorted(found)
    t_texts = [sorted(a.text for a in by_row[r]) for r in t_rows]
    f_texts = [sorted(t for _, t in found[r]) for r in f_rows]

    pairs = _lcs(t_rows, t_texts, f_rows, f_texts)
    matched = dict(pairs)
    # labels that are not where the template has them: a label edited, or its row deleted
    for t in t_rows:
        f = matched.get(t)
        have: dict[str, set[int]] = {}
        for col, text in found.get(f, []) if f is not None else []:
            have.setdefault(text, set()).add(col)  # a row may print one text twice (分值 … 分值)
        for a in by_row[t]:
            cols = have.get(a.text)
            if cols is None:
                shift.missing.append(a)
            elif a.col not in cols:
                shift.columns_changed = True
    shift.rows = _row_map(layout, sheet, pairs, cells, shift)
    _describe(shift, sheet, pairs, by_row)
    return shift


def _lcs(t_rows: list[int], t_texts: list[list[str]], f_rows: list[int],
         f_texts: list[list[str]]) -> list[tuple[int, int]]:
    """Pairs (template row, file row), in order, sharing the most labels (ties: same row)."""
    n, m = len(t_rows), len(f_rows)
    score = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            best = max(score[i + 1][j], score[i][j + 1])
            shared = _shared(t_texts[i], f_texts[j])
            if shared:
                best = max(best, score[i + 1][j + 1] + shared + (0.01 if t_rows[i] == f_rows[j] else 0.0))
            score[i][j] = best
    pairs = []
    i = j = 0
    while i < n and j < m:
        shared = _shared(t_texts[i], f_texts[j])
        here = score[i + 1][j + 1] + shared + (0.01 if t_rows[i] == f_rows[j] else 0.0)
        if shared and abs(score[i][j] - here) < 1e-9:
            pairs.append((t_rows[i], f_rows[j]))
            i, j = i + 1, j + 1
        elif score[i + 1][j] >= score[i][j + 1]:
            i += 1
        else:
            j += 1
    return pairs


def _shared(a: list[str], b: list[str]) -> int:
    rest = list(b)
    n = 0
    for text in a:
        if text in rest:
            rest.remove(text)
            n += 1
    # A row must share most of its labels to count as the same row (a lone 其他 elsewhere won't).
    return n if n * 2 >= len(a) else 0


def _row_map(layout: FormLayout, sheet: SheetLayout, pairs: list[tuple[int, int]],
             cells: Mapping[tuple[str, str], object], shift: SheetShift) -> dict[int, int | None]:
    """Template row → file row for every row of the sheet; rows added to an open-ended table
    that hold something beyond the template's rows go to ``shift.extra_rows``."""
    table = _table_rows(layout)[sheet.name]
    rows: dict[int, int | None] = {t: f for t, f in pairs}
    filled = _filled_rows(sheet.name, cells)
    bounds = [(-1, -1), *pairs]
    for (ta, fa), nxt in zip(bounds, [*pairs, None], strict=True):
        if nxt is None:  # after the last label: by its offset
            tb, fb = sheet.rows, sheet.rows + (fa - ta)
        else:
            tb, fb = nxt
        gap = range(ta + 1, tb)
        if fb - fa == tb - ta or nxt is None or ta < 0:
            offset = fa - ta if ta >= 0 else fb - tb
            rows.update({r: r + offset for r in gap})
        elif fb - fa > tb - ta and all(r in table for r in gap):
            # a grown table: its rows are alike, so the rows that hold something are read in
            # order; a filled row beyond the template's is reported, not read
            spare = list(range(fa + 1, fb))
            used = [f for f in spare if f in filled]
            order = used + [f for f in spare if f not in filled]
            for r, f in zip(gap, order, strict=False):
                rows[r] = f
            shift.extra_rows.extend((f, filled[f]) for f in used[len(gap):])
        else:
            rows.update({r: None for r in gap})
    return rows


def _filled_rows(sheet: str, cells: Mapping[tuple[str, str], object]) -> dict[int, str]:
    """File row → the first thing in it, for rows that hold anything."""
    first: dict[int, tuple[int, str]] = {}
    for (name, a1), value in cells.items():
        if name == sheet and value is not None and str(value).strip():
            row, col = _rowcol(a1)
            if row not in first or col < first[row][0]:
                first[row] = (col, str(value).strip())
    return {row: text for row, (_, text) in first.items()}


def _label(by_row: Mapping[int, list[Anchor]], row: int) -> str:
    anchors = by_row.get(row) or []
    return min(anchors, key=lambda a: a.col).text if anchors else ""


def _describe(shift: SheetShift, sheet: SheetLayout, pairs: list[tuple[int, int]],
              by_row: Mapping[int, list[Anchor]]) -> None:
    """Where rows were added or removed: between consecutive matched rows whose offsets differ."""
    for (ta, fa), (tb, fb) in zip(pairs, pairs[1:], strict=False):
        grown = (fb - fa) - (tb - ta)
        if grown > 0:
            shift.inserted.append((fa + 1, grown, _label(by_row, ta), _label(by_row, tb)))
        elif grown < 0:
            shift.removed.append((ta + 1, -grown, _label(by_row, ta), _label(by_row, tb)))
    if pairs and pairs[0][1] != pairs[0][0]:
        t, f = pairs[0]
        if f > t:
            shift.inserted.insert(0, (0, f - t, "", _label(by_row, t)))
        else:
            shift.removed.insert(0, (0, t - f, "", _label(by_row, t)))
