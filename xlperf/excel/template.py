"""Write a form layout as a locked .xlsx template (xlsxwriter).

Addresses come from ``layout``, formula text from ``formulas``, the hidden sheet's rows from
``metasheet``, cell formats from ``cellformats``, prefilled values from ``prefill`` and what
the caller asks for from ``options``; this module only serialises: cells, merges, validations,
protection, defined names, print setup and the hidden ``_xlperf`` sheet that lets ``check``
recognise the form.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.worksheet import Worksheet

from xlperf.excel.cellformats import ALERT_FILL, FONT, NUM_FORMATS, CellFormats
from xlperf.excel.options import (
    DEFAULT_PASSWORD,
    SUMMARY_SHEET,
    SheetLink,
    Summary,
    TemplateError,
    TemplateOptions,
)
from xlperf.excel.prefill import prefill_values
from xlperf.excel.printsetup import a4_one_page_wide
from xlperf.excel.xlsxtext import write_text
from xlperf.form.evaluate import evaluate
from xlperf.form.excelmath import RuleError
from xlperf.form.formulas import a1_ref, calc_formula, condition_formula
from xlperf.form.layout import FormLayout, Placed, SheetLayout
from xlperf.form.metasheet import (
    FIELD_HEADER,
    META_SHEET,
    NAME_PREFIX,
    field_header_row,
    field_rows,
    meta_rows,
)
from xlperf.form.spec import Field

__all__ = ["ALERT_FILL", "DEFAULT_PASSWORD", "SUMMARY_SHEET", "SheetLink", "Summary", "TemplateError",
           "TemplateOptions", "write_template"]

MIN_ROW_HEIGHT = 20.0
LINE_HEIGHT = 14.0
# Fixed so that regenerating a template gives the same file content.
CREATED = dt.datetime(2024, 1, 1)

TYPE_HINTS = {
    "text": "请输入文字",
    "longtext": "请输入文字，可按 Alt+Enter 换行",
    "number": "请输入数字",
    "amount": "请输入金额（{unit}），不小于 0，最多两位小数",
    "percent": "请输入百分比，如 95%",
    "integer": "请输入整数",
    "year": "请输入四位年度，如 2024",
    "date": "请输入日期，如 2024-01-01",
    "choice": "请从下拉列表中选择",
    "phone": "请输入电话号码",
    "value": "请输入数值（如 12、95%）或定性目标（如 规范、有效）",
}


class _Writer:
    def __init__(self, layout: FormLayout, path: Path | io.BytesIO, options: TemplateOptions) -> None:
        self.layout = layout
        self.options = options
        self.values = prefill_values(layout, options)
        self.annotations = dict(options.annotations or {})
        try:
            self.results = evaluate(layout, {k: v for k, v in self.values.items()
                                             if not isinstance(v, dt.datetime)})
        except RuleError:
            if options.lock_prefilled:
                raise
            # A return's values as typed may defeat the evaluator (e.g. an overflowing number);
            # its annotated copy is still worth writing: the spreadsheet recalculates on open.
            self.results = {}
        target = path if isinstance(path, io.BytesIO) else str(path)
        self.workbook = xlsxwriter.Workbook(target, {"in_memory": True} if isinstance(path, io.BytesIO) else {})
        self.workbook.set_properties({"title": layout.spec.title, "author": "xlperf",
                                      "created": CREATED})
        self.formats = CellFormats(self.workbook)

    def write(self) -> None:
        summary = self.options.summary
        if summary is not None:
            # Added first so that it is the first tab, the one the workbook opens on.
            self.write_summary(self.workbook.add_worksheet(_summary_name(self.layout)), summary)
        sheets = {s.name: self.workbook.add_worksheet(s.name) for s in self.layout.sheets}
        for sheet in self.layout.sheets:
            self.write_sheet(sheets[sheet.name], sheet)
        for (sheet_name, cell), note in self.annotations.items():
            if sheet_name in sheets:
                sheets[sheet_name].write_comment(cell, note, {"x_scale": 2.5, "y_scale": 1.5})
        for h in self.layout.highlights:
            ws = sheets[h.sheet]
            _, row, col = self.layout.address(h.target)
            ws.conditional_format(row, col, row, col, {
                "type": "formula", "criteria": condition_formula(self.layout, h),
                "format": self.formats.percent if h.style == "percent" else self.formats.alert,
            })
        for key, (sheet_name, placed) in self.layout.cells.items():
            self.workbook.define_name(NAME_PREFIX + key, "=" + a1_ref(sheet_name, placed.row, placed.col, ""))
        self.write_meta()
        self.workbook.close()

    def write_sheet(self, ws: Worksheet, sheet: SheetLayout) -> None:
        spec = sheet.spec
        for i, width in enumerate(spec.widths):
            ws.set_column(i, i, width)
        for row, height in _row_heights(sheet).items():
            ws.set_row(row, height)
        for placed in sheet.cells:
            self.write_cell(ws, sheet.name, placed)
        ws.protect(self.options.password, {"format_rows": True, "format_columns": True})
        a4_one_page_wide(ws, spec.landscape, spec.repeat_rows, pages=spec.pages)
        if sheet.breaks:
            ws.set_h_pagebreaks(sheet.breaks)
        ws.print_area(0, 0, sheet.rows - 1, len(spec.widths) - 1)
        ws.hide_gridlines(2)

    def write_cell(self, ws: Worksheet, sheet: str, p: Placed) -> None:
        merged = p.last_row > p.row or p.last_col > p.col
        note = self.annotations.pop((sheet, xl_rowcol_to_cell(p.row, p.col)), None)
        alert = note is not None
        if note is not None:
            ws.write_comment(p.row, p.col, note, {"x_scale": 2.5, "y_scale": 1.5})
        if p.field is not None:
            self.write_input(ws, p, p.field, merged, alert)
        elif p.calc is not None:
            fmt = self.formats.get("formula", self.formula_format(p), alert)
            if merged:
                ws.merge_range(p.row, p.col, p.last_row, p.last_col, "", fmt)
            text = calc_formula(self.layout, sheet, p.calc)
            result = self.results.get(p.calc.key)
            cached = float(result) if result is not None and not isinstance(result, str) else (result or "")
            ws.write_formula(p.row, p.col, text or "", fmt, cached)
        else:
            fmt = self.formats.get(p.style, "", alert)
            value: Any = p.number if p.number is not None else p.text
            if merged:
                ws.merge_range(p.row, p.col, p.last_row, p.last_col, value, fmt)
            elif p.number is not None:
                ws.write_number(p.row, p.col, p.number, fmt)
            else:
                ws.write_string(p.row, p.col, p.text, fmt) if p.text else ws.write_blank(p.row, p.col, None, fmt)

    def formula_format(self, p: Placed) -> str:
        assert p.calc is not None
        if p.calc.kind == "grade":
            return ""
        if p.calc.percent or p.calc.kind == "completion":
            return "0.00%"
        return "0.00"

    def write_input(self, ws: Worksheet, p: Placed, fld: Field, merged: bool, alert: bool) -> None:
        value = self.values.get(fld.key)
        style = "prefilled" if value is not None and self.options.lock_prefilled else "input"
        num_format = NUM_FORMATS.get(fld.type, "") if fld.type != "text" or not isinstance(value, int | float) else ""
        if value is not None and self.options.number_formats:
            num_format = self.options.number_formats.get(fld.key, num_format)
        fmt = self.formats.get(style, num_format, alert)
        if merged:
            ws.merge_range(p.row, p.col, p.last_row, p.last_col, "", fmt)
        if isinstance(value, dt.datetime):
            ws.write_datetime(p.row, p.col, value, fmt)
        elif isinstance(value, int | float):
            ws.write_number(p.row, p.col, value, fmt)
        elif value is not None:
            write_text(ws, p.row, p.col, str(value), fmt)
        else:
            ws.write_blank(p.row, p.col, None, fmt)
        if style == "input":
            ws.data_validation(p.row, p.col, p.row, p.col,
                               self.validation(fld, xl_rowcol_to_cell(p.row, p.col)))

    def validation(self, fld: Field, cell: str) -> dict[str, Any]:
        hint = fld.hint or TYPE_HINTS[fld.type].format(unit=self.layout.spec.amount_unit)
        rule: dict[str, Any] = {"validate": "any"}
        low = fld.min if fld.min is not None else 0
        if fld.type == "choice":
            rule = {"validate": "list", "source": list(fld.choices)}
            if not fld.strict_choices:
                rule["error_type"] = "information"
        elif fld.type == "amount":
            # Decimal validation cannot limit decimals; a custom rule can.
            rule = {"validate": "custom", "value": f"=AND(ISNUMBER({cell}),{cell}>=0,ROUND({cell},2)={cell})"}
        elif fld.type == "percent":
            rule = {"validate": "decimal", "criteria": "between", "minimum": low,
                    "maximum": fld.max if fld.max is not None else 10}
        elif fld.type == "number":
            if fld.max is not None:
                rule = {"validate": "decimal", "criteria": "between", "minimum": low, "maximum": fld.max}
            elif fld.min is not None:
                rule = {"validate": "decimal", "criteria": ">=", "value": fld.min}
        elif fld.type == "integer":
            rule = {"validate": "integer", "criteria": ">=", "value": 0}
        elif fld.type == "year":
            rule = {"validate": "integer", "criteria": "between", "minimum": 2000, "maximum": 2100}
        elif fld.type == "date":
            rule = {"validate": "date", "criteria": "between", "minimum": dt.date(2000, 1, 1),
                    "maximum": dt.date(2100, 12, 31)}
        elif fld.type == "phone":
            rule = {"validate": "length", "criteria": "<=", "value": 30}
        rule["input_title"] = fld.label[:32]
        rule["input_message"] = hint[:255]
        if rule["validate"] != "any":
            rule["error_title"] = "输入有误"
            rule["error_message"] = f"{fld.label}：{hint}"[:255]
        return rule

    def write_summary(self, ws: Worksheet, summary: Summary) -> None:
        ncols = max([len(summary.header), *(len(r) for r in summary.rows), len(summary.widths), 1])
        widths = [summary.widths[i] if i < len(summary.widths) else 12.0 for i in range(ncols)]
        for i, width in enumerate(widths):
            ws.set_column(i, i, width)
        title = self.formats.get("title")
        line = self.formats.get("note")
        head = self.formats.get("header")
        body = self.formats.get("text")
        link = self.workbook.add_format({**CellFormats.BASE["text"], "font_name": FONT,
                                         "font_color": "blue", "underline": 1})
        ws.set_row(0, 30)
        if ncols > 1:
            ws.merge_range(0, 0, 0, ncols - 1, summary.title, title)
        else:
            ws.write_string(0, 0, summary.title, title)
        row = 1
        for text in summary.lines:
            lines = _wrapped_lines(text, sum(widths) * 1.1)
            ws.set_row(row, max(MIN_ROW_HEIGHT, LINE_HEIGHT * lines + 6))
            if ncols > 1:
                ws.merge_range(row, 0, row, ncols - 1, text, line)
            else:
                ws.write_string(row, 0, text, line)
            row += 1
        if summary.header:
            row += 1
            for col, text in enumerate(summary.header):
                ws.write_string(row, col, text, head)
            ws.repeat_rows(row, row)
            row += 1
        for cells in summary.rows:
            lines = 1
            for col, item in enumerate(cells):
                text = item.text if isinstance(item, SheetLink) else item
                lines = max(lines, _wrapped_lines(text, widths[col] * 1.1))
                if isinstance(item, SheetLink):
                    target = item.sheet.replace("'", "''")
                    ws.write_url(row, col, f"internal:'{target}'!{item.cell}", link, item.text)
                else:
                    write_text(ws, row, col, item, body)
            ws.set_row(row, max(MIN_ROW_HEIGHT, LINE_HEIGHT * lines + 6))
            row += 1
        ws.protect(self.options.password, {"format_rows": True, "format_columns": True})
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.hide_gridlines(2)

    def write_meta(self) -> None:
        ws = self.workbook.add_worksheet(META_SHEET)
        bold = self.workbook.add_format({"bold": True})
        meta = meta_rows(self.layout, self.options.year, self.options.unit, self.options.meta)
        for i, (name, value) in enumerate(meta):
            ws.write_string(i, 0, name, bold)
            write_text(ws, i, 1, value)
        top = field_header_row(meta)
        for j, head in enumerate(FIELD_HEADER):
            ws.write_string(top, j, head, bold)
        for i, row in enumerate(field_rows(self.layout), top + 1):
            for j, value in enumerate(row):
                ws.write_string(i, j, value)
        ws.set_column(0, 1, 28)
        ws.hide()
        ws.protect(self.options.password)


def _text_width(text: str) -> float:
    # Column widths count Latin digits; a CJK character takes about two of them.
    return sum(2.0 if ord(ch) > 0x2E80 else 1.0 for ch in text)


def _wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` takes when wrapped in a column ``width`` characters wide."""
    return sum(max(1, -(-int(_text_width(part)) // max(1, int(width - 1)))) for part in text.split("\n"))


def _summary_name(layout: FormLayout) -> str:
    names = {s.name for s in layout.sheets}
    name = SUMMARY_SHEET
    while name in names:  # a form of its own with a sheet of that name keeps it
        name += "_"
    return name


def _row_heights(sheet: SheetLayout) -> dict[int, float]:
    """Explicit heights, else enough for the wrapped text of one-row cells, so the print is readable."""
    heights = {r: MIN_ROW_HEIGHT for r in range(sheet.rows)}
    widths = sheet.spec.widths
    for p in sheet.cells:
        if p.row != p.last_row or not p.text or p.style in ("title",):
            continue
        width = sum(widths[p.col : p.last_col + 1]) * (1.1 if p.style in ("text", "note") else 1.0)
        lines = _wrapped_lines(p.text, width)
        heights[p.row] = max(heights[p.row], LINE_HEIGHT * lines + 6)
    heights.update(sheet.heights)
    return heights


def template_bytes(layout: FormLayout, options: TemplateOptions | None = None) -> bytes:
    """The locked template of ``layout`` as the bytes of an .xlsx file (nothing written to disk)."""
    buffer = io.BytesIO()
    _Writer(layout, buffer, options or TemplateOptions()).write()
    return buffer.getvalue()


def write_template(layout: FormLayout, path: Path, options: TemplateOptions | None = None) -> Path:
    """Write the locked template of ``layout`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _Writer(layout, path, options or TemplateOptions()).write()
    return path
