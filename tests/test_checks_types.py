"""WRONG_TYPE on real returns: what was typed is shown visibly, a correction is suggested only
when certain, and the bad value feeds no figure and no other check."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import cell_of, sample

from xlperf.checks.check_return import check_file
from xlperf.checks.types import number_meant
from xlperf.excel.fill import fill_workbook
from xlperf.findings import REJECTED, CheckedReturn
from xlperf.form.registry import builtin_layout

TEMPLATES = Path(__file__).resolve().parent.parent / "templates_xlsx"
SE = "self_evaluation"
AMOUNT = next(f for f in builtin_layout(SE).inputs() if f.key == "spent_city")
PERCENT = next(f for f in builtin_layout("evaluation_report").inputs() if f.type == "percent")


def typed_in(tmp_path: Path, value: str, key: str = "spent_city") -> CheckedReturn:
    path = fill_workbook(TEMPLATES / f"{SE}.xlsx", {**sample(SE), key: value}, tmp_path / "return.xlsx")
    return check_file(path, key=None)


@pytest.mark.parametrize(("text", "meant"), [
    (" 4.68 ", 4.68), ("４．６８", 4.68), ("1,234.5", 1234.5), ("1,000", 1000.0), ("40万元", 40.0),
    ("4,68", None), ("4 68", None), ("1,2345", None), ("4.6.8", None), ("约5", None), ("4，68", None),
])
def test_a_correction_only_when_certain(text: str, meant: float | None) -> None:
    assert number_meant(text, AMOUNT, "万元") == meant


def test_percent_typed_with_a_sign() -> None:
    assert number_meant("95%", PERCENT, "万元") == 0.95


@pytest.mark.parametrize(("value", "shown", "advice"), [
    (" 4.68 ", "“␠4.68␠”（前后有空格；␠ 表示空格）", "应为 4.68 万元"),
    ("4,68", "“4,68”", None),
    ("４．６８", "含全角字符 ４ ． ６ ８，应为半角", "应为 4.68 万元"),
])
def test_message_shows_what_was_typed(tmp_path: Path, value: str, shown: str, advice: str | None) -> None:
    checked = typed_in(tmp_path, value)
    finding, = [f for f in checked.findings if f.code == "WRONG_TYPE"]
    assert (finding.sheet, finding.cell) == cell_of(SE, "spent_city")
    assert shown in finding.message
    if advice is None:
        assert "应为" not in finding.message, finding.message
    else:
        assert advice in finding.message


def test_a_wrong_typed_value_feeds_no_figure_and_no_other_check(tmp_path: Path) -> None:
    checked = typed_in(tmp_path, " 4.68 ")
    assert checked.status == REJECTED
    # no total, grade or execution rate computed from the text as if it were 0
    assert checked.total_score is None and checked.grade is None
    assert not {"spent_total", "exec_rate", "budget_exec_score", "total_score", "grade"} & set(checked.scores)
    assert {"budget_total", "effect_score"} <= set(checked.scores)  # figures it does not feed are still there
    codes = {f.code for f in checked.findings}
    assert "LOW_EXECUTION_HIGH_SCORES" not in codes and "CACHE_MISSING" not in codes
    assert not [f for f in checked.findings if "0.00%" in f.message]
    # the seed's own warning, unrelated to the amount, stays
    assert "UNMET_TARGETS_HIGH_SCORE" in codes
    clean = check_file(fill_workbook(TEMPLATES / f"{SE}.xlsx", sample(SE), tmp_path / "clean.xlsx"), key=None)
    # the clean return's warning about its (real) execution rate is one the bad value cannot feed
    assert {f.code for f in clean.findings} - {"CACHE_MISSING", "LOW_EXECUTION_HIGH_SCORES"} == codes - {"WRONG_TYPE"}
