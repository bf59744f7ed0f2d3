"""Build a scorecard section of a form spec: its columns, blocks, groups and score rows, with
their rules checked and their weights added up."""

from __future__ import annotations

from typing import Any

from xlperf.form.rules import KINDS
from xlperf.form.spec import (
    SCORE_ROLES,
    ScoreBlock,
    ScorecardSection,
    ScoreColumn,
    ScoreGroup,
    ScoreRow,
)
from xlperf.form.speckeys import SpecKeys
from xlperf.form.yamlsrc import MappingReader, Node, Where


def build_scorecard(keys: SpecKeys, raw: Any, where: Where) -> ScorecardSection:
    s = MappingReader(raw, "scorecard", where)
    s.only("columns", "blocks", "total_weight", "total_label", "grade_label", "side")
    columns = []
    for raw_col in s.need("columns"):
        c = MappingReader(raw_col, "column", s.where("columns"))
        c.only("role", "label", "span")
        role = c.text("role")
        if role not in SCORE_ROLES:
            raise c.fail("role", f"未知的列角色 '{role}'; 可用: {', '.join(SCORE_ROLES)}")
        columns.append(ScoreColumn(role, c.text("label", ""), int(c.number("span", 1))))
    roles = [c.role for c in columns]
    for needed in ("label", "weight", "score"):
        if needed not in roles:
            raise s.fail("columns", f"评分表必须有 {needed} 列")
    blocks = tuple(_block(keys, b, s.where("blocks"), roles) for b in s.need("blocks"))
    total_weight = s.number("total_weight", 100)
    actual = sum(b.weight for b in blocks)
    if abs(actual - total_weight) > 1e-9:
        raise s.fail("blocks", f"各一级指标分值之和为 {actual:g}，应为 {total_weight:g} (weights do not add up)")
    for key in ("total_score", "total_weight", "grade"):
        keys.define(key, where)
    return ScorecardSection(
        columns=tuple(columns), blocks=blocks, total_weight=total_weight, where=where,
        total_label=s.text("total_label", "合计"), grade_label=s.text("grade_label", "评价结果等次"),
        side=s.text("side", ""),
    )


def _block(keys: SpecKeys, raw: Any, where: Where, roles: list[str]) -> ScoreBlock:
    b = MappingReader(raw, "block", where)
    b.only("key", "label", "weight", "groups")
    key = keys.prefix + b.text("key")
    keys.define(b.text("key") + "_weight", b.where("key"))
    keys.define(b.text("key") + "_score", b.where("key"))
    groups = []
    for raw_group in b.need("groups"):
        g = MappingReader(raw_group, "group", b.where("groups"))
        g.only("label", "weight", "rows")
        rows = tuple(_score_row(keys, r, g.where("rows"), roles) for r in g.need("rows"))
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


def _score_row(keys: SpecKeys, raw: Any, where: Where, roles: list[str]) -> ScoreRow:
    r = MappingReader(raw, "row", where)
    r.only("key", "label", "weight", "rule", "evidence", "evidence_input", "criteria",
           "value_type", "parts")
    key = keys.define(r.text("key"), r.where("key"))
    weight = r.number("weight")
    if weight <= 0:
        raise r.fail("weight", "分值应大于 0")
    rule = r.get("rule", "judged")
    rr = MappingReader(rule, "rule", r.where("rule")) if isinstance(rule, Node) else None
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
            operands[name] = keys.refer(str(ref), rr.where(name) if rr else where, f"rule of {key}")
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
        keys.define(generated[len(keys.prefix):], r.where("key"))
    return row
