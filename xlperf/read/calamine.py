"""Read an .xls or .ods return's workbook with python-calamine: cell values only (no formulas,
no defined names)."""

from __future__ import annotations

import datetime as dt
import io

from xlperf.read.book import EXCEL_EPOCH, MAX_GRID, Book, Corrupt, TooLarge, col_letters
from xlperf.read.guard import FileKind, UnsafeFile
from xlperf.read.odsfix import tidy_ods
from xlperf.read.returns import CellRef, Value


def read_calamine(kind: FileKind, name: str) -> Book:
    from python_calamine import (
        CalamineError,
        CalamineWorkbook,
        PasswordError,
        SheetTypeEnum,
        SheetVisibleEnum,
    )

    try:
        # Gnumeric's indented .ods content is refused by calamine as it is (see read.odsfix)
        data = tidy_ods(kind.data) if kind.kind == "ods" else kind.data
        wb = CalamineWorkbook.from_filelike(io.BytesIO(data))
        metas = wb.sheets_metadata
        book = Book(
            sheets=[m.name for m in metas],
            hidden=[m.name for m in metas if m.visible != SheetVisibleEnum.Visible],
            cells={}, formulas={}, no_cache=set(), errors={}, names=None,
        )
        for meta in metas:
            if meta.typ != SheetTypeEnum.WorkSheet:
                continue
            sheet = meta.name
            cells: dict[CellRef, Value] = {}
            ws = wb.get_sheet_by_name(sheet)
            end = ws.end
            if end is not None and (end[0] + 1) * (end[1] + 1) > MAX_GRID:
                raise TooLarge(f"工作表“{sheet}”范围达 {end[0] + 1} 行 × {end[1] + 1} 列")
            rows = ws.to_python(skip_empty_area=False)
            for r, row in enumerate(rows, 1):
                suffix = str(r)
                for c, value in enumerate(row):
                    if value == "" or value is None:
                        continue
                    cells[(sheet, col_letters(c + 1) + suffix)] = _calamine_value(value)
            book.add_sheet_cells(sheet, cells)
    except PasswordError:
        raise UnsafeFile("FILE_ENCRYPTED", f"文件“{name}”已设置打开密码（加密），无法读取：请取消密码后重新报送") from None
    except CalamineError as exc:
        raise Corrupt(f"{type(exc).__name__}: {exc}") from None
    return book


def _calamine_value(value: object) -> Value:
    """Calamine gives int/float/str/bool/date/datetime/time/timedelta; keep the xlsx reader's shapes."""
    if isinstance(value, bool) or isinstance(value, float) or isinstance(value, str):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dt.datetime):
        delta = value - dt.datetime(1899, 12, 30)
        return delta.days + (delta.seconds + delta.microseconds / 1e6) / 86400
    if isinstance(value, dt.date):
        return float((value - EXCEL_EPOCH).days)
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86400
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    return str(value)

