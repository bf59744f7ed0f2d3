"""Checks of indicator tables: targets, operators, units, deviations and indicator levels.

An indicator table is a ``table`` section of the form spec with a ``target`` column. Column
roles (name, 一级, 二级, operator, target, unit, actual, reason) come from the column keys and the
table's ``missed_target`` entry; the 一级/二级 of a row come from its input cells or, where the
spec fixes them (grouped tables), from the group. A row is in use when its name or target is
filled. Target and actual values go through one parser (:func:`parse_value`).
"""

from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from xlperf.checks.base import Check, Context
from xlperf.checks.fields import is_blank
from xlperf.form.alerts import POSITIVE_OPS, REVERSE_OPS
from xlperf.form.layout import OPERATORS, FormLayout, per_layout
from xlperf.form.spec import TableColumn, TableSection
from xlperf.read import Value

# --------------------------------------------------------------------------- conventions

ROLE_COLUMNS = {
    "level1": "level1", "level2": "level2", "name": "name", "op": "op", "target": "target",
    "unit": "unit", "actual": "actual", "reason": "reason",
}
"""Column key of each role. The spec's ``missed_target`` overrides op/target/actual/reason; the
other roles have no spec attribute yet, so they go by these keys (tables lacking one skip the
checks that need it)."""


@dataclass(frozen=True)
class Vocabulary:
    """Which 二级 belong to which 一级 in one indicator framework (names without 指标/目标)."""

    level2: dict[str, tuple[str, ...]]
    output: str
    """The 一级 that must hold at least one indicator (产出)."""


VOCABULARIES: tuple[Vocabulary, ...] = (
    # National framework (rules.md; 成本指标 as a 一级 from 财预〔2021〕101号, whose 二级 are
    # 经济/社会/生态环境成本; the older 成本 二级 under 产出 stays valid).
    Vocabulary({
        "产出": ("数量", "质量", "时效", "成本"),
        "效益": ("经济效益", "社会效益", "生态效益", "可持续影响"),
        "满意度": ("服务对象满意度",),
        "成本": ("经济成本", "社会成本", "生态环境成本", "成本"),
    }, output="产出"),
    # Shanghai's 目标表 as read from seed 003 (forms.md): 满意度 sits under 效果目标 there.
    Vocabulary({
        "投入与管理": ("投入管理", "财务管理", "实施管理"),
        "产出": ("数量", "质量", "时效", "成本"),
        "效果": ("经济效益", "社会效益", "生态效益", "可持续影响", "满意度"),
        "影响力": ("信息共享", "部门协助"),
    }, output="产出"),
)
"""A table uses the first vocabulary whose 一级 include every 一级 the table offers."""

LEVEL_SUFFIXES = ("指标", "目标")
"""Dropped before comparing levels: 数量指标 and 数量 are the same 二级."""

NAME_HINTS = {"满意度": "满意度", "满意率": "满意度"}
"""A word in an indicator's name → a word of the 二级 it belongs to; its 一级 is the owner of
that 二级 in the table's vocabulary (seed 000 files 满意度 under 产出指标)."""

RATE_ENDINGS = ("率", "度")
NOT_RATE_ENDINGS = ("制度", "年度", "季度", "月度", "额度", "力度")
"""Names ending like a rate that are not one (管理制度, 支持力度)."""

NOT_DONE = ("无", "否")
NOT_DONE_PREFIXES = ("未完成", "未开展", "未实施", "未达成", "未达到", "没有开展", "尚未")
"""An actual written as one of these (or starting with a prefix) means nothing was done: the
target was missed (against a number, 无 counts as 0, so ≤ 5次投诉 with 无 is met)."""

OVERSHOOT = 0.3
"""Beating a ≥ target by this fraction or more needs an explanation (rules.md [L]); the same
30% as the template's conditional format (xlperf.form.alerts.missed_target_no_reason)."""

EXTRA_UNITS = (
    "个百分点", "百分点", "万人次", "万人", "万户", "万亩", "万元", "亿元", "元", "台", "套", "台套",
    "户", "所", "篇", "本", "批", "件", "座", "处", "辆", "张", "册", "人天", "家次", "课时", "学时",
    "小时", "分钟", "周", "季度", "亩", "公顷", "平方米", "米", "公里", "千米", "吨", "千瓦", "个",
    "家", "人", "人次", "项", "次", "场", "天", "日", "月", "年", "期", "份", "条", "类",
)
"""Units recognised inside a value (12台, 95个百分点) besides the table's unit choices. Only a
known unit makes ``12xx`` numeric, so that text like ``2019年全年`` stays qualitative."""

PREFILLED_KEYS = ("year", "unit_name")
"""Keys the template prefills on every copy of a repeated sheet; they do not put a sheet in use."""

REPEAT_PREFIX = re.compile(r"^p\d+_")
"""Keys on a repeated sheet (one per project) carry this prefix (spec: ``repeat``)."""

_OP_WORDS = (
    (">=", "≥"), ("=>", "≥"), ("≧", "≥"), ("≥", "≥"), ("<=", "≤"), ("=<", "≤"), ("≦", "≤"),
    ("≤", "≤"), ("==", "＝"), (">", "＞"), ("<", "＜"), ("=", "＝"),
    ("大于或等于", "≥"), ("大于等于", "≥"), ("不低于", "≥"), ("不少于", "≥"), ("至少", "≥"),
    ("达到", "≥"), ("小于或等于", "≤"), ("小于等于", "≤"), ("不高于", "≤"), ("不超过", "≤"),
    ("不多于", "≤"), ("至多", "≤"), ("控制在", "≤"), ("大于", "＞"), ("高于", "＞"),
    ("超过", "＞"), ("多于", "＞"), ("小于", "＜"), ("低于", "＜"), ("少于", "＜"), ("等于", "＝"),
)
_OP_SUFFIXES = (("及以上", "≥"), ("以上", "≥"), ("及以下", "≤"), ("以下", "≤"), ("以内", "≤"))
_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_SCALE = {"%": 100.0, "‰": 1000.0}
_SEPARATORS = "(（[【,，;；:：/、"
_TYPED_TEXT = re.compile(r"[^\d.,+-]")
_TRAILING_NOTE = re.compile(r"[（(][^（()）]*[)）]$")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class Parsed:
    """A target or actual value: operator, number and unit, or a qualitative text."""

    op: str | None
    """Operator written inside the value, normalised to full width (≥ ＞ ＝ ≤ ＜)."""
    number: float | None
    """The number (a percentage as a fraction: 95% → 0.95); None for qualitative text."""
    unit: str
    """Unit written inside the value ('' when none)."""
    text: str
    """The value as shown to the clerk."""

    @property
    def quantitative(self) -> bool:
        return self.number is not None


def _shown(value: Value) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value).strip()


def _compact(text: str) -> str:
    # Full-width digits, ％ and ＞＝＜ become ASCII; spaces typed around signs mean nothing.
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text))


def normalise_op(value: Value) -> str | None:
    """An operator cell's value as one of ≥ ＞ ＝ ≤ ＜, or None (blank or not an operator)."""
    if not isinstance(value, str):
        return None
    text = _compact(value)
    if text in OPERATORS:
        return text
    return next((op for word, op in _OP_WORDS if text == word), None)


def parse_value(value: Value, units: Collection[str] = (), lenient: bool = False) -> Parsed | None:
    """Parse a target or actual value; None when blank.

    ``units`` are the units recognised after a number besides ``%``/``‰`` and EXTRA_UNITS.
    ``lenient`` (for actuals) accepts a number followed by a remark: ``5.09%（按…计算）``.
    """
    if type(value) is str and isinstance(units, frozenset | tuple):
        # Texts repeat from return to return (targets of a template); Parsed is immutable.
        return _parse_text(value, units, lenient)
    return _parse(value, units, lenient)


@lru_cache(maxsize=8192)
def _parse_text(value: str, units: Collection[str], lenient: bool) -> Parsed | None:
    return _parse(value, units, lenient)


def _parse(value: Value, units: Collection[str], lenient: bool) -> Parsed | None:
    if is_blank(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number: float | None = float(value)
        except OverflowError:
            number = None
        if number is not None and not math.isfinite(number):
            number = None
        return Parsed(None, number, "", _shown(value))
    text = _shown(value)
    if isinstance(value, dt.date):
        return Parsed(None, None, "", text)
    rest = _compact(text)
    op = None
    for word, normal in _OP_WORDS:
        if rest.startswith(word):
            op, rest = normal, rest[len(word):]
            break
    for word, normal in _OP_SUFFIXES:
        if rest.endswith(word) and len(rest) > len(word):
            op, rest = op or normal, rest[: -len(word)]
            break
    match = _NUMBER.match(rest)
    if match is None:
        return Parsed(None, None, "", text)
    tail = rest[match.end():]
    unit = next((u for u in _longest_first(frozenset(units)) if tail.startswith(u)), "")
    tail = tail[len(unit):]
    if tail and not (lenient and tail[0] in _SEPARATORS):
        return Parsed(None, None, "", text)
    number = float(match.group().replace(",", "")) / _SCALE.get(unit, 1.0)
    return Parsed(op, number, unit, text)


@lru_cache(maxsize=32)
def _longest_first(units: frozenset[str]) -> tuple[str, ...]:
    # Longest first, so that 万元 wins over 元 and 人次 over 人.
    return tuple(sorted({*_SCALE, *units, *EXTRA_UNITS}, key=len, reverse=True))


def is_rate(name: str) -> bool:
    """Whether an indicator's name says it is a rate or degree (执行率, 满意度)."""
    core = _TRAILING_NOTE.sub("", name.strip()).strip()
    return core.endswith(RATE_ENDINGS) and not core.endswith(NOT_RATE_ENDINGS)


_SPACES = re.compile(r"\s+")


def level_name(value: Value) -> str | None:
    """A 一级/二级 value without its 指标/目标 suffix; None when blank."""
    if is_blank(value):
        return None
    text = _SPACES.sub("", str(value))
    for suffix in LEVEL_SUFFIXES:
        if text.endswith(suffix) and len(text) > len(suffix):
            return text[: -len(suffix)]
    return text


# --------------------------------------------------------------------------- tables and rows


@dataclass(frozen=True)
class IndicatorTable:
    """An indicator table of a form, with what the checks need to know about its columns."""

    section: TableSection
    sheet: str
    columns: dict[str, TableColumn]
    """Column by role, for the roles the table has."""
    vocabulary: Vocabulary | None
    printed: dict[str, str]
    """Level names (without suffix) → as the form prints them (满意度 → 满意度指标)."""
    units: frozenset[str]
    repeated: bool
    sheet_inputs: tuple[str, ...]
    _keys: dict[tuple[int, str], str | None] = field(init=False, repr=False, compare=False)
    _fixed: dict[tuple[int, str], str | None] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # key() and fixed_value() are asked for every row of every return: answer from tables.
        rows = range(1, self.section.rows + 1)
        object.__setattr__(self, "_keys", {(n, role): self._key(n, role) for role in self.columns for n in rows})
        object.__setattr__(self, "_fixed", {(n, role): self._fixed_value(n, role) for role in self.columns
                                            for n in rows})

    def key(self, n: int, role: str) -> str | None:
        """The input key of a role's cell in row n; None when the role is absent or fixed."""
        known = self._keys
        return known[(n, role)] if (n, role) in known else self._key(n, role)

    def _key(self, n: int, role: str) -> str | None:
        column = self.columns.get(role)
        if column is None or column.fixed or column.calc:
            return None
        return self.section.row_key(n, column.key)

    def label(self, role: str) -> str:
        column = self.columns.get(role)
        return column.label if column else role

    def fixed_value(self, n: int, role: str) -> str | None:
        """The spec's value of a fixed column in row n (grouped tables)."""
        known = self._fixed
        return known[(n, role)] if (n, role) in known else self._fixed_value(n, role)

    def _fixed_value(self, n: int, role: str) -> str | None:
        column = self.columns.get(role)
        if column is None or not column.fixed:
            return None
        group_of = [g for g in self.section.groups for _ in range(g.rows)]
        return group_of[n - 1].values.get(column.key) if n <= len(group_of) else None

    def show(self, level: str | None) -> str:
        return self.printed.get(level, level) if level else ""


@dataclass
class Row:
    table: IndicatorTable
    n: int
    name: str
    target: Parsed | None
    op: str | None
    """The operator in effect: the operator column, else one written in the target."""
    unit: str
    """The unit in effect: the unit column, else one written in the target."""
    actual: Parsed | None
    actual_raw: Value
    reason: str
    level1: str | None
    level2: str | None

    def key(self, role: str) -> str | None:
        return self.table.key(self.n, role)

    @property
    def target_text(self) -> str:
        return _value_text(self, self.target, with_op=True)

    @property
    def actual_text(self) -> str:
        return _value_text(self, self.actual)

    @property
    def title(self) -> str:
        return f"指标“{self.name}”" if self.name else f"第{self.n}行指标"


@per_layout
def indicator_tables(layout: FormLayout) -> list[IndicatorTable]:
    """Every indicator table of a form (a table with a target column), in sheet order."""
    return [_describe(layout, s.name, tuple(p.key for p in s.cells if p.key and p.field), sec)
            for s in layout.sheets for sec in s.spec.sections
            if isinstance(sec, TableSection) and _role_columns(sec).get("target")]


def _role_columns(section: TableSection) -> dict[str, TableColumn]:
    keys = dict(ROLE_COLUMNS)
    if section.missed_target is not None:
        m = section.missed_target
        keys.update(op=m.op, target=m.target, actual=m.actual, reason=m.reason)
    by_key = {c.key: c for c in section.columns}
    return {role: by_key[key] for role, key in keys.items() if key in by_key}


def _describe(layout: FormLayout, sheet: str, inputs: tuple[str, ...],
              section: TableSection) -> IndicatorTable:
    columns = _role_columns(section)
    printed: dict[str, str] = {}
    offered: dict[str, list[str]] = {"level1": [], "level2": []}
    for role, names in offered.items():
        column = columns.get(role)
        if column is None:
            continue
        names += column.choices or [g.values.get(column.key, "") for g in section.groups]
        for name in names:
            printed.setdefault(level_name(name) or "", name)
    level1s = {level_name(n) for n in offered["level1"]} - {None}
    vocabulary = next((v for v in VOCABULARIES if level1s and level1s <= set(v.level2)), None)
    unit_column = columns.get("unit")
    return IndicatorTable(
        section=section, sheet=sheet, columns=columns, vocabulary=vocabulary, printed=printed,
        units=frozenset(unit_column.choices if unit_column else ()),
        repeated=bool(REPEAT_PREFIX.match(section.key)), sheet_inputs=inputs,
    )


def sheet_in_use(ctx: Context, table: IndicatorTable) -> bool:
    """Whether anything on the table's sheet is filled beyond what the template prefills."""
    return any(not is_blank(ctx.inputs.get(key)) for key in table.sheet_inputs
               if REPEAT_PREFIX.sub("", key) not in PREFILLED_KEYS)


def table_rows(ctx: Context, table: IndicatorTable) -> list[Row]:
    """The rows in use (name or target filled), with their levels.

    A blank 一级 means "same as above", as clerks copy merged-cell forms (seed 003 writes each
    一级 once): it takes the 一级 of the nearest row above, and its 二级 too when that is blank.
    """
    def value(n: int, role: str) -> Value:
        key = table.key(n, role)
        return ctx.inputs.get(key) if key else None

    rows: list[Row] = []
    above: tuple[str | None, str | None] = (None, None)
    for n in range(1, table.section.rows + 1):
        level1 = level_name(table.fixed_value(n, "level1") or value(n, "level1"))
        level2 = level_name(table.fixed_value(n, "level2") or value(n, "level2"))
        if level1 is None:
            level1, level2 = above[0], level2 if level2 is not None else above[1]
        if level1 is not None:
            above = (level1, level2)
        name = _shown(value(n, "name")) if not is_blank(value(n, "name")) else ""
        target = parse_value(value(n, "target"), table.units)
        if not name and target is None:
            continue
        unit_cell = value(n, "unit")
        actual_raw = value(n, "actual")
        reason = value(n, "reason")
        rows.append(Row(
            table=table, n=n, name=name, target=target,
            op=normalise_op(value(n, "op")) or (target.op if target else None),
            unit=_shown(unit_cell) if not is_blank(unit_cell) else (target.unit if target else ""),
            actual=parse_value(actual_raw, table.units, lenient=True), actual_raw=actual_raw,
            reason="" if is_blank(reason) else _shown(reason),
            level1=level1, level2=level2,
        ))
    return rows


_ROWS: list[tuple[Context, list[Row]]] = []


def all_rows(ctx: Context) -> Iterator[Row]:
    """Rows in use of every indicator table; read once per return (every check asks)."""
    slot = _ROWS[0] if _ROWS else None
    if slot is None or slot[0] is not ctx:
        slot = (ctx, [row for table in indicator_tables(ctx.layout) for row in table_rows(ctx, table)])
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
    if not isinstance(actual, str):
        return False
    text = _compact(actual)
    return text in NOT_DONE or text.startswith(NOT_DONE_PREFIXES)


def deviation(row: Row) -> str | None:
    """Why a row's actual needs an explanation (missed, or ≥30% over), or None."""
    target, actual = row.target, row.actual
    if target is None or actual is None:
        return None
    number = actual.number
    if _not_done(row.actual_raw):
        missed = f"实际完成为“{actual.text}”，未完成目标"
        if not target.quantitative:
            return None if actual.text == target.text or _not_done(target.text) else missed
        if _compact(actual.text) not in NOT_DONE:  # 未开展 etc.: no amount to compare
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
    if row.op in POSITIVE_OPS and t > 0 and a >= t * (1 + OVERSHOOT) - 1e-12:
        return f"超出目标 {OVERSHOOT:.0%} 以上"
    return None


def _value_text(row: Row, value: Parsed | None, with_op: bool = False) -> str:
    """A value as the clerk reads it: typed text as typed; a number with the row's unit (95%
    rather than 0.95) and, for a target, its operator."""
    if value is None:
        return ""
    if value.number is None or _TYPED_TEXT.search(value.text):
        return value.text
    return f"{row.op or '' if with_op else ''}{_number_text(value.number, row.unit)}"


def _number_text(number: float, unit: str) -> str:
    if unit == "%":
        number *= 100
    return f"{number:.6f}".rstrip("0").rstrip(".") + unit


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
                      f"“{row.table.label('op')}”列选择 ≥、＞、＝、≤ 或 ＜（如 ≥12次 表示不少于12次）",
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
        if vocabulary is None or (table.repeated and not sheet_in_use(ctx, table)):
            continue
        if any(row.table is table and row.level1 == vocabulary.output for row in all_rows(ctx)):
            continue
        first = next((n for n in range(1, table.section.rows + 1)
                      if level_name(table.fixed_value(n, "level1")) == vocabulary.output), 1)
        key = table.key(first, "level1") or table.key(first, "name")
        output = table.show(vocabulary.output)
        ctx.flag(key, f"工作表“{table.sheet}”没有填写任何“{output}”：至少填写一项{output}"
                      "（数量、质量、时效等），写明指标名称、符号、目标值和单位")


CHECKS: tuple[Check, ...] = (
    Check("TARGET_MISSING", "error", "指标缺少目标值", check_target_missing),
    Check("NAME_MISSING", "warning", "目标值缺少指标名称", check_name_missing),
    Check("TARGET_NO_OPERATOR", "warning", "定量目标缺少符号", check_target_no_operator),
    Check("TARGET_NO_UNIT", "warning", "定量目标缺少计量单位", check_target_no_unit),
    Check("RATE_WITH_QUALITATIVE_TARGET", "warning", "比率类指标使用定性目标",
          check_rate_with_qualitative_target),
    Check("DEVIATION_NO_REASON", "warning", "偏离目标未说明原因", check_deviation_no_reason),
    Check("ACTUAL_MISSING", "warning", "缺少实际完成值", check_actual_missing),
    Check("WRONG_LEVEL1", "warning", "指标归入了错误的一级指标", check_wrong_level1),
    Check("LEVEL1_BLANK", "warning", "一级指标为空", check_level1_blank),
    Check("LEVEL2_BLANK", "warning", "二级指标为空", check_level2_blank),
    Check("LEVEL2_MISMATCH", "warning", "二级指标与一级指标不匹配", check_level2_mismatch),
    Check("OUTPUT_EMPTY", "error", "产出指标为空", check_output_empty),
)

__all__ = ["CHECKS", "Parsed", "deviation", "indicator_tables", "is_rate", "normalise_op",
           "parse_value", "table_rows"]
