"""Rows of an indicator table, read from a return's values (no check, no context).

An indicator table is a ``table`` section of the form spec with a ``target`` column. Column
roles (name, 一级, 二级, operator, target, unit, actual, reason) come from the column keys and the
table's ``missed_target`` entry; the 一级/二级 of a row come from its input cells or, where the
spec fixes them (grouped tables), from the group. Target and actual values go through one parser
(:func:`xlperf.model.targets.parse_value`).

A row is *in use* when its name, target or actual is filled (:data:`IN_USE_ROLES`): one
definition for the checks, the declarations and the roll-up. (The checks used to drop a row with
only an actual while the roll-up listed it; the roll-up's reading won, so that nothing a unit
typed in an indicator row is silently dropped. An actual alone names no indicator: the checks
that judge a name or a target find nothing to judge there.)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from xlperf.form.layout import FormLayout, per_layout
from xlperf.form.levels import FRAMEWORKS, Framework
from xlperf.form.roles import PREFILLED, REPEAT_PREFIX
from xlperf.form.spec import TableColumn, TableSection
from xlperf.model.targets import Parsed, normalise_op, parse_value
from xlperf.model.values import display, is_blank, number_text
from xlperf.read import Value

__all__ = ["IN_USE_ROLES", "IndicatorTable", "Row", "Vocabulary", "in_use", "indicator_tables", "is_rate",
           "level_name", "sheet_in_use", "table_rows"]

# --------------------------------------------------------------------------- conventions

ROLE_COLUMNS = {
    "level1": "level1", "level2": "level2", "name": "name", "op": "op", "target": "target",
    "unit": "unit", "actual": "actual", "reason": "reason",
}
"""Column key of each role. The spec's ``missed_target`` overrides op/target/actual/reason; the
other roles have no spec attribute yet, so they go by these keys (tables lacking one skip the
checks that need it)."""


@dataclass(frozen=True)
class Vocabulary:
    """Which 二级 belong to which 一级 in one indicator framework (names without 指标/目标)."""

    level2: dict[str, tuple[str, ...]]
    output: str
    """The 一级 that must hold at least one indicator (产出)."""


def _vocabulary(framework: Framework) -> Vocabulary:
    return Vocabulary({level_name(l1) or l1: tuple(level_name(l2) or l2 for l2 in l2s)
                       for l1, l2s in framework.levels}, output=framework.output)



LEVEL_SUFFIXES = ("指标", "目标")
"""Dropped before comparing levels: 数量指标 and 数量 are the same 二级."""
RATE_ENDINGS = ("率", "度")
NOT_RATE_ENDINGS = ("制度", "年度", "季度", "月度", "额度", "力度")
"""Names ending like a rate that are not one (管理制度, 支持力度)."""

IN_USE_ROLES = ("name", "target", "actual")
"""A row is in use when one of these cells is filled."""

_TYPED_TEXT = re.compile(r"[^\d.,+-]")
_TRAILING_NOTE = re.compile(r"[（(][^（()）]*[)）]$")


def is_rate(name: str) -> bool:
    """Whether an indicator's name says it is a rate or degree (执行率, 满意度)."""
    core = _TRAILING_NOTE.sub("", name.strip()).strip()
    return core.endswith(RATE_ENDINGS) and not core.endswith(NOT_RATE_ENDINGS)


_SPACES = re.compile(r"\s+")


def level_name(value: Value) -> str | None:
    """A 一级/二级 value without its 指标/目标 suffix; None when blank."""
    if is_blank(value):
        return None
    text = _SPACES.sub("", str(value))
    for suffix in LEVEL_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


VOCABULARIES: tuple[Vocabulary, ...] = tuple(_vocabulary(f) for f in FRAMEWORKS.values())
"""The one table of levels (:mod:`xlperf.form.levels`, which the templates' dropdowns read too),
names without 指标/目标. A table uses the first vocabulary whose 一级 include every 一级 the
table offers."""


# --------------------------------------------------------------------------- tables and rows


@dataclass(frozen=True)
class IndicatorTable:
    """An indicator table of a form, with what the checks need to know about its columns."""

    section: TableSection
    sheet: str
    columns: dict[str, TableColumn]
    """Column by role, for the roles the table has."""
    vocabulary: Vocabulary | None
    printed: dict[str, str]
    """Level names (without suffix) → as the form prints them (满意度 → 满意度指标)."""
    units: frozenset[str]
    repeated: bool
    sheet_inputs: tuple[str, ...]
    _keys: dict[tuple[int, str], str | None] = field(init=False, repr=False, compare=False)
    _fixed: dict[tuple[int, str], str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # key() and fixed_value() are asked for every row of every return: answer from tables.
        rows = range(1, self.section.rows + 1)
        object.__setattr__(self, "_keys", {(n, role): self._key(n, role) for role in self.columns for n in rows})
        object.__setattr__(self, "_fixed", {(n, role): self._fixed_value(n, role) for role in self.columns
                                            for n in rows})

    def key(self, n: int, role: str) -> str | None:
        """The input key of a role's cell in row n; None when the role is absent or fixed."""
        known = self._keys
        return known[(n, role)] if (n, role) in known else self._key(n, role)

    def _key(self, n: int, role: str) -> str | None:
        column = self.columns.get(role)
        if column is None or column.fixed or column.calc:
            return None
        return self.section.row_key(n, column.key)

    def label(self, role: str) -> str:
        column = self.columns.get(role)
        return column.label if column else role

    def fixed_value(self, n: int, role: str) -> str | None:
        """The spec's value of a fixed column in row n (grouped tables)."""
        known = self._fixed
        return known[(n, role)] if (n, role) in known else self._fixed_value(n, role)

    def _fixed_value(self, n: int, role: str) -> str | None:
        column = self.columns.get(role)
        if column is None or not column.fixed:
            return None
        group_of = [g for g in self.section.groups for _ in range(g.rows)]
        return group_of[n - 1].values.get(column.key) if n <= len(group_of) else None

    def show(self, level: str | None) -> str:
        return self.printed.get(level, level) if level else ""


@dataclass
class Row:
    table: IndicatorTable
    n: int
    name: str
    target: Parsed | None
    op: str | None
    """The operator in effect: the operator column, else one written in the target."""
    unit: str
    """The unit in effect: the unit column, else one written in the target."""
    actual: Parsed | None
    actual_raw: Value
    reason: str
    level1: str | None
    level2: str | None
    nature: str = ""
    """The operator cell as typed (stripped): 定性 marks a qualitative row on the 一体化 forms."""

    def key(self, role: str) -> str | None:
        return self.table.key(self.n, role)

    @property
    def target_text(self) -> str:
        return _value_text(self, self.target, with_op=True)

    @property
    def actual_text(self) -> str:
        return _value_text(self, self.actual)

    @property
    def title(self) -> str:
        return f"指标“{self.name}”" if self.name else f"第{self.n}行指标"


@per_layout
def indicator_tables(layout: FormLayout) -> list[IndicatorTable]:
    """Every indicator table of a form (a table with a target column), in sheet order."""
    # A sheet's own inputs, but not those the template prefills on every copy (year, unit).
    return [_describe(layout, s.name, tuple(p.key for p in s.cells
                                            if p.key and p.field and p.field.role not in PREFILLED), sec)
            for s in layout.sheets for sec in s.spec.sections
            if isinstance(sec, TableSection) and _role_columns(sec).get("target")]


def _role_columns(section: TableSection) -> dict[str, TableColumn]:
    keys = dict(ROLE_COLUMNS)
    if section.missed_target is not None:
        m = section.missed_target
        keys.update(op=m.op, target=m.target, actual=m.actual, reason=m.reason)
    by_key = {c.key: c for c in section.columns}
    return {role: by_key[key] for role, key in keys.items() if key in by_key}


def _describe(layout: FormLayout, sheet: str, inputs: tuple[str, ...],
              section: TableSection) -> IndicatorTable:
    columns = _role_columns(section)
    printed: dict[str, str] = {}
    offered: dict[str, list[str]] = {"level1": [], "level2": []}
    for role, names in offered.items():
        column = columns.get(role)
        if column is None:
            continue
        names += column.choices or [g.values.get(column.key, "") for g in section.groups]
        for name in names:
            printed.setdefault(level_name(name) or "", name)
    level1s = {level_name(n) for n in offered["level1"]} - {None}
    vocabulary = next((v for v in VOCABULARIES if level1s and level1s <= set(v.level2)), None)
    unit_column = columns.get("unit")
    return IndicatorTable(
        section=section, sheet=sheet, columns=columns, vocabulary=vocabulary, printed=printed,
        units=frozenset(unit_column.choices if unit_column else ()),
        repeated=bool(REPEAT_PREFIX.match(section.key)), sheet_inputs=inputs,
    )


def sheet_in_use(table: IndicatorTable, inputs: Mapping[str, Value]) -> bool:
    """Whether anything on the table's sheet is filled beyond what the template prefills."""
    return any(not is_blank(inputs.get(key)) for key in table.sheet_inputs)


def in_use(cells: Mapping[str, object]) -> bool:
    """Whether a row whose cells by role are ``cells`` is in use (:data:`IN_USE_ROLES`)."""
    return any(not is_blank(cells.get(role)) for role in IN_USE_ROLES)


def table_rows(table: IndicatorTable, inputs: Mapping[str, Value]) -> list[Row]:
    """The rows in use (name, target or actual filled), with their levels.

    A blank 一级 means "same as above", as clerks copy merged-cell forms (seed 003 writes each
    一级 once): it takes the 一级 of the nearest row above, and its 二级 too when that is blank.
    """
    def value(n: int, role: str) -> Value:
        key = table.key(n, role)
        return inputs.get(key) if key else None

    rows: list[Row] = []
    above: tuple[str | None, str | None] = (None, None)
    for n in range(1, table.section.rows + 1):
        level1 = level_name(table.fixed_value(n, "level1") or value(n, "level1"))
        level2 = level_name(table.fixed_value(n, "level2") or value(n, "level2"))
        if level1 is None:
            level1, level2 = above[0], level2 if level2 is not None else above[1]
        if level1 is not None:
            above = (level1, level2)
        if not in_use({role: value(n, role) for role in IN_USE_ROLES}):
            continue
        name = display(value(n, "name"))
        target = parse_value(value(n, "target"), table.units)
        unit_cell = value(n, "unit")
        actual_raw = value(n, "actual")
        reason = value(n, "reason")
        rows.append(Row(
            table=table, n=n, name=name, target=target,
            op=normalise_op(value(n, "op")) or (target.op if target else None),
            unit=display(unit_cell) or (target.unit if target else ""),
            actual=parse_value(actual_raw, table.units, lenient=True), actual_raw=actual_raw,
            reason=display(reason),
            level1=level1, level2=level2, nature=display(value(n, "op")),
        ))
    return rows




def _value_text(row: Row, value: Parsed | None, with_op: bool = False) -> str:
    """A value as the clerk reads it: typed text as typed; a number with the row's unit (95%
    rather than 0.95) and, for a target, its operator."""
    if value is None:
        return ""
    if value.number is None or _TYPED_TEXT.search(value.text):
        return value.text
    number = value.number * 100 if row.unit == "%" else value.number
    return f"{row.op or '' if with_op else ''}{number_text(number, row.unit)}"

