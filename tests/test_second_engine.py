"""A second spreadsheet engine: Gnumeric recalculates the scored forms as LibreOffice does, and
returns re-saved by either program (as .xlsx, .xls or .ods) pass ``check`` without tamper findings.

Gnumeric (``ssconvert --recalc``) recalculates random fills of every scored form (those with a
grade: :func:`helpers.scored_forms`) and of the monitoring form (its totals); every formula
cell is compared with the Python evaluator, as tests/test_form_engine.py does for LibreOffice.
Then the samples and a few random returns are re-saved by LibreOffice (one soffice call per
format) and by Gnumeric, and checked: no error, no tamper finding (an .xls/.ods gets only
FORMULAS_UNVERIFIED, which says that format keeps no formulas to verify), the same scores.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import random_values, sample, scored_forms

from xlperf.checks import tamper
from xlperf.checks.check_return import check_file
from xlperf.excel.fill import fill_workbook
from xlperf.findings import CheckedReturn
from xlperf.form.evaluate import evaluate
from xlperf.form.registry import builtin_layout

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates_xlsx"
SCORED_FORMS = scored_forms()
"""Every form with a total and a grade, as the registry has them (each 1 sample + RANDOM fills)."""
RANDOM = 12
FORMULA_FORMS = {**{form: RANDOM for form in SCORED_FORMS}, "performance_monitoring": 13}
"""The forms with formula cells and their random fills (besides the sample): the scored forms,
and the monitoring form's totals (no score: at least 13 random fills of its own)."""
RESAVED_RANDOM = 2
FORMATS = ("xlsx", "xls", "ods")
TAMPER = {c.code for c in tamper.CHECKS}


def _fill(root: Path, form: str, name: str, values: dict[str, Any]) -> tuple[Path, dict[str, Any]]:
    return fill_workbook(TEMPLATES / f"{form}.xlsx", values, root / f"{name}.xlsx"), values


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[str, Path, dict[str, Any]]]:
    """name → (form, filled return, its inputs): each form's sample and random fills."""
    root = tmp_path_factory.mktemp("second_engine_in")
    out = {}
    for form, count in FORMULA_FORMS.items():
        layout = builtin_layout(form)
        fills = {f"{form}__sample": sample(form)}
        fills |= {f"{form}__random{i:02d}": random_values(layout, seed=f"gnumeric-{form}-{i}")
                  for i in range(count)}
        for name, values in fills.items():
            path, _ = _fill(root, form, name, values)
            out[name] = (form, path, values)
    return out


@pytest.fixture(scope="module")
def gnumeric_results(returns: dict[str, tuple[str, Path, dict[str, Any]]], gn_convert: Callable[..., dict[Path, Path]],
                     tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    converted = gn_convert([p for _, p, _ in returns.values()], tmp_path_factory.mktemp("gnumeric_xlsx"))
    return {name: converted[path] for name, (_, path, _) in returns.items()}


def _same(engine: Any, py: Any) -> bool:
    if py is None or py == "":
        return engine is None or engine == ""
    if isinstance(py, str):
        return bool(engine == py)
    if isinstance(engine, bool) or not isinstance(engine, int | float):
        return False
    return Decimal(repr(float(engine))) == py


def test_gnumeric_agrees_with_evaluator(returns: dict[str, tuple[str, Path, dict[str, Any]]],
                                        gnumeric_results: dict[str, Path]) -> None:
    checked = 0
    grades: Counter[Any] = Counter()
    for name, (form, _, values) in returns.items():
        layout = builtin_layout(form)
        expected = evaluate(layout, values)
        wb = openpyxl.load_workbook(gnumeric_results[name], data_only=True)
        for calc in layout.calcs:
            sheet, placed = layout.cells[calc.key]
            found = wb[sheet].cell(placed.row + 1, placed.col + 1).value
            assert _same(found, expected[calc.key]), (
                f"{name}: {calc.key} ({calc.kind}) Gnumeric {found!r}, Python {expected[calc.key]!r}")
            checked += 1
        grades[expected.get("grade")] += 1
    # Every calculated cell of every return compared, and the seeded fills (fixed by their seeds,
    # "gnumeric-FORM-i") of the scored forms reach every grade: 3 samples + 3 × 12 random fills;
    # the monitoring form has no grade (its sample + 13 random fills).
    assert checked == sum(len(builtin_layout(form).calcs) for form, _, _ in returns.values())
    assert len(SCORED_FORMS) >= 3
    assert len(returns) == sum(1 + count for count in FORMULA_FORMS.values())
    assert grades == {"差": 13, "中": 14, "优": 7, "良": 5, None: 14}


@pytest.fixture(scope="module")
def resaved(returns: dict[str, tuple[str, Path, dict[str, Any]]], lo_recalc: Callable[..., dict[Path, Path]],
            gn_convert: Callable[..., dict[Path, Path]],
            tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str, str], tuple[CheckedReturn, CheckedReturn]]:
    """(engine, format, name) → (check of the re-saved file, check of the return as filled)."""
    chosen = {name: path for name, (_, path, _) in returns.items()
              if name.endswith("__sample") or int(name[-2:]) < RESAVED_RANDOM}
    root = tmp_path_factory.mktemp("resaved")
    files = list(chosen.values())
    out = {}
    originals = {name: check_file(path) for name, path in chosen.items()}
    for fmt in FORMATS:
        by_engine = {"libreoffice": lo_recalc(files, root / f"lo_{fmt}", fmt=fmt),
                     "gnumeric": gn_convert(files, root / f"gn_{fmt}", fmt=fmt)}
        for engine, converted in by_engine.items():
            for name, path in chosen.items():
                out[(engine, fmt, name)] = (check_file(converted[path]), originals[name])
    return out


@pytest.mark.parametrize("engine", ["libreoffice", "gnumeric"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_resaved_returns_pass_check(resaved: dict[tuple[str, str, str], tuple[CheckedReturn, CheckedReturn]],
                                    engine: str, fmt: str) -> None:
    cases = {k: v for k, v in resaved.items() if k[:2] == (engine, fmt)}
    assert len(cases) == len(FORMULA_FORMS) * (1 + RESAVED_RANDOM)
    for (_, _, name), (checked, original) in cases.items():
        codes = {f.code for f in checked.findings}
        expected_tamper = {"FORMULAS_UNVERIFIED"} if fmt != "xlsx" else set()
        assert codes & TAMPER == expected_tamper, (name, [f.message for f in checked.findings])
        assert checked.scores == original.scores, name
        # findings about the content are those of the return as filled (random fills have some)
        before = {f.code for f in original.findings} - TAMPER - {"CACHE_MISSING"}
        assert codes - TAMPER == before, name
        if name.endswith("__sample"):
            errors = [f.message for f in checked.findings if f.severity == "error"]
            assert not errors, (name, errors)
