"""The annotated copy of a return: its template regenerated with the return's values.

The unit's own file is never re-saved (openpyxl loses parts of the files it re-saves): the
template is written afresh from the form's layout, with the values as typed (wrong ones
included, still editable), each problem cell in red with a comment, and a first sheet
"审核意见" listing every finding, each linked to its cell.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path

from xlperf.excel.template import SheetLink, Summary, TemplateOptions, template_bytes
from xlperf.findings import CheckedReturn, Finding
from xlperf.form.metasheet import ANNOTATED, COPY
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.report.view import (
    RECOMPUTED_NOTE,
    TITLE,
    Row,
    View,
    build_view,
    sheet_order,
    single_cell,
)

SUMMARY_HEADER = ("序号", "严重程度", "工作表", "单元格", "字段", "问题说明", "应为", "实为", "代码")
SUMMARY_WIDTHS = (5, 8, 10, 8, 16, 50, 12, 12, 16)
WORKBOOK_NOTE = ("本工作簿按您填报的内容重新生成，仅供对照：问题单元格已标成红色并附批注（鼠标移到单元格上即可查看），"
                 "点击下表“单元格”一列可跳到该单元格。请在您报送的原文件中修改后重新报送，不要报送本工作簿。")


def _place(f: Finding) -> tuple[str, str] | None:
    """(sheet, "A1") where a finding's comment goes; None for a file-level finding or odd cell."""
    cell = single_cell(f.cell)
    return (f.sheet, cell) if f.sheet and cell else None


def _describe(row: Row) -> str:
    f = row.finding
    text = f"【{row.severity}】{f.message}"
    detail = "；".join(part for part in (
        f"应为 {f.expected}" if f.expected not in (None, "") else "",
        f"实为 {f.found}" if f.found not in (None, "") else "",
    ) if part)
    return f"{text}（{detail}）" if detail else text


def cell_comments(checked: CheckedReturn, view: View | None = None) -> dict[tuple[str, str], str]:
    """Comment text by (sheet, "A1"): every finding at that cell, errors first, one per line."""
    view = view or build_view(checked)
    by_cell: dict[tuple[str, str], list[str]] = defaultdict(list)
    for row in view.rows:
        place = _place(row.finding)
        if place is not None:
            by_cell[place].append(_describe(row))
    return {place: texts[0] if len(texts) == 1 else "\n".join(f"{i}. {t}" for i, t in enumerate(texts, 1))
            for place, texts in by_cell.items()}


def summary(checked: CheckedReturn, view: View | None = None) -> Summary:
    """The "审核意见" sheet: what was checked, the outcome, what to do, then every finding."""
    view = view or build_view(checked)
    sheets = set(sheet_order(checked))
    version = f"（第 {view.form_version} 版）" if view.form_version else ""
    lines = [
        f"文件：{view.file_name}　　单位：{view.unit}　　表单：{view.form_title}{version}　　年度：{view.year}",
        f"审核结果：{view.status_label}（错误 {view.errors} 项，提示 {view.warnings} 项）；"
        f"综合得分：{view.total}；等次：{view.grade}" + (f"（{RECOMPUTED_NOTE}）" if view.scored else ""),
        *view.how_to_fix,
        WORKBOOK_NOTE,
        *(f"未能核实：{note}" for note in view.notes),
    ]
    if not view.rows:
        lines.append("未发现问题。")
    rows: list[list[str | SheetLink]] = []
    for r in view.rows:
        place = _place(r.finding)
        cell: str | SheetLink = r.cell
        if place is not None and place[0] in sheets:
            cell = SheetLink(r.cell, *place)
        rows.append([str(r.number), r.severity, r.sheet, cell, r.field, r.finding.message,
                     r.expected, r.found, r.finding.code])
    return Summary(title=TITLE, lines=lines, header=SUMMARY_HEADER if rows else (), rows=rows,
                   widths=SUMMARY_WIDTHS)


def write_annotated(checked: CheckedReturn, path: Path) -> Path | None:
    """Write the annotated copy of ``checked`` to ``path``; None when its form is unknown."""
    data = annotated_bytes(checked)
    if data is None:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def annotated_bytes(checked: CheckedReturn) -> bytes | None:
    """The annotated copy of ``checked`` as .xlsx bytes; None when its form is unknown."""
    if checked.form not in builtin_forms():
        return None
    view = build_view(checked)
    # NaN and infinity (a crafted file's; NUMBER_INVALID) have no cell value: the cell stays blank
    values = {k: None if isinstance(v, float) and not math.isfinite(v) else v for k, v in checked.values.items()}
    # Marked as what it is: a unit that sends it back is told so, and it never counts as a return.
    options = TemplateOptions(values=values, lock_prefilled=False, meta=((COPY, ANNOTATED),),
                              annotations=cell_comments(checked, view), summary=summary(checked, view))
    return template_bytes(builtin_layout(str(checked.form)), options)
