"""Form specs: the dataclasses of a form and their loading from YAML.

A form spec is data (``xlperf/form/specs/*.yaml``). Everything else (template, reader, checker,
evaluator) is compiled from it, so this module validates what it can without knowing cells:
unknown keys, rule kinds and their parameters, weights that do not add up, references that do
not resolve. Placement errors (a row that does not fill the grid) are found by ``layout``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from xlperf.form.rules import KINDS
from xlperf.form.yamlsrc import Node, SpecError, Where, load_yaml

FORMS_DIR = Path(__file__).parent / "specs"

FIELD_TYPES = (
    "text", "longtext", "number", "amount", "percent", "integer", "year", "date", "choice", "phone",
    "value",
)
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
YES_NO = ("是", "否")
DEFAULT_GRADE_BANDS = ((Decimal(90), "优"), (Decimal(80), "良"), (Decimal(60), "中"))


@dataclass(frozen=True)
class Field:
    """An input cell: what the unit types, and what it may type."""

    key: str
    label: str
    type: str
    where: Where
    choices: tuple[str, ...] = ()
    strict_choices: bool = True
    required: bool = False
    hint: str = ""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Calc:
    """A computed cell: a rule kind applied to named operands."""

    key: str
    label: str
    kind: str
    operands: dict[str, str | tuple[str, ...]]
    params: dict[str, Any]
    where: Where
    weight: float | None = None
    percent: bool = False


@dataclass(frozen=True)
class GridCell:
    """One cell of a free grid: a printed label, a field, a calc or a note."""

    span: int
    rowspan: int
    text: str = ""
    field: Field | None = None
    calc: Calc | None = None
    style: str = "label"


@dataclass(frozen=True)
class GridSection:
    rows: tuple[tuple[GridCell, ...], ...]
    heights: tuple[float | None, ...]
    where: Where


@dataclass(frozen=True)
class TitleSection:
    text: str
    style: str
    where: Where
    height: float | None = None


@dataclass(frozen=True)
class TableColumn:
    key: str
    label: str
    span: int
    type: str = "text"
    choices: tuple[str, ...] = ()
    strict_choices: bool = True
    hint: str = ""
    fixed: bool = False
    calc: str | None = None
    calc_operands: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TableGroup:
    values: dict[str, str]
    rows: int


@dataclass(frozen=True)
class MissedTarget:
    """Column keys that let a conditional format ask for a deviation reason."""

    op: str
    target: str
    actual: str
    reason: str


@dataclass(frozen=True)
class TableSection:
    """A repeating table: header row and numbered rows, optionally grouped by fixed columns."""

    key: str
    columns: tuple[TableColumn, ...]
    rows: int
    where: Where
    side: str = ""
    side_span: int = 0
    groups: tuple[TableGroup, ...] = ()
    missed_target: MissedTarget | None = None
    height: float | None = None
    title: str = ""
    """How messages name the table (labels of its cells: "<title>第3行<column>")."""

    def row_key(self, n: int, column: str) -> str:
        return f"{self.key}_{n}_{column}"


@dataclass(frozen=True)
class ScoreRow:
    key: str
    label: str
    weight: float
    kind: str
    params: dict[str, Any]
    operands: dict[str, str | tuple[str, ...]]
    where: Where
    evidence: str = ""
    evidence_input: bool = False
    criteria: str = ""
    value_type: str = "number"
    parts: tuple[tuple[str, float], ...] = ()

    @property
    def score_key(self) -> str:
        return f"{self.key}_score"

    @property
    def weight_key(self) -> str:
        return f"{self.key}_weight"

    @property
    def value_key(self) -> str | None:
        """The row's own input cell (actual value, 是/否, or level), if the rule takes one."""
        operands = KINDS[self.kind].operands
        if self.kind == "checklist":
            return None
        if ("actual" in operands and "actual" not in self.operands) or "level" in operands:
            return f"{self.key}_value"
        return None

    @property
    def target_key(self) -> str | None:
        """The row's own target cell, when the rule compares with a target the unit types."""
        if self.needs_target and "target" not in self.operands:
            return f"{self.key}_target"
        return None

    @property
    def needs_target(self) -> bool:
        return "target" in KINDS[self.kind].operands_for(self.params)

    @property
    def part_keys(self) -> tuple[str, ...]:
        return tuple(f"{self.key}_part{i}" for i in range(1, len(self.parts) + 1))

    @property
    def evidence_key(self) -> str | None:
        return f"{self.key}_evidence" if self.evidence_input else None

    @property
    def score_is_input(self) -> bool:
        return "score" in KINDS[self.kind].operands

    def owned_keys(self, has_target_column: bool) -> list[str]:
        """Names a score row owns besides its own key: weight, score, inputs."""
        keys = [self.weight_key, self.score_key, *self.part_keys]
        keys += [k for k in (self.value_key, self.evidence_key) if k]
        if self.target_key and has_target_column:
            keys.append(self.target_key)
        return keys


@dataclass(frozen=True)
class ScoreGroup:
    label: str
    weight: float | None
    rows: tuple[ScoreRow, ...]


@dataclass(frozen=True)
class ScoreBlock:
    key: str
    label: str
    weight: float
    groups: tuple[ScoreGroup, ...]
    where: Where

    @property
    def rows(self) -> tuple[ScoreRow, ...]:
        return tuple(r for g in self.groups for r in g.rows)

    @property
    def weight_key(self) -> str:
        return f"{self.key}_weight"

    @property
    def score_key(self) -> str:
        return f"{self.key}_score"


SCORE_ROLES = (
    "l1", "l1_weight", "l1_score", "l2", "l2_weight", "label", "evidence", "criteria",
    "target", "value", "weight", "score",
)


@dataclass(frozen=True)
class ScoreColumn:
    role: str
    label: str
    span: int


@dataclass(frozen=True)
class ScorecardSection:
    columns: tuple[ScoreColumn, ...]
    blocks: tuple[ScoreBlock, ...]
    total_weight: float
    where: Where
    total_label: str = "合计"
    grade_label: str = "评价结果等次"
    side: str = ""

    @property
    def block_style(self) -> str:
        return "column" if any(c.role == "l1" for c in self.columns) else "header_row"


Section = TitleSection | GridSection | TableSection | ScorecardSection


@dataclass(frozen=True)
class SheetSpec:
    name: str
    widths: tuple[float, ...]
    sections: tuple[Section, ...]
    landscape: bool
    repeat_rows: int
    where: Where
    pages: int = 0
    """Pages the sheet prints on, as the official form does (fit to that many pages tall);
    0: as many as the content needs."""


@dataclass(frozen=True)
class Consistency:
    """A cross-field rule shown while typing: ``left`` must not exceed ``right``."""

    code: str
    left: str
    right: str
    message: str
    severity: str
    where: Where


@dataclass(frozen=True)
class FormSpec:
    form_id: str
    version: str
    title: str
    amount_unit: str
    sheets: tuple[SheetSpec, ...]
    consistency: tuple[Consistency, ...]
    grade_bands: tuple[tuple[Decimal, str], ...]
    grade_else: str
    source: Path

    def scorecards(self) -> Iterator[ScorecardSection]:
        for sheet in self.sheets:
            for section in sheet.sections:
                if isinstance(section, ScorecardSection):
                    yield section


# --------------------------------------------------------------------------- loading


class _Reader:
    """Reads one YAML mapping, refusing keys it does not know (typos must not pass silently)."""

    def __init__(self, node: Any, what: str, where: Where) -> None:
        if not isinstance(node, Node):
            raise SpecError(where, what, "应为映射 (expected a mapping)")
        self.node = node
        self.what = what

    def where(self, key: str | None = None) -> Where:
        return self.node.at(key) if key else self.node.where

    def fail(self, key: str, message: str) -> SpecError:
        return SpecError(self.where(key), key, message)

    def get(self, key: str, default: Any = None) -> Any:
        return self.node.get(key, default)

    def need(self, key: str) -> Any:
        if key not in self.node:
            return_where = self.node.where
            raise SpecError(return_where, key, f"{self.what} 缺少必填项 (missing key) '{key}'")
        return self.node[key]

    def text(self, key: str, default: str | None = None) -> str:
        value = self.need(key) if default is None else self.node.get(key, default)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str):
            raise self.fail(key, "应为文本 (expected text)")
        return value

    def number(self, key: str, default: float | None = None) -> float:
        value = self.need(key) if default is None else self.node.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"应为数字 (expected a number), 得到 {value!r}")
        return float(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.node.get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "应为 true/false")
        return value

    def only(self, *allowed: str) -> None:
        for key in self.node:
            if key not in allowed:
                raise self.fail(key, f"{self.what} 不认识的键 (unknown key); 可用: {', '.join(allowed)}")


class _Builder:
    """Builds a FormSpec from parsed YAML, collecting keys to check uniqueness and references."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.choices: dict[str, tuple[str, ...]] = {}
        self.keys: dict[str, Where] = {}
        self.references: list[tuple[str, Where, str]] = []
        self.prefix = ""

    # -- keys -------------------------------------------------------------------
    def define(self, key: str, where: Where) -> str:
        if not KEY_RE.match(key):
            raise SpecError(where, key, "键只能用小写字母、数字和下划线，并以字母开头")
        full = self.prefix + key
        if full in self.keys:
            raise SpecError(where, key, f"键重复 (duplicate key), 已在第 {self.keys[full].line} 行定义")
        self.keys[full] = where
        return full

    def refer(self, key: str, where: Where, what: str) -> str:
        full = key if key.startswith(self.prefix) and self.prefix else self.prefix + key
        self.references.append((full, where, what))
        return full

    def choice_list(self, value: Any, reader: _Reader, key: str) -> tuple[str, ...]:
        if isinstance(value, str):
            if value not in self.choices:
                raise reader.fail(key, f"未定义的选项表 (unknown choice list) '{value}'")
            return self.choices[value]
        if isinstance(value, list) and value and all(isinstance(v, str | int) for v in value):
            return tuple(str(v) for v in value)
        raise reader.fail(key, "选项应为选项表名称或非空列表")

    # -- form -------------------------------------------------------------------
    def form(self, root: Any) -> FormSpec:
        r = _Reader(root, "form", Where(self.path.name, 1))
        r.only("form", "version", "title", "amount_unit", "choices", "grade", "sheets", "consistency")
        for name, values in (r.get("choices") or {}).items():
            self.choices[name] = self.choice_list(values, _Reader(r.get("choices"), "choices", r.where()), name)
        self.choices.setdefault("yes_no", YES_NO)
        bands, grade_else = self.grade(r)
        sheets: list[SheetSpec] = []
        raw_sheets = r.need("sheets")
        if not isinstance(raw_sheets, list) or not raw_sheets:
            raise r.fail("sheets", "至少需要一个工作表")
        for raw in raw_sheets:
            sheets.extend(self.sheet(raw, r.where("sheets")))
        consistency = tuple(
            rule for c in r.get("consistency") or [] for rule in self.consistency(c, r.where("consistency"))
        )
        for full, where, what in self.references:
            if full not in self.keys:
                raise SpecError(where, full, f"{what} 引用了不存在的键 (missing reference)")
        form_id = r.text("form")
        if not KEY_RE.match(form_id):
            raise r.fail("form", "表单编号只能用小写字母、数字和下划线")
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
        )

    def grade(self, r: _Reader) -> tuple[tuple[tuple[Decimal, str], ...], str]:
        raw = r.get("grade")
        if raw is None:
            return DEFAULT_GRADE_BANDS, "差"
        g = _Reader(raw, "grade", r.where("grade"))
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
        c = _Reader(raw, "consistency", where)
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
        s = _Reader(raw, "sheet", where)
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
            raise SpecError(where, "sections", "每个分区应为 title / subtitle / note / grid / table / scorecard 之一")
        (kind, body), = raw.items()
        at = raw.at(kind)
        if kind in ("title", "subtitle", "note"):
            if isinstance(body, Node):
                t = _Reader(body, kind, at)
                t.only("text", "height")
                return TitleSection(t.text("text"), kind, at, t.number("height", 0) or None)
            return TitleSection(str(body), kind, at)
        if kind == "grid":
            return self.grid(body, at)
        if kind == "table":
            return self.table(body, at)
        if kind == "scorecard":
            return self.scorecard(body, at)
        raise SpecError(at, kind, "未知的分区类型 (unknown section kind)")

    # -- grid ---------------------------------------------------------------------
    def grid(self, raw: Any, where: Where) -> GridSection:
        if not isinstance(raw, list):
            raise SpecError(where, "grid", "grid 应为行列表")
        rows: list[tuple[GridCell, ...]] = []
        heights: list[float | None] = []
        for raw_row in raw:
            if isinstance(raw_row, Node):
                rr = _Reader(raw_row, "grid row", where)
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
        return GridSection(tuple(rows), tuple(heights), where)

    def grid_cell(self, raw: Any, where: Where, last_label: str) -> GridCell:
        if isinstance(raw, str):
            return GridCell(span=1, rowspan=1, text=raw)
        c = _Reader(raw, "cell", where)
        span, rowspan = int(c.number("span", 1)), int(c.number("rowspan", 1))
        if "field" in c.node:
            c.only("field", "label", "type", "choices", "strict", "required", "hint", "min", "max",
                   "span", "rowspan")
            label = c.text("label", last_label.replace("\n", "")) or ""
            if not label:
                raise c.fail("field", "字段需要 label（本行前面没有标签）")
            return GridCell(span, rowspan, field=self.field(c, c.text("field"), label), style="input")
        if "calc" in c.node:
            c.only("calc", "label", "kind", "items", "actual", "target", "percent", "span", "rowspan")
            label = c.text("label", last_label.replace("\n", "")) or ""
            kind = c.text("kind", "sum")
            calc = self.calc(c, c.text("calc"), label, kind)
            return GridCell(span, rowspan, calc=calc, style="formula")
        c.only("label", "note", "header", "span", "rowspan")
        for style in ("label", "note", "header"):
            if style in c.node:
                return GridCell(span, rowspan, text=c.text(style), style=style)
        raise c.fail("cell", "单元格需要 label / note / header / field / calc 之一")

    def field(self, c: _Reader, key: str, label: str) -> Field:
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
        return Field(
            key=full, label=label, type=ftype, where=where, choices=choices,
            strict_choices=c.flag("strict", True), required=c.flag("required"),
            hint=c.text("hint", ""),
            min=float(low) if low is not None else None,
            max=float(high) if high is not None else None,
        )

    def calc(self, c: _Reader, key: str, label: str, kind_name: str) -> Calc:
        where = c.where("calc")
        full = self.define(key, where)
        kind = KINDS.get(kind_name)
        if kind is None or kind.scored:
            raise c.fail("kind", f"未知的计算类型 (unknown calc kind) '{kind_name}'")
        operands: dict[str, str | tuple[str, ...]] = {}
        for name in kind.list_operands:
            items = c.need(name)
            if not isinstance(items, list) or not items:
                raise c.fail(name, "应为键列表")
            operands[name] = tuple(self.refer(str(i), c.where(name), f"calc {key}") for i in items)
        for name in kind.operands:
            operands[name] = self.refer(c.text(name), c.where(name), f"calc {key}")
        return Calc(full, label, kind_name, operands, {}, where, percent=c.flag("percent"))

    # -- table ------------------------------------------------------------------
    def table(self, raw: Any, where: Where) -> TableSection:
        t = _Reader(raw, "table", where)
        t.only("key", "title", "side", "side_span", "rows", "columns", "groups", "missed_target", "height")
        key = t.text("key")
        columns = []
        for raw_col in t.need("columns"):
            c = _Reader(raw_col, "column", t.where("columns"))
            c.only("key", "label", "span", "type", "choices", "strict", "hint", "fixed", "calc",
                   "actual", "target")
            ctype = c.text("type", "text")
            if ctype not in FIELD_TYPES:
                raise c.fail("type", f"未知的字段类型 '{ctype}'")
            calc = c.get("calc")
            if calc is not None and (calc not in KINDS or KINDS[calc].scored):
                raise c.fail("calc", f"未知的计算类型 '{calc}'")
            choices = self.choice_list(c.need("choices"), c, "choices") if ctype == "choice" else ()
            columns.append(
                TableColumn(
                    key=c.text("key"), label=c.text("label"), span=int(c.number("span", 1)),
                    type=ctype, choices=choices, strict_choices=c.flag("strict", True),
                    hint=c.text("hint", ""), fixed=c.flag("fixed"), calc=calc,
                    calc_operands={n: c.text(n) for n in ("actual", "target") if n in c.node},
                )
            )
        col_keys = [col.key for col in columns]
        if len(set(col_keys)) != len(col_keys):
            raise t.fail("columns", "列键重复 (duplicate key)")
        for col in columns:
            for name, ref in col.calc_operands.items():
                if ref not in col_keys:
                    raise t.fail("columns", f"列 {col.key} 的 {name} 引用了不存在的列 '{ref}'")
        groups = []
        fixed_cols = [c.key for c in columns if c.fixed]
        for raw_group in t.get("groups") or []:
            g = _Reader(raw_group, "group", t.where("groups"))
            g.only("values", "rows")
            values = {str(k): str(v) for k, v in (g.need("values") or {}).items()}
            if sorted(values) != sorted(fixed_cols):
                raise g.fail("values", f"分组应给出固定列 {fixed_cols} 的值")
            groups.append(TableGroup(values, int(g.number("rows"))))
        rows = sum(g.rows for g in groups) if groups else int(t.number("rows"))
        missed = None
        if "missed_target" in t.node:
            m = _Reader(t.get("missed_target"), "missed_target", t.where("missed_target"))
            m.only("op", "target", "actual", "reason")
            missed = MissedTarget(m.text("op"), m.text("target"), m.text("actual"), m.text("reason"))
            for ref in (missed.op, missed.target, missed.actual, missed.reason):
                if ref not in col_keys:
                    raise m.fail("missed_target", f"引用了不存在的列 '{ref}'")
        section = TableSection(
            key=self.prefix + t.text("key"), columns=tuple(columns), rows=rows, where=where,
            side=t.text("side", ""), side_span=int(t.number("side_span", 1 if t.get("side") else 0)),
            groups=tuple(groups), missed_target=missed, height=t.number("height", 0) or None,
            title=t.text("title", "") or t.text("side", "").replace("\n", ""),
        )
        for n in range(1, rows + 1):
            for col in columns:
                if not col.fixed:
                    self.define(f"{key}_{n}_{col.key}", t.where("columns"))
        return section

    # -- scorecard --------------------------------------------------------------
    def scorecard(self, raw: Any, where: Where) -> ScorecardSection:
        s = _Reader(raw, "scorecard", where)
        s.only("columns", "blocks", "total_weight", "total_label", "grade_label", "side")
        columns = []
        for raw_col in s.need("columns"):
            c = _Reader(raw_col, "column", s.where("columns"))
            c.only("role", "label", "span")
            role = c.text("role")
            if role not in SCORE_ROLES:
                raise c.fail("role", f"未知的列角色 '{role}'; 可用: {', '.join(SCORE_ROLES)}")
            columns.append(ScoreColumn(role, c.text("label", ""), int(c.number("span", 1))))
        roles = [c.role for c in columns]
        for needed in ("label", "weight", "score"):
            if needed not in roles:
                raise s.fail("columns", f"评分表必须有 {needed} 列")
        blocks = tuple(self.block(b, s.where("blocks"), roles) for b in s.need("blocks"))
        total_weight = s.number("total_weight", 100)
        actual = sum(b.weight for b in blocks)
        if abs(actual - total_weight) > 1e-9:
            raise s.fail("blocks", f"各一级指标分值之和为 {actual:g}，应为 {total_weight:g} (weights do not add up)")
        for key in ("total_score", "total_weight", "grade"):
            self.define(key, where)
        return ScorecardSection(
            columns=tuple(columns), blocks=blocks, total_weight=total_weight, where=where,
            total_label=s.text("total_label", "合计"), grade_label=s.text("grade_label", "评价结果等次"),
            side=s.text("side", ""),
        )

    def block(self, raw: Any, where: Where, roles: list[str]) -> ScoreBlock:
        b = _Reader(raw, "block", where)
        b.only("key", "label", "weight", "groups")
        key = self.prefix + b.text("key")
        self.define(b.text("key") + "_weight", b.where("key"))
        self.define(b.text("key") + "_score", b.where("key"))
        groups = []
        for raw_group in b.need("groups"):
            g = _Reader(raw_group, "group", b.where("groups"))
            g.only("label", "weight", "rows")
            rows = tuple(self.score_row(r, g.where("rows"), roles) for r in g.need("rows"))
            weight = g.get("weight")
            if weight is not None:
                got = sum(r.weight for r in rows)
                if abs(got - float(weight)) > 1e-9:
                    raise g.fail("weight", f"二级指标 {g.text('label')} 分值 {weight} 与其三级指标之和 {got:g} 不符")
            groups.append(ScoreGroup(g.text("label", ""), float(weight) if weight is not None else None, rows))
        block = ScoreBlock(key, b.text("label"), b.number("weight"), tuple(groups), b.where())
        got = sum(r.weight for r in block.rows)
        if abs(got - block.weight) > 1e-9:
            raise b.fail("weight", f"一级指标 {block.label} 分值 {block.weight:g} 与其下各行之和 {got:g} 不符 (weights do not add up)")
        return block

    def score_row(self, raw: Any, where: Where, roles: list[str]) -> ScoreRow:
        r = _Reader(raw, "row", where)
        r.only("key", "label", "weight", "rule", "evidence", "evidence_input", "criteria",
               "value_type", "parts")
        key = self.define(r.text("key"), r.where("key"))
        weight = r.number("weight")
        if weight <= 0:
            raise r.fail("weight", "分值应大于 0")
        rule = r.get("rule", "judged")
        rr = _Reader(rule, "rule", r.where("rule")) if isinstance(rule, Node) else None
        kind_name = rr.text("kind") if rr else str(rule)
        kind = KINDS.get(kind_name)
        if kind is None or not kind.scored:
            scored = sorted(k for k, v in KINDS.items() if v.scored)
            raise r.fail("rule", f"未知的评分规则 (unknown rule kind) '{kind_name}'; 可用: {', '.join(scored)}")
        params = {k: v for k, v in (rr.node.items() if rr else []) if k not in ("kind", *kind.operands)}
        parts: tuple[tuple[str, float], ...] = ()
        if kind_name == "checklist":
            raw_parts = r.need("parts")
            if not isinstance(raw_parts, list) or not all(isinstance(p, list) and len(p) == 2 for p in raw_parts):
                raise r.fail("parts", "应为 [[说明, 分值], ...]")
            parts = tuple((str(p[0]), float(p[1])) for p in raw_parts)
            params["parts"] = [list(p) for p in parts]
        problems = kind.check_params(params, weight)
        if problems:
            raise r.fail("rule", "; ".join(problems))
        # Operands not named in the spec are the row's own input cells (value/target columns).
        operands: dict[str, str | tuple[str, ...]] = {}
        for name in kind.operands:
            ref = rr.get(name) if rr else None
            if ref is not None:
                operands[name] = self.refer(str(ref), rr.where(name) if rr else where, f"rule of {key}")
        if "target" in kind.operands_for(params) and "target" not in operands and "target" not in roles:
            raise r.fail("rule", "规则需要目标值：在 rule 中给出 target 键，或在评分表加 target 列")
        value_type = r.text("value_type", "number")
        if value_type not in ("number", "percent"):
            raise r.fail("value_type", "应为 number 或 percent")
        row = ScoreRow(
            key=key, label=r.text("label"), weight=weight, kind=kind_name, params=params,
            operands=operands, where=r.where(), evidence=r.text("evidence", ""),
            evidence_input=r.flag("evidence_input"), criteria=r.text("criteria", ""),
            value_type=value_type, parts=parts,
        )
        for generated in row.owned_keys(has_target_column="target" in roles):
            self.define(generated[len(self.prefix):], r.where("key"))
        return row


def load_spec(path: Path) -> FormSpec:
    """Load and validate one form spec; raises SpecError naming file, line and key."""
    return _Builder(path).form(load_yaml(path))


@cache
def builtin_forms() -> dict[str, FormSpec]:
    """The forms shipped with xlperf, by form id."""
    forms = {}
    for path in sorted(FORMS_DIR.glob("*.yaml")):
        spec = load_spec(path)
        forms[spec.form_id] = spec
    return forms


def get_form(form_id: str) -> FormSpec:
    forms = builtin_forms()
    if form_id not in forms:
        raise KeyError(form_id)
    return forms[form_id]
