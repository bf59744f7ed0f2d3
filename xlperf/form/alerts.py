"""Conditional-format conditions: Excel boolean formulas that flag an inconsistency while typing.

Each condition takes the A1 references of its operands and returns formula text that is TRUE
when the cell should turn red. The checker will carry the Python side of the same conditions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from xlperf.form.operators import OVERSHOOT, POSITIVE_OPS, REVERSE_OPS
from xlperf.form.rowrules import row_out_of_band
from xlperf.form.rules import out_of_band_formula


def _any_equal(ref: str, options: tuple[str, ...]) -> str:
    return "OR(" + ",".join(f'{ref}="{o}"' for o in options) + ")"


def missed_target_no_reason(refs: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """A numeric target missed, or beaten by the table's ``overshoot`` (OVERSHOOT, 30%, unless
    the spec says otherwise; None: a miss only), with the reason cell left blank."""
    op, t, a, reason = refs["op"], refs["target"], refs["actual"], refs["reason"]
    overshoot = params.get("overshoot", OVERSHOOT)
    beaten = ("" if overshoot is None else
              f",AND({_any_equal(op, POSITIVE_OPS)},N({t})>0,N({a})>=N({t})*{1 + overshoot:g})")
    missed = (
        f"OR(AND({_any_equal(op, POSITIVE_OPS)},N({a})<N({t})),"
        f"AND({_any_equal(op, REVERSE_OPS)},N({a})>N({t})){beaten})"
    )
    return f'AND(LEN({reason})=0,COUNT({t})=1,COUNT({a})=1,{missed})'


def score_over_weight(refs: Mapping[str, str], params: Mapping[str, Any]) -> str:
    s, w = refs["score"], format(float(params["weight"]), "g")
    return f"AND(COUNT({s})=1,OR(N({s})>{w},N({s})<0))"


def not_greater(refs: Mapping[str, str], params: Mapping[str, Any]) -> str:
    left, right = refs["left"], refs["right"]
    return f"AND(COUNT({left})=1,COUNT({right})=1,N({left})>N({right}))"


def qualitative_band(refs: Mapping[str, str], params: Mapping[str, Any]) -> str:
    return out_of_band_formula(refs["level"], refs["score"], float(params["weight"])).lstrip("=")


def row_qualitative_band(refs: Mapping[str, str], params: Mapping[str, Any]) -> str:
    return row_out_of_band().render(refs)


def unit_is_percent(refs: Mapping[str, str], params: Mapping[str, Any]) -> str:
    unit = refs["unit"]
    return f'OR({unit}="%",{unit}="％")'


def required_by_choice(refs: Mapping[str, str], params: Mapping[str, Any]) -> str:
    """A blank field that a row's choice requires (spec ``explain_when``): operands ``field`` and
    one per row of the choosing column."""
    field = refs["field"]
    chosen = ",".join(f'{ref}="{str(v).replace(chr(34), chr(34) * 2)}"'
                      for name, ref in refs.items() if name != "field" for v in params["values"])
    return f"AND(LEN({field})=0,OR({chosen}))"


CONDITIONS: dict[str, Callable[[Mapping[str, str], Mapping[str, Any]], str]] = {
    "missed_target_no_reason": missed_target_no_reason,
    "score_over_weight": score_over_weight,
    "not_greater": not_greater,
    "qualitative_band": qualitative_band,
    "unit_is_percent": unit_is_percent,
    "row_qualitative_band": row_qualitative_band,
    "required_by_choice": required_by_choice,
}
