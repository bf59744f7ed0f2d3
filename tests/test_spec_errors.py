"""A wrong spec is refused with the spec file, the line and the key."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from xlperf.cli import main
from xlperf.form.placing import layout_form
from xlperf.form.specload import load_spec
from xlperf.form.yamlsrc import SpecError

MINI = """\
form: mini
version: "1"
title: 测试表
sheets:
  - name: 表
    columns: [10, 10, 10, 10]
    sections:
      - grid:
          - [年度, {field: year, type: year}, 单位, {field: unit_name}]
      - scorecard:
          columns:
            - {role: label, label: 指标}
            - {role: value, label: 完成}
            - {role: weight, label: 分值}
            - {role: score, label: 得分}
          blocks:
            - key: a
              label: 甲
              weight: 100
              groups:
                - label: 乙
                  rows:
                    - {key: r1, label: 一, weight: 60, rule: yes_no}
                    - {key: r2, label: 二, weight: 40}
"""


def write(tmp_path: Path, text: str, name: str = "mini.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> SpecError:
    path = write(tmp_path, text)
    with pytest.raises(SpecError) as info:
        layout_form(load_spec(path))
    return info.value


def test_the_mini_spec_itself_is_valid(tmp_path: Path) -> None:
    layout = layout_form(load_spec(write(tmp_path, MINI)))
    assert {"r1_value", "r1_score", "r2_score", "total_score", "grade"} <= set(layout.cells)


@pytest.mark.parametrize(
    ("old", "new", "line", "key", "words"),
    [
        # unknown rule kind
        ("weight: 60, rule: yes_no}", "weight: 60, rule: magic}", 23, "rule", "magic"),
        # row weights do not add up to the block weight
        ("weight: 40}", "weight: 30}", 19, "weight", "不符"),
        # a duplicate field key
        ("{key: r2, label: 二", "{key: r1, label: 二", 24, "r1", "duplicate"),
        # a duplicate YAML key in one mapping
        ("label: 乙\n", "label: 乙\n                  label: 丙\n", 22, "label", "duplicate"),
        # a reference to a key that does not exist
        ("rule: yes_no}", "rule: {kind: ratio, actual: nowhere, target: year}}", 23, "nowhere",
         "missing reference"),
        # a typo in a key name
        ("{key: r2, label: 二, weight: 40}", "{key: r2, label: 二, wieght: 40}", 24, "wieght", "unknown key"),
        # bad rule parameters
        ("rule: yes_no}", "rule: {kind: tiers, bands: [[0.6, 1], [0.9, 5]]}}", 23, "rule", "descending"),
    ],
)
def test_bad_spec_names_file_line_and_key(
    tmp_path: Path, old: str, new: str, line: int, key: str, words: str
) -> None:
    assert old in MINI
    err = error_of(tmp_path, MINI.replace(old, new, 1))
    assert err.where is not None and err.where.file == "mini.yaml"
    assert (err.where.line, err.key) == (line, key), str(err)
    assert words in str(err)
    assert str(err).startswith(f"mini.yaml:{line}: {key}: ")


def test_grid_row_that_does_not_fill_the_width(tmp_path: Path) -> None:
    err = error_of(tmp_path, MINI.replace("单位, {field: unit_name}]", "{field: unit_name}]"))
    assert (err.where and err.where.line, err.key) == (8, "grid")
    assert "只占了 3 列" in str(err)


def test_block_weights_must_total_100(tmp_path: Path) -> None:
    text = MINI.replace("weight: 100", "weight: 90").replace("weight: 40}", "weight: 30}")
    err = error_of(tmp_path, text)
    assert err.key == "blocks" and "应为 100" in str(err)


def test_unknown_form_section_kind(tmp_path: Path) -> None:
    err = error_of(tmp_path, MINI.replace("      - grid:", "      - grids:"))
    assert (err.where and err.where.line, err.key) == (8, "grids")


def test_cli_reports_the_spec_error_without_traceback(tmp_path: Path) -> None:
    path = write(tmp_path, MINI.replace("rule: yes_no}", "rule: magic}"))
    result = CliRunner().invoke(main, ["template", str(path), "-o", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 1
    assert "mini.yaml:23: rule:" in result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "x.xlsx").exists()


def test_cli_writes_a_template_from_a_local_spec(tmp_path: Path) -> None:
    path = write(tmp_path, MINI)
    result = CliRunner().invoke(main, ["template", str(path), "-o", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 0, result.output
    # Opened: the spec's sheet, title and labels, and its score cells as formulas (a template,
    # not a form with values).
    layout = layout_form(load_spec(path))
    book = openpyxl.load_workbook(tmp_path / "x.xlsx")
    assert book.sheetnames == ["表", "_xlperf"]  # the form's sheet, and the hidden one naming the form
    texts = {c.value for row in book["表"].iter_rows() for c in row if isinstance(c.value, str)}
    assert {"年度", "单位", "指标", "完成", "分值", "得分", "甲", "一", "二"} <= texts
    for key in ("r1_score", "total_score", "grade"):  # r1 has a rule: its score is computed
        sheet, row, col = layout.address(key)
        cell = book[sheet].cell(row + 1, col + 1)
        assert isinstance(cell.value, str) and cell.value.startswith("="), (key, cell.value)
        assert cell.protection.locked, key
    # r2 has no rule, so the unit types its score: an input like the others, empty and unlocked.
    for key in ("year", "unit_name", "r1_value", "r2_score"):
        sheet, row, col = layout.address(key)
        cell = book[sheet].cell(row + 1, col + 1)
        assert cell.value is None and not cell.protection.locked, key  # left for the unit to fill
