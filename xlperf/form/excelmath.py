"""LibreOffice Calc's number semantics, which the rule evaluator follows to the cent.

ROUND to 15 significant digits then half away from zero (as Excel does), comparison, addition
and subtraction with Calc's approximate equality, Calc's compensated SUM, and the few worksheet
functions the rule formulas use (:data:`FUNCTIONS`). Also the errors of building or evaluating a
rule (:class:`RuleError`, :class:`CellError`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation

Scalar = float | str | bool | None
"""What an expression node evaluates to."""


class RuleError(ValueError):
    """A rule that cannot become a formula or be evaluated: bad parameters or operands."""


class CellError(RuleError):
    """The formula would show an error value (``code``: "#DIV/0!", "#NUM!") for these inputs."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code


_E48 = 2.0**-48
_E44 = 2.0**-44
_MAX_EXACT_INT = 2.0**53 - 1


NUMBER_TYPES = (int, float)
"""For isinstance: a tuple, because ``int | float`` builds a new union object at every call,
and these tests run a few thousand times a return."""


def is_number(v: object) -> bool:
    return isinstance(v, NUMBER_TYPES) and not isinstance(v, bool)


MAX_MAGNITUDE = 1e15
"""Numbers a form can hold: a spreadsheet shows 15 significant digits, so a magnitude of 10^15
or more (or NaN, or infinity, which only a crafted file holds) is no amount, rate or score."""


def usable_number(x: object) -> bool:
    """A number the rules can compute with: finite and below :data:`MAX_MAGNITUDE`."""
    if type(x) is float:  # the common case; NaN fails both comparisons
        return -MAX_MAGNITUDE < x < MAX_MAGNITUDE
    return is_number(x) and math.isfinite(x) and abs(x) < MAX_MAGNITUDE  # type: ignore[arg-type]


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


def approx_add(a: float, b: float) -> float:
    # Calc snaps a + b to 0 when they nearly cancel, so 0.1 + 0.2 - 0.3 is exactly 0.
    if ((a < 0.0 < b) or (b < 0.0 < a)) and _approx_equal(a, -b):
        return 0.0
    return a + b


def approx_sub(a: float, b: float) -> float:
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


def arith(v: Scalar) -> float:
    if type(v) is float:
        return v
    if isinstance(v, bool) or not isinstance(v, NUMBER_TYPES):
        raise RuleError(f"expected a number, got {v!r}")
    return float(v)


def truth(v: Scalar) -> bool:
    if isinstance(v, bool):
        return v
    return arith(v) != 0.0


def compare(a: Scalar, b: Scalar) -> int:
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


CMP: dict[str, Callable[[int], bool]] = {
    "=": lambda c: c == 0,
    "<>": lambda c: c != 0,
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def _n(v: Scalar) -> float:
    return float(v) if isinstance(v, NUMBER_TYPES) and not isinstance(v, bool) else 0.0


def _round_fn(mode: str) -> Callable[[list[Scalar]], Scalar]:
    return lambda a: float(_round_decimal(arith(a[0]), int(arith(a[1])), mode))


FUNCTIONS: dict[str, Callable[[list[Scalar]], Scalar]] = {
    "N": lambda a: _n(a[0]),
    "COUNT": lambda a: float(sum(is_number(v) for v in a)),
    "COUNTA": lambda a: float(sum(v is not None and v != "" for v in a)),
    "SUM": lambda a: _lo_sum(arith(v) for v in a if is_number(v)),
    "MIN": lambda a: min(arith(v) for v in a),
    "MAX": lambda a: max(arith(v) for v in a),
    "ROUND": _round_fn(ROUND_HALF_UP),
    "ROUNDUP": _round_fn(ROUND_UP),
    "ROUNDDOWN": _round_fn(ROUND_DOWN),
    "AND": lambda a: all(truth(v) for v in a),
    "OR": lambda a: any(truth(v) for v in a),
}


