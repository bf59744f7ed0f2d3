"""Cross-field checks (审核公式): the spec's consistency rules, totals against their parts, and the
explanation a low execution rate needs.

Computed operands (a total, the execution rate) are taken as recomputed from the inputs, never
from the file's cached results, so these checks hold for files saved without calculating.

The execution rate is the spec's (``execution_rate``: its calc, the field that must explain a
rate below ``explain_below``, 90% unless the spec says otherwise: local practice, see rules.md);
a form without it has no low-rate check.

Ownership: ``PARTS_NOT_SUM`` compares the cached result of every ``sum`` calc whose items are all
amount fields (budget_total, spent_total) with the sum of its parts. The general comparison of
cached against recomputed results (``SCORE_MISMATCH`` in ``scores``) skips exactly those calcs,
so one overwritten total is reported once.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from xlperf.checks.base import Check, Context
from xlperf.checks.fields import cents, plausible_date
from xlperf.form.layout import FormLayout
from xlperf.form.roles import prefix_of
from xlperf.form.spec import Calc, ExecutionRate
from xlperf.model.values import as_number, is_blank, show, show_amount, show_percent

MIN_EXPLANATION_CHARS = 10
"""Shorter than this (e.g. "无", "已支出") explains nothing."""


# -- helpers --------------------------------------------------------------------------------
def _operand(ctx: Context, key: str) -> object:
    """A rule operand: computed cells as recomputed from the inputs, inputs as read."""
    if key in ctx.recomputed:
        result = ctx.recomputed[key]
        return float(result) if isinstance(result, Decimal) else None
    return ctx.inputs.get(key)


def amount_sums(ctx: Context) -> list[Calc]:
    """``sum`` calcs whose items are all amount input fields (money totals)."""
    out = []
    for calc in ctx.layout.calcs:
        items = calc.operands.get("items")
        if calc.kind != "sum" or not isinstance(items, tuple):
            continue
        placed = [ctx.layout.cells.get(k) for k in items]
        if all(p is not None and p[1].field is not None and p[1].field.type == "amount" for p in placed):
            out.append(calc)
    return out


def _is_amount(ctx: Context, key: str) -> bool:
    placed = ctx.layout.cells.get(key)
    if placed is None:
        return False
    fld = placed[1].field
    return (fld is not None and fld.type == "amount") or any(c.key == key for c in amount_sums(ctx))


def _shown(ctx: Context, key: str, value: object) -> str:
    if _is_amount(ctx, key) and isinstance(value, float):
        return show_amount(value, ctx.layout.spec.amount_unit)
    return show(value)


def _exceeds(left: object, right: object) -> bool | None:
    """Whether left > right; None when the two cannot be compared (blank, text, mixed)."""
    if isinstance(left, dt.date) and isinstance(right, dt.date):
        # an implausible date (7427-11-11: a number typed in a date cell) is already OUT_OF_RANGE
        return left > right if plausible_date(left) and plausible_date(right) else None
    a, b = as_number(left), as_number(right)
    if a is None or b is None:
        return None
    # Amounts are kept to 2 decimals: compare as the sheet shows them, not float noise.
    return cents(a) > cents(b)


# -- the spec's consistency rules ----------------------------------------------------------
def consistency_rules(ctx: Context) -> None:
    for rule in ctx.layout.spec.consistency:
        left, right = _operand(ctx, rule.left), _operand(ctx, rule.right)
        if not _exceeds(left, right):
            continue
        left_label, right_label = ctx.place(rule.left)[2], ctx.place(rule.right)[2]
        ctx.flag(rule.left,
                 f"{rule.message}：“{left_label}”为 {_shown(ctx, rule.left, left)}，"
                 f"“{right_label}”为 {_shown(ctx, rule.right, right)}：请核对这两项，改正填错的一项",
                 expected=f"≤ {_shown(ctx, rule.right, right)}", found=_shown(ctx, rule.left, left),
                 code=rule.code)  # its severity: the catalogue's (the spec's must agree, test_catalogue)


# -- PARTS_NOT_SUM -------------------------------------------------------------------------
def parts_not_sum(ctx: Context) -> None:
    unit = ctx.layout.spec.amount_unit
    for calc in amount_sums(ctx):
        total = ctx.recomputed.get(calc.key)
        cached = ctx.ret.values.get(calc.key)
        if (calc.key in ctx.ret.cached_missing or calc.key in ctx.ret.errors or is_blank(cached)
                or not isinstance(total, Decimal)):
            continue  # nothing cached to compare (the missing cache is reported elsewhere)
        number = as_number(cached)
        if number is not None and cents(number) == total:
            continue
        items = calc.operands["items"]
        parts = " + ".join(
            f"{ctx.place(k)[2]} {show_amount(as_number(ctx.inputs.get(k)) or 0.0, unit)}" for k in items)
        found = show_amount(number, unit) if number is not None else f"“{show(cached)}”"
        ctx.flag(calc.key,
                 f"“{calc.label}”为 {found}，与各分项之和 {show_amount(total, unit)}（{parts}）不符："
                 f"合计由公式自动计算，请勿手工改写；请恢复模板中的公式（或用模板重新填报），并核对各分项金额",
                 expected=show_amount(total, unit), found=found)


# -- LOW_EXECUTION_NO_REASON --------------------------------------------------------------
def execution_rates(layout: FormLayout) -> list[tuple[Calc, ExecutionRate]]:
    """The execution-rate calc of each project sheet, with the spec's setting (none without it)."""
    setting = layout.spec.execution_rate
    if setting is None:
        return []
    return [(calc, setting) for calc in layout.calcs if calc.key == prefix_of(calc.key) + setting.calc]


def low_execution_no_reason(ctx: Context) -> None:
    for calc, setting in execution_rates(ctx.layout):
        prefix = prefix_of(calc.key)
        explanation = prefix + setting.explanation
        if not setting.explanation or explanation not in ctx.layout.cells:
            continue
        rate = ctx.recomputed.get(calc.key)
        low = setting.explain_below
        if not isinstance(rate, Decimal) or rate >= low:
            continue
        text = ctx.inputs.get(explanation)
        text = text.strip() if isinstance(text, str) else ""
        field = ctx.layout.cells[explanation][1].field
        if len(text) >= MIN_EXPLANATION_CHARS or (not text and field is not None and field.required):
            continue  # long enough, or blank and so already reported as REQUIRED_MISSING
        label = ctx.place(explanation)[2]
        written = f"只写了“{text}”" if text else "未填写"
        ctx.flag(explanation,
                 f"{calc.label}为 {show_percent(rate)}，低于 {show_percent(low)}，但“{label}”{written}："
                 f"请在“{label}”中说明执行率偏低的原因（如资金退回、项目调整、支付进度）",
                 expected=f"不少于 {MIN_EXPLANATION_CHARS} 个字的说明", found=text)


CHECKS: tuple[Check, ...] = (
    # Each violated rule is reported with the rule's own code and severity (spec: consistency).
    Check("CONSISTENCY", consistency_rules),
    Check("PARTS_NOT_SUM", parts_not_sum),
    Check("LOW_EXECUTION_NO_REASON", low_execution_no_reason),
)
