"""The 结果应用 workbook for the budget section (xlsxwriter), from :class:`xlperf.rollup.results.Results`.

Sheets: 等次汇总 (per grade: the consequence, its factor, how many projects, this year's budget
and the suggested next-year budget; the same per 主管部门; a chart of the grade distribution),
one sheet per 主管部门 (its projects, then its totals per grade), and 指标对比 (each indicator's
target against its actual value). Totals are values computed here, not formulas: the figures the
budget section copies are the ones the desk and ``round results`` show.

Text from returns (units, projects, indicators, file names) is written as text, never as a
formula (:func:`xlperf.rollup.workbook.put`); a 主管部门's name becomes a sheet name only after
the characters a sheet name cannot hold are replaced.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from xlperf.excel.printsetup import a4_one_page_wide
from xlperf.rollup.results import GradeTotal, ResultRow, Results, by_dept, grade_totals
from xlperf.rollup.workbook import CREATED, put, write_atomically

__all__ = ["OVERVIEW", "FIGURES", "write_results"]

OVERVIEW, FIGURES = "等次汇总", "指标对比"
HEADER = "&L结果应用&R&A"
GRADE_COLUMNS = ("等次", "应用结果", "预算系数", "项目数", "本年预算（万元）", "建议下年预算（万元）")
PROJECT_COLUMNS = ("单位代码", "单位", "项目", "年度", "总分", "等次", "应用结果", "预算系数", "预算（万元）",
                   "建议下年预算（万元）", "下达（万元）", "支出（万元）", "执行率", "文件")
LAST_COLUMNS = ("上年总分", "上年等次", "等次变化")
"""After 等次, when last year's round is in the ledger."""
FIGURE_COLUMNS = ("主管部门", "单位", "项目", "二级指标", "三级指标", "符号", "目标值", "实际值", "计量单位", "完成率")
FORMATS = {"money": "#,##0.00", "rate": "0.00%", "score": "0.00", "factor": "0.00##", "int": "0"}
KINDS = {"预算系数": "factor", "项目数": "int", "本年预算（万元）": "money", "建议下年预算（万元）": "money",
         "预算（万元）": "money", "下达（万元）": "money", "支出（万元）": "money", "执行率": "rate", "完成率": "rate",
         "总分": "score", "上年总分": "score", "年度": "int"}
WIDTHS = {"单位": 24, "项目": 30, "应用结果": 16, "文件": 30, "三级指标": 26, "目标值": 14, "实际值": 14, "主管部门": 22}
FELL, ROSE, SAME = "下降", "上升", "持平"
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\\x00-\x1f]")
MAX_SHEET_NAME = 31


def write_results(results: Results, path: Path) -> Path:
    """Write the workbook at ``path`` atomically (as the summary is written); returns ``path``."""
    return write_atomically(path, lambda tmp: _write(results, tmp))


class _Styles:
    def __init__(self, wb: Workbook) -> None:
        self.header = wb.add_format({"bold": True, "border": 1, "text_wrap": True, "align": "center",
                                     "valign": "vcenter", "bg_color": "#D9E1F2"})
        self.title = wb.add_format({"bold": True, "font_size": 12})
        self.note = wb.add_format({"text_wrap": True, "valign": "top"})
        self.kind = {k: wb.add_format({"num_format": f}) for k, f in FORMATS.items()}
        self.total = wb.add_format({"bold": True, "top": 1})
        self.total_kind = {k: wb.add_format({"num_format": f, "bold": True, "top": 1}) for k, f in FORMATS.items()}
        self.fell = wb.add_format({"font_color": "#C00000", "bold": True})


def _write(results: Results, path: Path) -> None:
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False})
    wb.set_properties({"title": f"{results.round_name} 结果应用", "author": "xlperf", "created": CREATED})
    styles = _Styles(wb)
    depts = by_dept(results.rows)
    names = sheet_names(list(depts))
    _overview(wb, styles, results, depts, names)
    for dept, rows in depts.items():
        _dept_sheet(wb, styles, results, names[dept], rows)
    _figures(wb, styles, results.rows)
    wb.close()


def sheet_names(depts: Sequence[str]) -> dict[str, str]:
    """Each 主管部门's sheet name: unique, at most 31 characters, none of ``[]:*?/\\``, not one
    of this workbook's own sheets."""
    taken = {OVERVIEW.casefold(), FIGURES.casefold(), "history"}  # Excel reserves "History"
    names = {}
    for dept in depts:
        base = _NOT_IN_SHEET_NAMES.sub("_", dept).strip("'") or "主管部门"
        name, n = base[:MAX_SHEET_NAME], 1
        while name.casefold() in taken:
            n += 1
            suffix = f"（{n}）"
            name = base[:MAX_SHEET_NAME - len(suffix)] + suffix
        taken.add(name.casefold())
        names[dept] = name
    return names


def _sheet(wb: Workbook, name: str) -> Worksheet:
    ws = wb.add_worksheet(name)
    a4_one_page_wide(ws, landscape=True, repeat_rows=0, header=HEADER)
    return ws


def _headers(ws: Worksheet, styles: _Styles, row: int, columns: Sequence[str]) -> None:
    ws.set_row(row, 30)
    for c, header in enumerate(columns):
        ws.write_string(row, c, header, styles.header)


def _values(ws: Worksheet, styles: _Styles, row: int, columns: Sequence[str], values: Sequence[Any],
            total: bool = False) -> None:
    for c, (header, value) in enumerate(zip(columns, values, strict=True)):
        kind = KINDS.get(header)
        fmt = (styles.total_kind[kind] if kind else styles.total) if total else (styles.kind[kind] if kind else None)
        if value is None and total:
            ws.write_blank(row, c, None, fmt)
        else:
            put(ws, row, c, float(value) if isinstance(value, Decimal) else value, fmt)


def _widths(ws: Worksheet, columns: Sequence[str]) -> None:
    for c, header in enumerate(columns):
        ws.set_column(c, c, WIDTHS.get(header, 12))


def _grade_table(ws: Worksheet, styles: _Styles, top: int, totals: Sequence[GradeTotal]) -> int:
    """The per-grade table at ``top`` (header), its 合计 row last; the row after it."""
    _headers(ws, styles, top, GRADE_COLUMNS)
    row = top + 1
    for t in totals:
        _values(ws, styles, row, GRADE_COLUMNS, (t.grade, t.action, t.factor, t.count, t.budget, t.suggested))
        row += 1
    _values(ws, styles, row, GRADE_COLUMNS,
            ("合计", None, None, sum(t.count for t in totals), round(sum(t.budget for t in totals), 6),
             sum((t.suggested for t in totals), Decimal(0))), total=True)
    return row + 1


def _overview(wb: Workbook, styles: _Styles, results: Results, depts: dict[str, list[ResultRow]],
              names: dict[str, str]) -> None:
    ws = _sheet(wb, OVERVIEW)
    _widths(ws, GRADE_COLUMNS)
    ws.set_column(0, 0, 22)
    put(ws, 0, 0, f"{results.round_name}（{results.year} 年，{results.form_title}）结果应用", styles.title)
    note = (f"等次与上年报送任务“{results.previous}”对比；" if results.previous else "台账中没有上一年度同一表单的报送任务，未对比上年等次；")
    put(ws, 1, 0, note + "建议下年预算 = 本年预算 × 预算系数。各主管部门的项目见同名工作表。", styles.note)
    top = 3
    end = _grade_table(ws, styles, top, results.totals)
    chart = wb.add_chart({"type": "column"})
    chart.add_series({"name": "项目数", "categories": [OVERVIEW, top + 1, 0, end - 2, 0],
                      "values": [OVERVIEW, top + 1, 3, end - 2, 3], "data_labels": {"value": True}})
    chart.set_title({"name": "评价等次分布"})
    chart.set_legend({"none": True})
    ws.insert_chart(top, len(GRADE_COLUMNS) + 1, chart, {"x_scale": 0.9, "y_scale": 0.8})
    grades = [t.grade for t in results.totals]
    columns = ("主管部门", "工作表", *grades, "项目数", "本年预算（万元）", "建议下年预算（万元）")
    row = max(end + 2, top + 18)
    put(ws, row - 1, 0, "按主管部门", styles.title)
    _headers(ws, styles, row, columns)
    for dept, rows in depts.items():
        row += 1
        mine = {t.grade: t for t in grade_totals(rows, results.consequences)}
        counts = [mine[g].count if g in mine else 0 for g in grades]
        _values(ws, styles, row, columns, (dept, names[dept], *counts, len(rows), _sum_budget(rows),
                                           _sum_suggested(rows)))


def _sum_budget(rows: Sequence[ResultRow]) -> float:
    return round(sum(r.budget for r in rows if r.budget is not None), 6)


def _sum_suggested(rows: Sequence[ResultRow]) -> Decimal:
    return sum((r.suggested for r in rows if r.suggested is not None), Decimal(0))


def change(row: ResultRow, order: Sequence[str]) -> str:
    """下降 / 上升 / 持平 against last year's grade ("" when there is nothing to compare)."""
    if row.fell:
        return FELL
    if row.last is None or row.grade not in order or row.last.grade not in order:
        return ""
    return ROSE if order.index(row.grade or "") < order.index(row.last.grade or "") else SAME


def _dept_sheet(wb: Workbook, styles: _Styles, results: Results, name: str, rows: Sequence[ResultRow]) -> None:
    ws = _sheet(wb, name)
    with_last = results.previous is not None
    at = PROJECT_COLUMNS.index("等次") + 1
    columns = (*PROJECT_COLUMNS[:at], *LAST_COLUMNS, *PROJECT_COLUMNS[at:]) if with_last else PROJECT_COLUMNS
    _widths(ws, columns)
    order = [c.grade for c in results.consequences]
    _headers(ws, styles, 0, columns)
    for r, row in enumerate(rows, start=1):
        c = row.consequence
        values: list[Any] = [row.unit_code or None, row.unit, row.project, row.year, row.score, row.grade,
                             c.action if c else None, c.factor if c else None, row.budget, row.suggested,
                             row.released, row.spent, row.rate, row.file]
        if with_last:
            values[at:at] = [row.last.score if row.last else None, row.last.grade if row.last else None,
                             change(row, order) or None]
        _values(ws, styles, r, columns, values)
        if row.fell:
            ws.write_string(r, at + 2, FELL, styles.fell)
    ws.freeze_panes(1, 3)
    ws.autofilter(0, 0, max(len(rows), 1), len(columns) - 1)
    top = len(rows) + 3
    put(ws, top - 1, 0, "按等次合计", styles.title)
    _grade_table(ws, styles, top, grade_totals(rows, results.consequences))


def _figures(wb: Workbook, styles: _Styles, rows: Sequence[ResultRow]) -> None:
    ws = _sheet(wb, FIGURES)
    _widths(ws, FIGURE_COLUMNS)
    _headers(ws, styles, 0, FIGURE_COLUMNS)
    r = 0
    for row in rows:
        for f in row.figures:
            r += 1
            _values(ws, styles, r, FIGURE_COLUMNS, (row.dept, row.unit, row.project, f.level2, f.name, f.op, f.target,
                                                    f.actual, f.unit, f.completion))
    ws.freeze_panes(1, 3)
    ws.autofilter(0, 0, max(r, 1), len(FIGURE_COLUMNS) - 1)
