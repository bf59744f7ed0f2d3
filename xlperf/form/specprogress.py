"""A spec's facts of progress forms (mid-year monitoring), read here (the spec reference: README,
"Form specs / 表单规格", form-level settings / 表单级设置):

- ``period: {months: 6}``: the form reports on months 1 to 6 of the year (1-6月; some provinces
  ask 1-7月). Every text of the spec may say ``{months}`` (``1-{months}月执行数``): the number is put
  in when the spec is loaded, so a bureau's copy for 1-7月 changes this one setting and nothing else.
- ``time_progress: {actual: KEY, budget: KEY, explanation: KEY, share: 0.5}``: execution to date
  (``actual``) below ``share`` × ``budget`` is a warning (``TIME_PROGRESS_BEHIND``) unless the field
  ``explanation`` explains it; ``share`` defaults to the share of the year the period covers
  (months / 12: 时间进度).
- ``explain_when: [{table: KEY, column: KEY, values: [...], fields: [KEY, ...]}]``: a row of the
  table whose column holds one of ``values`` requires every field of ``fields``
  (``REQUIRED_BY_CHOICE``; the monitoring form: a row judged 有可能 or 不可能 requires the deviation
  analysis and the measures).
- ``tracked_items: {table: KEY, item: KEY, due: KEY, done: KEY, closed: TEXT, grade: KEY, score: KEY}``:
  the rows of the table are items followed until closed (the 整改 form: one problem a row, a
  row closed when its ``done`` column holds ``closed``, overdue when open past its ``due`` date);
  ``grade`` and ``score`` name the fields that take the earlier round's grade and score.

Keys are written without the project-sheet prefix; on a form with repeated sheets (``repeat``) a
rule holds on every copy (``p1_…``, ``p2_…``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from xlperf.form.roles import REPEAT_PREFIX, prefix_of
from xlperf.form.spec import ExplainWhen, SheetSpec, TableSection, TimeProgress, TrackedItems
from xlperf.form.speckeys import SpecKeys
from xlperf.form.yamlsrc import MappingReader, Node, SpecError

PROGRESS_KEYS = ("period", "time_progress", "explain_when", "tracked_items")
"""Top-level spec keys read here."""
MONTHS = "{months}"
"""Where a text of the spec says the period's last month."""
YEAR_MONTHS = 12


def period_months(root: Any, r: MappingReader) -> int:
    """The spec's ``period`` (0 when none), with ``{months}`` put into every text of ``root``."""
    raw = r.get("period")
    months = 0
    if raw is not None:
        p = MappingReader(raw, "period", r.where("period"))
        p.only("months")
        value = p.get("months")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= YEAR_MONTHS:
            raise p.fail("months", "period.months 应为 1 到 12 的整数（如 6 表示 1-6月） (a whole number of months up to twelve)")
        months = value
    _put_months(root, months, r)
    return months


def _put_months(node: Any, months: int, r: MappingReader) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in list(items):
        if isinstance(value, str) and MONTHS in value:
            if not months:
                where = node.at(str(key)) if isinstance(node, Node) else r.where()
                raise SpecError(where, str(key), f"文本中的 {MONTHS} 需要在表单级写明 period: {{months: 月数}}"
                                                 " (a text naming the months needs period)")
            node[key] = value.replace(MONTHS, str(months))
        elif isinstance(value, dict | list):
            _put_months(value, months, r)


def _copies(keys: SpecKeys) -> list[str]:
    return sorted({prefix_of(k) for k in keys.keys} - {""}) or [""]


def _key(keys: SpecKeys, r: MappingReader, name: str, key: str) -> str:
    """``key`` as written (no prefix), once it exists on the form or on every project sheet."""
    if key in keys.keys or all(p + key in keys.keys for p in _copies(keys)):
        return REPEAT_PREFIX.sub("", key, count=1)
    raise r.fail(name, f"{name} 引用了不存在的键 '{key}' (missing reference)")


def time_progress(keys: SpecKeys, r: MappingReader, months: int) -> TimeProgress | None:
    raw = r.get("time_progress")
    if raw is None:
        return None
    t = MappingReader(raw, "time_progress", r.where("time_progress"))
    t.only("actual", "budget", "explanation", "share")
    actual = _key(keys, t, "actual", t.text("actual"))
    budget = _key(keys, t, "budget", t.text("budget"))
    explanation = t.text("explanation", "")
    if explanation:
        _key(keys, t, "explanation", explanation)
    if "share" in t.node:
        share = t.number("share")
        if not 0 < share <= 1:
            raise t.fail("share", "share 应为 0 到 1 之间的比率，如 0.5 (a ratio between zero and one)")
        fraction = Decimal(str(share))
    elif months:
        fraction = Decimal(months) / Decimal(YEAR_MONTHS)
    else:
        raise t.fail("time_progress", "time_progress 需要 share，或表单级的 period（时间进度 = 月数 / 12） (needs share or period)")
    return TimeProgress(actual, budget, fraction, explanation)


def explain_when(keys: SpecKeys, r: MappingReader, sheets: list[SheetSpec]) -> tuple[ExplainWhen, ...]:
    raw = r.get("explain_when")
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        raise r.fail("explain_when", "explain_when 应为规则列表 (expected a list of rules)")
    tables = {s.key: s for sheet in sheets for s in sheet.sections if isinstance(s, TableSection)}
    rules = []
    for item in raw:
        e = MappingReader(item, "explain_when", r.where("explain_when"))
        e.only("table", "column", "values", "fields")
        table, column = e.text("table"), e.text("column")
        values, fields = e.need("values"), e.need("fields")
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise e.fail("values", "values 应为选项文字的列表 (expected a list of choices)")
        if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
            raise e.fail("fields", "fields 应为字段键的列表 (expected a list of field keys)")
        for prefix in _copies(keys) if any(prefix_of(t) for t in tables) else [""]:
            section = tables.get(prefix + table)
            if section is None:
                raise e.fail("table", f"explain_when.table '{table}' 不是本表中的表格 (not a table of this form)")
            col = next((c for c in section.columns if c.key == column), None)
            if col is None or col.fixed or col.calc:
                raise e.fail("column", f"explain_when.column '{column}' 应为表格 {table} 中由单位填写的列"
                                       " (not an input column of the table)")
            if col.choices and not set(values) <= set(col.choices):
                raise e.fail("values", f"values 应为列 {column} 的选项（{'/'.join(col.choices)}）之一"
                                       " (not among the column's choices)")
            for name in fields:
                if prefix + name not in keys.keys:
                    raise e.fail("fields", f"explain_when.fields 引用了不存在的键 '{name}' (missing reference)")
            rules.append(ExplainWhen(prefix + table, column, tuple(values), tuple(prefix + f for f in fields), e.where()))
    return tuple(rules)


def tracked_items(keys: SpecKeys, r: MappingReader, sheets: list[SheetSpec]) -> TrackedItems | None:
    raw = r.get("tracked_items")
    if raw is None:
        return None
    t = MappingReader(raw, "tracked_items", r.where("tracked_items"))
    t.only("table", "item", "due", "done", "closed", "grade", "score")
    tables = {s.key: s for sheet in sheets for s in sheet.sections if isinstance(s, TableSection)}
    section = tables.get(t.text("table"))
    if section is None:
        raise t.fail("table", f"tracked_items.table '{t.text('table')}' 不是本表中的表格 (not a table of this form)")
    columns = {c.key: c for c in section.columns if not c.fixed and not c.calc}
    for name, kind in (("item", None), ("due", "date"), ("done", "choice")):
        col = columns.get(t.text(name))
        if col is None or (kind is not None and col.type != kind):
            what = {"item": "输入列", "due": "type: date 的输入列", "done": "type: choice 的输入列"}[name]
            raise t.fail(name, f"tracked_items.{name} '{t.text(name)}' 应为表格 {section.key} 中的{what}"
                               " (not such a column of the table)")
    closed = t.text("closed")
    if closed not in columns[t.text("done")].choices:
        raise t.fail("closed", f"tracked_items.closed '{closed}' 应为列 {t.text('done')} 的选项"
                               f"（{'/'.join(columns[t.text('done')].choices)}）之一 (not among the column's choices)")
    for name in ("grade", "score"):
        if t.text(name, "") and t.text(name) not in keys.keys:
            raise t.fail(name, f"tracked_items.{name} 引用了不存在的键 '{t.text(name)}' (missing reference)")
    return TrackedItems(section.key, t.text("item"), t.text("due"), t.text("done"), closed,
                        t.text("grade", ""), t.text("score", ""))
