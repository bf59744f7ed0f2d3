"""xlperf.checks.scores (and the clean-return side of tamper) on real returns.

One module fixture fills the samples and a few mistakes into the committed templates with
openpyxl and recalculates them all with LibreOffice in one call, so each case exists twice: as a
unit's Excel would save it (cached results present) and as a tool that does not calculate would
(cached results absent). Findings are flattened to ``(code, severity, sheet, cell)``.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import cell_of as place
from helpers import flat as _flat
from helpers import sample

from xlperf.checks import check_return as checker
from xlperf.checks import scores, tamper
from xlperf.checks.check_return import check_file, check_return
from xlperf.excel.fill import fill_workbook
from xlperf.excel.template import write_template
from xlperf.findings import CheckedReturn, Finding
from xlperf.form.placing import layout_form
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.specload import load_spec
from xlperf.read import read_return

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates_xlsx"
FORMS = sorted(builtin_forms())
SCORE_CODES = {c.code for c in scores.CHECKS}
MINE = SCORE_CODES | {c.code for c in tamper.CHECKS}
SEED_WARNINGS = {"LOW_EXECUTION_HIGH_SCORES", "UNMET_TARGETS_HIGH_SCORE"}
"""What seed 004's own data rightly raise (11.70% executed, a target missed, high scores)."""

# The mistakes, each filled over the self_evaluation sample; every one is also recalculated.
CASES: dict[str, dict[str, Any]] = {
    "grade_cha": {"grade": "差"},  # seed 004: 96.35 graded 差, typed over the formula
    "exec_typed": {"budget_exec_score": 3},  # a number typed over a score formula
    "total_right": {"total_score": 96.35, "grade": "优"},  # correct values typed over formulas
    "total_wrong": {"total_score": 90},
}








def at(code: str, severity: str, form: str, key: str) -> tuple[str, str, str, str]:
    return (code, severity, *place(form, key))


def only(checked: CheckedReturn, code: str) -> Finding:
    found = [f for f in checked.findings if f.code == code]
    assert len(found) == 1, found
    return found[0]


def errors(checked: CheckedReturn) -> set[str]:
    return {f.code for f in checked.errors if f.code in MINE}


@dataclass(frozen=True)
class Files:
    filled: dict[str, Path]
    recalc: dict[str, Path]


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory,
          lo_recalc: Callable[[Sequence[Path], Path], dict[Path, Path]]) -> Files:
    root = tmp_path_factory.mktemp("scores")
    filled = {form: fill_workbook(TEMPLATES / f"{form}.xlsx", sample(form), root / "filled" / f"{form}.xlsx")
              for form in FORMS}
    for name, change in CASES.items():
        values = {**sample("self_evaluation"), **change}
        filled[name] = fill_workbook(TEMPLATES / "self_evaluation.xlsx", values, root / "filled" / f"{name}.xlsx")
    out = lo_recalc(list(filled.values()), root / "recalc")
    return Files(filled, {name: out[path] for name, path in filled.items()})


def variants(files: Files, name: str) -> list[Path]:
    return [files.filled[name], files.recalc[name]]


# -- clean returns ----------------------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_recalculated_returns_raise_nothing_of_ours(files: Files, form: str) -> None:
    """As a unit's Excel saves them: no false FORMULA_ALTERED (LibreOffice re-quotes sheet
    names), no CACHE_MISSING, and only the seed's own warnings."""
    checked = check_file(files.recalc[form])
    expected = SEED_WARNINGS if form == "self_evaluation" else set()
    assert {f.code for f in checked.findings if f.code in MINE} == expected
    assert not [f for f in checked.findings if f.code == "CHECK_FAILED"]


@pytest.mark.parametrize("form", FORMS)
def test_openpyxl_filled_returns_warn_once_and_score_right(files: Files, form: str) -> None:
    checked = check_file(files.filled[form])
    assert errors(checked) == set()
    has_formulas = bool(builtin_layout(form).calcs)
    cache = [f for f in checked.findings if f.code == "CACHE_MISSING"]
    assert len(cache) == (1 if has_formulas else 0)
    if form == "self_evaluation":
        assert flat(checked, {"CACHE_MISSING"}) == {at("CACHE_MISSING", "warning", form, "total_score")}
        assert "96.35" in cache[0].message and "优" in cache[0].message
        assert checked.total_score == Decimal("96.35") and checked.grade == "优"


# -- the file's scores against the recomputed ones ------------------------------------------
@pytest.mark.parametrize("which", ["filled", "recalc"])
def test_seed_004_grade_typed_over_formula(files: Files, which: str) -> None:
    checked = check_file(getattr(files, which)["grade_cha"])
    grade = only(checked, "GRADE_MISMATCH")
    assert (grade.severity, grade.sheet, grade.cell) == ("error", *place("self_evaluation", "grade"))
    assert (grade.expected, grade.found) == ("优", "差")
    assert "96.35" in grade.message
    assert at("FORMULA_OVERWRITTEN", "error", "self_evaluation", "grade") in flat(checked)
    assert errors(checked) == {"GRADE_MISMATCH", "FORMULA_OVERWRITTEN"}


def test_score_typed_over_formula_recalculated(files: Files) -> None:
    form = "self_evaluation"
    checked = check_file(files.recalc["exec_typed"])
    found = flat(checked)
    assert at("FORMULA_OVERWRITTEN", "error", form, "budget_exec_score") in found
    assert at("SCORE_MISMATCH", "error", form, "budget_exec_score") in found
    # what the typed 3 did downstream is wrong on the printed form too
    assert at("SCORE_MISMATCH", "error", form, "input_score") in found
    assert at("TOTAL_MISMATCH", "error", form, "total_score") in found
    assert "GRADE_MISMATCH" not in errors(checked)  # 99.00 and 96.35 are both 优
    mismatch = next(f for f in checked.findings if f.code == "SCORE_MISMATCH" and f.field == "budget_exec_score")
    assert (mismatch.expected, mismatch.found) == ("0.35", "3")
    assert "3.00" in mismatch.message and "4.68" in mismatch.message and "40.00" in mismatch.message
    assert "恢复模板公式" in mismatch.message
    total = only(checked, "TOTAL_MISMATCH")
    assert (total.expected, total.found) == ("96.35", "99")
    assert "预算执行率得分" in total.message  # the knock-on error names where it comes from


def test_score_typed_over_formula_not_recalculated(files: Files) -> None:
    checked = check_file(files.filled["exec_typed"])
    form = "self_evaluation"
    assert flat(checked) - {at(c, "warning", form, k) for c, k in
                            [("CACHE_MISSING", "total_score"), ("LOW_EXECUTION_HIGH_SCORES", "exec_rate"),
                             ("UNMET_TARGETS_HIGH_SCORE", "completion_rate_score")]} == {
        at("FORMULA_OVERWRITTEN", "error", form, "budget_exec_score"),
        at("SCORE_MISMATCH", "error", form, "budget_exec_score"),
    }


@pytest.mark.parametrize("which", ["filled", "recalc"])
def test_correct_values_typed_over_formulas_are_only_overwritten(files: Files, which: str) -> None:
    checked = check_file(getattr(files, which)["total_right"])
    assert errors(checked) == {"FORMULA_OVERWRITTEN"}
    assert {f.field for f in checked.findings if f.code == "FORMULA_OVERWRITTEN"} == {"total_score", "grade"}


def test_total_mismatch(files: Files) -> None:
    checked = check_file(files.filled["total_wrong"])
    assert at("TOTAL_MISMATCH", "error", "self_evaluation", "total_score") in flat(checked)
    total = only(checked, "TOTAL_MISMATCH")
    assert (total.expected, total.found) == ("96.35", "90")
    assert "GRADE_MISMATCH" not in errors(checked)  # the grade formula has no cached result


def test_stale_cached_result_under_an_intact_formula(files: Files, tmp_path: Path) -> None:
    """A cached result that disagrees with its intact formula (Excel in manual calculation)."""
    form = "self_evaluation"
    sheet, cell = place(form, "budget_exec_score")
    stale = tmp_path / "stale.xlsx"
    edited = 0
    with zipfile.ZipFile(files.recalc[form]) as src, zipfile.ZipFile(stale, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.startswith("xl/worksheets/"):
                data, n = re.subn(rb'(<c r="' + cell.encode() + rb'"[^>]*>\s*<f[^>]*>[^<]*</f>\s*<v>)[^<]*(</v>)',
                                  rb"\g<1>3\g<2>", data)
                edited += n
            dst.writestr(info, data)
    assert edited == 1  # the 评分表 sheet only
    checked = check_file(stale)
    assert flat(checked, {"SCORE_MISMATCH", "FORMULA_OVERWRITTEN"}) == {
        at("SCORE_MISMATCH", "error", form, "budget_exec_score")}
    assert "重新计算" in only(checked, "SCORE_MISMATCH").message


# -- typed scores -------------------------------------------------------------------------------
def fill(tmp_path: Path, name: str, **changes: Any) -> CheckedReturn:
    values = {**sample("self_evaluation"), **changes}
    return check_file(fill_workbook(TEMPLATES / "self_evaluation.xlsx", values, tmp_path / f"{name}.xlsx"))


@pytest.mark.parametrize(("value", "code"), [(5, "SCORE_OVER_WEIGHT"), (-1, "SCORE_NEGATIVE"),
                                             ("满分", "SCORE_NOT_NUMBER"), ("3", "SCORE_NOT_NUMBER")])
def test_typed_score_out_of_range_or_not_a_number(tmp_path: Path, value: Any, code: str) -> None:
    checked = fill(tmp_path, code, approval_score=value)
    assert flat(checked, SCORE_CODES - SEED_WARNINGS - {"CACHE_MISSING"}) == {
        at(code, "error", "self_evaluation", "approval_score")}
    finding = only(checked, code)
    assert "项目立项规范性" in finding.message and "3" in finding.message


def test_full_marks_and_zero_are_in_range(tmp_path: Path) -> None:
    checked = fill(tmp_path, "edges", approval_score=3, goal_fit_score=0)
    assert errors(checked) == set()


QUAL_SPEC = """\
form: qual_mini
version: "1"
title: 定性评分测试表
sheets:
  - name: 评分
    columns: [10, 30, 10, 10]
    sections:
      - grid:
          - [年度, {field: year, type: year}, 单位, {field: unit_name}]
      - scorecard:
          columns:
            - {role: label, label: 指标}
            - {role: value, label: 达成情况}
            - {role: weight, label: 分值}
            - {role: score, label: 得分}
          blocks:
            - key: effect
              label: 效益
              weight: 100
              groups:
                - label: 效益指标
                  rows:
                    - {key: social, label: 社会效益, weight: 60, rule: qualitative}
                    - {key: other, label: 其他, weight: 40}
"""
PARTLY = "部分达成年度指标并具有一定效果"  # band [36, 48) of 60


@pytest.mark.parametrize(("score", "flagged"), [(50, True), (48, True), (30, True), (36, False), (47.99, False)])
def test_qualitative_score_out_of_its_level_band(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 score: float, flagged: bool) -> None:
    """The built-in forms have no qualitative row yet: an inline spec, made into a real file;
    the checker is pointed at its layout in place of the built-in ones."""
    spec_path = tmp_path / "qual_mini.yaml"
    spec_path.write_text(QUAL_SPEC, encoding="utf-8")
    layout = layout_form(load_spec(spec_path))
    template = write_template(layout, tmp_path / "template.xlsx")
    values = {"year": 2024, "unit_name": "甲单位", "social_value": PARTLY, "social_score": score, "other_score": 40}
    path = fill_workbook(template, values, tmp_path / "return.xlsx")
    types = {f.key: f.type for f in layout.inputs()}
    monkeypatch.setattr(checker, "builtin_layout", lambda form_id: layout)
    checked = check_return(read_return(path, types))
    found = {(f.code, f.severity, f.sheet, f.cell) for f in checked.findings if f.code == "QUAL_SCORE_OUT_OF_BAND"}
    assert found == ({("QUAL_SCORE_OUT_OF_BAND", "error", "评分", "D4")} if flagged else set())
    assert errors(checked) == ({"QUAL_SCORE_OUT_OF_BAND"} if flagged else set())
    if flagged:
        finding = only(checked, "QUAL_SCORE_OUT_OF_BAND")
        assert PARTLY in finding.message and "36–48" in finding.message


# -- scores against the return's own facts ------------------------------------------------
def test_low_execution_with_high_output_scores(files: Files, tmp_path: Path) -> None:
    form = "self_evaluation"
    finding = only(check_file(files.recalc[form]), "LOW_EXECUTION_HIGH_SCORES")
    assert (finding.severity, finding.sheet, finding.cell) == ("warning", *place(form, "exec_rate"))
    assert "11.70%" in finding.message and "29.00" in finding.message
    spent = fill(tmp_path, "spent", released=40, spent_city=38)
    assert "LOW_EXECUTION_HIGH_SCORES" not in {f.code for f in spent.findings}
    modest = fill(tmp_path, "modest", completion_rate_score=6, quality_rate_score=6)  # 产出 26 of 30
    assert "LOW_EXECUTION_HIGH_SCORES" not in {f.code for f in modest.findings}


def test_unmet_targets_with_high_completion_score(tmp_path: Path) -> None:
    form = "self_evaluation"
    seed = fill(tmp_path, "seed", ind_3_actual="无")  # as in seed 004: two targets not met
    finding = only(seed, "UNMET_TARGETS_HIGH_SCORE")
    assert (finding.severity, finding.sheet, finding.cell) == ("warning", *place(form, "completion_rate_score"))
    assert "2 项" in finding.message and "开展中小企业人力资源专项服务" in finding.message
    met = fill(tmp_path, "met", ind_2_actual=1)
    assert "UNMET_TARGETS_HIGH_SCORE" not in {f.code for f in met.findings}
    honest = fill(tmp_path, "honest", completion_rate_score=6)
    assert "UNMET_TARGETS_HIGH_SCORE" not in {f.code for f in honest.findings}


@pytest.mark.parametrize(
    ("op", "target", "actual", "unmet"),
    [("＝", 1, 0, True), ("＝", 1, 1, False), ("≥", 0.95, 0.9, True), ("≥", 0.95, 0.96, False),
     ("＞", 10, 10, True), ("≤", 10, 4.68, False), ("≤", 10, 12, True), ("＜", 5, 5, True),
     (None, "按照工作要求完成", "无", True), (None, "按照工作要求完成", "按照工作要求完成", False),
     (None, "规范", "未完成", True), (None, "规范", None, False), (None, "规范", 0, True),
     ("≤", 3, 0, False), ("≥", "很多", 5, False)],
)
def test_target_unmet(op: Any, target: Any, actual: Any, unmet: bool) -> None:
    assert scores.target_unmet(op, target, actual) is unmet


def test_checks_never_raise_on_odd_values(tmp_path: Path) -> None:
    """Text where numbers belong, dates as text, blanks: findings or nothing, never CHECK_FAILED."""
    checked = fill(tmp_path, "odd", completion_rate_score="七分", spent_city="四点六八", ind_2_actual="2019-12-31",
                   ind_2_target="一年", budget_city=None)
    assert not [f for f in checked.findings if f.code == "CHECK_FAILED"]
    assert at("SCORE_NOT_NUMBER", "error", "self_evaluation", "completion_rate_score") in flat(checked)


def flat(checked: CheckedReturn, codes: set[str] | None = None) -> set[tuple[str, str, str, str]]:
    return _flat(checked, MINE if codes is None else codes)


@pytest.mark.parametrize("actual", ["部分未完成", "尚未开展", "未达标", "没有", "无", "否", "全部完成", "按计划完成", "100%"])
def test_the_indicator_table_and_the_completion_score_agree_on_what_a_miss_is(actual: str) -> None:
    """One definition (xlperf.model.targets.says_not_done): a return is not told by one check
    that an indicator was missed and by the other that it was not."""
    from xlperf.checks import indicators
    from xlperf.model.targets import says_not_done

    missed = actual not in ("全部完成", "按计划完成", "100%")
    assert says_not_done(actual) is missed
    assert scores.target_unmet("", "完成", actual) is missed
    assert indicators._not_done(actual) is missed
