"""The Python evaluator of a whole form: every computed cell from the inputs.

It applies each computed cell's rule kind in dependency order, feeding results on as floats,
because that is what the spreadsheet engine does between cells.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from xlperf.form.excelmath import NUMBER_TYPES, RuleError, usable_number
from xlperf.form.expr import Expr
from xlperf.form.layout import FormLayout, per_layout
from xlperf.form.rulekind import Kind, Value
from xlperf.form.rules import KINDS
from xlperf.form.spec import Calc

Result = Decimal | str | None


def evaluate(layout: FormLayout, values: Mapping[str, Value]) -> dict[str, Result]:
    """Compute every formula cell of ``layout`` from input ``values`` (by field key).

    A number no form holds (NaN, infinite, 10^15 or more; see ``usable_number``) counts as
    blank: the checks flag it on its cell, and it must not abort the scores of the rest."""
    known: dict[str, Value] = {**_fixed_numbers(layout), **{k: None if _is_unusable(v) else v for k, v in values.items()}}
    results: dict[str, Result] = {}
    for calc, kind, tree in _plan(layout):
        if isinstance(tree, str):
            raise RuleError(tree)
        operands: dict[str, Value | list[Value]] = {}
        for name, ref in calc.operands.items():
            operands[name] = known.get(ref) if isinstance(ref, str) else [known.get(r) for r in ref]
        result = kind.result(tree.eval(operands))
        results[calc.key] = result
        known[calc.key] = float(result) if isinstance(result, Decimal) else result
    return results


@per_layout
def _plan(layout: FormLayout) -> list[tuple[Calc, Kind, Expr | str]]:
    """Each computed cell with its kind and expression tree, in the order they are computed.
    A tree depends on the rule and the operands' shape only, both fixed by the form, so it is
    found once per form, not once per return; a rule that is not valid keeps its error's message,
    raised when the cell's turn comes (as evaluating it each time would)."""
    plan: list[tuple[Calc, Kind, Expr | str]] = []
    for calc in layout.calcs:
        kind = KINDS[calc.kind]
        shape = {name: None if isinstance(ref, str) else [None] * len(ref) for name, ref in calc.operands.items()}
        tree: Expr | str
        try:
            tree = kind.expression(calc.params, calc.weight, shape)
        except RuleError as exc:
            tree = str(exc)
        plan.append((calc, kind, tree))
    return plan


@per_layout
def _fixed_numbers(layout: FormLayout) -> dict[str, Value]:
    """The form's printed numbers a formula may read (a weight shown with ``weight_of``)."""
    return {key: placed.number for key, (_, placed) in layout.cells.items()
            if placed.number is not None and placed.field is None and placed.calc is None}


def _is_unusable(value: object) -> bool:
    return isinstance(value, NUMBER_TYPES) and not isinstance(value, bool) and not usable_number(value)
