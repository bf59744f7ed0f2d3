"""Indicator checks on real returns: the seed samples filled into the templates, then the mistake.

Every return is a template filled with openpyxl as a clerk would (``fill_workbook``), read back
with ``read_return`` and checked with ``check_return``. The clean samples are also recalculated
by LibreOffice in one call, so that values as a spreadsheet program saves them pass too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.checks import indicators
from xlperf.checks.check_return import check_file
from xlperf.cli.demo import sample_values
from xlperf.excel.fill import fill_workbook
from xlperf.excel.regen import TEMPLATES_DIR
from xlperf.excel.template import TemplateOptions, write_template
from xlperf.form.registry import builtin_layout
from xlperf.model.indicators import indicator_tables, table_rows
from xlperf.model.targets import normalise_op, parse_value
from xlperf.read import read_return

FORMS = ("target_declaration", "target_table", "self_evaluation", "evaluation_report")
OURS = {check.code for check in indicators.CHECKS}
Flat = tuple[str, str, str, str]

# Seed 003 as the unit typed it: 一级 written once per block (merged in the original), targets
# typed by hand with their operators and units inside the value.
SEED_003_P1 = [
    ("投入与管理", "投入管理", "预算执行率", "=90%"),
    (None, "财务管理", "资金使用规范性", "规范"),
    (None, "实施管理", "预算资金到位率", "=100%"),
    ("产出目标", "数量", "专精特新数量", "=2500家"),
    (None, "质量", "项目质量可控性", "可控"),
    (None, "时效", "实施时间", "=180天"),
    ("效果目标", "经济效益", "销售增长", ">=10%"),
    ("影响力目标", "信息共享", "市区共享", "市区共享企业数据库"),
]
SEED_003_P2 = [
    ("投入与管理", "投入管理", "预算编制合理性", "合理"),
    (None, None, "预算执行率", "=90%"),
    (None, None, "预算资金到位率", "=100%"),
    (None, "财务管理", "财务管理制度健全性", "健全"),
    (None, None, "财务监控有效性", "有效"),
    (None, None, "资金使用规范性", "规范"),
    (None, "实施管理", "项目管理制度健全性", "健全"),
    (None, None, "资格审核（含复审）规范性", "规范"),
    (None, None, "信息公开实现率", "规范"),
    ("产出目标", "数量", "市级中小企业服务机构数量", "<=450家"),
    (None, "质量", "资金使用率", "=100%"),
    (None, "时效", "项目完成及时率", "=100%"),
    ("效果目标", "经济效益", "中小企业获得专业化服务支出成本", "降低"),
    (None, "满意度", "样本中小企业服务满意度", ">=80%"),
    ("影响力目标", "部门协助", "部门配合度", "=100%"),
]


def cell(form: str, key: str) -> tuple[str, str]:
    sheet, row, col = builtin_layout(form).address(key)
    return sheet, xl_rowcol_to_cell(row, col)


def at(code: str, severity: str, form: str, key: str) -> Flat:
    return (code, severity, *cell(form, key))


def table_values(prefix: str, rows: Sequence[tuple[Any, ...]], total: int) -> dict[str, Any]:
    """Rows of an indicator table (一级, 二级, name, target); every other row and column blanked."""
    values: dict[str, Any] = {}
    for n in range(1, total + 1):
        for column in ("level1", "level2", "name", "op", "target", "unit"):
            values[f"{prefix}_{n}_{column}"] = None
    for n, (level1, level2, name, target) in enumerate(rows, start=1):
        values |= {f"{prefix}_{n}_level1": level1, f"{prefix}_{n}_level2": level2,
                   f"{prefix}_{n}_name": name, f"{prefix}_{n}_target": target}
    return values


def clear_row(prefix: str, n: int, columns: tuple[str, ...]) -> dict[str, Any]:
    return {f"{prefix}_{n}_{column}": None for column in columns}


class Returns:
    """Fills returns into one folder and checks them, findings flattened to our codes."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def fill(self, form: str, changes: dict[str, Any] | None = None,
             template: Path | None = None) -> Path:
        self.count += 1
        values = sample_values(form) | (changes or {})
        return fill_workbook(template or TEMPLATES_DIR / f"{form}.xlsx", values,
                             self.folder / f"{form}_{self.count}.xlsx")

    def check(self, form: str, changes: dict[str, Any] | None = None,
              template: Path | None = None) -> set[Flat]:
        return flat(self.fill(form, changes, template))


def flat(path: Path) -> set[Flat]:
    checked = check_file(path)
    assert not [f for f in checked.findings if f.code == "CHECK_FAILED" and
                "indicators" in f.message], checked.findings
    return {(f.code, f.severity, f.sheet, f.cell) for f in checked.findings if f.code in OURS}


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> Returns:
    return Returns(tmp_path_factory.mktemp("indicators"))


# --------------------------------------------------------------------------- clean returns


@pytest.fixture(scope="module")
def recalculated(returns: Returns, lo_recalc: Callable[..., dict[Path, Path]],
                 tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    filled = {form: returns.fill(form) for form in FORMS}
    out = lo_recalc(list(filled.values()), tmp_path_factory.mktemp("recalculated"))
    return {form: out[path] for form, path in filled.items()}


@pytest.mark.parametrize("form", FORMS)
def test_clean_samples_raise_none_of_our_codes(returns: Returns, form: str) -> None:
    assert returns.check(form) == set()


@pytest.mark.parametrize("form", FORMS)
def test_clean_samples_recalculated_by_libreoffice_raise_none(recalculated: dict[str, Path],
                                                               form: str) -> None:
    assert flat(recalculated[form]) == set()


def test_every_indicator_table_is_found() -> None:
    found = {form: [t.section.key for t in indicators.indicator_tables(builtin_layout(form))]
             for form in FORMS}
    assert found == {"target_declaration": ["ind"], "target_table": ["p1_ind", "p2_ind", "p3_ind"],
                     "self_evaluation": ["ind"], "evaluation_report": []}


# --------------------------------------------------------------------------- seeds


def test_seed_000_satisfaction_under_output_and_blank_level2(returns: Returns) -> None:
    form = "target_declaration"
    changes = {"ind_3_level1": "产出指标", "ind_3_name": "满意度",
               **{f"ind_{n}_level2": None for n in (1, 2, 3)}}
    assert returns.check(form, changes) == {
        at("WRONG_LEVEL1", "warning", form, "ind_3_level1"),
        *(at("LEVEL2_BLANK", "warning", form, f"ind_{n}_level2") for n in (1, 2, 3)),
    }


def test_seed_000_as_typed_merged_level1_no_operators(returns: Returns) -> None:
    """Seed 000 verbatim: 产出指标 written once for three rows, no 二级, no operators, 95% typed."""
    form = "target_declaration"
    rows = [("产出指标", None, "公益服务活动", 12), (None, None, "服务企业", 120),
            (None, None, "满意度", "95%")]
    changes = table_values("ind", rows, 10) | {"ind_1_unit": "次", "ind_2_unit": "家"}
    assert returns.check(form, changes) == {
        at("WRONG_LEVEL1", "warning", form, "ind_3_level1"),
        *(at("LEVEL2_BLANK", "warning", form, f"ind_{n}_level2") for n in (1, 2, 3)),
        *(at("TARGET_NO_OPERATOR", "warning", form, f"ind_{n}_op") for n in (1, 2, 3)),
    }


def test_seed_003_rate_with_qualitative_target(returns: Returns) -> None:
    form = "target_table"
    changes = table_values("p1_ind", SEED_003_P1, 16) | table_values("p2_ind", SEED_003_P2, 16)
    assert returns.check(form, changes) == {
        at("RATE_WITH_QUALITATIVE_TARGET", "warning", form, "p2_ind_9_target"),
    }


# --------------------------------------------------------------------------- one test per code


def test_target_missing(returns: Returns) -> None:
    form = "target_declaration"
    assert returns.check(form, {"ind_2_target": None}) == {
        at("TARGET_MISSING", "error", form, "ind_2_target")}


def test_name_missing(returns: Returns) -> None:
    form = "target_table"
    assert returns.check(form, {"p2_ind_4_name": None}) == {
        at("NAME_MISSING", "warning", form, "p2_ind_4_name")}


def test_target_no_operator(returns: Returns) -> None:
    form = "target_table"
    changes = {
        "p1_ind_4_op": None,                                  # 2500 家 with no sign: flagged
        "p1_ind_6_op": "=",                                   # half-width sign: accepted
        "p1_ind_7_op": None, "p1_ind_7_target": "≥10%",       # sign typed in the value: accepted
        "p1_ind_7_unit": None,
    }
    assert returns.check(form, changes) == {
        at("TARGET_NO_OPERATOR", "warning", form, "p1_ind_4_op")}


def test_target_no_unit(returns: Returns) -> None:
    form = "self_evaluation"
    changes = {"ind_1_unit": None,                            # 1 with no unit: flagged
               "ind_17_unit": None, "ind_17_target": "≥95%",   # % written in the value: accepted
               "ind_17_op": None}
    assert returns.check(form, changes) == {at("TARGET_NO_UNIT", "warning", form, "ind_1_unit")}


def test_rate_with_qualitative_target(returns: Returns) -> None:
    form = "target_declaration"
    changes = {"ind_2_name": "服务企业覆盖率", "ind_2_op": None, "ind_2_target": "有效",
               "ind_2_unit": None}
    assert returns.check(form, changes) == {
        at("RATE_WITH_QUALITATIVE_TARGET", "warning", form, "ind_2_target")}


def test_deviation_with_reason_passes(returns: Returns) -> None:
    values = sample_values("self_evaluation")
    assert values["ind_2_actual"] < values["ind_2_target"] and values["ind_2_reason"]
    assert returns.check("self_evaluation") == set()


def test_deviation_no_reason(returns: Returns) -> None:
    form = "self_evaluation"
    changes = {
        "ind_2_reason": None,                                  # ＝1年, actual 0: missed
        "ind_3_actual": "无",                                  # seed 004: 按照工作要求完成 → 无
        "ind_9_name": "带动企业增收", "ind_9_op": ">=", "ind_9_target": 100, "ind_9_unit": "万元",
        "ind_9_actual": "150万元",                             # beaten by 50%
        "ind_10_name": "带动就业", "ind_10_op": "≥", "ind_10_target": 100, "ind_10_unit": "人",
        "ind_10_actual": 125,                                  # beaten by 25%: no reason needed
        "ind_8_name": "投诉次数", "ind_8_op": "<=", "ind_8_target": 5, "ind_8_unit": "次",
        "ind_8_actual": "无",                                  # none against ≤5: met
        "ind_12_name": "组织培训", "ind_12_op": "≥", "ind_12_target": "10场",
        "ind_12_actual": "未开展（机构改革）",                    # not done: missed
    }
    assert returns.check(form, changes) == {
        at("DEVIATION_NO_REASON", "warning", form, f"ind_{n}_reason") for n in (2, 3, 9, 12)}


def test_actual_missing(returns: Returns) -> None:
    form = "self_evaluation"
    assert returns.check(form, {"ind_5_actual": None}) == {
        at("ACTUAL_MISSING", "warning", form, "ind_5_actual")}


def test_wrong_level1_in_a_fixed_group(returns: Returns) -> None:
    """On the self-evaluation the 一级 is printed: a 满意度 indicator typed into a 质量 row."""
    form = "self_evaluation"
    changes = {"ind_4_name": "服务对象满意度", "ind_4_op": "≥", "ind_4_target": 0.9,
               "ind_4_unit": "%", "ind_4_actual": 0.92}
    assert returns.check(form, changes) == {at("WRONG_LEVEL1", "warning", form, "ind_4_name")}


def test_level1_blank(returns: Returns) -> None:
    form = "target_declaration"
    assert returns.check(form, {"ind_1_level1": None}) == {
        at("LEVEL1_BLANK", "warning", form, "ind_1_level1")}


def test_level2_mismatch(returns: Returns) -> None:
    form = "target_table"
    changes = {"p1_ind_4_level2": "经济效益",    # under 产出目标: flagged
               "p1_ind_5_level2": "质量指标"}    # suffix typed: the same 二级
    assert returns.check(form, changes) == {
        at("LEVEL2_MISMATCH", "warning", form, "p1_ind_4_level2")}


def test_output_empty(returns: Returns, tmp_path: Path) -> None:
    form = "target_table"
    # The bureau's template prefills 年度 and 单位 on every project sheet: 项目3 stays unused.
    template = write_template(builtin_layout(form), tmp_path / "prefilled.xlsx",
                              TemplateOptions(year=2020, unit="上海市促进中小企业发展协调办公室"))
    no_output = {**clear_row("p2_ind", 3, ("level1", "level2", "name", "op", "target", "unit")),
                 **clear_row("p2_ind", 4, ("level1", "level2", "name", "op", "target", "unit"))}
    values = {k: v for k, v in sample_values(form).items()
              if not k.endswith(("_year", "_unit_name"))}
    path = fill_workbook(template, values | no_output, tmp_path / "no_output.xlsx")
    assert flat(path) == {at("OUTPUT_EMPTY", "error", form, "p2_ind_1_level1")}


def test_output_empty_on_a_fixed_group(returns: Returns) -> None:
    form = "self_evaluation"
    blank = {k: None for k in sample_values(form)
             if k.startswith("ind_") and int(k.split("_")[1]) <= 8}
    assert returns.check(form, blank) == {at("OUTPUT_EMPTY", "error", form, "ind_1_name")}


def test_a_row_with_only_an_actual_is_in_use_but_no_output_indicator(returns: Returns) -> None:
    # One definition of "in use" (name, target or actual filled) for the checks and the roll-up:
    # the row is read, but an actual alone names no output indicator.
    form = "self_evaluation"
    blank = {k: None for k in sample_values(form)
             if k.startswith("ind_") and int(k.split("_")[1]) <= 8}
    path = returns.fill(form, blank | {"ind_1_actual": 12})
    assert flat(path) == {at("OUTPUT_EMPTY", "error", form, "ind_1_name")}
    layout = builtin_layout(form)
    table = indicator_tables(layout)[0]
    rows = table_rows(table, read_return(path).values)
    assert [(r.n, r.name, r.target, r.actual_text) for r in rows if r.n <= 8] == [(1, "", None, "12")]


def test_odd_values_never_break_a_check(returns: Returns) -> None:
    form = "target_declaration"
    changes = {"ind_1_target": dt.datetime(2022, 1, 1), "ind_2_op": 5, "ind_2_name": 123,
               "ind_3_level1": 7, "ind_3_target": "#N/A", "ind_4_target": "=SUM(A1)"}
    found = returns.check(form, changes)
    assert ("NAME_MISSING", "warning", *cell(form, "ind_4_name")) in found
    assert ("TARGET_NO_OPERATOR", "warning", *cell(form, "ind_2_op")) in found


# --------------------------------------------------------------------------- the value parser


@pytest.mark.parametrize(("value", "op", "number", "unit"), [
    ("12次", None, 12, "次"), ("≥95%", "≥", 0.95, "%"), ("=2500家", "＝", 2500, "家"),
    ("<=450家", "≤", 450, "家"), (">=10%", "≥", 0.10, "%"), ("=180天", "＝", 180, "天"),
    ("＞ 3 场", "＞", 3, "场"), ("不少于120家", "≥", 120, "家"), ("95%以上", "≥", 0.95, "%"),
    ("１，２００人次", None, 1200, "人次"), (0.95, None, 0.95, ""), (12, None, 12, ""),
])
def test_parse_quantitative(value: Any, op: str | None, number: float, unit: str) -> None:
    parsed = parse_value(value)
    assert parsed is not None
    assert (parsed.op, parsed.unit) == (op, unit)
    assert parsed.number == pytest.approx(number)


@pytest.mark.parametrize("value", ["规范", "可控", "合理", "健全", "有效", "降低", "市区共享企业数据库",
                                   "2019年全年", "按照工作要求完成", "5.09% (按项目预算金额5.5万元计算)"])
def test_parse_qualitative(value: str) -> None:
    parsed = parse_value(value)
    assert parsed is not None and not parsed.quantitative and parsed.text == value


def test_parse_actual_with_a_remark() -> None:
    parsed = parse_value("5.09% (按项目预算金额5.5万元计算)", lenient=True)
    assert parsed is not None and parsed.number == pytest.approx(0.0509)
    assert parse_value("  ") is None and parse_value(None) is None


@pytest.mark.parametrize(("text", "op"), [(">=", "≥"), ("≥", "≥"), ("＞", "＞"), (">", "＞"),
                                          ("=", "＝"), ("＝", "＝"), ("<=", "≤"), ("<", "＜"),
                                          ("约", None), (None, None)])
def test_normalise_op(text: str | None, op: str | None) -> None:
    assert normalise_op(text) == op


@given(st.one_of(st.text(max_size=30), st.floats(allow_nan=True), st.integers(), st.none(),
                 st.dates(), st.from_regex(r"[≥<>=＝]{0,2}[0-9,.]{1,12}[%万元次]{0,3}.{0,3}")))
def test_parse_never_raises(value: Any) -> None:
    parse_value(value)
    parse_value(value, lenient=True)
