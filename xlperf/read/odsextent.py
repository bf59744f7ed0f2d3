"""The declared extent of an .ods before any reader expands it: ``number-rows-repeated`` ×
``number-columns-repeated`` of cells with content, counted while streaming the content part, so an
800-byte file cannot make a reader build billions of cells."""

from __future__ import annotations

import xml.parsers.expat
from pathlib import Path

from xlperf.read.unsafe import UnsafeFile, corrupt

__all__ = ["MAX_ODS_CELLS", "check_ods_extent"]

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


def check_ods_extent(path: Path, content: bytes) -> None:
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
        raise UnsafeFile("FILE_CORRUPT", corrupt(path.name, "content.xml 含有 DTD 或实体声明（可能是恶意构造的文件）"), path)

    parser = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = doctype
    try:
        parser.Parse(content, True)
    except xml.parsers.expat.ExpatError as exc:
        raise UnsafeFile("FILE_CORRUPT", corrupt(path.name, f"content.xml 无法解析：{exc}"), path) from None


def _count(value: str | None) -> int:
    try:
        return max(1, int(value)) if value else 1
    except ValueError:
        return 1
