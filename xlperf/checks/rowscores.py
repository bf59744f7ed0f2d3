"""Checks of tables whose rows the unit sets and scores (:mod:`xlperf.model.scoredrows`): the
weights against the section's points, the typed score of a 定性 row against its level's band, and
what a row needs for its score to mean anything.

- ``WEIGHTS_NOT_SUM``: the weights typed in the table do not add up to the section's ``points``
  (90 in the 一体化 self-evaluation); at the cell that sums the weight column (合计), else at
  the column's first cell; the message names the column.
- ``QUAL_SCORE_OUT_OF_BAND``: a 定性 row's typed score outside the band of the level its 完成值
  names (达成 80–100% of the weight, 部分达成 60–80%, 未达成 0–60%): the band is
  :mod:`xlperf.form.qualitative`'s, the test the conditional format's
  (:func:`xlperf.form.rowrules.row_out_of_band`).
- ``CHOICE_INVALID``: a 定性 row whose 完成值 names no level.
- ``REQUIRED_MISSING``: a row in use (name, target or actual) without a weight, and a 定性 row
  with a weight but no typed score: each scores nothing.

Numbers typed as text in a numeric row are ``WRONG_TYPE`` (:mod:`xlperf.checks.types`); a row
below its target without its reason is ``DEVIATION_NO_REASON`` (:mod:`xlperf.checks.indicators`).
"""

from __future__ import annotations

from decimal import Decimal

from xlperf.checks.base import Check, Context
from xlperf.form.excelmath import excel_round
from xlperf.form.qualitative import SHORT_LEVELS, level_of, qualitative_band
from xlperf.form.rowrules import row_score_in_band
from xlperf.model.indicators import in_use
from xlperf.model.scoredrows import ScoredRow, ScoredTable, scored_rows, scored_tables
from xlperf.model.values import as_number, is_blank, plain, show

LEVEL_WORDS = "、".join(SHORT_LEVELS)


def _weight_total_cell(ctx: Context, table: ScoredTable) -> str:
    """The cell showing the weights' sum (a sum calc over the whole column), else the first weight."""
    keys = {table.key(n, "weight") for n in range(1, table.section.rows + 1)}
    for calc in ctx.layout.calcs:
        items = calc.operands.get("items")
        if calc.kind == "sum" and isinstance(items, tuple) and keys <= set(items):
            return calc.key
    return table.key(1, "weight")


def weights_not_sum(ctx: Context) -> None:
    for table in scored_tables(ctx.layout):
        weights = [as_number(ctx.inputs.get(table.key(n, "weight"))) for n in range(1, table.section.rows + 1)]
        total = sum((Decimal(repr(w)) for w in weights if w is not None), Decimal(0))
        points = Decimal(plain(table.points))
        if excel_round(float(total), 2) == points:
            continue
        column = table.label("weight")
        ctx.flag(_weight_total_cell(ctx, table),
                 f"“{table.section.title}”的“{column}”列合计为 {plain(total)}，应为 {plain(points)}"
                 f"（本部分的分值）：请调整各项指标的“{column}”，使其合计为 {plain(points)}",
                 expected=plain(points), found=plain(total))


def _typed_rows(ctx: Context) -> list[ScoredRow]:
    return [row for table in scored_tables(ctx.layout) for row in scored_rows(table, ctx.inputs)]


def _title(ctx: Context, row: ScoredRow) -> str:
    name = ctx.inputs.get(row.table.section.row_key(row.n, "name"))
    return f"指标“{show(name)}”" if not is_blank(name) else f"第{row.n}行指标"


def qual_score_out_of_band(ctx: Context) -> None:
    for row in _typed_rows(ctx):
        level, typed, weight = (ctx.inputs.get(row.key(p)) for p in ("actual", "typed", "weight"))
        if not row.qualitative or row_score_in_band(row.op, level, typed, weight):
            continue
        low, high, inclusive = qualitative_band(str(level), float(weight))  # type: ignore[arg-type]
        band = f"{plain(low)}–{plain(high)} 分" + ("" if inclusive else f"（不含 {plain(high)}）")
        ctx.flag(row.key("typed"),
                 f"{_title(ctx, row)}的完成情况为“{str(level).strip()}”，权重 {plain(float(weight))}"  # type: ignore[arg-type]
                 f"，该等级的得分应在 {band}，“{row.table.label('typed')}”填的是 {plain(float(typed))}："  # type: ignore[arg-type]
                 "请按完成情况的等级调整得分，或改写与得分相符的完成情况",
                 expected=band, found=typed)


def level_invalid(ctx: Context) -> None:
    for row in _typed_rows(ctx):
        level = ctx.inputs.get(row.key("actual"))
        if not row.qualitative or is_blank(level) or level_of(level) is not None:
            continue
        ctx.flag(row.key("actual"),
                 f"{_title(ctx, row)}是定性指标，“{row.table.label('actual')}”应填写完成情况的等级"
                 f"（{LEVEL_WORDS}），文件中为“{show(level)}”：请改为其中之一，再按该等级填写得分",
                 expected=LEVEL_WORDS, found=level)


def row_incomplete(ctx: Context) -> None:
    for row in _typed_rows(ctx):
        weight = as_number(ctx.inputs.get(row.key("weight")))
        cells = {"name": ctx.inputs.get(row.table.section.row_key(row.n, "name")),
                 "target": ctx.inputs.get(row.key("target")), "actual": ctx.inputs.get(row.key("actual"))}
        if weight is None and is_blank(ctx.inputs.get(row.key("weight"))) and in_use(cells):
            ctx.flag(row.key("weight"),
                     f"{_title(ctx, row)}没有填写“{row.table.label('weight')}”：每项指标都须有权重"
                     f"（各项合计 {plain(row.table.points)}），不设此指标的请清除该行", expected="权重")
        elif row.qualitative and weight is not None and is_blank(ctx.inputs.get(row.key("typed"))):
            ctx.flag(row.key("typed"),
                     f"{_title(ctx, row)}是定性指标，“{row.table.label('typed')}”为空，本行不得分：请按完成情况"
                     f"（{LEVEL_WORDS}）在该等级的区间内填写得分", expected="得分")


CHECKS: tuple[Check, ...] = (
    Check("WEIGHTS_NOT_SUM", weights_not_sum),
    Check("QUAL_SCORE_OUT_OF_BAND", qual_score_out_of_band),
    Check("CHOICE_INVALID", level_invalid),
    Check("REQUIRED_MISSING", row_incomplete),
)
