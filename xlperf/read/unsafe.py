"""What the guard says about a file no reader should open: the exception with its stable code,
what a file really is (:class:`FileKind`), and the Chinese messages naming the file and the cause.
Shared by the guard and its container inspectors (:mod:`~xlperf.read.cfb`, :mod:`~xlperf.read.odsextent`)."""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SUFFIXES", "FileKind", "UnsafeFile", "bomb", "corrupt", "describe_foreign", "encrypted", "foreign",
           "truncated"]

SUFFIXES = {
    "xlsx": (".xlsx", ".xlsm", ".xltx", ".xltm"),
    "xls": (".xls", ".xlt"),
    "ods": (".ods", ".ots"),
}


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


def encrypted(name: str) -> str:
    return f"文件“{name}”已设置打开密码（加密），无法读取：请取消密码后重新报送"


def truncated(name: str) -> str:
    return f"文件“{name}”不完整（可能是下载或拷贝时中断），无法读取：请重新导出或重新上传"


def corrupt(name: str, detail: str) -> str:
    return f"文件“{name}”已损坏（{detail}），无法读取：请用 Excel 打开后另存为 .xlsx 再报送"


def bomb(name: str, detail: str) -> str:
    return f"文件“{name}”{detail}，可能是恶意构造的压缩文件（zip 炸弹），已拒绝读取"


def foreign(name: str, what: str) -> str:
    return f"文件“{name}”不是 Excel 工作簿（{what}），请使用财政局下发的模板填报"


def describe_foreign(data: bytes) -> str:
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
