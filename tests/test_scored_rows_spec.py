"""The spec language of rows the unit sets and scores: a table with ``points`` and a ``row_score``
column, a ``rate_score`` grid calc with its ``weight_of`` cell, ``TABLE.COLUMN`` list items and a
grid ``grade``; a wrong spec is refused with file, line and key. The scores themselves are proven
against LibreOffice in test_rules_engine and test_form_engine."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from xlperf.form.evaluate import evaluate
from xlperf.form.placing import layout_form
from xlperf.form.specload import load_spec
from xlperf.form.yamlsrc import SpecError

MINI = """\
form: mini_rows
version: "1"
title: 测试表
choices:
  natures: [≥, ＞, ＝, ≤, ＜, 定性]
sheets:
  - name: 表
    columns: [10, 10, 10, 10, 10, 10, 10]
    sections:
      - grid:
          - [{label: 预算}, {field: budget, type: amount}, {label: 执行}, {field: spent, type: amount},
             {calc: rate, kind: completion, actual: spent, target: budget, percent: true},
             {weight_of: rate_points}, {calc: rate_points, kind: rate_score, rate: rate, weight: 20, cap: 1}]
      - table:
          key: rows
          rows: 3
          points: 80
          columns:
            - {key: name, label: 指标}
            - {key: op, label: 性质, type: choice, choices: natures}
            - {key: target, label: 指标值, type: value}
            - {key: actual, label: 完成值, type: value}
            - {key: typed, label: 定性得分, type: number}
            - {key: weight, label: 权重, type: number}
            - {key: score, label: 得分, calc: row_score, op: op, target: target, actual: actual, weight: weight,
               typed: typed}
      - grid:
          - [{label: 合计, span: 5}, {calc: total_weight, kind: sum, items: [rate_points_weight, rows.weight]},
             {calc: total_score, kind: sum, items: [rate_points, rows.score]}]
          - [{label: 等次, span: 5}, {calc: grade, kind: grade, total: total_score, inputs: [spent, rows.actual], span: 2}]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mini_rows.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_keys_resolve_and_score(tmp_path: Path) -> None:
    layout = layout_form(load_spec(write(tmp_path, MINI)))
    assert {"rate_points_weight", "rows_3_score", "total_weight", "grade"} <= set(layout.cells)
    weight_cell = layout.cells["rows_1_weight"][1].field
    assert weight_cell is not None and (weight_cell.min, weight_cell.max) == (0.0, 80.0)  # 0 to the points
    total = next(c for c in layout.calcs if c.key == "total_score")
    assert total.operands["items"] == ("rate_points", "rows_1_score", "rows_2_score", "rows_3_score")
    results = evaluate(layout, {"budget": 100, "spent": 95, "rows_1_op": "≥", "rows_1_target": 10,
                                "rows_1_actual": 8, "rows_1_weight": 50, "rows_2_op": "定性",
                                "rows_2_actual": "达成", "rows_2_typed": 27, "rows_2_weight": 30})
    # 20 × 95%; 50 × 8 / 10; the typed 27; an unused row shows nothing; 19 + 40 + 27
    assert (results["rate_points"], results["rows_1_score"], results["rows_2_score"], results["rows_3_score"]) == (
        Decimal("19.00"), Decimal("40.00"), Decimal("27.00"), "")
    assert (results["total_weight"], results["total_score"], results["grade"]) == (
        Decimal("100.00"), Decimal("86.00"), "良")


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        # a row score without points, and points without a row score
        ("          points: 80\n", "", 15, "points", "points"),
        (", calc: row_score, op: op, target: target, actual: actual, weight: weight,\n               typed: typed}",
         "}", 17, "points", "row_score"),
        # the weight column must be typed numbers
        ("{key: weight, label: 权重, type: number}", "{key: weight, label: 权重}", 18, "columns", "type: number"),
        # a row score must say which column plays each part
        (" weight: weight,\n", "\n", 25, "calc", "weight"),
        # a whole column of a table that does not exist (or comes later)
        ("rows.weight]", "rowz.weight]", 28, "items", "表格键.列键"),
        # weight_of names a calc without a weight
        ("{weight_of: rate_points}", "{weight_of: rate}", 10, "weight_of", "weight"),
        # a scored calc in a grid needs its weight
        ("rate: rate, weight: 20, cap: 1}", "rate: rate, cap: 1}", 13, "weight", "weight"),
        # and its parameters are checked
        ("weight: 20, cap: 1}", "weight: 20, cap: -1}", 13, "kind", "cap must be greater than 0"),
    ],
)
def test_a_wrong_spec_names_file_line_and_key(tmp_path: Path, old: str, new: str, line: int, key: str,
                                               words: str) -> None:
    assert old in MINI
    with pytest.raises(SpecError) as info:
        layout_form(load_spec(write(tmp_path, MINI.replace(old, new, 1))))
    error = info.value
    assert error.key == key and words in str(error), str(error)
    assert error.where is not None and error.where.file == "mini_rows.yaml" and error.where.line == line
