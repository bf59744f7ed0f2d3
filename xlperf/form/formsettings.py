"""The form-level settings of a spec (``execution_rate``, ``prefill_from``, ``time_progress``,
``explain_when``, ``tracked_items``) as dataclasses: what a form says about itself beyond its
sheets. :class:`~xlperf.form.spec.FormSpec` holds them; :mod:`xlperf.form.specfacts` and
:mod:`xlperf.form.specprogress` read them from YAML.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from xlperf.form.yamlsrc import Where

__all__ = ["AMOUNT_NAMES", "ExecutionRate", "ExplainWhen", "PrefillFrom", "TimeProgress", "TrackedItems"]


AMOUNT_NAMES = ("budget", "adjusted_budget", "released", "spent")
"""The amounts a spec may name (``amounts:``) for the roll-up: 预算, 调整后预算, 下达, 支出."""


@dataclass(frozen=True)
class ExecutionRate:
    """The spec's ``execution_rate``: the completion calc that is the 预算执行率 (its ``actual``
    is the numerator, its ``target`` the denominator, both among the spec's amounts), and the
    field that must explain a rate below ``explain_below``."""

    calc: str
    numerator: str
    """The name (:data:`AMOUNT_NAMES`) of the amount the calc's ``actual`` is."""
    denominator: str
    explanation: str = ""
    explain_below: Decimal = Decimal("0.9")


@dataclass(frozen=True)
class PrefillFrom:
    """The spec's ``prefill_from``: where a declaration's indicators go in this (later) form.

    ``table``: the grouped indicator table whose rows take them by 二级 group; ``level2`` maps a
    declared 二级 (without 指标/目标) to this table's group where the words differ. ``goals``:
    score rows (with ``evidence_input`` and a target) that take declared indicators instead."""

    table: str = ""
    level2: tuple[tuple[str, str], ...] = ()
    goals: tuple[str, ...] = ()

    def group_for(self, level2: str) -> str:
        return dict(self.level2).get(level2, level2)


@dataclass(frozen=True)
class TimeProgress:
    """The spec's ``time_progress``: execution to date (``actual``) below ``share`` of the budget
    (``budget``), by default the share of the year the reporting period covers (``period``), is a
    warning unless ``explanation`` (a field, optional) explains it. Keys without project-sheet prefix."""

    actual: str
    budget: str
    share: Decimal
    explanation: str = ""


@dataclass(frozen=True)
class ExplainWhen:
    """One rule of the spec's ``explain_when``: a row of ``table`` whose ``column`` holds one of
    ``values`` requires every field of ``fields`` (keys with project-sheet prefix)."""

    table: str
    column: str
    values: tuple[str, ...]
    fields: tuple[str, ...]
    where: Where


@dataclass(frozen=True)
class TrackedItems:
    """The spec's ``tracked_items``: the rows of ``table`` are items followed until closed (the
    整改 form: one problem a row). ``item``: the column naming the item (prefilled, locked);
    ``due``: its date column (完成时限); ``done``: its choice column, closed when it holds ``closed``;
    ``grade`` and ``score``: the fields that take the earlier round's grade and score ("": none)."""

    table: str
    item: str
    due: str
    done: str
    closed: str
    grade: str = ""
    score: str = ""
