"""README's first command: the demo writes templates and recalculated sample returns."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from click.testing import CliRunner

from xlperf.cli import main
from xlperf.layout import builtin_layout
from xlperf.spec import builtin_forms


def test_demo_writes_templates_and_computed_samples(tmp_path: Path, lo_recalc: object) -> None:
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for form_id in builtin_forms():
        assert (tmp_path / "templates" / f"{form_id}.xlsx").is_file()
        assert (tmp_path / "samples" / f"sample_{form_id}.xlsx").is_file()
    assert "LibreOffice" in result.output
    layout = builtin_layout("self_evaluation")
    wb = openpyxl.load_workbook(tmp_path / "samples" / "sample_self_evaluation.xlsx", data_only=True)
    got = {}
    for key in ("total_score", "grade"):
        sheet, row, col = layout.address(key)
        got[key] = wb[sheet].cell(row + 1, col + 1).value
    assert got == {"total_score": 96.35, "grade": "优"}
