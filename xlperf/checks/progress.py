"""Checks of progress forms (mid-year monitoring, "双监控"): execution against time progress, and
the explanations a row's choice requires. Both follow the spec (:mod:`xlperf.form.specprogress`);
a form without ``time_progress`` / ``explain_when`` has neither check.

- ``TIME_PROGRESS_BEHIND`` (warning): execution to date (the spec's ``actual``) below the
  spec's ``share`` of the budget (by default months / 12 of its ``period``: 时间进度), unless its
  ``explanation`` field holds an explanation (:data:`~xlperf.checks.consistency.MIN_EXPLANATION_CHARS`
  characters, as for a low execution rate). Computed operands are taken as recomputed from the
  inputs; nothing typed in the execution cells is no progress to judge (the required field says so).
- ``REQUIRED_BY_CHOICE`` (error): a row whose column holds one of the rule's values (完成目标可能性
  有可能 / 不可能) with a field of the rule left blank; the finding is on the blank field and names
  the rows' cells. A field the spec marks required is ``REQUIRED_MISSING``'s when blank.
"""

from __future__ import annotations

from decimal import Decimal

from xlperf.checks.base import Check, Context
from xlperf.checks.consistency import MIN_EXPLANATION_CHARS
from xlperf.checks.fields import cents
from xlperf.form.layout import operand_keys
from xlperf.form.spec import TableSection
from xlperf.model.values import as_number, compact, display, is_blank, show_amount, show_percent


def _typed(ctx: Context, key: str) -> bool:
    """Whether the unit typed ``key``, or any input a computed ``key`` is made of."""
    placed = ctx.layout.cells.get(key)
    if placed is None:
        return False
    calc = placed[1].calc
    if calc is None:
        return not is_blank(ctx.inputs.get(key))
    return any(_typed(ctx, ref) for ref in operand_keys(calc))


def _number(ctx: Context, key: str) -> float | None:
    """A computed cell as recomputed from the inputs, an input as read."""
    if key in ctx.recomputed:
        result = ctx.recomputed[key]
        return float(result) if isinstance(result, Decimal) else None
    return as_number(ctx.inputs.get(key))


def time_progress_behind(ctx: Context) -> None:
    rule = ctx.layout.spec.time_progress
    if rule is None:
        return
    unit = ctx.layout.spec.amount_unit
    for prefix in ctx.layout.project_prefixes():
        actual_key, budget_key = prefix + rule.actual, prefix + rule.budget
        actual, budget = _number(ctx, actual_key), _number(ctx, budget_key)
        if actual is None or budget is None or budget <= 0 or not _typed(ctx, actual_key):
            continue
        rate = Decimal(str(cents(actual))) / Decimal(str(cents(budget)))
        if rate >= rule.share:
            continue
        explanation = prefix + rule.explanation if rule.explanation else ""
        text = display(ctx.inputs.get(explanation)) if explanation else ""
        if len(text) >= MIN_EXPLANATION_CHARS:
            continue
        actual_label, budget_label = ctx.place(actual_key)[2], ctx.place(budget_key)[2]
        months = ctx.layout.spec.period_months
        progress = f"时间进度 {show_percent(rule.share.quantize(Decimal('0.0001')))}" + (
            f"（{months} 个月 / 12 个月）" if months and rule.share == Decimal(months) / 12 else "")
        written = f"只写了“{text}”" if text else "未填写"
        ask = (f"：请在“{ctx.place(explanation)[2]}”中说明执行偏慢的原因（如项目进度、资金拨付、采购周期）"
               if explanation else "：请核对执行数，或说明执行偏慢的原因")
        where = f"，但“{ctx.place(explanation)[2]}”{written}" if explanation else ""
        ctx.flag(explanation or actual_key,
                 f"“{actual_label}”为 {show_amount(actual, unit)}，是“{budget_label}”{show_amount(budget, unit)}的 "
                 f"{show_percent(rate.quantize(Decimal('0.0001')))}，低于{progress}{where}{ask}",
                 expected=f"≥ {show_percent(rule.share.quantize(Decimal('0.0001')))}",
                 found=show_percent(rate.quantize(Decimal("0.0001"))))


def _table(ctx: Context, key: str) -> TableSection | None:
    return next((s for sheet in ctx.layout.spec.sheets for s in sheet.sections
                 if isinstance(s, TableSection) and s.key == key), None)


def required_by_choice(ctx: Context) -> None:
    for rule in ctx.layout.spec.explain_when:
        section = _table(ctx, rule.table)
        if section is None:
            continue
        wanted = {compact(v) for v in rule.values}
        chosen = []
        for n in range(1, section.rows + 1):
            key = section.row_key(n, rule.column)
            value = display(ctx.inputs.get(key))
            if compact(value) in wanted:
                _, cell, label = ctx.place(key)
                chosen.append(f"“{label}”（{cell}）为“{value}”")
        if not chosen:
            continue
        column = next(c.label for c in section.columns if c.key == rule.column)
        for key in rule.fields:
            fld = ctx.layout.cells[key][1].field
            if not is_blank(ctx.inputs.get(key)) or (fld is not None and fld.required):
                continue  # filled, or REQUIRED_MISSING's to report
            label = ctx.place(key)[2]
            ctx.flag(key, f"{'、'.join(chosen)}，但“{label}”未填写：“{column}”为{'或'.join(rule.values)}的，"
                          f"须填写“{label}”", expected="填写", found="空白")


CHECKS: tuple[Check, ...] = (
    Check("TIME_PROGRESS_BEHIND", time_progress_behind),
    Check("REQUIRED_BY_CHOICE", required_by_choice),
)
