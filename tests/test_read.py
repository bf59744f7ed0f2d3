"""xlperf.read: returns made from the committed templates read back by key, in every format.

One module fixture fills the sample of every form (and a few variants) with openpyxl,
recalculates them with LibreOffice in one call, then converts the recalculated files to .xls and
.ods (one soffice call each). The tests compare what ``read_return`` gives with the samples and
with the Python evaluator.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from xlperf.excel.fill import fill_workbook
from xlperf.excel.recalc import recalculate
from xlperf.form.evaluate import evaluate
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.read import ReadError, Return, read_return
from xlperf.read import xlsx as xlsx_mod
from xlperf.read.book import Book
from xlperf.read.cells import SheetSink
from xlperf.read.fastsheet import Fallback, _decode, _shared_strings_only, sheet_fast, strings_fast
from xlperf.read.guard import inspect_file
from xlperf.read.treesheet import sheet_tree, strings_tree

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates_xlsx"
SAMPLES = ROOT / "xlperf" / "samples"
FORMS = sorted(builtin_forms())
TEXT_AMOUNT = "约四十万元"


def sample(form: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{form}.json").read_text(encoding="utf-8"))
    return data


def field_types(form: str) -> dict[str, str]:
    layout = builtin_layout(form)
    return {k: p.field.type for k, (_, p) in layout.cells.items() if p.field is not None}


def expected_input(value: Any, ftype: str) -> Any:
    if ftype == "date" and isinstance(value, str):
        return dt.date.fromisoformat(value)
    if ftype in ("year", "integer") and isinstance(value, int | float):
        return int(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return pytest.approx(float(value), abs=1e-9)
    return value


def expected_results(form: str, values: dict[str, Any]) -> dict[str, Any]:
    """The Python evaluator's result for every formula key, in the reader's shapes."""
    out: dict[str, Any] = {}
    for key, result in evaluate(builtin_layout(form), values).items():
        if isinstance(result, Decimal):
            out[key] = pytest.approx(float(result), abs=1e-9)
        else:
            out[key] = result or None
    return out


@dataclass(frozen=True)
class Files:
    filled: dict[str, Path]  # openpyxl-filled, not recalculated
    recalc: dict[str, Path]  # recalculated by LibreOffice (.xlsx)
    xls: dict[str, Path]
    ods: dict[str, Path]
    xls_renamed: Path  # an .xls named .xlsx
    far_xls: Path  # an .xls whose one cell sits in its last row and column


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory,
          lo_recalc: Callable[[Sequence[Path], Path], dict[Path, Path]]) -> Files:
    root = tmp_path_factory.mktemp("read")
    filled: dict[str, Path] = {}
    for form in FORMS:
        filled[form] = fill_workbook(TEMPLATES / f"{form}.xlsx", sample(form), root / "filled" / f"{form}.xlsx")
    text = dict(sample("self_evaluation"), budget_city=TEXT_AMOUNT)
    filled["text_amount"] = fill_workbook(TEMPLATES / "self_evaluation.xlsx", text, root / "filled" / "text_amount.xlsx")
    out = lo_recalc(list(filled.values()), root / "recalc")
    recalc = {name: out[path] for name, path in filled.items()}
    sources = [recalc[form] for form in FORMS]
    far = root / "far" / "far.xlsx"
    far.parent.mkdir()
    wb = openpyxl.Workbook()
    wb.active["IV65536"] = 1
    wb.save(far)
    recalculate([*sources, far], root / "xls", fmt="xls")
    recalculate(sources, root / "ods", fmt="ods")
    xls = {form: root / "xls" / f"{form}.xls" for form in FORMS}
    ods = {form: root / "ods" / f"{form}.ods" for form in FORMS}
    renamed = root / "renamed" / "self_evaluation.xlsx"
    renamed.parent.mkdir()
    shutil.copy(xls["self_evaluation"], renamed)
    return Files(filled, recalc, xls, ods, renamed, root / "xls" / "far.xls")


def formula_keys(ret: Return) -> set[str]:
    return {k for k, ref in ret.field_map.items() if ref.kind == "formula"}


# -- recalculated .xlsx ----------------------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_recalculated_return_reads_back_every_value(files: Files, form: str) -> None:
    ret = read_return(files.recalc[form])
    values = sample(form)
    types = field_types(form)
    assert (ret.file_kind, ret.form_id, ret.form_version) == ("xlsx", form, builtin_forms()[form].version)
    assert ret.notes == []
    assert set(ret.values) == set(ret.field_map) == set(builtin_layout(form).cells)
    for key, value in values.items():
        assert ret.values[key] == expected_input(value, types[key]), key
    for key, value in expected_results(form, values).items():
        assert ret.values[key] == value, key
    assert ret.cached_missing == []
    assert ret.missing_names == []
    formulas = formula_keys(ret)
    assert formulas == {calc.key for calc in builtin_layout(form).calcs}
    assert all((ret.formulas[k] or "").startswith("=") for k in formulas)
    assert all(ret.formulas[k] is None for k in ret.formulas if k not in formulas)
    assert set(ret.names) == {"xp_" + k for k in ret.field_map}
    assert ret.hidden_sheets == ["_xlperf"]
    assert all(ret.sheet_protected.values())


def test_self_evaluation_score_and_cells(files: Files) -> None:
    ret = read_return(files.recalc["self_evaluation"])
    assert ret.values["total_score"] == pytest.approx(96.35)
    assert ret.values["grade"] == "优"
    assert ret.values["start_date"] == dt.date(2019, 1, 1)
    assert ret.values["year"] == 2019 and isinstance(ret.values["year"], int)
    sheet, cell = ret.names["xp_total_score"]
    assert ret.cells[(sheet, cell)] == pytest.approx(96.35)
    assert ret.cell_formulas[(sheet, cell)] == ret.formulas["total_score"]
    label = ret.field_map["total_score"].label
    assert label in {v for (s, _), v in ret.cells.items() if s == sheet}  # printed labels are cells too
    assert ret.cells[("_xlperf", "A1")] == "form_id"


def test_text_in_amount_cell_stays_text(files: Files) -> None:
    for path in (files.filled["text_amount"], files.recalc["text_amount"]):
        ret = read_return(path)
        assert ret.values["budget_city"] == TEXT_AMOUNT
        assert ret.values["start_date"] == dt.date(2019, 1, 1)


# -- openpyxl-filled, never calculated ------------------------------------------------------------
@pytest.mark.parametrize("form", FORMS)
def test_openpyxl_filled_return_has_no_cached_results(files: Files, form: str) -> None:
    ret = read_return(files.filled[form])
    assert set(ret.cached_missing) == formula_keys(ret)
    assert all(ret.values[k] is None for k in ret.cached_missing)
    assert all((ret.formulas[k] or "").startswith("=") for k in ret.cached_missing)
    types = field_types(form)
    for key, value in sample(form).items():
        assert ret.values[key] == expected_input(value, types[key]), key


# -- .xls and .ods ---------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["xls", "ods"])
@pytest.mark.parametrize("form", FORMS)
def test_xls_and_ods_read_values_without_formulas(files: Files, form: str, fmt: str) -> None:
    path = getattr(files, fmt)[form]
    ret = read_return(path)
    ref = read_return(files.recalc[form])
    assert ret.file_kind == fmt and not ret.extension_mismatch
    assert ret.form_id == form and ret.field_map == ref.field_map
    assert ret.formulas == {} and ret.names == {}
    assert any("公式" in n for n in ret.notes)
    assert "_xlperf" in ret.sheets and ret.hidden_sheets == ["_xlperf"]  # hidden sheet survives LO
    for key, value in ref.values.items():
        if fmt == "xls" and key in ret.cached_missing:
            continue  # calamine reads text results of .xls formulas as 0
        assert ret.values[key] == value, key
    if fmt == "ods":
        assert ret.cached_missing == []
    else:
        assert set(ret.cached_missing) <= formula_keys(ret)


def test_xls_formula_results_read_back(files: Files) -> None:
    # Saved by a spreadsheet that calculated (as Excel or WPS save an .xls): text results too.
    ret = read_return(files.xls["self_evaluation"])
    assert ret.values["grade"] == "优" and "grade" not in ret.cached_missing
    assert ret.values["total_score"] == pytest.approx(96.35)


def test_renamed_xls_is_read_by_content(files: Files) -> None:
    kind = inspect_file(files.xls_renamed)
    assert kind.kind == "xls" and kind.suffix == ".xlsx" and kind.extension_mismatch
    ret = read_return(files.xls_renamed)
    assert ret.file_kind == "xls" and ret.extension_mismatch
    assert ret.values["total_score"] == pytest.approx(96.35)
    assert ret.values["start_date"] == dt.date(2019, 1, 1)
    assert any(".xlsx" in n and ".xls 格式" in n for n in ret.notes)


# -- the two xlsx readers agree --------------------------------------------------------------------
def test_fast_and_tree_readers_agree(files: Files) -> None:
    paths = [*files.recalc.values(), *files.filled.values(), *TEMPLATES.glob("*.xlsx")]
    for path in paths:
        kind = inspect_file(path)
        assert xlsx_mod.read_xlsx(kind, fast=True) == xlsx_mod.read_xlsx(kind, fast=False), path


SHEET = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c>
<c r="D1" s="3"/><c r="E1" t="b"><v>1</v></c><c r="F1" t="e"><v>#DIV/0!</v></c></row>
<row r="2"><c r="A2"><f t="shared" ref="A2:A4" si="0">B2*2+$C$1</f><v>4</v></c>
<c r="B2"><v>2</v></c><c r="C2" t="inlineStr"><is><r><t>a &amp; </t></r><r><rPr><b/></rPr><t>b_x000D_</t></r>
<rPh sb="0" eb="1"><t>ignored</t></rPh></is></c><c r="D2" t="str"><f>"x"&amp;"&lt;y&gt;"</f><v>x&lt;y&gt;</v></c>
<c r="E2" t="str"><f>""</f><v></v></c><c r="F2"><f>1/0</f><v/></c></row>
<row r="3"><c r="A3"><f t="shared" si="0"/><v>6</v></c><c r="B3" s="2" t="n"><v>3.5</v></c>
<c r="C3" t="str"><v>a_x000D_b</v></c></row>
<row r="4"><c r="A4"><f t="shared" si="0"/></c><c r="B4" t="d"><v>2024-01-02T00:00:00</v></c></row>
</sheetData></worksheet>"""
STRINGS = """<?xml version="1.0" encoding="UTF-8"?>
<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="3" uniqueCount="3">
<si><t xml:space="preserve">项目 &lt;一&gt;</t></si><si><r><t>富</t></r><r><rPr><i/></rPr><t>文本</t></r></si><si><t/></si></sst>"""


@pytest.mark.parametrize("prefix", ["", "x:"])
def test_sheet_parts_by_hand(prefix: str) -> None:
    """Shared formulas, rich and inline text, entities, booleans, errors, missing results."""
    sheet, strings = SHEET, STRINGS
    if prefix:
        for doc in ("sheet", "strings"):
            text = sheet if doc == "sheet" else strings
            text = text.replace('xmlns="', f'xmlns:{prefix[:-1]}="')
            text = text.replace("</", "\0").replace("<", "<" + prefix).replace("\0", "</" + prefix)
            text = text.replace("<" + prefix + "?xml", "<?xml")
            if doc == "sheet":
                sheet = text
            else:
                strings = text
    results = []
    for fast in (True, False):
        book = Book(sheets=["S"], hidden=[], cells={}, formulas={}, no_cache=set(), errors={},
                              names={})
        if fast:
            ss = strings_fast(strings.encode())
        else:
            ss = strings_tree(strings.encode())
        sink = SheetSink("S", ss, book)
        (sheet_fast if fast else sheet_tree)(sheet.encode(), sink)
        sink.finish()
        results.append(book)
    fast_book, tree_book = results
    assert fast_book == tree_book
    cells = fast_book.cells
    assert cells[("S", "A1")] == "项目 <一>"
    assert cells[("S", "B1")] == "富文本"
    assert ("S", "C1") not in cells and ("S", "D1") not in cells  # empty string, empty cell
    assert cells[("S", "E1")] is True
    assert cells[("S", "F1")] == "#DIV/0!" and fast_book.errors == {("S", "F1"): "#DIV/0!"}
    assert cells[("S", "C2")] == "a & b\r"
    assert cells[("S", "D2")] == "x<y>"
    assert cells[("S", "C3")] == "a\rb"
    assert cells[("S", "B4")] == 45293.0  # 2024-01-02 as a serial
    formulas = fast_book.formulas
    assert formulas[("S", "A2")] == "=B2*2+$C$1"
    assert formulas[("S", "A3")] == "=B3*2+$C$1"  # shared: moved like Excel would
    assert formulas[("S", "A4")] == "=B4*2+$C$1"
    assert formulas[("S", "D2")] == '="x"&"<y>"'
    assert fast_book.no_cache == {("S", "F2"), ("S", "A4")}  # E2 has an empty *string* result


def test_fast_path_falls_back_on_comments() -> None:
    sheet = SHEET.replace("<row r=\"3\">", "<!-- <c r=\"Z9\"><v>1</v></c> --><row r=\"3\">")
    book = Book(sheets=["S"], hidden=[], cells={}, formulas={}, no_cache=set(), errors={},
                          names={})
    sink = SheetSink("S", strings_tree(STRINGS.encode()), book)
    with pytest.raises(Fallback):
        sheet_fast(sheet.encode(), sink)
    sink.reset()
    sheet_tree(sheet.encode(), sink)
    sink.finish()
    assert ("S", "Z9") not in book.cells and book.cells[("S", "B3")] == 3.5


@pytest.mark.parametrize("odd", ['<c><v>1</v></c>', '<c/>', '<c\tr="Z9"><v>1</v></c>', '<c\nr="Z9"><v>1</v></c>',
                                 '<?pi x?>', '<![CDATA[<c r="Z9"><v>1</v></c>]]>'])
def test_fast_path_falls_back_on_cells_it_does_not_read(odd: str) -> None:
    """Cells opened otherwise than "<c ", processing instructions and CDATA go to the element tree
    (found by counting "<c" against the cells the pattern matched and by searches, not by a
    regular expression)."""
    sheet = SHEET.replace('<row r="3">', f'<row r="9">{odd}</row><row r="3">')
    book = Book(sheets=["S"], hidden=[], cells={}, formulas={}, no_cache=set(), errors={}, names={})
    sink = SheetSink("S", strings_tree(STRINGS.encode()), book)
    with pytest.raises(Fallback):
        sheet_fast(sheet.encode(), sink)


SHARED_ONLY = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" s="15" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>
<row r="2"><c r="A2" s="15" t="s"><v>2</v></c><c r="B2" t="s"><v>{last}</v></c></row>
</sheetData></worksheet>"""


@pytest.mark.parametrize(("last", "odd", "one_pass"), [
    ("0", "", True),  # every cell a shared string's index, as in the hidden meta sheet
    ("7", "", False),  # an index past the strings: the general loop notes it
    ("0", '<c r="C2" t="s" s="1"><v>1</v></c>', False),  # attributes in another order
    ("0", '<c r="C2"><v>3</v></c>', False),  # a number among the strings
    ("0", '<c><v>1</v></c>', False),  # a cell the patterns do not read: the element tree
])
def test_sheet_of_shared_strings_only_reads_like_the_tree(last: str, odd: str, one_pass: bool) -> None:
    """A sheet whose every cell is a shared string's index is filed in one pass; anything else in
    it goes the general way, and both give what the element tree gives."""
    sheet = SHARED_ONLY.format(last=last).replace("</row>\n</sheetData>", odd + "</row>\n</sheetData>").encode()
    books = []
    for reader in (sheet_fast, sheet_tree):
        book = Book(sheets=["S"], hidden=[], cells={}, formulas={}, no_cache=set(), errors={}, names={})
        sink = SheetSink("S", strings_tree(STRINGS.encode()), book)
        try:
            reader(sheet, sink)
        except Fallback:
            sink.reset()
            sheet_tree(sheet, sink)
        sink.finish()
        books.append(book)
    assert books[0] == books[1]
    cells = books[0].cells
    assert cells[("S", "A1")] == "项目 <一>" and cells[("S", "B1")] == "富文本"
    assert ("S", "A2") not in cells  # an empty string is no value
    if last == "7":
        assert ("S", "B2") not in cells and books[0].notes == ["工作表“S”有 1 个单元格引用了不存在的共享字符串，按空值处理"]
    else:
        assert cells[("S", "B2")] == "项目 <一>"
    text, pat = _decode(sheet)
    body = text[text.find("<sheetData"):text.find("</sheetData>")]
    sink = SheetSink("S", strings_tree(STRINGS.encode()), Book(sheets=["S"], hidden=[], cells={}, formulas={},
                                                              no_cache=set(), errors={}, names={}))
    assert _shared_strings_only(pat, body, body.count("<c"), sink) is one_pass
    assert bool(sink.cells) is one_pass  # nothing filed when it declines


def test_fast_path_reads_long_formulas_and_text_results_like_the_tree() -> None:
    """A cell's other content (formula, cached text) is read in runs of text between "<"."""
    formula = "IF(B2&gt;0," + "+".join(f"B{i}" for i in range(2, 400)) + ',"&lt;无&gt;")'
    sheet = SHEET.replace('<row r="3">', f'<row r="7"><c r="A7" t="str"><f>{formula}</f><v>x &lt; y</v></c>'
                                         '<c r="B7" s="2"><f>B2*2</f><v>4</v></c></row><row r="3">')
    books = []
    for reader in (sheet_fast, sheet_tree):
        book = Book(sheets=["S"], hidden=[], cells={}, formulas={}, no_cache=set(), errors={}, names={})
        sink = SheetSink("S", strings_tree(STRINGS.encode()), book)
        reader(sheet.encode(), sink)
        sink.finish()
        books.append(book)
    assert books[0] == books[1]
    assert books[0].cells[("S", "A7")] == "x < y" and books[0].cells[("S", "B7")] == 4.0
    assert books[0].formulas[("S", "A7")] == "=" + formula.replace("&gt;", ">").replace("&lt;", "<")


# -- structure changes -----------------------------------------------------------------------------
def test_missing_defined_name_falls_back_to_field_map(files: Files, tmp_path: Path) -> None:
    src = files.recalc["self_evaluation"]
    path = tmp_path / "去掉名称.xlsx"
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/workbook.xml":
                text = data.decode()
                start = text.index('<definedName function="false" hidden="false" name="xp_budget_city"')
                end = text.index("</definedName>", start) + len("</definedName>")
                text = text[:start] + text[end:]
                text = text.replace(">自评表!$G$8<", ">#REF!<")  # xp_budget_other now broken
                data = text.encode()
            zout.writestr(info, data)
    ret = read_return(path)
    assert ret.values["budget_city"] == 40.0 and ret.values["budget_other"] == 0.0
    assert set(ret.missing_names) == {"budget_city", "budget_other"}
    assert "xp_budget_city" not in ret.names
    assert any("budget_city" in n and "定义名称" in n for n in ret.notes)


def test_damaged_meta_sheet_is_not_xlperf(tmp_path: Path) -> None:
    path = tmp_path / "坏元数据.xlsx"
    wb = openpyxl.Workbook()
    wb.create_sheet("_xlperf")["A1"] = "nothing"
    wb.save(path)
    with pytest.raises(ReadError) as info:
        read_return(path)
    assert info.value.code == "NOT_XLPERF"
    assert "_xlperf" in info.value.message


def test_template_reads_with_its_own_cached_results() -> None:
    ret = read_return(TEMPLATES / "self_evaluation.xlsx")
    assert ret.form_id == "self_evaluation"
    assert all(ret.values[k] is None for k, ref in ret.field_map.items() if ref.kind == "input")
    # xlsxwriter writes the evaluator's results for blanks; an empty text result is an untyped
    # empty <v>, which is all openpyxl leaves too: no result.
    blank = expected_results("self_evaluation", {})
    assert set(ret.cached_missing) == {k for k, v in blank.items() if v is None}
    assert all(ret.values[k] == v for k, v in blank.items())


def test_huge_grids_and_sheets_are_refused(files: Files, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ReadError) as info:
        read_return(files.far_xls)
    assert info.value.code == "FILE_TOO_LARGE"
    assert "far.xls" in info.value.message and "65536" in info.value.message
    monkeypatch.setattr(xlsx_mod, "MAX_ELEMENTS", 100)
    with pytest.raises(ReadError) as info:
        read_return(files.recalc["self_evaluation"])
    assert info.value.code == "FILE_TOO_LARGE"
