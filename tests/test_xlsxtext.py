"""Text from returns that looks like xlsxwriter's raw rich-text XML stays text in our workbooks."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from helpers import sample
from python_calamine import CalamineWorkbook

from xlperf.checks.check_return import check_file
from xlperf.excel.fill import fill_workbook
from xlperf.excel.regen import TEMPLATES_DIR
from xlperf.excel.xlsxtext import write_text
from xlperf.report import write_reports
from xlperf.rollup import rollup

RAW = "<r><t>注入</t></r><bad></r>"


def all_text(path: Path) -> list[str]:
    book = CalamineWorkbook.from_path(str(path))
    return [str(v) for name in book.sheet_names for row in book.get_sheet_by_name(name).to_python()
            for v in row]


@pytest.mark.parametrize("constant_memory", [False, True])
def test_write_text_keeps_raw_looking_text(tmp_path: Path, constant_memory: bool) -> None:
    path = tmp_path / "t.xlsx"
    wb = xlsxwriter.Workbook(str(path), {"constant_memory": constant_memory})
    ws = wb.add_worksheet()
    write_text(ws, 0, 0, RAW, wb.add_format({"bold": True}))
    write_text(ws, 1, 0, "<r>")
    write_text(ws, 2, 0, '=HYPERLINK("http://x","y")')
    wb.close()
    cells = openpyxl.load_workbook(path).active
    assert [str(cells[f"A{i}"].value) for i in (1, 2, 3)] == [RAW, "<r>", '=HYPERLINK("http://x","y")']
    assert cells["A1"].font.b and cells["A3"].data_type == "s"


def test_reports_and_rollup_of_such_a_return_open(tmp_path: Path) -> None:
    values = sample("evaluation_report") | {"project_name": RAW, "other_notes": RAW}
    path = fill_workbook(TEMPLATES_DIR / "evaluation_report.xlsx", values, tmp_path / "r.xlsx")
    checked = check_file(path)
    written = write_reports(checked, tmp_path / "reports")
    assert RAW in all_text(written["xlsx"])
    openpyxl.load_workbook(written["xlsx"])  # the annotated workbook is well-formed
    summary = rollup([path], tmp_path / "summary.xlsx", jobs=1).output
    assert RAW in all_text(summary)
    openpyxl.load_workbook(summary)
