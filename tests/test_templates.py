"""Template structure, read back with openpyxl: protection, names, validations, field map, print."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from openpyxl.utils import get_column_letter

from xlperf.cli import main
from xlperf.excel.regen import TEMPLATES_DIR
from xlperf.excel.template import TemplateError, TemplateOptions, write_template
from xlperf.form.layout import FormLayout
from xlperf.form.metasheet import META_SHEET, NAME_PREFIX, FieldRef, field_rows, meta_rows
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.read import read_return

FORMS = sorted(builtin_forms())
SHARED_FUNCTIONS = {
    "IF", "AND", "OR", "MIN", "MAX", "ROUND", "ROUNDUP", "ROUNDDOWN", "SUM", "N", "COUNT",
    "COUNTA", "ISNUMBER", "IFERROR", "LEN",
}


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("templates")
    return {f: write_template(builtin_layout(f), out / f"{f}.xlsx") for f in FORMS}


def cell_name(row: int, col: int) -> str:
    return f"{get_column_letter(col + 1)}{row + 1}"


def test_the_official_forms_are_built_in() -> None:
    assert FORMS == ["evaluation_report", "performance_monitoring", "project_self_evaluation", "rectification",
                     "self_evaluation",
                     "target_declaration",
                     "target_table"]


@pytest.mark.parametrize("form_id", FORMS)
def test_committed_template_matches_the_spec(form_id: str, generated: dict[str, Path]) -> None:
    committed = TEMPLATES_DIR / f"{form_id}.xlsx"
    with zipfile.ZipFile(committed) as old, zipfile.ZipFile(generated[form_id]) as new:
        assert sorted(old.namelist()) == sorted(new.namelist())
        differ = [n for n in new.namelist() if old.read(n) != new.read(n)]
    assert not differ, f"templates_xlsx/{form_id}.xlsx is stale ({differ}): run python -m xlperf.excel.regen"


@pytest.mark.parametrize("form_id", FORMS)
def test_cells_protection_and_names(form_id: str, generated: dict[str, Path]) -> None:
    layout = builtin_layout(form_id)
    wb = openpyxl.load_workbook(generated[form_id])
    for ws in wb.worksheets:
        assert ws.protection.sheet, f"{ws.title} is not protected"
        assert ws.protection.password, f"{ws.title} has no password"
    names = {n: wb.defined_names[n] for n in wb.defined_names}
    assert set(names) == {NAME_PREFIX + k for k in layout.cells}
    for key, (sheet_name, placed) in layout.cells.items():
        (dest_sheet, ref), = names[NAME_PREFIX + key].destinations
        assert (dest_sheet, ref.replace("$", "")) == (sheet_name, cell_name(placed.row, placed.col))
        cell = wb[sheet_name][cell_name(placed.row, placed.col)]
        if placed.kind == "input":
            assert cell.protection.locked is False, f"{key} input is locked"
            assert cell.fill.fgColor.rgb.endswith("FFF2CC"), f"{key} input is not shaded"
        else:
            assert cell.protection.locked is not False, f"{key} ({placed.kind}) is unlocked"
        if placed.kind == "formula":
            assert isinstance(cell.value, str) and cell.value.startswith("="), key
    # Nothing but input cells is unlocked anywhere.
    inputs = {(s, cell_name(r, c)) for s, p in layout.cells.values() if p.kind == "input"
              for r in range(p.row, p.last_row + 1) for c in range(p.col, p.last_col + 1)}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if cell.protection.locked is False:
                    assert (ws.title, cell.coordinate) in inputs, f"{ws.title}!{cell.coordinate} unlocked"


@pytest.mark.parametrize("form_id", FORMS)
def test_meta_sheet_holds_form_and_field_map(form_id: str, generated: dict[str, Path]) -> None:
    layout = builtin_layout(form_id)
    wb = openpyxl.load_workbook(generated[form_id])
    meta = wb[META_SHEET]
    assert meta.sheet_state == "hidden" and meta.protection.sheet
    rows = list(meta.iter_rows(values_only=True))
    head = {r[0]: r[1] for r in rows[:6]}
    assert head["form_id"] == form_id and head["form_version"] == layout.spec.version
    start = [r[0] for r in rows].index("key")
    table = {r[0]: r[1:5] for r in rows[start + 1 :]}
    assert set(table) == set(layout.cells)
    for key, (sheet_name, placed) in layout.cells.items():
        label, sheet, cell, kind = table[key]
        assert (sheet, cell, kind) == (sheet_name, cell_name(placed.row, placed.col), placed.kind)
        assert label == placed.label and label



def test_meta_sheet_contract_round_trips(tmp_path: Path) -> None:
    """What the writer puts in the hidden sheet is what the reader parses: one contract."""
    layout = builtin_layout("self_evaluation")
    extra = [("signature", "abc"), ("note", "含 <特殊> & 字符\n两行")]
    path = write_template(layout, tmp_path / "t.xlsx", TemplateOptions(year=2025, unit="某某局", meta=extra))
    ret = read_return(path)
    assert ret.meta == dict(meta_rows(layout, 2025, "某某局", extra))
    assert ret.field_map == {key: FieldRef(label, sheet, cell, kind)
                             for key, label, sheet, cell, kind in field_rows(layout)}
    assert (ret.form_id, ret.meta_year, ret.meta_unit) == ("self_evaluation", "2025", "某某局")
    assert ret.names == {NAME_PREFIX + key: (sheet, cell) for key, _, sheet, cell, _ in field_rows(layout)}


def validations_by_cell(wb: openpyxl.Workbook) -> dict[tuple[str, str], object]:
    found = {}
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            for rng in dv.sqref.ranges:
                found[(ws.title, rng.coord)] = dv
    return found


@pytest.mark.parametrize("form_id", FORMS)
def test_every_input_has_a_validation_and_a_hint(form_id: str, generated: dict[str, Path]) -> None:
    layout = builtin_layout(form_id)
    dvs = validations_by_cell(openpyxl.load_workbook(generated[form_id]))
    for key, (sheet_name, placed) in layout.cells.items():
        fld = placed.field
        if fld is None:
            continue
        dv = dvs.get((sheet_name, cell_name(placed.row, placed.col)))
        assert dv is not None, f"{key} has no validation"
        assert dv.promptTitle and dv.prompt, f"{key} has no input message"
        if fld.type == "choice":
            assert dv.type == "list"
            assert dv.formula1.strip('"').split(",") == list(fld.choices)
        elif fld.type == "amount":
            assert dv.type == "custom" and "ROUND(" in dv.formula1 and ">=0" in dv.formula1
        elif fld.type == "percent":
            assert dv.type == "decimal" and float(dv.formula1) == 0
        elif fld.type == "date":
            assert dv.type == "date"
        elif fld.type == "year":
            assert dv.type == "whole" and (dv.formula1, dv.formula2) == ("2000", "2100")
        if key.endswith("_score"):
            assert dv.type == "decimal" and float(dv.formula2) == fld.max and float(dv.formula1) == 0


def test_closed_choices_have_dropdowns() -> None:
    layout = builtin_layout("target_declaration")
    fields = {f.key: f for f in layout.inputs()}
    assert fields["project_attr"].choices == ("延续专项", "新增专项")
    assert fields["ind_1_level1"].choices[:3] == ("产出指标", "效益指标", "满意度指标")
    assert "服务对象满意度指标" in fields["ind_1_level2"].choices
    assert fields["ind_1_op"].choices == ("≥", "＞", "＝", "≤", "＜")
    assert "%" in fields["ind_1_unit"].choices and not fields["ind_1_unit"].strict_choices
    er = {f.key: f for f in builtin_layout("evaluation_report").inputs()}
    assert er["application_value"].choices == ("是", "否")
    assert er["goal_content_part1"].choices == ("是", "否")


@pytest.mark.parametrize("form_id", FORMS)
def test_formulas_use_only_shared_functions(form_id: str, generated: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(generated[form_id])
    texts = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row
             if isinstance(c.value, str) and c.value.startswith("=")]
    for ws in wb.worksheets:
        for cf in ws.conditional_formatting:
            texts += [f for rule in cf.rules for f in rule.formula]
    assert texts or not builtin_layout(form_id).calcs  # a form that computes nothing (the 整改 form) has none
    used = {name for t in texts for name in re.findall(r"([A-Z][A-Z0-9.]*)\(", t)}
    assert used <= SHARED_FUNCTIONS, used - SHARED_FUNCTIONS


@pytest.mark.parametrize("form_id", FORMS)
def test_print_setup(form_id: str, generated: dict[str, Path]) -> None:
    wb = openpyxl.load_workbook(generated[form_id])
    for ws in wb.worksheets:
        if ws.title == META_SHEET:
            continue
        assert int(ws.page_setup.paperSize) == 9
        assert ws.sheet_properties.pageSetUpPr.fitToPage
        pages = next(sh.spec.pages for sh in builtin_layout(form_id).sheets if sh.name == ws.title)
        tall = ws.page_setup.fitToHeight
        assert ws.page_setup.fitToWidth in (1, None)
        assert (tall if tall is not None else 1) == pages if pages else tall == 0  # absent: 1 (OOXML default)
        assert ws.print_title_rows, f"{ws.title} repeats no header rows"
        assert ws.print_area


def test_conditional_formats_flag_inconsistencies(generated: dict[str, Path]) -> None:
    layout = builtin_layout("self_evaluation")
    wb = openpyxl.load_workbook(generated["self_evaluation"])
    by_cell = {}
    for ws in wb.worksheets:
        for cf in ws.conditional_formatting:
            by_cell[(ws.title, str(cf.sqref))] = [f for rule in cf.rules for f in rule.formula]

    def formulas(key: str) -> list[str]:
        sheet, row, col = layout.address(key)
        return by_cell.get((sheet, cell_name(row, col)), [])

    spent, released = (cell_name(*layout.address(k)[1:]) for k in ("spent_total", "released"))
    assert any(f"N(${spent[0]}${spent[1:]})>N(${released[0]}${released[1:]})" in f
               for f in formulas("spent_total"))
    assert any(">3" in f for f in formulas("approval_score"))      # score above its weight
    assert any("LEN(" in f for f in formulas("ind_1_reason"))     # missed target, no reason


def test_blank_template_caches_zero_scores_and_blank_grade(generated: dict[str, Path]) -> None:
    layout = builtin_layout("self_evaluation")
    wb = openpyxl.load_workbook(generated["self_evaluation"], data_only=True)
    for key in ("budget_exec_score", "input_score", "total_score"):
        sheet, row, col = layout.address(key)
        assert wb[sheet][cell_name(row, col)].value == 0
    sheet, row, col = layout.address("grade")
    assert wb[sheet][cell_name(row, col)].value in (None, "")


def test_prefill_year_unit_and_values_locks_them(tmp_path: Path) -> None:
    values = tmp_path / "prefill.json"
    values.write_text(json.dumps({"project_name": "平台运营经费", "budget_city": 40}), encoding="utf-8")
    out = tmp_path / "t.xlsx"
    result = CliRunner().invoke(main, ["template", "self_evaluation", "-o", str(out), "--year", "2024",
                                       "--unit", "某某局", "--values", str(values)])
    assert result.exit_code == 0, result.output
    layout = builtin_layout("self_evaluation")
    wb = openpyxl.load_workbook(out)
    expected = {"year": 2024, "unit_name": "某某局", "project_name": "平台运营经费", "budget_city": 40}
    for key, value in expected.items():
        sheet, row, col = layout.address(key)
        cell = wb[sheet][cell_name(row, col)]
        assert cell.value == value and cell.protection.locked is not False, key
    sheet, row, col = layout.address("budget_other")
    assert wb[sheet][cell_name(row, col)].protection.locked is False
    meta = {r[0]: r[1] for r in wb[META_SHEET].iter_rows(values_only=True, max_row=6)}
    assert (meta["year"], meta["unit"]) == ("2024", "某某局")
    # Cached results reflect the prefilled budget.
    data = openpyxl.load_workbook(out, data_only=True)
    sheet, row, col = layout.address("budget_total")
    assert data[sheet][cell_name(row, col)].value == 40


def test_prefill_of_repeated_project_sheets(tmp_path: Path) -> None:
    layout: FormLayout = builtin_layout("target_table")
    out = write_template(layout, tmp_path / "t.xlsx", TemplateOptions(year=2020, unit="协调办"))
    wb = openpyxl.load_workbook(out)
    for n in (1, 2, 3):
        sheet, row, col = layout.address(f"p{n}_unit_name")
        assert sheet == f"项目{n}" and wb[sheet][cell_name(row, col)].value == "协调办"


@pytest.mark.parametrize(
    ("values", "words"),
    [({"no_such_field": 1}, "no_such_field"), ({"budget_city": "四十"}, "应为数字"),
     ({"project_type": "随便"}, "应为"), ({"start_date": "2019/13/01"}, "日期")],
)
def test_bad_prefill_is_refused(tmp_path: Path, values: dict[str, object], words: str) -> None:
    with pytest.raises(TemplateError, match=words):
        write_template(builtin_layout("self_evaluation"), tmp_path / "t.xlsx", TemplateOptions(values=values))


def test_cli_lists_forms_and_rejects_unknown_form(tmp_path: Path) -> None:
    runner = CliRunner()
    listing = runner.invoke(main, ["forms"])
    assert listing.exit_code == 0
    for form_id in FORMS:
        assert form_id in listing.output
    assert "财政支出项目绩效自评表" in listing.output
    bad = runner.invoke(main, ["template", "no_such_form", "-o", str(tmp_path / "x.xlsx")])
    assert bad.exit_code == 2 and "未知的表单" in bad.output


def test_password_from_environment(tmp_path: Path) -> None:
    out = tmp_path / "t.xlsx"
    result = CliRunner().invoke(main, ["template", "target_declaration", "-o", str(out)],
                                env={"XLPERF_PASSWORD": "s3cret"})
    assert result.exit_code == 0
    # Excel's legacy sheet-protection hash (ECMA-376 Part 4, 14.7.1 "password" of sheetProtection),
    # written out here: for each character i (from 1) its code shifted left by i, its bits
    # above the 15th rotated back to bit 0; XOR of all, then with the length and 0xCE4B.
    def legacy_hash(password: str) -> str:
        value = 0
        for i, ch in enumerate(password, 1):
            shifted = ord(ch) << i
            value ^= (shifted & 0x7FFF) | (shifted >> 15)
        return f"{value ^ len(password) ^ 0xCE4B:04X}"

    assert legacy_hash("s3cret") == "DBFF"  # s,3,c,r,e,t give 0x15B2; 0x15B2 ^ 6 ^ 0xCE4B = 0xDBFF
    sheets = openpyxl.load_workbook(out).worksheets
    assert [(ws.protection.sheet, ws.protection.password) for ws in sheets] == [(True, "DBFF")] * len(sheets)


def test_values_in_percent_show_as_percent(generated: dict[str, Path]) -> None:
    layout = builtin_layout("self_evaluation")
    wb = openpyxl.load_workbook(generated["self_evaluation"])
    sheet, row, col = layout.address("ind_17_target")
    unit = cell_name(*layout.address("ind_17_unit")[1:])
    rules = [rule for cf in wb[sheet].conditional_formatting if str(cf.sqref) == cell_name(row, col)
             for rule in cf.rules]
    percent = [r for r in rules if r.dxf is not None and r.dxf.numFmt is not None]
    assert percent and percent[0].dxf.numFmt.formatCode == "0.00%"
    assert f'${unit[0]}${unit[1:]}="%"' in percent[0].formula[0]
