"""The base of every rule kind (:class:`Kind`): checking a rule's parameters, building its
expression tree once per distinct rule, and its formula and evaluation; plus the parameter
checks the kinds share. The kinds themselves are in :mod:`xlperf.form.rules`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar

from xlperf.form.excelmath import RuleError, arith, excel_round
from xlperf.form.expr import Bound, Expr, num_text

Value = float | int | str | None
"""A cell value as read back from a file: a number, a text, or None for a blank cell."""

Ref = str
"""An A1 reference text, possibly sheet-qualified: ``D5``, ``'评分表'!$D$5``."""

MAX_FORMULA_CHARS = 8192
# Excel nests at most 64 functions; every band costs one IF.
MAX_BANDS = 30


REQUIRED: Any = object()
"""Default of a parameter that has none."""


def decimal_of(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _places(x: float) -> int:
    exponent = decimal_of(x).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _is_param_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def number_problems(
    name: str, v: object, *, positive: bool = False, places: int | None = None
) -> list[str]:
    if not _is_param_number(v):
        return [f"{name} must be a number, got {v!r}"]
    x = float(v)  # type: ignore[arg-type]
    if positive and x <= 0:
        return [f"{name} must be greater than 0, got {v!r}"]
    if places is not None and _places(x) > places:
        return [f"{name} must have at most {places} decimals, got {v!r}"]
    return []


def points_problems(name: str, v: object, w: float) -> list[str]:
    problems = number_problems(name, v, places=2)
    if not problems and not 0 <= float(v) <= w:  # type: ignore[arg-type]
        problems.append(f"{name} must lie between 0 and the weight {num_text(w)}, got {v!r}")
    return problems


def choice_problems(name: str, v: object, choices: Sequence[str]) -> list[str]:
    if v in choices:
        return []
    return [f"{name} must be one of {', '.join(map(repr, choices))}, got {v!r}"]


def param_pairs(name: str, value: object) -> tuple[list[tuple[Any, Any]], list[str]]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        return [], [f"{name} must be a non-empty list of pairs"]
    if len(value) > MAX_BANDS:
        return [], [f"{name} has {len(value)} entries; at most {MAX_BANDS} fit in a formula"]
    pairs, problems = [], []
    for i, item in enumerate(value):
        if isinstance(item, str) or not isinstance(item, Sequence) or len(item) != 2:
            problems.append(f"{name}[{i}] must be a pair, got {item!r}")
        else:
            pairs.append((item[0], item[1]))
    return pairs, problems


def descending_problems(name: str, bounds: Sequence[Any]) -> list[str]:
    problems = [p for i, b in enumerate(bounds) for p in number_problems(f"{name}[{i}][0]", b)]
    if not problems and any(a <= b for a, b in zip(bounds, bounds[1:], strict=False)):
        problems.append(f"{name} bounds must be strictly descending, got {list(bounds)!r}")
    return problems



# --- the kind ----------------------------------------------------------------------------

RULE_CACHE_SIZE = 4096
"""Distinct (kind, parameters, weight[, list sizes]) remembered; a form has a few dozen."""
_VALID_RULES: dict[tuple[Any, ...], bool] = {}
"""Rules whose parameters and weight passed check_params."""
_EXPRS: dict[tuple[Any, ...], Expr] = {}
"""Expression trees by rule and list sizes."""
_SCALARS = (str, int, bool, type(None))


def _frozen(value: object) -> object:
    """A hashable key equal only for values that behave identically as rule parameters.

    Types are part of the key (True == 1 == 1.0 in Python, but a weight of True is an error);
    floats go by repr (so -0.0 and 0.0 differ, and a nan key equals itself). Anything else than
    None, bool, int, float, str, lists, tuples and mappings of them raises TypeError."""
    kind = type(value)
    if kind is float:
        return kind, repr(value)
    if kind in _SCALARS:
        return kind, value
    if kind is list or kind is tuple:
        return kind, tuple(_frozen(x) for x in value)  # type: ignore[attr-defined]
    if isinstance(value, Mapping):
        return kind, tuple((_frozen(k), _frozen(v)) for k, v in value.items())
    raise TypeError(f"no cache key for {kind.__name__}")


def _remember(cache: dict[tuple[Any, ...], Any], key: tuple[Any, ...], value: object) -> None:
    if len(cache) >= RULE_CACHE_SIZE:
        cache.clear()  # specs built on the fly (tests, a spec editor) must not grow it forever
    cache[key] = value


@dataclass(frozen=True, eq=False)
class Kind:
    """A scoring rule kind (``scored``) or a calculation kind; subclasses build the expression.

    ``defaults`` lists the parameters the kind accepts with their default values
    (:data:`REQUIRED` for none).
    """

    name: str
    operands: tuple[str, ...]
    list_operands: tuple[str, ...] = ()
    scored: bool = True
    defaults: Mapping[str, Any] = field(default_factory=dict)

    input_scored: ClassVar[bool] = False
    """The score is typed in by a person; formula() gives None."""
    decimals: ClassVar[int] = 2

    def operands_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        """The operands a rule with these parameters reads."""
        return self.operands + self.list_operands

    def check_params(
        self,
        params: Mapping[str, Any],
        weight: float | None,
        operands: Collection[str] | None = None,
    ) -> list[str]:
        """Problems with a rule's parameters and weight ([] if none).

        With ``operands`` (the operand names the spec binds), also reports missing and unknown
        operands, e.g. a deduction with neither a threshold nor a target.
        """
        problems = [f"unknown parameter {k!r}" for k in params if k not in self.defaults]
        problems += [
            f"parameter {k!r} is required"
            for k, d in self.defaults.items()
            if d is REQUIRED and k not in params
        ]
        problems += self._weight_problems(weight)
        if problems:
            return problems
        problems = self._check(self._with_defaults(params), float(weight or 0))
        if operands is not None and not problems:
            known = self.operands + self.list_operands
            for name in self.operands_for(params):
                if name not in operands:
                    hint = " (or a 'threshold' parameter)" if "threshold" in self.defaults else ""
                    problems.append(f"operand {name!r} is required{hint}")
            problems += [f"unknown operand {name!r}" for name in operands if name not in known]
        return problems

    def formula(
        self,
        params: Mapping[str, Any],
        weight: float | None,
        refs: Mapping[str, Ref | Sequence[Ref]],
    ) -> str | None:
        """The Excel formula of the rule ("=…"), or None when the score is typed in."""
        if self.input_scored:
            return None
        return self.evaluator_formula(params, weight, refs)

    def evaluator_formula(
        self,
        params: Mapping[str, Any],
        weight: float | None,
        refs: Mapping[str, Ref | Sequence[Ref]],
    ) -> str:
        """Excel text of exactly what evaluate() computes; for input kinds, the input read back."""
        text = "=" + self.expression(params, weight, refs).render(refs)
        if len(text) > MAX_FORMULA_CHARS:
            raise RuleError(f"{self.name}: formula longer than {MAX_FORMULA_CHARS} characters")
        return text

    def evaluate(
        self,
        params: Mapping[str, Any],
        weight: float | None,
        values: Mapping[str, Value | Sequence[Value]],
    ) -> Decimal | str | None:
        """What the formula gives for these cell values: a Decimal, a text, or None (blank)."""
        return self.result(self.expression(params, weight, values).eval(values))

    def result(self, raw: Any) -> Decimal | str | None:
        """The cell's value from what the rule's tree gave."""
        if isinstance(raw, str):
            return None if self.input_scored and raw == "" else raw
        return excel_round(arith(raw), self.decimals)

    def expression(self, params: Mapping[str, Any], weight: float | None, bound: Bound) -> Expr:
        """The rule's expression tree for operands shaped as ``bound`` (names, list sizes);
        raises RuleError for a rule that is not valid. ``result(expr.eval(values))`` is
        ``evaluate(params, weight, values)`` for any values of that shape."""
        # The tree depends on the parameters, the weight and the sizes of list operands only,
        # and is immutable: it is built once per distinct rule (a form evaluates the same
        # rules for every return). Parameters that cannot be keyed exactly are not cached.
        try:
            rule: tuple[Any, ...] | None = (self, _frozen(params), _frozen(weight))
        except TypeError:
            rule = None
        if rule is None or rule not in _VALID_RULES:
            problems = self.check_params(params, weight)
            if problems:
                raise RuleError(f"{self.name}: {'; '.join(problems)}")
            if rule is not None:
                _remember(_VALID_RULES, rule, True)
        for name in self.operands_for(params):
            if name not in bound:
                raise RuleError(f"{self.name}: operand {name!r} is not bound")
        sizes = {}
        for name in self.list_operands:
            seq = bound[name]
            if isinstance(seq, str) or not isinstance(seq, Sequence):
                raise RuleError(f"{self.name}: operand {name!r} takes a list of cells")
            sizes[name] = len(seq)
        if rule is None:
            return self._expr(self._with_defaults(params), float(weight or 0), sizes)
        key = (rule, tuple(sizes.items()))
        expr = _EXPRS.get(key)
        if expr is None:
            expr = self._expr(self._with_defaults(params), float(weight or 0), sizes)
            _remember(_EXPRS, key, expr)
        return expr

    def _with_defaults(self, params: Mapping[str, Any]) -> dict[str, Any]:
        return {**self.defaults, **params}

    def _weight_problems(self, weight: float | None) -> list[str]:
        if not self.scored:
            return [] if weight is None else ["a calculation takes no weight"]
        if weight is None:
            return ["a weight is required"]
        return number_problems("weight", weight, positive=True, places=2)

    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        return []

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        raise NotImplementedError


