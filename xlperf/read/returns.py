"""What reading a return gives: :class:`Return` (the file as found), its cell values, and
:class:`ReadError`. Nothing here is validated."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from xlperf.form.metasheet import FieldRef
from xlperf.read.anchors import StructureMap

Value = float | int | str | dt.date | None
CellRef = tuple[str, str]


class ReadError(Exception):
    """A return that cannot be read; ``code`` is stable, ``message`` is for the unit's clerk.

    Codes: ``NOT_XLPERF`` (not made from an xlperf template) and the codes of
    :class:`xlperf.read.guard.UnsafeFile` (``FILE_EMPTY``, ``FILE_TOO_LARGE``, ``FILE_ENCRYPTED``,
    ``FILE_CORRUPT``, ``FILE_TRUNCATED``, ``ZIP_BOMB``, ``FILE_FOREIGN``, ``FILE_MISSING``,
    ``FILE_NOT_REGULAR``), passed through. A file whose check exceeds the per-file limits is
    ``FILE_TOO_COMPLEX`` (``WORKER_CRASHED`` when its worker dies): see
    :mod:`xlperf.checks.exceeded` and :mod:`xlperf.workers`.
    """

    def __init__(self, code: str, message: str, path: Path | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.path = path

    def __reduce__(self) -> tuple[type[ReadError], tuple[str, str, Path | None]]:
        return type(self), (self.code, self.message, self.path)  # picklable: sent back by workers


@dataclass
class Return:
    """What a return file holds, as found; nothing here is validated."""

    path: Path
    file_kind: str
    """xlsx, xls or ods, by content (see ``extension_mismatch``)."""
    form_id: str | None
    form_version: str | None
    meta_year: str | None
    meta_unit: str | None
    values: dict[str, Value]
    """By field key, every key of the field map: input values and cached results of formula cells.
    Numbers are floats, except int for fields of type year and integer when integral; date fields
    give ``datetime.date``; text stays text (also text typed into a number cell)."""
    formulas: dict[str, str | None]
    """By key: the formula text (``=...``) or None where the cell holds a plain value. Empty when
    the format gives no formulas (xls, ods)."""
    cached_missing: list[str]
    """Keys of formula cells without a cached result (saved without calculating, e.g. openpyxl)."""
    field_map: dict[str, FieldRef]
    names: dict[str, tuple[str, str]]
    """Defined names ``xp_*`` that point at one cell: name → (sheet, "A1"). Empty for xls/ods."""
    cells: dict[CellRef, Value]
    """Every non-empty cell of every sheet, by (sheet, "A1"): float, bool, str (errors as "#N/A")."""
    cell_formulas: dict[CellRef, str]
    notes: list[str]
    """What could not be read or verified, in Chinese."""
    meta: dict[str, str] = field(default_factory=dict)
    """All rows above the field map in ``_xlperf`` (form_id, form_version, title, year, ...)."""
    errors: dict[str, str] = field(default_factory=dict)
    """Keys whose cell holds an error value (cached ``#DIV/0!`` and the like)."""
    missing_names: list[str] = field(default_factory=list)
    """xlsx: keys whose defined name is missing or broken; their value was read by the field map."""
    sheets: list[str] = field(default_factory=list)
    hidden_sheets: list[str] = field(default_factory=list)
    sheet_protected: dict[str, bool] = field(default_factory=dict)
    """xlsx: whether each worksheet still carries its sheet protection."""
    extension_mismatch: bool = False
    macros: bool = False
    structure: StructureMap | None = None
    """Built-in forms: where the template's rows are in the file, found by the form's fixed
    labels (:mod:`xlperf.read.anchors`). Fields whose cell moved (``structure.places``) were read
    there, not at their names or field-map addresses; None where it could not be placed."""
