"""Formula text of a laid-out form: the one place that builds it, and the one way to compare it.

The template writer (:mod:`xlperf.excel.template`) writes :func:`calc_formula` and
:func:`condition_formula`; the tamper check (:mod:`xlperf.checks.tamper`) compares a file's
formulas with :func:`template_formulas`; the signature (:mod:`xlperf.form.signature`) digests a
file's formulas through :func:`normalise_formula`.

References are as the template writes them: absolute (``$G$9``), qualified with the quoted sheet
name (``'评分表'!$D$4``) only when the cell is on another sheet.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.form.alerts import CONDITIONS
from xlperf.form.excelmath import RuleError
from xlperf.form.layout import FormLayout, Highlight, per_layout
from xlperf.form.rules import KINDS
from xlperf.form.spec import Calc


def a1_ref(sheet: str, row: int, col: int, here: str) -> str:
    """The absolute reference of a cell as written in a formula on sheet ``here``."""
    cell = xl_rowcol_to_cell(row, col, row_abs=True, col_abs=True)
    return cell if sheet == here else f"'{sheet}'!{cell}"


def key_ref(layout: FormLayout, key: str, here: str) -> str:
    """The reference of the cell of ``key`` in a formula on sheet ``here``."""
    return a1_ref(*layout.address(key), here)


def calc_formula(layout: FormLayout, sheet: str, calc: Calc) -> str | None:
    """The formula text (``=…``) of the computed cell ``calc`` on ``sheet``; None when its score
    is typed in. Raises KeyError or :class:`RuleError` for a calc that cannot be written."""
    refs: dict[str, str | Sequence[str]] = {
        name: key_ref(layout, v, sheet) if isinstance(v, str) else [key_ref(layout, x, sheet) for x in v]
        for name, v in calc.operands.items()}
    return KINDS[calc.kind].formula(calc.params, calc.weight, refs)


def condition_formula(layout: FormLayout, highlight: Highlight) -> str:
    """The conditional format's formula (``=…``, TRUE where the cell should be marked)."""
    refs = {name: key_ref(layout, key, highlight.sheet) for name, key in highlight.operands.items()}
    return "=" + CONDITIONS[highlight.check](refs, highlight.params)


@per_layout
def template_formulas(layout: FormLayout) -> dict[str, tuple[str, str]]:
    """Formula text of every computed cell as the template writes it, and normalised; by key."""
    out: dict[str, tuple[str, str]] = {}
    for key, (sheet, placed) in layout.cells.items():
        if placed.calc is None:
            continue
        try:
            text = calc_formula(layout, sheet, placed.calc)
        except (KeyError, RuleError):
            continue  # a layout that cannot be written has no template to compare with
        if text:
            out[key] = (text, normalise_formula(text, sheet))
    return out


_TOKEN = re.compile(
    r'"(?:[^"]|"")*"'                # a text literal: kept as is
    r"|'((?:[^']|'')+)'!"            # a quoted sheet qualifier
    r"|([^\W\d][\w.]*)!"             # an unquoted sheet qualifier
    r"|(\s+|\$)"                     # spaces and absolute markers: dropped
    r"|(?<![\w$.])((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w.(])"  # a number constant
    r"|(.)",                         # anything else: upper-cased
    re.S,
)
NUMBER_DIGITS = 12
"""Significant digits a number constant is compared to: Gnumeric writes 0.9 as
0.899999999999999999978 and 0.05 as 0.0500000000000000000007 (equal to 1e-12 relative)."""


def normalise_formula(text: str, sheet: str) -> str:
    """Formula text with what re-saving may change taken out; ``sheet`` is the formula's own.

    Spreadsheet programs change, without changing the meaning: ``$``, spaces, letter case,
    quotes around sheet names, the ``_xlfn.`` prefix, a sheet qualifier naming the formula's
    own sheet (LibreOffice writes ``自评表!$G$9`` for ``'自评表'!$G$9``) and the spelling of
    number constants (Gnumeric writes ``0.899999999999999999978`` for ``0.9``): constants are
    compared to :data:`NUMBER_DIGITS` significant digits, ``100``, ``100.0`` and ``1E2`` alike."""
    here = sheet.upper()
    out = []
    for m in _TOKEN.finditer(text.lstrip("=").strip()):
        quoted, bare, dropped, constant, other = m.groups()
        if quoted is not None or bare is not None:
            name = (quoted.replace("''", "'") if quoted is not None else bare).upper()
            out.append("" if name == here else name + "!")
        elif dropped is not None:
            continue
        elif constant is not None:
            out.append(f"{float(constant):.{NUMBER_DIGITS}g}".upper())
        elif other is not None:
            out.append(other.upper())
        else:
            out.append(m.group(0))
    return "".join(out).replace("_XLFN.", "").replace("_XLWS.", "")
