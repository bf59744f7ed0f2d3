"""Returns of a chain of rounds (issue 24): declarations of the target_declaration form, and
self-evaluations of the self_evaluation form prefilled from them as the chain's templates are
(:func:`xlperf.model.placement.place`, the prefill's own placement), all in :data:`YEAR`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ledger_support import YEAR, make_return

from xlperf.checks.check_return import check_file
from xlperf.form.registry import builtin_layout
from xlperf.model.declarations import declarations_of
from xlperf.model.placement import place

DECLARATION = "target_declaration"
SELF_EVALUATION = "self_evaluation"
DATES = {"start_date": dt.datetime(YEAR, 1, 1), "end_date": dt.datetime(YEAR, 12, 31),
         "plan_1_start": dt.datetime(YEAR, 1, 1), "plan_1_end": dt.datetime(YEAR, 12, 30),
         "plan_2_start": dt.datetime(YEAR, 1, 1), "plan_2_end": dt.datetime(YEAR, 12, 30)}
FULL = {"budget_other": 0, "spent_carryover": 0, "spent_upper": 0, "spent_other": 0, "completion_rate_score": 8}
"""Every score row of a self-evaluation at its weight (100 when all of the budget is spent)."""
MINUS_15 = {"economic_score": 0, "social_score": 0, "satisfaction_score": 5}
MINUS_30 = {**MINUS_15, "quality_rate_score": 0, "cost_saving_score": 0}


def declaration(folder: Path, code: str, unit: str, project: str, budget: float, age: float = 0.0) -> Path:
    """``unit``'s declaration of ``project`` with ``budget`` 万元 and the sample's indicators."""
    return make_return(folder / f"目标申报表_{code}_{unit}.xlsx", unit, form=DECLARATION, age=age, year=YEAR,
                       project_name=project, fund_total=budget,
                       fill_date=dt.datetime(YEAR - 1, 11, 20), **DATES)


def self_evaluation(path: Path, declared: Path, age: float = 0.0, **changes: Any) -> Path:
    """A self-evaluation as its unit fills the template prefilled from the accepted return
    ``declared``: the placed project, budget, indicators and targets, the whole budget spent,
    then ``changes`` (a lowered target, lower scores)."""
    decl, = declarations_of(check_file(declared))
    placed = place(builtin_layout(SELF_EVALUATION), decl).values
    budget = placed["budget_city"]
    return make_return(path, decl.unit, age=age, **{
        **placed, **FULL, "start_date": dt.datetime(YEAR, 1, 1), "end_date": dt.datetime(YEAR, 12, 31),
        "fill_date": dt.datetime(YEAR + 1, 2, 20), "released": budget, "spent_city": budget, **changes})


MONITORING = "performance_monitoring"
MONITORED = {"exec_general": 60, "forecast_general": 100, "fill_date": dt.datetime(YEAR, 7, 8),
             "ind_1_progress": "已开展7次", "ind_1_likelihood": "确定能", "ind_2_progress": "已服务企业68家",
             "ind_2_likelihood": "确定能", "ind_3_progress": "上半年抽样调查满意度96%", "ind_3_likelihood": "确定能"}
"""A unit's July figures: 60 of its 100 万元 spent, every target judged 确定能."""


def monitoring(path: Path, declared: Path, **changes: Any) -> Path:
    """A mid-year monitoring return filled in the template prefilled from ``declared``."""
    decl, = declarations_of(check_file(declared))
    placed = place(builtin_layout(MONITORING), decl).values
    return make_return(path, decl.unit, form=MONITORING, **{**placed, "impl_unit": decl.unit, **MONITORED, **changes})
