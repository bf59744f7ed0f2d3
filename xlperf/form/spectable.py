"""Build a table section of a form spec: its columns (inputs, fixed group labels, computed
columns), groups, the ``missed_target`` entry and, for a table whose rows the unit scores, the
section's ``points`` and the row score's weight column."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from xlperf.form.operators import OVERSHOOT
from xlperf.form.rules import KINDS
from xlperf.form.spec import FIELD_TYPES, MissedTarget, TableColumn, TableGroup, TableSection
from xlperf.form.speckeys import SpecKeys
from xlperf.form.yamlsrc import MappingReader, Where


def build_table(keys: SpecKeys, raw: Any, where: Where) -> TableSection:
    t = MappingReader(raw, "table", where)
    t.only("key", "title", "side", "side_span", "rows", "columns", "groups", "missed_target", "height",
           "points")
    key = t.text("key")
    columns = [_column(keys, raw_col, t.where("columns")) for raw_col in t.need("columns")]
    col_keys = [col.key for col in columns]
    if len(set(col_keys)) != len(col_keys):
        raise t.fail("columns", "列键重复 (duplicate key)")
    for col in columns:
        for name, ref in col.calc_operands.items():
            if ref not in col_keys:
                raise t.fail("columns", f"列 {col.key} 的 {name} 引用了不存在的列 '{ref}'")
    points = t.number("points", 0) or None
    columns = _scoring(t, columns, points)
    groups = []
    fixed_cols = [c.key for c in columns if c.fixed]
    for raw_group in t.get("groups") or []:
        g = MappingReader(raw_group, "group", t.where("groups"))
        g.only("values", "rows")
        values = {str(k): str(v) for k, v in (g.need("values") or {}).items()}
        if sorted(values) != sorted(fixed_cols):
            raise g.fail("values", f"分组应给出固定列 {fixed_cols} 的值")
        groups.append(TableGroup(values, int(g.number("rows"))))
    rows = sum(g.rows for g in groups) if groups else int(t.number("rows"))
    missed = None
    if "missed_target" in t.node:
        m = MappingReader(t.get("missed_target"), "missed_target", t.where("missed_target"))
        m.only("op", "target", "actual", "reason", "overshoot")
        overshoot = m.get("overshoot", OVERSHOOT)
        if overshoot is not False and not (isinstance(overshoot, int | float) and overshoot > 0):
            raise m.fail("overshoot", "应为大于 0 的比率（如 0.3），或 false（只有未完成目标才须说明） (a positive share, or false)")
        missed = MissedTarget(m.text("op"), m.text("target"), m.text("actual"), m.text("reason"),
                              None if overshoot is False else float(overshoot))
        for ref in (missed.op, missed.target, missed.actual, missed.reason):
            if ref not in col_keys:
                raise m.fail("missed_target", f"引用了不存在的列 '{ref}'")
    section = TableSection(
        key=keys.prefix + t.text("key"), columns=tuple(columns), rows=rows, where=where,
        side=t.text("side", ""), side_span=int(t.number("side_span", 1 if t.get("side") else 0)),
        groups=tuple(groups), missed_target=missed, height=t.number("height", 0) or None,
        title=t.text("title", "") or t.text("side", "").replace("\n", ""), points=points,
    )
    for n in range(1, rows + 1):
        for col in columns:
            if not col.fixed:
                keys.define(f"{key}_{n}_{col.key}", t.where("columns"))
    keys.tables[section.key] = section
    return section


def _column(keys: SpecKeys, raw: Any, where: Where) -> TableColumn:
    c = MappingReader(raw, "column", where)
    calc = c.get("calc")
    if calc is not None and (calc not in KINDS or KINDS[calc].scored):
        raise c.fail("calc", f"未知的计算类型 '{calc}'")
    operands = KINDS[calc].operands if calc is not None else ()
    c.only("key", "label", "span", "type", "choices", "strict", "hint", "fixed", "calc", "min", "max",
           "required", *operands)
    ctype = c.text("type", "text")
    if ctype not in FIELD_TYPES:
        raise c.fail("type", f"未知的字段类型 '{ctype}'")
    missing = [name for name in operands if name not in c.node]
    if calc is not None and missing and calc != "completion":
        raise c.fail("calc", f"{calc} 需要指明 {', '.join(missing)} 各是哪一列 (name the column of each operand)")
    choices = keys.choice_list(c.need("choices"), c, "choices") if ctype == "choice" else ()
    low, high = c.get("min"), c.get("max")
    return TableColumn(
        key=c.text("key"), label=c.text("label"), span=int(c.number("span", 1)),
        type=ctype, choices=choices, strict_choices=c.flag("strict", True),
        hint=c.text("hint", ""), fixed=c.flag("fixed"), calc=calc,
        calc_operands={n: c.text(n) for n in operands if n in c.node},
        min=float(low) if low is not None else None, max=float(high) if high is not None else None,
        required=c.flag("required"),
    )


def _scoring(t: MappingReader, columns: list[TableColumn], points: float | None) -> list[TableColumn]:
    """A table's ``points`` need a row score whose weight column is a number column; that
    column accepts 0 to the points unless the spec bounds it otherwise."""
    scored = [c for c in columns if c.calc == "row_score"]
    if len(scored) > 1:
        raise t.fail("columns", "一个表格只能有一列 row_score（每行得分） (one row_score column a table)")
    if (points is None) != (not scored):
        raise t.fail("points", "有 row_score 列（每行得分）的表格须写 points（本部分分值，各行权重之和），反之亦然 (points and a row_score column go together)")
    if not scored:
        return columns
    weight = scored[0].calc_operands["weight"]
    out = []
    for col in columns:
        if col.key == weight:
            if col.type != "number" or col.fixed:
                raise t.fail("columns", f"权重列 '{weight}' 应为 type: number 的输入列 (the weight column is a number input)")
            col = replace(col, min=0.0 if col.min is None else col.min, max=points if col.max is None else col.max)
        out.append(col)
    return out


