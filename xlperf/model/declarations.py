"""Declared targets: what a unit's accepted return of a declaration form says (a form whose spec
says ``declares_targets: true``).

A declaration is one project of one unit for one year: its unit, project name, year, 主管部门,
budget (in 万元) and indicators (一级/二级/三级, operator, target, unit), read from a *checked*
return (``CheckedReturn.values``: its input values by key). A form with one sheet per project (spec
``repeat``: keys ``p1_`` …) holds several projects: each filled sheet (project name not blank) is
a declaration of its own. Matching goes by :func:`xlperf.read.roster.normalise_name` of unit and
project, and the year.

Which returns are accepted, and which of several counts, is decided where they are checked
(:class:`xlperf.cycle.declared.DeclarationIndex`); the checks see declarations only through
:class:`Declarations`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from xlperf.findings import CheckedReturn
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.model.indicators import Row, indicator_tables, table_rows
from xlperf.model.projects import AMOUNT_UNITS, WAN, project_of, to_amount_unit
from xlperf.read import Value
from xlperf.read.roster import normalise_name

__all__ = ["Declaration", "Declarations", "Indicator", "declarations_of", "declares_targets"]


def declares_targets(form_id: str | None) -> bool:
    """Whether accepted returns of the form declare targets that later forms are prefilled from
    and checked against (its spec's ``declares_targets``); an unknown form does not."""
    spec = builtin_forms().get(form_id or "")
    return spec is not None and spec.declares_targets


@dataclass(frozen=True)
class Indicator:
    """One declared indicator: its row as the indicator checks read it, and its cells as typed."""

    row: Row
    raw: dict[str, Value]
    """By role (name, op, target, unit): the declaration's cell values as typed."""
    key: str
    """The declaration's key of its target cell (e.g. ``p2_ind_4_target``)."""

    @property
    def name(self) -> str:
        return self.row.name

    @property
    def text(self) -> str:
        """The target as the clerk reads it: ≥12次, 95%, 规范."""
        return self.row.target_text or "空白"

    @property
    def title(self) -> str:
        levels = "/".join(x for x in (self.row.table.show(self.row.level1), self.row.table.show(self.row.level2)) if x)
        return f"{levels}/{self.name}" if levels else self.name


@dataclass(frozen=True)
class Declaration:
    file: Path
    form: str
    prefix: str
    """``p1_`` … for a project sheet of a form with one sheet per project, else ''."""
    unit: str
    project: str
    year: int | None
    dept: str
    budget: Decimal | None
    """In 万元 (converted from the form's amount unit), as declared (not rounded)."""
    indicators: tuple[Indicator, ...]
    status: str
    mtime_ns: int = 0

    @property
    def identity(self) -> tuple[str, str, int | None]:
        return normalise_name(self.unit), normalise_name(self.project), self.year

    def budget_in(self, amount_unit: str) -> float | None:
        """The budget in ``amount_unit``, rounded half up to 2 decimals (the forms' amount rule)."""
        if self.budget is None:
            return None
        value = to_amount_unit(self.budget * AMOUNT_UNITS[WAN], amount_unit)
        return float(value) if value is not None else None


class Declarations(Protocol):
    """What the checks may ask of the accepted declarations (``check --against``)."""

    def find(self, unit: object, project: object, year: int | None) -> Declaration | None:
        """The declaration of this unit, project and year (names compared normalised), if any."""

    def projects_of(self, unit: object, year: int | None) -> list[str]:
        """Declared project names of a unit in a year (for a message when a project does not match)."""


def declarations_of(checked: CheckedReturn, mtime_ns: int = 0, *, header_only: bool = False) -> list[Declaration]:
    """The declarations (one per filled project) of a checked return of a declaration form.
    ``header_only``: of a return of any known form, each project's header (unit, project, year,
    主管部门, budget) without indicators: what a later round of the same form is prefilled with."""
    if checked.form is None or checked.form not in builtin_forms():
        return []
    if not header_only and not declares_targets(checked.form):
        return []
    layout = builtin_layout(checked.form)
    values: dict[str, Value] = checked.values
    out = []
    for prefix in layout.project_prefixes():
        project = project_of(layout, values, prefix)
        if not project.project:
            continue
        indicators = []
        for table in [] if header_only else indicator_tables(layout):
            if not table.section.key.startswith(prefix):
                continue
            for row in table_rows(table, values):
                raw = {role: values.get(key) for role in ("name", "op", "target", "unit")
                       if (key := row.key(role)) is not None}
                indicators.append(Indicator(row, raw, row.key("target") or ""))
        out.append(Declaration(
            file=checked.file, form=checked.form, prefix=prefix,
            unit=project.unit or (checked.unit or ""), project=project.project,
            year=project.year or checked.year, dept=project.dept, budget=project.budget,
            indicators=tuple(indicators), status=checked.status, mtime_ns=mtime_ns,
        ))
    return out
