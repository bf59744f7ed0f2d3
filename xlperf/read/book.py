"""The workbook as read, before the field map is applied, and what every reader shares:
the limits, the structural errors, Excel's date epoch and column letters."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import cache

from xlperf.read.returns import CellRef, Value

# A return has a few thousand XML elements in its sheets and ~2,000 cells; these bounds are
# hundreds of times that, and keep a file within the guard's size limits from costing gigabytes
# (a dense grid of a sheet whose one cell sits at XFD1048576, say).
MAX_ELEMENTS = 2_000_000
MAX_GRID = 2_000_000
EXCEL_EPOCH = dt.date(1899, 12, 30)


@dataclass
class Book:
    sheets: list[str]
    hidden: list[str]
    cells: dict[CellRef, Value]
    formulas: dict[CellRef, str]
    no_cache: set[CellRef]
    errors: dict[CellRef, str]
    names: dict[str, tuple[str, str]] | None
    date1904: bool = False
    protected: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sheet_cells: dict[str, dict[CellRef, Value]] = field(default_factory=dict)
    """Each sheet's own cells (the same values as ``cells``), for the field map's cache."""

    def add_sheet_cells(self, sheet: str, cells: dict[CellRef, Value]) -> None:
        """File one sheet's cells (a repeated sheet name merges, as ``cells`` does)."""
        self.cells.update(cells)
        own = self.sheet_cells.get(sheet)
        self.sheet_cells[sheet] = cells if own is None else {**own, **cells}


class Corrupt(Exception):
    """A structural problem of the workbook (message in Chinese)."""


class TooLarge(Exception):
    """More content than any return has (message in Chinese)."""



@cache
def col_letters(col: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n

