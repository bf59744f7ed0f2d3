"""What the checks of scores (and tamper) need to know about a form's scorecard and a return's
score cells: labels, percent cells, blocks, grades and totals, and the recomputed summary."""

from __future__ import annotations

from collections.abc import Iterator

from xlperf.checks.base import Context
from xlperf.form.layout import FormLayout
from xlperf.form.metasheet import NAME_PREFIX
from xlperf.form.spec import Calc, ScoreBlock, ScoreRow
from xlperf.model.values import as_number as number
from xlperf.model.values import show_cell as show


def is_number(value: object) -> bool:
    return number(value) is not None


def label_of(layout: FormLayout, key: str) -> str:
    placed = layout.cells.get(key)
    return placed[1].label if placed else key


def is_percent(layout: FormLayout, key: str) -> bool:
    placed = layout.cells.get(key)
    if placed is None:
        return False
    p = placed[1]
    if p.calc is not None:
        return p.calc.percent or p.calc.kind == "completion"
    return p.field is not None and p.field.type == "percent"


def located(ctx: Context, key: str) -> bool:
    """Whether the file has a cell for ``key``: by its defined name, else the field map, on a
    sheet that exists. A field on a deleted or renamed sheet is STRUCTURE_CHANGED, not a
    wrong value."""
    ret = ctx.ret
    loc = ret.names.get(NAME_PREFIX + key)
    if loc is None and key in ret.field_map:
        loc = (ret.field_map[key].sheet, ret.field_map[key].cell)
    return loc is not None and loc[0] in ret.sheets


def score_rows(layout: FormLayout) -> Iterator[ScoreRow]:
    for card in layout.spec.scorecards():
        for block in card.blocks:
            yield from block.rows


def find_block(layout: FormLayout, key: str) -> ScoreBlock | None:
    for card in layout.spec.scorecards():
        for block in card.blocks:
            if block.key == key:
                return block
    return None


def grade_calcs(layout: FormLayout) -> list[Calc]:
    return [c for c in layout.calcs if c.kind == "grade"]


def total_keys(layout: FormLayout) -> set[str]:
    """The totals the grades are taken from (``total_score``)."""
    return {str(c.operands["total"]) for c in grade_calcs(layout) if isinstance(c.operands.get("total"), str)}


def score_summary(ctx: Context) -> str:
    """The recomputed total and grade, in brackets (empty for forms without a scorecard)."""
    if any(sheet.name not in ctx.ret.sheets for sheet in ctx.layout.sheets):
        return "（但有工作表缺失，其中的内容无法读取，得分无法完整重算）"
    parts = []
    for grade in grade_calcs(ctx.layout):
        if grade.key not in ctx.recomputed:  # fed by an unusable value (checks.taint)
            return "（但有数值填错或位置被改动，得分未计算）"
        total = str(grade.operands.get("total", ""))
        if total in ctx.recomputed:
            parts.append(f"{label_of(ctx.layout, total)} {show(ctx.recomputed[total])}")
        value = ctx.recomputed.get(grade.key)
        parts.append(f"{grade.label} {value if value else '未评定（尚无得分）'}")
    return "（" + "，".join(parts) + "）" if parts else ""


def summary_key(layout: FormLayout) -> str | None:
    """Where a form-wide score finding goes: the first total cell, if the form has one."""
    totals = sorted(total_keys(layout))
    return totals[0] if totals else None
