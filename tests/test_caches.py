"""The caches that spare every return the work that depends on its form only.

Each must give exactly what the uncached code gives, and never serve one input's result for
another: a changed meta sheet, other rule parameters (also ones equal in Python but not in
meaning, True and 1), another layout.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xlperf.form.excelmath import RuleError
from xlperf.form.layout import per_layout
from xlperf.form.metasheet import parse_meta
from xlperf.form.placing import layout_form
from xlperf.form.registry import builtin_layout, get_form
from xlperf.form.rules import KINDS
from xlperf.model.targets import _parse, parse_value
from xlperf.read import META_SHEET, container, read_return
from xlperf.read.book import Book
from xlperf.read.fieldmap import cached_field_map

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "templates_xlsx" / "self_evaluation.xlsx"


def meta_cells(path: Path) -> dict[tuple[str, str], object]:
    ret = read_return(path)
    return {ref: v for ref, v in ret.cells.items() if ref[0] == META_SHEET}


def test_field_map_from_cache_equals_a_fresh_parse() -> None:
    first, again = read_return(TEMPLATE), read_return(TEMPLATE)
    meta, field_map = parse_meta(meta_cells(TEMPLATE), META_SHEET)
    assert first.field_map == again.field_map == field_map and first.meta == again.meta == meta
    # every return gets its own dicts: changing one changes no other, nor the cache
    assert first.field_map is not again.field_map and first.meta is not again.meta
    first.field_map.clear()
    first.meta["form_id"] = "changed"
    assert read_return(TEMPLATE).field_map == field_map and read_return(TEMPLATE).meta == meta


def test_changed_meta_sheet_is_not_served_from_the_cache(tmp_path: Path) -> None:
    read_return(TEMPLATE)  # the template's map is cached now
    path = tmp_path / "moved.xlsx"
    shutil.copy(TEMPLATE, path)
    wb = openpyxl.load_workbook(path)
    ws = wb[META_SHEET]
    row = next(r for r in ws.iter_rows() if r[0].value == "budget_city")
    old = row[3].value
    row[3].value = "H99"
    wb.save(path)
    moved = read_return(path)
    assert moved.field_map["budget_city"].cell == "H99" != old
    assert (moved.meta, moved.field_map) == parse_meta(meta_cells(path), META_SHEET)
    assert read_return(TEMPLATE).field_map["budget_city"].cell == old


def test_cache_key_tells_types_apart() -> None:
    def meta_of(value: object) -> dict[str, str]:
        book = Book(sheets=[META_SHEET], hidden=[], cells={}, formulas={}, no_cache=set(),
                              errors={}, names={})
        book.add_sheet_cells(META_SHEET, {(META_SHEET, "A1"): "version", (META_SHEET, "B1"): value})
        return cached_field_map(book, META_SHEET)[0]

    # 1.0 == True == 1 in Python, and hash alike; they read as different texts
    assert meta_of(1.0) == {"version": "1"}
    assert meta_of(True) == {"version": "True"}
    assert meta_of(1.0) == {"version": "1"}


def test_meta_sheet_cells_merge_like_the_book() -> None:
    book = Book(sheets=[], hidden=[], cells={}, formulas={}, no_cache=set(), errors={}, names={})
    book.add_sheet_cells("S", {("S", "A1"): "a", ("S", "B1"): "b"})
    book.add_sheet_cells("S", {("S", "B1"): "c"})  # a repeated sheet name
    assert book.sheet_cells["S"] == {k: v for k, v in book.cells.items() if k[0] == "S"}


_PROTECTION_PARTS = st.lists(st.sampled_from([
    b"<", b">", b"/>", b" ", b"x:", b"sheetProtection", b"sheetProtections", b' sheet="1"', b' sheet="true"',
    b' sheet="0"', b" password=\"AB\"", b"<sheetData>", b"</sheetData>", b"a", b"\n",
]), max_size=40).map(b"".join)


@settings(max_examples=400, derandomize=True, deadline=None)
@given(_PROTECTION_PARTS)
def test_protection_search_agrees_with_scanning_everything(data: bytes) -> None:
    assert container.is_protected(data) == (container._PROTECTION.search(data) is not None)


def test_rule_tree_cache_keys_by_value_and_type() -> None:
    tiers = KINDS["tiers"]
    params = {"bands": [[90, 10.0], [60, 5.0]], "else": 0}
    assert tiers.evaluate(params, 10.0, {"actual": 70}) == Decimal("5.00")
    assert tiers.evaluate(params, 10.0, {"actual": 70}) == Decimal("5.00")
    params["bands"][1][1] = 3.0  # the same dict, changed: a new rule
    assert tiers.evaluate(params, 10.0, {"actual": 70}) == Decimal("3.00")
    # a weight of True equals 1 in Python, but it is not a number here
    assert KINDS["yes_no"].evaluate({}, 1, {"actual": "是"}) == Decimal("1.00")
    with pytest.raises(RuleError, match="weight"):
        KINDS["yes_no"].evaluate({}, True, {"actual": "是"})
    # list sizes are part of the tree: a sum over three cells, then over two
    assert KINDS["sum"].evaluate({}, None, {"items": [1, 2, 3]}) == Decimal("6.00")
    assert KINDS["sum"].evaluate({}, None, {"items": [1, 2]}) == Decimal("3.00")
    # parameters without an exact key (a set) are not cached, and still checked
    with pytest.raises(RuleError):
        tiers.evaluate({"bands": {(90, 10.0)}, "else": 0}, 10.0, {"actual": 70})


def test_rule_formulas_unchanged_by_the_cache() -> None:
    refs = {"actual": "B1", "target": "C1"}
    first = KINDS["deduction"].formula({"step": 1, "direction": "above"}, 5.0, refs)
    assert KINDS["deduction"].formula({"step": 1, "direction": "above"}, 5.0, refs) == first
    assert KINDS["deduction"].formula({"step": 2, "direction": "above"}, 5.0, refs) != first


def test_per_layout_memoises_per_object() -> None:
    calls: list[object] = []

    @per_layout
    def keys(layout: object) -> list[str]:
        calls.append(layout)
        return sorted(builtin_layout("self_evaluation").cells)

    layout = builtin_layout("self_evaluation")
    assert keys(layout) is keys(layout) and len(calls) == 1
    other = layout_form(get_form("self_evaluation"))  # equal, but another object
    keys(other)
    assert len(calls) == 2
    assert layout.inputs() == other.inputs() and layout.inputs() is not layout.inputs()


@pytest.mark.parametrize("value", ["≥95%", "12台", "规范", " ≥ 90 % ", "约5次（按年计）", "", "无"])
@pytest.mark.parametrize("lenient", [False, True])
def test_parsed_texts_from_cache_equal_a_fresh_parse(value: str, lenient: bool) -> None:
    units = frozenset({"%", "台", "次"})
    assert parse_value(value, units, lenient) == _parse(value, units, lenient)
    assert parse_value(value, units, lenient) == _parse(value, units, lenient)


def test_numbers_are_parsed_every_time() -> None:
    zero, minus_zero = parse_value(0.0), parse_value(-0.0)
    assert zero is not None and minus_zero is not None
    assert repr(zero.number) == "0.0" and repr(minus_zero.number) == "-0.0"
