"""Every built-in form whose ``prefill_from`` names an indicator table whose rows the unit sets
(no groups: the monitoring form, and any later form of the same kind) is prefilled from an
accepted declaration row by row, in declared order, and ``check --against`` finds a changed
target on exactly its cell. Found from the specs, so a form added later is covered as it lands."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import sample
from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.checks.check_return import check_file
from xlperf.cycle import DeclarationIndex, prefilled_templates
from xlperf.excel.fill import fill_workbook
from xlperf.excel.regen import TEMPLATES_DIR
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.model.indicators import indicator_tables
from xlperf.read import read_return

ROW_FORMS = sorted(f for f, spec in builtin_forms().items() if spec.prefill_from and spec.prefill_from.table
                   and not next(t for t in indicator_tables(builtin_layout(f))
                                if t.section.key == spec.prefill_from.table).section.groups)
DECLARED = {  # seed 000's 满意度 under 产出指标 with a blank 二级, and two more indicators
    "ind_3_level1": "产出指标", "ind_3_level2": None,
    "ind_4_level1": "产出指标", "ind_4_level2": "质量指标", "ind_4_name": "平台巡检覆盖", "ind_4_op": "≥",
    "ind_4_target": 30, "ind_4_unit": "座次",
    "ind_5_level1": "效益指标", "ind_5_level2": "社会效益指标", "ind_5_name": "服务规范", "ind_5_target": "规范",
}
NAMES = ["公益服务活动", "服务企业", "社会公众或服务对象满意度", "平台巡检覆盖", "服务规范"]


def test_the_forms_with_unit_set_rows_are_found() -> None:
    assert "performance_monitoring" in ROW_FORMS


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> DeclarationIndex:
    folder = tmp_path_factory.mktemp("申报表")
    fill_workbook(TEMPLATES_DIR / "target_declaration.xlsx", {**sample("target_declaration"), **DECLARED},
                  folder / "申报表.xlsx")
    built = DeclarationIndex.build([folder], key=None)
    assert len(built.declarations) == 1
    return built


@pytest.mark.parametrize("form", ROW_FORMS)
def test_rows_in_declared_order_and_a_changed_target_found(form: str, index: DeclarationIndex, tmp_path: Path) -> None:
    layout = builtin_layout(form)
    spec = builtin_forms()[form]
    assert spec.prefill_from is not None
    table = next(t for t in indicator_tables(layout) if t.section.key == spec.prefill_from.table)
    issued = prefilled_templates(layout, index, tmp_path / "模板")
    template, = issued.files
    values = read_return(template).values
    assert [values[table.key(n, "name") or ""] for n in range(1, 6)] == NAMES
    assert values[table.key(6, "name") or ""] in (None, "")
    levels = [(values.get(table.key(n, "level1") or ""), values.get(table.key(n, "level2") or "")) for n in (1, 3)]
    assert levels == [("产出指标", "数量指标"), ("满意度指标", "服务对象满意度指标")]

    target = table.key(2, "target")
    assert target is not None
    kept = fill_workbook(template, {}, tmp_path / "填报" / "kept.xlsx")
    changed = fill_workbook(template, {target: 100 if isinstance(values[target], int | float) else "≥100家"},
                            tmp_path / "填报" / "changed.xlsx")
    sheet, row, col = layout.address(target)
    found = {name: [(f.sheet, f.cell) for f in check_file(path, key=None, against=index).findings
                    if f.code == "TARGET_CHANGED"] for name, path in (("kept", kept), ("changed", changed))}
    assert found == {"kept": [], "changed": [(sheet, xl_rowcol_to_cell(row, col))]}
