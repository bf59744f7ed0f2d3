"""What a template is written with: options, the summary sheet of an annotated copy, errors.

:func:`xlperf.excel.template.write_template` takes :class:`TemplateOptions`; the report layer
fills in a :class:`Summary` for an annotated copy of a return.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

__all__ = ["DEFAULT_PASSWORD", "SUMMARY_SHEET", "SheetLink", "Summary", "TemplateError", "TemplateOptions"]

SUMMARY_SHEET = "审核意见"
DEFAULT_PASSWORD = "xlperf"


class TemplateError(ValueError):
    """Prefill values that do not fit the form (unknown key, wrong type)."""


class SheetLink(NamedTuple):
    """Text of a summary cell that links to a cell of the form (e.g. a finding's place)."""

    text: str
    sheet: str
    cell: str


@dataclass(frozen=True)
class Summary:
    """An extra first sheet (``SUMMARY_SHEET``) of an annotated copy: title, lines, then a table.

    Plain text to serialise; what it says is the caller's business (the report layer).
    """

    title: str
    lines: Sequence[str] = ()
    header: Sequence[str] = ()
    rows: Sequence[Sequence[str | SheetLink]] = ()
    widths: Sequence[float] = ()
    """Column widths of the table; columns without one get 12."""


@dataclass(frozen=True)
class TemplateOptions:
    password: str = DEFAULT_PASSWORD
    year: int | None = None
    unit: str | None = None
    values: Mapping[str, Any] | None = None
    lock_prefilled: bool = True
    """False for an annotated copy of a return: its values stay editable inputs, as typed."""
    annotations: Mapping[tuple[str, str], str] | None = None
    """Comments by (sheet, "A1"): the cell is highlighted and carries the text as a note."""
    summary: Summary | None = None
    """An extra first sheet listing, e.g., a return's findings (annotated copies only)."""
    meta: Sequence[tuple[str, str]] = ()
    """Extra (name, value) rows of the hidden ``_xlperf`` sheet, after the standard ones (e.g. a
    signature: :mod:`xlperf.form.signature`)."""
    number_formats: Mapping[str, str] | None = None
    """Number formats of prefilled cells by key, where the field type has none (a prefilled
    target of 0.95 in a ``value`` column shows as 95% with ``0%``)."""
