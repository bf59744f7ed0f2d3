"""Where a declaration's content goes in a later form: prefill values, and what the check expects.

Used twice, so that prefilling and checking cannot disagree: ``template --from-returns`` writes
:attr:`Placement.values` (locked), and ``check --against`` compares a return with the same
placement (:mod:`xlperf.checks.crossform`). Everything is found from the target form's layout and
its spec's ``prefill_from`` (without it, only the header is prefilled):

- **Header** (the fields with roles :data:`HEADER_ROLES`, where the form has them): year, unit,
  project, 主管部门, and the budget (the field with role ``budget``, converted to the form's
  ``amount_unit`` and rounded half up to 2 decimals: a declaration's 790,000 元 → 79.00 万元).
- **A grouped indicator table** (``prefill_from: {table: KEY}``; the built-in self-evaluation's
  绩效目标 table: fixed 一级/二级 rows, 2 per
  二级): each declared indicator goes to the next free row of its 二级 group, in declared order,
  with its 三级 name, operator, target (as typed: a number stays a number, shown as 95% where the
  unit is %) and unit. The group is found by the declared 二级 (without 指标/目标), through
  the spec's ``prefill_from.level2`` for other vocabularies (seed 003's 满意度, 信息共享 …); a blank
  二级 goes by the name (满意 → 满意度) or by a 一级 with a single group. 二级 wins over 一级 when
  the two disagree (seed 000 files 满意度 under 产出指标).

  Fallback (documented choice): an indicator with no matching group (seed 003's 投入与管理, whose
  budget execution and management the self-evaluation scores in its own sections) or whose group
  is full is NOT put in another group's row (that would print wrong 一级/二级 beside it). It is
  listed in :attr:`Placement.unplaced` with the reason (the command prints each one), and in a
  comment on the form's free-text field with role ``notes`` (其他), highlighted, asking
  the unit to report its completion there; that field stays editable.
- **An indicator table whose rows the unit sets** (``prefill_from: {table: KEY}`` naming a table
  without groups; the built-in monitoring form's 绩效指标): the declared indicators fill its rows
  in declared order, each with its 一级/二级 as this table prints them (:func:`levels_in`: the
  declared 二级 through ``prefill_from.level2``; the 一级 that owns it where the declared one does
  not), its name and target. Where the table has no operator or unit column, the target is
  written as one text (:func:`whole_target`: ≥12次, ≥95%, 规范). Indicators beyond its last row are
  unplaced.
- **Achievement rows** (``prefill_from: {goals: [KEY, …]}``; the built-in evaluation report's
  goal1..goal3: score rows with a typed evidence text and a target): a row whose value type is percent takes the first 满意度 indicator with a
  numeric target; the other rows, in order, take the declared 产出 indicators with a numeric
  target that is a count (unit not %, operator ≥, ＞, ＝ or none: these rows score "reach the
  target"), 数量 indicators first, then the others, each in declared order. Evidence: the indicator's name with its unit in brackets (服务企业
  （家）); target: the number. Rows without a fitting indicator stay blank for the unit; the
  declared indicators not used are counted in the command's output (the report has 3 rows).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from xlperf.form.layout import FormLayout
from xlperf.form.operators import POSITIVE
from xlperf.form.roles import BUDGET, DEPT, NOTES, PROJECT, UNIT, YEAR
from xlperf.form.spec import PrefillFrom, ScoreRow
from xlperf.model.declarations import Declaration, Indicator
from xlperf.model.indicators import IndicatorTable, Row, indicator_tables, level_name
from xlperf.model.projects import AMOUNT_UNITS, WAN
from xlperf.model.targets import Parsed, normalise_op
from xlperf.model.values import number_text
from xlperf.read import Value

__all__ = ["GoalSlot", "Placement", "RowSlot", "goal_rows", "levels_in", "place", "prefill_table", "whole_target"]

HEADER_ROLES = (YEAR, UNIT, PROJECT, DEPT)
"""Header fields prefilled from a declaration (where the target form has them). The budget goes
to the field with role ``budget`` (the self-evaluation's 预算资金（市级预算资金）, the evaluation
report's 年度预算金额); the comment listing indicators the form has no row for, to the field with
role ``notes`` (其他)."""
SATISFACTION = "满意"
"""A name or 二级 containing this is a satisfaction indicator."""
OUTPUT_LEVEL1 = "产出"
"""The 一级 (without 指标/目标) of output indicators."""
COUNT_OPS = (None, *POSITIVE)
QUANTITY_LEVEL2 = "数量"
"""Count rows take 数量 indicators before other 产出 ones (the rows read 数量, 规模)."""


@dataclass(frozen=True)
class RowSlot:
    """A declared indicator placed in row ``n`` of an indicator table."""

    indicator: Indicator
    table: IndicatorTable
    n: int

    def key(self, role: str) -> str | None:
        return self.table.key(self.n, role)


@dataclass(frozen=True)
class GoalSlot:
    """A declared indicator placed in an achievement row (evidence + target)."""

    indicator: Indicator
    row: ScoreRow
    number: float


@dataclass
class Placement:
    values: dict[str, Value] = field(default_factory=dict)
    number_formats: dict[str, str] = field(default_factory=dict)
    rows: list[RowSlot] = field(default_factory=list)
    goals: list[GoalSlot] = field(default_factory=list)
    unplaced: list[tuple[Indicator, str]] = field(default_factory=list)
    """Indicators the form has no place for, with the reason (Chinese)."""
    unused: list[Indicator] = field(default_factory=list)
    """Indicators not needed by a form that holds only a few (the achievement rows)."""
    note_key: str | None = None
    notes: list[str] = field(default_factory=list)
    """Other remarks for the command's output (a rounded budget)."""

    @property
    def comment(self) -> str | None:
        """The comment for the ``notes`` field listing the unplaced indicators."""
        if not self.unplaced:
            return None
        lines = [f"{i.title} {i.text}" for i, _ in self.unplaced]
        return ("申报表中的以下指标在本表中没有对应的行，请在本栏说明其完成情况：\n" + "\n".join(lines))[:1000]


def place(layout: FormLayout, decl: Declaration) -> Placement:
    """Where ``decl``'s content goes in ``layout``'s form."""
    out = Placement()
    header = dict(zip(HEADER_ROLES, (decl.year, decl.unit, decl.project, decl.dept), strict=True))
    out.values.update({k: v for role, v in header.items()
                       if (k := layout.role_key(role)) is not None and v not in (None, "")})
    budget_key = layout.role_key(BUDGET)
    budget = decl.budget_in(layout.spec.amount_unit)
    if budget_key and budget is not None and decl.budget is not None:
        out.values[budget_key] = budget
        exact = decl.budget * AMOUNT_UNITS[WAN] / AMOUNT_UNITS[layout.spec.amount_unit]
        if exact != Decimal(f"{budget}"):
            out.notes.append(f"预算 {exact.normalize():f} {layout.spec.amount_unit}已按两位小数取为 {budget:.2f}")
    table = prefill_table(layout)
    goals = goal_rows(layout)
    if table is not None and table.section.groups:
        _place_rows(out, table, decl, layout.spec.prefill_from)
    elif table is not None:
        _place_in_order(out, table, decl, layout.spec.prefill_from)
    elif goals:
        _place_goals(out, goals, decl)
    else:
        out.unplaced += [(i, "本表没有绩效指标行") for i in decl.indicators]
    out.note_key = layout.role_key(NOTES)
    return out


def prefill_table(layout: FormLayout) -> IndicatorTable | None:
    """The grouped indicator table declared indicators go to (spec ``prefill_from.table``)."""
    prefill = layout.spec.prefill_from
    if prefill is None or not prefill.table:
        return None
    return next((t for t in indicator_tables(layout) if t.section.key == prefill.table), None)


def goal_rows(layout: FormLayout) -> list[ScoreRow]:
    """The achievement rows declared indicators go to (spec ``prefill_from.goals``), in order."""
    prefill = layout.spec.prefill_from
    if prefill is None:
        return []
    rows = {r.key: r for r in _score_rows(layout)}
    return [rows[key] for key in prefill.goals if key in rows]


# -- grouped table -----------------------------------------------------------------------------
def _groups(table: IndicatorTable) -> dict[str, list[int]]:
    """Row numbers of each 二级 group (without suffix), in order."""
    groups: dict[str, list[int]] = {}
    for n in range(1, table.section.rows + 1):
        level2 = level_name(table.fixed_value(n, "level2"))
        if level2:
            groups.setdefault(level2, []).append(n)
    return groups


def _level1_of(table: IndicatorTable) -> dict[str, set[str]]:
    owners: dict[str, set[str]] = {}
    for n in range(1, table.section.rows + 1):
        l1, l2 = level_name(table.fixed_value(n, "level1")), level_name(table.fixed_value(n, "level2"))
        if l1 and l2:
            owners.setdefault(l1, set()).add(l2)
    return owners


def group_of(table: IndicatorTable, row: Row, prefill: PrefillFrom | None) -> str | None:
    """The 二级 group (without suffix) of ``table`` that a declared row belongs in, if any
    (``prefill.level2`` maps a declared 二级 to one of the table's)."""
    groups = _groups(table)
    if row.level2:
        level2 = prefill.group_for(row.level2) if prefill is not None else row.level2
        if level2 in groups:
            return level2
        return None
    if SATISFACTION in row.name:
        return next((g for g in groups if SATISFACTION in g), None)
    owned = _level1_of(table).get(row.level1 or "", set())
    return next(iter(owned)) if len(owned) == 1 else None


def _place_rows(out: Placement, table: IndicatorTable, decl: Declaration, prefill: PrefillFrom | None) -> None:
    free = {g: list(rows) for g, rows in _groups(table).items()}
    for indicator in decl.indicators:
        group = group_of(table, indicator.row, prefill)
        if group is None:
            what = indicator.row.table.show(indicator.row.level2) or indicator.row.table.show(indicator.row.level1)
            out.unplaced.append((indicator, f"本表没有“{what or '（未填二级指标）'}”对应的指标行"))
            continue
        if not free[group]:
            out.unplaced.append((indicator, f"本表“{table.show(group)}”只有 {len(_groups(table)[group])} 行，已占满"))
            continue
        slot = RowSlot(indicator, table, free[group].pop(0))
        out.rows.append(slot)
        _row_values(out, slot)


# -- rows the unit sets -------------------------------------------------------------------------
def _place_in_order(out: Placement, table: IndicatorTable, decl: Declaration, prefill: PrefillFrom | None) -> None:
    """A table without groups: each declared indicator in the next row, with its 一级/二级."""
    rows = table.section.rows
    for n, indicator in enumerate(decl.indicators, 1):
        if n > rows:
            out.unplaced.append((indicator, f"本表绩效指标只有 {rows} 行，已占满"))
            continue
        slot = RowSlot(indicator, table, n)
        out.rows.append(slot)
        for role, value in zip(("level1", "level2"), levels_in(table, indicator.row, prefill), strict=True):
            key, column = slot.key(role), table.columns.get(role)
            if key is None or column is None or not value:
                continue
            if column.strict_choices and value not in column.choices:
                continue  # the unit picks it: a locked cell may hold only what its dropdown offers
            out.values[key] = value
        _row_values(out, slot)


def levels_in(table: IndicatorTable, row: Row, prefill: PrefillFrom | None) -> tuple[str, str]:
    """A declared row's 一级 and 二级 as ``table`` prints them: the 二级 through ``prefill.level2``
    (a blank one by the name: 满意 → 满意度), the 一级 the owner of that 二级 in the table's
    vocabulary where the declared 一级 does not own it (二级 wins, as in grouped tables)."""
    level2 = prefill.group_for(row.level2) if row.level2 and prefill is not None else row.level2
    vocabulary = table.vocabulary
    if level2 is None and SATISFACTION in row.name and vocabulary is not None:
        level2 = next((l2 for l2s in vocabulary.level2.values() for l2 in l2s if SATISFACTION in l2), None)
    level1 = row.level1
    if vocabulary is not None and level2 is not None and level2 not in vocabulary.level2.get(level1 or "", ()):
        level1 = next((l1 for l1, l2s in vocabulary.level2.items() if level2 in l2s), level1)
    return table.show(level1), table.show(level2)


def whole_target(row: Row, op: bool, unit: bool) -> Value:
    """A declared target as one text for a table without an operator (``op``) or unit (``unit``)
    column: ≥12次, ≥95%, 规范 (a number with its operator and unit, as the indicator checks show it)."""
    target = row.target
    if target is None or target.number is None:
        return target.text if target is not None else None
    number = target.number * 100 if row.unit == "%" else target.number
    return f"{(row.op or '') if op else ''}{number_text(number, row.unit if unit or row.unit == '%' else '')}"


def _row_values(out: Placement, slot: RowSlot) -> None:
    raw = slot.indicator.raw
    op = normalise_op(raw.get("op"))
    unit = raw.get("unit")
    no_op, no_unit = slot.key("op") is None, slot.key("unit") is None
    target = whole_target(slot.indicator.row, no_op, no_unit) if no_op or no_unit else raw.get("target")
    for role, value in (("name", slot.indicator.name), ("op", op), ("target", target),
                        ("unit", unit.strip() if isinstance(unit, str) else unit)):
        key = slot.key(role)
        if key is None or value is None or value == "":
            continue
        out.values[key] = value
        if role == "target" and isinstance(value, int | float) and slot.indicator.row.unit == "%":
            out.number_formats[key] = percent_format(float(value))


def percent_format(x: float) -> str:
    """A percent format showing ``x`` exactly (0.95 → 0%, 0.955 → 0.0%)."""
    for places in range(0, 5):
        if abs(round(x * 100, places) - x * 100) < 1e-9:
            return "0%" if places == 0 else "0." + "0" * places + "%"
    return "0.00%"


# -- achievement rows --------------------------------------------------------------------------
def _score_rows(layout: FormLayout) -> Iterator[ScoreRow]:
    for card in layout.spec.scorecards():
        for block in card.blocks:
            yield from block.rows


def is_satisfaction(indicator: Indicator) -> bool:
    row = indicator.row
    return SATISFACTION in (row.level2 or "") or SATISFACTION in row.name


def _number(parsed: Parsed | None) -> float | None:
    return parsed.number if parsed is not None else None


def _place_goals(out: Placement, rows: list[ScoreRow], decl: Declaration) -> None:
    satisfaction = [i for i in decl.indicators if is_satisfaction(i) and _number(i.row.target) is not None]
    counts = [i for i in decl.indicators if not is_satisfaction(i) and i.row.level1 == OUTPUT_LEVEL1
              and _number(i.row.target) is not None and i.row.unit != "%" and i.row.op in COUNT_OPS]
    counts.sort(key=lambda i: i.row.level2 != QUANTITY_LEVEL2)  # stable: 数量 first, then declared order
    used: list[Indicator] = []
    for row in rows:
        pool = satisfaction if row.value_type == "percent" else counts
        if not pool:
            continue
        indicator = pool.pop(0)
        number = _number(indicator.row.target)
        assert number is not None and row.evidence_key and row.target_key
        slot = GoalSlot(indicator, row, number)
        out.goals.append(slot)
        used.append(indicator)
        out.values[row.evidence_key] = evidence_text(indicator)
        out.values[row.target_key] = number
    out.unused = [i for i in decl.indicators if all(i is not u for u in used)]


def evidence_text(indicator: Indicator) -> str:
    unit = indicator.row.unit
    return f"{indicator.name}（{unit}）" if unit and unit != "%" else indicator.name
