"""Read a return file (a filled template) into a :class:`Return`; validate nothing.

The file first passes :func:`xlperf.read.guard.inspect_file`, which decides its real format and
inflates its XML parts once. Then:

- **xlsx**: the parts are read directly: workbook (sheets, defined names), relationships, shared
  strings and every worksheet (values with their types, formula text, cached results). Values of
  form fields are found by their defined names ``xp_<key>``; where a name is missing, by the
  address in the hidden ``_xlperf`` sheet's field map, with a note.
- **xls / ods**: python-calamine gives cell values only (no formulas, no defined names), so values
  are read at the field map's addresses and a note says what could not be verified.

Nothing from the file is ever evaluated: formula text is returned as text, cached results as the
file holds them (the checker recomputes and compares).

Speed: worksheets and shared strings written by spreadsheet programs are regular, so a regular
expression pass reads them several times faster than building an element tree. It runs only on
parts that hold nothing it does not handle (comments, CDATA, processing instructions, unusual
attribute syntax, cells without an address); anything else falls back to the element tree
(:func:`xlperf.read.guard.parse_xml`), and the tests check that both give the same result.
"""

from __future__ import annotations

import datetime as dt
import io
import posixpath
import re
import xml.etree.ElementTree as ET
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache, lru_cache
from pathlib import Path
from typing import NamedTuple

from xlperf.read.guard import FileKind, UnsafeFile, inspect_file, parse_xml

__all__ = ["META_SHEET", "FieldRef", "ReadError", "Return", "Value", "read_return"]

META_SHEET = "_xlperf"
NAME_PREFIX = "xp_"
Value = float | int | str | dt.date | None
CellRef = tuple[str, str]

# A return has a few thousand XML elements in its sheets and ~2,000 cells; these bounds are
# hundreds of times that, and keep a file within the guard's size limits from costing gigabytes
# (a dense grid of a sheet whose one cell sits at XFD1048576, say).
MAX_ELEMENTS = 2_000_000
MAX_GRID = 2_000_000
_EXCEL_EPOCH = dt.date(1899, 12, 30)
_EPOCH_1904 = dt.date(1904, 1, 1)
_REL_NS = (
    "http://schemas.openxmlformats.org/officeDocument/2006/relationships",
    "http://purl.oclc.org/ooxml/officeDocument/relationships",
)
_PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"


class ReadError(Exception):
    """A return that cannot be read; ``code`` is stable, ``message`` is for the unit's clerk.

    Codes: ``NOT_XLPERF`` (not made from an xlperf template) and the codes of
    :class:`xlperf.read.guard.UnsafeFile` (``FILE_EMPTY``, ``FILE_TOO_LARGE``, ``FILE_ENCRYPTED``,
    ``FILE_CORRUPT``, ``FILE_TRUNCATED``, ``ZIP_BOMB``, ``FILE_FOREIGN``), passed through.
    """

    def __init__(self, code: str, message: str, path: Path | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.path = path


class FieldRef(NamedTuple):
    """One row of the ``_xlperf`` field map."""

    label: str
    sheet: str
    cell: str
    kind: str
    """input, formula or fixed."""


@dataclass
class Return:
    """What a return file holds, as found; nothing here is validated."""

    path: Path
    file_kind: str
    """xlsx, xls or ods, by content (see ``extension_mismatch``)."""
    form_id: str | None
    form_version: str | None
    meta_year: str | None
    meta_unit: str | None
    values: dict[str, Value]
    """By field key, every key of the field map: input values and cached results of formula cells.
    Numbers are floats, except int for fields of type year and integer when integral; date fields
    give ``datetime.date``; text stays text (also text typed into a number cell)."""
    formulas: dict[str, str | None]
    """By key: the formula text (``=...``) or None where the cell holds a plain value. Empty when
    the format gives no formulas (xls, ods)."""
    cached_missing: list[str]
    """Keys of formula cells without a cached result (saved without calculating, e.g. openpyxl)."""
    field_map: dict[str, FieldRef]
    names: dict[str, tuple[str, str]]
    """Defined names ``xp_*`` that point at one cell: name → (sheet, "A1"). Empty for xls/ods."""
    cells: dict[CellRef, Value]
    """Every non-empty cell of every sheet, by (sheet, "A1"): float, bool, str (errors as "#N/A")."""
    cell_formulas: dict[CellRef, str]
    notes: list[str]
    """What could not be read or verified, in Chinese."""
    meta: dict[str, str] = field(default_factory=dict)
    """All rows above the field map in ``_xlperf`` (form_id, form_version, title, year, ...)."""
    errors: dict[str, str] = field(default_factory=dict)
    """Keys whose cell holds an error value (cached ``#DIV/0!`` and the like)."""
    missing_names: list[str] = field(default_factory=list)
    """xlsx: keys whose defined name is missing or broken; their value was read by the field map."""
    sheets: list[str] = field(default_factory=list)
    hidden_sheets: list[str] = field(default_factory=list)
    sheet_protected: dict[str, bool] = field(default_factory=dict)
    """xlsx: whether each worksheet still carries its sheet protection."""
    extension_mismatch: bool = False
    macros: bool = False


def read_return(path: Path, types: Mapping[str, str] | None = None) -> Return:
    """Read the return at ``path``.

    ``types`` maps field keys to field types (``date``, ``year``, ``integer``, ...); by default
    they come from the built-in form named in the file. Raises :class:`ReadError`.
    """
    path = Path(path)
    try:
        kind = inspect_file(path)
        book = _read_xlsx(kind) if kind.kind == "xlsx" else _read_calamine(kind, path.name)
    except UnsafeFile as exc:
        # parse_xml does not know the file: name it here
        message = exc.message if exc.path is not None else f"文件“{path.name}”的{exc.message}，已拒绝读取"
        raise ReadError(exc.code, message, path) from exc
    except _Corrupt as exc:
        raise ReadError("FILE_CORRUPT", _corrupt(path.name, str(exc)), path) from None
    except _TooLarge as exc:
        raise ReadError(
            "FILE_TOO_LARGE",
            f"文件“{path.name}”的{exc}，不像是一张填报表，已拒绝读取：请删除多余内容后重新报送",
            path,
        ) from None
    except ET.ParseError as exc:
        raise ReadError("FILE_CORRUPT", _corrupt(path.name, f"XML 无法解析：{exc}"), path) from None
    return _assemble(path, kind, book, types)


# -- the workbook as read, before the field map is applied ---------------------------------------
@dataclass
class _Book:
    sheets: list[str]
    hidden: list[str]
    cells: dict[CellRef, Value]
    formulas: dict[CellRef, str]
    no_cache: set[CellRef]
    errors: dict[CellRef, str]
    names: dict[str, tuple[str, str]] | None
    date1904: bool = False
    protected: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    sheet_cells: dict[str, dict[CellRef, Value]] = field(default_factory=dict)
    """Each sheet's own cells (the same values as ``cells``), for the field map's cache."""

    def add_sheet_cells(self, sheet: str, cells: dict[CellRef, Value]) -> None:
        """File one sheet's cells (a repeated sheet name merges, as ``cells`` does)."""
        self.cells.update(cells)
        own = self.sheet_cells.get(sheet)
        self.sheet_cells[sheet] = cells if own is None else {**own, **cells}


class _Corrupt(Exception):
    """A structural problem of the workbook (message in Chinese)."""


class _TooLarge(Exception):
    """More content than any return has (message in Chinese)."""


class _Fallback(Exception):
    """The regular-expression reader met XML it does not handle; use the element tree."""


# -- xlsx -----------------------------------------------------------------------------------------
def _read_xlsx(kind: FileKind, fast: bool = True) -> _Book:
    parts = kind.parts
    root_rels = _rels(parts, "_rels/.rels", "")
    wb_part = next((t for typ, t in root_rels.values() if typ.endswith("/officeDocument")), None)
    if wb_part is None or wb_part not in parts:
        wb_part = "xl/workbook.xml" if "xl/workbook.xml" in parts else None
    if wb_part is None:
        raise _Corrupt("找不到工作簿部件 xl/workbook.xml")
    wb_rels = _rels(parts, _rels_name(wb_part), posixpath.dirname(wb_part))
    wb = _workbook_part(parts[wb_part])
    sheets: list[tuple[str, str, str | None]] = []  # name, state, part
    for name, state, rid in wb.sheets:
        rel = wb_rels.get(rid or "")
        target = rel[1] if rel and rel[0].endswith("/worksheet") else None
        sheets.append((name, state, target))
    date1904 = wb.date1904
    names = dict(wb.names)
    sheet_names = [s[0] for s in sheets]

    strings: list[str] = []
    ss_part = next((t for typ, t in wb_rels.values() if typ.endswith("/sharedStrings")), None)
    if ss_part is None and "xl/sharedStrings.xml" in parts:
        ss_part = "xl/sharedStrings.xml"
    if ss_part is not None and ss_part in parts:
        data = parts[ss_part]
        try:
            if not fast:
                raise _Fallback
            strings = _strings_fast(data)
        except _Fallback:
            strings = _strings_tree(data)

    book = _Book(
        sheets=sheet_names,
        hidden=[n for n, state, _ in sheets if state != "visible"],
        cells={}, formulas={}, no_cache=set(), errors={},
        names=names, date1904=date1904,
    )
    elements = sum(parts.get(part or "", b"").count(b"<") for _, _, part in sheets)
    if elements > MAX_ELEMENTS:
        raise _TooLarge(f"工作表共有 {elements} 个 XML 元素")
    for name, _, part in sheets:
        if part is None:
            continue  # a chart sheet, or a sheet whose relationship is missing
        data = parts.get(part, b"")
        if not data:
            book.notes.append(f"工作表“{name}”的内容部件缺失（{part}），按空表处理")
            continue
        sink = _SheetSink(name, strings, book)
        try:
            if not fast:
                raise _Fallback
            _sheet_fast(data, sink)
        except _Fallback:
            sink.reset()
            _sheet_tree(data, sink)
        sink.finish()
        book.protected[name] = _protected(data)
    return book


def _rels_name(part: str) -> str:
    return posixpath.join(posixpath.dirname(part), "_rels", posixpath.basename(part) + ".rels")


# The package parts below are the same bytes in every return of a template: their parsed form is
# cached by content (identical bytes parse identically; parse errors are not cached).
PART_CACHE_SIZE = 64


class _WorkbookPart(NamedTuple):
    sheets: tuple[tuple[str, str, str | None], ...]
    """(name, state, relationship id) of every sheet, in order."""
    date1904: bool
    names: tuple[tuple[str, tuple[str, str]], ...]
    """Defined names ``xp_*`` that point at one cell of a sheet of the workbook, as resolved."""


@lru_cache(maxsize=PART_CACHE_SIZE)
def _workbook_part(data: bytes) -> _WorkbookPart:
    wb = parse_xml(data)
    ns = _ns(wb.tag)
    sheets = []
    for el in wb.iter(ns + "sheet"):
        rid = next((el.get(f"{{{n}}}id") for n in _REL_NS if el.get(f"{{{n}}}id")), None)
        sheets.append((el.get("name") or "", el.get("state") or "visible", rid))
    pr = wb.find(ns + "workbookPr")
    date1904 = pr is not None and (pr.get("date1904") or "").lower() in ("1", "true")

    names: dict[str, tuple[str, str]] = {}
    sheet_names = {s[0] for s in sheets}
    for el in wb.iter(ns + "definedName"):
        name = el.get("name") or ""
        if not name.lower().startswith(NAME_PREFIX):
            continue
        local = el.get("localSheetId")
        dest = _parse_ref(el.text or "")
        if dest is None or dest[0] not in sheet_names:
            continue  # #REF! and the like: the key will be read by the field map, with a note
        if local is None or name not in names:  # a workbook-wide name wins over a sheet's own
            names[name] = dest
    return _WorkbookPart(tuple(sheets), date1904, tuple(names.items()))


def _rels(parts: Mapping[str, bytes], name: str, base: str) -> dict[str, tuple[str, str]]:
    """Relationship id → (type, target part name) of one .rels part ({} if absent)."""
    data = parts.get(name)
    if not data:
        return {}
    return dict(_rels_part(data, base))


@lru_cache(maxsize=PART_CACHE_SIZE)
def _rels_part(data: bytes, base: str) -> tuple[tuple[str, tuple[str, str]], ...]:
    out = {}
    for el in parse_xml(data).iter(_PKG_REL_NS + "Relationship"):
        if el.get("TargetMode") == "External":
            continue
        target = el.get("Target") or ""
        target = target[1:] if target.startswith("/") else posixpath.join(base, target)
        out[el.get("Id") or ""] = (el.get("Type") or "", posixpath.normpath(target))
    return tuple(out.items())


def _ns(tag: str) -> str:
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


_REF = re.compile(r"^\s*=?\s*(?:'((?:[^']|'')+)'|([^'!]+))!\$?([A-Za-z]{1,3})\$?([0-9]+)"
                  r"(?::\$?([A-Za-z]{1,3})\$?([0-9]+))?\s*$")


@lru_cache(maxsize=4096)  # returns of one template repeat the same names
def _parse_ref(text: str) -> tuple[str, str] | None:
    """``'评分表'!$D$4`` → ("评分表", "D4"); None for #REF!, ranges, constants and formulas."""
    m = _REF.match(text)
    if m is None:
        return None
    sheet = m.group(1).replace("''", "'") if m.group(1) is not None else m.group(2)
    cell = m.group(3).upper() + m.group(4)
    if m.group(5) is not None and (m.group(5).upper() + m.group(6)) != cell:
        return None
    return sheet, cell


_PROTECTION = re.compile(rb"<(?:\w+:)?sheetProtection\b[^>]*?\ssheet=\"(?:1|true)\"")


def _protected(data: bytes) -> bool:
    # A match holds "sheetProtection" right after its "<" (and a tag prefix, which has no "<"):
    # none starts before the last "<" ahead of the word's first occurrence, so the search may
    # start there instead of scanning the whole sheet data with the pattern.
    at = data.find(b"sheetProtection")
    if at < 0:
        return False
    return _PROTECTION.search(data, max(data.rfind(b"<", 0, at), 0)) is not None


# -- cell decoding shared by both xlsx readers ---------------------------------------------------
class _SheetSink:
    """Receives the cells of one worksheet from either reader and files them in the book."""

    def __init__(self, sheet: str, strings: list[str], book: _Book) -> None:
        self.sheet = sheet
        self.strings = strings
        self.book = book
        self.reset()

    def reset(self) -> None:
        self.cells: dict[CellRef, Value] = {}
        self.formulas: dict[CellRef, str] = {}
        self.no_cache: set[CellRef] = set()
        self.errors: dict[CellRef, str] = {}
        self.masters: dict[str, tuple[str, str]] = {}  # shared formula index → (cell, text)
        self.children: list[tuple[str, str]] = []  # (cell, shared formula index)
        self.bad_strings = 0

    def cell(self, ref: str, t: str, v: str | None, inline: str | None,
             f: tuple[str, str | None, str | None] | None) -> None:
        """One cell: type, <v> text (None: no <v>), inline string, (f type, si, f text)."""
        key = (self.sheet, ref)
        value: Value = None
        if t == "s":
            if v:
                try:
                    value = self.strings[int(v)]
                except (ValueError, IndexError):
                    self.bad_strings += 1
        elif t == "inlineStr":
            value = inline if inline is not None else v
        elif t in ("str", "e"):
            value = v
            if t == "e" and v:
                self.errors[key] = v
        elif t == "b":
            value = v is not None and v.strip() in ("1", "true")
        elif t == "d":
            value = _iso_serial(v)
        elif v is not None and v != "":
            try:
                value = float(v)
            except ValueError:
                value = v
        if value is not None and value != "":
            self.cells[key] = value
        if f is not None:
            ftype, si, text = f
            if ftype == "shared" and si is not None:
                if text:
                    self.masters[si] = (ref, text)
                else:
                    self.children.append((ref, si))
                    text = None
            if text is not None:
                self.formulas[key] = "=" + text
            # A string result may be empty; a number or boolean result may not.
            if v is None or (v == "" and t not in ("str", "inlineStr", "s")):
                self.no_cache.add(key)

    def finish(self) -> None:
        for ref, si in self.children:
            master = self.masters.get(si)
            text = "=" if master is None else _translate(master[1], master[0], ref)
            self.formulas[(self.sheet, ref)] = text
        book = self.book
        book.add_sheet_cells(self.sheet, self.cells)
        book.formulas.update(self.formulas)
        book.no_cache |= self.no_cache
        book.errors.update(self.errors)
        if self.bad_strings:
            book.notes.append(f"工作表“{self.sheet}”有 {self.bad_strings} 个单元格引用了不存在的共享字符串，按空值处理")


def _translate(text: str, origin: str, dest: str) -> str:
    """The formula of a shared-formula child cell: the master's text moved to ``dest``."""
    from openpyxl.formula.translate import Translator  # only re-saved files use shared formulas

    try:
        return str(Translator("=" + text, origin=origin).translate_formula(dest))
    except Exception:  # an unparsable master: keep its text, still marked as a formula
        return "=" + text


def _iso_serial(v: str | None) -> float | None:
    if not v:
        return None
    try:
        moment = dt.datetime.fromisoformat(v)
    except ValueError:
        return None
    delta = moment - dt.datetime(1899, 12, 30)
    return delta.days + delta.seconds / 86400


_ENTITY = re.compile(r"&(?:(lt|gt|amp|quot|apos)|#([0-9]{1,7})|#x([0-9a-fA-F]{1,6}));")
_NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'"}
_XESCAPE = re.compile(r"_x([0-9A-Fa-f]{4})_")


def _entity(m: re.Match[str]) -> str:
    if m.group(1):
        return _NAMED[m.group(1)]
    code = int(m.group(2)) if m.group(2) else int(m.group(3), 16)
    if code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF:
        return chr(code)
    raise _Fallback  # not a legal XML character: let the parser report it


def _text(s: str) -> str:
    """Raw element text as an XML parser would give it (line ends normalised, references resolved)."""
    if "\r" in s:
        s = s.replace("\r\n", "\n").replace("\r", "\n")
    if "&" in s:
        if len(_ENTITY.findall(s)) != s.count("&"):
            raise _Fallback
        s = _ENTITY.sub(_entity, s)
    return s


def _xstring(s: str) -> str:
    """Undo OOXML's ``_xHHHH_`` escaping of characters XML cannot hold (ST_Xstring)."""
    return _XESCAPE.sub(lambda m: chr(int(m.group(1), 16)), s) if "_x" in s else s


# -- xlsx: regular-expression reader -------------------------------------------------------------
@dataclass(frozen=True)
class _Patterns:
    si: re.Pattern[str]
    t: re.Pattern[str]
    rph: re.Pattern[str]
    cell: re.Pattern[str]
    f: re.Pattern[str]
    v: re.Pattern[str]
    v_empty: tuple[str, ...]
    v_attr: str
    f_open: str
    t_attr: re.Pattern[str]
    c_open: str
    odd: re.Pattern[str]
    si_open: str
    sst: str
    sheetdata: str
    sheetdata_end: str


@cache
def _patterns(prefix: str) -> _Patterns:
    p = re.escape(prefix)

    def tag(name: str) -> str:
        return "<" + p + name

    def end(name: str) -> str:
        return "</" + p + name + ">"

    return _Patterns(
        # (simple text, rich content) of each <si>; <si/> gives ("", "")
        si=re.compile(tag("si") + r"(?:/>|>(?:" + tag("t") + r'(?: xml:space="preserve")?>([^<]*)' + end("t")
                      + r"|([^<]*(?:<(?!/" + p + r"si>)[^<]*)*))" + end("si") + ")"),
        t=re.compile(tag("t") + r"(?:\s[^>]*)?>(.*?)" + end("t"), re.S),
        rph=re.compile(tag("rPh") + r"\b.*?" + end("rPh"), re.S),
        # (address, t, other attributes, <v> text of a value-only cell, text of a plain inline
        # string, other content)
        cell=re.compile(tag("c") + r' r="([A-Z]{1,3}[0-9]{1,7})"(?: s="[0-9]+")?(?: t="([A-Za-z]+)")?([^>]*?)'
                        r"(?:/>|>(?:" + tag("v") + r">([^<]+)" + end("v") + end("c")
                        + "|" + tag("is") + ">" + tag("t") + r'(?: xml:space="preserve")?>([^<]*)' + end("t")
                        + end("is") + end("c") + r"|(.*?)" + end("c") + "))", re.S),
        f=re.compile(tag("f") + r"\b([^>]*?)(?:/>|>(.*?)" + end("f") + ")", re.S),
        v=re.compile(tag("v") + r">([^<]*)" + end("v")),
        v_empty=(tag("v") + "/>", tag("v") + " />"),
        v_attr=tag("v") + " ",
        f_open=tag("f"),
        t_attr=re.compile(r"""\st\s*=\s*["']([A-Za-z]+)["']"""),
        c_open=tag("c") + " ",
        # comments, CDATA, processing instructions, and cells opened other than "<c "
        odd=re.compile("<(?:[!?]|" + p + "c[>/\t\r\n])"),
        si_open=tag("si"),
        sst=tag("sst"),
        sheetdata=tag("sheetData"),
        sheetdata_end=end("sheetData"),
    )


_PREFIX = re.compile(r"\s*(?:<\?[^>]*\?>\s*)?(?:<!--.*?-->\s*)*<([A-Za-z_][\w.-]*:)?(\w+)\b", re.S)
_MARKUP_DECL = re.compile(r"<[!?]")  # comments, CDATA, DTD, processing instructions


def _decode(data: bytes) -> tuple[str, _Patterns]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _Fallback from None
    if text.startswith("\ufeff"):
        text = text[1:]
    m = _PREFIX.match(text)
    if m is None:
        raise _Fallback
    return text, _patterns(m.group(1) or "")


def _strings_fast(data: bytes) -> list[str]:
    text, pat = _decode(data)
    start = text.find(pat.sst)
    if start < 0:
        raise _Fallback
    body = text[start:]
    if _MARKUP_DECL.search(body):
        raise _Fallback
    found = pat.si.findall(body)
    if len(found) != body.count(pat.si_open):
        raise _Fallback
    out: list[str] = []
    append = out.append
    for simple, rich in found:
        if rich:
            if "rPh" in rich:
                rich = pat.rph.sub("", rich)
            simple = _text("".join(pat.t.findall(rich)))
        elif "&" in simple or "\r" in simple:
            simple = _text(simple)
        append(_xstring(simple) if "_x" in simple else simple)
    return out


def _sheet_fast(data: bytes, sink: _SheetSink) -> None:
    text, pat = _decode(data)
    start = text.find(pat.sheetdata)
    if start < 0:
        return
    end = text.find(pat.sheetdata_end, start)
    if end < 0:
        close = text.find(">", start)
        if close > 0 and text[close - 1] == "/":
            return  # <sheetData/>
        raise _Fallback
    body = text[start:end]
    if pat.odd.search(body):
        raise _Fallback
    found = pat.cell.findall(body)
    if len(found) != body.count(pat.c_open):
        raise _Fallback  # a cell the pattern did not match (no address, or attributes reordered)
    cells = sink.cells
    strings = sink.strings
    sheet = sink.sheet
    for ref, t, extra, v, istr, inner in found:
        if extra and "t" in extra:
            m = pat.t_attr.search(extra)
            t = m.group(1) if m else t
        if istr and t == "inlineStr":
            if "&" in istr or "\r" in istr:
                istr = _text(istr)
            cells[(sheet, ref)] = _xstring(istr) if "_x" in istr else istr
            continue
        if v:  # a plain value: the common case, filed directly
            if not t or t == "n":
                try:
                    cells[(sheet, ref)] = float(v)
                except ValueError:
                    raise _Fallback from None
            elif t == "s":
                try:
                    string = strings[int(v)]
                except (ValueError, IndexError):
                    sink.cell(ref, t, v, None, None)
                else:
                    if string:
                        cells[(sheet, ref)] = string
            else:
                sink.cell(ref, t, _xstring(_text(v)) if t == "str" else _text(v), None, None)
            continue
        if not inner:
            continue  # an empty (formatted) cell
        _cell_fast(pat, sink, ref, t or "n", inner)


def _cell_fast(pat: _Patterns, sink: _SheetSink, ref: str, t: str, inner: str) -> None:
    """A cell with more than a plain value: a formula, an inline string, an empty <v/>."""
    v: str | None = None
    m = pat.v.search(inner)
    if m is not None:
        v = _text(m.group(1))
    elif any(e in inner for e in pat.v_empty):
        v = ""
    elif pat.v_attr in inner:
        raise _Fallback
    f = None
    j = inner.find(pat.f_open)
    if j >= 0:
        fm = pat.f.match(inner, j)
        if fm is None:
            raise _Fallback
        fattrs, ftext = fm.groups()
        ft = _attr(fattrs, "t")
        f = (ft or "normal", _attr(fattrs, "si"), _text(ftext) if ftext else "")
    inline = None
    if t == "inlineStr":
        if "rPh" in inner:
            inner = pat.rph.sub("", inner)
        inline = _xstring("".join(_text(x) for x in pat.t.findall(inner)))
    elif t == "str" and v is not None:
        v = _xstring(v)
    sink.cell(ref, t, v, inline, f)


_ATTR = re.compile(r"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")


def _attr(attrs: str, name: str) -> str | None:
    for m in _ATTR.finditer(attrs):
        if m.group(1) == name:
            return _text(m.group(2) if m.group(2) is not None else m.group(3))
    return None


# -- xlsx: element-tree reader (anything the fast path does not handle) -------------------------
def _strings_tree(data: bytes) -> list[str]:
    root = parse_xml(data)
    ns = _ns(root.tag)
    out = []
    for si in root.iter(ns + "si"):
        out.append(_xstring(_rich_text(si, ns)))
    return out


def _rich_text(el: ET.Element, ns: str) -> str:
    """Text of an <si> or <is>: its <t>, or the <t> of each run; phonetic runs left out."""
    parts = []
    for child in el:
        if child.tag == ns + "t":
            parts.append(child.text or "")
        elif child.tag == ns + "r":
            t = child.find(ns + "t")
            if t is not None:
                parts.append(t.text or "")
    return "".join(parts)


def _sheet_tree(data: bytes, sink: _SheetSink) -> None:
    root = parse_xml(data)
    ns = _ns(root.tag)
    sheet_data = root.find(ns + "sheetData")
    if sheet_data is None:
        return
    row_no = 0
    for row in sheet_data.iter(ns + "row"):
        r = row.get("r")
        row_no = int(r) if r and r.isdigit() else row_no + 1
        col = 0
        for c in row.iter(ns + "c"):
            ref = c.get("r")
            if ref:
                ref = ref.upper()
                letters = ref.rstrip("0123456789")
                col = _col_index(letters)
            else:
                col += 1
                ref = _col_letters(col) + str(row_no)
            t = c.get("t") or "n"
            v_el = c.find(ns + "v")
            v = None if v_el is None else (v_el.text or "")
            f_el = c.find(ns + "f")
            f = None
            if f_el is not None:
                f = (f_el.get("t") or "normal", f_el.get("si"), f_el.text or "")
            inline = None
            if t == "inlineStr":
                is_el = c.find(ns + "is")
                inline = _xstring(_rich_text(is_el, ns)) if is_el is not None else None
            if t == "str" and v is not None:
                v = _xstring(v)
            if v is None and inline is None and f is None:
                continue
            sink.cell(ref, t, v, inline, f)


# -- xls / ods -----------------------------------------------------------------------------------
def _read_calamine(kind: FileKind, name: str) -> _Book:
    from python_calamine import (
        CalamineError,
        CalamineWorkbook,
        PasswordError,
        SheetTypeEnum,
        SheetVisibleEnum,
    )

    try:
        wb = CalamineWorkbook.from_filelike(io.BytesIO(kind.data))
        metas = wb.sheets_metadata
        book = _Book(
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
                raise _TooLarge(f"工作表“{sheet}”范围达 {end[0] + 1} 行 × {end[1] + 1} 列")
            rows = ws.to_python(skip_empty_area=False)
            for r, row in enumerate(rows, 1):
                suffix = str(r)
                for c, value in enumerate(row):
                    if value == "" or value is None:
                        continue
                    cells[(sheet, _col_letters(c + 1) + suffix)] = _calamine_value(value)
            book.add_sheet_cells(sheet, cells)
    except PasswordError:
        raise UnsafeFile("FILE_ENCRYPTED", f"文件“{name}”已设置打开密码（加密），无法读取：请取消密码后重新报送") from None
    except CalamineError as exc:
        raise _Corrupt(f"{type(exc).__name__}: {exc}") from None
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
        return float((value - _EXCEL_EPOCH).days)
    if isinstance(value, dt.time):
        return (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86400
    if isinstance(value, dt.timedelta):
        return value.total_seconds() / 86400
    return str(value)


# -- columns ---------------------------------------------------------------------------------------
@cache
def _col_letters(col: int) -> str:
    """1 → A, 27 → AA."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def _col_index(letters: str) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n


# -- the field map, and values by key ------------------------------------------------------------
def _assemble(path: Path, kind: FileKind, book: _Book, types: Mapping[str, str] | None) -> Return:
    meta_sheet = _find_meta_sheet(book.sheets)
    if meta_sheet is None:
        raise ReadError(
            "NOT_XLPERF",
            f"文件“{path.name}”不是 xlperf 模板生成的报表（缺少 _xlperf 工作表），请使用财政局下发的模板填报",
            path,
        )
    meta, field_map = _field_map(book, meta_sheet)
    form_id = meta.get("form_id") or None
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
        form_version=meta.get("form_version") or None,
        meta_year=meta.get("year") or None,
        meta_unit=meta.get("unit") or None,
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
    )


def _find_meta_sheet(sheets: list[str]) -> str | None:
    if META_SHEET in sheets:
        return META_SHEET
    return next((s for s in sheets if s.strip().lower() == META_SHEET), None)


def _as_text(value: Value) -> str:
    if value.__class__ is str:
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


META_CACHE_SIZE = 64
MAX_CACHED_META_CELLS = 20_000
"""A meta sheet has ~5 cells per field; one far larger is not cached (its key would be huge)."""
_META_CACHE: OrderedDict[tuple[object, ...], tuple[dict[str, str], dict[str, FieldRef]]] = OrderedDict()


def _field_map(book: _Book, sheet: str) -> tuple[dict[str, str], dict[str, FieldRef]]:
    """:func:`_read_meta` of the meta sheet, cached by the sheet's cells.

    Every return of a template carries the same meta sheet, and parsing its few hundred rows
    costs a few per cent of checking the file. The key is every cell of the sheet: addresses in
    order, values and their types (True and 1.0 are equal in Python but not here), so a hit
    means identical cells and so an identical map; the caller gets fresh dicts."""
    cells = book.sheet_cells.get(sheet)
    if cells is None:  # a book assembled elsewhere (tests): take the sheet's cells from the book
        cells = {ref: v for ref, v in book.cells.items() if ref[0] == sheet}
    if len(cells) > MAX_CACHED_META_CELLS:
        return _read_meta(cells, sheet)
    key = (sheet, tuple(cells), tuple(cells.values()), tuple(map(type, cells.values())))
    hit = _META_CACHE.get(key)
    if hit is None:
        hit = _read_meta(cells, sheet)
        _META_CACHE[key] = hit
        if len(_META_CACHE) > META_CACHE_SIZE:
            _META_CACHE.popitem(last=False)
    else:
        _META_CACHE.move_to_end(key)
    return dict(hit[0]), dict(hit[1])


def _read_meta(cells: Mapping[CellRef, Value], sheet: str) -> tuple[dict[str, str], dict[str, FieldRef]]:
    """The meta rows (name in A, value in B) and the field map below its header row."""
    meta: dict[str, str] = {}
    field_map: dict[str, FieldRef] = {}
    get = cells.get
    row, blank, header = 0, 0, False
    while blank < 20 and row < 100_000:
        row += 1
        a_ref, b_ref, c_ref, d_ref, e_ref = _row_refs(row)
        a = _as_text(get((sheet, a_ref)))
        if not a:
            blank += 1
            continue
        blank = 0
        b = _as_text(get((sheet, b_ref)))
        if header:
            sheet_name = _as_text(get((sheet, c_ref)))
            cell = _as_text(get((sheet, d_ref)))
            if sheet_name and cell:
                kind = _as_text(get((sheet, e_ref)))
                field_map[a] = FieldRef(b, sheet_name, cell.replace("$", "").upper(), kind)
        elif a == "key" and b == "label":
            header = True
        else:
            meta[a] = b
    return meta, field_map


@cache
def _row_refs(row: int) -> tuple[str, str, str, str, str]:
    n = str(row)
    return "A" + n, "B" + n, "C" + n, "D" + n, "E" + n


@cache
def _builtin_types(form_id: str) -> dict[str, str] | None:
    from xlperf.form.layout import builtin_layout

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
    return _EXCEL_EPOCH + dt.timedelta(days=days)


def _corrupt(name: str, detail: str) -> str:
    return f"文件“{name}”已损坏（{detail}），无法读取：请用 Excel 打开后另存为 .xlsx 再报送"

