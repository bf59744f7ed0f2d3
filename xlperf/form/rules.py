"""Scoring rule kinds: each turns a rule of a form into an Excel formula and a Python evaluator.

A rule kind (``ratio``, ``tiers``, ``deduction`` …) scores one row of a scorecard from the cells
of its operands (actual, target, the parts of a checklist …), its parameters (bands, thresholds,
steps) and its weight. Calculation kinds (``sum``, ``grade``, ``completion``) work the same way
without a weight.

The template writes the formula; the checker recomputes the score of a returned file with the
evaluator. Both come from one expression tree (:mod:`xlperf.form.expr`) evaluated with LibreOffice
Calc's arithmetic (:mod:`xlperf.form.excelmath`); each kind builds its tree on the base
:class:`xlperf.form.rulekind.Kind`. LibreOffice is the reference: the engine tests
(tests/test_rules_engine.py) recalculate every kind's formula there on hundreds of inputs and
compare cell by cell. This module holds the kinds (:data:`KINDS`), grades and the qualitative
levels.
"""


from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import reduce
from typing import Any

from xlperf.form.excelmath import RuleError, is_number
from xlperf.form.expr import (
    COUNT,
    IF,
    MAX_TEXT_CHARS,
    ROUND,
    Cell,
    Expr,
    N,
    Num,
    Text,
    aggregate,
    blank_guard,
    call,
    cmp,
    divided,
    lift,
    num_text,
    scaled,
)
from xlperf.form.qualitative import LEVELS, qualitative_band, qualitative_levels
from xlperf.form.rowrules import ROW_KINDS
from xlperf.form.rulekind import (
    REQUIRED,
    Kind,
    Ref,
    Value,
    choice_problems,
    decimal_of,
    descending_problems,
    number_problems,
    param_pairs,
    points_problems,
)

__all__ = [
    "KINDS",
    "grade_of",
    "out_of_band_formula",
    "qualitative_band",
    "qualitative_levels",
    "score_in_band",
]

YES = "是"
DEFAULT_GRADE_BANDS: tuple[tuple[float, str], ...] = ((90, "优"), (80, "良"), (60, "中"))
DEFAULT_GRADE_ELSE = "差"
COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")

ACTUAL, TARGET, SCORE = Cell("actual"), Cell("target"), Cell("score")


class _Ratio(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b, a = N(ACTUAL), N(TARGET)
        return IF(cmp(a, "<=", 0), 0, ROUND(call("MAX", 0, call("MIN", b / a, 1)) * w, 2))


class _Positive(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b, a = N(ACTUAL), N(TARGET)
        partial = ROUND(call("MAX", 0, b / a) * w, 2)
        score = IF(cmp(b, ">=", a), w, IF(cmp(a, "<=", 0), 0, partial))
        return blank_guard([ACTUAL, TARGET], score)


class _Reverse(Kind):
    VARIANTS = ("linear", "inverse")

    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        return choice_problems("variant", p["variant"], self.VARIANTS)

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b, a = N(ACTUAL), N(TARGET)
        if p["variant"] == "linear":
            over = IF(cmp(b, ">=", 2 * a), 0, ROUND((1 - (b - a) / a) * w, 2))
        else:
            over = ROUND(a / b * w, 2)
        score = IF(cmp(b, "<=", a), w, IF(cmp(a, "<=", 0), 0, over))
        return blank_guard([ACTUAL, TARGET], score)


class _Tiers(Kind):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        bands, problems = param_pairs("bands", p["bands"])
        if problems:
            return problems
        problems = descending_problems("bands", [b for b, _ in bands])
        for i, (_, points) in enumerate(bands):
            problems += points_problems(f"bands[{i}] points", points, w)
        return problems + points_problems("else", p["else"], w)

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b = N(ACTUAL)
        score = lift(p["else"])
        for bound, points in reversed(p["bands"]):
            score = IF(cmp(b, ">=", bound), points, score)
        return blank_guard([ACTUAL], score)


class _AgainstThreshold(Kind):
    """A kind comparing the actual with a ``threshold`` parameter, or else the target cell."""

    def operands_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        if params.get("threshold") is None:
            return ("actual", "target")
        return ("actual",)

    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        if p["threshold"] is None:
            return []
        return number_problems("threshold", p["threshold"])

    def _threshold(self, p: Mapping[str, Any]) -> tuple[Expr, list[Expr]]:
        """The threshold expression and the cells that must hold numbers for it."""
        if p["threshold"] is None:
            return N(TARGET), [ACTUAL, TARGET]
        return Num(float(p["threshold"])), [ACTUAL]


class _Deduction(_AgainstThreshold):
    DIRECTIONS = ("above", "below")
    COUNTS = ("exact", "ceil", "floor")

    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        return [
            *super()._check(p, w),
            *number_problems("step", p["step"], positive=True),
            *number_problems("per", p["per"], positive=True),
            *choice_problems("direction", p["direction"], self.DIRECTIONS),
            *choice_problems("count", p["count"], self.COUNTS),
        ]

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        t, needed = self._threshold(p)
        b = N(ACTUAL)
        excess = call("MAX", 0, b - t if p["direction"] == "above" else t - b)
        units = divided(excess, float(p["per"]))
        if p["count"] != "exact":
            # ROUND(…,9) first: (0.07-0.05)/0.01 is 2.0000000000000004, which is 2 units.
            whole = "ROUNDUP" if p["count"] == "ceil" else "ROUNDDOWN"
            units = call(whole, ROUND(units, 9), 0)
        score = ROUND(call("MAX", 0, w - scaled(float(p["step"]), units)), 2)
        return blank_guard(needed, score)


class _AllOrNothing(_AgainstThreshold):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        ops = tuple(op for op in COMPARISONS if op != "<>")
        return [*super()._check(p, w), *choice_problems("op", p["op"], ops)]

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        t, needed = self._threshold(p)
        b = N(ACTUAL)
        if p["op"] == "=":
            # Equal to 9 decimals: 100% typed as 1 and computed as 0.1*10 both count.
            met = cmp(ROUND(b - t, 9), "=", 0)
        else:
            met = cmp(b, p["op"], t)
        return blank_guard(needed, IF(met, w, 0))


class _YesNo(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        return IF(cmp(ACTUAL, "=", Text(YES)), w, 0)


class _Checklist(Kind):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        parts, problems = param_pairs("parts", p["parts"])
        if problems:
            return problems
        for i, (label, points) in enumerate(parts):
            if not isinstance(label, str) or not label:
                problems.append(f"parts[{i}] label must be a non-empty text, got {label!r}")
            problems += points_problems(f"parts[{i}] points", points, w)
        if not problems:
            total = sum((decimal_of(points) for _, points in parts), Decimal(0))
            if total != decimal_of(w):
                problems.append(f"parts add up to {total}, not the weight {num_text(w)}")
        return problems

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        if sizes["parts"] != len(p["parts"]):
            raise RuleError(
                f"{self.name}: {len(p['parts'])} parts but {sizes['parts']} cells bound"
            )
        terms = [
            IF(cmp(Cell("parts", i), "=", Text(YES)), float(points), 0)
            for i, (_, points) in enumerate(p["parts"])
        ]
        return ROUND(reduce(lambda x, y: x + y, terms), 2)


class _Input(Kind):
    """The score cell is typed in; the evaluator reads it back rounded to the cent."""

    input_scored = True

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        return blank_guard([SCORE], ROUND(N(SCORE), 2), blank=Text(""))


class _Sum(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        items = [Cell("items", i) for i in range(sizes["items"])]
        return ROUND(aggregate("SUM", items), 2)


class _Grade(Kind):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        bands, problems = param_pairs("bands", p["bands"])
        if problems:
            return problems
        problems = descending_problems("bands", [b for b, _ in bands])
        for i, (_, label) in enumerate([*bands, (None, p["else"])]):
            if not isinstance(label, str) or not label or len(label) > MAX_TEXT_CHARS:
                where = "else" if i == len(bands) else f"bands[{i}] label"
                problems.append(f"{where} must be a non-empty text, got {label!r}")
        return problems

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        inputs = [Cell("inputs", i) for i in range(sizes["inputs"])]
        total = N(Cell("total"))
        grade: Expr = Text(p["else"])
        for bound, label in reversed(p["bands"]):
            grade = IF(cmp(total, ">=", bound), label, grade)
        return IF(cmp(aggregate("COUNTA", inputs), "=", 0), "", grade)


class _Completion(Kind):
    decimals = 4

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b, a = N(ACTUAL), N(TARGET)
        both = call("AND", cmp(COUNT(ACTUAL), "=", 1), cmp(COUNT(TARGET), "=", 1))
        return IF(both, IF(cmp(a, ">", 0), ROUND(b / a, 4), ""), "")


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        _Ratio("ratio", ("actual", "target")),
        _Positive("positive", ("actual", "target")),
        _Reverse("reverse", ("actual", "target"), defaults={"variant": "linear"}),
        _Tiers("tiers", ("actual",), defaults={"bands": REQUIRED, "else": 0}),
        _Deduction(
            "deduction",
            ("actual", "target"),
            defaults={
                "threshold": None,
                "step": REQUIRED,
                "per": 1,
                "direction": REQUIRED,
                "count": "exact",
            },
        ),
        _AllOrNothing(
            "all_or_nothing", ("actual", "target"), defaults={"op": ">=", "threshold": None}
        ),
        _YesNo("yes_no", ("actual",)),
        _Checklist("checklist", (), ("parts",), defaults={"parts": REQUIRED}),
        _Input("qualitative", ("level", "score")),
        _Input("judged", ("score",)),
        _Sum("sum", (), ("items",), scored=False),
        _Grade(
            "grade",
            ("total",),
            ("inputs",),
            scored=False,
            defaults={"bands": DEFAULT_GRADE_BANDS, "else": DEFAULT_GRADE_ELSE},
        ),
        _Completion("completion", ("actual", "target"), scored=False),
        *ROW_KINDS,
    )
}
"""Every rule kind by name."""


def grade_of(
    total: Decimal,
    bands: Sequence[tuple[float, str]] | Sequence[Sequence[Any]] = DEFAULT_GRADE_BANDS,
    else_: str = DEFAULT_GRADE_ELSE,
) -> str:
    """The grade of a total: the label of the first band whose lower bound it reaches."""
    for bound, label in bands:
        if total >= decimal_of(bound):
            return str(label)
    return else_


# --- Qualitative levels (xlperf.form.qualitative) ------------------------------------------

LEVEL = Cell("level")


def _out_of_band(w: float) -> Expr:
    score = N(SCORE)
    outside = []
    for level in LEVELS:
        low, high, inclusive = qualitative_band(level, w)
        above = cmp(score, ">" if inclusive else ">=", float(high))
        below = cmp(score, "<", float(low))
        outside.append(call("AND", cmp(LEVEL, "=", Text(level)), call("OR", below, above)))
    return call("AND", cmp(COUNT(SCORE), "=", 1), call("OR", *outside))


def out_of_band_formula(level_ref: Ref, score_ref: Ref, w: float) -> str:
    """An Excel condition, TRUE when the score is filled and outside the chosen level's band.

    FALSE while the level is blank or not one of :func:`qualitative_levels`; meant for a
    conditional format on the score cell.
    """
    return "=" + _out_of_band(w).render({"level": level_ref, "score": score_ref})


def score_in_band(level: Value, score: Value, w: float) -> bool | None:
    """Whether a typed score lies in its level's band; None when either is missing or unknown."""
    if not is_number(score) or not isinstance(level, str) or level not in LEVELS:
        return None
    return not _out_of_band(w).eval({"level": level, "score": score})
