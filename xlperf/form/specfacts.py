"""A spec's form-level facts the code would otherwise look up by form id (the spec reference:
README, "Form specs / 表单规格", form-level settings / 表单级设置):

- ``file_stem``: the short name issued templates' file names start with (default: the title);
- ``declares_targets``: accepted returns of this form are declarations (default: false);
- ``amounts``: which keys the roll-up reports as 预算, 调整后预算, 下达, 支出 (default: none: the
  roll-up's amount columns stay blank);
- ``execution_rate``: the completion calc that is the 预算执行率, and the field that must explain
  a low rate (default: none: no 执行率 in the roll-up, no low-rate checks);
- ``prefill_from``: where a declaration's indicators go in this later form: a grouped indicator
  table, a table whose rows the unit sets (一级/二级/target input columns), or score rows (default: nowhere:
  ``template --from-returns`` prefills only the header, ``check --against`` compares nothing).

Keys are written without the project-sheet prefix; on a form with repeated sheets (``repeat``)
a key must exist on every copy (``p1_…``, ``p2_…``) and is used per copy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xlperf.form.roles import REPEAT_PREFIX, prefix_of
from xlperf.form.spec import (
    AMOUNT_NAMES,
    Calc,
    ExecutionRate,
    GridSection,
    PrefillFrom,
    ScorecardSection,
    SheetSpec,
    TableSection,
)
from xlperf.form.speckeys import SpecKeys
from xlperf.form.yamlsrc import MappingReader

FACT_KEYS = ("file_stem", "declares_targets", "amounts", "execution_rate", "prefill_from")
"""Top-level spec keys read here."""


def _copies(keys: SpecKeys) -> list[str]:
    """The project-sheet prefixes of the form ("" when it has no repeated sheets)."""
    return sorted({prefix_of(k) for k in keys.keys} - {""}) or [""]


def _must_exist(keys: SpecKeys, r: MappingReader, name: str, key: str) -> None:
    """``key`` is a key of the form, or of every project sheet of it."""
    if key in keys.keys or all(p + key in keys.keys for p in _copies(keys)):
        return
    raise r.fail(name, f"{name} 引用了不存在的键 '{key}' (missing reference)")


def _bare(key: str) -> str:
    return REPEAT_PREFIX.sub("", key, count=1)


def _calcs(sheets: list[SheetSpec]) -> dict[str, Calc]:
    """Grid calcs by key without project-sheet prefix (the first copy's)."""
    found: dict[str, Calc] = {}
    for sheet in sheets:
        for section in sheet.sections:
            if isinstance(section, GridSection):
                for row in section.rows:
                    for cell in row:
                        if cell.calc is not None:
                            found.setdefault(_bare(cell.calc.key), cell.calc)
    return found


def amounts(keys: SpecKeys, r: MappingReader) -> tuple[tuple[str, str], ...]:
    raw = r.get("amounts")
    if raw is None:
        return ()
    a = MappingReader(raw, "amounts", r.where("amounts"))
    a.only(*AMOUNT_NAMES)
    out = []
    for name in AMOUNT_NAMES:
        if name in a.node:
            key = a.text(name)
            _must_exist(keys, a, name, key)
            out.append((name, key))
    return tuple(out)


def execution_rate(keys: SpecKeys, r: MappingReader, sheets: list[SheetSpec],
                   named: tuple[tuple[str, str], ...]) -> ExecutionRate | None:
    raw = r.get("execution_rate")
    if raw is None:
        return None
    e = MappingReader(raw, "execution_rate", r.where("execution_rate"))
    e.only("calc", "explanation", "explain_below")
    key = e.text("calc")
    calc = _calcs(sheets).get(key)
    if calc is None or calc.kind != "completion":
        raise e.fail("calc", f"execution_rate.calc 应为 kind: completion 的计算单元格，'{key}' 不是"
                             " (must name a completion calc)")
    by_key = {k: n for n, k in named}
    parts = []
    for operand in ("actual", "target"):
        bare = _bare(str(calc.operands[operand]))
        if bare not in by_key:
            raise e.fail("calc", f"执行率 '{key}' 的 {operand} '{bare}' 不在 amounts 中：请在 amounts 中写明它是"
                                 f" {'/'.join(AMOUNT_NAMES)} 中的哪一项 (numerator and denominator must be amounts)")
        parts.append(by_key[bare])
    explanation = e.text("explanation", "")
    if explanation:
        _must_exist(keys, e, "explanation", explanation)
    below = e.number("explain_below", 0.9)
    if not 0 < below <= 1:
        raise e.fail("explain_below", "应为 0 到 1 之间的比率，如 0.9")
    return ExecutionRate(key, parts[0], parts[1], explanation, Decimal(str(below)))


def _indicator_table(section: TableSection) -> bool:
    """A grouped indicator table, or one whose 一级, 二级 and target the unit types (unit-set rows)."""
    if section.groups:
        return True
    typed = {c.key for c in section.columns if not c.fixed and not c.calc}
    return {"level1", "level2", "target"} <= typed


def prefill_from(r: MappingReader, sheets: list[SheetSpec]) -> PrefillFrom | None:
    raw = r.get("prefill_from")
    if raw is None:
        return None
    p = MappingReader(raw, "prefill_from", r.where("prefill_from"))
    p.only("table", "level2", "goals")
    if ("table" in p.node) == ("goals" in p.node):
        raise p.fail("prefill_from", "prefill_from 应写 table（分组的指标表）或 goals（评分行）之一，只写一个")
    table = p.text("table", "")
    sections = [s for sheet in sheets for s in sheet.sections]
    if table and not any(isinstance(s, TableSection) and s.key == table and _indicator_table(s) for s in sections):
        raise p.fail("table", f"prefill_from.table '{table}' 应为本表中的指标表：带 groups（固定的一级、二级），"
                              "或有一级、二级、目标值输入列 (a grouped table, or one whose rows the unit sets)")
    level2: Any = p.get("level2") or {}
    if not isinstance(level2, dict) or not all(isinstance(v, str) for v in level2.values()):
        raise p.fail("level2", "level2 应为“申报表的二级指标: 本表的二级指标”的映射")
    goals: Any = p.get("goals") or []
    if "goals" in p.node:
        rows = {row.key: row for s in sections if isinstance(s, ScorecardSection)
                for block in s.blocks for row in block.rows}
        if not isinstance(goals, list) or not goals:
            raise p.fail("goals", "goals 应为评分行键的列表")
        for goal in goals:
            row = rows.get(str(goal))
            if row is None or not row.evidence_input or not row.target_key:
                raise p.fail("goals", f"goals 中的 '{goal}' 应为有 evidence_input 和目标值的评分行")
    return PrefillFrom(table, tuple((str(k), v) for k, v in level2.items()), tuple(str(g) for g in goals))
