"""Scoring rule kinds: each turns a rule of a form into an Excel formula and a Python evaluator.

A rule kind (``ratio``, ``tiers``, ``deduction`` …) scores one row of a scorecard from the cells
of its operands (actual, target, the parts of a checklist …), its parameters (bands, thresholds,
steps) and its weight. Calculation kinds (``sum``, ``grade``, ``completion``) work the same way
without a weight.

The template writes the formula; the checker recomputes the score of a returned file with the
evaluator. The two must agree to the cent, so both come from one expression tree (:class:`Expr`):
the formula is that tree rendered as Excel text, the evaluator interprets the same tree in
Python floats with LibreOffice Calc's arithmetic: ROUND to 15 significant digits then half away
from zero (as Excel does), comparison, addition and subtraction with Calc's approximate equality,
Calc's compensated SUM. The evaluator's operation order therefore cannot drift from the
formula's. LibreOffice is the reference: the engine tests (tests/test_rules_engine.py)
recalculate every kind's formula there on hundreds of inputs and compare cell by cell.

Formulas use only functions that Excel 2010, WPS and LibreOffice share.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation
from functools import reduce
from typing import Any, ClassVar

__all__ = [
    "KINDS",
    "CellError",
    "Kind",
    "Ref",
    "RuleError",
    "Value",
    "excel_round",
    "grade_of",
    "out_of_band_formula",
    "qualitative_band",
    "qualitative_levels",
    "score_in_band",
]

Value = float | int | str | None
"""A cell value as read back from a file: a number, a text, or None for a blank cell."""

Ref = str
"""An A1 reference text, possibly sheet-qualified: ``D5``, ``'评分表'!$D$5``."""

Scalar = float | str | bool | None
"""What an expression node evaluates to."""

YES = "是"
DEFAULT_GRADE_BANDS: tuple[tuple[float, str], ...] = ((90, "优"), (80, "良"), (60, "中"))
DEFAULT_GRADE_ELSE = "差"

# Excel allows 255 arguments per function call; list operands longer than this are chunked.
MAX_ARGS = 250
MAX_FORMULA_CHARS = 8192
# Excel nests at most 64 functions; every band costs one IF.
MAX_BANDS = 30
MAX_TEXT_CHARS = 255
COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")
MAX_MAGNITUDE = 1e15
"""Numbers a form can hold: a spreadsheet shows 15 significant digits, so a magnitude of 10^15
or more (or NaN, or infinity, which only a crafted file holds) is no amount, rate or score."""


def usable_number(x: object) -> bool:
    """A number the rules can compute with: finite and below :data:`MAX_MAGNITUDE`."""
    return _is_number(x) and math.isfinite(x) and abs(x) < MAX_MAGNITUDE  # type: ignore[arg-type]


class RuleError(ValueError):
    """A rule that cannot become a formula or be evaluated: bad parameters or operands."""


class CellError(RuleError):
    """The formula would show an error value (``code``: "#DIV/0!", "#NUM!") for these inputs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code


# --- LibreOffice arithmetic ---------------------------------------------------------------

_E48 = 2.0**-48
_E44 = 2.0**-44
_MAX_EXACT_INT = 2.0**53 - 1


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _representable_int(x: float) -> bool:
    return x <= _MAX_EXACT_INT and x == math.floor(x)


def _approx_equal(a: float, b: float) -> bool:
    """rtl::math::approxEqual: equal within 2^-48 relative, which Calc uses for every comparison."""
    if a == b:
        return True
    if a == 0.0 or b == 0.0:
        return False
    d = abs(a - b)
    if not math.isfinite(d):
        return False
    a, b = abs(a), abs(b)
    if d > a * _E44 or d > b * _E44:
        return False
    if _representable_int(d) and _representable_int(a) and _representable_int(b):
        return False
    return d < a * _E48 and d < b * _E48


def _approx_add(a: float, b: float) -> float:
    # Calc snaps a + b to 0 when they nearly cancel, so 0.1 + 0.2 - 0.3 is exactly 0.
    if ((a < 0.0 < b) or (b < 0.0 < a)) and _approx_equal(a, -b):
        return 0.0
    return a + b


def _approx_sub(a: float, b: float) -> float:
    if ((a < 0.0 and b < 0.0) or (a > 0.0 and b > 0.0)) and _approx_equal(a, b):
        return 0.0
    return a - b


def _neumaier(total: float, err: float, x: float) -> tuple[float, float]:
    t = total + x
    if abs(total) >= abs(x):
        err += (total - t) + x
    else:
        err += (x - t) + total
    return t, err


def _lo_sum(xs: Iterable[float]) -> float:
    """SUM as Calc computes it (sc/inc/kahan.hxx).

    Neumaier summation that holds back the latest term and adds it last the way approxAdd does.
    """
    total = err = mem = 0.0
    for x in xs:
        if x == 0.0:
            continue
        if mem != 0.0:
            total, err = _neumaier(total, err, mem)
        mem = x
    if mem == 0.0:
        return total + err
    partial = total + err
    if ((mem < 0.0 < partial) or (partial < 0.0 < mem)) and _approx_equal(mem, -partial):
        return 0.0
    total, err = _neumaier(total, err, mem)
    return total + err


def _round_decimal(x: float, digits: int, mode: str) -> Decimal:
    if not math.isfinite(x):
        raise RuleError(f"cannot round {x!r}")
    # Excel and Calc round the binary value to 15 significant digits first: 81.5/100*5 is
    # 4.07499999999999 in binary but 4.075 to them, so ROUND(...,2) gives 4.08.
    try:
        d = Decimal(f"{x:.15g}").quantize(Decimal(1).scaleb(-digits), rounding=mode)
    except InvalidOperation:  # more digits than the decimal context holds (1e26 and up)
        raise RuleError(f"cannot round {x!r}") from None
    return abs(d) if d == 0 else d


def excel_round(x: float, digits: int = 2) -> Decimal:
    """Excel's and LibreOffice's ROUND(x, digits): 15 significant digits, then half away from 0."""
    return _round_decimal(x, digits, ROUND_HALF_UP)


def _arith(v: Scalar) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise RuleError(f"expected a number, got {v!r}")
    return float(v)


def _truth(v: Scalar) -> bool:
    if isinstance(v, bool):
        return v
    return _arith(v) != 0.0


def _compare(a: Scalar, b: Scalar) -> int:
    """Calc's comparison: a blank is 0 or "", numbers compare approximately, text > number."""
    if a is None:
        a = "" if isinstance(b, str) else 0.0
    if b is None:
        b = "" if isinstance(a, str) else 0.0
    if isinstance(a, str) and isinstance(b, str):
        # Excel and Calc compare text case-insensitively; the texts compared here (是, levels)
        # have no case, so exact equality is the same thing.
        return 0 if a == b else (1 if a > b else -1)
    if isinstance(a, str):
        return 1
    if isinstance(b, str):
        return -1
    fa, fb = float(a), float(b)
    if _approx_equal(fa, fb):
        return 0
    return -1 if fa - fb < 0.0 else 1


_CMP: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0,
    "<>": lambda c: c != 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def _n(v: Scalar) -> float:
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else 0.0


def _round_fn(mode: str) -> Callable[[list[Scalar]], Scalar]:
    return lambda a: float(_round_decimal(_arith(a[0]), int(_arith(a[1])), mode))


_FUNCTIONS: dict[str, Callable[[list[Scalar]], Scalar]] = {
    "N": lambda a: _n(a[0]),
    "COUNT": lambda a: float(sum(_is_number(v) for v in a)),
    "COUNTA": lambda a: float(sum(v is not None and v != "" for v in a)),
    "SUM": lambda a: _lo_sum(_arith(v) for v in a if _is_number(v)),
    "MIN": lambda a: min(_arith(v) for v in a),
    "MAX": lambda a: max(_arith(v) for v in a),
    "ROUND": _round_fn(ROUND_HALF_UP),
    "ROUNDUP": _round_fn(ROUND_UP),
    "ROUNDDOWN": _round_fn(ROUND_DOWN),
    "AND": lambda a: all(_truth(v) for v in a),
    "OR": lambda a: any(_truth(v) for v in a),
}


# --- Expressions --------------------------------------------------------------------------

Bound = Mapping[str, Any]
"""Operand name → a ref (rendering) or a value (evaluating); list operands → a sequence."""


def _num_text(x: float) -> str:
    if x == 0:
        return "0"
    # Plain decimal notation: the shortest text that reads back as the same double, no exponent.
    text = format(Decimal(repr(float(x))), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def _text_literal(s: str) -> str:
    if len(s) > MAX_TEXT_CHARS:
        raise RuleError(f"text longer than {MAX_TEXT_CHARS} characters: {s[:20]!r}…")
    return '"' + s.replace('"', '""') + '"'


class Expr:
    """A node of a formula: renders as Excel text and evaluates the way LibreOffice does."""

    def render(self, refs: Bound) -> str:
        raise NotImplementedError

    def eval(self, values: Bound) -> Scalar:
        raise NotImplementedError

    def __add__(self, other: Expr | float) -> Expr:
        return Bin("+", self, lift(other))

    def __radd__(self, other: float) -> Expr:
        return Bin("+", lift(other), self)

    def __sub__(self, other: Expr | float) -> Expr:
        return Bin("-", self, lift(other))

    def __rsub__(self, other: float) -> Expr:
        return Bin("-", lift(other), self)

    def __mul__(self, other: Expr | float) -> Expr:
        return Bin("*", self, lift(other))

    def __rmul__(self, other: float) -> Expr:
        return Bin("*", lift(other), self)

    def __truediv__(self, other: Expr | float) -> Expr:
        return Bin("/", self, lift(other))


def lift(x: Expr | float) -> Expr:
    return x if isinstance(x, Expr) else Num(float(x))


@dataclass(frozen=True, eq=False)
class Num(Expr):
    value: float

    def render(self, refs: Bound) -> str:
        return _num_text(self.value)

    def eval(self, values: Bound) -> Scalar:
        return float(self.value)


@dataclass(frozen=True, eq=False)
class Text(Expr):
    value: str

    def render(self, refs: Bound) -> str:
        return _text_literal(self.value)

    def eval(self, values: Bound) -> Scalar:
        return self.value


def _bound(bound: Bound, operand: str, index: int | None) -> Any:
    if operand not in bound:
        raise RuleError(f"operand {operand!r} is not bound")
    item = bound[operand]
    if index is None:
        if isinstance(item, list | tuple):
            raise RuleError(f"operand {operand!r} takes one cell, not a list")
        return item
    if isinstance(item, str) or not isinstance(item, Sequence):
        raise RuleError(f"operand {operand!r} takes a list of cells")
    return item[index]


@dataclass(frozen=True, eq=False)
class Cell(Expr):
    """The cell bound to an operand (``index`` picks one cell of a list operand)."""

    operand: str
    index: int | None = None

    def render(self, refs: Bound) -> str:
        ref = _bound(refs, self.operand, self.index)
        if not isinstance(ref, str) or not ref:
            raise RuleError(f"operand {self.operand!r}: a reference must be a text, got {ref!r}")
        return ref

    def eval(self, values: Bound) -> Scalar:
        v = _bound(values, self.operand, self.index)
        if v is None or isinstance(v, str):
            return v
        if _is_number(v):
            return float(v)
        # Booleans, dates and the like: a non-blank cell that is not a number.
        return str(v)


@dataclass(frozen=True, eq=False)
class Call(Expr):
    fn: str
    args: tuple[Expr, ...]

    def render(self, refs: Bound) -> str:
        return f"{self.fn}({','.join(a.render(refs) for a in self.args)})"

    def eval(self, values: Bound) -> Scalar:
        return _FUNCTIONS[self.fn]([a.eval(values) for a in self.args])


@dataclass(frozen=True, eq=False)
class If(Expr):
    cond: Expr
    then: Expr
    other: Expr

    def render(self, refs: Bound) -> str:
        return f"IF({self.cond.render(refs)},{self.then.render(refs)},{self.other.render(refs)})"

    def eval(self, values: Bound) -> Scalar:
        # Lazy like Excel's IF, so a guarded division never runs.
        return (self.then if _truth(self.cond.eval(values)) else self.other).eval(values)


@dataclass(frozen=True, eq=False)
class Cmp(Expr):
    op: str
    left: Expr
    right: Expr

    def render(self, refs: Bound) -> str:
        return f"{self.left.render(refs)}{self.op}{self.right.render(refs)}"

    def eval(self, values: Bound) -> Scalar:
        a, b = self.left.eval(values), self.right.eval(values)
        if (isinstance(a, str) or isinstance(b, str)) and self.op not in ("=", "<>"):
            raise RuleError("text is only compared for equality")
        return _CMP[self.op](_compare(a, b))


_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


@dataclass(frozen=True, eq=False)
class Bin(Expr):
    op: str
    left: Expr
    right: Expr

    def _operand(self, child: Expr, refs: Bound, right: bool) -> str:
        text = child.render(refs)
        if isinstance(child, Num) and child.value < 0:
            return f"({text})"
        if isinstance(child, Cmp):
            return f"({text})"
        if isinstance(child, Bin):
            mine, theirs = _PRECEDENCE[self.op], _PRECEDENCE[child.op]
            # Excel evaluates left to right, and float arithmetic is not associative: a right
            # operand of the same precedence keeps its parentheses even for + and *.
            if theirs < mine or (right and theirs == mine):
                return f"({text})"
        return text

    def render(self, refs: Bound) -> str:
        left = self._operand(self.left, refs, right=False)
        return left + self.op + self._operand(self.right, refs, right=True)

    def eval(self, values: Bound) -> Scalar:
        a, b = _arith(self.left.eval(values)), _arith(self.right.eval(values))
        if self.op == "+":
            result = _approx_add(a, b)
        elif self.op == "-":
            result = _approx_sub(a, b)
        elif self.op == "*":
            result = a * b
        elif b == 0.0:
            raise CellError("#DIV/0!", f"{_num_text(a)}/0")
        else:
            result = a / b
        if not math.isfinite(result):
            # Calc turns an overflow (a number divided by a subnormal one) into #NUM!.
            raise CellError("#NUM!", f"{_num_text(a)}{self.op}{_num_text(b)} overflows")
        return result


def call(fn: str, *args: Expr | float) -> Expr:
    return Call(fn, tuple(lift(a) for a in args))


def cmp(left: Expr | float, op: str, right: Expr | float) -> Expr:
    return Cmp(op, lift(left), lift(right))


def IF(cond: Expr, then: Expr | float | str, other: Expr | float | str) -> Expr:
    def arg(x: Expr | float | str) -> Expr:
        return Text(x) if isinstance(x, str) else lift(x)

    return If(cond, arg(then), arg(other))


def N(x: Expr) -> Expr:
    return call("N", x)


def COUNT(x: Expr) -> Expr:
    return call("COUNT", x)


def ROUND(x: Expr, digits: int) -> Expr:
    return call("ROUND", x, digits)


def _times(factor: float, x: Expr) -> Expr:
    return x if factor == 1 else factor * x


def _over(x: Expr, divisor: float) -> Expr:
    return x if divisor == 1 else x / divisor


def _blank_guard(cells: Sequence[Expr], then: Expr, blank: Expr | float = 0) -> Expr:
    """``blank`` when any of the cells holds no number, else ``then``."""
    tests = [cmp(COUNT(c), "=", 0) for c in cells]
    cond = tests[0] if len(tests) == 1 else call("OR", *tests)
    return If(cond, lift(blank), then)


def _aggregate(fn: str, cells: Sequence[Expr]) -> Expr:
    """``fn`` over many cells, split into SUM(fn(…), fn(…)) past Excel's argument limit."""
    if not cells:
        raise RuleError("a list operand needs at least one cell")
    if len(cells) <= MAX_ARGS:
        return call(fn, *cells)
    chunks = [call(fn, *cells[i : i + MAX_ARGS]) for i in range(0, len(cells), MAX_ARGS)]
    if len(chunks) > MAX_ARGS:
        raise RuleError(f"too many cells for one formula: {len(cells)}")
    return call("SUM", *chunks)


# --- Parameter checks ---------------------------------------------------------------------

REQUIRED: Any = object()
"""Default of a parameter that has none."""


def _decimal(x: float) -> Decimal:
    return Decimal(repr(float(x)))


def _places(x: float) -> int:
    exponent = _decimal(x).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _is_param_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _number_problems(
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


def _points_problems(name: str, v: object, w: float) -> list[str]:
    problems = _number_problems(name, v, places=2)
    if not problems and not 0 <= float(v) <= w:  # type: ignore[arg-type]
        problems.append(f"{name} must lie between 0 and the weight {_num_text(w)}, got {v!r}")
    return problems


def _choice_problems(name: str, v: object, choices: Sequence[str]) -> list[str]:
    if v in choices:
        return []
    return [f"{name} must be one of {', '.join(map(repr, choices))}, got {v!r}"]


def _pairs(name: str, value: object) -> tuple[list[tuple[Any, Any]], list[str]]:
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


def _descending_problems(name: str, bounds: Sequence[Any]) -> list[str]:
    problems = [p for i, b in enumerate(bounds) for p in _number_problems(f"{name}[{i}][0]", b)]
    if not problems and any(a <= b for a, b in zip(bounds, bounds[1:], strict=False)):
        problems.append(f"{name} bounds must be strictly descending, got {list(bounds)!r}")
    return problems


# --- Kinds --------------------------------------------------------------------------------

ACTUAL, TARGET, SCORE = Cell("actual"), Cell("target"), Cell("score")

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
        text = "=" + self._build(params, weight, refs).render(refs)
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
        raw = self._build(params, weight, values).eval(values)
        if isinstance(raw, str):
            return None if self.input_scored and raw == "" else raw
        return excel_round(_arith(raw), self.decimals)

    def _build(self, params: Mapping[str, Any], weight: float | None, bound: Bound) -> Expr:
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
        return _number_problems("weight", weight, positive=True, places=2)

    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        return []

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        raise NotImplementedError


class _Ratio(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b, a = N(ACTUAL), N(TARGET)
        return IF(cmp(a, "<=", 0), 0, ROUND(call("MAX", 0, call("MIN", b / a, 1)) * w, 2))


class _Positive(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b, a = N(ACTUAL), N(TARGET)
        partial = ROUND(call("MAX", 0, b / a) * w, 2)
        score = IF(cmp(b, ">=", a), w, IF(cmp(a, "<=", 0), 0, partial))
        return _blank_guard([ACTUAL, TARGET], score)


class _Reverse(Kind):
    VARIANTS = ("linear", "inverse")

    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        return _choice_problems("variant", p["variant"], self.VARIANTS)

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b, a = N(ACTUAL), N(TARGET)
        if p["variant"] == "linear":
            over = IF(cmp(b, ">=", 2 * a), 0, ROUND((1 - (b - a) / a) * w, 2))
        else:
            over = ROUND(a / b * w, 2)
        score = IF(cmp(b, "<=", a), w, IF(cmp(a, "<=", 0), 0, over))
        return _blank_guard([ACTUAL, TARGET], score)


class _Tiers(Kind):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        bands, problems = _pairs("bands", p["bands"])
        if problems:
            return problems
        problems = _descending_problems("bands", [b for b, _ in bands])
        for i, (_, points) in enumerate(bands):
            problems += _points_problems(f"bands[{i}] points", points, w)
        return problems + _points_problems("else", p["else"], w)

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        b = N(ACTUAL)
        score = lift(p["else"])
        for bound, points in reversed(p["bands"]):
            score = IF(cmp(b, ">=", bound), points, score)
        return _blank_guard([ACTUAL], score)


class _AgainstThreshold(Kind):
    """A kind comparing the actual with a ``threshold`` parameter, or else the target cell."""

    def operands_for(self, params: Mapping[str, Any]) -> tuple[str, ...]:
        if params.get("threshold") is None:
            return ("actual", "target")
        return ("actual",)

    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        if p["threshold"] is None:
            return []
        return _number_problems("threshold", p["threshold"])

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
            *_number_problems("step", p["step"], positive=True),
            *_number_problems("per", p["per"], positive=True),
            *_choice_problems("direction", p["direction"], self.DIRECTIONS),
            *_choice_problems("count", p["count"], self.COUNTS),
        ]

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        t, needed = self._threshold(p)
        b = N(ACTUAL)
        excess = call("MAX", 0, b - t if p["direction"] == "above" else t - b)
        units = _over(excess, float(p["per"]))
        if p["count"] != "exact":
            # ROUND(…,9) first: (0.07-0.05)/0.01 is 2.0000000000000004, which is 2 units.
            whole = "ROUNDUP" if p["count"] == "ceil" else "ROUNDDOWN"
            units = call(whole, ROUND(units, 9), 0)
        score = ROUND(call("MAX", 0, w - _times(float(p["step"]), units)), 2)
        return _blank_guard(needed, score)


class _AllOrNothing(_AgainstThreshold):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        ops = tuple(op for op in COMPARISONS if op != "<>")
        return [*super()._check(p, w), *_choice_problems("op", p["op"], ops)]

    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        t, needed = self._threshold(p)
        b = N(ACTUAL)
        if p["op"] == "=":
            # Equal to 9 decimals: 100% typed as 1 and computed as 0.1*10 both count.
            met = cmp(ROUND(b - t, 9), "=", 0)
        else:
            met = cmp(b, p["op"], t)
        return _blank_guard(needed, IF(met, w, 0))


class _YesNo(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        return IF(cmp(ACTUAL, "=", Text(YES)), w, 0)


class _Checklist(Kind):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        parts, problems = _pairs("parts", p["parts"])
        if problems:
            return problems
        for i, (label, points) in enumerate(parts):
            if not isinstance(label, str) or not label:
                problems.append(f"parts[{i}] label must be a non-empty text, got {label!r}")
            problems += _points_problems(f"parts[{i}] points", points, w)
        if not problems:
            total = sum((_decimal(points) for _, points in parts), Decimal(0))
            if total != _decimal(w):
                problems.append(f"parts add up to {total}, not the weight {_num_text(w)}")
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
        return _blank_guard([SCORE], ROUND(N(SCORE), 2), blank=Text(""))


class _Sum(Kind):
    def _expr(self, p: Mapping[str, Any], w: float, sizes: Mapping[str, int]) -> Expr:
        items = [Cell("items", i) for i in range(sizes["items"])]
        return ROUND(_aggregate("SUM", items), 2)


class _Grade(Kind):
    def _check(self, p: Mapping[str, Any], w: float) -> list[str]:
        bands, problems = _pairs("bands", p["bands"])
        if problems:
            return problems
        problems = _descending_problems("bands", [b for b, _ in bands])
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
        return IF(cmp(_aggregate("COUNTA", inputs), "=", 0), "", grade)


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
        if total >= _decimal(bound):
            return str(label)
    return else_


# --- Qualitative levels -------------------------------------------------------------------

# level → (low, high) as fractions of the weight, and whether high is inside the band
_LEVELS: dict[str, tuple[Decimal, Decimal, bool]] = {
    "达成年度指标": (Decimal("0.8"), Decimal("1"), True),
    "部分达成年度指标并具有一定效果": (Decimal("0.6"), Decimal("0.8"), False),
    "未达成年度指标且效果较差": (Decimal("0"), Decimal("0.6"), False),
}
LEVEL = Cell("level")


def qualitative_levels() -> tuple[str, ...]:
    """The levels a qualitative indicator can be given, best first."""
    return tuple(_LEVELS)


def qualitative_band(level: str, w: float) -> tuple[Decimal, Decimal, bool]:
    """(low, high, high_inclusive) of the scores a level allows under weight ``w``."""
    if level not in _LEVELS:
        raise RuleError(f"unknown qualitative level {level!r}")
    low, high, inclusive = _LEVELS[level]
    return low * _decimal(w), high * _decimal(w), inclusive


def _out_of_band(w: float) -> Expr:
    score = N(SCORE)
    outside = []
    for level in _LEVELS:
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
    if not _is_number(score) or not isinstance(level, str) or level not in _LEVELS:
        return None
    return not _out_of_band(w).eval({"level": level, "score": score})
