"""Checks of indicator tables: targets, operators, units, deviations and indicator levels.

The rows come from :mod:`xlperf.model.indicators` (tables, rows in use, parsed targets and
actuals); the checks here judge them. A row in use may hold only an actual (the model's one
definition of "in use"): the checks that judge an indicator's name or target find nothing to
judge there; its 一级/二级 are checked like any row's; it does not count as an output indicator.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from xlperf.checks.base import Check, Context
from xlperf.form.operators import OPERATORS_TEXT, OVERSHOOT, POSITIVE_OPS, QUALITATIVE, REVERSE_OPS
from xlperf.form.qualitative import REACHED, level_of
from xlperf.model.indicators import (
    Row,
    Vocabulary,
    indicator_tables,
    is_rate,
    level_name,
    sheet_in_use,
    table_rows,
)
from xlperf.model.targets import says_not_done, says_nothing_done
from xlperf.read import Value

# --------------------------------------------------------------------------- conventions

NAME_HINTS = {"满意度": "满意度", "满意率": "满意度"}
"""A word in an indicator's name → a word of the 二级 it belongs to; its 一级 is the owner of
that 二级 in the table's vocabulary (seed 000 files 满意度 under 产出指标)."""



_ROWS: list[tuple[Context, list[Row]]] = []


def all_rows(ctx: Context) -> Iterator[Row]:
    """Rows in use of every indicator table; read once per return (every check asks)."""
    slot = _ROWS[0] if _ROWS else None
    if slot is None or slot[0] is not ctx:
        slot = (ctx, [row for table in indicator_tables(ctx.layout) for row in table_rows(table, ctx.inputs)])
        _ROWS[:] = [slot]
    yield from slot[1]


# --------------------------------------------------------------------------- helpers


def _owner(vocabulary: Vocabulary, level2_word: str) -> tuple[str, str] | None:
    """(一级, 二级) of the first 二级 containing a word."""
    for level1, level2s in vocabulary.level2.items():
        for level2 in level2s:
            if level2_word in level2:
                return level1, level2
    return None


def _not_done(actual: Value) -> bool:
    return isinstance(actual, str) and says_not_done(actual)


def deviation(row: Row) -> str | None:
    """Why a row's actual needs an explanation (missed, or beaten by the table's overshoot, 30%
    unless its spec says otherwise), or None. A 定性 row needs one below 达成 (部分达成, 未达成)."""
    target, actual = row.target, row.actual
    if target is None or actual is None:
        return None
    level = level_of(row.actual_raw) if row.nature == QUALITATIVE else None
    if level is not None:
        return None if level == REACHED else f"完成情况为“{actual.text}”，未完全达成目标"
    setting = row.table.section.missed_target
    overshoot = setting.overshoot if setting is not None else OVERSHOOT
    number = actual.number
    if _not_done(row.actual_raw):
        missed = f"实际完成为“{actual.text}”，未完成目标"
        if not target.quantitative:
            return None if actual.text == target.text or _not_done(target.text) else missed
        if not says_nothing_done(actual.text):  # 未开展 etc.: no amount to compare
            return missed if row.op in POSITIVE_OPS else None
        number = 0.0
    if target.number is None or number is None or row.op is None:
        return None
    if actual.unit and row.unit and actual.unit != row.unit:
        return None  # 5天 against 1月: not comparable without converting units
    t, a = target.number, number
    near = math.isclose(a, t, rel_tol=1e-9, abs_tol=1e-12)
    if row.op in POSITIVE_OPS and a < t and not near:
        return "未达到目标值"
    if row.op in REVERSE_OPS and a > t and not near:
        return "超过了目标上限"
    if overshoot is not None and row.op in POSITIVE_OPS and t > 0 and a >= t * (1 + overshoot) - 1e-12:
        return f"超出目标 {overshoot:.0%} 以上"
    return None


def _flag_row(ctx: Context, row: Row, roles: tuple[str, ...], message: str, *,
              expected: str | None = None, found: str | None = None) -> None:
    """Flag at the first of ``roles`` that is an input cell of the row (name as last resort)."""
    key = next((k for k in (row.key(r) for r in (*roles, "name")) if k), None)
    ctx.flag(key, message, expected=expected, found=found)


# --------------------------------------------------------------------------- checks


def check_target_missing(ctx: Context) -> None:
    for row in all_rows(ctx):
        if row.name and row.target is None:
            _flag_row(ctx, row, ("target",),
                      f"{row.title}的“{row.table.label('target')}”为空：请填写目标值（定量如 "
                      "≥12次、≥95%，定性如 规范、有效），不设此指标的请删除该行")


def check_name_missing(ctx: Context) -> None:
    for row in all_rows(ctx):
        if not row.name and row.target is not None:
            _flag_row(ctx, row, ("name",),
                      f"第{row.n}行填了“{row.table.label('target')}”{row.target_text}，"
                      f"但“{row.table.label('name')}”为空：请填写三级指标名称，或清除该行",
                      found=row.target_text)


def check_target_no_operator(ctx: Context) -> None:
    for row in all_rows(ctx):
        if row.target is not None and row.target.quantitative and row.op is None:
            _flag_row(ctx, row, ("op", "target"),
                      f"{row.title}的目标值 {row.target_text} 没有符号：请在"
                      f"“{row.table.label('op')}”列选择 {OPERATORS_TEXT}（如 ≥12次 表示不少于12次）",
                      found=row.target_text)


def check_target_no_unit(ctx: Context) -> None:
    for row in all_rows(ctx):
        if row.target is not None and row.target.quantitative and not row.unit:
            _flag_row(ctx, row, ("unit", "target"),
                      f"{row.title}的目标值 {row.target_text} 没有计量单位：请在"
                      f"“{row.table.label('unit')}”列选择或填写单位（如 次、家、%、万元）",
                      found=row.target_text)


def check_rate_with_qualitative_target(ctx: Context) -> None:
    for row in all_rows(ctx):
        target = row.target
        if row.name and is_rate(row.name) and target is not None and not target.quantitative:
            _flag_row(ctx, row, ("target",),
                      f"{row.title}是比率类指标，目标值却是定性文字“{target.text}”：请改为带符号"
                      "和单位的数值（如 ＝100%、≥95%），或把指标名称改为定性表述",
                      found=target.text)


def check_deviation_no_reason(ctx: Context) -> None:
    for row in all_rows(ctx):
        if row.reason or row.key("reason") is None or row.key("actual") is None:
            continue
        why = deviation(row)
        if why:
            _flag_row(ctx, row, ("reason",),
                      f"{row.title}目标 {row.target_text}、实际完成 {row.actual_text}，{why}，"
                      f"但“{row.table.label('reason')}”为空：请说明偏差原因和改进措施",
                      expected=row.target_text, found=row.actual_text)


def check_actual_missing(ctx: Context) -> None:
    for row in all_rows(ctx):
        if row.key("actual") is not None and row.target is not None and row.actual is None:
            _flag_row(ctx, row, ("actual",),
                      f"{row.title}有目标值 {row.target_text}，“{row.table.label('actual')}”却为空："
                      "请填写实际完成值（未开展的如实填写，并说明偏差原因）",
                      expected=row.target_text)


def check_wrong_level1(ctx: Context) -> None:
    for row in all_rows(ctx):
        vocabulary = row.table.vocabulary
        if vocabulary is None or row.level1 is None or not row.name:
            continue
        for word, level2_word in NAME_HINTS.items():
            owner = _owner(vocabulary, level2_word)
            if word not in row.name or owner is None or owner[0] == row.level1:
                continue
            expected, level2 = (row.table.show(owner[0]), row.table.show(owner[1]))
            fix = (f"请改选一级指标“{expected}”、二级指标“{level2}”" if row.key("level1")
                   else f"请移到“{expected}”下的行填写")
            _flag_row(ctx, row, ("level1",),
                      f"{row.title}填在“{row.table.show(row.level1)}”下，应属于“{expected}”：{fix}",
                      expected=expected, found=row.table.show(row.level1))
            break


def check_level1_blank(ctx: Context) -> None:
    for row in all_rows(ctx):
        if row.key("level1") is not None and row.level1 is None:
            example = row.table.vocabulary.output if row.table.vocabulary else "产出"
            _flag_row(ctx, row, ("level1",),
                      f"{row.title}没有一级指标：请在“{row.table.label('level1')}”列选择"
                      f"（如 {row.table.show(example)}）")


def check_level2_blank(ctx: Context) -> None:
    for row in all_rows(ctx):
        if row.key("level2") is None or row.level1 is None or row.level2 is not None:
            continue
        allowed = "、".join(row.table.show(level2) for level2 in _allowed(row))
        hint = f"（“{row.table.show(row.level1)}”下可选 {allowed}）" if allowed else ""
        _flag_row(ctx, row, ("level2",),
                  f"{row.title}的二级指标为空：请在“{row.table.label('level2')}”列选择{hint}")


def check_level2_mismatch(ctx: Context) -> None:
    for row in all_rows(ctx):
        allowed = _allowed(row)
        if row.key("level2") is None or row.level2 is None or not allowed or row.level2 in allowed:
            continue
        shown = "、".join(row.table.show(level2) for level2 in allowed)
        _flag_row(ctx, row, ("level2",),
                  f"{row.title}的二级指标“{row.table.show(row.level2)}”不属于一级指标"
                  f"“{row.table.show(row.level1)}”：请改选 {shown} 之一，或改选一级指标",
                  expected=shown, found=row.table.show(row.level2))


def _allowed(row: Row) -> tuple[str, ...]:
    """The 二级 (without suffix) of the row's 一级; () when the 一级 or vocabulary is unknown."""
    vocabulary = row.table.vocabulary
    if vocabulary is None or row.level1 is None:
        return ()
    return vocabulary.level2.get(row.level1, ())


def check_output_empty(ctx: Context) -> None:
    for table in indicator_tables(ctx.layout):
        vocabulary = table.vocabulary
        if vocabulary is None or (table.repeated and not sheet_in_use(table, ctx.inputs)):
            continue
        if any(row.table is table and row.level1 == vocabulary.output and (row.name or row.target)
               for row in all_rows(ctx)):
            continue
        first = next((n for n in range(1, table.section.rows + 1)
                      if level_name(table.fixed_value(n, "level1")) == vocabulary.output), 1)
        key = table.key(first, "level1") or table.key(first, "name")
        output = table.show(vocabulary.output)
        ctx.flag(key, f"工作表“{table.sheet}”没有填写任何“{output}”：至少填写一项{output}"
                      "（数量、质量、时效等），写明指标名称、符号、目标值和单位")


CHECKS: tuple[Check, ...] = (
    Check("TARGET_MISSING", check_target_missing),
    Check("NAME_MISSING", check_name_missing),
    Check("TARGET_NO_OPERATOR", check_target_no_operator),
    Check("TARGET_NO_UNIT", check_target_no_unit),
    Check("RATE_WITH_QUALITATIVE_TARGET", check_rate_with_qualitative_target),
    Check("DEVIATION_NO_REASON", check_deviation_no_reason),
    Check("ACTUAL_MISSING", check_actual_missing),
    Check("WRONG_LEVEL1", check_wrong_level1),
    Check("LEVEL1_BLANK", check_level1_blank),
    Check("LEVEL2_BLANK", check_level2_blank),
    Check("LEVEL2_MISMATCH", check_level2_mismatch),
    Check("OUTPUT_EMPTY", check_output_empty),
)

__all__ = ["CHECKS", "all_rows", "deviation"]
