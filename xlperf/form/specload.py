"""Load a form spec from YAML and validate it: :func:`load_spec`, :func:`load_spec_text`
(which forms xlperf knows: :mod:`xlperf.form.registry`).

This validates what it can without knowing cells: unknown keys, rule kinds and their
parameters, weights that do not add up, references that do not resolve. Placement errors (a row
that does not fill the grid) are found by ``layout``. Scorecard sections are built by
:mod:`xlperf.form.specscore`.
"""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlperf.form import specfacts, specprogress
from xlperf.form.roles import ROLES
from xlperf.form.rules import KINDS
from xlperf.form.spec import (
    DEFAULT_GRADE_BANDS,
    FIELD_TYPES,
    YES_NO,
    Calc,
    Consistency,
    Field,
    FormSpec,
    GridCell,
    GridSection,
    PageBreak,
    Section,
    SheetSpec,
    TableSection,
    TitleSection,
)
from xlperf.form.specfacts import FACT_KEYS
from xlperf.form.speckeys import KEY_RE, SpecKeys
from xlperf.form.specprogress import PROGRESS_KEYS
from xlperf.form.specscore import build_scorecard
from xlperf.form.spectable import build_table
from xlperf.form.yamlsrc import MappingReader, Node, SpecError, Where, load_yaml, load_yaml_text

FORMS_DIR = Path(__file__).parent / "specs"


class _Builder(SpecKeys):
    """Builds a FormSpec from parsed YAML, collecting keys to check uniqueness and references."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.grade_params: dict[str, Any] = {}

    # -- form -------------------------------------------------------------------
    def form(self, root: Any) -> FormSpec:
        r = MappingReader(root, "form", Where(self.path.name, 1))
        r.only("form", "version", "title", "amount_unit", "choices", "grade", "sheets", "consistency", *FACT_KEYS,
               *PROGRESS_KEYS)
        months = specprogress.period_months(root, r)  # before any text is read: they may say {months}
        for name, values in (r.get("choices") or {}).items():
            self.choices[name] = self.choice_list(values, MappingReader(r.get("choices"), "choices", r.where()), name)
        self.choices.setdefault("yes_no", YES_NO)
        bands, grade_else = self.grade(r)
        self.grade_params = {"bands": [[float(b), g] for b, g in bands], "else": grade_else}
        sheets: list[SheetSpec] = []
        raw_sheets = r.need("sheets")
        if not isinstance(raw_sheets, list) or not raw_sheets:
            raise r.fail("sheets", "至少需要一个工作表")
        for raw in raw_sheets:
            sheets.extend(self.sheet(raw, r.where("sheets")))
        consistency = tuple(
            rule for c in r.get("consistency") or [] for rule in self.consistency(c, r.where("consistency"))
        )
        self.check_references()
        form_id = r.text("form")
        if not KEY_RE.match(form_id):
            raise r.fail("form", "表单编号只能用小写字母、数字和下划线")
        named = specfacts.amounts(self, r)
        return FormSpec(
            form_id=form_id,
            version=r.text("version"),
            title=r.text("title"),
            amount_unit=r.text("amount_unit", "万元"),
            sheets=tuple(sheets),
            consistency=consistency,
            grade_bands=bands,
            grade_else=grade_else,
            source=self.path,
            file_stem=r.text("file_stem", ""),
            declares_targets=r.flag("declares_targets"),
            amounts=named,
            execution_rate=specfacts.execution_rate(self, r, sheets, named),
            prefill_from=specfacts.prefill_from(r, sheets),
            period_months=months,
            time_progress=specprogress.time_progress(self, r, months),
            explain_when=specprogress.explain_when(self, r, sheets),
            tracked_items=specprogress.tracked_items(self, r, sheets),
        )

    def grade(self, r: MappingReader) -> tuple[tuple[tuple[Decimal, str], ...], str]:
        raw = r.get("grade")
        if raw is None:
            return DEFAULT_GRADE_BANDS, "差"
        g = MappingReader(raw, "grade", r.where("grade"))
        g.only("bands", "else")
        bands = []
        for item in g.need("bands"):
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], int | float)):
                raise g.fail("bands", "每个等级应为 [下限, 等级名]")
            bands.append((Decimal(str(item[0])), str(item[1])))
        if [b for b, _ in bands] != sorted((b for b, _ in bands), reverse=True):
            raise g.fail("bands", "等级下限应从高到低排列")
        return tuple(bands), g.text("else", "差")

    def consistency(self, raw: Any, where: Where) -> list[Consistency]:
        c = MappingReader(raw, "consistency", where)
        c.only("code", "left", "right", "message", "severity")
        severity = c.text("severity", "error")
        if severity not in ("error", "warning"):
            raise c.fail("severity", "应为 error 或 warning")
        left, right = c.text("left"), c.text("right")
        # On repeated sheets (one per project) a rule applies to each copy: p1_x, p2_x, ...
        prefixes = [""] if left in self.keys else sorted(
            {k[: -len(left)] for k in self.keys if k.endswith("_" + left) and re.match(r"^p\d+_$", k[: -len(left)])}
        )
        rules = []
        for prefix in prefixes:
            for name, key in (("left", left), ("right", right)):
                if prefix + key not in self.keys:
                    raise c.fail(name, f"consistency.{name} 引用了不存在的键 '{key}' (missing reference)")
            rules.append(Consistency(c.text("code"), prefix + left, prefix + right, c.text("message"),
                                     severity, c.where()))
        if not rules:
            raise c.fail("left", f"consistency.left 引用了不存在的键 '{left}' (missing reference)")
        return rules

    # -- sheets -----------------------------------------------------------------
    def sheet(self, raw: Any, where: Where) -> list[SheetSpec]:
        s = MappingReader(raw, "sheet", where)
        s.only("name", "columns", "sections", "landscape", "repeat", "repeat_rows", "pages")
        widths = s.need("columns")
        if not isinstance(widths, list) or not all(isinstance(w, int | float) for w in widths):
            raise s.fail("columns", "应为列宽列表 (list of column widths)")
        repeat = int(s.number("repeat", 0))
        name = s.text("name")
        copies = range(1, repeat + 1) if repeat else [0]
        if repeat and "{n}" not in name:
            raise s.fail("name", "重复的工作表名称须含 {n}")
        sheets = []
        for n in copies:
            # Repeated sheets (one per project) get their own keys: p1_..., p2_...
            self.prefix = f"p{n}_" if n else ""
            sections = tuple(self.section(sec, s.where("sections")) for sec in s.need("sections"))
            sheets.append(
                SheetSpec(
                    name=name.replace("{n}", str(n)),
                    widths=tuple(float(w) for w in widths),
                    sections=sections,
                    landscape=s.flag("landscape"),
                    repeat_rows=int(s.number("repeat_rows", 0)),
                    where=s.where(),
                    pages=int(s.number("pages", 0)),
                )
            )
        self.prefix = ""
        return sheets

    def section(self, raw: Any, where: Where) -> Section:
        if not isinstance(raw, Node) or len(raw) != 1:
            raise SpecError(where, "sections", "每个分区应为 title / subtitle / note / grid / table / scorecard / page_break 之一")
        (kind, body), = raw.items()
        at = raw.at(kind)
        if kind in ("title", "subtitle", "note"):
            if isinstance(body, Node):
                t = MappingReader(body, kind, at)
                t.only("text", "height")
                return TitleSection(t.text("text"), kind, at, t.number("height", 0) or None)
            return TitleSection(str(body), kind, at)
        if kind == "grid":
            return self.grid(body, at)
        if kind == "table":
            return self.table(body, at)
        if kind == "scorecard":
            return build_scorecard(self, body, at)
        if kind == "page_break":
            if body is not True:
                raise SpecError(at, kind, "应写 page_break: true (page_break takes true)")
            return PageBreak(at)
        raise SpecError(at, kind, "未知的分区类型 (unknown section kind)")

    # -- grid ---------------------------------------------------------------------
    def grid(self, raw: Any, where: Where) -> GridSection:
        if not isinstance(raw, list):
            raise SpecError(where, "grid", "grid 应为行列表")
        rows: list[tuple[GridCell, ...]] = []
        heights: list[float | None] = []
        for raw_row in raw:
            if isinstance(raw_row, Node):
                rr = MappingReader(raw_row, "grid row", where)
                rr.only("cells", "height")
                cells_raw, height = rr.need("cells"), rr.number("height", 0) or None
            else:
                cells_raw, height = raw_row, None
            if not isinstance(cells_raw, list):
                raise SpecError(where, "grid", "每行应为单元格列表")
            last_label = ""
            cells = []
            for raw_cell in cells_raw:
                cell = self.grid_cell(raw_cell, where, last_label)
                if cell.field is None and cell.calc is None and cell.text:
                    last_label = cell.text
                cells.append(cell)
            rows.append(tuple(cells))
            heights.append(height)
        return GridSection(self.weights_of(rows, where), tuple(heights), where)

    def weights_of(self, rows: list[tuple[GridCell, ...]], where: Where) -> tuple[tuple[GridCell, ...], ...]:
        """The grid with each ``weight_of`` cell given the weight of its scored calc (of this grid)."""
        calcs = {cell.calc.key: cell.calc for row in rows for cell in row if cell.calc is not None}
        out = []
        for row in rows:
            cells = []
            for cell in row:
                if cell.key and cell.number is None:
                    calc = calcs.get(self.prefix + cell.text)
                    if calc is None or calc.weight is None:
                        raise SpecError(where, "weight_of", f"weight_of '{cell.text}' 应为本分区中带 weight 的计算单元格 (weight_of names a scored calc of this grid)")
                    key = self.define(f"{cell.text}_weight", where)
                    cell = replace(cell, text=f"{calc.label}权重", number=calc.weight, key=key)
                cells.append(cell)
            out.append(tuple(cells))
        return tuple(out)

    def grid_cell(self, raw: Any, where: Where, last_label: str) -> GridCell:
        if isinstance(raw, str):
            return GridCell(span=1, rowspan=1, text=raw)
        c = MappingReader(raw, "cell", where)
        span, rowspan = int(c.number("span", 1)), int(c.number("rowspan", 1))
        if "field" in c.node:
            c.only("field", "label", "type", "choices", "strict", "required", "hint", "min", "max",
                   "role", "span", "rowspan")
            label = c.text("label", last_label.replace("\n", "")) or ""
            if not label:
                raise c.fail("field", "字段需要 label（本行前面没有标签）")
            return GridCell(span, rowspan, field=self.field(c, c.text("field"), label), style="input")
        if "calc" in c.node:
            label = c.text("label", last_label.replace("\n", "")) or ""
            kind = c.text("kind", "sum")
            calc = self.calc(c, c.text("calc"), label, kind)
            return GridCell(span, rowspan, calc=calc, style="formula")
        if "weight_of" in c.node:  # resolved by weights_of once the grid's calcs are known
            c.only("weight_of", "span", "rowspan")
            return GridCell(span, rowspan, text=c.text("weight_of"), style="fixed", key="weight_of")
        c.only("label", "note", "header", "span", "rowspan")
        for style in ("label", "note", "header"):
            if style in c.node:
                return GridCell(span, rowspan, text=c.text(style), style=style)
        raise c.fail("cell", "单元格需要 label / note / header / field / calc 之一")

    def field(self, c: MappingReader, key: str, label: str) -> Field:
        where = c.where("field")
        full = self.define(key, where)
        ftype = c.text("type", "text")
        if ftype not in FIELD_TYPES:
            raise c.fail("type", f"未知的字段类型 '{ftype}'; 可用: {', '.join(FIELD_TYPES)}")
        choices: tuple[str, ...] = ()
        if ftype == "choice":
            choices = self.choice_list(c.need("choices"), c, "choices")
        elif "choices" in c.node:
            raise c.fail("choices", "只有 type: choice 的字段可以有 choices")
        low = c.get("min")
        high = c.get("max")
        role = c.text("role", "")
        if role and role not in ROLES:
            raise c.fail("role", f"未知的字段角色 '{role}'; 可用: {', '.join(ROLES)}")
        if role and (role, self.prefix) in self.roles:
            raise c.fail("role", f"角色 '{role}' 已用于字段 '{self.roles[(role, self.prefix)]}'"
                                 "（每个角色在一份表中只能有一个字段，重复的项目表每张一个）")
        if role:
            self.roles[(role, self.prefix)] = full
        return Field(
            role=role,
            key=full, label=label, type=ftype, where=where, choices=choices,
            strict_choices=c.flag("strict", True), required=c.flag("required"),
            hint=c.text("hint", ""),
            min=float(low) if low is not None else None,
            max=float(high) if high is not None else None,
        )

    def calc(self, c: MappingReader, key: str, label: str, kind_name: str) -> Calc:
        """A computed grid cell: a calculation kind, or a scored kind with its ``weight`` and
        parameters (``rate_score``); a ``grade`` takes the form's grade bands."""
        where = c.where("calc")
        kind = KINDS.get(kind_name)
        if kind is None or kind.name == "row_score":
            raise c.fail("kind", f"未知的计算类型 (unknown calc kind) '{kind_name}'")
        params = [] if kind.name == "grade" else list(kind.defaults)
        c.only("calc", "label", "kind", "percent", "span", "rowspan", *kind.operands, *kind.list_operands,
               *params, *(["weight"] if kind.scored else []))
        full = self.define(key, where)
        operands: dict[str, str | tuple[str, ...]] = {}
        for name in kind.list_operands:
            items = c.need(name)
            if not isinstance(items, list) or not items:
                raise c.fail(name, "应为键列表")
            operands[name] = tuple(k for i in items for k in self.items(str(i), c, name, key))
        for name in kind.operands:
            operands[name] = self.refer(c.text(name), c.where(name), f"calc {key}")
        values = self.grade_params if kind.name == "grade" else {p: c.get(p) for p in params if p in c.node}
        weight = c.number("weight") if kind.scored else None
        problems = kind.check_params(values, weight)
        if problems:
            raise c.fail("weight" if kind.scored and weight is None else "kind", "; ".join(problems))
        return Calc(full, label, kind_name, operands, dict(values), where, weight=weight, percent=c.flag("percent"))

    def items(self, item: str, c: MappingReader, name: str, calc: str) -> list[str]:
        """A list operand's item: a key, or ``TABLE.COLUMN``: that column's cell in every row."""
        if "." not in item:
            return [self.refer(item, c.where(name), f"calc {calc}")]
        table_key, column = item.split(".", 1)
        table = self.tables.get(self.prefix + table_key)
        if table is None or column not in {col.key for col in table.columns}:
            raise c.fail(name, f"'{item}' 应为“表格键.列键”，且表格在此单元格之前 (a table column above)")
        return [self.refer(table.row_key(n, column), c.where(name), f"calc {calc}")
                for n in range(1, table.rows + 1)]

    # -- table ------------------------------------------------------------------
    def table(self, raw: Any, where: Where) -> TableSection:
        return build_table(self, raw, where)


def load_spec(path: Path) -> FormSpec:
    """Load and validate one form spec; raises SpecError naming file, line and key."""
    return _Builder(path).form(load_yaml(path))


def load_spec_text(text: str, path: Path) -> FormSpec:
    """A spec from its ``text`` (as read from ``path``, or as a round keeps it in the ledger)."""
    return _Builder(path).form(load_yaml_text(text, path))
