"""The 一体化 部门预算项目支出绩效自评表 (``project_self_evaluation``) end to end: returns filled with
forms.md's real figures and with the mistakes forms.md names, saved with results computed by
LibreOffice (as a unit's Excel would), checked by ``xlperf check``, and rolled up.

Expected scores are worked out here by hand from the rules (10号文 as forms.md states it), never
by the evaluator under test:

- 预算执行率 = 预算执行数 / 调整后预算数 = 251.89 / 251.89 = 100.00%; its score 10 × 100% = 10.
- a row whose target is met earns its weight: ``＝ 100%`` met by 100% → 60, and 30;
- a row not met earns weight × 完成值 / 指标值: 60 × 95% / 100% = 57.00;
- ≤ rows: weight × 指标值 / 完成值: 20 × 30 / 40 = 15.00;
- a 定性 row earns the score the unit typed; total = 执行率得分 + the rows' scores.

All workbooks are recalculated by one soffice call (module fixture); the roll-up runs once.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import cell_of, sample
from ledger_support import LedgerDb, write_roster

from xlperf.checks.check_return import check_file
from xlperf.cli import main
from xlperf.excel.fill import fill_workbook
from xlperf.findings import CheckedReturn
from xlperf.form.registry import builtin_layout
from xlperf.rollup import rollup

FORM = "project_self_evaluation"
TEMPLATE = Path(__file__).resolve().parent.parent / "templates_xlsx" / f"{FORM}.xlsx"
SHEET = "项目自评表"

# The other real return (forms.md): 产出指标·经济成本指标·成本控制数 ≤ 30 万元 with 完成 typed as
# its 完成值. Filed here under 成本指标 (the 2021 一级 whose 二级 经济成本指标 is), so that the
# mistakes are exactly the three forms.md names: the 一级 filing is tested on its own below.
COST_ROW = {"ind_3_level1": "成本指标", "ind_3_level2": "经济成本指标", "ind_3_name": "成本控制数",
            "ind_3_op": "≤", "ind_3_target": 30, "ind_3_unit": "万元", "ind_3_actual": "完成", "ind_3_weight": 10}
MISTAKES = {
    "ind_1_actual": 0.95,  # 发放（缴纳）覆盖率 ＝ 100% reached 95%, and no 未完成原因分析
    **COST_ROW,  # 完成 as a 完成值; weights 60 + 30 + 10 = 100, not 90
}
QUALITATIVE = {
    "unit_name": "南城区教育局",  # another unit's return (one return a unit and project counts in a roll-up)
    # 60 → 40 and a 定性 row of 20 (weights 40 + 30 + 20 = 90), a ≤ row missed
    "ind_1_weight": 40,
    "ind_3_level1": "效益指标", "ind_3_level2": "社会效益指标", "ind_3_name": "群众获得感",
    "ind_3_op": "定性", "ind_3_target": "明显提高", "ind_3_actual": "部分达成", "ind_3_qscore": 17,
    "ind_3_weight": 20,
    # 产出指标·经济成本指标 as the real return files it: the one table of levels has it under 成本指标
    "ind_4_level1": "产出指标", "ind_4_level2": "经济成本指标", "ind_4_name": "成本控制数",
    "ind_4_op": "≤", "ind_4_target": 30, "ind_4_unit": "万元", "ind_4_actual": 40, "ind_4_weight": 0,
    "ind_4_reason": "年中追加人员经费",
}


def _values(changes: dict[str, Any]) -> dict[str, Any]:
    return {**sample(FORM), **changes}


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory,
            lo_recalc: Callable[[Sequence[Path], Path], dict[Path, Path]]) -> dict[str, tuple[Path, CheckedReturn]]:
    """name → (the return saved by LibreOffice with computed results, its check)."""
    root = tmp_path_factory.mktemp("pse")
    filled = {name: fill_workbook(TEMPLATE, _values(changes), root / "in" / f"{name}.xlsx")
              for name, changes in (("real", {}), ("mistakes", MISTAKES), ("qualitative", QUALITATIVE))}
    saved = lo_recalc(list(filled.values()), root / "out")
    return {name: (saved[path], check_file(saved[path])) for name, path in filled.items()}


def _cached(path: Path, key: str) -> Any:
    sheet, row, col = builtin_layout(FORM).address(key)
    return openpyxl.load_workbook(path, data_only=True)[sheet].cell(row + 1, col + 1).value


def _findings(checked: CheckedReturn) -> set[tuple[str, str, str, str]]:
    return {(f.code, f.severity, f.sheet, f.cell) for f in checked.findings}


def _at(code: str, severity: str, key: str) -> tuple[str, str, str, str]:
    return (code, severity, *cell_of(FORM, key))


def test_real_figures_score_100_and_pass(returns: dict[str, tuple[Path, CheckedReturn]]) -> None:
    path, checked = returns["real"]
    assert checked.findings == []
    assert checked.status == "accepted"
    scores = checked.scores
    assert scores["exec_rate"] == Decimal("1.0000")  # 251.89 / 251.89
    assert scores["exec_score"] == Decimal("10.00")  # 10 × 100%
    assert (scores["ind_1_score"], scores["ind_2_score"]) == (Decimal("60.00"), Decimal("30.00"))  # met
    assert all(scores[f"ind_{n}_score"] == "" for n in range(3, 21))  # unused rows count nothing
    assert scores["total_weight"] == Decimal("100.00")  # 10 + 60 + 30
    assert (checked.total_score, checked.grade) == (Decimal("100.00"), "优")
    # the total LibreOffice computed and saved is check's
    assert _cached(path, "total_score") == 100
    assert _cached(path, "grade") == "优"
    assert _cached(path, "exec_score") == 10


def test_the_mistakes_forms_md_names_get_exactly_their_findings(
        returns: dict[str, tuple[Path, CheckedReturn]]) -> None:
    path, checked = returns["mistakes"]
    assert _findings(checked) == {
        _at("WRONG_TYPE", "error", "ind_3_actual"),
        _at("DEVIATION_NO_REASON", "warning", "ind_1_reason"),
        _at("WEIGHTS_NOT_SUM", "error", "total_weight"),
    }
    assert cell_of(FORM, "ind_3_actual") == (SHEET, "G21")  # 第3行 完成值
    messages = {f.code: f.message for f in checked.findings}
    assert "应填数字" in messages["WRONG_TYPE"] and "“完成”" in messages["WRONG_TYPE"]
    assert "请直接填写数值" in messages["WRONG_TYPE"]
    assert "“权重”列合计为 100，应为 90" in messages["WEIGHTS_NOT_SUM"]
    assert "未完成原因分析" in messages["DEVIATION_NO_REASON"]
    assert checked.status == "rejected"
    scores = checked.scores
    assert scores["ind_1_score"] == Decimal("57.00")  # 60 × 95% / 100%
    assert scores["ind_2_score"] == Decimal("30.00")
    assert scores["total_weight"] == Decimal("110.00")  # 10 + 60 + 30 + 10
    # 完成 feeds no score: its row, the total and the grade are not computed
    assert {"ind_3_score", "total_score", "grade"}.isdisjoint(scores)
    assert (checked.total_score, checked.grade) == (None, None)
    # every score check computes is the one LibreOffice saved
    for key in ("exec_score", "ind_1_score", "ind_2_score", "total_weight"):
        assert Decimal(repr(float(_cached(path, key)))) == scores[key], key


def test_qualitative_row_and_levels(returns: dict[str, tuple[Path, CheckedReturn]]) -> None:
    path, checked = returns["qualitative"]
    assert _findings(checked) == {
        # 部分达成 allows 60–80% of 20: 12 to 16 (not 16); 17 typed
        _at("QUAL_SCORE_OUT_OF_BAND", "error", "ind_3_qscore"),
        # below 达成 and no 未完成原因分析
        _at("DEVIATION_NO_REASON", "warning", "ind_3_reason"),
        # 经济成本指标 belongs to 成本指标 in the one table of levels
        _at("LEVEL2_MISMATCH", "warning", "ind_4_level2"),
    }
    band = next(f for f in checked.findings if f.code == "QUAL_SCORE_OUT_OF_BAND")
    assert band.expected == "12–16 分（不含 16）" and band.found == "17"
    scores = checked.scores
    assert scores["ind_1_score"] == Decimal("40.00")  # 40, met
    assert scores["ind_3_score"] == Decimal("17.00")  # the typed score (out of band: the error says so)
    assert scores["ind_4_score"] == Decimal("0.00")  # weight 0
    total = Decimal("10") + 40 + 30 + 17 + 0
    assert checked.total_score == total and checked.grade == "优"
    assert Decimal(repr(float(_cached(path, "total_score")))) == total


def test_levels_come_from_the_one_table_with_cost_indicators() -> None:
    layout = builtin_layout(FORM)
    level1, level2 = (layout.cells[f"ind_20_{k}"][1].field for k in ("level1", "level2"))
    assert level1 is not None and level1.choices == ("产出指标", "效益指标", "满意度指标", "成本指标")
    assert level2 is not None and {"经济成本指标", "社会成本指标", "生态环境成本指标"} <= set(level2.choices)


def test_a_row_missed_lower_is_better(tmp_path: Path) -> None:
    """≤ 30 reached 40 with weight 20: 20 × 30 / 40 = 15.00 (no engine: the evaluator of check).
    A target beaten by half needs no 未完成原因分析 on this form (``overshoot: false``)."""
    values = _values({"ind_2_weight": 10, "ind_3_level1": "成本指标", "ind_3_level2": "经济成本指标",
                      "ind_3_name": "成本控制数", "ind_3_op": "≤", "ind_3_target": 30, "ind_3_unit": "万元",
                      "ind_3_actual": 40, "ind_3_weight": 20, "ind_3_reason": "物价上涨",
                      "ind_4_level1": "产出指标", "ind_4_level2": "数量指标", "ind_4_name": "培训人次",
                      "ind_4_op": "≥", "ind_4_target": 100, "ind_4_unit": "人次", "ind_4_actual": 150,
                      "ind_4_weight": 0})
    checked = check_file(fill_workbook(TEMPLATE, values, tmp_path / "reverse.xlsx"))
    assert checked.scores["ind_3_score"] == Decimal("15.00")
    assert checked.total_score == Decimal("10") + 60 + 10 + 15
    assert _findings(checked) == {_at("CACHE_MISSING", "warning", "total_score")}  # openpyxl computes nothing


def test_roll_up_shows_each_rows_weight_and_score(returns: dict[str, tuple[Path, CheckedReturn]],
                                                  tmp_path: Path) -> None:
    out = rollup([returns["real"][0], returns["qualitative"][0]], tmp_path / "汇总.xlsx", jobs=1)
    ws = openpyxl.load_workbook(out.output)["指标明细"]
    values = list(ws.iter_rows(values_only=True))
    header = values[0]
    rows = [dict(zip(header, r, strict=True)) for r in values[1:] if r[0]]
    shown = sorted((r["三级指标"], r["分值"], r["得分"], r["完成率"]) for r in rows)
    assert shown == sorted([
        ("发放（缴纳）覆盖率", 60, 60, 1), ("足额保障率", 30, 30, 1),  # the real return
        ("发放（缴纳）覆盖率", 40, 40, 1), ("足额保障率", 30, 30, 1),
        ("群众获得感", 20, 17, 0.85), ("成本控制数", 0, 0, None),
    ])
    summary = openpyxl.load_workbook(out.output)["汇总"]
    header = next(summary.iter_rows(values_only=True))
    assert "调整后预算（万元）" in header


def test_forms_lists_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["forms"])
    assert result.exit_code == 0 and FORM in result.output and "部门预算项目支出绩效自评表" in result.output


def test_the_execution_weight_is_fixed(returns: dict[str, tuple[Path, CheckedReturn]], tmp_path: Path) -> None:
    """The 10 of 预算执行率 is the spec's (``weight_of``): a unit's 20 typed over it is refused."""
    wb = openpyxl.load_workbook(returns["real"][0])
    sheet, cell = cell_of(FORM, "exec_score_weight")
    wb[sheet][cell] = 20
    wb.save(tmp_path / "weight.xlsx")
    checked = check_file(tmp_path / "weight.xlsx")
    # openpyxl keeps no computed results: CACHE_MISSING; the total is still 100 (the weight is 10)
    assert _findings(checked) == {_at("WEIGHT_ALTERED", "error", "exec_score_weight"),
                                  _at("CACHE_MISSING", "warning", "total_score")}
    assert checked.total_score == Decimal("100.00")


def test_a_round_takes_and_rolls_up_the_form(db: LedgerDb, returns: dict[str, tuple[Path, CheckedReturn]],
                                             tmp_path: Path) -> None:
    """A collection round of the form (nothing in the ledger knows its id): the clean return is
    通过 and rolled up with each row's weight and score; the one with an out-of-band 定性 score 退回."""
    name = "2023年一体化项目自评"
    roster = write_roster(tmp_path / "r", "单位代码,单位名称,主管部门,联系人,邮箱\n"
                                          "7001,东湖区教育局,市教育局,周丽,donghu@example.gov.cn\n"
                                          "7002,南城区教育局,市教育局,王芳,nancheng@example.gov.cn\n")
    db.run("new", name, "--form", FORM, "--year", "2023", "--roster", str(roster))
    inbox = tmp_path / "in"
    inbox.mkdir()
    for which in ("real", "qualitative"):
        shutil.copy(returns[which][0], inbox / f"{which}.xlsx")
    db.run("intake", name, str(inbox), ok=(0, 1))
    out = tmp_path / "汇总.xlsx"
    db.run("rollup", name, "-o", str(out))
    book = openpyxl.load_workbook(out)
    values = list(book["汇总"].iter_rows(values_only=True))
    projects = [dict(zip(values[0], r, strict=True)) for r in values[1:] if r[0] and not str(r[0]).startswith("合计")]
    assert [(p["单位"], p["总分"], p["等次"], p["审核结果"]) for p in projects] == [("东湖区教育局", 100, "优", "通过")]
    values = list(book["指标明细"].iter_rows(values_only=True))
    rows = [dict(zip(values[0], r, strict=True)) for r in values[1:] if r[0]]
    assert sorted((r["单位"], r["三级指标"], r["分值"], r["得分"]) for r in rows) == [
        ("东湖区教育局", "发放（缴纳）覆盖率", 60, 60), ("东湖区教育局", "足额保障率", 30, 30)]
    status = db.run("status", name).output
    assert "退回" in next(line for line in status.splitlines() if "南城区教育局" in line)
