"""The rows of the roll-up's summary of a return: its projects and its indicators (plain data).

:func:`xlperf.model.return_summary.summarised` derives them in the worker that checked the
return; a :class:`~xlperf.findings.CheckedReturn` holds them as plain tuples (read back from its
JSON they are tuples again), and :func:`projects_of` / :func:`indicators_of` give them as rows.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from xlperf.findings import CheckedReturn

__all__ = ["Cell", "IndicatorRow", "ProjectRow", "indicators_of", "projects_of"]

Cell = float | int | str | dt.date | None
"""A value as read from a return: numbers, text (also text typed into number cells), dates."""


class ProjectRow(NamedTuple):
    """One project of a return (forms with one sheet per project hold several)."""

    prefix: str
    """Key prefix of the project's sheet: "" or "p1_", "p2_" ..."""
    unit: str | None
    dept: str | None
    """主管部门 as typed in the return."""
    project: str | None
    year: int | None
    budget: float | None
    """Money in 万元, converted from the form's amount unit."""
    released: float | None
    spent: float | None
    rate: float | None
    """执行率 as a fraction (0.117 for 11.7%), recomputed."""
    adjusted_budget: float | None = None
    """调整后预算 in 万元, where the form names one (spec ``amounts``)."""
    rate_numerator: float | None = None
    """The amounts the 执行率 is measured on (spec ``execution_rate``: spent over budget, or over
    the adjusted budget), in 万元: what the statistics add up per 主管部门."""
    rate_denominator: float | None = None


class IndicatorRow(NamedTuple):
    """One indicator of a return: a row of an indicator table or of a scorecard."""

    prefix: str
    source: str
    """指标表 (a table with a target column) or 评分表 (a scorecard row)."""
    level1: Cell
    level2: Cell
    name: Cell
    op: Cell
    target: Cell
    unit: Cell
    actual: Cell
    weight: float | None
    score: Cell
    completion: float | None
    """完成率 of a table indicator (recomputed); 得分率 (score / weight) of a scorecard row and of
    a table row scored by formula (``row_score``: its weight is the one the unit typed)."""


OLD_PROJECT_FIELDS = 9
"""A project row's fields as stored before 调整后预算 and the execution rate's amounts."""


def projects_of(checked: CheckedReturn) -> tuple[ProjectRow, ...]:
    rows = checked.projects
    if rows and not isinstance(rows[0], ProjectRow):
        rows = checked.projects = tuple(_project_row(p) for p in rows)
    return rows  # type: ignore[return-value]


def _project_row(stored: Any) -> ProjectRow:
    row = ProjectRow(*stored)
    if len(stored) == OLD_PROJECT_FIELDS and row.rate is not None:
        # Stored before the spec named the execution rate's amounts: it was spent over budget.
        row = row._replace(rate_numerator=row.spent, rate_denominator=row.budget)
    return row


def indicators_of(checked: CheckedReturn) -> tuple[IndicatorRow, ...]:
    rows = checked.indicators
    if rows and not isinstance(rows[0], IndicatorRow):
        rows = checked.indicators = tuple(IndicatorRow._make(i) for i in rows)
    return rows  # type: ignore[return-value]
