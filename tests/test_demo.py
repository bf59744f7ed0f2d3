"""README's first command: the demo writes templates, fictional returns and their reports."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from click.testing import CliRunner

from xlperf.cli import main
from xlperf.demo import DEMO_RETURNS
from xlperf.layout import builtin_layout
from xlperf.spec import builtin_forms


def test_demo_writes_templates_returns_and_reports(tmp_path: Path, lo_recalc: object) -> None:
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for form_id in builtin_forms():
        assert (tmp_path / "templates" / f"{form_id}.xlsx").is_file()
    assert "LibreOffice" in result.output
    for demo in DEMO_RETURNS:
        assert (tmp_path / "returns" / demo.file).is_file()
        stem = Path(demo.file).stem
        assert (tmp_path / "reports" / f"{stem}.html").is_file()
        assert json.loads((tmp_path / "reports" / f"{stem}.json").read_text(encoding="utf-8"))["form"] == demo.form
    # A clean return was saved with computed results, as a unit's Excel would.
    layout = builtin_layout("evaluation_report")
    wb = openpyxl.load_workbook(tmp_path / "returns" / "评价报告_湘潭县科工局.xlsx", data_only=True)
    sheet, row, col = layout.address("total_score")
    assert wb[sheet].cell(row + 1, col + 1).value == 100
    # The seed 004 mistake (差 typed over 96.35) is caught and printed.
    xishan = json.loads((tmp_path / "reports" / "自评表_西山县中小企业局.json").read_text(encoding="utf-8"))
    assert "GRADE_MISMATCH" in {f["code"] for f in xishan["findings"]}
    assert "GRADE_MISMATCH" in result.output
