"""The summary workbook is the same whether built in memory or streamed to disk.

Up to ``IN_MEMORY_CELLS`` cells the writer keeps the workbook in memory with a shared string
table (faster); past it, rows stream to disk with inline strings (flat memory). Both must give
the same content: every value (read with python-calamine: openpyxl does not undo the
``_xHHHH_`` escaping of inline strings, so "_x0041_" typed in a return would read back
differently there), every cell's type and number format (openpyxl), texts that look like
formulas kept as text. Records are made by hand here, so no return needs to be checked.
"""

from __future__ import annotations

import gc
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from xlperf.findings import CheckedReturn, Finding
from xlperf.model.summary_rows import IndicatorRow, ProjectRow
from xlperf.rollup import build_tables, write_summary
from xlperf.rollup import workbook as workbook_mod
from xlperf.rollup.gcpause import cycle_collection_paused

TEXTS = ("=HYPERLINK(\"http://x\")", "@SUM(A1)", "+cmd", " 前后空格 ", "_x0041_", "控制\x01字符", "长" * 300)


def records() -> list[CheckedReturn]:
    out = []
    for i in range(12):
        text = TEXTS[i % len(TEXTS)]
        project = ProjectRow("", f"单位{i % 4}", "市财政局", f"项目{i}{text}", 2024, 40.0 + i, 30.0, 4.68 * i,
                             0.117 * i)
        indicators = tuple(
            IndicatorRow("", "指标表", "产出指标", "数量指标", f"指标{n}{text}", "≥", 12.0 if n % 2 else "≥95%",
                         "次", text if n == 3 else 10.0 + n, None, None, 0.5 + n / 10)
            for n in range(6))
        out.append(CheckedReturn(
            file=Path(f"inbox/{i:02d}.xlsx"), size=1000 + i, mtime_ns=1_700_000_000_000_000_000 + i * 10**9,
            form="self_evaluation", unit=f"单位{i % 4}", year=2024,
            scores={"total_score": Decimal(80 + i), "grade": "良"}, projects=(project,), indicators=indicators,
            findings=[Finding("TEXT_CHECK", "warning", f"说明{text}", sheet="自评表", cell="B2", label=text)]
            if i % 3 == 0 else [],
        ))
    return out


def contents(path: Path) -> dict[str, tuple[list[list[Any]], list[list[tuple[str, str]]]]]:
    """Per sheet: the values, and each cell's type and number format."""
    values = CalamineWorkbook.from_path(str(path))
    styles = openpyxl.load_workbook(path)
    return {ws.title: (values.get_sheet_by_name(ws.title).to_python(),
                       [[(c.data_type, c.number_format) for c in row] for row in ws.iter_rows()])
            for ws in styles.worksheets}


def test_in_memory_and_streamed_workbooks_hold_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = build_tables(records())
    monkeypatch.setattr(workbook_mod, "IN_MEMORY_CELLS", 10**9)
    in_memory = contents(write_summary(tables, tmp_path / "memory.xlsx", "段落"))
    monkeypatch.setattr(workbook_mod, "IN_MEMORY_CELLS", 0)
    streamed = contents(write_summary(tables, tmp_path / "streamed.xlsx", "段落"))
    assert in_memory == streamed
    texts = [v for values, _ in in_memory.values() for row in values for v in row if isinstance(v, str)]
    for text in TEXTS:
        assert any(text.strip() in v for v in texts), text
    # the only formulas are the totals row's SUBTOTALs; every text from a return is a string cell
    book = openpyxl.load_workbook(tmp_path / "memory.xlsx")
    formulas = [c.value for ws in book.worksheets for row in ws.iter_rows() for c in row if c.data_type == "f"]
    assert formulas and all(str(f).startswith("=SUBTOTAL(") for f in formulas)


def test_cycle_collection_is_paused_and_restored() -> None:
    assert gc.isenabled()
    with cycle_collection_paused():
        assert not gc.isenabled()
        with cycle_collection_paused():  # nested: the outer pause stays
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cycle_collection_paused():
        raise RuntimeError
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collection_paused():
            pass
        assert not gc.isenabled()  # left off, as the caller had it
    finally:
        gc.enable()
