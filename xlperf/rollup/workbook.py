"""Write the summary workbook (xlsxwriter) from :class:`xlperf.rollup.tables.Tables`.

Sheets: 汇总, 指标明细, 问题清单, 未报送, 重复报送, 统计 (native charts), 清单. Every table sheet
has a frozen header, an autofilter, number formats and column widths; 汇总 ends with a totals
row (SUBTOTAL formulas, so it follows the filter, with their values cached for readers that do
not calculate). A table longer than a sheet continues on "<name>（2）".

Safety and repeatability:

- Every value is written by its Python type: text with ``write_string`` always, so a return's
  ``=HYPERLINK(...)``, ``@SUM(...)`` or ``+cmd`` stays text in every sheet; xlsxwriter's own
  string conversions are switched off as well.
- The file is written to a temporary file in the target's folder and renamed over the target
  (``os.replace``) only when complete: an interrupted run leaves the old summary, or none, and
  removes its temporary file (a hard kill can leave a hidden ``.~*.xlsx`` behind, never a half
  summary under the real name).
- The same tables give the same workbook: rows come sorted from ``tables``, widths are computed
  from content, and the document's created date is fixed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import stat
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import xlsxwriter
from xlsxwriter.utility import xl_rowcol_to_cell
from xlsxwriter.workbook import Workbook
from xlsxwriter.worksheet import Worksheet

from xlperf.excel.printsetup import a4_one_page_wide
from xlperf.excel.xlsxtext import write_text
from xlperf.rollup.tables import Tables

__all__ = ["SHEETS", "put", "write_atomically", "write_summary"]

SHEETS = ("汇总", "指标明细", "问题清单", "未报送", "重复报送", "统计", "清单")
CREATED = dt.datetime(2024, 1, 1)
"""Fixed document date: the same inbox gives the same file."""
MAX_ROWS = 1_048_576
WIDTH_SAMPLE = 2000
"""Rows looked at to size a column (all of them would cost seconds on 300,000 rows)."""
IN_MEMORY_CELLS = 5_000_000
"""Up to this many table cells (blanks included) the workbook is built in memory with a shared
string table: about a quarter less CPU than streaming (constant_memory writes every text inline,
escaping it cell by cell), for ~75 bytes a cell (10,000 returns: 4 million cells, ~300 MB).
Past it, rows stream to disk and memory stays flat however large the inbox. The content is the
same either way."""

# Number format by column header; other columns are text or plain numbers.
KINDS = {
    "预算（万元）": "money", "调整后预算（万元）": "money", "下达（万元）": "money", "支出（万元）": "money",
    "执行率": "rate",
    "完成率": "rate", "总分": "score", "上年总分": "score", "分值": "score", "得分": "score", "年度": "int", "错误": "int",
    "提示": "int", "序号": "int", "项目数": "int", "份数": "int", "大小（字节）": "int",
    "修改时间": "datetime", "其修改时间": "datetime",
}
NUM_FORMATS = {"money": "#,##0.00", "rate": "0.00%", "score": "0.00", "int": "0",
               "datetime": "yyyy-mm-dd hh:mm:ss", "text": "@"}
FIXED_WIDTHS = {"money": 13, "rate": 9, "score": 8, "int": 7, "datetime": 19}
HEADER = "&L预算绩效汇总&R&A"
"""Printed on every page: what the workbook is (left) and the sheet's name (right)."""
SUBTOTAL = {"money": 109, "score": 101, "int": 109}
"""SUBTOTAL function per column kind on the totals row of 汇总 (109 sum, 101 average)."""


def write_summary(tables: Tables, path: Path, paragraph: str = "") -> Path:
    """Write the summary workbook at ``path`` atomically; returns ``path``."""
    return write_atomically(path, lambda tmp: _write(tables, tmp, paragraph))


def write_atomically(path: Path, write: Callable[[Path], None]) -> Path:
    """Have ``write`` make the workbook in a temporary file beside ``path``, then rename it over
    ``path`` (see the module's notes); returns ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".~{path.stem}-", suffix=".xlsx", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return path


def _mode_for(path: Path) -> int:
    """The permissions the summary keeps: the previous file's, or the umask's default for a new
    file (mkstemp creates its file 0600, which would hide the summary from colleagues)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _write(tables: Tables, path: Path, paragraph: str) -> None:
    cells = sum(df.size for df in (tables.projects, tables.indicators, tables.findings, tables.missing,
                                   tables.duplicates, tables.inventory))
    wb = xlsxwriter.Workbook(str(path), {
        "constant_memory": cells > IN_MEMORY_CELLS,
        "strings_to_formulas": False, "strings_to_numbers": False, "strings_to_urls": False,
    })
    wb.set_properties({"title": "预算绩效汇总", "author": "xlperf", "created": CREATED})
    styles = _Styles(wb)
    _table(wb, styles, "汇总", tables.projects, totals=True)
    _table(wb, styles, "指标明细", tables.indicators)
    _table(wb, styles, "问题清单", tables.findings)
    if tables.roster is None:
        ws = wb.add_worksheet("未报送")
        a4_one_page_wide(ws, landscape=True, header=HEADER)
        ws.write_string(0, 0, "未提供单位名单（--roster），无法判断哪些单位未报送。", styles.note)
    else:
        _table(wb, styles, "未报送", tables.missing)
    _table(wb, styles, "重复报送", tables.duplicates)
    _stats(wb, styles, tables, paragraph)
    _table(wb, styles, "清单", tables.inventory)
    wb.close()


class _Styles:
    def __init__(self, wb: Workbook) -> None:
        self.header = wb.add_format({"bold": True, "border": 1, "text_wrap": True, "align": "center",
                                     "valign": "vcenter", "bg_color": "#D9E1F2"})
        self.total = wb.add_format({"bold": True, "top": 1})
        self.note = wb.add_format({"text_wrap": True, "valign": "top"})
        self.title = wb.add_format({"bold": True, "font_size": 12})
        self.kind = {k: wb.add_format({"num_format": f}) for k, f in NUM_FORMATS.items()}
        self.total_kind = {k: wb.add_format({"num_format": f, "bold": True, "top": 1})
                           for k, f in NUM_FORMATS.items()}


def put(ws: Worksheet, row: int, col: int, value: Any, fmt: Any = None, date_fmt: Any = None) -> None:
    """Write one value by its type; text always as a string (never a formula), blanks skipped."""
    if value is None or value is pd.NaT:
        return
    if isinstance(value, str):
        write_text(ws, row, col, value, fmt)
    elif isinstance(value, bool):
        ws.write_boolean(row, col, value, fmt)
    elif isinstance(value, int | float | Decimal):
        number = float(value)
        if math.isnan(number):
            return
        if math.isinf(number):
            ws.write_string(row, col, str(value), fmt)
        else:
            ws.write_number(row, col, number, fmt)
    elif isinstance(value, dt.datetime | dt.date):
        ws.write_datetime(row, col, value, date_fmt or fmt)
    else:
        write_text(ws, row, col, str(value), fmt)


def _table(wb: Workbook, styles: _Styles, name: str, df: pd.DataFrame, totals: bool = False,
           ) -> None:
    columns = list(df.columns)
    kinds = [KINDS.get(c, "text") for c in columns]
    per_sheet = MAX_ROWS - 2  # header, and the totals row
    parts = max(1, math.ceil(len(df) / per_sheet))
    for part in range(parts):
        ws = wb.add_worksheet(name if part == 0 else f"{name}（{part + 1}）")
        chunk = df.iloc[part * per_sheet:(part + 1) * per_sheet]
        a4_one_page_wide(ws, landscape=True, repeat_rows=1, header=HEADER)
        _columns(ws, styles, columns, kinds, chunk)
        _rows(ws, chunk, [styles.kind[k] if k != "text" else None for k in kinds], styles.kind["datetime"])
        last = len(chunk)
        ws.freeze_panes(1, 0)
        ws.autofilter(0, 0, max(last, 1), len(columns) - 1)
        if totals and part == parts - 1 and len(df):
            _totals(ws, styles, columns, kinds, df, last + 1)


def _rows(ws: Worksheet, df: pd.DataFrame, formats: Sequence[Any], date_fmt: Any) -> None:
    # The hot loop of a 300,000-row sheet: the common types are dispatched here, the rest by put().
    write_string, write_number = ws.write_string, ws.write_number
    for r, row in enumerate(df.itertuples(index=False, name=None), start=1):
        for c, value in enumerate(row):
            kind = type(value)
            if kind is str:
                if value.startswith("<r>"):
                    write_text(ws, r, c, value, formats[c])
                else:
                    write_string(r, c, value, formats[c])
            elif kind is float and math.isfinite(value) or kind is int:
                write_number(r, c, value, formats[c])
            elif value is not None:
                put(ws, r, c, value, formats[c], date_fmt)


def _columns(ws: Worksheet, styles: _Styles, columns: Sequence[str], kinds: Sequence[str],
             df: pd.DataFrame) -> None:
    sample = df.head(WIDTH_SAMPLE)
    for c, (header, kind) in enumerate(zip(columns, kinds, strict=True)):
        width = FIXED_WIDTHS.get(kind) or min(50, max([_width(v) for v in _distinct(sample.iloc[:, c])] + [6]))
        width = max(width, min(24, _width(header)))
        ws.set_column(c, c, width + 1)
    ws.set_row(0, 30)
    for c, header in enumerate(columns):
        ws.write_string(0, c, header, styles.header)


def _distinct(values: Iterable[object]) -> Iterable[object]:
    """Each value once (a column repeats its units, statuses and forms), when all can be hashed."""
    values = list(values)
    try:
        return set(values)
    except TypeError:
        return values


def _width(value: object) -> int:
    if value is None or isinstance(value, float) and math.isnan(value):
        return 0
    text = (value if isinstance(value, str) else str(value))[:60]
    if text.isascii():  # numbers, dates, codes: one column a character, without a lookup each
        return len(text)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _totals(ws: Worksheet, styles: _Styles, columns: Sequence[str], kinds: Sequence[str],
            df: pd.DataFrame, row: int) -> None:
    ws.write_string(row, 0, f"合计（{len(df)} 项）", styles.total)
    for c, kind in enumerate(kinds):
        if c == 0 or columns[c] == "年度":
            continue
        function = SUBTOTAL.get(kind)
        if function is None:
            ws.write_blank(row, c, None, styles.total_kind.get(kind, styles.total))
            continue
        numbers = [float(v) for v in df.iloc[:, c] if _is_number(v)]
        if function == 109:
            value: float | str = round(math.fsum(numbers), 6)
        else:
            value = round(math.fsum(numbers) / len(numbers), 2) if numbers else ""
        ref = f"{xl_rowcol_to_cell(1, c)}:{xl_rowcol_to_cell(row - 1, c)}"
        ws.write_formula(row, c, f"=SUBTOTAL({function},{ref})", styles.total_kind[kind], value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class _Block:
    """A small table on 统计: where it sits, to point charts at it."""

    top: int
    rows: int

    @property
    def first(self) -> int:
        return self.top + 1

    @property
    def last(self) -> int:
        return self.top + self.rows


def _stats(wb: Workbook, styles: _Styles, tables: Tables, paragraph: str) -> None:
    ws = wb.add_worksheet("统计")
    a4_one_page_wide(ws, landscape=True, header=HEADER)
    ws.set_column(0, 0, 24)
    ws.set_column(1, 4, 13)
    ws.set_row(0, 75)
    ws.merge_range(0, 0, 0, 12, "", styles.note)
    ws.write_string(0, 0, paragraph, styles.note)
    row = 2
    blocks = {}
    for key, title, df in (("grades", "评价等次分布（已通过的报表）", tables.stats.grades),
                           ("scores", "总分分布（已通过的报表）", tables.stats.scores),
                           ("rates", "预算执行率（按主管部门，已通过的报表）", tables.stats.exec_rates)):
        ws.write_string(row, 0, title, styles.title)
        top = row + 1
        for c, header in enumerate(df.columns):
            ws.write_string(top, c, header, styles.header)
        kinds = [KINDS.get(c, "text") for c in df.columns]
        for r, values in enumerate(df.itertuples(index=False, name=None), start=top + 1):
            for c, value in enumerate(values):
                put(ws, r, c, value, styles.kind[kinds[c]] if kinds[c] != "text" else None)
        blocks[key] = _Block(top, len(df))
        row = max(top + len(df) + 2, top + 17)  # room for the charts beside each table
    _charts(wb, ws, blocks)


def _charts(wb: Workbook, ws: Worksheet, blocks: dict[str, _Block]) -> None:
    def series(block: _Block, value_col: int, name: str) -> dict[str, Any]:
        return {"name": name, "categories": ["统计", block.first, 0, block.last, 0],
                "values": ["统计", block.first, value_col, block.last, value_col],
                "data_labels": {"value": True}}

    grades = blocks["grades"]
    column = wb.add_chart({"type": "column"})
    column.add_series(series(grades, 1, "份数"))
    column.set_title({"name": "评价等次分布"})
    column.set_legend({"none": True})
    ws.insert_chart(grades.top - 1, 6, column, {"x_scale": 0.9, "y_scale": 0.75})
    pie = wb.add_chart({"type": "pie"})
    pie.add_series({**series(grades, 1, "份数"), "data_labels": {"percentage": True, "category": True}})
    pie.set_title({"name": "评价等次占比"})
    ws.insert_chart(grades.top - 1, 13, pie, {"x_scale": 0.9, "y_scale": 0.75})
    scores = blocks["scores"]
    histogram = wb.add_chart({"type": "column"})
    histogram.add_series({**series(scores, 1, "份数"), "gap": 5})
    histogram.set_title({"name": "总分分布"})
    histogram.set_legend({"none": True})
    ws.insert_chart(scores.top - 1, 6, histogram, {"x_scale": 0.9, "y_scale": 0.75})
    rates = blocks["rates"]
    if rates.rows:
        bar = wb.add_chart({"type": "bar"})
        bar.add_series(series(rates, 4, "执行率"))
        bar.set_title({"name": "预算执行率（按主管部门）"})
        bar.set_legend({"none": True})
        bar.set_x_axis({"num_format": "0%", "min": 0})
        bar.set_y_axis({"reverse": True})  # departments top to bottom, as in the table
        ws.insert_chart(rates.top - 1, 6, bar, {"x_scale": 1.2, "y_scale": max(0.75, 0.1 * rates.rows)})
