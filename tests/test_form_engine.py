"""Every formula cell of every template, recalculated by LibreOffice, equals the Python evaluator.

All workbooks of this module (blank templates, the sample returns, returns filled with random
valid inputs, and a few boundary returns) are written first and recalculated in one soffice
call; the tests then read LibreOffice's results with openpyxl and compare them, cell by cell,
with ``xlperf.form.evaluate.evaluate`` for the same inputs. LibreOffice stands in for Excel here.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import random_values, scored_forms

from xlperf.excel.fill import fill_workbook
from xlperf.excel.template import write_template
from xlperf.form.evaluate import Result, evaluate
from xlperf.form.registry import builtin_forms, builtin_layout

SAMPLES = Path(__file__).resolve().parent.parent / "xlperf" / "samples"
SCORED_FORMS = scored_forms()
MIN_RANDOM = 13
"""Random fills of a form with formula cells (totals) but no score: as many as the second engine's."""
RANDOM_RETURNS = {form: 25 if form in SCORED_FORMS else MIN_RANDOM if builtin_layout(form).calcs else 5
                  for form in builtin_forms()}
ERROR_VALUES = {"#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA"}


@dataclass(frozen=True)
class Case:
    """One workbook to recalculate: its form, the inputs filled in, and where it lives."""

    form: str
    name: str
    values: dict[str, Any]
    path: Path


def sample_values(form: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{form}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, lo_recalc: Any) -> dict[str, tuple[Case, Path]]:
    """Every case of this module, recalculated by LibreOffice in one call: name → (case, result)."""
    root = tmp_path_factory.mktemp("form_engine")
    cases: list[Case] = []

    def filled(form: str, name: str, values: dict[str, Any]) -> None:
        template = root / "in" / f"{form}__blank.xlsx"
        cases.append(Case(form, name, values, fill_workbook(template, values, root / "in" / f"{name}.xlsx")))

    for form in builtin_forms():
        layout = builtin_layout(form)
        template = write_template(layout, root / "in" / f"{form}__blank.xlsx")
        cases.append(Case(form, f"{form}__blank", {}, template))
        filled(form, f"{form}__sample", sample_values(form))
        for i in range(RANDOM_RETURNS[form]):
            filled(form, f"{form}__random{i:02d}", random_values(layout, seed=f"{form}-{i}"))
    # The 90% tier boundary of budget execution, through the real engine.
    for value in (0.8999, 0.9):
        values = {**sample_values("evaluation_report"), "budget_completion_value": value}
        filled("evaluation_report", f"evaluation_report__completion_{value}", values)
    results = lo_recalc([c.path for c in cases], root / "out")
    return {c.name: (c, Path(results[c.path])) for c in cases}


@pytest.fixture(scope="module")
def computed(engine: dict[str, tuple[Case, Path]]) -> dict[str, dict[str, Any]]:
    """name → {key: value after recalculation} for every placed key (inputs, fixed, formulas)."""
    out = {}
    for name, (case, path) in engine.items():
        layout = builtin_layout(case.form)
        wb = openpyxl.load_workbook(path, data_only=True)
        out[name] = {
            key: wb[sheet].cell(placed.row + 1, placed.col + 1).value
            for key, (sheet, placed) in layout.cells.items()
        }
    return out


def _same(lo: Any, py: Result) -> bool:
    if py is None or py == "":
        return lo is None or lo == ""
    if isinstance(py, str):
        return lo == py
    if isinstance(lo, bool) or not isinstance(lo, int | float):
        return False
    return Decimal(repr(float(lo))) == py


def test_every_case_was_recalculated(engine: dict[str, tuple[Case, Path]]) -> None:
    assert len(engine) == len(builtin_forms()) * 2 + sum(RANDOM_RETURNS.values()) + 2
    for name, (_, path) in engine.items():
        assert path.is_file(), f"{name}: LibreOffice wrote no {path}"


def test_libreoffice_agrees_with_evaluator(engine: dict[str, tuple[Case, Path]],
                                           computed: dict[str, dict[str, Any]]) -> None:
    checked = 0
    for name, (case, path) in engine.items():
        layout = builtin_layout(case.form)
        expected = evaluate(layout, case.values)
        for calc in layout.calcs:
            lo, py = computed[name][calc.key], expected[calc.key]
            assert _same(lo, py), (
                f"{case.form} / {path.name}: {calc.key} ({calc.kind}) LibreOffice {lo!r}, Python {py!r}"
            )
            checked += 1
    assert checked > 1000


RANDOM_GRADES = {
    "self_evaluation": {"差": 14, "中": 8, "良": 3},
    "evaluation_report": {"差": 14, "中": 8, "良": 2, "优": 1},
    "project_self_evaluation": {"中": 11, "差": 10, "良": 2, "优": 2},
}
"""Grades of the random fills as LibreOffice computes them. The seeds ("FORM-i") fix every
fill, so the counts are fixed: a change in a rule, a formula or the fills shows here. Every grade
boundary is crossed (self_evaluation has no 优 among its 25)."""


@pytest.mark.parametrize("form", SCORED_FORMS)
def test_random_returns_spread_over_grades(form: str, computed: dict[str, dict[str, Any]]) -> None:
    grades = Counter(computed[f"{form}__random{i:02d}"]["grade"] for i in range(RANDOM_RETURNS[form]))
    assert grades == RANDOM_GRADES[form]


def test_no_error_values(engine: dict[str, tuple[Case, Path]]) -> None:
    for case, path in engine.values():
        wb = openpyxl.load_workbook(path, data_only=True)
        for ws in wb.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    v = cell.value
                    bad = cell.data_type == "e" or (
                        isinstance(v, str) and (v in ERROR_VALUES or v.startswith("Err:"))
                    )
                    assert not bad, f"{case.form} / {path.name}: {ws.title}!{cell.coordinate} shows {v!r}"


@pytest.mark.parametrize("form", sorted(builtin_forms()))
def test_blank_template_scores_nothing(form: str, computed: dict[str, dict[str, Any]]) -> None:
    values = computed[f"{form}__blank"]
    for key, v in values.items():
        # Formula scores, subtotals and the total, and the typed-in score cells.
        if key.endswith("_score"):
            assert v in (0, None, ""), f"{form} blank: {key} is {v!r}"
    if "grade" in values:
        assert values["grade"] in (None, ""), f"{form} blank: grade is {values['grade']!r}"


def test_self_evaluation_sample(computed: dict[str, dict[str, Any]]) -> None:
    v = computed["self_evaluation__sample"]
    assert Decimal(repr(v["budget_exec_score"])) == Decimal("0.35")
    assert Decimal(repr(v["total_score"])) == Decimal("96.35")
    assert v["grade"] == "优"
    assert Decimal(repr(v["exec_rate"])) == Decimal("0.117")


def test_evaluation_report_sample(computed: dict[str, dict[str, Any]]) -> None:
    v = computed["evaluation_report__sample"]
    assert v["total_score"] == 100
    assert v["grade"] == "优"


@pytest.mark.parametrize(("value", "score"), [(0.8999, 3), (0.9, 5)])
def test_budget_completion_tiers(value: float, score: int, computed: dict[str, dict[str, Any]]) -> None:
    v = computed[f"evaluation_report__completion_{value}"]
    assert v["budget_completion_score"] == score
