"""Place every section of a form spec in cells: ``layout_form`` turns a :class:`FormSpec` into a
:class:`~xlperf.form.layout.FormLayout` (grids placed like HTML tables, repeating tables with
fixed groups, scorecards); :mod:`xlperf.form.registry` keeps the layouts of the forms xlperf knows."""

from __future__ import annotations

from xlperf.form.layout import FormLayout, Highlight, Placed, SheetLayout, operand_keys
from xlperf.form.rules import KINDS, qualitative_levels
from xlperf.form.spec import (
    YES_NO,
    Calc,
    Field,
    FormSpec,
    GridSection,
    PageBreak,
    ScoreBlock,
    ScorecardSection,
    ScoreRow,
    SheetSpec,
    TableSection,
    TitleSection,
)
from xlperf.form.yamlsrc import SpecError, Where

__all__ = ["layout_form"]


class _Sheet:
    """Places sections one below the other, tracking merged areas like an HTML table."""

    def __init__(self, spec: SheetSpec, form: _Form) -> None:
        self.spec = spec
        self.form = form
        self.width = len(spec.widths)
        self.out = SheetLayout(spec)
        self.row = 0

    def put(self, placed: Placed) -> Placed:
        self.out.cells.append(placed)
        if placed.key:
            if placed.key in self.form.cells:
                raise SpecError(None, placed.key, "键重复 (duplicate key)")
            self.form.cells[placed.key] = (self.spec.name, placed)
        if placed.calc is not None:
            self.form.calcs.append(placed.calc)
        self.out.rows = max(self.out.rows, placed.last_row + 1)
        return placed

    def span(self, row: int, col: int, cols: int, rows: int = 1, **kw: object) -> Placed:
        return self.put(Placed(row, col, row + rows - 1, col + cols - 1, **kw))  # type: ignore[arg-type]

    def input(self, row: int, col: int, cols: int, fld: Field, rows: int = 1) -> Placed:
        return self.span(row, col, cols, rows, style="input", key=fld.key, label=fld.label, field=fld)

    def formula(self, row: int, col: int, cols: int, calc: Calc, rows: int = 1) -> Placed:
        return self.span(row, col, cols, rows, style="formula", key=calc.key, label=calc.label,
                         calc=calc)

    def fixed_number(self, row: int, col: int, cols: int, key: str, label: str, value: float,
                     rows: int = 1) -> Placed:
        return self.span(row, col, cols, rows, style="fixed", key=key, label=label, number=value)

    # -- sections -----------------------------------------------------------------
    def title(self, sec: TitleSection) -> None:
        self.span(self.row, 0, self.width, style=sec.style, text=sec.text)
        height = sec.height or (36.0 if sec.style == "title" else None)
        if height:
            self.out.heights[self.row] = height
        self.row += 1

    def grid(self, sec: GridSection) -> None:
        taken: set[tuple[int, int]] = set()
        top = self.row
        for i, cells in enumerate(sec.rows):
            r, c = top + i, 0
            for cell in cells:
                while (r, c) in taken:
                    c += 1
                if c + cell.span > self.width:
                    raise SpecError(sec.where, "grid", f"第 {i + 1} 行超出表格宽度 {self.width} 列")
                for rr in range(r, r + cell.rowspan):
                    for cc in range(c, c + cell.span):
                        taken.add((rr, cc))
                if cell.field is not None:
                    self.input(r, c, cell.span, cell.field, cell.rowspan)
                elif cell.number is not None:
                    self.fixed_number(r, c, cell.span, cell.key, cell.text, cell.number, cell.rowspan)
                elif cell.calc is not None:
                    self.formula(r, c, cell.span, cell.calc, cell.rowspan)
                else:
                    self.span(r, c, cell.span, cell.rowspan, style=cell.style, text=cell.text)
                c += cell.span
            missing = [cc for cc in range(self.width) if (r, cc) not in taken]
            if missing:
                raise SpecError(sec.where, "grid",
                                f"第 {i + 1} 行只占了 {self.width - len(missing)} 列，表格宽 {self.width} 列")
            if sec.heights[i]:
                self.out.heights[r] = float(sec.heights[i] or 0)
        last = top + len(sec.rows)
        if any(rr >= last for rr, _ in taken):
            raise SpecError(sec.where, "grid", "rowspan 超出了本分区的最后一行")
        self.row = last

    def table(self, sec: TableSection) -> None:
        width = sec.side_span + sum(c.span for c in sec.columns)
        if width != self.width:
            raise SpecError(sec.where, sec.key, f"表格各列共 {width} 列，工作表宽 {self.width} 列")
        top = self.row
        if sec.side:
            self.span(top, 0, sec.side_span, sec.rows + 1, style="label", text=sec.side)
        col = sec.side_span
        starts = {}
        for column in sec.columns:
            starts[column.key] = col
            self.span(top, col, column.span, style="header", text=column.label)
            col += column.span
        group_of = [g for g in sec.groups for _ in range(g.rows)]
        title = sec.title or sec.key
        for n in range(1, sec.rows + 1):
            r = top + n
            if sec.height:
                self.out.heights[r] = sec.height
            for column in sec.columns:
                c, key = starts[column.key], sec.row_key(n, column.key)
                label = f"{title}第{n}行{column.label}"
                if column.fixed:
                    self.fixed_group_cell(sec, group_of, n, column.key, r, c, column.span)
                elif column.calc:
                    operands = {name: sec.row_key(n, ref) for name, ref in column.calc_operands.items()}
                    calc = Calc(key, label, column.calc, dict(operands), {}, sec.where,
                                percent=column.calc == "completion")
                    self.formula(r, c, column.span, calc)
                    if column.calc == "row_score":  # a 定性 row's typed score outside its level's band
                        self.form.highlights.append(Highlight(
                            self.spec.name, operands["typed"], "row_qualitative_band", operands))
                else:
                    fld = Field(key=key, label=label, type=column.type, where=sec.where,
                                choices=column.choices, strict_choices=column.strict_choices,
                                hint=column.hint, min=column.min, max=column.max)
                    self.input(r, c, column.span, fld)
            if "unit" in starts:
                # A value whose unit is "%" is typed as 95% (0.95): show it as a percentage.
                for column in sec.columns:
                    if column.type == "value" and not column.fixed:
                        self.form.highlights.append(Highlight(
                            self.spec.name, sec.row_key(n, column.key), "unit_is_percent",
                            {"unit": sec.row_key(n, "unit")}, style="percent"))
            if sec.missed_target:
                m = sec.missed_target
                self.form.highlights.append(Highlight(
                    self.spec.name, sec.row_key(n, m.reason), "missed_target_no_reason",
                    {name: sec.row_key(n, getattr(m, name)) for name in ("op", "target", "actual", "reason")},
                    {"overshoot": m.overshoot},
                ))
        self.row = top + sec.rows + 1

    def fixed_group_cell(self, sec: TableSection, group_of: list, n: int, key: str, r: int, c: int,
                         cols: int) -> None:
        # Merge a fixed label down over the following rows that share it and every label left of it.
        fixed = [col.key for col in sec.columns if col.fixed]
        chain = fixed[: fixed.index(key) + 1]

        def same(a: int, b: int) -> bool:
            return all(group_of[a - 1].values[k] == group_of[b - 1].values[k] for k in chain)

        if n > 1 and same(n, n - 1):
            return
        last = n
        while last < sec.rows and same(last + 1, n):
            last += 1
        self.span(r, c, cols, last - n + 1, style="label", text=group_of[n - 1].values[key])

    # -- scorecard ----------------------------------------------------------------
    def scorecard(self, sec: ScorecardSection) -> None:
        cols = self.score_columns(sec)
        top = self.row
        for column in sec.columns:
            c, span = cols[column.role]
            self.span(top, c, span, style="header", text=column.label)
        r = top + 1
        score_inputs: list[str] = []
        for block in sec.blocks:
            r = self.score_block(sec, block, cols, r, score_inputs)
        weight_col, score_col = cols["weight"][0], cols["score"][0]
        self.span(r, 0, weight_col, style="header", text=sec.total_label)
        self.fixed_number(r, weight_col, cols["weight"][1], "total_weight", f"{sec.total_label}分值",
                          sec.total_weight)
        total = Calc("total_score", sec.total_label, "sum",
                     {"items": tuple(b.score_key for b in sec.blocks)}, {}, sec.where)
        self.formula(r, score_col, cols["score"][1], total)
        r += 1
        self.span(r, 0, weight_col, style="header", text=sec.grade_label)
        spec = self.form.spec
        grade = Calc("grade", sec.grade_label, "grade",
                     {"total": "total_score", "inputs": tuple(score_inputs)},
                     {"bands": [[float(b), g] for b, g in spec.grade_bands], "else": spec.grade_else},
                     sec.where)
        self.formula(r, weight_col, cols["weight"][1] + cols["score"][1], grade)
        self.row = r + 1

    def score_columns(self, sec: ScorecardSection) -> dict[str, tuple[int, int]]:
        cols, c = {}, 0
        for column in sec.columns:
            cols[column.role] = (c, column.span)
            c += column.span
        if c != self.width:
            raise SpecError(sec.where, "scorecard", f"评分表各列共 {c} 列，工作表宽 {self.width} 列")
        roles = [col.role for col in sec.columns]
        if roles[-2:] != ["weight", "score"]:
            raise SpecError(sec.where, "scorecard", "评分表最后两列须为 weight（分值）和 score（得分）")
        return cols

    def score_block(self, sec: ScorecardSection, block: ScoreBlock, cols: dict[str, tuple[int, int]],
                    r: int, score_inputs: list[str]) -> int:
        subtotal = Calc(block.score_key, f"{block.label}得分", "sum",
                        {"items": tuple(row.score_key for row in block.rows)}, {}, block.where)
        heights = [max(1, len(row.parts)) for row in block.rows]
        if sec.block_style == "header_row":
            weight_col, score_col = cols["weight"][0], cols["score"][0]
            self.span(r, 0, weight_col, style="section", text=block.label)
            self.fixed_number(r, weight_col, cols["weight"][1], block.weight_key, f"{block.label}分值",
                              block.weight)
            self.formula(r, score_col, cols["score"][1], subtotal)
            r += 1
        else:
            n = sum(heights)
            self.span(r, *self.role(cols, "l1"), n, style="label", text=block.label)
            if "l1_weight" in cols:
                self.fixed_number(r, *self.role(cols, "l1_weight"), block.weight_key,
                                  f"{block.label}分值", block.weight, n)
            if "l1_score" in cols:
                self.formula(r, *self.role(cols, "l1_score"), subtotal, n)
            else:
                raise SpecError(sec.where, "scorecard", "分列式评分表须有 l1_score（一级得分）列")
        rows_iter = iter(heights)
        for group in block.groups:
            group_rows = sum(next(rows_iter) for _ in group.rows)
            if "l2" in cols:
                self.span(r, *self.role(cols, "l2"), group_rows, style="label", text=group.label)
            if "l2_weight" in cols:
                weight = group.weight if group.weight is not None else sum(x.weight for x in group.rows)
                self.span(r, *self.role(cols, "l2_weight"), group_rows, style="fixed", number=weight)
            for row in group.rows:
                r = self.score_row(row, cols, r, score_inputs)
        return r

    @staticmethod
    def role(cols: dict[str, tuple[int, int]], role: str) -> tuple[int, int]:
        return cols[role]

    def score_row(self, row: ScoreRow, cols: dict[str, tuple[int, int]], r: int,
                  score_inputs: list[str]) -> int:
        n = max(1, len(row.parts))
        where = row.where
        self.span(r, *cols["label"], n, style="label", text=row.label)
        self.fixed_number(r, *cols["weight"], row.weight_key, f"{row.label}分值", row.weight, n)
        if "evidence" in cols:
            if row.evidence_key:
                self.input(r, *cols["evidence"], Field(row.evidence_key, f"{row.label}完成情况", "text",
                                                       where, hint=row.evidence), n)
            else:
                self.span(r, *cols["evidence"], n, style="text", text=row.evidence)
        operands = dict(row.operands)
        if row.parts:
            self.checklist(row, cols, r)
            operands["parts"] = row.part_keys
            score_inputs.extend(row.part_keys)
        else:
            if "criteria" in cols:
                self.span(r, *cols["criteria"], style="text", text=row.criteria)
            if row.value_key:
                if "value" not in cols:
                    raise SpecError(where, row.key, "该规则需要评分表有 value（完成情况）列")
                fld = self.value_field(row, where)
                self.input(r, *cols["value"], fld)
                name = "level" if "level" in KINDS[row.kind].operands else "actual"
                operands[name] = row.value_key
                score_inputs.append(row.value_key)
            elif "value" in cols:
                self.span(r, *cols["value"], style="fixed")
        if "target" in cols:
            if row.target_key:
                fld = Field(row.target_key, f"{row.label}目标值", row.value_type, where,
                            hint="请输入目标值")
                self.input(r, *cols["target"], fld, n)
                operands["target"] = row.target_key
            else:
                self.span(r, *cols["target"], n, style="fixed")
        sc, sspan = cols["score"]
        if row.score_is_input:
            fld = Field(row.score_key, f"{row.label}得分", "number", where, min=0, max=row.weight,
                        hint=f"请输入得分，0 至 {row.weight:g} 分，最多两位小数")
            self.input(r, sc, sspan, fld, n)
            operands["score"] = row.score_key
            score_inputs.append(row.score_key)
            if row.kind == "qualitative":
                self.form.highlights.append(Highlight(
                    self.spec.name, row.score_key, "qualitative_band",
                    {"level": str(operands["level"]), "score": row.score_key}, {"weight": row.weight}))
        else:
            calc = Calc(row.score_key, f"{row.label}得分", row.kind, operands, row.params, where,
                        weight=row.weight)
            self.formula(r, sc, sspan, calc, n)
        self.form.highlights.append(Highlight(self.spec.name, row.score_key, "score_over_weight",
                                              {"score": row.score_key}, {"weight": row.weight}))
        return r + n

    def value_field(self, row: ScoreRow, where: Where) -> Field:
        key = row.value_key or ""
        if row.kind == "yes_no":
            return Field(key, f"{row.label}是否达到", "choice", where, choices=YES_NO,
                         hint="请选择 是 或 否")
        if row.kind == "qualitative":
            return Field(key, f"{row.label}达成情况", "choice", where, choices=qualitative_levels(),
                         hint="请选择达成等级，再在得分栏填入该等级区间内的分数")
        hint = "请输入百分比，如 95%" if row.value_type == "percent" else "请输入实际完成值"
        return Field(key, f"{row.label}实际值", row.value_type, where, hint=hint)

    def checklist(self, row: ScoreRow, cols: dict[str, tuple[int, int]], r: int) -> None:
        if "value" not in cols:
            raise SpecError(row.where, row.key, "清单规则需要评分表有 value（完成情况）列")
        for i, ((text, points), key) in enumerate(zip(row.parts, row.part_keys, strict=True)):
            if "criteria" in cols:
                self.span(r + i, *cols["criteria"], style="text", text=f"{text}（{points:g}分）")
            self.input(r + i, *cols["value"], Field(key, f"{row.label}：{text}", "choice", row.where,
                                                    choices=YES_NO, hint="请选择 是 或 否"))


class _Form:
    def __init__(self, spec: FormSpec) -> None:
        self.spec = spec
        self.cells: dict[str, tuple[str, Placed]] = {}
        self.calcs: list[Calc] = []
        self.highlights: list[Highlight] = []


def layout_form(spec: FormSpec) -> FormLayout:
    """Place every section of every sheet; raises SpecError where the spec does not fit."""
    form = _Form(spec)
    sheets = []
    for sheet_spec in spec.sheets:
        sheet = _Sheet(sheet_spec, form)
        for section in sheet_spec.sections:
            if isinstance(section, TitleSection):
                sheet.title(section)
            elif isinstance(section, GridSection):
                sheet.grid(section)
            elif isinstance(section, TableSection):
                sheet.table(section)
            elif isinstance(section, PageBreak):
                sheet.out.breaks.append(sheet.row)
            else:
                sheet.scorecard(section)
        sheets.append(sheet.out)
    for rule in spec.consistency:
        sheet_name = form.cells[rule.left][0]
        form.highlights.append(Highlight(sheet_name, rule.left, "not_greater",
                                         {"left": rule.left, "right": rule.right}))
    tables = {s.key: s for sheet_spec in spec.sheets for s in sheet_spec.sections if isinstance(s, TableSection)}
    for choice in spec.explain_when:
        section = tables[choice.table]
        rows = {f"row{n}": section.row_key(n, choice.column) for n in range(1, section.rows + 1)}
        for key in choice.fields:
            form.highlights.append(Highlight(form.cells[key][0], key, "required_by_choice", {"field": key, **rows},
                                             {"values": list(choice.values)}))
    return FormLayout(spec, sheets, form.cells, _in_dependency_order(form.calcs), form.highlights)


def _in_dependency_order(calcs: list[Calc]) -> list[Calc]:
    by_key = {c.key: c for c in calcs}
    done: dict[str, Calc] = {}

    def visit(calc: Calc, path: tuple[str, ...]) -> None:
        if calc.key in done:
            return
        if calc.key in path:
            raise SpecError(calc.where, calc.key, "计算互相引用 (circular reference)")
        for ref in operand_keys(calc):
            if ref in by_key:
                visit(by_key[ref], (*path, calc.key))
        done[calc.key] = calc

    for calc in calcs:
        visit(calc, ())
    return list(done.values())
