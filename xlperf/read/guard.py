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

import io
import os
import re
import stat
import xml.etree.ElementTree as ET
import zipfile
import zlib
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as DET

from xlperf.read.cfb import inspect_ole
from xlperf.read.odsextent import check_ods_extent
from xlperf.read.unsafe import (
    FileKind,
    UnsafeFile,
    bomb,
    corrupt,
    describe_foreign,
    encrypted,
    foreign,
    truncated,
)

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
        # (Windows has neither FIFOs in folders nor O_NONBLOCK, and needs O_BINARY.)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
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
        return inspect_ole(path, data, suffix)
    raise UnsafeFile("FILE_FOREIGN", foreign(name, describe_foreign(data)), path)


# -- zip containers -----------------------------------------------------------------------------
def _inspect_zip(path: Path, data: bytes, suffix: str, max_unzipped: int, max_ratio: float) -> FileKind:
    name = path.name
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        # The end-of-central-directory record is the zip's last part: a file that starts like a
        # zip but has none was cut short (an interrupted download or copy).
        raise UnsafeFile("FILE_TRUNCATED", truncated(name), path) from None
    except (OSError, ValueError, EOFError) as exc:
        raise UnsafeFile("FILE_CORRUPT", corrupt(name, f"压缩包目录无法解析：{exc}"), path) from None
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
        raise UnsafeFile("ZIP_BOMB", bomb(name, f"压缩包内有 {len(infos)} 个文件，远超正常报表"), path)
    declared = sum(i.file_size for i in infos)
    if declared > max_unzipped:
        raise UnsafeFile(
            "ZIP_BOMB", bomb(name, f"解压后将达 {declared / MiB:.0f} MB，超过上限 {max_unzipped / MiB:g} MB"), path
        )


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, name: str, path: Path | None, total: int,
                max_unzipped: int = MAX_UNZIPPED, max_ratio: float = MAX_RATIO) -> tuple[bytes, int]:
    """Inflate one member of ``zf`` in chunks, refusing it as soon as the running ``total`` of the
    archive (bytes inflated before this member) passes ``max_unzipped`` or the member's ratio
    passes ``max_ratio``; returns its bytes and the new total. ``name`` is the archive's name in
    messages. Used for workbooks here and for zip attachments by the mail intake."""
    if info.flag_bits & 0x1:
        raise UnsafeFile("FILE_ENCRYPTED", encrypted(name), path)
    if info.compress_type != zipfile.ZIP_STORED and info.compress_size > info.file_size + info.file_size // 100 + 1024:
        # Deflate never grows data by more than a few bytes per 16 KiB block; a member whose
        # compressed size is larger than its declared size has a forged header.
        raise UnsafeFile("ZIP_BOMB", bomb(name, f"“{info.filename}”声明的解压大小与实际不符"), path)
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
                        "ZIP_BOMB", bomb(name, f"解压后超过上限 {max_unzipped / MiB:g} MB"), path
                    )
                if member > RATIO_FLOOR and member > max_ratio * max(info.compress_size, 1):
                    raise UnsafeFile(
                        "ZIP_BOMB",
                        bomb(name, f"“{info.filename}”的压缩比超过 {max_ratio:g} 倍"),
                        path,
                    )
                chunks.append(chunk)
                if len(chunk) < CHUNK:
                    break  # ZipExtFile.read(n) returns less than n only at the end
    except UnsafeFile:
        raise
    except RuntimeError:
        # zipfile: "File ... is encrypted, password required for extraction"
        raise UnsafeFile("FILE_ENCRYPTED", encrypted(name), path) from None
    except EOFError:
        raise UnsafeFile("FILE_TRUNCATED", truncated(name), path) from None
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, NotImplementedError) as exc:
        raise UnsafeFile("FILE_CORRUPT", corrupt(name, f"“{info.filename}”：{exc}"), path) from None
    return (chunks[0] if len(chunks) == 1 else b"".join(chunks)), total


def _classify_zip(path: Path, data: bytes, suffix: str, parts: dict[str, bytes], members: set[str]) -> FileKind:
    name = path.name
    content_types = parts.get("[Content_Types].xml")
    if content_types is not None:
        try:
            root = parse_xml(content_types)
        except ET.ParseError as exc:
            raise UnsafeFile("FILE_CORRUPT", corrupt(name, f"[Content_Types].xml：{exc}"), path) from None
        except UnsafeFile as exc:
            raise UnsafeFile(exc.code, corrupt(name, f"[Content_Types].xml 的{exc.message}"), path) from None
        for override in root.iter(_CT_NS + "Override"):
            ctype = (override.get("ContentType") or "").strip()
            if ctype in _SPREADSHEET_MAIN:
                macros = _SPREADSHEET_MAIN[ctype] or any(m.lower().endswith("vbaproject.bin") for m in members)
                return FileKind("xlsx", suffix, len(data), data, parts, macros)
            if ctype in _OTHER_MAIN:
                raise UnsafeFile("FILE_FOREIGN", foreign(name, _OTHER_MAIN[ctype]), path)
        raise UnsafeFile("FILE_FOREIGN", foreign(name, "压缩包中没有 Excel 工作簿"), path)
    mimetype = parts.get("mimetype", b"").strip()
    manifest = parts.get("META-INF/manifest.xml", b"")
    if mimetype in _ODS_TYPES or (not mimetype and b"opendocument.spreadsheet" in manifest):
        if b"encryption-data" in manifest:
            raise UnsafeFile("FILE_ENCRYPTED", encrypted(name), path)
        check_ods_extent(path, parts.get("content.xml", b""))
        return FileKind("ods", suffix, len(data), data, {}, False)
    if mimetype.startswith(b"application/vnd.oasis.opendocument"):
        raise UnsafeFile("FILE_FOREIGN", foreign(name, f"这是 OpenDocument 文件（{mimetype.decode('ascii', 'replace')}），不是电子表格"), path)
    if "xl/workbook.xml" in members:
        raise UnsafeFile("FILE_CORRUPT", corrupt(name, "缺少 [Content_Types].xml"), path)
    raise UnsafeFile("FILE_FOREIGN", foreign(name, "这是普通 ZIP 压缩包"), path)


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
