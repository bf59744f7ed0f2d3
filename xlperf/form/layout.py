"""A form laid out in cells: the one source of cell addresses.

:class:`FormLayout` holds sheets of placed cells (labels, inputs, formulas, fixed numbers), the
computed cells in evaluation order and the conditional formats; :mod:`xlperf.form.placing` builds
it from a spec (``layout_form``, ``builtin_layout``). The template writes these out; the reader
and checker look addresses up here, never elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import TypeVar

from xlperf.form.roles import prefix_of
from xlperf.form.spec import (
    Calc,
    Field,
    FormSpec,
    SheetSpec,
)


@dataclass
class Placed:
    """One (possibly merged) cell; rows and columns are 0-based."""

    row: int
    col: int
    last_row: int
    last_col: int
    style: str
    text: str = ""
    number: float | None = None
    key: str | None = None
    label: str = ""
    field: Field | None = None
    calc: Calc | None = None

    @property
    def kind(self) -> str:
        """How the field map lists it: input, formula or fixed."""
        if self.field is not None:
            return "input"
        if self.calc is not None:
            return "formula"
        return "fixed"


@dataclass(frozen=True)
class Highlight:
    """A conditional format: ``check`` names the condition, ``operands`` the keys it reads."""

    sheet: str
    target: str
    check: str
    operands: dict[str, str]
    params: dict[str, object] = field(default_factory=dict)
    style: str = "alert"
    """alert: the cell turns red; percent: the number shows as a percentage."""


@dataclass
class SheetLayout:
    spec: SheetSpec
    cells: list[Placed] = field(default_factory=list)
    heights: dict[int, float] = field(default_factory=dict)
    rows: int = 0
    breaks: list[int] = field(default_factory=list)
    """Rows (0-based) that start a printed page (spec ``page_break``)."""

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass
class FormLayout:
    spec: FormSpec
    sheets: list[SheetLayout]
    cells: dict[str, tuple[str, Placed]]
    calcs: list[Calc]
    highlights: list[Highlight]

    _inputs: tuple[Field, ...] | None = field(default=None, init=False, repr=False, compare=False)

    def address(self, key: str) -> tuple[str, int, int]:
        sheet, placed = self.cells[key]
        return sheet, placed.row, placed.col

    def inputs(self) -> list[Field]:
        # Asked for several times per checked return: listed once (a layout is not changed
        # after layout_form), copied so that a caller may change its list.
        if self._inputs is None:
            self._inputs = tuple(p.field for _, p in self.cells.values() if p.field is not None)
        return list(self._inputs)

    def role_key(self, role: str, prefix: str = "") -> str | None:
        """The key of the input with ``role`` (:mod:`xlperf.form.roles`) on the project sheet of
        ``prefix`` ("" on a form without repeated sheets); None when the form has no such field."""
        return _roles(self).get((role, prefix))

    def role_keys(self, role: str) -> tuple[str, ...]:
        """Every key with ``role`` (one per project sheet), in sheet order."""
        return tuple(key for (r, _), key in _roles(self).items() if r == role)

    def project_prefixes(self) -> tuple[str, ...]:
        """The key prefixes of the project sheets (``p1_`` …, in order), or ("",) on a form
        without repeated sheets."""
        return _prefixes(self)


_T = TypeVar("_T")


def per_layout(fn: Callable[[FormLayout], _T]) -> Callable[[FormLayout], _T]:
    """Memoise ``fn(layout)`` per layout object: what depends on the form only is derived once,
    not for every return checked. A layout is not changed after :func:`layout_form`; the cache
    keeps each layout it has seen alive, so that its id cannot be reused by another object."""
    memo: dict[int, tuple[FormLayout, _T]] = {}

    @wraps(fn)
    def cached(layout: FormLayout) -> _T:
        hit = memo.get(id(layout))
        if hit is not None and hit[0] is layout:
            return hit[1]
        value = fn(layout)
        memo[id(layout)] = (layout, value)
        return value

    return cached


@per_layout
def _roles(layout: FormLayout) -> dict[tuple[str, str], str]:
    return {(f.role, prefix_of(f.key)): f.key for f in layout.inputs() if f.role}


@per_layout
def _prefixes(layout: FormLayout) -> tuple[str, ...]:
    found = sorted({p for key in layout.cells if (p := prefix_of(key))}, key=lambda p: int(p[1:-1]))
    return tuple(found) or ("",)


def operand_keys(calc: Calc) -> list[str]:
    """The keys a calc reads (list operands flattened)."""
    keys: list[str] = []
    for value in calc.operands.values():
        keys.extend([value] if isinstance(value, str) else value)
    return keys
