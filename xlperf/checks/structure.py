"""STRUCTURE_CHANGED for rows or columns inserted or deleted: one finding per sheet.

The reader found the form's fixed labels and aligned the file's rows with the template's
(:mod:`xlperf.read.anchors`). Here each changed sheet gets one finding that says where rows were
added or removed, what was done about it (values read where the labels say their cells went;
nothing scored or rolled up from a cell that moved; rows added to a table beyond the template's
named), and what to do. The cell-level findings the shift explains are dropped by
:mod:`xlperf.checks.taint`.
"""

from __future__ import annotations

from xlperf.checks.base import Context
from xlperf.checks.scores import grade_calcs, score_summary
from xlperf.read.anchors import SheetShift

MAX_PLACES = 3
"""Insertions or deletions named one by one in a finding."""
MAX_EXTRA = 3

_WHAT_TO_DO = ("请在下发的模板中重新填报（可把本文件中的内容复制到模板的对应单元格），不要插入或删除行列；"
               "指标行不够时，请把同类指标合并填写，或联系财政局")


def _between(above: str, below: str) -> str:
    if above and below:
        return f"“{above}”与“{below}”之间"
    return f"“{below}”之前" if below else f"“{above}”之后"


def _changes(shift: SheetShift) -> list[str]:
    parts = [f"在{_between(above, below)}插入了 {n} 行（文件第 {row + 1} 行起）"
             for row, n, above, below in shift.inserted[:MAX_PLACES]]
    parts += [f"删除了{_between(above, below)}的 {n} 行" for _, n, above, below in shift.removed[:MAX_PLACES]]
    more = len(shift.inserted) + len(shift.removed) - len(parts)
    if more > 0:
        parts.append(f"另有 {more} 处行的增删")
    if shift.columns_changed:
        parts.append("插入或删除了列（表中固定的标签不在原来的列）")
    return parts


def _not_used(ctx: Context, moved: list[str]) -> str:
    """What was not used of the moved cells: amounts (not rolled up) and the scores they feed."""
    fields = [ctx.layout.cells[k][1].field for k in moved]
    amounts = [f for f in fields if f is not None and f.type == "amount"]
    parts = []
    if amounts:
        parts.append("位置改动过的金额不计入汇总")
    graded = [c.key for c in grade_calcs(ctx.layout)]
    if graded and all(k in ctx.recomputed for k in graded):
        parts.append(f"得分只由位置未变的内容计算{score_summary(ctx)}")
    elif graded:
        parts.append("由位置改动过的内容计算的得分未计算")
    return "，但" + "，".join(parts) + "，" if parts else "，"


def _first_row(shift: SheetShift) -> int:
    rows = [row for row, *_ in shift.inserted] + [row for row, *_ in shift.removed]
    return min(rows) if rows else 0


def rows_changed(ctx: Context) -> set[str]:
    """Flag every sheet whose rows or columns changed; their names."""
    structure = ctx.ret.structure
    if structure is None or not structure.changed:
        return set()
    places = structure.places
    unplaced = [k for k, p in places.items() if p is None]
    changed = set()
    for name, shift in structure.sheets.items():
        if not shift.changed:
            continue
        changed.add(name)
        on_sheet = [k for k, p in places.items() if ctx.layout.cells[k][0] == name]
        lost = [k for k in unplaced if k in on_sheet]
        text = f"工作表“{name}”的表格结构被改动：{'；'.join(_changes(shift))}。"
        if lost or not shift.mappable:
            labels = "、".join(f"“{ctx.layout.cells[k][1].label}”" for k in lost[:MAX_PLACES])
            more = f"等 {len(lost)} 项" if len(lost) > MAX_PLACES else ""
            text += (f"{labels}{more}的位置无法确定，无法读取；" if lost else "表格无法与模板对应；") + "无法计分，"
        else:
            text += "已按表中固定的标签找到各项的新位置读取填报内容" + _not_used(ctx, on_sheet)
        if shift.extra_rows:
            rows = "、".join(f"第 {row + 1} 行（“{first[:20]}”）" for row, first in shift.extra_rows[:MAX_EXTRA])
            text += f"新增的{rows}在模板中没有对应位置，未读取，"
        text += "本报表不予通过。" + _WHAT_TO_DO
        found = "；".join(_changes(shift))
        ctx.flag(None, text, expected="与模板一致", found=found, sheet=name, cell=f"A{_first_row(shift) + 1}")
    return changed
