"""The identity of a return's projects: unit, code, 主管部门, project, year and budget.

Read from the fields that carry a role in the form spec (:mod:`xlperf.form.roles`), never from
named keys; a form with one sheet per project (``p1_`` … ``p3_``) has one :class:`Project` per
sheet. Values are as typed (``""`` when blank); callers decide what stands in for a blank (the
meta sheet's unit or year, the return's first project …), and say so.

Money: :data:`AMOUNT_UNITS` is the one table of amount units (a spec's ``amount_unit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from xlperf.form.layout import FormLayout
from xlperf.form.roles import BUDGET, DEPT, PROJECT, UNIT, UNIT_CODE, YEAR
from xlperf.model.values import cell_text, cell_year

__all__ = ["AMOUNT_UNITS", "Project", "amount_in_wan", "project_of", "projects_of", "return_unit",
           "return_year", "to_amount_unit", "wan_factor"]

AMOUNT_UNITS: dict[str, Decimal] = {
    "元": Decimal(1), "千元": Decimal(1_000), "万元": Decimal(10_000), "亿元": Decimal(100_000_000),
}
"""Yuan per amount unit, for every ``amount_unit`` a spec may declare."""
WAN = "万元"
"""The unit summaries and declarations keep money in."""


@dataclass(frozen=True)
class Project:
    """One project of a return, as typed ("" when blank)."""

    prefix: str
    """"" or the project sheet's key prefix (``p2_``)."""
    unit: str
    code: str
    dept: str
    project: str
    year: int | None
    budget: Decimal | None
    """In 万元, converted from the form's amount unit, not rounded; None when blank or not a number."""


def _value(layout: FormLayout, values: Mapping[str, object], role: str, prefix: str) -> object:
    key = layout.role_key(role, prefix)
    return values.get(key) if key is not None else None


def project_of(layout: FormLayout, values: Mapping[str, object], prefix: str = "") -> Project:
    """The project on the sheet of ``prefix`` ("" on a form without project sheets)."""
    def text(role: str) -> str:
        return cell_text(_value(layout, values, role, prefix))

    budget = _value(layout, values, BUDGET, prefix)
    return Project(
        prefix=prefix, unit=text(UNIT), code=text(UNIT_CODE), dept=text(DEPT), project=text(PROJECT),
        year=cell_year(_value(layout, values, YEAR, prefix)),
        budget=amount_in_wan(budget, layout.spec.amount_unit),
    )


def projects_of(layout: FormLayout, values: Mapping[str, object]) -> list[Project]:
    """Every project sheet's project, in sheet order (blank sheets included)."""
    return [project_of(layout, values, prefix) for prefix in layout.project_prefixes()]


def return_unit(layout: FormLayout, values: Mapping[str, object], meta_unit: str | None) -> str | None:
    """The unit of a whole return: its first project's unit as typed, else the meta sheet's."""
    typed = _value(layout, values, UNIT, layout.project_prefixes()[0])
    if isinstance(typed, str) and typed.strip():
        return typed.strip()
    return meta_unit or None


def return_year(layout: FormLayout, values: Mapping[str, object], meta_year: object) -> int | None:
    """The budget year of a whole return: its first project's year, else the meta sheet's."""
    year = cell_year(_value(layout, values, YEAR, layout.project_prefixes()[0]))
    return year if year is not None else cell_year(meta_year)


def amount_in_wan(value: object, amount_unit: str) -> Decimal | None:
    """A number typed in ``amount_unit`` as 万元 (exact); None when not a number or the unit unknown."""
    factor = AMOUNT_UNITS.get(amount_unit)
    if factor is None or not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return Decimal(f"{value:.15g}") * factor / AMOUNT_UNITS[WAN]


def wan_factor(amount_unit: str) -> float:
    """What an amount in ``amount_unit`` is multiplied by to give 万元 (1 when the unit is unknown)."""
    factor = AMOUNT_UNITS.get(amount_unit)
    return float(factor / AMOUNT_UNITS[WAN]) if factor is not None else 1.0


def to_amount_unit(yuan: Decimal, amount_unit: str) -> Decimal | None:
    """``yuan`` in ``amount_unit``, rounded half up to 2 decimals (the forms' amount rule)."""
    factor = AMOUNT_UNITS.get(amount_unit)
    if factor is None:
        return None
    return (yuan / factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
