"""The expression tree of rule formulas: one tree renders as Excel text and evaluates in Python.

The template writes the formula; the checker recomputes the score of a returned file with the
evaluator. The two must agree to the cent, so both come from one tree (:class:`Expr`): the
formula is that tree rendered as Excel text, the evaluator interprets the same tree with
LibreOffice Calc's arithmetic (:mod:`xlperf.form.excelmath`), so the evaluator's operation order
cannot drift from the formula's. Formulas use only functions that Excel 2010, WPS and
LibreOffice share.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from xlperf.form.excelmath import (
    CMP,
    FUNCTIONS,
    CellError,
    RuleError,
    Scalar,
    approx_add,
    approx_sub,
    arith,
    compare,
    is_number,
    truth,
)

# Excel allows 255 arguments per function call; list operands longer than this are chunked.
MAX_ARGS = 250
MAX_TEXT_CHARS = 255


Bound = Mapping[str, Any]
"""Operand name → a ref (rendering) or a value (evaluating); list operands → a sequence."""


def num_text(x: float) -> str:
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
        return num_text(self.value)

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
        if is_number(v):
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
        return FUNCTIONS[self.fn]([a.eval(values) for a in self.args])


@dataclass(frozen=True, eq=False)
class If(Expr):
    cond: Expr
    then: Expr
    other: Expr

    def render(self, refs: Bound) -> str:
        return f"IF({self.cond.render(refs)},{self.then.render(refs)},{self.other.render(refs)})"

    def eval(self, values: Bound) -> Scalar:
        # Lazy like Excel's IF, so a guarded division never runs.
        return (self.then if truth(self.cond.eval(values)) else self.other).eval(values)


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
        return CMP[self.op](compare(a, b))


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
        a, b = arith(self.left.eval(values)), arith(self.right.eval(values))
        if self.op == "+":
            result = approx_add(a, b)
        elif self.op == "-":
            result = approx_sub(a, b)
        elif self.op == "*":
            result = a * b
        elif b == 0.0:
            raise CellError("#DIV/0!", f"{num_text(a)}/0")
        else:
            result = a / b
        if not math.isfinite(result):
            # Calc turns an overflow (a number divided by a subnormal one) into #NUM!.
            raise CellError("#NUM!", f"{num_text(a)}{self.op}{num_text(b)} overflows")
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


def scaled(factor: float, x: Expr) -> Expr:
    return x if factor == 1 else factor * x


def divided(x: Expr, divisor: float) -> Expr:
    return x if divisor == 1 else x / divisor


def blank_guard(cells: Sequence[Expr], then: Expr, blank: Expr | float = 0) -> Expr:
    """``blank`` when any of the cells holds no number, else ``then``."""
    tests = [cmp(COUNT(c), "=", 0) for c in cells]
    cond = tests[0] if len(tests) == 1 else call("OR", *tests)
    return If(cond, lift(blank), then)


def aggregate(fn: str, cells: Sequence[Expr]) -> Expr:
    """``fn`` over many cells, split into SUM(fn(…), fn(…)) past Excel's argument limit."""
    if not cells:
        raise RuleError("a list operand needs at least one cell")
    if len(cells) <= MAX_ARGS:
        return call(fn, *cells)
    chunks = [call(fn, *cells[i : i + MAX_ARGS]) for i in range(0, len(cells), MAX_ARGS)]
    if len(chunks) > MAX_ARGS:
        raise RuleError(f"too many cells for one formula: {len(cells)}")
    return call("SUM", *chunks)


