"""Rule kinds of the 一体化 self-evaluation (财预〔2020〕10号): a score from the execution rate, and
the score of an indicator row whose weight the unit types.

- ``rate_score`` (a scored calc: constant weight ``w``; operand ``rate``, a ``completion`` calc;
  parameter ``cap``, default 1): ``w × MIN(rate, cap)``, at least 0, rounded to 2 decimals. The
  rate is the one the form shows (4 decimals), so the printed score is ``w`` times the printed
  rate. 10号文: 预算执行率 earns 10 × 执行率, at most 10.
- ``row_score`` (a table column: operands ``op`` (指标性质), ``target`` (指标值), ``actual``
  (完成值), ``weight`` (the row's 权重, typed) and ``typed`` (the score the unit types for a 定性
  row)). Blank weight: the row is unused and shows nothing (""). Otherwise, 10号文 as forms.md
  states it:

  - a quantitative row whose target is met (≥: 完成值 ≥ 指标值; ＞: >; ＝: equal to 9 decimals;
    ≤: ≤; ＜: <) earns the weight;
  - one not met earns weight × 完成值 / 指标值 (≥ ＞ ＝), or weight × 指标值 / 完成值 (≤ ＜),
    never more than the weight nor less than 0; a target of 0 or less (≥ ＞ ＝), or an actual of
    0 or less (≤ ＜), leaves nothing to divide by and earns 0 (so ``＝ 0`` 起 earns the weight
    at 0 and nothing above it);
  - a quantitative row without a number in 指标值 or 完成值 earns 0 (text there is WRONG_TYPE);
  - a 定性 row earns the typed score (0 when blank), kept between 0 and the weight; the check
    and a conditional format say when it lies outside the band of the level written in 完成值
    (:func:`row_out_of_band`);
  - any other 指标性质 (blank, or not one of the form's) earns 0.

  Every score is rounded to 2 decimals, as shown; totals add the rounded scores.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from xlperf.form.expr import COUNT, IF, ROUND, Cell, Expr, N, Text, blank_guard, call, cmp
from xlperf.form.operators import ASCII, QUALITATIVE
from xlperf.form.qualitative import LEVELS, SHORT_LEVELS
from xlperf.form.rulekind import Kind, number_problems

__all__ = ["ROW_KINDS", "row_out_of_band", "row_score_in_band"]

OP, TARGET, ACTUAL, WEIGHT, TYPED = Cell("op"), Cell("target"), Cell("actual"), Cell("weight"), Cell("typed")
MET: dict[str, str] = {"≥": ">=", "＞": ">", "＝": "=", "≤": "<=", "＜": "<"}
"""Each operator and the comparison of 完成值 with 指标值 that meets it."""


def _is(cell: Expr, *words: str) -> Expr:
    tests = [cmp(cell, "=", Text(w)) for w in words]
    return tests[0] if len(tests) == 1 else call("OR", *tests)


def _op_is(*ops: str) -> Expr:
    """The 指标性质 cell holds one of ``ops``, as printed or typed in ASCII (>=)."""
    return _is(OP, *[spelling for op in ops for spelling in (op, ASCII[op])])


def _met(b: Expr, t: Expr) -> Expr:
    cases = []
    for op, comparison in MET.items():
        test = cmp(ROUND(b - t, 9), "=", 0) if comparison == "=" else cmp(b, comparison, t)
        cases.append(call("AND", _op_is(op), test))
    return call("OR", *cases)


class _RateScore(Kind):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        return number_problems("cap", p["cap"], positive=True)

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        rate = Cell("rate")
        capped = call("MAX", 0, call("MIN", N(rate), float(p["cap"])))
        return blank_guard([rate], ROUND(capped * w, 2))


class _RowScore(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        weight, b, t = N(WEIGHT), N(ACTUAL), N(TARGET)

        def within(x: Expr) -> Expr:
            return ROUND(call("MIN", weight, call("MAX", 0, x)), 2)

        positive = IF(cmp(t, "<=", 0), 0, within(weight * b / t))
        reverse = IF(cmp(b, "<=", 0), 0, within(weight * t / b))
        missed = IF(_op_is("≥", "＞", "＝"), positive, IF(_op_is("≤", "＜"), reverse, 0))
        quantitative = blank_guard([TARGET, ACTUAL], IF(_met(b, t), weight, missed))
        qualitative = blank_guard([TYPED], within(N(TYPED)))
        scored = IF(_is(OP, QUALITATIVE), qualitative, quantitative)
        return IF(cmp(COUNT(WEIGHT), "=", 0), "", scored)


ROW_KINDS: tuple[Kind, ...] = (
    _RateScore("rate_score", ("rate",), defaults={"cap": 1}),
    _RowScore("row_score", ("op", "target", "actual", "weight", "typed"), scored=False),
)


# --- the band of a 定性 row --------------------------------------------------------------------

def row_out_of_band() -> Expr:
    """TRUE when a 定性 row's typed score (``typed``) lies outside the band of the level its
    完成值 (``actual``) names, under the row's ``weight``; FALSE while any of them is blank or
    the level is not one (:data:`xlperf.form.qualitative.SHORT_LEVELS`, long or short)."""
    score, weight = N(TYPED), N(WEIGHT)
    short = {level: word for word, level in SHORT_LEVELS.items()}
    outside = []
    for level, (low, high, inclusive) in LEVELS.items():
        above = cmp(score, ">" if inclusive else ">=", weight * float(high))
        below = cmp(score, "<", weight * float(low))
        outside.append(call("AND", _is(ACTUAL, short[level], level), call("OR", below, above)))
    return call("AND", _is(OP, QUALITATIVE), cmp(COUNT(TYPED), "=", 1), cmp(COUNT(WEIGHT), "=", 1),
                call("OR", *outside))


def row_score_in_band(op: object, level: object, typed: object, weight: object) -> bool:
    """Whether a row's typed score is not outside its level's band (:func:`row_out_of_band`)."""
    values = {"op": op, "actual": level, "typed": typed, "weight": weight}
    return not row_out_of_band().eval(values)
