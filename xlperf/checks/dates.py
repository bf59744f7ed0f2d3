"""Date checks: project and plan dates inside the budget year.

The projects of these forms are annual (rules.md: start and end inside the budget year), so a
start, end or planned date outside the form's 年度 is likely a typo (2021 for 2022) or a
multi-year project the unit should explain. Which dates count is read from the spec: fields of
type date whose key names a start or an end (``start_date``, ``plan_3_end``), table columns
included; the fill date (填报日期) falls after the year by nature and is exempt.
"""

from __future__ import annotations

import datetime as dt

from xlperf.checks.base import Check, Context
from xlperf.checks.fields import YEAR_RANGE, input_fields, plausible_date
from xlperf.form.roles import YEAR, prefix_of
from xlperf.model.values import as_number

PERIOD_WORDS = frozenset({"start", "end"})
"""Key words (between underscores) that mark a date as a project or plan period bound."""


def _budget_year(ctx: Context, key: str) -> int | None:
    year_key = ctx.layout.role_key(YEAR, prefix_of(key))  # the year of the date's project sheet
    number = as_number(ctx.inputs.get(year_key)) if year_key else None
    if number is None or not number.is_integer() or not YEAR_RANGE[0] <= number <= YEAR_RANGE[1]:
        return None  # a missing or wrong year is reported by the field checks
    return int(number)


def date_outside_year(ctx: Context) -> None:
    for fld in input_fields(ctx, "date"):
        value = ctx.inputs.get(fld.key)
        if not plausible_date(value) or not PERIOD_WORDS & set(fld.key.split("_")):
            continue
        year = _budget_year(ctx, fld.key)
        if year is None or not isinstance(value, dt.date) or value.year == year:
            continue
        ctx.flag(fld.key,
                 f"“{fld.label}”为 {value.isoformat()}，不在预算年度 {year} 年内：本项目为年度项目，"
                 f"日期应在 {year}-01-01 至 {year}-12-31 之间，请核对日期或年度；跨年度项目请在说明中注明",
                 expected=f"{year}-01-01 至 {year}-12-31", found=value)


CHECKS: tuple[Check, ...] = (
    Check("DATE_OUTSIDE_YEAR", date_outside_year),
)
