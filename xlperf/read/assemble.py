"""Read a return file (a filled template) into a :class:`Return`; validate nothing.

The file first passes :func:`xlperf.read.guard.inspect_file`, which decides its real format and
inflates its XML parts once. Then:

- **xlsx**: the parts are read directly (:mod:`xlperf.read.xlsx`): workbook (sheets, defined
  names), relationships, shared strings and every worksheet (values with their types, formula
  text, cached results). Values of form fields are found by their defined names ``xp_<key>``;
  where a name is missing, by the address in the hidden ``_xlperf`` sheet's field map, with a note.
- **xls / ods**: python-calamine gives cell values only (no formulas, no defined names), so values
  are read at the field map's addresses and a note says what could not be verified.

Nothing from the file is ever evaluated: formula text is returned as text, cached results as the
file holds them (the checker recomputes and compares).
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from xlperf.form.metasheet import FORM_ID, FORM_VERSION, NAME_PREFIX, UNIT, YEAR, find_meta_sheet
from xlperf.form.registry import builtin_layout
from xlperf.read.anchors import StructureMap, map_structure
from xlperf.read.book import EXCEL_EPOCH, Book, Corrupt, TooLarge
from xlperf.read.calamine import read_calamine
from xlperf.read.fieldmap import cached_field_map
from xlperf.read.guard import FileKind, UnsafeFile, inspect_file
from xlperf.read.returns import ReadError, Return, Value
from xlperf.read.xlsx import read_xlsx

_EPOCH_1904 = dt.date(1904, 1, 1)


def read_return(path: Path, types: Mapping[str, str] | None = None) -> Return:
    """Read the return at ``path``.

    ``types`` maps field keys to field types (``date``, ``year``, ``integer``, ...); by default
    they come from the built-in form named in the file. Raises :class:`ReadError`.
    """
    path = Path(path)
    try:
        kind = inspect_file(path)
        book = read_xlsx(kind) if kind.kind == "xlsx" else read_calamine(kind, path.name)
    except UnsafeFile as exc:
        # parse_xml does not know the file: name it here
        message = exc.message if exc.path is not None else f"文件“{path.name}”的{exc.message}，已拒绝读取"
        raise ReadError(exc.code, message, path) from exc
    except Corrupt as exc:
        raise ReadError("FILE_CORRUPT", _corrupt(path.name, str(exc)), path) from None
    except TooLarge as exc:
        raise ReadError(
            "FILE_TOO_LARGE",
            f"文件“{path.name}”的{exc}，不像是一张填报表，已拒绝读取：请删除多余内容后重新报送",
            path,
        ) from None
    except ET.ParseError as exc:
        raise ReadError("FILE_CORRUPT", _corrupt(path.name, f"XML 无法解析：{exc}"), path) from None
    return assemble(path, kind, book, types)



def assemble(path: Path, kind: FileKind, book: Book, types: Mapping[str, str] | None) -> Return:
    meta_sheet = find_meta_sheet(book.sheets)
    if meta_sheet is None:
        raise ReadError(
            "NOT_XLPERF",
            f"文件“{path.name}”不是 xlperf 模板生成的报表（缺少 _xlperf 工作表），请使用财政局下发的模板填报",
            path,
        )
    meta, field_map = cached_field_map(book, meta_sheet)
    form_id = meta.get(FORM_ID) or None
    if form_id is None or not field_map:
        raise ReadError(
            "NOT_XLPERF",
            f"文件“{path.name}”的 _xlperf 工作表内容不完整（缺少表单编号或字段表），无法识别报表：请使用财政局下发的模板重新填报",
            path,
        )
    notes = list(book.notes)
    if kind.extension_mismatch:
        shown = kind.suffix or "（无）"
        notes.append(f"文件扩展名为 {shown}，但内容是 .{kind.kind} 格式，已按实际格式读取")
    if kind.macros:
        notes.append("文件包含宏（VBA），宏未被执行")
    if types is None:
        types = _builtin_types(form_id)
        if types is None:
            notes.append(f"未识别的表单编号“{form_id}”，无法得知字段类型，日期字段按原值（日期序号）返回")
            types = {}

    structure = _structure(form_id, book)
    moved = structure.places if structure is not None else {}
    names: dict[str, tuple[str, str]] = {}
    missing: list[str] = []
    if book.names is None:
        notes.append(f".{kind.kind} 文件无法读取公式，未能核对公式是否被改动")
        notes.append(f".{kind.kind} 文件无法读取定义名称，已按 _xlperf 字段表中的单元格地址读取")
    else:
        names = book.names
    values: dict[str, Value] = {}
    formulas: dict[str, str | None] = {}
    cached_missing: list[str] = []
    errors: dict[str, str] = {}
    absent_sheets: set[str] = set()
    sheets = set(book.sheets)
    # the loop below runs for every field of every return: what it reads is bound locally
    has_names, xls, date1904 = book.names is not None, kind.kind == "xls", book.date1904
    cells, cell_formulas, no_cache, cell_errors = book.cells, book.formulas, book.no_cache, book.errors
    for key, ref in field_map.items():
        loc = names.get(NAME_PREFIX + key)
        if loc is None:
            loc = (ref.sheet, ref.cell)
            if has_names:
                missing.append(key)
        if key in moved:  # rows inserted or deleted: the labels say where the cell went
            place = moved[key]
            if place is None:
                values[key] = None
                continue
            loc = place
        if loc[0] not in sheets:
            absent_sheets.add(loc[0])
        value = cells.get(loc)
        values[key] = value if value is None else _typed(value, types.get(key), date1904)
        if has_names:
            formulas[key] = cell_formulas.get(loc)
            if loc in no_cache:
                cached_missing.append(key)
        elif xls and ref.kind == "formula" and values[key] == 0:
            # python-calamine reads every text result of an .xls formula as 0 (grade "优",
            # an empty ""), so a 0 there says nothing: treat it as no cached result.
            values[key] = None
            cached_missing.append(key)
        if loc in cell_errors:
            errors[key] = cell_errors[loc]
    if kind.kind == "xls" and cached_missing:
        notes.append(".xls 文件中文字型公式结果（如等级）无法可靠读取，值为 0 的公式单元格已视为无缓存结果")
    if missing:
        shown = "、".join(missing[:10]) + (f" 等 {len(missing)} 个" if len(missing) > 10 else "")
        notes.append(f"以下字段的定义名称缺失或失效，已按 _xlperf 字段表中的模板地址读取：{shown}")
    for sheet in sorted(absent_sheets):
        notes.append(f"工作表“{sheet}”不存在（可能被改名或删除），其中的字段无法读取")
    return Return(
        path=path,
        file_kind=kind.kind,
        form_id=form_id,
        form_version=meta.get(FORM_VERSION) or None,
        meta_year=meta.get(YEAR) or None,
        meta_unit=meta.get(UNIT) or None,
        values=values,
        formulas=formulas,
        cached_missing=cached_missing,
        field_map=field_map,
        names={k: v for k, v in names.items() if k.startswith(NAME_PREFIX)},
        cells=book.cells,
        cell_formulas=book.formulas,
        notes=notes,
        meta=meta,
        errors=errors,
        missing_names=missing,
        sheets=list(book.sheets),
        hidden_sheets=list(book.hidden),
        sheet_protected=dict(book.protected),
        extension_mismatch=kind.extension_mismatch,
        macros=kind.macros,
        structure=structure,
    )


def _structure(form_id: str, book: Book) -> StructureMap | None:
    """The form's labels found in the file (built-in forms only: others have no layout here)."""
    try:
        layout = builtin_layout(form_id)
    except KeyError:
        return None
    return map_structure(layout, book.cells, list(book.sheets))



@cache
def _builtin_types(form_id: str) -> dict[str, str] | None:
    try:
        layout = builtin_layout(form_id)
    except KeyError:
        return None
    return {key: placed.field.type for key, (_, placed) in layout.cells.items() if placed.field is not None}


def _typed(raw: Value, ftype: str | None, date1904: bool) -> Value:
    if raw is None:
        return None
    if ftype == "date" and isinstance(raw, float) and not isinstance(raw, bool):
        return _serial_date(raw, date1904) or raw
    if ftype in ("year", "integer") and isinstance(raw, float) and raw.is_integer():
        return int(raw)
    return raw


def _serial_date(serial: float, date1904: bool) -> dt.date | None:
    """Excel's date serial → date (1900 system with its phantom 29 Feb 1900, or 1904)."""
    if not 0 < serial < 2_958_466:
        return None
    days = int(serial)
    if date1904:
        return _EPOCH_1904 + dt.timedelta(days=days)
    if days < 60:
        return dt.date(1899, 12, 31) + dt.timedelta(days=days)
    if days == 60:
        return None  # 1900-02-29 does not exist
    return EXCEL_EPOCH + dt.timedelta(days=days)


def _corrupt(name: str, detail: str) -> str:
    return f"文件“{name}”已损坏（{detail}），无法读取：请用 Excel 打开后另存为 .xlsx 再报送"

