"""Rule kinds in pure Python: rounding, the seed returns' figures, bands and parameter checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from xlperf.form.excelmath import CellError, RuleError, excel_round
from xlperf.form.rules import (
    KINDS,
    grade_of,
    out_of_band_formula,
    qualitative_band,
    qualitative_levels,
    score_in_band,
)

D = Decimal
TIERS_001 = {"bands": [[0.9, 5], [0.8, 3], [0.7, 2], [0.6, 1]]}
EXPENSE_RATE = {"threshold": 0.05, "per": 0.01, "step": 0.25, "direction": "above"}
SERVICE_EVENTS = {"step": 1, "direction": "below"}


def score(kind: str, params: dict[str, Any], weight: float | None, **values: Any) -> object:
    return KINDS[kind].evaluate(params, weight, values)


@pytest.mark.parametrize(
    ("x", "digits", "expected"),
    [
        (81.5 / 100 * 5, 2, "4.08"),  # 4.074999… in binary, 4.075 to 15 digits
        (0.345, 2, "0.35"),
        (-0.345, 2, "-0.35"),  # half away from zero
        (-0.5, 0, "-1"),
        (2.675, 2, "2.68"),  # Python's round() gives 2.67
        (1.00499999999999, 2, "1.00"),  # 15 digits: really below the half
        (0.125, 2, "0.13"),
        (-0.0001, 2, "0.00"),  # no negative zero
        (1234.56785, 4, "1234.5679"),
    ],
)
def test_excel_round(x: float, digits: int, expected: str) -> None:
    assert excel_round(x, digits) == D(expected)
    assert str(excel_round(x, digits)) == expected


def test_ratio_seed_004() -> None:
    assert score("ratio", {}, 3, actual=4.68, target=40) == D("0.35")


@pytest.mark.parametrize(
    ("actual", "target", "expected"),
    [(50, 40, "3"), (None, 40, "0"), (10, None, "0"), (10, 0, "0"), (-5, 40, "0"), ("x", 40, "0")],
)
def test_ratio_edges(actual: Any, target: Any, expected: str) -> None:
    assert score("ratio", {}, 3, actual=actual, target=target) == D(expected)


@pytest.mark.parametrize(
    ("actual", "target", "expected"),
    [(12, 12, "10"), (13, 12, "10"), (6, 12, "5"), (0, 0, "10"), (-1, 0, "0"), (None, 12, "0")],
)
def test_positive(actual: Any, target: Any, expected: str) -> None:
    assert score("positive", {}, 10, actual=actual, target=target) == D(expected)


@pytest.mark.parametrize(
    ("variant", "actual", "expected"),
    [
        ("linear", 100, "10"),
        ("linear", 150, "5"),
        ("linear", 200, "0"),  # B = 2A
        ("linear", 199.99, "0"),
        ("inverse", 200, "5"),
        ("inverse", 80, "10"),
    ],
)
def test_reverse(variant: str, actual: float, expected: str) -> None:
    params = {"variant": variant}
    assert score("reverse", params, 10, actual=actual, target=100) == D(expected)


def test_reverse_zero_target() -> None:
    assert score("reverse", {}, 4, actual=0, target=0) == D("4")
    assert score("reverse", {}, 4, actual=0.01, target=0) == D("0")


@pytest.mark.parametrize(
    ("actual", "expected"),
    [(0.8999, "3"), (0.9, "5"), (1.2, "5"), (0.6, "1"), (0.5999, "0"), (None, "0"), ("是", "0")],
)
def test_tiers_seed_001(actual: Any, expected: str) -> None:
    assert score("tiers", TIERS_001, 5, actual=actual) == D(expected)


@pytest.mark.parametrize(
    ("actual", "count", "expected"),
    [
        (0.05, "exact", "2"),
        (0.07, "exact", "1.5"),
        (0.04, "exact", "2"),
        (0.065, "exact", "1.63"),  # 2 - 0.25 * 1.5 = 1.625
        (0.065, "ceil", "1.5"),
        (0.065, "floor", "1.75"),
        (0.07, "ceil", "1.5"),  # (0.07-0.05)/0.01 is 2.0000000000000004, still 2 units
        (0.5, "exact", "0"),  # never below 0
        (None, "exact", "0"),
    ],
)
def test_deduction_expense_rate(actual: Any, count: str, expected: str) -> None:
    params = {**EXPENSE_RATE, "count": count}
    assert score("deduction", params, 2, actual=actual) == D(expected)


@pytest.mark.parametrize(
    ("actual", "target", "expected"),
    [(12, 12, "15"), (10, 12, "13"), (14, 12, "15"), (0, 12, "3"), (10, None, "0")],
)
def test_deduction_service_events(actual: Any, target: Any, expected: str) -> None:
    assert score("deduction", SERVICE_EVENTS, 15, actual=actual, target=target) == D(expected)


@pytest.mark.parametrize(
    ("op", "actual", "expected"),
    [
        (">=", 0.95, "10"),
        (">=", 0.94, "0"),
        (">", 0.95, "0"),
        ("=", 0.95, "10"),
        ("=", 0.1 * 9.5, "10"),
        ("<=", 0.96, "0"),
        ("<", 0.5, "10"),
        (">=", None, "0"),
    ],
)
def test_all_or_nothing(op: str, actual: Any, expected: str) -> None:
    params = {"op": op, "threshold": 0.95}
    assert score("all_or_nothing", params, 10, actual=actual) == D(expected)


def test_all_or_nothing_against_target_cell() -> None:
    assert score("all_or_nothing", {}, 5, actual=1, target=1) == D("5")
    assert score("all_or_nothing", {}, 5, actual=1, target=None) == D("0")


@pytest.mark.parametrize(
    ("answer", "expected"), [("是", "2"), ("否", "0"), (None, "0"), ("是 ", "0"), (1, "0")]
)
def test_yes_no(answer: Any, expected: str) -> None:
    assert score("yes_no", {}, 2, actual=answer) == D(expected)


def test_checklist_seed_001() -> None:
    params = {
        "parts": [["明确", 5], ["细化", 3], ["量化", 3], ["匹配", 3], ["合理", 3], ["完整", 3]]
    }
    ticks = ["是", "是", "否", None, "是", "是"]
    assert score("checklist", params, 20, parts=ticks) == D("14")
    assert score("checklist", params, 20, parts=["是"] * 6) == D("20")


def test_checklist_needs_one_cell_per_part() -> None:
    with pytest.raises(RuleError, match="2 parts but 1 cells"):
        score("checklist", {"parts": [["a", 1], ["b", 1]]}, 2, parts=["是"])


@pytest.mark.parametrize(
    ("total", "expected"),
    [(96.35, "优"), (90, "优"), (89.99, "良"), (80, "良"), (60, "中"), (59.99, "差"), (None, "差")],
)
def test_grade(total: Any, expected: str) -> None:
    assert score("grade", {}, None, total=total, inputs=[1, None]) == expected
    if total is not None:
        assert grade_of(D(str(total))) == expected


def test_grade_is_blank_until_something_is_filled() -> None:
    assert score("grade", {}, None, total=0, inputs=[None, ""]) == ""


def test_sum_ignores_text_and_blanks() -> None:
    assert score("sum", {}, None, items=[0.1, 0.2, "x", None, 1]) == D("1.3")
    assert score("sum", {}, None, items=[None]) == D("0")


def test_completion() -> None:
    assert score("completion", {}, None, actual=4.68, target=40) == D("0.117")
    assert score("completion", {}, None, actual=1, target=3) == D("0.3333")
    assert score("completion", {}, None, actual=1, target=0) == ""
    assert score("completion", {}, None, actual=None, target=3) == ""


@pytest.mark.parametrize("kind", ["judged", "qualitative"])
def test_input_kinds_have_no_formula(kind: str) -> None:
    refs = {"score": "D5", "level": "C5"}
    assert KINDS[kind].formula({}, 10, refs) is None
    assert score(kind, {}, 10, score=7.456, level=None) == D("7.46")
    assert score(kind, {}, 10, score=None, level=None) is None


def test_qualitative_bands() -> None:
    achieved, partly, missed = qualitative_levels()
    assert qualitative_band(achieved, 10) == (D(8), D(10), True)
    assert qualitative_band(partly, 10) == (D(6), D(8), False)
    assert qualitative_band(missed, 5) == (D(0), D(3), False)
    with pytest.raises(RuleError):
        qualitative_band("很好", 10)


@pytest.mark.parametrize(
    ("level", "value", "expected"),
    [
        (0, 8, True),
        (0, 10, True),
        (0, 7.99, False),
        (0, 10.01, False),
        (1, 6, True),
        (1, 7.99, True),
        (1, 8, False),
        (1, 5.99, False),
        (2, 0, True),
        (2, 5.99, True),
        (2, 6, False),
        (2, -0.01, False),
    ],
)
def test_score_in_band(level: int, value: float, expected: bool) -> None:
    assert score_in_band(qualitative_levels()[level], value, 10) is expected


def test_score_in_band_unknown() -> None:
    assert score_in_band(qualitative_levels()[0], None, 10) is None
    assert score_in_band(None, 9, 10) is None
    assert score_in_band("其他", 9, 10) is None


def test_out_of_band_formula_shape() -> None:
    text = out_of_band_formula("'评分表'!$C$5", "'评分表'!$D$5", 3)
    assert text.startswith("=AND(COUNT('评分表'!$D$5)=1,")
    assert "<2.4" in text and ">=1.8" in text


def test_formula_seed_ratio() -> None:
    text = KINDS["ratio"].formula({}, 3, {"actual": "B2", "target": "C2"})
    assert text == "=IF(N(C2)<=0,0,ROUND(MAX(0,MIN(N(B2)/N(C2),1))*3,2))"


def test_formula_keeps_operation_order() -> None:
    # step*(excess/per), not (step*excess)/per: Excel reads left to right.
    text = KINDS["deduction"].formula(EXPENSE_RATE, 2, {"actual": "B2"})
    assert text == "=IF(COUNT(B2)=0,0,ROUND(MAX(0,2-0.25*(MAX(0,N(B2)-0.05)/0.01)),2))"


def test_constants_are_written_without_exponent() -> None:
    text = KINDS["all_or_nothing"].formula({"threshold": 0.00001}, 1.5, {"actual": "B2"})
    assert text == "=IF(COUNT(B2)=0,0,IF(N(B2)>=0.00001,1.5,0))"
    text = KINDS["all_or_nothing"].formula({"threshold": -5, "op": "="}, 1, {"actual": "B2"})
    assert text is not None and "ROUND(N(B2)-(-5),9)=0" in text


def test_long_lists_are_chunked() -> None:
    refs = [f"B{i}" for i in range(1, 601)]
    text = KINDS["sum"].formula({}, None, {"items": refs})
    assert text is not None and text.startswith("=ROUND(SUM(SUM(B1,") and text.count("SUM(") == 4
    assert score("sum", {}, None, items=[0.01] * 600) == D("6")
    grade = KINDS["grade"].formula({}, None, {"total": "A1", "inputs": refs})
    assert grade is not None and grade.startswith("=IF(SUM(COUNTA(B1,")


def test_grade_labels_are_quoted() -> None:
    params = {"bands": [[1, 'say "hi"']], "else": "x"}
    text = KINDS["grade"].formula(params, None, {"total": "A1", "inputs": ["B1"]})
    assert text == '=IF(COUNTA(B1)=0,"",IF(N(A1)>=1,"say ""hi""","x"))'


def test_registry_is_complete() -> None:
    assert set(KINDS) == {
        "ratio", "positive", "reverse", "tiers", "deduction", "all_or_nothing", "yes_no",
        "checklist", "qualitative", "judged", "sum", "grade", "completion", "rate_score", "row_score",
    }  # fmt: skip
    assert {k for k, v in KINDS.items() if not v.scored} == {"sum", "grade", "completion", "row_score"}


@pytest.mark.parametrize(
    ("kind", "params", "weight", "fragment"),
    [
        ("tiers", {"bands": [[0.8, 3], [0.9, 5]]}, 5, "strictly descending"),
        ("tiers", {"bands": [[0.9, 6]]}, 5, "between 0 and the weight"),
        ("tiers", {"bands": []}, 5, "non-empty list"),
        ("tiers", {"bands": [[0.9]]}, 5, "must be a pair"),
        ("tiers", {}, 5, "'bands' is required"),
        ("tiers", {"bands": [[0.9, 5]], "else": -1}, 5, "between 0 and the weight"),
        ("checklist", {"parts": [["a", 5], ["b", 3]]}, 10, "add up to 8"),
        ("checklist", {"parts": [["", 5]]}, 5, "non-empty text"),
        ("all_or_nothing", {"op": "=>", "threshold": 1}, 5, "op must be one of"),
        ("all_or_nothing", {"threshold": "95%"}, 5, "threshold must be a number"),
        ("deduction", {"step": 0, "direction": "above"}, 5, "step must be greater than 0"),
        ("deduction", {"step": 1, "direction": "up"}, 5, "direction must be one of"),
        ("deduction", {"step": 1, "direction": "above", "count": "round"}, 5, "count must be"),
        ("deduction", {"step": 1}, 5, "'direction' is required"),
        ("reverse", {"variant": "log"}, 5, "variant must be one of"),
        ("ratio", {"cap": 1}, 5, "unknown parameter 'cap'"),
        ("ratio", {}, None, "weight is required"),
        ("ratio", {}, 0, "weight must be greater than 0"),
        ("ratio", {}, 2.555, "at most 2 decimals"),
        ("ratio", {}, True, "weight must be a number"),
        ("sum", {}, 5, "takes no weight"),
        ("grade", {"bands": [[90, "优"], [90, "良"]]}, None, "strictly descending"),
        ("grade", {"else": 0}, None, "else must be a non-empty text"),
    ],
)
def test_check_params_rejects(
    kind: str, params: dict[str, Any], weight: Any, fragment: str
) -> None:
    problems = KINDS[kind].check_params(params, weight)
    assert any(fragment in p for p in problems), problems
    with pytest.raises(RuleError):
        KINDS[kind].evaluate(params, weight, {})


def test_check_params_operands() -> None:
    kind = KINDS["deduction"]
    params = {"step": 1, "direction": "below"}
    problems = kind.check_params(params, 15, operands=["actual"])
    assert problems == ["operand 'target' is required (or a 'threshold' parameter)"]
    assert kind.check_params(params, 15, operands=["actual", "target"]) == []
    assert kind.check_params({**params, "threshold": 12}, 15, operands=["actual"]) == []
    assert kind.check_params(params, 15, operands=["actual", "target", "x"]) == [
        "unknown operand 'x'"
    ]
    assert KINDS["all_or_nothing"].operands_for({"threshold": 1}) == ("actual",)


@pytest.mark.parametrize(
    ("kind", "params", "weight"),
    [
        ("tiers", TIERS_001, 5),
        ("deduction", EXPENSE_RATE, 2),
        ("deduction", SERVICE_EVENTS, 15),
        ("checklist", {"parts": [["a", 2.5], ["b", 2.5]]}, 5),
        ("grade", {}, None),
        ("reverse", {"variant": "inverse"}, 0.5),
    ],
)
def test_check_params_accepts(kind: str, params: dict[str, Any], weight: Any) -> None:
    assert KINDS[kind].check_params(params, weight) == []


def test_overflow_is_an_error_value() -> None:
    # LibreOffice shows #NUM! for 151.47/5e-324; the evaluator says so instead of scoring.
    with pytest.raises(CellError) as info:
        score("ratio", {}, 20, actual=151.47, target=5e-324)
    assert info.value.code == "#NUM!"


def test_unbound_operand() -> None:
    with pytest.raises(RuleError, match="'target' is not bound"):
        KINDS["ratio"].formula({}, 3, {"actual": "B2"})
    with pytest.raises(RuleError, match="list of cells"):
        KINDS["sum"].formula({}, None, {"items": "B2"})


@pytest.mark.parametrize("value, usable", [
    (0.0, True), (-0.0, True), (999_999_999_999_999.9, True), (-999_999_999_999_999.9, True), (1e15, False),
    (-1e15, False), (float("nan"), False), (float("inf"), False), (float("-inf"), False), (7, True), (10**15, False),
    (True, False), (Decimal("1e15"), False), (Decimal("12.5"), True), ("1", False), (None, False)])
def test_number_tests_agree_on_every_kind_of_value(value: Any, usable: bool) -> None:
    """The float fast paths (type(x) is float) say what the general tests say: finite, below 10^15."""
    from xlperf.form.excelmath import arith, usable_number
    from xlperf.model.values import as_number, unusable_number

    number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    assert usable_number(value) is (usable and not isinstance(value, Decimal))
    assert (as_number(value) is not None) is usable
    if usable:
        assert as_number(value) == float(value) and type(as_number(value)) is float
    assert unusable_number(value) is (number and not usable)
    if type(value) is float:
        assert arith(value) is value
