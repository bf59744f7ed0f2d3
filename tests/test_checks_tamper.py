"""xlperf.checks.tamper on real returns: the sample filled into the committed template, then
tampered with openpyxl the way a unit might (a number over a formula, a changed label or weight,
a deleted name, a renamed sheet, protection removed).

The clean LibreOffice-recalculated returns (no false FORMULA_ALTERED after LibreOffice re-saves
the formulas) are in tests/test_checks_scores.py, whose fixture already recalculates them; this
module's one LibreOffice call converts a return to .xls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import cell_of as place
from helpers import flat as _flat
from helpers import sample
from openpyxl.workbook.workbook import Workbook
from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.checks import scores, tamper
from xlperf.checks.check_return import check_file
from xlperf.excel.fill import fill_workbook
from xlperf.excel.recalc import recalculate
from xlperf.findings import CheckedReturn
from xlperf.form.formulas import normalise_formula, template_formulas
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.read import read_return

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates_xlsx"
FORMS = sorted(builtin_forms())
MINE = {c.code for c in scores.CHECKS} | {c.code for c in tamper.CHECKS}
TAMPER = {c.code for c in tamper.CHECKS}
SE = "self_evaluation"








def at(code: str, severity: str, key: str, form: str = SE) -> tuple[str, str, str, str]:
    return (code, severity, *place(form, key))


def tampered(tmp_path: Path, edit: Callable[[Workbook], None], form: str = SE, name: str = "return") -> CheckedReturn:
    """The sample filled into the template, then edited with openpyxl and saved."""
    path = fill_workbook(TEMPLATES / f"{form}.xlsx", sample(form), tmp_path / f"{name}.xlsx")
    wb = openpyxl.load_workbook(path)
    edit(wb)
    wb.save(path)
    return check_file(path)


def set_key(wb: Workbook, key: str, value: Any, form: str = SE) -> None:
    sheet, cell = place(form, key)
    wb[sheet][cell] = value


def meta_row(wb: Workbook, name: str) -> int:
    ws = wb["_xlperf"]
    return next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == name)


def test_unedited_openpyxl_return_is_clean(tmp_path: Path) -> None:
    assert flat(tampered(tmp_path, lambda wb: None)) == set()


# -- formulas -------------------------------------------------------------------------------
@pytest.mark.parametrize(("value", "words"), [(3, "3.00"), (None, "清空")])
def test_formula_overwritten(tmp_path: Path, value: Any, words: str) -> None:
    checked = tampered(tmp_path, lambda wb: set_key(wb, "budget_exec_score", value))
    assert flat(checked) == {at("FORMULA_OVERWRITTEN", "error", "budget_exec_score")}
    finding = next(f for f in checked.findings if f.code == "FORMULA_OVERWRITTEN")
    assert words in finding.message and "预算执行率得分" in finding.message


def test_formula_altered(tmp_path: Path) -> None:
    checked = tampered(tmp_path, lambda wb: set_key(wb, "budget_exec_score", "=ROUND(3,2)"))
    assert flat(checked) == {at("FORMULA_ALTERED", "error", "budget_exec_score")}
    finding = next(f for f in checked.findings if f.code == "FORMULA_ALTERED")
    assert finding.found == "=ROUND(3,2)" and (finding.expected or "").startswith("=IF(")


def test_a_reference_moved_is_an_altered_formula(tmp_path: Path) -> None:
    def edit(wb: Workbook) -> None:
        sheet, cell = place(SE, "total_score")
        ws = wb[sheet]
        ws[cell] = str(ws[cell].value).replace("$D$3", "$D$4")

    assert flat(tampered(tmp_path, edit)) == {at("FORMULA_ALTERED", "error", "total_score")}


@pytest.mark.parametrize(("a", "b", "same"), [
    ("=IF(N('自评表'!$G$9)<=0,0,1)", "=IF(N(自评表!G9) <= 0, 0, 1)", True),
    ("=if(n('自评表'!$g$9)<=0,0,1)", "=IF(N(自评表!$G$9)<=0,0,1)", True),
    ("=SUM('评分表'!D3,D4)", "=SUM(D3,D4)", True),  # a qualifier naming the formula's own sheet
    ("=_xlfn.IFS(A1)", "=IFS(A1)", True),
    ('=IF(A1="是",1,0)', '=IF(A1="否",1,0)', False),  # text literals are kept as they are
    ('=IF(A1="a b",1,0)', '=IF(A1="ab",1,0)', False),
    ("=SUM(D3,D4)", "=SUM(D3,D5)", False),
    ("=SUM('自评表'!D3)", "=SUM(D3)", False),  # another sheet's D3
    # Gnumeric's spelling of decimal constants, and other spellings of the same number
    ("=IF(N($J$17)>=0.9,5,0)", "=IF(N($J$17)>=0.899999999999999999978,5,0)", True),
    ("=MAX(0,N(J18)-0.05)/0.01", "=MAX(0,N(J18)-0.0500000000000000000007)/0.0099999999999999999998", True),
    ("=ROUND(A1*100,2)", "=round(a1*1E2, 2.0)", True),
    ("=IF(N($J$17)>=0.9,5,0)", "=IF(N($J$17)>=0.89999,5,0)", False),  # a changed threshold
    ("=IF(N($J$17)>=0.9,5,0)", "=IF(N($J$17)>=0.9000000001,5,0)", False),
    ("=ROUND(A1,2)", "=ROUND(A10,2)", False),  # a row number is not a constant
    ("=LOG10(A1)", "=LOG10.0(A1)", False),
])
def test_normalise_formula(a: str, b: str, same: bool) -> None:
    assert (normalise_formula(a, "评分表") == normalise_formula(b, "评分表")) is same


@pytest.mark.parametrize("form", FORMS)
def test_expected_formulas_are_the_templates_formulas(form: str) -> None:
    """The formulas the check expects are those the committed template holds, cell by cell."""
    layout = builtin_layout(form)
    ret = read_return(TEMPLATES / f"{form}.xlsx")
    expected = template_formulas(layout)
    in_template = {k: v for k, v in ret.formulas.items() if v is not None}
    assert set(expected) == set(in_template)
    for key, text in in_template.items():
        assert expected[key][0] == text, key
        assert normalise_formula(text, layout.cells[key][0]) == expected[key][1], key


# -- fixed numbers and texts ----------------------------------------------------------------
def test_weight_altered(tmp_path: Path) -> None:
    checked = tampered(tmp_path, lambda wb: set_key(wb, "approval_weight", 5))
    assert flat(checked) == {at("WEIGHT_ALTERED", "error", "approval_weight")}
    finding = next(f for f in checked.findings if f.code == "WEIGHT_ALTERED")
    assert (finding.expected, finding.found) == ("3", "5")


def test_unnamed_group_weight_altered(tmp_path: Path) -> None:
    """evaluation_report prints 二级 weights in cells with no field key: still the spec's numbers."""
    form = "evaluation_report"
    sheet, placed = next((s.name, p) for s in builtin_layout(form).sheets for p in s.cells
                         if p.style == "fixed" and p.number is not None and p.key is None)
    cell = xl_rowcol_to_cell(placed.row, placed.col)
    checked = tampered(tmp_path, lambda wb: wb[sheet].__setitem__(cell, placed.number + 1), form=form)
    assert flat(checked) == {("WEIGHT_ALTERED", "error", sheet, cell)}


def label_cell(text: str) -> tuple[str, str]:
    sheet, placed = next((s.name, p) for s in builtin_layout(SE).sheets for p in s.cells if p.text == text)
    return sheet, xl_rowcol_to_cell(placed.row, placed.col)


@pytest.mark.parametrize(("text", "new", "flagged"), [
    ("项目名称", "项目简称", True),
    ("项目名称", None, True),
    ("项目资金情况\n（万元）", " 项目资金情况（万元） ", False),  # only line breaks and spaces differ
])
def test_locked_cell_altered(tmp_path: Path, text: str, new: Any, flagged: bool) -> None:
    sheet, cell = label_cell(text)
    checked = tampered(tmp_path, lambda wb: wb[sheet].__setitem__(cell, new))
    assert flat(checked) == ({("LOCKED_CELL_ALTERED", "error", sheet, cell)} if flagged else set())


# -- structure, version, protection, format -------------------------------------------------
def test_defined_name_deleted(tmp_path: Path) -> None:
    checked = tampered(tmp_path, lambda wb: wb.defined_names.pop("xp_project_name"))
    assert flat(checked) == {at("STRUCTURE_CHANGED", "error", "project_name")}


def test_field_map_not_matching_the_layout(tmp_path: Path) -> None:
    def edit(wb: Workbook) -> None:
        ws = wb["_xlperf"]
        row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value == "unit_name")
        ws.cell(row, 4).value = "A40"

    checked = tampered(tmp_path, edit)
    assert flat(checked) == {at("STRUCTURE_CHANGED", "error", "unit_name")}
    assert next(f for f in checked.findings if f.code == "STRUCTURE_CHANGED").field == "unit_name"


def test_sheet_renamed(tmp_path: Path) -> None:
    """A renamed sheet is one finding, not one per formula, weight and label on it."""
    def edit(wb: Workbook) -> None:
        wb["评分表"].title = "评分"

    checked = tampered(tmp_path, edit)
    found = flat(checked)
    assert ("STRUCTURE_CHANGED", "error", "评分表", "") in found
    assert {code for code, *_ in found} == {"STRUCTURE_CHANGED"}
    assert not [f for f in checked.findings if f.code == "CHECK_FAILED"]


def test_form_version_mismatch(tmp_path: Path) -> None:
    def edit(wb: Workbook) -> None:
        wb["_xlperf"].cell(meta_row(wb, "form_version"), 2).value = "0.9"

    checked = tampered(tmp_path, edit)
    assert flat(checked) == {("FORM_VERSION_MISMATCH", "error", "自评表", "A1")}
    finding = next(f for f in checked.findings if f.code == "FORM_VERSION_MISMATCH")
    assert (finding.expected, finding.found) == ("1.0", "0.9") and "最新模板" in finding.message


def test_protection_removed(tmp_path: Path) -> None:
    def edit(wb: Workbook) -> None:
        wb["评分表"].protection.sheet = False

    assert flat(tampered(tmp_path, edit)) == {("PROTECTION_REMOVED", "warning", "评分表", "")}


@pytest.fixture(scope="module")
def xls_return(tmp_path_factory: pytest.TempPathFactory,
               lo_recalc: Callable[[Sequence[Path], Path], dict[Path, Path]]) -> Path:
    """The sample saved as .xls by LibreOffice (``lo_recalc`` only to skip without soffice)."""
    root = tmp_path_factory.mktemp("tamper_xls")
    source = fill_workbook(TEMPLATES / f"{SE}.xlsx", sample(SE), root / f"{SE}.xlsx")
    return recalculate([source], root / "xls", fmt="xls")[source]


def test_formulas_unverified(xls_return: Path) -> None:
    checked = check_file(xls_return)
    assert flat(checked, MINE) == {
        at("FORMULAS_UNVERIFIED", "warning", "total_score"),
        at("LOW_EXECUTION_HIGH_SCORES", "warning", "exec_rate"),  # the seed's own data
        at("UNMET_TARGETS_HIGH_SCORE", "warning", "completion_rate_score"),
    }
    finding = next(f for f in checked.findings if f.code == "FORMULAS_UNVERIFIED")
    assert ".xls" in finding.message and "96.35" in finding.message


def flat(checked: CheckedReturn, codes: set[str] | None = None) -> set[tuple[str, str, str, str]]:
    return _flat(checked, TAMPER if codes is None else codes)
