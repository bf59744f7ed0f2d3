"""Small helpers shared by the check and report tests."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.cli.demo import sample_values
from xlperf.findings import Checked
from xlperf.form.layout import builtin_layout


def sample(form: str) -> dict[str, Any]:
    """A fresh copy of the seed-derived sample values of ``form``."""
    return sample_values(form)


def cell_of(form: str, key: str) -> tuple[str, str]:
    """(sheet, A1) of a field key, from the layout."""
    sheet, row, col = builtin_layout(form).address(key)
    return sheet, xl_rowcol_to_cell(row, col)


def flat(checked: Checked, codes: Collection[str]) -> set[tuple[str, str, str, str]]:
    """Findings as (code, severity, sheet, cell), for the codes asked about."""
    return {(f.code, f.severity, f.sheet, f.cell) for f in checked.findings if f.code in codes}
