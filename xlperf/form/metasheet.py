"""The hidden ``_xlperf`` sheet every template carries, and the ``xp_<key>`` defined names: the one
contract between the template writer and the reader.

Layout of the sheet (rows counted from 1):

- meta rows, name in A and value in B: ``form_id``, ``form_version``, ``title``, ``year``,
  ``unit``, ``amount_unit``, then any extra rows (a signature: :mod:`xlperf.form.signature`);
- one blank row;
- the field map: a header row (``key``, ``label``, ``sheet``, ``cell``, ``kind``), then one row
  per keyed cell of the layout, sorted by key; ``kind`` is input, formula or fixed.

Every cell of a form field also carries the workbook-wide defined name ``xp_<key>``. The writer
(:mod:`xlperf.excel.template`) takes its rows from :func:`meta_rows` and :func:`field_rows`; the
reader (:mod:`xlperf.read`) parses the sheet with :func:`parse_meta`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import NamedTuple

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.form.layout import FormLayout

META_SHEET = "_xlperf"
NAME_PREFIX = "xp_"
"""Prefix of the defined name of every keyed cell: ``xp_<key>``."""

FORM_ID = "form_id"
FORM_VERSION = "form_version"
TITLE = "title"
YEAR = "year"
UNIT = "unit"
AMOUNT_UNIT = "amount_unit"
COPY = "copy"
"""Extra meta row of a workbook that is not a template to fill: its value says what it is."""
ANNOTATED = "annotated"
"""``copy`` of the annotated copy of a return (:mod:`xlperf.report.annotate`): never a return."""
FIELD_HEADER = ("key", "label", "sheet", "cell", "kind")
"""Header row of the field map; the reader starts the map after the row that begins with the
first two."""

MAX_BLANK_ROWS = 20
"""Parsing stops after this many blank rows in a row (the sheet has one, above the field map)."""
MAX_ROWS = 100_000


class FieldRef(NamedTuple):
    """One row of the ``_xlperf`` field map."""

    label: str
    sheet: str
    cell: str
    kind: str
    """input, formula or fixed."""


def meta_rows(layout: FormLayout, year: int | None, unit: str | None,
              extra: Sequence[tuple[str, str]] = ()) -> list[tuple[str, str]]:
    """(name, value) of every meta row, in the order written: the standard rows, then ``extra``."""
    spec = layout.spec
    return [
        (FORM_ID, spec.form_id), (FORM_VERSION, spec.version), (TITLE, spec.title),
        (YEAR, str(year or "")), (UNIT, unit or ""), (AMOUNT_UNIT, spec.amount_unit), *extra,
    ]


def field_rows(layout: FormLayout) -> list[tuple[str, str, str, str, str]]:
    """(key, label, sheet, A1 cell, kind) of every keyed cell of ``layout``, sorted by key."""
    return [(key, placed.label, sheet_name, xl_rowcol_to_cell(placed.row, placed.col), placed.kind)
            for key, (sheet_name, placed) in sorted(layout.cells.items())]


def field_header_row(meta: Sequence[tuple[str, str]]) -> int:
    """Row index (from 0) of the field map's header, below the meta rows and one blank row."""
    return len(meta) + 1


def find_meta_sheet(sheets: Sequence[str]) -> str | None:
    """The meta sheet among a workbook's sheet names (also renamed in case or padded by a program)."""
    if META_SHEET in sheets:
        return META_SHEET
    return next((s for s in sheets if s.strip().lower() == META_SHEET), None)


def parse_meta(cells: Mapping[tuple[str, str], object], sheet: str) -> tuple[dict[str, str], dict[str, FieldRef]]:
    """The meta rows (name in A, value in B) and the field map below its header row, from the
    cells of the meta sheet by (sheet, "A1")."""
    meta: dict[str, str] = {}
    field_map: dict[str, FieldRef] = {}
    get = cells.get
    row, blank, header = 0, 0, False
    while blank < MAX_BLANK_ROWS and row < MAX_ROWS:
        row += 1
        a_ref, b_ref, c_ref, d_ref, e_ref = _row_refs(row)
        a = _as_text(get((sheet, a_ref)))
        if not a:
            blank += 1
            continue
        blank = 0
        b = _as_text(get((sheet, b_ref)))
        if header:
            sheet_name = _as_text(get((sheet, c_ref)))
            cell = _as_text(get((sheet, d_ref)))
            if sheet_name and cell:
                kind = _as_text(get((sheet, e_ref)))
                field_map[a] = FieldRef(b, sheet_name, cell.replace("$", "").upper(), kind)
        elif (a, b) == FIELD_HEADER[:2]:
            header = True
        else:
            meta[a] = b
    return meta, field_map


def _as_text(value: object) -> str:
    if type(value) is str:  # the common case first: most cells hold text
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@cache
def _row_refs(row: int) -> tuple[str, str, str, str, str]:
    n = str(row)
    return "A" + n, "B" + n, "C" + n, "D" + n, "E" + n
