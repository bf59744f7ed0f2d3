"""One checked return → the roll-up's summary of it (runs in the worker that checked it).

:func:`summarised` derives what the summary shows (one :class:`~xlperf.model.summary_rows.ProjectRow`
per filled project, one :class:`~xlperf.model.summary_rows.IndicatorRow` per indicator) into the
:class:`~xlperf.findings.CheckedReturn`. Which cells hold what comes from the form's layout/spec:
the project's identity from the fields' roles (:mod:`xlperf.model.projects`), indicator tables are the table sections with a
``target`` column, scorecard rows give label, weight and score; the few conventions the spec does
not express are the named tables below. :mod:`xlperf.rollup.tables` builds the sheets from them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from xlperf.findings import CheckedReturn
from xlperf.form.layout import FormLayout
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.roles import prefix_of
from xlperf.form.spec import TableSection
from xlperf.model.indicators import in_use
from xlperf.model.projects import project_of, wan_factor
from xlperf.model.summary_rows import Cell, IndicatorRow, ProjectRow
from xlperf.model.values import is_blank

__all__ = ["INDICATOR_COLUMNS", "SCORECARD_SOURCE", "TABLE_SOURCE", "summarised"]

# Column keys of an indicator table (a table section with a ``target`` column), by role.
INDICATOR_COLUMNS = ("level1", "level2", "name", "op", "target", "unit", "actual")
TABLE_SOURCE, SCORECARD_SOURCE = "指标表", "评分表"


def summarised(checked: CheckedReturn) -> CheckedReturn:
    """``checked`` with its projects and indicators (runs in the worker that checked it)."""
    if checked.form not in builtin_forms() or not checked.values:
        return checked
    layout = builtin_layout(checked.form)
    projects = [p for p in (_project(checked, layout, prefix) for prefix in _project_prefixes(layout))
                if p is not None]
    kept = {p.prefix for p in projects}
    checked.projects = tuple(projects)
    checked.indicators = tuple(row for row in _indicators(checked, layout) if row.prefix in kept)
    return checked


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _lookup(checked: CheckedReturn, key: str) -> Any:
    """A key's recomputed result if it is a computed cell, else the input value as read."""
    return checked.scores[key] if key in checked.scores else checked.values.get(key)


def _project_prefixes(layout: FormLayout) -> tuple[str, ...]:
    return layout.project_prefixes()


def _project(checked: CheckedReturn, layout: FormLayout, prefix: str) -> ProjectRow | None:
    first = prefix == _project_prefixes(layout)[0]
    if not first and all(is_blank(v) for k, v in checked.values.items() if k.startswith(prefix)):
        return None  # an unused project sheet
    spec = layout.spec
    scale = wan_factor(spec.amount_unit)
    # The amounts the spec names (``amounts``), in 万元; others stay blank.
    money = {name: _float(_lookup(checked, prefix + key)) for name, key in spec.amounts}
    for name, amount in money.items():
        if amount is not None:
            money[name] = round(amount * scale, 6)
    rate = spec.execution_rate
    if rate is not None:
        money["rate"] = _float(_lookup(checked, prefix + rate.calc))
    typed = project_of(layout, checked.values, prefix)
    # A blank unit is the return's (first project or meta sheet), a blank year the return's.
    unit = typed.unit or (checked.unit if first else None)
    return ProjectRow(prefix, unit, typed.dept or None, typed.project or None,
                      typed.year if typed.year is not None else checked.year,
                      money.get("budget"), money.get("released"), money.get("spent"), money.get("rate"),
                      money.get("adjusted_budget"),
                      money.get(rate.numerator) if rate else None, money.get(rate.denominator) if rate else None)


Slot = tuple[str, Any]
"""Where an indicator's part comes from: ("key", field key), ("fixed", text) or ("none", None)."""


@dataclass(frozen=True)
class _IndicatorPlan:
    prefix: str
    source: str
    slots: tuple[Slot, ...]
    """level1, level2, name, op, target, unit, actual."""
    weight: float | None
    score_key: str | None
    completion_key: str | None
    weight_key: str | None = None
    """A weight the unit types (a table with a row score, ``points``); ``weight`` is then None."""


@cache
def _indicator_plan(form_id: str) -> tuple[_IndicatorPlan, ...]:
    """Where every indicator of a form lives, derived once per form from its spec."""
    layout = builtin_layout(form_id)
    plans: list[_IndicatorPlan] = []
    for sheet in layout.spec.sheets:
        for section in sheet.sections:
            if isinstance(section, TableSection) and any(c.key == "target" for c in section.columns):
                plans += _table_plan(section)
    for card in layout.spec.scorecards():
        for block in card.blocks:
            for group in block.groups:
                for row in group.rows:
                    def slot(key: str | None) -> Slot:
                        return ("key", key) if key and (key in layout.cells) else ("none", None)

                    target = row.target_key or _operand(row.operands.get("target"))
                    actual = row.value_key or _operand(row.operands.get("actual"))
                    slots = (("fixed", block.label), ("fixed", group.label or None), ("fixed", row.label),
                             ("none", None), slot(target), ("none", None), slot(actual))
                    plans.append(_IndicatorPlan(_prefix(row.key), SCORECARD_SOURCE, slots, row.weight,
                                                row.score_key, None))
    return tuple(plans)


def _table_plan(section: TableSection) -> list[_IndicatorPlan]:
    columns = {c.key: c for c in section.columns}
    group_of = [g for g in section.groups for _ in range(g.rows)]
    progress = next((c.key for c in section.columns if c.calc == "completion"), None)
    scored, weight = section.row_score, section.scoring_column("weight")
    plans = []
    for n in range(1, section.rows + 1):
        slots: list[Slot] = []
        for role in INDICATOR_COLUMNS:
            column = columns.get(role)
            if column is None:
                slots.append(("none", None))
            elif column.fixed:
                slots.append(("fixed", group_of[n - 1].values.get(role) if group_of else None))
            else:
                slots.append(("key", section.row_key(n, role)))
        plans.append(_IndicatorPlan(_prefix(section.key), TABLE_SOURCE, tuple(slots), None,
                                    section.row_key(n, scored.key) if scored else None,
                                    section.row_key(n, progress) if progress else None,
                                    section.row_key(n, weight) if weight else None))
    return plans


def _operand(ref: object) -> str | None:
    return ref if isinstance(ref, str) else None


def _prefix(key: str) -> str:
    return prefix_of(key)


def _indicators(checked: CheckedReturn, layout: FormLayout) -> Iterable[IndicatorRow]:
    for plan in _indicator_plan(layout.spec.form_id):
        parts = [_cell(_lookup(checked, ref)) if kind == "key" else ref for kind, ref in plan.slots]
        weight = plan.weight
        if plan.source == TABLE_SOURCE:
            if not in_use(dict(zip(INDICATOR_COLUMNS, parts, strict=True))):
                continue  # xlperf.model.indicators: in use when name, target or actual is filled
            score: Cell = None
            completion = _float(checked.scores.get(plan.completion_key)) if plan.completion_key else None
        if plan.weight_key:  # a row the unit weighs and the formula scores: its weight and 得分率
            weight = _float(checked.values.get(plan.weight_key))
        if plan.score_key:
            score = _cell(_lookup(checked, plan.score_key))
            number = _float(score)
            completion = round(number / weight, 4) if number is not None and weight else None
        level1, level2, name, op, target, unit, actual = parts
        yield IndicatorRow(plan.prefix, plan.source, level1, level2, name, op, target, unit, actual,
                           weight, score, completion)


def _cell(value: object) -> Cell:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and not value:
        return None
    return value  # type: ignore[return-value]
