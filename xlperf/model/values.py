"""A return's cell values: blank, number, text, year, and how a value is shown in a message.

Values arrive typed by the reader (:data:`xlperf.read.Value`: text, float, int, date or
None); these helpers say what a value is without a form in mind. How a *target or actual* value
reads (operator, number, unit) is :mod:`xlperf.model.indicators`.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from decimal import Decimal

from xlperf.form.excelmath import MAX_MAGNITUDE, excel_round, usable_number

BLANK = "空白"
"""How a message shows an empty cell."""

__all__ = ["BLANK", "as_number", "cell_text", "cell_year", "compact", "display", "is_blank", "number_text", "or_blank", "plain", "show", "show_cell",
           "show_amount", "show_percent"]


_NUMERIC = (int, float, Decimal)  # a tuple: ``int | float | Decimal`` is built anew at every call


def is_blank(value: object) -> bool:
    """Nothing typed: None, or text of spaces only."""
    return value is None or (isinstance(value, str) and not value.strip())


def as_number(value: object) -> float | None:
    """A number cell's value as float; None for text, dates, booleans, blanks, and numbers no
    form holds (inf/nan, which no spreadsheet holds but a crafted file can, and 10^15 or more:
    ``NUMBER_INVALID`` flags those)."""
    if type(value) is float:  # the common case, a few hundred times a return; NaN fails both tests
        return value if -MAX_MAGNITUDE < value < MAX_MAGNITUDE else None
    if isinstance(value, bool) or not isinstance(value, _NUMERIC):
        return None
    number = float(value)
    return number if usable_number(number) else None


def unusable_number(value: object) -> bool:
    """A number in a cell that no form holds: NaN, infinite, or 10^15 and more."""
    if type(value) is float:
        return not -MAX_MAGNITUDE < value < MAX_MAGNITUDE
    return (as_number(value) is None and isinstance(value, _NUMERIC)
            and not isinstance(value, bool))


def cell_text(value: object) -> str:
    """A value as text: "" when blank, a whole float without ``.0`` (a code typed as 101)."""
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def display(value: object) -> str:
    """A value as the clerk reads it in the cell: "" when blank, a date in ISO form, a whole float
    without ``.0``, text without surrounding spaces."""
    if isinstance(value, dt.date):
        return value.isoformat()
    return cell_text(value)


def cell_year(value: object) -> int | None:
    """A year cell's value as an int (2024, 2024.0 or "2024"); None when blank, a date or not a number."""
    try:
        return None if is_blank(value) or isinstance(value, dt.date) else int(float(str(value)))
    except ValueError:
        return None


def compact(text: str) -> str:
    """``text`` NFKC-folded (full-width digits, ％ and ＞＝＜ become ASCII) without whitespace:
    spaces typed around signs mean nothing."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def show(value: object) -> str:
    """A value as a clerk would recognise it in a message."""
    if isinstance(value, float | Decimal) and not isinstance(value, bool):
        return f"{float(value):.15g}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip() if value is not None else ""


def show_amount(value: float | Decimal, unit: str) -> str:
    return f"{float(value):,.2f} {unit}"


def show_percent(value: float | Decimal) -> str:
    return f"{float(value) * 100:.15g}%"


def plain(x: Decimal | float) -> str:
    """A number as the form prints it: no exponent, no trailing zeros (3, 7.5, 100)."""
    d = x if isinstance(x, Decimal) else Decimal(f"{x:.15g}")
    return format(d.normalize(), "f")


def show_cell(value: object, percent: bool = False, places: int = 2) -> str:
    """A cell value in a message about scores: 空白 when blank, numbers to ``places`` decimals
    rounded as Excel rounds (or as %), text quoted."""
    if is_blank(value):
        return BLANK
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.date):
        return value.isoformat()
    x = as_number(value)
    if x is not None:
        if percent:
            return f"{excel_round(x * 100, places)}%"
        return str(excel_round(x, places))
    return f"“{str(value).strip()}”"


def or_blank(value: object) -> str:
    """A value as text, 空白 when None or empty (signed and found values of a template)."""
    return BLANK if value in (None, "") else str(value)


def number_text(number: float, unit: str) -> str:
    """A number with up to 6 decimals, no trailing zeros, followed by ``unit`` (12次, 0.5万元)."""
    return f"{number:.6f}".rstrip("0").rstrip(".") + unit
