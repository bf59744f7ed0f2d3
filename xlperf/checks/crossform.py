"""Cross-form checks (``check --against DIR``): a self-evaluation or evaluation keeps the targets
its unit declared.

Run only when declarations reach the check (``ctx.declarations``, seen through
:class:`xlperf.model.declarations.Declarations`; the cycle builds them from the accepted
declarations in DIR), and only
on forms whose spec says where declared indicators go (``prefill_from``: a grouped indicator
table, or achievement rows): the declaration forms themselves are skipped. A return matches the declaration of the same
unit, project and year (:func:`xlperf.read.roster.normalise_name` of unit and project).

Where the declared content should be is computed by the same placement the prefill uses
(:func:`xlperf.model.placement.place`). The return's indicators are read as the indicator checks
read them (operator from its column or written in the target, 95% = 0.95). An indicator is found
in its placed row, else in any row with the same name (a hand-filled return); numbers compare
equal within rounding noise, also when one side was typed in percent points (95 for 95%).

- ``TARGET_CHANGED`` (error): a declared indicator's operator, target value or unit differs, or
  the indicator is missing; an achievement row's target differs. Named with both values.
- ``BUDGET_CHANGED`` (warning): the field with role ``budget`` (the form's 年初预算 or 预算资金,
  where the prefill puts the declared budget) differs from the declared budget in the form's
  amount unit, rounded as the prefill rounds it. A warning, not an error: a budget adjusted during
  the year is legitimate (财政 adjusts budgets), and some forms have no separate field for it;
  staff see it and decide.
- ``DECLARATION_NOT_FOUND`` (warning): no accepted declaration of the same unit, project and year.
"""

from __future__ import annotations

import math

from xlperf.checks.base import Check, Context
from xlperf.form.roles import BUDGET, PROJECT
from xlperf.model.indicators import Row, table_rows
from xlperf.model.placement import evidence_text, place, prefill_table
from xlperf.model.projects import project_of
from xlperf.model.values import cell_year, number_text
from xlperf.read import Value
from xlperf.read.roster import normalise_name

ROLES = ("target", "op", "unit")
"""Compared parts of a declared indicator, in the order a finding picks its cell."""


def _identity(ctx: Context) -> tuple[str, str, int | None]:
    """Unit, project and year of the return (the forms compared have no project sheets); a blank
    unit or year is the meta sheet's."""
    typed = project_of(ctx.layout, ctx.inputs)
    return typed.unit or (ctx.ret.meta_unit or ""), typed.project, typed.year or cell_year(ctx.ret.meta_year)


def _applies(ctx: Context) -> bool:
    """On later forms: those whose spec says where declared indicators go (``prefill_from``)."""
    spec = ctx.layout.spec
    return ctx.declarations is not None and not spec.declares_targets and spec.prefill_from is not None


def declaration_not_found(ctx: Context) -> None:
    if not _applies(ctx):
        return
    assert ctx.declarations is not None
    unit, project, year = _identity(ctx)
    if not unit or not project or ctx.declarations.find(unit, project, year) is not None:
        return
    others = ctx.declarations.projects_of(unit, year)
    hint = f"（该单位 {year} 年已申报的项目：{'、'.join(others)}）" if others else ""
    ctx.flag(ctx.layout.role_key(PROJECT),
             f"没有找到“{unit}”“{project}”{year or ''} 年已通过审核的绩效目标申报表{hint}，无法核对目标值："
             "请核对单位名称、项目名称和年度是否与申报表一致", expected="已审核的申报表", found="未找到")


def _same_number(a: float, b: float, percent: bool) -> bool:
    close = math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return close or (percent and (math.isclose(a * 100, b, rel_tol=1e-9) or math.isclose(a, b * 100, rel_tol=1e-9)))


def _differs(found: Row, declared: Row) -> list[str]:
    roles = []
    a, b = declared.target, found.target
    percent = "%" in (declared.unit, found.unit)
    if a is None or b is None:
        same = a is None and b is None
    elif a.number is not None and b.number is not None:
        same = _same_number(a.number, b.number, percent)
    else:
        same = a.number is None and b.number is None and normalise_name(a.text) == normalise_name(b.text)
    if not same:
        roles.append("target")
    if (declared.op or None) != (found.op or None):
        roles.append("op")
    if normalise_name(declared.unit) != normalise_name(found.unit):
        roles.append("unit")
    return roles


def _advice(file_name: str) -> str:
    return (f"请改回申报的目标（应与已审核的绩效目标申报表 {file_name} 一致）；"
            "确需调整的，应先按程序调整绩效目标申报表")


def _compare_rows(ctx: Context) -> None:
    assert ctx.declarations is not None
    unit, project, year = _identity(ctx)
    decl = ctx.declarations.find(unit, project, year)
    table = prefill_table(ctx.layout)
    if decl is None or table is None:
        return
    placement = place(ctx.layout, decl)
    rows = table_rows(table, ctx.inputs)
    by_n = {r.n: r for r in rows}
    by_name: dict[str, Row] = {}
    for r in rows:
        by_name.setdefault(normalise_name(r.name), r)
    expected = [(s.indicator, s.n) for s in placement.rows] + [(i, None) for i, _ in placement.unplaced]
    for indicator, n in expected:
        name = normalise_name(indicator.name)
        here = by_n.get(n) if n is not None else None
        found = here if here is not None and normalise_name(here.name) == name else by_name.get(name)
        if found is None:
            if n is None:
                continue  # the form has no row for it: the prefill said so, nothing to compare
            key = table.key(n, "name")
            now = f"第 {n} 行现为“{here.name}”" if here is not None and here.name else f"第 {n} 行为空"
            ctx.flag(key, f"申报的指标“{indicator.name}”（目标 {indicator.text}）在本表中找不到（{now}）：{_advice(decl.file.name)}",
                     expected=f"{indicator.name} {indicator.text}", found=here.name if here is not None and here.name else "空白")
            continue
        roles = _differs(found, indicator.row)
        if not roles or _as_written(ctx, placement.values, table.key(n, "target") if n else None, found):
            continue
        key = next((k for k in (found.key(r) for r in roles) if k), found.key("name"))
        ctx.flag(key, f"指标“{indicator.name}”的目标与申报表不符：申报为 {indicator.text}，本表为 {found.target_text or '空白'}："
                      f"{_advice(decl.file.name)}", expected=indicator.text, found=found.target_text or "空白")


def _as_written(ctx: Context, placed: dict[str, Value], key: str | None, found: Row) -> bool:
    """Whether ``found``'s target cell holds the text the prefill wrote (a target placed as one
    text, ≥12座次, need not parse as a number to be unchanged)."""
    written = placed.get(key) if key else None
    cell = found.key("target")
    return isinstance(written, str) and cell is not None and normalise_name(ctx.inputs.get(cell)) == normalise_name(written)


def _shown_number(x: float, percent: bool, unit: str) -> str:
    return number_text(x * 100, "%") if percent else number_text(x, unit)


def _compare_goals(ctx: Context) -> None:
    assert ctx.declarations is not None
    unit, project, year = _identity(ctx)
    decl = ctx.declarations.find(unit, project, year)
    if decl is None:
        return
    for slot in place(ctx.layout, decl).goals:
        row = slot.row
        assert row.evidence_key and row.target_key
        evidence = normalise_name(ctx.inputs.get(row.evidence_key))
        # A hand-filled report may order its goals differently: the indicator its text names.
        named = [i for i in decl.indicators if normalise_name(i.name) and normalise_name(i.name) in evidence]
        indicator = slot.indicator if slot.indicator in named else (named[0] if named else slot.indicator)
        if not named:
            ctx.flag(row.evidence_key, f"“{row.label}”应为申报的指标“{evidence_text(indicator)}”，"
                                       f"本表为“{ctx.inputs.get(row.evidence_key) or '空白'}”：{_advice(decl.file.name)}",
                     expected=evidence_text(indicator), found=ctx.inputs.get(row.evidence_key) or "空白")
        declared = indicator.row.target.number if indicator.row.target else None
        found: Value = ctx.inputs.get(row.target_key)
        percent = row.value_type == "percent"
        if declared is None:
            continue
        if isinstance(found, int | float) and not isinstance(found, bool) and _same_number(declared, float(found), percent):
            continue
        shown = _shown_number(float(found), percent, indicator.row.unit) if isinstance(found, int | float) \
            and not isinstance(found, bool) else (str(found).strip() if found not in (None, "") else "空白")
        ctx.flag(row.target_key, f"“{row.label}”中指标“{indicator.name}”的目标值与申报表不符：申报为 {indicator.text}，"
                                 f"本表为 {shown}：{_advice(decl.file.name)}", expected=indicator.text, found=shown)


def target_changed(ctx: Context) -> None:
    if not _applies(ctx):
        return
    _compare_rows(ctx)
    _compare_goals(ctx)


def budget_changed(ctx: Context) -> None:
    if not _applies(ctx):
        return
    assert ctx.declarations is not None
    key = ctx.layout.role_key(BUDGET)
    decl = ctx.declarations.find(*_identity(ctx))
    if key is None or decl is None:
        return
    unit = ctx.layout.spec.amount_unit
    declared = decl.budget_in(unit)
    found: Value = ctx.inputs.get(key)
    if declared is None:
        return
    if isinstance(found, int | float) and not isinstance(found, bool) and math.isclose(
            declared, float(found), rel_tol=0, abs_tol=0.005):
        return
    shown = number_text(float(found), unit) if isinstance(found, int | float) and not isinstance(found, bool) \
        else (str(found).strip() if found not in (None, "") else "空白")
    expected = number_text(declared, unit)
    ctx.flag(key, f"预算与申报表不符：申报为 {expected}，本表为 {shown}（对照已审核的申报表 {decl.file.name}）："
                  "年初预算应与申报表一致，年中调整的请在调整后预算或说明中注明",
             expected=expected, found=shown)


CHECKS: tuple[Check, ...] = (
    Check("TARGET_CHANGED", target_changed),
    Check("BUDGET_CHANGED", budget_changed),
    Check("DECLARATION_NOT_FOUND", declaration_not_found),
)
