"""Checks of single input fields: required, choice list, range, decimals, unit, table rows
(the type of a value is :mod:`xlperf.checks.types`).

Everything is derived from the form spec: a field's type, ``required``, ``choices``/``strict``,
``min``/``max`` and the form's ``amount_unit``; table rows from the spec's table columns.
The small helpers at the top (blank, number, display, project prefix) are shared by the other
field-level check modules (consistency, dates, text).

Repeated project sheets (spec ``repeat``: 项目1..3, keys ``p1_``, ``p2_`` ...): a unit declares as many
projects as it has, so an unused copy (nothing typed on it) is not incomplete. The first copy
is always checked.
"""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from collections.abc import Iterator
from decimal import Decimal

from xlperf.checks.base import Check, Context
from xlperf.form.excelmath import MAX_MAGNITUDE, RuleError, excel_round
from xlperf.form.layout import FormLayout, per_layout
from xlperf.form.operators import ASCII_ALIASES
from xlperf.form.roles import PREFILLED, prefix_of
from xlperf.form.spec import Field, TableSection
from xlperf.model.indicators import indicator_tables, table_rows
from xlperf.model.values import (
    as_number,
    is_blank,
    show,
    show_amount,
    show_percent,
    unusable_number,
)

NUMERIC_TYPES = ("amount", "number", "percent", "integer", "year")
FREE_TEXT_TYPES = ("text", "longtext", "value", "phone")
"""Field types where any text is a valid value (plus choice fields with ``strict: false``)."""

YEAR_RANGE = (2000, 2100)
"""Budget years the templates accept (their data validation uses the same bounds)."""
DATE_RANGE = (dt.date(2000, 1, 1), dt.date(2100, 12, 31))
PERCENT_RANGE = (0.0, 10.0)
"""Default bounds of a percent field as a fraction: 0%..1000% (growth rates may exceed 100%)."""

AMOUNT_DECIMALS = 2
WAN_YUAN_SUSPECT_FROM = 100_000
"""On a 万元 form, 100,000 万元 is 10 亿元: beyond any project these forms serve, so such an
amount was almost surely typed in 元."""
YUAN_SUSPECT_BELOW = 100
"""On a 元 form, a non-zero amount under 100 元 is no project budget: almost surely typed in 万元."""

DATE_FORMAT_HINT = "请按“年-月-日”格式输入日期，如 2024-01-01"


# -- helpers shared by the field-level check modules ------------------------------------------
def cents(number: float) -> Decimal | float:
    """An amount rounded to 2 decimals as the sheet shows it (too large to round: as it is)."""
    try:
        return excel_round(number, 2)
    except (RuleError, ArithmeticError):
        return number


def plausible_date(value: object) -> bool:
    """A date inside the range the templates accept; others are OUT_OF_RANGE, not compared."""
    return isinstance(value, dt.date) and DATE_RANGE[0] <= value <= DATE_RANGE[1]




def input_fields(ctx: Context, *types: str) -> Iterator[Field]:
    """Input fields of the form (of the given types, if any), in layout order."""
    by_types = _fields_by_types(ctx.layout)
    found = by_types.get(types)
    if found is None:  # listed once per form and set of types: several checks ask per return
        found = by_types[types] = tuple(f for f in ctx.layout.inputs() if not types or f.type in types)
    return iter(found)


@per_layout
def _fields_by_types(layout: FormLayout) -> dict[tuple[str, ...], tuple[Field, ...]]:
    return {}


def free_text_fields(ctx: Context) -> Iterator[tuple[Field, str]]:
    """(field, text) of every filled field where free text is a valid value."""
    for fld in _free_text_fields(ctx.layout):
        value = ctx.inputs.get(fld.key)
        if isinstance(value, str) and value.strip():
            yield fld, value


@per_layout
def _free_text_fields(layout: FormLayout) -> tuple[Field, ...]:
    return tuple(fld for fld in layout.inputs()
                 if fld.type in FREE_TEXT_TYPES or (fld.type == "choice" and not fld.strict_choices))


def unused_sheets(ctx: Context) -> set[str]:
    """Repeated project sheets (not the first copy) on which nothing has been typed."""
    return {sheet for sheet, keys in _repeated_sheets(ctx.layout)
            if all(is_blank(ctx.inputs.get(key)) for key in keys)}


@per_layout
def _repeated_sheets(layout: FormLayout) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(sheet, input keys that put it in use) of every repeated project sheet but the first."""
    by_sheet: dict[str, list[Field]] = {}
    for fld in layout.inputs():
        by_sheet.setdefault(layout.cells[fld.key][0], []).append(fld)
    out = []
    for sheet, flds in by_sheet.items():
        prefixes = {prefix_of(f.key) for f in flds}
        if len(prefixes) != 1 or prefixes in ({""}, {layout.project_prefixes()[0]}):  # not a project sheet, or the first
            continue
        out.append((sheet, tuple(f.key for f in flds if f.role not in PREFILLED)))
    return tuple(out)


def amount_unit(layout: FormLayout) -> str:
    return layout.spec.amount_unit


# -- REQUIRED_MISSING -------------------------------------------------------------------------
def required_missing(ctx: Context) -> None:
    skip = unused_sheets(ctx)
    for fld in input_fields(ctx):
        if fld.required and ctx.layout.cells[fld.key][0] not in skip and is_blank(ctx.inputs.get(fld.key)):
            ctx.flag(fld.key, f"“{fld.label}”为必填项，尚未填写：请填写后再报送", expected="必填")


# -- NUMBER_INVALID -----------------------------------------------------------------------------
def number_invalid(ctx: Context) -> None:
    """NaN, infinity (only a crafted file holds them) or a number of 10^15 and more, in any input."""
    for fld in input_fields(ctx):
        value = ctx.inputs.get(fld.key)
        if not unusable_number(value):
            continue
        number = float(value)  # type: ignore[arg-type]
        what = "不是有效数字" if math.isnan(number) else (
            "为无穷大" if math.isinf(number) else f"的数值 {number:.6g} 过大（绝对值应小于 {MAX_MAGNITUDE:.0e}）")
        ctx.flag(fld.key, f"“{fld.label}”{what}，无法计算：请填写正确的数值后重新报送（文件可能被其他工具改动过）",
                 expected="有效数值", found="NaN" if math.isnan(number) else f"{number:.6g}")


# -- CHOICE_INVALID ---------------------------------------------------------------------------


def _choice_meant(text: str, choices: tuple[str, ...]) -> str | None:
    norm = unicodedata.normalize("NFKC", text).strip()
    alias = ASCII_ALIASES.get(norm)  # >= for the ≥ the choice lists hold
    if alias in choices:
        return alias
    return next((c for c in choices if unicodedata.normalize("NFKC", c).strip() == norm), None)


def choice_invalid(ctx: Context) -> None:
    for fld in input_fields(ctx, "choice"):
        value = ctx.inputs.get(fld.key)
        # Text must match exactly (a trailing space fails the formulas); a number as displayed.
        listed_as = value if isinstance(value, str) else show(value)
        if not fld.strict_choices or is_blank(value) or listed_as in fld.choices:
            continue
        listed = "、".join(fld.choices)
        meant = _choice_meant(show(value), fld.choices)
        advice = f"应为“{meant}”" if meant else f"请从下拉列表中选择：{listed}"
        ctx.flag(fld.key, f"“{fld.label}”填写的“{show(value)}”不是可选项：{advice}",
                 expected=listed, found=value)


# -- OUT_OF_RANGE -----------------------------------------------------------------------------
def _bounds(fld: Field) -> tuple[float | None, float | None]:
    if fld.type == "amount":
        return 0.0, None
    if fld.type == "percent":
        low, high = PERCENT_RANGE
        return (fld.min if fld.min is not None else low), (fld.max if fld.max is not None else high)
    if fld.type == "year":
        return float(YEAR_RANGE[0]), float(YEAR_RANGE[1])
    if fld.type == "integer":
        return (fld.min if fld.min is not None else 0.0), fld.max
    return fld.min, fld.max


def _range_text(fld: Field, low: float | None, high: float | None) -> str:
    def fmt(x: float) -> str:
        return show_percent(x) if fld.type == "percent" else show(x)

    if low is not None and high is not None:
        return f"{fmt(low)} 至 {fmt(high)}"
    if low is not None:
        return f"不小于 {fmt(low)}"
    return f"不大于 {fmt(high)}" if high is not None else "不限"


_RANGE_ADVICE = {
    "amount": "金额不能为负数，请填写实际金额",
    "percent": "百分比请带 % 输入，如要填 95%，请输入“95%”而不是“95”",
    "year": "请填写四位预算年度，如 2024",
}


def out_of_range(ctx: Context) -> None:
    for fld in input_fields(ctx, *NUMERIC_TYPES, "date"):
        value = ctx.inputs.get(fld.key)
        if fld.type == "date":
            if isinstance(value, dt.date) and not plausible_date(value):
                ctx.flag(fld.key, f"“{fld.label}”的日期 {value.isoformat()} 不合理（应在 2000 至 2100 年之间），"
                         f"可能把日期输成了数字：{DATE_FORMAT_HINT}", expected="2000-01-01 至 2100-12-31", found=value)
            continue
        number = as_number(value)
        if number is None or (fld.type == "number" and fld.key.endswith("_score")):
            continue  # text is WRONG_TYPE; scores belong to the scores checks
        low, high = _bounds(fld)
        if (low is not None and number < low) or (high is not None and number > high):
            shown = show_percent(number) if fld.type == "percent" else show(number)
            allowed = _range_text(fld, low, high)
            advice = _RANGE_ADVICE.get(fld.type, f"请填写 {allowed} 之间的数")
            ctx.flag(fld.key, f"“{fld.label}”填写的 {shown} 超出允许范围（{allowed}）：{advice}",
                     expected=allowed, found=value)


# -- TOO_MANY_DECIMALS ------------------------------------------------------------------------
def _decimals(number: float) -> int:
    # 15 significant digits, as the spreadsheet shows them: 0.1+0.2 has one decimal, not 17.
    exponent = Decimal(f"{number:.15g}").normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def too_many_decimals(ctx: Context) -> None:
    unit = amount_unit(ctx.layout)
    for fld in input_fields(ctx, "amount"):
        number = as_number(ctx.inputs.get(fld.key))
        if number is None or _decimals(number) <= AMOUNT_DECIMALS:
            continue
        rounded = cents(number)
        ctx.flag(fld.key, f"“{fld.label}”填写的 {show(number)} 有 {_decimals(number)} 位小数，金额最多保留两位小数："
                 f"请改为 {show_amount(rounded, unit)}", expected=f"最多 {AMOUNT_DECIMALS} 位小数", found=number)


# -- AMOUNT_UNIT_SUSPECT ----------------------------------------------------------------------
def amount_unit_suspect(ctx: Context) -> None:
    unit = amount_unit(ctx.layout)
    for fld in input_fields(ctx, "amount"):
        number = as_number(ctx.inputs.get(fld.key))
        if number is None or number <= 0:
            continue
        if unit == "万元" and number >= WAN_YUAN_SUSPECT_FROM:
            ctx.flag(fld.key, f"“{fld.label}”填写的 {show_amount(number, unit)}（即 {number / 10_000:,.2f} 亿元）异常偏大，"
                     f"本表金额单位为万元：如填的是元，请改为 {show_amount(number / 10_000, unit)}",
                     expected=f"单位：{unit}", found=number)
        elif unit == "元" and number < YUAN_SUSPECT_BELOW:
            ctx.flag(fld.key, f"“{fld.label}”填写的 {show_amount(number, unit)} 异常偏小，本表金额单位为元："
                     f"如填的是万元，请改为 {show_amount(number * 10_000, unit)}",
                     expected=f"单位：{unit}", found=number)


# -- ROW_INCOMPLETE ---------------------------------------------------------------------------
def tables(layout: FormLayout) -> Iterator[TableSection]:
    for sheet in layout.spec.sheets:
        for section in sheet.sections:
            if isinstance(section, TableSection):
                yield section


def row_incomplete(ctx: Context) -> None:
    """A row with something typed in it must have its subject (first column), every typed
    column (dates, numbers, phone) and every column the spec marks ``required``; further
    free-text columns (职称, 科室, 备注) may stay blank. In indicator tables (a ``target`` column)
    the rest is left to the indicator checks: each indicator (row in use) must have only the
    ``required`` columns (the monitoring form's progress and 完成目标可能性)."""
    indicator_rows_incomplete(ctx)
    for table in tables(ctx.layout):
        columns = [c for c in table.columns if not c.fixed and not c.calc]
        if not columns or any(c.key == "target" for c in table.columns):
            continue
        essential = [c for i, c in enumerate(columns) if i == 0 or c.type not in ("text", "longtext") or c.required]
        name = table.side.replace("\n", "") or "表格"
        for n in range(1, table.rows + 1):
            filled = [c.label for c in columns if not is_blank(ctx.inputs.get(table.row_key(n, c.key)))]
            missing = [c for c in essential if is_blank(ctx.inputs.get(table.row_key(n, c.key)))]
            if not filled or not missing:
                continue
            ctx.flag(table.row_key(n, missing[0].key),
                     f"{name}第 {n} 行已填写{'、'.join(filled)}，但{'、'.join(c.label for c in missing)}未填写："
                     f"请补全本行，或清空整行", expected="、".join(c.label for c in essential))


def indicator_rows_incomplete(ctx: Context) -> None:
    for table in indicator_tables(ctx.layout):
        required = [c for c in table.section.columns if c.required and not c.fixed and not c.calc]
        if not required:
            continue
        for row in table_rows(table, ctx.inputs):
            missing = [c for c in required if is_blank(ctx.inputs.get(table.section.row_key(row.n, c.key)))]
            if not missing:
                continue
            what = "、".join(c.label for c in missing)
            ctx.flag(table.section.row_key(row.n, missing[0].key),
                     f"{table.section.title or '表格'}第 {row.n} 行{row.title}未填写{what}：请逐项填写",
                     expected=what)


CHECKS: tuple[Check, ...] = (
    Check("REQUIRED_MISSING", required_missing),
    Check("NUMBER_INVALID", number_invalid),
    Check("CHOICE_INVALID", choice_invalid),
    Check("OUT_OF_RANGE", out_of_range),
    Check("TOO_MANY_DECIMALS", too_many_decimals),
    Check("AMOUNT_UNIT_SUSPECT", amount_unit_suspect),
    Check("ROW_INCOMPLETE", row_incomplete),
)
