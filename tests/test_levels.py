"""One table of indicator levels (issue 22): the templates' 一级/二级 dropdowns and the checks
read :mod:`xlperf.form.levels`, so that a dropdown offers what the checks accept."""

from __future__ import annotations

from pathlib import Path

import openpyxl
from openpyxl.utils.cell import range_boundaries

from xlperf.excel.template import write_template
from xlperf.form.levels import FRAMEWORKS
from xlperf.form.metasheet import NAME_PREFIX
from xlperf.form.registry import builtin_layout
from xlperf.model.indicators import VOCABULARIES, indicator_tables

COST_LEVEL2 = ["经济成本指标", "社会成本指标", "生态环境成本指标"]


def _dropdown(path: Path, key: str) -> list[str]:
    """The list a cell's data validation offers, as written in the workbook."""
    wb = openpyxl.load_workbook(path)
    (sheet, ref), = wb.defined_names[NAME_PREFIX + key].destinations
    ws = wb[sheet]
    cell = ws[ref.replace("$", "")]
    for dv in ws.data_validations.dataValidation:
        for rng in dv.sqref.ranges:
            c1, r1, c2, r2 = range_boundaries(rng.coord)
            if c1 <= cell.column <= c2 and r1 <= cell.row <= r2 and dv.type == "list":
                return dv.formula1.strip('"').split(",")
    raise AssertionError(f"{key}: no list validation")


def test_the_declaration_offers_cost_indicators_of_the_2021_framework(tmp_path: Path) -> None:
    path = write_template(builtin_layout("target_declaration"), tmp_path / "target_declaration.xlsx")
    assert _dropdown(path, "ind_1_level1") == ["产出指标", "效益指标", "满意度指标", "成本指标"]
    assert _dropdown(path, "ind_10_level2") == [
        "数量指标", "质量指标", "时效指标", "成本指标", "经济效益指标", "社会效益指标", "生态效益指标",
        "可持续影响指标", "服务对象满意度指标", *COST_LEVEL2]


def test_dropdowns_and_checks_read_the_same_table() -> None:
    for form, framework in (("target_declaration", "national"), ("target_table", "shanghai")):
        table = indicator_tables(builtin_layout(form))[0]
        assert table.columns["level1"].choices == FRAMEWORKS[framework].names(1)
        assert table.columns["level2"].choices == FRAMEWORKS[framework].names(2)
        assert table.vocabulary is VOCABULARIES[list(FRAMEWORKS).index(framework)]
    national = VOCABULARIES[0]
    assert national.level2["成本"] == ("经济成本", "社会成本", "生态环境成本", "成本")
