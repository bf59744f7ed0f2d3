"""Look at an untrusted file before any reader does: what it really is, and whether it is safe.

A return arrives from a unit's clerk by e-mail or upload. It may be empty, cut short, encrypted,
a Word document renamed ``.xlsx``, a ``.xls`` renamed ``.xlsx``, or a zip bomb. ``inspect_file``
decides by content (magic bytes), never by extension, and raises :class:`UnsafeFile` with a stable
code and a Chinese message naming the file and the real cause.

Zip containers (xlsx, ods) are inflated here, member by member in 1 MiB chunks against a running
total and a ratio limit, because the sizes a zip declares can lie. The inflated XML parts are kept
in :attr:`FileKind.parts` so the reader does not inflate twice.

OLE2 compound files are either legacy ``.xls`` or an encrypted OOXML package (Excel's "password to
open" wraps the zip in an OLE file with ``EncryptionInfo`` and ``EncryptedPackage`` streams); a
minimal reader of the compound-file directory tells them apart.

:func:`parse_xml` parses one XML part with the C parser when the part cannot carry a DTD (no
``<!DOCTYPE``, UTF-8 or ASCII bytes), else through defusedxml, which decodes first and refuses
DTDs in any encoding: the same protection as defusedxml at the C parser's speed.

Compound-file chains (FAT, mini FAT, DIFAT) are walked with a bound (the number of sectors in
the file) and a record of the sectors seen, so a chain that loops is refused, never followed.
An .ods declares repeated rows and columns (``number-rows-repeated`` × ``number-columns-repeated``)
that its reader expands: the declared extent of cells with content is counted here, streaming,
before any reader runs.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import stat
import struct
import xml.etree.ElementTree as ET
import xml.parsers.expat
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as DET

__all__ = [
    "MAX_BYTES",
    "MAX_MEMBERS",
    "MAX_RATIO",
    "MAX_UNZIPPED",
    "FileKind",
    "UnsafeFile",
    "check_directory",
    "inspect_file",
    "parse_xml",
    "read_member",
]

MiB = 1 << 20
MAX_BYTES = 50 * MiB
MAX_UNZIPPED = 200 * MiB
MAX_RATIO = 200
MAX_MEMBERS = 10_000
CHUNK = MiB
# Below this many inflated bytes a member is not judged by its ratio: small runs of identical
# XML (empty styled cells) legitimately compress more than 200 times.
RATIO_FLOOR = MiB

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SUFFIXES = {
    "xlsx": (".xlsx", ".xlsm", ".xltx", ".xltm"),
    "xls": (".xls", ".xlt"),
    "ods": (".ods", ".ots"),
}
_SPREADSHEET_MAIN = {
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": False,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml": False,
    "application/vnd.ms-excel.sheet.macroEnabled.main+xml": True,
    "application/vnd.ms-excel.template.macroEnabled.main+xml": True,
}
_OTHER_MAIN = {
    "application/vnd.ms-excel.sheet.binary.macroEnabled.main": "二进制工作簿（.xlsb）暂不支持，请在 Excel 中另存为 .xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": "这是 Word 文档",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": "这是 PowerPoint 演示文稿",
}
_ODS_TYPES = (
    b"application/vnd.oasis.opendocument.spreadsheet",
    b"application/vnd.oasis.opendocument.spreadsheet-template",
)
_CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"


class UnsafeFile(Exception):
    """A file no reader should open; ``code`` is stable, ``message`` is for the unit's clerk."""

    def __init__(self, code: str, message: str, path: Path | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.path = path

    def __reduce__(self) -> tuple[type[UnsafeFile], tuple[str, str, Path | None]]:
        return type(self), (self.code, self.message, self.path)  # picklable: sent back by workers


@dataclass(frozen=True)
class FileKind:
    """What a file really is, and its bytes for the reader."""

    kind: str
    """``xlsx`` (also xlsm, xltx), ``xls`` or ``ods``, by content."""
    suffix: str
    """The file name's extension in lower case, ``""`` when it has none."""
    size: int
    data: bytes = field(repr=False, compare=False)
    """The whole file, for readers that take a file-like object (python-calamine)."""
    parts: Mapping[str, bytes] = field(default_factory=dict, repr=False, compare=False)
    """xlsx only: every inflated ``.xml`` and ``.rels`` member by its name in the zip."""
    macros: bool = False
    """An xlsx with a VBA project (xlsm); the macros are never run."""

    @property
    def extension_mismatch(self) -> bool:
        """True when the name's extension does not fit the content (a .xls renamed .xlsx)."""
        return self.suffix not in SUFFIXES[self.kind]


def inspect_file(
    path: Path,
    max_bytes: int = MAX_BYTES,
    max_unzipped: int = MAX_UNZIPPED,
    max_ratio: float = MAX_RATIO,
) -> FileKind:
    """Say what ``path`` is by content; raise :class:`UnsafeFile` if no reader should open it."""
    path = Path(path)
    name = path.name
    # O_NONBLOCK: opening a FIFO for reading would wait for a writer forever; fstat then tells
    # what was opened (no race between a check of the name and the read).
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise UnsafeFile("FILE_MISSING", f"文件“{name}”不存在（或是失效的快捷方式），无法读取", path) from None
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafeFile("FILE_NOT_REGULAR", f"“{name}”不是普通文件（如管道或设备），未读取", path)
        return _inspect_open(path, handle, max_bytes, max_unzipped, max_ratio)


def _inspect_open(path: Path, handle: io.BufferedReader, max_bytes: int, max_unzipped: int,
                  max_ratio: float) -> FileKind:
    name = path.name
    size = os.fstat(handle.fileno()).st_size
    if size == 0:
        raise UnsafeFile("FILE_EMPTY", f"文件“{name}”是空文件（0 字节），请重新导出后报送", path)
    if size > max_bytes:
        raise UnsafeFile(
            "FILE_TOO_LARGE",
            f"文件“{name}”大小 {size / MiB:.1f} MB，超过上限 {max_bytes / MiB:g} MB，"
            "不像是一张填报表：请删除多余的图片或工作表后重新报送",
            path,
        )
    data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # grew since fstat
        raise UnsafeFile("FILE_TOO_LARGE", f"文件“{name}”超过上限 {max_bytes / MiB:g} MB，已拒绝读取", path)
    suffix = path.suffix.lower()
    if data.startswith(b"PK"):
        return _inspect_zip(path, data, suffix, max_unzipped, max_ratio)
    if data.startswith(OLE_MAGIC):
        return _inspect_ole(path, data, suffix)
    raise UnsafeFile("FILE_FOREIGN", _foreign(name, _describe_foreign(data)), path)


# -- zip containers -----------------------------------------------------------------------------
def _inspect_zip(path: Path, data: bytes, suffix: str, max_unzipped: int, max_ratio: float) -> FileKind:
    name = path.name
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        # The end-of-central-directory record is the zip's last part: a file that starts like a
        # zip but has none was cut short (an interrupted download or copy).
        raise UnsafeFile("FILE_TRUNCATED", _truncated(name), path) from None
    except (OSError, ValueError, EOFError) as exc:
        raise UnsafeFile("FILE_CORRUPT", _corrupt(name, f"压缩包目录无法解析：{exc}"), path) from None
    infos = zf.infolist()
    check_directory(infos, name, path, max_unzipped)
    parts: dict[str, bytes] = {}
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        content, total = read_member(zf, info, name, path, total, max_unzipped, max_ratio)
        if info.filename.endswith((".xml", ".rels")) or info.filename == "mimetype":
            parts[info.filename] = content
    return _classify_zip(path, data, suffix, parts, {i.filename for i in infos})


def check_directory(infos: list[zipfile.ZipInfo], name: str, path: Path | None,
                    max_unzipped: int = MAX_UNZIPPED) -> None:
    """Refuse a zip whose directory alone shows a bomb: too many members, or a declared total
    beyond ``max_unzipped`` (the declared sizes may lie low, so :func:`read_member` counts too)."""
    if len(infos) > MAX_MEMBERS:
        raise UnsafeFile("ZIP_BOMB", _bomb(name, f"压缩包内有 {len(infos)} 个文件，远超正常报表"), path)
    declared = sum(i.file_size for i in infos)
    if declared > max_unzipped:
        raise UnsafeFile(
            "ZIP_BOMB", _bomb(name, f"解压后将达 {declared / MiB:.0f} MB，超过上限 {max_unzipped / MiB:g} MB"), path
        )


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, path: Path | None, total: int,
                max_unzipped: int = MAX_UNZIPPED, max_ratio: float = MAX_RATIO) -> tuple[bytes, int]:
    """Inflate one member of ``zf`` in chunks, refusing it as soon as the running ``total`` of the
    archive (bytes inflated before this member) passes ``max_unzipped`` or the member's ratio
    passes ``max_ratio``; returns its bytes and the new total. ``name`` is the archive's name in
    messages. Used for workbooks here and for zip attachments by the mail intake."""
    if info.flag_bits & 0x1:
        raise UnsafeFile("FILE_ENCRYPTED", _encrypted(name), path)
    if info.compress_type != zipfile.ZIP_STORED and info.compress_size > info.file_size + info.file_size // 100 + 1024:
        # Deflate never grows data by more than a few bytes per 16 KiB block; a member whose
        # compressed size is larger than its declared size has a forged header.
        raise UnsafeFile("ZIP_BOMB", _bomb(name, f"“{info.filename}”声明的解压大小与实际不符"), path)
    chunks: list[bytes] = []
    member = 0
    try:
        with zf.open(info) as stream:
            while True:
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                member += len(chunk)
                total += len(chunk)
                if total > max_unzipped:
                    raise UnsafeFile(
                        "ZIP_BOMB", _bomb(name, f"解压后超过上限 {max_unzipped / MiB:g} MB"), path
                    )
                if member > RATIO_FLOOR and member > max_ratio * max(info.compress_size, 1):
                    raise UnsafeFile(
                        "ZIP_BOMB",
                        _bomb(name, f"“{info.filename}”的压缩比超过 {max_ratio:g} 倍"),
                        path,
                    )
                chunks.append(chunk)
                if len(chunk) < CHUNK:
                    break  # ZipExtFile.read(n) returns less than n only at the end
    except UnsafeFile:
        raise
    except RuntimeError:
        # zipfile: "File ... is encrypted, password required for extraction"
        raise UnsafeFile("FILE_ENCRYPTED", _encrypted(name), path) from None
    except EOFError:
        raise UnsafeFile("FILE_TRUNCATED", _truncated(name), path) from None
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, NotImplementedError) as exc:
        raise UnsafeFile("FILE_CORRUPT", _corrupt(name, f"“{info.filename}”：{exc}"), path) from None
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), total


def _classify_zip(path: Path, data: bytes, suffix: str, parts: dict[str, bytes], members: set[str]) -> FileKind:
    name = path.name
    content_types = parts.get("[Content_Types].xml")
    if content_types is not None:
        try:
            root = parse_xml(content_types)
        except ET.ParseError as exc:
            raise UnsafeFile("FILE_CORRUPT", _corrupt(name, f"[Content_Types].xml：{exc}"), path) from None
        except UnsafeFile as exc:
            raise UnsafeFile(exc.code, _corrupt(name, f"[Content_Types].xml 的{exc.message}"), path) from None
        for override in root.iter(_CT_NS + "Override"):
            ctype = (override.get("ContentType") or "").strip()
            if ctype in _SPREADSHEET_MAIN:
                macros = _SPREADSHEET_MAIN[ctype] or any(m.lower().endswith("vbaproject.bin") for m in members)
                return FileKind("xlsx", suffix, len(data), data, parts, macros)
            if ctype in _OTHER_MAIN:
                raise UnsafeFile("FILE_FOREIGN", _foreign(name, _OTHER_MAIN[ctype]), path)
        raise UnsafeFile("FILE_FOREIGN", _foreign(name, "压缩包中没有 Excel 工作簿"), path)
    mimetype = parts.get("mimetype", b"").strip()
    manifest = parts.get("META-INF/manifest.xml", b"")
    if mimetype in _ODS_TYPES or (not mimetype and b"opendocument.spreadsheet" in manifest):
        if b"encryption-data" in manifest:
            raise UnsafeFile("FILE_ENCRYPTED", _encrypted(name), path)
        _check_ods_extent(path, parts.get("content.xml", b""))
        return FileKind("ods", suffix, len(data), data, {}, False)
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        raise UnsafeFile("FILE_FOREIGN", _foreign(name, f"这是 OpenDocument 文件（{mimetype.decode('ascii', 'replace')}），不是电子表格"), path)
    if "xl/workbook.xml" in members:
        raise UnsafeFile("FILE_CORRUPT", _corrupt(name, "缺少 [Content_Types].xml"), path)
    raise UnsafeFile("FILE_FOREIGN", _foreign(name, "这是普通 ZIP 压缩包"), path)


MAX_ODS_CELLS = 2_000_000
"""Cells with content an .ods may declare once its repeats are expanded (a return has ~2,000;
the xlsx reader's grid bound is the same)."""
_TABLE_NS = "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ROW = f"{_TABLE_NS} table-row"
_CELLS = (f"{_TABLE_NS} table-cell", f"{_TABLE_NS} covered-table-cell")
_ROWS_REPEATED = f"{_TABLE_NS} number-rows-repeated"
_COLS_REPEATED = f"{_TABLE_NS} number-columns-repeated"
_CELL_CONTENT = (f"{_OFFICE_NS} value-type", f"{_TABLE_NS} formula")


def _check_ods_extent(path: Path, content: bytes) -> None:
    """Refuse an .ods whose repeated rows × repeated cells with content exceed :data:`MAX_ODS_CELLS`.

    Streams ``content.xml`` through expat (no tree), refusing a DTD. A cell counts when it has a
    value type, a formula or child elements (text); empty repeated cells, which LibreOffice writes
    to the sheet's edge, cost the reader nothing and are not counted."""
    total = 0
    rows: list[int] = []  # the repeat count of each open row (rows do not nest, but be safe)
    row_cells: list[int] = []
    cell: list[int] = []  # [repeat, has content] of the open cell
    depth_in_cell = 0

    def start(tag: str, attrs: dict[str, str]) -> None:
        nonlocal depth_in_cell
        if cell:
            depth_in_cell += 1
            cell[1] = 1
        elif tag == _ROW:
            rows.append(_count(attrs.get(_ROWS_REPEATED)))
            row_cells.append(0)
        elif tag in _CELLS:
            cell[:] = [_count(attrs.get(_COLS_REPEATED)), int(any(a in attrs for a in _CELL_CONTENT))]

    def end(tag: str) -> None:
        nonlocal depth_in_cell, total
        if cell and depth_in_cell:
            depth_in_cell -= 1
        elif cell:
            if cell[1] and row_cells:
                row_cells[-1] += cell[0]
            cell.clear()
        elif tag == _ROW and rows:
            total += rows.pop() * row_cells.pop()
            if total > MAX_ODS_CELLS:
                raise UnsafeFile("FILE_TOO_LARGE", f"文件“{path.name}”声明的单元格（含重复行列）超过 "
                                 f"{MAX_ODS_CELLS:,} 个，不像是一张填报表，已拒绝读取：请删除多余内容后重新报送", path)

    def doctype(*_: object) -> None:
        raise UnsafeFile("FILE_CORRUPT", _corrupt(path.name, "content.xml 含有 DTD 或实体声明（可能是恶意构造的文件）"), path)

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(content, True)
    except xml.parsers.expat.ExpatError as exc:
        raise UnsafeFile("FILE_CORRUPT", _corrupt(path.name, f"content.xml 无法解析：{exc}"), path) from None


def _count(value: str | None) -> int:
    try:
        return max(1, int(value)) if value else 1
    except ValueError:
        return 1


# -- OLE2 compound files ------------------------------------------------------------------------
_FREE = 0xFFFFFFFF
_END = 0xFFFFFFFE


class _Truncated(Exception):
    pass


class _Cfb:
    """Just enough of [MS-CFB] to list stream names and read the head of one stream."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 512:
            raise _Truncated
        self.data = data
        self.sector = 1 << struct.unpack_from("<H", data, 0x1E)[0]
        self.mini = 1 << struct.unpack_from("<H", data, 0x20)[0]
        if self.sector not in (512, 4096) or self.mini != 64:
            raise ValueError("扇区大小无效")
        n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
        self.cutoff, first_minifat, _, first_difat, n_difat = struct.unpack_from("<IIIII", data, 0x38)
        self.limit = len(data) // self.sector + 2  # no chain can be longer than the file
        fat_sectors = [s for s in struct.unpack_from("<109I", data, 0x4C) if s < _END]
        difat, per = first_difat, self.sector // 4 - 1
        for _ in range(min(n_difat, self.limit)):
            if difat >= _END:
                break
            entries = struct.unpack_from(f"<{per + 1}I", self.read_sector(difat))
            fat_sectors += [s for s in entries[:per] if s < _END]
            difat = entries[per]
        fat = b"".join(self.read_sector(s) for s in fat_sectors[: max(n_fat, 1)])
        self.fat = struct.unpack(f"<{len(fat) // 4}I", fat)
        self.entries = self.read_directory(first_dir)
        self.first_minifat = first_minifat

    def read_sector(self, n: int) -> bytes:
        start = (n + 1) * self.sector
        if start + self.sector > len(self.data):
            raise _Truncated
        return self.data[start : start + self.sector]

    def chain(self, start: int, limit: int | None = None) -> list[int]:
        """The sectors of the FAT chain from ``start`` (its first ``limit`` when given)."""
        return _walk(self.fat, start, self.limit if limit is None else min(limit, self.limit), "扇区链")

    def validate(self) -> None:
        """Walk every chain of the file once: a chain that loops, leaves the table, or shares a
        sector with another is refused (``ValueError``) before any reader follows it."""
        seen: set[int] = set()
        mini_seen: set[int] = set()
        minifat = self.minifat()
        for start in [self.first_minifat, *(e[2] for e in self.entries if e[1] == 5)]:
            _walk(self.fat, start, self.limit, "扇区链", seen)
        for _, kind, start, size in self.entries:
            if kind != 2 or size == 0:
                continue
            if size >= self.cutoff:
                _walk(self.fat, start, self.limit, "扇区链", seen)
            else:
                _walk(minifat, start, len(minifat) + 1, "短扇区链", mini_seen)

    def minifat(self) -> tuple[int, ...]:
        raw = b"".join(self.read_sector(s) for s in self.chain(self.first_minifat))
        return struct.unpack(f"<{len(raw) // 4}I", raw)

    def read_directory(self, first: int) -> list[tuple[str, int, int, int]]:
        """(name, type, start sector, size) of every directory entry."""
        entries = []
        for n in self.chain(first):
            sector = self.read_sector(n)
            for off in range(0, self.sector, 128):
                raw = sector[off : off + 128]
                length = struct.unpack_from("<H", raw, 0x40)[0]
                kind = raw[0x42]
                if kind == 0 or not 2 <= length <= 64:
                    continue
                entry_name = raw[: length - 2].decode("utf-16-le", "replace")
                start, size = struct.unpack_from("<IQ", raw, 0x74)
                if self.sector == 512:
                    size &= 0xFFFFFFFF
                entries.append((entry_name, kind, start, size))
        return entries

    def stream_head(self, name: str, n: int) -> bytes:
        """The first ``n`` bytes of stream ``name`` (b"" if there is none)."""
        entry = next((e for e in self.entries if e[1] == 2 and e[0] == name), None)
        if entry is None:
            return b""
        start, size = entry[2], entry[3]
        if size >= self.cutoff:
            sectors = self.chain(start, -(-n // self.sector))
            return b"".join(self.read_sector(s) for s in sectors)[: min(n, size)]
        # A small stream lives in the mini stream, itself stored in the root entry's chain.
        root = next((e for e in self.entries if e[1] == 5), None)
        if root is None:
            return b""
        minifat = self.minifat()
        ministream = b"".join(self.read_sector(s) for s in self.chain(root[2]))
        out = bytearray()
        for m in _walk(minifat, start, -(-min(n, size) // self.mini), "短扇区链"):
            piece = ministream[m * self.mini : (m + 1) * self.mini]
            if not piece:
                raise ValueError("短扇区链超出短流")
            out += piece
        return bytes(out[: min(n, size)])


def _walk(table: tuple[int, ...], start: int, limit: int, what: str, seen: set[int] | None = None) -> list[int]:
    """A sector chain through ``table`` from ``start``: at most ``limit`` sectors, each once.

    ``seen`` (shared across the chains of one file) refuses a sector claimed by two chains; a
    chain whose next entry is outside the table, or one it has visited, is refused."""
    out: list[int] = []
    own: set[int] = set()
    n = start
    while n < _END and len(out) < limit:
        if n >= len(table):
            raise ValueError(f"{what}无效")
        if n in own or (seen is not None and n in seen):
            raise ValueError(f"{what}循环或重叠")
        own.add(n)
        out.append(n)
        n = table[n]
    if seen is not None:
        if n < _END:
            raise ValueError(f"{what}过长")
        seen |= own
    return out


def _inspect_ole(path: Path, data: bytes, suffix: str) -> FileKind:
    name = path.name
    try:
        cfb = _Cfb(data)
        cfb.validate()
        names = {e[0] for e in cfb.entries if e[1] == 2}
        if "EncryptionInfo" in names or "EncryptedPackage" in names:
            raise UnsafeFile("FILE_ENCRYPTED", _encrypted(name), path)
        book = "Workbook" if "Workbook" in names else "Book" if "Book" in names else None
        if book is None:
            what = (
                "这是 Word 文档（.doc）" if "WordDocument" in names
                else "这是 PowerPoint 演示文稿（.ppt）" if "PowerPoint Document" in names
                else "OLE 复合文档中没有 Excel 工作簿"
            )
            raise UnsafeFile("FILE_FOREIGN", _foreign(name, what), path)
        if _biff_encrypted(cfb.stream_head(book, 512)):
            raise UnsafeFile("FILE_ENCRYPTED", _encrypted(name), path)
    except _Truncated:
        raise UnsafeFile("FILE_TRUNCATED", _truncated(name), path) from None
    except (struct.error, ValueError) as exc:
        raise UnsafeFile("FILE_CORRUPT", _corrupt(name, f"OLE 复合文档结构无效：{exc}"), path) from None
    return FileKind("xls", suffix, len(data), data, {}, False)


def _biff_encrypted(head: bytes) -> bool:
    """True when a BIFF workbook stream has a FILEPASS record right after BOF (MS-XLS 2.4.117)."""
    pos = 0
    for _ in range(4):  # BOF, then optionally WRITEPROTECT, then FILEPASS
        if pos + 4 > len(head):
            return False
        rtype, length = struct.unpack_from("<HH", head, pos)
        if rtype == 0x002F:
            return True
        pos += 4 + length
    return False


# -- XML parts ----------------------------------------------------------------------------------
_XML_DECL = re.compile(rb"<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def parse_xml(data: bytes) -> ET.Element:
    """Parse one XML part of an untrusted file, refusing DTDs (hence entity expansion).

    Raises ``xml.etree.ElementTree.ParseError`` for malformed XML and :class:`UnsafeFile`
    (``FILE_CORRUPT``) for a part carrying a DTD, which no spreadsheet part legitimately has.
    """
    if _plain_xml(data):
        return ET.fromstring(data)
    try:
        return DET.fromstring(data, forbid_dtd=True)
    except defusedxml.DefusedXmlException:
        raise UnsafeFile("FILE_CORRUPT", "XML 部件含有 DTD 或实体声明（可能是恶意构造的文件）") from None


def _plain_xml(data: bytes) -> bool:
    """True when ``data`` is ASCII-compatible XML whose bytes cannot hide a DTD."""
    head = data[:200]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    if not head.startswith(b"<") or b"\x00" in head:
        # UTF-16/32 (with or without a byte-order mark: "<" then NUL is UTF-16LE, whose
        # "<!DOCTYPE" is no byte string to search for) or leading junk: the careful parser,
        # which decodes first and refuses any DTD, decides.
        return False
    if head.startswith(b"<?xml"):
        m = _XML_DECL.match(head)
        if m and m.group(1).lower() not in (b"utf-8", b"utf8", b"us-ascii", b"ascii"):
            return False
    return b"<!DOCTYPE" not in data and b"<!ENTITY" not in data


# -- messages -----------------------------------------------------------------------------------
def _encrypted(name: str) -> str:
    return f"文件“{name}”已设置打开密码（加密），无法读取：请取消密码后重新报送"


def _truncated(name: str) -> str:
    return f"文件“{name}”不完整（可能是下载或拷贝时中断），无法读取：请重新导出或重新上传"


def _corrupt(name: str, detail: str) -> str:
    return f"文件“{name}”已损坏（{detail}），无法读取：请用 Excel 打开后另存为 .xlsx 再报送"


def _bomb(name: str, detail: str) -> str:
    return f"文件“{name}”{detail}，可能是恶意构造的压缩文件（zip 炸弹），已拒绝读取"


def _foreign(name: str, what: str) -> str:
    return f"文件“{name}”不是 Excel 工作簿（{what}），请使用财政局下发的模板填报"


def _describe_foreign(data: bytes) -> str:
    head = data[:512].lstrip(b"\xef\xbb\xbf\xff\xfe\xfe\xff \t\r\n")
    lower = head[:200].lower().replace(b"\x00", b"")
    if head.startswith(b"%PDF"):
        return "这是 PDF 文件"
    if b"urn:schemas-microsoft-com:office:spreadsheet" in data[:4096].replace(b"\x00", b""):
        return "这是 Excel 2003 XML 表格，请在 Excel 中另存为 .xlsx"
    if lower.startswith((b"<!doctype html", b"<html", b"<table", b"<meta")) or b"<html" in lower:
        return "这是网页（HTML）文件，常见于从业务系统导出的“假 .xls”，请在 Excel 中另存为 .xlsx"
    if head.startswith(b"{\\rtf"):
        return "这是 RTF 文档"
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "这是图片"
    if head.startswith((b"Rar!", b"7z\xbc\xaf", b"\x1f\x8b")):
        return "这是压缩包"
    sample = data[:4096]
    if b"\x00" not in sample:
        for codec in ("utf-8", "gb18030"):  # CSV files exported in China are often GBK
            try:
                codecs.getincrementaldecoder(codec)().decode(sample, final=False)
            except UnicodeDecodeError:
                continue
            return "这是纯文本（如 CSV）文件"
    return "无法识别的文件格式"
