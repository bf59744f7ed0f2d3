"""Fill a template's input cells by field key, as a unit's clerk would (openpyxl).

Used by the demo and the tests to make realistic returns. openpyxl keeps protection,
validations and formulas but drops cached results, so a filled file needs recalculating
(``xlperf.excel.recalc``) before its cached values mean anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import openpyxl

from xlperf.form.metasheet import NAME_PREFIX


def fill_workbook(template: Path, values: Mapping[str, Any], output: Path) -> Path:
    """Write ``values`` (by field key) into a copy of ``template`` saved at ``output``."""
    wb = openpyxl.load_workbook(template)
    for key, value in values.items():
        name = wb.defined_names.get(NAME_PREFIX + key)
        if name is None:
            raise KeyError(f"{template.name}: no field '{key}'")
        (sheet_name, ref), = name.destinations
        cell = wb[sheet_name][ref.replace("$", "")]
        if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
            try:
                value = dt.datetime.fromisoformat(value)
            except ValueError:
                pass
        cell.value = value
        if isinstance(value, str) and value.startswith("="):
            # A typed "=..." in a text cell stays text; openpyxl would otherwise store a formula.
            cell.data_type = "s"
    output.parent.mkdir(parents=True, exist_ok=True)
    wb.save(output)
    return output
