"""The Python evaluator of a whole form: every computed cell from the inputs.

It applies each computed cell's rule kind in dependency order, feeding results on as floats,
because that is what the spreadsheet engine does between cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from xlperf.form.excelmath import NUMBER_TYPES, usable_number
from xlperf.form.layout import FormLayout, per_layout
from xlperf.form.rulekind import Value
from xlperf.form.rules import KINDS

Result = Decimal | str | None


def evaluate(layout: FormLayout, values: Mapping[str, Value]) -> dict[str, Result]:
    """Compute every formula cell of ``layout`` from input ``values`` (by field key).

    A number no form holds (NaN, infinite, 10^15 or more; see ``usable_number``) counts as
    blank: the checks flag it on its cell, and it must not abort the scores of the rest."""
    known: dict[str, Value] = {**_fixed_numbers(layout), **{k: None if _is_unusable(v) else v for k, v in values.items()}}
    results: dict[str, Result] = {}
    for calc in layout.calcs:
        operands: dict[str, Value | list[Value]] = {}
        for name, ref in calc.operands.items():
            operands[name] = known.get(ref) if isinstance(ref, str) else [known.get(r) for r in ref]
        result = KINDS[calc.kind].evaluate(calc.params, calc.weight, operands)
        results[calc.key] = result
        known[calc.key] = float(result) if isinstance(result, Decimal) else result
    return results


@per_layout
def _fixed_numbers(layout: FormLayout) -> dict[str, Value]:
    """The form's printed numbers a formula may read (a weight shown with ``weight_of``)."""
    return {key: placed.number for key, (_, placed) in layout.cells.items()
            if placed.number is not None and placed.field is None and placed.calc is None}


def _is_unusable(value: object) -> bool:
    return isinstance(value, NUMBER_TYPES) and not isinstance(value, bool) and not usable_number(value)
