"""Hostile and odd inputs, generated: one function per class of issue 11 (no binary fixtures).

Each generator writes a file (or directory entry) derived from a real return: the committed
template of ``self_evaluation`` filled by :func:`xlperf.excel.fill.fill_workbook` with the demo's
sample values, then damaged in one precise way. The tests of each defect, the fuzz suite and
the done-when test (a folder mixing every class with good returns) all build from here.

Sizes are parameters: a test of a fixed defect may use the full-size attack (the code under
test refuses it early), while nothing here is expensive to write.
"""

from __future__ import annotations

import os
import re
import struct
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

from helpers import cell_of, sample

from xlperf.excel.fill import fill_workbook

ROOT = Path(__file__).resolve().parent.parent
FORM = "self_evaluation"
TEMPLATE = ROOT / "templates_xlsx" / f"{FORM}.xlsx"
NUMBER_KEY = "budget_city"
"""An amount input: the cell extreme numbers go into."""
TEXT_KEY = "overview"
"""A free-text input: the cell odd strings go into."""


# -- good returns and zip surgery -------------------------------------------------------------
def good_return(path: Path, values: Mapping[str, object] | None = None, form: str = FORM) -> Path:
    """A filled return of ``form`` (openpyxl: formulas without cached results)."""
    return fill_workbook(ROOT / "templates_xlsx" / f"{form}.xlsx", {**sample(form), **(values or {})}, path)


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {info.filename: zf.read(info) for info in zf.infolist()}


def write_zip(path: Path, parts: list[tuple[str, bytes]] | Mapping[str, bytes]) -> Path:
    items = list(parts.items()) if isinstance(parts, Mapping) else parts
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in items:
            zf.writestr(zipfile.ZipInfo(name), data, compress_type=zipfile.ZIP_DEFLATED)
    return path


def sheet_part(parts: Mapping[str, bytes], sheet: str) -> str:
    """The zip member holding worksheet ``sheet``, from the workbook and its relationships."""
    wb = parts["xl/workbook.xml"].decode()
    rid = re.search(r'<sheet name="' + re.escape(sheet) + r'"[^>]*r:id="(\w+)"', wb)
    assert rid, sheet
    rels = parts["xl/_rels/workbook.xml.rels"].decode()
    target = re.search(r'Target="([^"]+)" Id="' + rid.group(1) + '"', rels) or re.search(
        r'Id="' + rid.group(1) + r'"[^>]*Target="([^"]+)"', rels)
    assert target, rid.group(1)
    name = target.group(1)
    return name[1:] if name.startswith("/") else "xl/" + name


def with_cell(src: Path, dst: Path, key: str, cell_xml: Callable[[str], str], form: str = FORM) -> Path:
    """A copy of ``src`` (a return of ``form``) whose cell of field ``key`` is ``cell_xml(ref)``."""
    sheet, ref = cell_of(form, key)
    parts = members(src)
    name = sheet_part(parts, sheet)
    text = parts[name].decode()
    pattern = re.compile(r'<c r="' + ref + r'"(?:[^>]*/>|[^>]*>.*?</c>)', re.S)
    assert pattern.search(text), (key, ref)
    parts[name] = pattern.sub(lambda m: cell_xml(ref), text, count=1).encode()
    return write_zip(dst, parts)


def with_number(src: Path, dst: Path, text: str, key: str = NUMBER_KEY, form: str = FORM) -> Path:
    """The number cell of ``key`` holding ``text`` as its value (``1E+26``, ``NaN``, ``INF``)."""
    return with_cell(src, dst, key, lambda ref: f'<c r="{ref}" t="n"><v>{text}</v></c>', form)


def with_text(src: Path, dst: Path, text: str, key: str = TEXT_KEY) -> Path:
    """The cell of ``key`` holding inline string ``text`` (raw XML text: escapes as given)."""
    return with_cell(src, dst, key, lambda ref: f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>')


def with_part(src: Path, dst: Path, name: str, data: bytes) -> Path:
    parts = members(src)
    parts[name] = data
    return write_zip(dst, parts)


# -- the classes of issue 11 --------------------------------------------------------------------
def huge_number(src: Path, dst: Path) -> Path:
    """Defect 3: a number input of 1e26 (beyond the decimal context of the rules)."""
    return with_number(src, dst, "1E+26")


def nan_number(src: Path, dst: Path) -> Path:
    """Defects 3 and 11: NaN in a number cell (Python's float() reads it; no spreadsheet writes it)."""
    return with_number(src, dst, "NaN")


def infinite_number(src: Path, dst: Path) -> Path:
    return with_number(src, dst, "-INF")


def lone_surrogate(src: Path, dst: Path) -> Path:
    """Defect 4: a text cell whose ``_xDFFF_`` escape decodes to a lone surrogate."""
    return with_text(src, dst, "说明_xDFFF_文字_xD800_")


def laughs(levels: int = 6, fanout: int = 10) -> str:
    """A billion-laughs DTD: ``fanout ** levels`` copies of "lol" once expanded."""
    ents = ['<!ENTITY l0 "lol">'] + [
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * fanout}">' for i in range(1, levels + 1)]
    return "<!DOCTYPE worksheet [" + "".join(ents) + "]>"


def dtd_in_part(src: Path, dst: Path, codec: str = "utf-16-le", bom: bool = True,
                levels: int = 6, part: str = "xl/workbook.xml") -> Path:
    """Defect 1: ``part`` re-encoded with ``codec`` (BOM or not) behind an entity-expanding DTD
    whose entity the part uses (UTF-16 without BOM: the bytes ``<!DOCTYPE`` never appear)."""
    parts = members(src)
    body = re.sub(r"^<\?xml[^>]*\?>", "", parts[part].decode("utf-8"))
    tag = re.match(r"<([\w:]+)[^>]*>", body)
    assert tag
    # The entity is used in a child element right after the root's start tag.
    body = body[:tag.end()] + f"<{tag.group(1)}x>&l{levels};</{tag.group(1)}x>" + body[tag.end():]
    declared = codec.upper().replace("-LE", "").replace("-BE", "")
    doc = f'<?xml version="1.0" encoding="{declared}"?>' + laughs(levels) + body
    parts[part] = (("\ufeff" if bom else "") + doc).encode(codec)
    return write_zip(dst, parts)


def regex_trap(src: Path, dst: Path, kind: str, n: int = 60_000) -> Path:
    """Defect 6: inputs that made the fast reader's patterns backtrack.

    ``name``: a defined name of ``n`` spaces (``n`` = 3,000 took 52 s); ``si``: ``n`` unclosed
    ``<si>`` in the shared strings; ``c``: ``n`` unclosed ``<c>`` in a worksheet."""
    parts = members(src)
    if kind == "name":
        wb = parts["xl/workbook.xml"].decode()
        spaces = " " * n
        trap = f'<definedName name="xp_trap">{spaces}a{spaces}!{spaces}</definedName>'
        wb = wb.replace("<definedNames>", "<definedNames>" + trap, 1) if "<definedNames>" in wb else \
            wb.replace("</workbook>", f"<definedNames>{trap}</definedNames></workbook>")
        parts["xl/workbook.xml"] = wb.encode()
    elif kind == "si":
        ns = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
        parts["xl/sharedStrings.xml"] = (f'<sst xmlns="{ns}" count="{n}">' + "<si><t>x</t>" * n + "</sst>").encode()
        ct = parts["[Content_Types].xml"].decode()
        if "sharedStrings" not in ct:
            ct = ct.replace("</Types>", '<Override PartName="/xl/sharedStrings.xml" ContentType='
                            '"application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
            parts["[Content_Types].xml"] = ct.encode()
        rels = parts["xl/_rels/workbook.xml.rels"].decode()
        rels = rels.replace("</Relationships>", '<Relationship Type="http://schemas.openxmlformats.org/'
                            'officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml" '
                            'Id="rIdSS" /></Relationships>')
        parts["xl/_rels/workbook.xml.rels"] = rels.encode()
    elif kind == "c":
        name = sheet_part(parts, cell_of(FORM, NUMBER_KEY)[0])
        text = parts[name].decode()
        # After the last real cell: no "</c>" follows, so each unclosed cell is searched to the end.
        text = text.replace("</sheetData>", '<row r="1000">' + '<c r="A1000"><v>1</v>' * n + "</row></sheetData>", 1)
        parts[name] = text.encode()
    else:
        raise ValueError(kind)
    return write_zip(dst, parts)


def shared_formulas(src: Path, dst: Path, children: int = 15_000, refs: int = 120) -> Path:
    """Defect 7: a shared formula of ``refs`` references with ``children`` child cells (each child
    was tokenized and translated alone: 79 KB took 79 s)."""
    parts = members(src)
    name = sheet_part(parts, cell_of(FORM, NUMBER_KEY)[0])
    text = parts[name].decode()
    master = "SUM(" + ",".join(f"B{i}" for i in range(1, refs + 1)) + ")"
    rows = [f'<row r="2000"><c r="A2000"><f t="shared" ref="A2000:A{2000 + children}" si="77">'
            f"{master}</f><v>0</v></c></row>"]
    rows += [f'<row r="{r}"><c r="A{r}"><f t="shared" si="77"/><v>0</v></c></row>'
             for r in range(2001, 2001 + children)]
    text = text.replace("</sheetData>", "".join(rows) + "</sheetData>", 1)
    parts[name] = text.encode()
    return write_zip(dst, parts)


ODS_NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')


def ods_document(dst: Path, rows_xml: str, sheet: str = "_xlperf") -> Path:
    """An .ods whose one sheet holds ``rows_xml`` (``<table:table-row>`` elements)."""
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ODS_NS}>'
               f'<office:body><office:spreadsheet><table:table table:name="{sheet}">{rows_xml}'
               '</table:table></office:spreadsheet></office:body></office:document-content>')
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
                'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
                '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
                '</manifest:manifest>')
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet", compress_type=zipfile.ZIP_STORED)
        zf.writestr("META-INF/manifest.xml", manifest, compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return dst


def ods_repeated(dst: Path, rows: int = 1_048_576, cols: int = 16_384) -> Path:
    """Defect 8: an .ods of a few hundred bytes declaring ``rows`` × ``cols`` repeated cells."""
    return ods_document(dst, f'<table:table-row table:number-rows-repeated="{rows}">'
                             f'<table:table-cell table:number-columns-repeated="{cols}" office:value-type="string">'
                             '<text:p>x</text:p></table:table-cell></table:table-row>')


# -- compound files (.xls) ----------------------------------------------------------------------
_END = 0xFFFFFFFE
BOF = struct.pack("<HH", 0x0809, 16) + bytes(16)
FILEPASS = struct.pack("<HH", 0x002F, 6) + bytes(6)
CODEPAGE = struct.pack("<HHH", 0x0042, 2, 936)


def cfb(streams: dict[str, bytes]) -> bytes:
    """A version-3 compound file holding ``streams`` (small ones in the mini stream)."""
    sector = 512
    big = {n: d for n, d in streams.items() if len(d) >= 4096}
    small = {n: d for n, d in streams.items() if len(d) < 4096}
    ministream = b""
    mini_start: dict[str, int] = {}
    minifat: list[int] = []
    for name, data in small.items():
        mini_start[name] = len(ministream) // 64
        count = max(1, -(-len(data) // 64))
        minifat += [len(minifat) + i + 1 for i in range(count - 1)] + [_END]
        ministream += data.ljust(count * 64, b"\0")
    sectors: list[bytes] = []
    fat: list[int] = []

    def put(data: bytes) -> int:
        if not data:
            return _END
        first = len(sectors)
        count = -(-len(data) // sector)
        for i in range(count):
            sectors.append(data[i * sector:(i + 1) * sector].ljust(sector, b"\0"))
            fat.append(first + i + 1 if i < count - 1 else _END)
        return first

    starts = {name: put(data) for name, data in big.items()}
    root_start = put(ministream)
    minifat_start = put(b"".join(struct.pack("<I", x) for x in minifat)) if minifat else _END

    def entry(name: str, kind: int, start: int, size: int, child: int = 0xFFFFFFFF,
              right: int = 0xFFFFFFFF) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        out = raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
        out += struct.pack("<III", 0xFFFFFFFF, right, child) + bytes(16) + bytes(4) + bytes(16)
        return out + struct.pack("<IQ", start, size)

    names = list(streams)
    entries = [entry("Root Entry", 5, root_start, len(ministream), child=1 if names else 0xFFFFFFFF)]
    for i, name in enumerate(names):
        start = starts[name] if name in big else mini_start[name]
        entries.append(entry(name, 2, start, len(streams[name]), right=i + 2 if i + 1 < len(names) else 0xFFFFFFFF))
    directory = b"".join(entries)
    dir_start = put(directory.ljust(-(-len(directory) // sector) * sector, b"\0"))
    fat_sector = len(sectors)
    fat.append(0xFFFFFFFD)
    fat_bytes = b"".join(struct.pack("<I", x) for x in fat).ljust(sector, b"\xff")
    sectors.append(fat_bytes)
    header = bytearray(512)
    header[:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 0x18, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<II", header, 0x2C, 1, dir_start)
    struct.pack_into("<IIIII", header, 0x38, 4096, minifat_start, len(minifat) and 1, _END, 0)
    difat = [fat_sector] + [0xFFFFFFFF] * 108
    struct.pack_into("<109I", header, 0x4C, *difat)
    return bytes(header) + b"".join(sectors)


def _fat(data: bytes) -> tuple[int, list[int]]:
    """(offset of the first FAT sector, its entries) of a file made by :func:`cfb`."""
    fat_sector = struct.unpack_from("<I", data, 0x4C)[0]
    offset = (fat_sector + 1) * 512
    return offset, list(struct.unpack_from("<128I", data, offset))


def xls_fat_loop(dst: Path) -> Path:
    """Defect 2: a .xls whose Workbook stream's FAT chain points back to its own first sector."""
    data = bytearray(cfb({"Workbook": (BOF + CODEPAGE).ljust(8000, b"\0")}))
    offset, fat = _fat(bytes(data))
    last = next(i for i, n in enumerate(fat) if n == _END)  # the Workbook chain starts at 0
    struct.pack_into("<I", data, offset + 4 * last, 0)
    dst.write_bytes(bytes(data))
    return dst


def xls_minifat_loop(dst: Path) -> Path:
    """Defect 2: a small Workbook stream (in the mini stream) whose mini-FAT chain leaves the
    mini stream and then points at itself: a walk that counts bytes read never ends."""
    data = bytearray(cfb({"Workbook": (BOF + CODEPAGE).ljust(200, b"\0")}))
    offset = (struct.unpack_from("<I", data, 0x3C)[0] + 1) * 512  # the mini FAT's sector
    struct.pack_into("<I", data, offset + 4 * 3, 100)  # the stream's last entry → 100
    struct.pack_into("<I", data, offset + 4 * 100, 100)  # 100 (past the mini stream) → itself
    dir_sector = struct.unpack_from("<I", data, 0x30)[0]
    struct.pack_into("<Q", data, (dir_sector + 1) * 512 + 128 + 0x78, 4000)  # Workbook's size
    dst.write_bytes(bytes(data))
    return dst


# -- directory entries ------------------------------------------------------------------------
def gbk_name(folder: Path, stem: str = "预算绩效自评表") -> Path:
    """Defect 5: a return whose file name is GBK bytes (a zip from Windows unpacked on Linux)."""
    raw = os.fsencode(folder) + b"/" + stem.encode("gbk") + b".xlsx"
    path = Path(os.fsdecode(raw))
    return good_return(path)


def long_name(folder: Path, length: int = 250) -> Path:
    """Defect 10: a return whose file name is ``length`` bytes long (the file system's max is 255)."""
    stem = "项目" * ((length - 5) // 6)
    stem += "x" * (length - 5 - len(stem.encode()))
    return good_return(folder / f"{stem}.xlsx")


def broken_symlink(folder: Path, name: str = "失效链接.xlsx") -> Path:
    path = folder / name
    path.symlink_to(folder / "不存在的文件.xlsx")
    return path


def fifo(folder: Path, name: str = "管道.xlsx") -> Path:
    """Defect 12: a FIFO named like a return (opening it for reading would block forever)."""
    path = folder / name
    os.mkfifo(path)
    return path


# -- a folder of every class --------------------------------------------------------------------
def every_class(folder: Path, good: int = 3) -> dict[str, Path]:
    """Write one input of each class into ``folder`` (plus ``good`` good returns); by class name."""
    folder.mkdir(parents=True, exist_ok=True)
    base = good_return(folder / "良好_1.xlsx")
    out: dict[str, Path] = {"good_1": base}
    for i in range(2, good + 1):
        out[f"good_{i}"] = good_return(folder / f"良好_{i}.xlsx")
    out["huge"] = huge_number(base, folder / "巨大数值.xlsx")
    out["nan"] = nan_number(base, folder / "非数.xlsx")
    out["inf"] = infinite_number(base, folder / "无穷大.xlsx")
    out["surrogate"] = lone_surrogate(base, folder / "孤立代理.xlsx")
    out["dtd_utf16_bom"] = dtd_in_part(base, folder / "实体UTF16.xlsx", "utf-16-le", bom=True, levels=9)
    out["dtd_utf16_nobom"] = dtd_in_part(base, folder / "实体UTF16无BOM.xlsx", "utf-16-le", bom=False, levels=9)
    out["xls_fat_loop"] = xls_fat_loop(folder / "扇区循环.xls")
    out["xls_minifat_loop"] = xls_minifat_loop(folder / "短扇区循环.xls")
    out["regex_name"] = regex_trap(base, folder / "名称空格.xlsx", "name", 3_000)
    out["regex_si"] = regex_trap(base, folder / "未闭合si.xlsx", "si")
    out["regex_c"] = regex_trap(base, folder / "未闭合c.xlsx", "c")
    out["shared"] = shared_formulas(base, folder / "共享公式.xlsx")
    out["ods"] = ods_repeated(folder / "重复行列.ods")
    out["gbk"] = gbk_name(folder)
    out["long"] = long_name(folder)
    out["symlink"] = broken_symlink(folder)
    out["fifo"] = fifo(folder)
    return out
