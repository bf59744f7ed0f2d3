"""Checks that a return is still the template it was made from: formulas, fixed weights and
texts, defined names, field map, sheets, version and protection.

The expected formulas are the template writer's own (:func:`xlperf.form.formulas.template_formulas`),
compared after normalising what spreadsheet programs change when they re-save a file without
changing its meaning (:func:`xlperf.form.formulas.normalise_formula`).

Interplay with ``scores``: ``FORMULA_OVERWRITTEN`` is reported for every computed cell that
holds a plain value, right or wrong; whether the value is wrong is ``SCORE_MISMATCH``,
``TOTAL_MISMATCH`` or ``GRADE_MISMATCH`` there (see its docstring). A field on a missing sheet is
left to ``STRUCTURE_CHANGED`` rather than reported cell by cell.
"""

from __future__ import annotations

from collections.abc import Iterator

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.checks.base import Check, Context
from xlperf.checks.scorecard import located, score_summary, summary_key
from xlperf.checks.structure import rows_changed
from xlperf.form.formulas import normalise_formula, template_formulas
from xlperf.form.layout import FormLayout, Placed, per_layout
from xlperf.form.metasheet import META_SHEET, NAME_PREFIX
from xlperf.form.signature import squeeze
from xlperf.model.values import as_number as number
from xlperf.model.values import is_blank, plain
from xlperf.model.values import show_cell as show
from xlperf.read.anchors import ANCHOR_STYLES

LOCKED_TEXT_STYLES = ANCHOR_STYLES
"""Placed cells whose printed text is part of the form (the same cells the reader finds rows by)."""
MAX_LISTED = 5
"""Fields named in one structure finding; the rest are counted."""
SHOWN_FORMULA_CHARS = 120

_REDOWNLOAD = "请下载最新模板重新填报"


# -- formulas ---------------------------------------------------------------------------------
def _formula_cells(ctx: Context) -> Iterator[tuple[str, Placed]]:
    """Computed cells that the file has a place for (xlsx only: other formats give no formulas)."""
    if not ctx.ret.formulas:
        return
    for key, placed in _computed_cells(ctx.layout):
        if key in ctx.ret.formulas and located(ctx, key):
            yield key, placed


@per_layout
def _computed_cells(layout: FormLayout) -> tuple[tuple[str, Placed], ...]:
    return tuple((key, placed) for key, (_, placed) in layout.cells.items() if placed.calc is not None)


def formula_overwritten(ctx: Context) -> None:
    for key, placed in _formula_cells(ctx):
        if ctx.ret.formulas[key] is not None:
            continue
        value = ctx.ret.values.get(key)
        what = "被清空" if is_blank(value) else f"被直接填写的 {show(value)} 覆盖"
        ctx.flag(key, f"“{placed.label}”应由公式自动计算，文件中的公式已{what}：请恢复模板公式"
                      f"（可从模板复制该单元格），得分、合计和等次不要手工填写",
                 expected="公式", found=value if not is_blank(value) else "空白")


def formula_altered(ctx: Context) -> None:
    expected = template_formulas(ctx.layout)
    for key, placed in _formula_cells(ctx):
        found = ctx.ret.formulas[key]
        if found is None or key not in expected:
            continue
        text, normal = expected[key]
        if found == text or normalise_formula(found, ctx.layout.cells[key][0]) == normal:
            continue
        ctx.flag(key, f"“{placed.label}”的计算公式与模板不符（公式被改动）：请恢复模板公式，不要修改计算公式",
                 expected=text, found=found[:SHOWN_FORMULA_CHARS])


# -- fixed numbers and texts ------------------------------------------------------------------
def _a1(placed: Placed) -> str:
    return xl_rowcol_to_cell(placed.row, placed.col)


@per_layout
def _places(layout: FormLayout) -> dict[str, tuple[str, str]]:
    """(sheet, A1 cell) of every keyed cell, as the template places it."""
    return {key: (sheet, _a1(placed)) for key, (sheet, placed) in layout.cells.items()}


@per_layout
def _unkeyed_places(layout: FormLayout) -> dict[int, str]:
    """A1 cell of every placed cell by id (placed cells are kept alive by the layout)."""
    return {id(placed): _a1(placed) for sheet in layout.sheets for placed in sheet.cells}


def _fixed_cells(ctx: Context, styles: tuple[str, ...]) -> Iterator[tuple[str, str, Placed]]:
    """(sheet, A1 cell, placed) of fixed cells of these styles on sheets the file still has."""
    by_styles = _cells_by_styles(ctx.layout)
    found = by_styles.get(styles)
    if found is None:
        a1 = _unkeyed_places(ctx.layout)
        found = by_styles[styles] = tuple((sheet.name, a1[id(placed)], placed) for sheet in ctx.layout.sheets
                                          for placed in sheet.cells if placed.style in styles)
    sheets = set(ctx.ret.sheets)
    return (cell for cell in found if cell[0] in sheets)


@per_layout
def _cells_by_styles(layout: FormLayout) -> dict[tuple[str, ...], tuple[tuple[str, str, Placed], ...]]:
    """(sheet, A1 cell, placed) of every placed cell, by the styles asked for (filled on demand)."""
    return {}


def weight_altered(ctx: Context) -> None:
    for sheet, cell, placed in _fixed_cells(ctx, ("fixed",)):
        if placed.number is None:
            continue
        if placed.key:
            if not located(ctx, placed.key):
                continue
            found = ctx.ret.values.get(placed.key)
        else:
            found = ctx.ret.cells.get((sheet, cell))
        x = number(found)
        if x is not None and abs(x - placed.number) < 1e-9:
            continue
        name = f"“{placed.label}”" if placed.label else f"{sheet} {cell} 的分值"
        shown = show(found) if x is None else plain(x)
        ctx.flag(placed.key, f"{name}应为 {plain(placed.number)}（表单规定），文件中为 {shown}："
                             f"分值不可修改，{_REDOWNLOAD}",
                 expected=placed.number, found=found if found is not None else "空白",
                 sheet=sheet, cell=cell)


@per_layout
def _locked_texts(layout: FormLayout) -> dict[int, str]:
    """The printed text of every locked text cell, squeezed, by id of the placed cell."""
    return {id(placed): squeeze(placed.text) for sheet in layout.sheets for placed in sheet.cells
            if placed.style in LOCKED_TEXT_STYLES}


def locked_cell_altered(ctx: Context) -> None:
    squeezed = _locked_texts(ctx.layout)
    for sheet, cell, placed in _fixed_cells(ctx, LOCKED_TEXT_STYLES):
        if not placed.text.strip():
            continue
        found = ctx.ret.cells.get((sheet, cell))
        if found == placed.text or isinstance(found, str) and squeeze(found) == squeezed[id(placed)]:
            continue
        if is_blank(found):
            what = "已被删除"
        else:
            what = f"被改为 {show(found)}"
        template = placed.text.replace("\n", "")
        ctx.flag(None, f"表格中固定的文字“{template}”{what}：模板的标题、标签和评分标准不可修改，{_REDOWNLOAD}",
                 expected=template, found=found if found is not None else "空白",
                 sheet=sheet, cell=cell)


# -- structure, version, protection, format ---------------------------------------------------
def _listed(layout: FormLayout, keys: list[str]) -> str:
    labels = [layout.cells[k][1].label if k in layout.cells else k for k in keys[:MAX_LISTED]]
    more = f" 等 {len(keys)} 项" if len(keys) > MAX_LISTED else ""
    return "、".join(f"“{x}”" for x in labels) + more


def structure_changed(ctx: Context) -> None:
    ret, layout = ctx.ret, ctx.layout
    for sheet in layout.sheets:
        if sheet.name not in ret.sheets:
            ctx.flag(None, f"工作表“{sheet.name}”不存在（可能被改名或删除），其中的内容无法读取：{_REDOWNLOAD}，"
                           "不要改动工作表名称", expected=sheet.name, found="缺失", sheet=sheet.name, cell="")
    # Fields on a missing sheet are covered by the finding above, those on a sheet whose rows
    # changed by its one finding (the names and field map moved with the rows, or did not).
    rows_moved = rows_changed(ctx)
    expected = _places(layout)
    if rows_moved or any(sheet.name not in ret.sheets for sheet in layout.sheets):
        expected = {key: where for key, where in expected.items()
                    if where[0] in ret.sheets and where[0] not in rows_moved}
    fm = ret.field_map
    unknown = sorted(k for k in fm if k not in layout.cells)
    # .xls/.ods keep no defined names: FORMULAS_UNVERIFIED says so
    names = ret.names if ret.file_kind == "xlsx" else None
    unmapped: list[str] = []
    missing_names: list[str] = []
    moved: list[str] = []
    for k, where in expected.items():
        ref = fm.get(k)
        if ref is None:
            unmapped.append(k)
        shifted = ref is not None and (ref.sheet, ref.cell) != where
        if names is not None:
            loc = names.get(NAME_PREFIX + k)
            if loc is None:
                missing_names.append(k)
            elif loc != where:
                shifted = True
        if shifted:
            moved.append(k)
    problems = [
        (missing_names, "的定义名称缺失或失效"),
        (moved, "的位置与模板不符（可能插入、删除或移动了行列）"),
        (unmapped, "不在文件的字段表（隐藏的 _xlperf 工作表）中"),
    ]
    for keys, what in problems:
        if keys:
            ctx.flag(keys[0], f"报表结构被改动：{_listed(layout, keys)}{what}：{_REDOWNLOAD}，不要改动表格结构",
                     expected="与模板一致", found=f"{len(keys)} 项不符")
    if unknown:
        ctx.flag(None, f"报表结构被改动：字段表中有模板没有的字段 {_listed(layout, unknown)}：{_REDOWNLOAD}",
                 expected="与模板一致", found=f"{len(unknown)} 项多余", sheet=META_SHEET, cell="")


def _form_place(ctx: Context) -> tuple[str, str]:
    """A form-wide finding goes to the top-left cell of the first sheet (the title)."""
    first = ctx.layout.sheets[0].name if ctx.layout.sheets else ""
    return first, "A1" if first else ""


def form_version_mismatch(ctx: Context) -> None:
    found = (ctx.ret.form_version or "").strip()
    wanted = str(ctx.layout.spec.version).strip()
    if found == wanted:
        return
    sheet, cell = _form_place(ctx)
    ctx.flag(None, f"报表模板版本为 {found or '（未标明）'}，现行版本为 {wanted}：模板已更新，{_REDOWNLOAD}",
             expected=wanted, found=found or "空白", sheet=sheet, cell=cell)


def protection_removed(ctx: Context) -> None:
    for sheet in [*(s.name for s in ctx.layout.sheets), META_SHEET]:
        if ctx.ret.sheet_protected.get(sheet) is False:
            ctx.flag(None, f"工作表“{sheet}”的保护已被撤销，锁定的标签、分值和公式可能被改动："
                           "请使用下发的模板填报，不要撤销工作表保护",
                     expected="受保护", found="未保护", sheet=sheet, cell="")


def formulas_unverified(ctx: Context) -> None:
    kind = ctx.ret.file_kind
    if kind == "xlsx":
        return
    key = summary_key(ctx.layout)
    sheet, cell = _form_place(ctx)
    ctx.flag(key, f"文件为 .{kind} 格式，不是模板的 .xlsx 格式：已读取填报的数值并重新计算了得分{score_summary(ctx)}，"
                  "但无法核对公式、定义名称和工作表保护是否被改动。请使用下发的 .xlsx 模板填报，并按 .xlsx 格式保存后重新报送",
             expected=".xlsx", found=f".{kind}", sheet=sheet, cell=cell)


CHECKS: tuple[Check, ...] = (
    Check("FORMULA_OVERWRITTEN", formula_overwritten),
    Check("FORMULA_ALTERED", formula_altered),
    Check("WEIGHT_ALTERED", weight_altered),
    Check("LOCKED_CELL_ALTERED", locked_cell_altered),
    Check("STRUCTURE_CHANGED", structure_changed),
    Check("FORM_VERSION_MISMATCH", form_version_mismatch),
    Check("PROTECTION_REMOVED", protection_removed),
    Check("FORMULAS_UNVERIFIED", formulas_unverified),
)
