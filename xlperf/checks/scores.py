"""Checks of scores: typed scores against their weights and bands, the file's computed scores,
total and grade against the ones recomputed from the inputs, and scores that contradict the
return's own facts.

What the file shows in a computed cell is compared only when it holds something to compare:
a cached formula result, or a plain value typed over the formula. A formula cell without a
cached result (saved by a tool that does not calculate, e.g. openpyxl) is never a mismatch;
``CACHE_MISSING`` says once that the scores were recomputed, and what they are.

Interplay with ``tamper``: ``FORMULA_OVERWRITTEN`` (tamper) says that a computed cell holds a
typed value instead of its formula, whatever the value; ``SCORE_MISMATCH``, ``TOTAL_MISMATCH`` and
``GRADE_MISMATCH`` (here) say that the value the file shows is wrong, whatever put it there. So
seed 004's 差 typed over the grade formula of a 96.35 return gives ``GRADE_MISMATCH`` (expected
优, found 差) and ``FORMULA_OVERWRITTEN`` at the grade cell; a correct value typed over a formula
gives ``FORMULA_OVERWRITTEN`` only. A wrong value in a cell whose formula is intact (a stale
cached result, e.g. Excel set to manual calculation) is a mismatch with advice to recalculate.
Computed cells downstream of a wrong one (a block subtotal, the total) are each reported, since
each shows a wrong number on the printed form, and their advice names the cell the error comes
from.

Ownership: ``sum`` calcs whose items are all amount fields (budget_total, spent_total) belong
to ``consistency.PARTS_NOT_SUM``; text typed into a score cell is ``SCORE_NOT_NUMBER`` here,
not ``fields.WRONG_TYPE``.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

from xlperf.checks.base import Check, Context
from xlperf.checks.consistency import execution_rates
from xlperf.checks.scorecard import (
    find_block,
    grade_calcs,
    is_number,
    is_percent,
    label_of,
    located,
    score_rows,
    score_summary,
    summary_key,
    total_keys,
)
from xlperf.form.evaluate import Result
from xlperf.form.excelmath import RuleError, excel_round
from xlperf.form.layout import FormLayout, per_layout
from xlperf.form.operators import REVERSE_OPS, STRICT_OPS
from xlperf.form.rules import KINDS, qualitative_band, score_in_band
from xlperf.form.spec import Calc, ScoreRow, TableSection
from xlperf.model.targets import says_not_done
from xlperf.model.values import as_number as number
from xlperf.model.values import is_blank, plain, unusable_number
from xlperf.model.values import show_cell as show
from xlperf.read import Value

# -- conventions the spec does not express yet; forms without these keys are skipped ---------
OUTPUT_BLOCK = "output"
"""The scorecard block of 产出 scores."""
HIGH_OUTPUT_SHARE = Decimal("0.9")
"""产出 scored at 90% of its weight or more is a high score beside a low execution rate."""

IND_TABLE = "ind"
"""The indicator table whose 数量/质量 rows are weighed against the completion score."""
LEVEL2_COLUMN = "level2"
COUNTED_LEVEL2 = ("数量指标", "质量指标")
NAME_COLUMN = "name"
UNIT_COLUMN = "unit"
COMPLETION_ROW = "completion_rate"
"""The scorecard row 实际完成率."""
HIGH_COMPLETION_SHARE = Decimal("0.85")

_EPSILON = 1e-9


# -- SCORE_NOT_NUMBER / SCORE_OVER_WEIGHT / SCORE_NEGATIVE ------------------------------------
def _typed_scores(ctx: Context) -> Iterator[tuple[ScoreRow, Value]]:
    """Score rows whose score is typed in, with the value the file holds."""
    for row in _typed_score_rows(ctx.layout):
        yield row, ctx.inputs.get(row.score_key)


@per_layout
def _typed_score_rows(layout: FormLayout) -> tuple[ScoreRow, ...]:
    return tuple(row for row in score_rows(layout) if row.score_is_input and row.score_key in layout.cells)


def score_not_number(ctx: Context) -> None:
    for row, value in _typed_scores(ctx):
        if is_blank(value) or is_number(value) or unusable_number(value):  # the last: NUMBER_INVALID
            continue
        ctx.flag(row.score_key,
                 f"“{label_of(ctx.layout, row.score_key)}”应填写 0 至 {plain(row.weight)} 之间的数字，"
                 f"文件中为 {show(value)}：文字不计分，请改为数字得分",
                 expected=f"0–{plain(row.weight)}", found=value)


def score_over_weight(ctx: Context) -> None:
    for row, value in _typed_scores(ctx):
        score = number(value)
        if score is not None and score > row.weight + _EPSILON:
            ctx.flag(row.score_key,
                     f"“{label_of(ctx.layout, row.score_key)}”得分 {plain(score)} 超过该项分值 "
                     f"{plain(row.weight)}：得分不能高于分值，请重新评分",
                     expected=f"≤{plain(row.weight)}", found=value)


def score_negative(ctx: Context) -> None:
    for row, value in _typed_scores(ctx):
        score = number(value)
        if score is not None and score < -_EPSILON:
            ctx.flag(row.score_key,
                     f"“{label_of(ctx.layout, row.score_key)}”得分 {plain(score)} 为负数："
                     f"得分应在 0 至 {plain(row.weight)} 之间，请重新评分",
                     expected=f"0–{plain(row.weight)}", found=value)


# -- QUAL_SCORE_OUT_OF_BAND -------------------------------------------------------------------
def qual_score_out_of_band(ctx: Context) -> None:
    for row, value in _typed_scores(ctx):
        level = ctx.inputs.get(row.value_key or "")
        score = number(value)
        if row.kind != "qualitative" or not isinstance(level, str) or score is None:
            continue  # level or score missing or not typed right: other checks' concern
        if score_in_band(level, score, row.weight) is not False:
            continue  # in band, or an unknown level (CHOICE_INVALID)
        low, high, inclusive = qualitative_band(str(level), row.weight)
        band = f"{plain(low)}–{plain(high)} 分" + ("" if inclusive else f"（不含 {plain(high)}）")
        ctx.flag(row.score_key,
                 f"“{row.label}”选择的达成等级为“{level}”，该等级的得分应在 {band}，"
                 f"文件中为 {plain(score)}：请按所选等级调整得分，或改选与得分相符的等级",
                 expected=band, found=value)


# -- SCORE_MISMATCH / TOTAL_MISMATCH / GRADE_MISMATCH -----------------------------------------
def _money_sum(layout: FormLayout, calc: Calc) -> bool:
    """A ``sum`` of amount fields only: consistency.PARTS_NOT_SUM owns it."""
    items = calc.operands.get("items")
    if calc.kind != "sum" or not isinstance(items, tuple):
        return False
    for key in items:
        placed = layout.cells.get(key)
        if placed is None or placed[1].field is None or placed[1].field.type != "amount":
            return False
    return True


def _differs(found: Value, expected: Result, places: int) -> bool:
    if isinstance(expected, Decimal):
        x = number(found)
        if x is None:
            return True  # blank, text or an error value where a number belongs
        try:
            return excel_round(x, places) != expected
        except RuleError:
            return True
    wanted = (expected or "").strip()
    if found is None:
        return wanted != ""
    return not isinstance(found, str) or found.strip() != wanted


def _term(ctx: Context, key: str) -> str:
    """An operand as the basis of a result: its label and its value (recomputed or typed)."""
    value: object = ctx.recomputed[key] if key in ctx.recomputed else ctx.inputs.get(key)
    return f"{label_of(ctx.layout, key)} {show(value, is_percent(ctx.layout, key))}"


_KIND_TITLES = {
    "positive": "正向指标", "reverse": "反向指标", "tiers": "分档计分", "deduction": "扣分制",
    "all_or_nothing": "达标得满分", "yes_no": "是/否", "checklist": "逐项计分",
}


def _basis(ctx: Context, calc: Calc) -> str:
    """How a computed cell is computed, with its operands' values: the "why" of a mismatch."""
    ops = calc.operands
    if calc.kind in ("ratio", "completion") and isinstance(ops.get("actual"), str) \
            and isinstance(ops.get("target"), str):
        text = f"{_term(ctx, str(ops['actual']))} / {_term(ctx, str(ops['target']))}"
        return text + (f" × {plain(calc.weight)}" if calc.kind == "ratio" and calc.weight else "")
    if calc.kind == "sum" and isinstance(ops.get("items"), tuple):
        items = list(ops["items"])
        if len(items) <= 6:
            return " + ".join(_term(ctx, k) for k in items)
        return "、".join(label_of(ctx.layout, k) for k in items[:3]) + f" 等 {len(items)} 项之和"
    if calc.kind == "grade" and isinstance(ops.get("total"), str):
        bands = "、".join(f"≥{plain(float(b))} {g}" for b, g in calc.params.get("bands", ()))
        other = calc.params.get("else", "")
        return f"{_term(ctx, str(ops['total']))}（{bands}、其余 {other}）"
    single = [k for k in ops.values() if isinstance(k, str)]
    rule = _KIND_TITLES.get(calc.kind, calc.kind)
    return f"“{calc.label}”的评分规则（{rule}）" + ("及" + "、".join(_term(ctx, k) for k in single) if single else "")


def _wrong_in_file(ctx: Context, calc: Calc) -> bool:
    """Whether the file shows a value for this computed cell, and a wrong one."""
    ret, key = ctx.ret, calc.key
    if key not in ret.values or key in ret.cached_missing or key not in ctx.recomputed \
            or not located(ctx, key):
        return False
    return _differs(ret.values[key], ctx.recomputed[key], KINDS[calc.kind].decimals)


def _wrong_origins(ctx: Context, calc: Calc) -> list[str]:
    """Labels of the cells a knock-on error comes from: computed operands, direct or further up,
    that the file shows wrong although their own operands are right (or whose formula is gone)."""
    calcs = {c.key: c for c in ctx.layout.calcs}
    origins: list[str] = []
    todo, seen = [calc], {calc.key}
    while todo:
        current = todo.pop(0)
        keys = [k for v in current.operands.values() for k in ([v] if isinstance(v, str) else v)]
        for key in keys:
            operand = calcs.get(key)
            if operand is None or key in seen or not _wrong_in_file(ctx, operand):
                continue
            seen.add(key)
            if ctx.ret.formulas.get(key) is None or not _wrong_origins_direct(ctx, operand, calcs):
                origins.append(operand.label)
            else:
                todo.append(operand)
    return origins


def _wrong_origins_direct(ctx: Context, calc: Calc, calcs: dict[str, Calc]) -> bool:
    keys = [k for v in calc.operands.values() for k in ([v] if isinstance(v, str) else v)]
    return any(k in calcs and _wrong_in_file(ctx, calcs[k]) for k in keys)


def _advice(ctx: Context, calc: Calc) -> str:
    if not ctx.ret.formulas:
        return "请核对后使用 .xlsx 模板重新填报"
    if ctx.ret.formulas.get(calc.key) is None:
        return "该单元格的公式已被直接填写的内容覆盖，请恢复模板公式（得分、合计和等次由公式自动计算，不要手工填写）"
    upstream = _wrong_origins(ctx, calc)
    if upstream:
        names = "、".join(f"“{x}”" for x in upstream)
        return f"这是{names}有误的连带结果，更正{names}后将自动更正"
    return "文件中的计算结果与填报内容不符（可能未重新计算，或公式被改动），请在 Excel 或 WPS 中重新计算（F9）后保存"


def _compare(ctx: Context, calcs: list[Calc]) -> None:
    """Flag each computed cell whose value in the file differs from the recomputed one."""
    for calc in calcs:
        if not _wrong_in_file(ctx, calc):
            continue
        key = calc.key
        found, expected = ctx.ret.values[key], ctx.recomputed[key]
        percent = is_percent(ctx.layout, key)
        places = KINDS[calc.kind].decimals - (2 if percent else 0)  # 0.1170 is 11.70%
        shown_expected = show(expected, percent, places) if isinstance(expected, Decimal) else (
            f"“{expected}”" if expected else "空白")
        ctx.flag(key,
                 f"{calc.label} 文件中为 {show(found, percent, places)}，按{_basis(ctx, calc)} "
                 f"应为 {shown_expected}：{_advice(ctx, calc)}",
                 expected=expected if expected not in (None, "") else "空白", found=found)


def score_mismatch(ctx: Context) -> None:
    layout = ctx.layout
    owned_elsewhere = total_keys(layout) | {c.key for c in grade_calcs(layout)}
    _compare(ctx, [c for c in layout.calcs
                   if c.key not in owned_elsewhere and not _money_sum(layout, c)])


def total_mismatch(ctx: Context) -> None:
    totals = total_keys(ctx.layout)
    _compare(ctx, [c for c in ctx.layout.calcs if c.key in totals])


def grade_mismatch(ctx: Context) -> None:
    _compare(ctx, grade_calcs(ctx.layout))


# -- CACHE_MISSING ----------------------------------------------------------------------------
def cache_missing(ctx: Context) -> None:
    ret = ctx.ret
    if not ret.cached_missing or ret.file_kind != "xlsx":
        return  # .xls/.ods: FORMULAS_UNVERIFIED (tamper) says what could not be read
    ctx.flag(summary_key(ctx.layout),
             f"文件保存时未计算公式（可能由 Excel、WPS 以外的工具生成或修改），{len(ret.cached_missing)} "
             f"个公式单元格没有计算结果；xlperf 已按填报内容重新计算全部得分{score_summary(ctx)}。"
             "如需文件中显示得分，请用 Excel 或 WPS 打开并保存后重新报送",
             found=f"{len(ret.cached_missing)} 个公式无计算结果")


# -- LOW_EXECUTION_HIGH_SCORES ----------------------------------------------------------------
def low_execution_high_scores(ctx: Context) -> None:
    # the form's own rate (spec execution_rate; a rate is low below its explain_below)
    found = [(calc, setting) for calc, setting in execution_rates(ctx.layout) if calc.key == setting.calc]
    if not found:
        return
    calc, setting = found[0]
    low = setting.explain_below
    rate = ctx.recomputed.get(calc.key)
    block = find_block(ctx.layout, OUTPUT_BLOCK)
    if not isinstance(rate, Decimal) or block is None or rate >= low:
        return
    score = ctx.recomputed.get(block.score_key)
    weight = Decimal(plain(block.weight))
    if not isinstance(score, Decimal) or score < HIGH_OUTPUT_SHARE * weight:
        return
    ctx.flag(calc.key,
             f"预算执行率仅 {show(rate, percent=True)}（低于 {show(low, percent=True, places=0)}），"
             f"而“{block.label}”得分 {show(score)} / {plain(weight)}（达到分值的 "
             f"{show(HIGH_OUTPUT_SHARE, percent=True, places=0)} 以上）：资金执行率低而产出得分高，"
             f"请说明原因，或按实际完成情况核实“{block.label}”各项得分",
             found=f"执行率 {show(rate, percent=True)}，{block.label} {show(score)}/{plain(weight)}")


# -- UNMET_TARGETS_HIGH_SCORE -----------------------------------------------------------------
def _find_table(layout: FormLayout, key: str) -> TableSection | None:
    for sheet in layout.spec.sheets:
        for section in sheet.sections:
            if isinstance(section, TableSection) and section.key == key:
                return section
    return None


def target_unmet(op: Value, target: Value, actual: Value) -> bool:
    """Whether an indicator's actual value says its target was not reached."""
    if is_blank(actual):
        return False  # not filled in: REQUIRED/ROW_INCOMPLETE's concern, not a miss
    if isinstance(actual, str):
        return says_not_done(actual)
    a, t = number(actual), number(target)
    if a is None:
        return False
    if t is None:
        return a == 0  # a zero against a qualitative target: nothing done
    sign = str(op or "").strip()
    strict = sign in STRICT_OPS
    if sign in REVERSE_OPS:
        return a >= t if strict else a > t
    return a <= t if strict else a < t


def _indicator_text(ctx: Context, table: TableSection, n: int) -> str:
    m = table.missed_target
    assert m is not None

    def value(column: str) -> Value:
        return ctx.inputs.get(table.row_key(n, column))

    name = value(NAME_COLUMN)
    title = str(name).strip() if not is_blank(name) else f"第 {n} 行"
    unit = value(UNIT_COLUMN)
    unit_text = "" if is_blank(unit) else str(unit).strip()
    target, actual = value(m.target), value(m.actual)
    op = "" if is_blank(value(m.op)) else str(value(m.op)).strip()

    def shown(v: Value) -> str:
        x = number(v)
        return show(v) if x is None else plain(x) + unit_text

    return f"{title}：目标 {op}{shown(target)}，实际 {shown(actual)}"


def unmet_targets_high_score(ctx: Context) -> None:
    table = _find_table(ctx.layout, IND_TABLE)
    row = next((r for r in score_rows(ctx.layout) if r.key == COMPLETION_ROW), None)
    if table is None or table.missed_target is None or row is None:
        return
    raw = number(ctx.recomputed[row.score_key] if row.score_key in ctx.recomputed
                 else ctx.inputs.get(row.score_key))
    if raw is None:
        return
    score = excel_round(raw, 2)
    weight = Decimal(plain(row.weight))
    if score < HIGH_COMPLETION_SHARE * weight:
        return
    m = table.missed_target
    groups = [g for g in table.groups for _ in range(g.rows)]
    unmet = []
    for n in range(1, table.rows + 1):
        if n > len(groups) or groups[n - 1].values.get(LEVEL2_COLUMN) not in COUNTED_LEVEL2:
            continue
        op, target, actual = (ctx.inputs.get(table.row_key(n, c)) for c in (m.op, m.target, m.actual))
        if target_unmet(op, target, actual):
            unmet.append(_indicator_text(ctx, table, n))
    if not unmet:
        return
    ctx.flag(row.score_key,
             f"{'/'.join(COUNTED_LEVEL2)}中有 {len(unmet)} 项未完成目标（{'；'.join(unmet)}），"
             f"而“{row.label}”得分 {show(score)} / {plain(weight)}（达到分值的 "
             f"{show(HIGH_COMPLETION_SHARE, percent=True, places=0)} 以上）：请说明评分依据，"
             f"或按目标完成情况调整“{row.label}”得分",
             found=f"{len(unmet)} 项未完成，得分 {show(score)}/{plain(weight)}")


CHECKS: tuple[Check, ...] = (
    Check("SCORE_NOT_NUMBER", score_not_number),
    Check("SCORE_OVER_WEIGHT", score_over_weight),
    Check("SCORE_NEGATIVE", score_negative),
    Check("QUAL_SCORE_OUT_OF_BAND", qual_score_out_of_band),
    Check("SCORE_MISMATCH", score_mismatch),
    Check("TOTAL_MISMATCH", total_mismatch),
    Check("GRADE_MISMATCH", grade_mismatch),
    Check("CACHE_MISSING", cache_missing),
    Check("LOW_EXECUTION_HIGH_SCORES", low_execution_high_scores),
    Check("UNMET_TARGETS_HIGH_SCORE", unmet_targets_high_score),
)
