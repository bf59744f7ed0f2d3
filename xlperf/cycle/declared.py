"""Declared targets: what a unit's accepted ``target_declaration`` / ``target_table`` return says.

A declaration is one project of one unit for one year: its unit, project name, year, 主管部门,
budget (in 万元) and indicators (一级/二级/三级, operator, target, unit), read from a *checked*
return (``Checked.values``: its input values by key). A ``target_table`` return holds up to three
projects, one per sheet (keys ``p1_`` … ``p3_``): each filled sheet (project name not blank) is a
declaration of its own.

:class:`DeclarationIndex` checks every return of a folder (:func:`xlperf.checks.checker.check_file`,
with the signing key) and keeps the accepted ones (accepted, or accepted with warnings) of the
declaration forms. Several accepted returns of one unit, project and year: the newest counts, as
in the roll-up (latest modification time, then the file name sorting last); the others are
listed in ``skipped`` with the reason, as are rejected returns and returns of other forms.
Matching goes by :func:`xlperf.read.roster.normalise_name` of unit and project, and the year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from xlperf.checks.base import Context
from xlperf.checks.checker import find_returns
from xlperf.checks.indicators import REPEAT_PREFIX, Row, indicator_tables, is_blank, table_rows
from xlperf.checks.limited import Limits, check_files_limited
from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, STATUS_LABELS, Checked
from xlperf.form.layout import FormLayout, builtin_layout
from xlperf.form.signkeys import FROM_ENV
from xlperf.form.specload import builtin_forms
from xlperf.read import Value
from xlperf.read.roster import normalise_name

__all__ = ["DECLARATION_FORMS", "Declaration", "DeclarationIndex", "Indicator", "declarations_of",
           "to_amount_unit"]

DECLARATION_FORMS = ("target_declaration", "target_table")
"""Forms whose accepted returns declare targets that later forms are prefilled from and checked against."""
BUDGET_KEYS = ("fund_total", "year_budget")
"""Keys (per project sheet) holding a declaration's budget, first present wins: target_declaration's
资金总额（万元）, target_table's 项目当年预算（元）; converted with the form's ``amount_unit``."""
NOT_DECLARATION = "不是绩效目标申报表"
AMOUNT_UNITS = {"元": Decimal(1), "万元": Decimal(10_000), "亿元": Decimal(100_000_000)}


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
    """``p1_`` … for a project sheet of target_table, else ''."""
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
        value = to_amount_unit(self.budget * AMOUNT_UNITS["万元"], amount_unit)
        return float(value) if value is not None else None


def to_amount_unit(yuan: Decimal, amount_unit: str) -> Decimal | None:
    factor = AMOUNT_UNITS.get(amount_unit)
    if factor is None:
        return None
    return (yuan / factor).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def cell_text(value: Value) -> str:
    if is_blank(value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def cell_year(value: Value) -> int | None:
    try:
        return None if is_blank(value) or isinstance(value, dt.date) else int(float(str(value)))
    except ValueError:
        return None


def _prefixes(layout: FormLayout) -> list[str]:
    found = sorted({m.group(0) for key in layout.cells if (m := REPEAT_PREFIX.match(key))},
                   key=lambda p: int(p[1:-1]))
    return found or [""]


def _rows(layout: FormLayout, values: Mapping[str, Value], prefix: str) -> Iterable[Row]:
    # The indicator checks' reading of a table (levels "same as above", parsed targets); they
    # read nothing but the inputs, so a context without a return serves.
    ctx = Context(ret=None, layout=layout, inputs=dict(values), recomputed={})  # type: ignore[arg-type]
    for table in indicator_tables(layout):
        if table.section.key.startswith(prefix):
            yield from table_rows(ctx, table)


def _budget(layout: FormLayout, values: Mapping[str, Value], prefix: str) -> Decimal | None:
    for key in BUDGET_KEYS:
        value = values.get(prefix + key)
        if prefix + key not in layout.cells or not isinstance(value, int | float) or isinstance(value, bool):
            continue
        factor = AMOUNT_UNITS.get(layout.spec.amount_unit)
        return None if factor is None else Decimal(f"{value:.15g}") * factor / AMOUNT_UNITS["万元"]
    return None


def declarations_of(checked: Checked, mtime_ns: int = 0) -> list[Declaration]:
    """The declarations (one per filled project) of a checked return of a declaration form."""
    if checked.form not in DECLARATION_FORMS or checked.form not in builtin_forms():
        return []
    layout = builtin_layout(checked.form)
    values: dict[str, Value] = checked.values
    out = []
    for prefix in _prefixes(layout):
        project = cell_text(values.get(prefix + "project_name"))
        if not project:
            continue
        indicators = []
        for row in _rows(layout, values, prefix):
            raw = {role: values.get(key) for role in ("name", "op", "target", "unit")
                   if (key := row.key(role)) is not None}
            indicators.append(Indicator(row, raw, row.key("target") or ""))
        out.append(Declaration(
            file=checked.file, form=checked.form, prefix=prefix,
            unit=cell_text(values.get(prefix + "unit_name")) or (checked.unit or ""), project=project,
            year=cell_year(values.get(prefix + "year")) or checked.year, dept=cell_text(values.get(prefix + "dept_name")),
            budget=_budget(layout, values, prefix), indicators=tuple(indicators), status=checked.status,
            mtime_ns=mtime_ns,
        ))
    return out


@dataclass
class DeclarationIndex:
    """Accepted declarations by (unit, project, year), the newest of each; and what was left out."""

    declarations: list[Declaration] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """(file, why it is not used), in Chinese."""
    checked: list[Checked] = field(default_factory=list)
    """Every return looked at, as checked."""

    def find(self, unit: object, project: object, year: int | None) -> Declaration | None:
        wanted = (normalise_name(unit), normalise_name(project), year)
        return next((d for d in self.declarations if d.identity == wanted), None)

    def projects_of(self, unit: object, year: int | None) -> list[str]:
        """Declared project names of a unit in a year (for a message when a project does not match)."""
        name = normalise_name(unit)
        return [d.project for d in self.declarations if normalise_name(d.unit) == name and d.year == year]

    @classmethod
    def build(cls, paths: Sequence[Path], key: Any = FROM_ENV, limits: Limits | None = None) -> DeclarationIndex:
        """Check every return under ``paths`` (files or folders), each under ``limits`` (default
        from the environment, as ``xlperf check``), and index the accepted declarations."""
        index = cls()
        newest: dict[tuple[str, str, int | None], Declaration] = {}
        for checked in check_files_limited(find_returns(list(paths)), limits, key=key):
            path = checked.file
            index.checked.append(checked)
            if checked.form not in DECLARATION_FORMS:
                index.skipped.append((path, NOT_DECLARATION if checked.form else "无法识别的文件"))
                continue
            if checked.status not in (ACCEPTED, ACCEPTED_WITH_WARNINGS):
                codes = "、".join(dict.fromkeys(f.code for f in checked.errors))
                index.skipped.append((path, f"审核结果为“{STATUS_LABELS[checked.status]}”（{len(checked.errors)} 个错误：{codes}）"))
                continue
            mtime = path.stat().st_mtime_ns
            for decl in declarations_of(checked, mtime):
                old = newest.get(decl.identity)
                if old is not None and _newness(old) > _newness(decl):
                    decl, old = old, decl
                if old is not None:
                    index.skipped.append((old.file, f"“{old.unit}”“{old.project}”{old.year} 年另有更新的申报表 {decl.file.name}"))
                newest[decl.identity] = decl
        index.declarations = sorted(newest.values(), key=lambda d: (str(d.file), d.prefix))
        return index


def _newness(decl: Declaration) -> tuple[int, str, str]:
    return decl.mtime_ns, decl.file.name, str(decl.file)
