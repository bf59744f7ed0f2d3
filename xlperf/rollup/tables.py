"""Checked returns and a roster → the tables of the summary workbook (pandas DataFrames).

Two halves:

- :func:`record_of` runs in the worker that checked a file: it keeps what the summary shows
  (one :class:`ProjectRow` per filled project, one :class:`IndicatorRow` per indicator) and
  drops the rest. Which cells hold what comes from the form's layout/spec (indicator tables are
  the table sections with a ``target`` column; scorecard rows give label, weight and score);
  the few conventions the spec does not express are the named tables below.
- :func:`build_tables` runs once over all records: it matches units to the roster, decides
  which return of a project counts, and builds every sheet's rows. Nothing is re-validated:
  statuses and findings are the checker's.

Decisions (also in the reply of issue 4):

- **Unit matching**: a project's unit name as typed in the return, compared with the roster's
  names after :func:`xlperf.read.roster.normalise_name` (full-width/half-width folded, whitespace
  removed). The forms have no unit-code field, so there is no code to match on. A unit not in
  the roster is reported in 问题清单 (``UNIT_NOT_IN_ROSTER``) and 清单; its return still counts.
- **主管部门**: the roster's when the unit matched, else the return's ``dept_name``.
- **Project identity**: (unit, project name, form, year); the unit is its roster code when
  matched, else its normalised name; the project name is normalised the same way. Forms with one
  sheet per project (``target_table``: keys ``p1_``, ``p2_``, ``p3_``) give one row per filled
  project sheet, and each project is deduplicated on its own.
- **Duplicates**: of several returns of one project, the newest counts: latest file
  modification time, then the file name sorting last (``..._v2`` after ``..._v1``), then the
  path. The others are listed in 重复报送 and marked in 清单 with the file that counts.
  Rejected returns take part: a unit's latest word counts even when it is worse.
- **未报送**: roster units with no counted return that was accepted (with or without warnings);
  with ``form`` given, only returns of that form count.
- **Statistics** (统计 and the summary paragraph's grades) use counted, accepted returns only.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, Checked
from xlperf.findings.text import scrub
from xlperf.form.layout import FormLayout, builtin_layout
from xlperf.form.spec import TableSection
from xlperf.form.specload import builtin_forms
from xlperf.read.roster import Roster, RosterUnit, normalise_name
from xlperf.rollup._gc import cycle_collection_paused
from xlperf.rollup.records import (
    IGNORED,
    RECORD_LABELS,
    Cell,
    IndicatorRow,
    ProjectRow,
    ReturnRecord,
)

# The money figures of a project by form: which key holds the budget, the released amount, the
# spending and the execution rate (per project sheet on forms with p1_/p2_ keys). Forms not
# listed, or keys a form lacks, leave the column blank. ONE table on purpose: a new form adds a line.
MONEY_KEYS: dict[str, dict[str, str]] = {
    "self_evaluation": {"budget": "budget_total", "released": "released", "spent": "spent_total",
                        "rate": "exec_rate"},
    "target_declaration": {"budget": "fund_total"},
    "evaluation_report": {"budget": "budget"},
    "target_table": {"budget": "year_budget"},
}
# Keys naming a project's unit, 主管部门, name and year (with the project prefix, if any).
PROJECT_KEYS = {"unit": "unit_name", "dept": "dept_name", "project": "project_name", "year": "year"}
# The summary shows money in 万元; a form's spec says which unit its amounts are in.
AMOUNT_UNITS = {"万元": 1.0, "元": 0.0001, "千元": 0.1, "亿元": 10000.0}
# Column keys of an indicator table (a table section with a ``target`` column), by role.
INDICATOR_COLUMNS = ("level1", "level2", "name", "op", "target", "unit", "actual")
TABLE_SOURCE, SCORECARD_SOURCE = "指标表", "评分表"
UNIT_NOT_IN_ROSTER = "UNIT_NOT_IN_ROSTER"
GRADE_ORDER = ("优", "良", "中", "差")
SCORE_BUCKETS = ((90.0, "90–100"), (80.0, "80–89.99"), (70.0, "70–79.99"), (60.0, "60–69.99"),
                 (-math.inf, "60以下"))
NO_DEPT = "（未注明）"
_PREFIX_RE = re.compile(r"^(p\d+_)")

PROJECT_COLUMNS = ("主管部门", "单位代码", "单位", "项目", "表单", "年度", "预算（万元）", "下达（万元）",
                   "支出（万元）", "执行率", "总分", "等次", "审核结果", "错误", "提示", "文件")
INDICATOR_HEADERS = ("主管部门", "单位", "项目", "表单", "年度", "来源", "一级指标", "二级指标", "三级指标",
                     "符号", "目标值", "计量单位", "实际值", "分值", "得分", "完成率", "审核结果", "文件")
FINDING_COLUMNS = ("文件", "单位", "主管部门", "表单", "审核结果", "代码", "类别", "工作表", "单元格", "字段",
                   "说明", "应为", "实际")
MISSING_COLUMNS = ("单位代码", "单位名称", "主管部门", "联系人", "邮箱", "情况")
DUPLICATE_COLUMNS = ("主管部门", "单位", "项目", "表单", "年度", "重复文件", "修改时间", "审核结果",
                     "以此为准", "其修改时间")
INVENTORY_COLUMNS = ("序号", "文件", "大小（字节）", "修改时间", "表单", "单位", "主管部门", "项目数", "审核结果",
                     "错误", "提示", "汇总情况", "说明")
SEVERITY_LABELS = {"error": "错误", "warning": "提示"}


# --------------------------------------------------------------------------- in the worker


def record_of(checked: Checked, size: int = 0, mtime_ns: int = 0) -> ReturnRecord:
    """The slim record of one checked file (runs in the worker that checked it)."""
    record = ReturnRecord(
        file=checked.file, size=size, mtime_ns=mtime_ns, status=checked.status, form=checked.form,
        form_version=checked.form_version, unit=checked.unit, year=checked.year,
        total_score=_float(checked.total_score), grade=checked.grade,
        findings=tuple(checked.findings), notes=tuple(checked.notes),
    )
    if checked.form not in builtin_forms() or not checked.values:
        return record
    layout = builtin_layout(checked.form)
    projects = [p for p in (_project(checked, layout, prefix) for prefix in _project_prefixes(layout))
                if p is not None]
    kept = {p.prefix for p in projects}
    record.projects = tuple(projects)
    record.indicators = tuple(row for row in _indicators(checked, layout) if row.prefix in kept)
    return record


def _float(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal | int | float):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def _lookup(checked: Checked, key: str) -> Any:
    """A key's recomputed result if it is a computed cell, else the input value as read."""
    return checked.scores[key] if key in checked.scores else checked.values.get(key)


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _project_prefixes(layout: FormLayout) -> tuple[str, ...]:
    return _prefixes_of(layout.spec.form_id)


@cache
def _prefixes_of(form_id: str) -> tuple[str, ...]:
    layout = builtin_layout(form_id)
    prefixes = sorted({m.group(1) for key in layout.cells if (m := _PREFIX_RE.match(key))},
                      key=lambda p: int(p[1:-1]))
    return tuple(prefixes) or ("",)


def _project(checked: Checked, layout: FormLayout, prefix: str) -> ProjectRow | None:
    first = prefix == _project_prefixes(layout)[0]
    if not first and all(_blank(v) for k, v in checked.values.items() if k.startswith(prefix)):
        return None  # an unused project sheet
    form = layout.spec.form_id
    scale = AMOUNT_UNITS.get(layout.spec.amount_unit, 1.0)
    money = {role: _float(_lookup(checked, prefix + key)) for role, key in MONEY_KEYS.get(form, {}).items()}
    for role in ("budget", "released", "spent"):
        if money.get(role) is not None:
            money[role] = round(money[role] * scale, 6)  # type: ignore[operator]
    text = {role: checked.values.get(prefix + key) for role, key in PROJECT_KEYS.items()}
    unit = _text(text["unit"]) or (checked.unit if first else None)
    year = _year(text["year"])
    return ProjectRow(prefix, unit, _text(text["dept"]), _text(text["project"]),
                      year if year is not None else checked.year,
                      money.get("budget"), money.get("released"), money.get("spent"), money.get("rate"))


def _text(value: object) -> str | None:
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _year(value: object) -> int | None:
    try:
        return int(float(str(value))) if not _blank(value) else None
    except ValueError:
        return None


Slot = tuple[str, Any]
"""Where an indicator's part comes from: ("key", field key), ("fixed", text) or ("none", None)."""


@dataclass(frozen=True)
class _IndicatorPlan:
    prefix: str
    source: str
    slots: tuple[Slot, ...]
    """level1, level2, name, op, target, unit, actual."""
    weight: float | None
    score_key: str | None
    completion_key: str | None


@cache
def _indicator_plan(form_id: str) -> tuple[_IndicatorPlan, ...]:
    """Where every indicator of a form lives, derived once per form from its spec."""
    layout = builtin_layout(form_id)
    plans: list[_IndicatorPlan] = []
    for sheet in layout.spec.sheets:
        for section in sheet.sections:
            if isinstance(section, TableSection) and any(c.key == "target" for c in section.columns):
                plans += _table_plan(section)
    for card in layout.spec.scorecards():
        for block in card.blocks:
            for group in block.groups:
                for row in group.rows:
                    def slot(key: str | None) -> Slot:
                        return ("key", key) if key and (key in layout.cells) else ("none", None)

                    target = row.target_key or _operand(row.operands.get("target"))
                    actual = row.value_key or _operand(row.operands.get("actual"))
                    slots = (("fixed", block.label), ("fixed", group.label or None), ("fixed", row.label),
                             ("none", None), slot(target), ("none", None), slot(actual))
                    plans.append(_IndicatorPlan(_prefix(row.key), SCORECARD_SOURCE, slots, row.weight,
                                                row.score_key, None))
    return tuple(plans)


def _table_plan(section: TableSection) -> list[_IndicatorPlan]:
    columns = {c.key: c for c in section.columns}
    group_of = [g for g in section.groups for _ in range(g.rows)]
    progress = next((c.key for c in section.columns if c.calc == "completion"), None)
    plans = []
    for n in range(1, section.rows + 1):
        slots: list[Slot] = []
        for role in INDICATOR_COLUMNS:
            column = columns.get(role)
            if column is None:
                slots.append(("none", None))
            elif column.fixed:
                slots.append(("fixed", group_of[n - 1].values.get(role) if group_of else None))
            else:
                slots.append(("key", section.row_key(n, role)))
        plans.append(_IndicatorPlan(_prefix(section.key), TABLE_SOURCE, tuple(slots), None, None,
                                    section.row_key(n, progress) if progress else None))
    return plans


def _operand(ref: object) -> str | None:
    return ref if isinstance(ref, str) else None


def _prefix(key: str) -> str:
    m = _PREFIX_RE.match(key)
    return m.group(1) if m else ""


def _indicators(checked: Checked, layout: FormLayout) -> Iterable[IndicatorRow]:
    for plan in _indicator_plan(layout.spec.form_id):
        parts = [_cell(_lookup(checked, ref)) if kind == "key" else ref for kind, ref in plan.slots]
        if plan.source == TABLE_SOURCE:
            if all(_blank(parts[i]) for i in (2, 4, 6)):  # no name, target or actual: an unused row
                continue
            score: Cell = None
            completion = _float(checked.scores.get(plan.completion_key)) if plan.completion_key else None
        else:
            score = _cell(_lookup(checked, plan.score_key or ""))
            number = _float(score)
            completion = round(number / plan.weight, 4) if number is not None and plan.weight else None
        level1, level2, name, op, target, unit, actual = parts
        yield IndicatorRow(plan.prefix, plan.source, level1, level2, name, op, target, unit, actual,
                           plan.weight, score, completion)


def _cell(value: object) -> Cell:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, str) and not value:
        return None
    return value  # type: ignore[return-value]


# --------------------------------------------------------------------------- in the main process


@dataclass
class Entry:
    """A project row of a record, with its roster match and whether it counts."""

    record: ReturnRecord
    project: ProjectRow
    unit: RosterUnit | None
    counted_instead: ReturnRecord | None = None
    """The newer return of the same project that counts instead of this one."""

    @property
    def dept(self) -> str:
        return (self.unit.dept if self.unit else None) or self.project.dept or ""

    @property
    def unit_name(self) -> str:
        return self.project.unit or ""

    def identity(self) -> tuple[str, str, str, int | None]:
        unit = ("code:" + self.unit.code) if self.unit else ("name:" + normalise_name(self.project.unit))
        return unit, normalise_name(self.project.project), self.record.form or "", self.project.year


@dataclass
class Stats:
    grades: pd.DataFrame
    scores: pd.DataFrame
    exec_rates: pd.DataFrame


@dataclass
class Tables:
    """Every sheet's rows; ``inventory`` has one row per input file, in file order."""

    projects: pd.DataFrame
    indicators: pd.DataFrame
    findings: pd.DataFrame
    missing: pd.DataFrame
    duplicates: pd.DataFrame
    stats: Stats
    inventory: pd.DataFrame
    roster: Roster | None = None
    form: str | None = None


def build_tables(records: Sequence[ReturnRecord], roster: Roster | None = None,
                 form: str | None = None) -> Tables:
    """Match, deduplicate and tabulate ``records`` (any order; the output is sorted)."""
    with cycle_collection_paused():
        return _build_tables(records, roster, form)


def _build_tables(records: Sequence[ReturnRecord], roster: Roster | None, form: str | None) -> Tables:
    records = sorted(records, key=lambda r: str(r.file))
    names = _display_names(records)
    entries = [Entry(r, p, roster.find(p.unit) if roster else None)
               for r in records if form is None or r.form == form for p in r.projects]
    _mark_duplicates(entries)
    counted = sorted((e for e in entries if e.counted_instead is None),
                     key=lambda e: (e.dept, e.unit_name, e.record.form or "", e.project.year or 0,
                                    e.project.project or "", names[id(e.record)], e.project.prefix))
    return Tables(
        projects=_frame(PROJECT_COLUMNS, (_project_row(e, names) for e in counted)),
        indicators=_frame(INDICATOR_HEADERS, _indicator_rows(counted, names)),
        findings=_frame(FINDING_COLUMNS, _finding_rows(records, entries, names, roster)),
        missing=_frame(MISSING_COLUMNS, _missing_rows(roster, entries, names)),
        duplicates=_frame(DUPLICATE_COLUMNS, _duplicate_rows(entries, names)),
        stats=_stats(counted),
        inventory=_frame(INVENTORY_COLUMNS, _inventory_rows(records, entries, names, roster, form)),
        roster=roster, form=form,
    )


def _frame(columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> pd.DataFrame:
    # object dtype throughout: a column keeps None, text, numbers and datetimes exactly as given.
    return pd.DataFrame(list(rows), columns=list(columns), dtype=object)


def _display_names(records: Sequence[ReturnRecord]) -> dict[int, str]:
    """Each file as shown: its path relative to the folder that holds all inputs."""
    if not records:
        return {}
    try:
        root = os.path.commonpath([os.path.abspath(r.file.parent) for r in records])
    except ValueError:  # inputs on different drives: no common folder
        return {id(r): scrub(Path(os.path.abspath(r.file)).as_posix()) for r in records}
    # scrub: a name that is not UTF-8 is shown with U+FFFD (xlsxwriter cannot write it as is)
    return {id(r): scrub(Path(os.path.relpath(os.path.abspath(r.file), root)).as_posix()) for r in records}


def _newness(entry: Entry) -> tuple[int, str, str]:
    return entry.record.mtime_ns, entry.record.file.name, str(entry.record.file)


def _mark_duplicates(entries: list[Entry]) -> None:
    groups: dict[tuple[str, str, str, int | None], list[Entry]] = {}
    for entry in entries:
        groups.setdefault(entry.identity(), []).append(entry)
    for group in groups.values():
        if len(group) > 1:
            newest = max(group, key=_newness)
            for entry in group:
                if entry is not newest:
                    entry.counted_instead = newest.record


def _form_title(form: str | None) -> str:
    spec = builtin_forms().get(form or "")
    return spec.title if spec else (form or "")


def _status(record: ReturnRecord) -> str:
    return RECORD_LABELS[record.status]


def _project_row(e: Entry, names: dict[int, str]) -> tuple[Any, ...]:
    r, p = e.record, e.project
    return (e.dept, e.unit.code if e.unit else None, p.unit, p.project, _form_title(r.form), p.year,
            p.budget, p.released, p.spent, p.rate, r.total_score, r.grade, _status(r), r.errors,
            r.warnings, names[id(r)])


def _indicator_rows(counted: Sequence[Entry], names: dict[int, str]) -> Iterable[tuple[Any, ...]]:
    for e in counted:
        r, p = e.record, e.project
        head = (e.dept, p.unit, p.project, _form_title(r.form), p.year)
        status, name = _status(r), names[id(r)]
        for ind in r.indicators:
            if ind.prefix == p.prefix:
                yield (*head, ind.source, ind.level1, ind.level2, ind.name, ind.op, ind.target, ind.unit,
                       ind.actual, ind.weight, ind.score, ind.completion, status, name)


def _finding_rows(records: Sequence[ReturnRecord], entries: Sequence[Entry], names: dict[int, str],
                  roster: Roster | None) -> Iterable[tuple[Any, ...]]:
    by_record: dict[int, list[Entry]] = {}
    for e in entries:
        by_record.setdefault(id(e.record), []).append(e)
    for r in records:
        mine = by_record.get(id(r), [])
        dept = mine[0].dept if mine else ""
        head = (names[id(r)], r.unit, dept, _form_title(r.form), _status(r))
        for f in r.findings:
            yield (*head, f.code, SEVERITY_LABELS.get(f.severity, f.severity), f.sheet or None,
                   f.cell or None, f.label or f.field or None, f.message, f.expected, f.found)
        if roster is not None:
            for unit in dict.fromkeys(e.project.unit or "" for e in mine if e.unit is None):
                yield (*head, UNIT_NOT_IN_ROSTER, "提示", None, None, "填报单位",
                       f"填报单位“{unit}”不在单位名单中：请核对单位名称是否与名单一致，或将该单位补入名单",
                       None, unit)


def _missing_rows(roster: Roster | None, entries: Sequence[Entry],
                  names: dict[int, str]) -> Iterable[tuple[Any, ...]]:
    if roster is None:
        return
    accepted: set[str] = set()
    rejected: dict[str, list[str]] = {}
    for e in entries:
        if e.unit is None or e.counted_instead is not None:
            continue
        if e.record.status in (ACCEPTED, ACCEPTED_WITH_WARNINGS):
            accepted.add(e.unit.code)
        else:
            rejected.setdefault(e.unit.code, []).append(names[id(e.record)])
    for unit in sorted(roster.units, key=lambda u: (u.dept, u.code)):
        if unit.code in accepted:
            continue
        files = sorted(set(rejected.get(unit.code, [])))
        state = f"报表被退回：{'、'.join(files)}" if files else "未收到报表"
        yield unit.code, unit.name, unit.dept, unit.contact or None, unit.email or None, state


def _duplicate_rows(entries: Sequence[Entry], names: dict[int, str]) -> Iterable[tuple[Any, ...]]:
    dups = sorted((e for e in entries if e.counted_instead is not None),
                  key=lambda e: (e.dept, e.unit_name, e.record.form or "", e.project.year or 0,
                                 e.project.project or "", names[id(e.record)], e.project.prefix))
    for e in dups:
        newer = e.counted_instead
        assert newer is not None
        yield (e.dept, e.project.unit, e.project.project, _form_title(e.record.form), e.project.year,
               names[id(e.record)], e.record.mtime, _status(e.record), names[id(newer)], newer.mtime)


def _inventory_rows(records: Sequence[ReturnRecord], entries: Sequence[Entry], names: dict[int, str],
                    roster: Roster | None, form: str | None) -> Iterable[tuple[Any, ...]]:
    by_record: dict[int, list[Entry]] = {}
    for e in entries:
        by_record.setdefault(id(e.record), []).append(e)
    for i, r in enumerate(records, start=1):
        mine = by_record.get(id(r), [])
        outcome = _outcome(r, mine, names, roster, form)
        first_error = next((f.message for f in r.findings if f.severity == "error"),
                           r.notes[0] if r.status == IGNORED else None)
        yield (i, names[id(r)], r.size, r.mtime, _form_title(r.form), r.unit, mine[0].dept if mine else None,
               len(r.projects), _status(r), r.errors, r.warnings, outcome, first_error)


def _outcome(r: ReturnRecord, mine: Sequence[Entry], names: dict[int, str], roster: Roster | None,
             form: str | None) -> str:
    """What became of a file in the summary: counted, superseded by which file, or why not."""
    if r.status == IGNORED:
        return "未审核：不是报表文件"
    if not r.projects:
        code = next((f.code for f in r.findings if f.severity == "error"), "")
        return f"未汇总：无法作为报表读取（{code}）" if code else "未汇总：无法作为报表读取"
    if form is not None and r.form != form:
        return f"未汇总：表单为“{_form_title(r.form)}”，本次只汇总“{_form_title(form)}”"
    newer = sorted({names[id(e.counted_instead)] for e in mine if e.counted_instead is not None})
    if newer and all(e.counted_instead is not None for e in mine):
        text = f"重复报送：以“{'、'.join(newer)}”为准"
    elif newer:
        parts = [f"{e.project.project or '（未填项目名称）'}以“{names[id(e.counted_instead)]}”为准"
                 for e in mine if e.counted_instead is not None]
        text = f"计入汇总（部分项目重复报送：{'；'.join(parts)}）"
    else:
        text = "计入汇总"
    if roster is not None and any(e.unit is None for e in mine):
        text += "；单位不在名单中"
    return text


def _stats(counted: Sequence[Entry]) -> Stats:
    good = [e for e in counted if e.record.status != REJECTED]
    graded = Counter(e.record.grade for e in good if e.record.grade)
    order = [g for g in GRADE_ORDER] + sorted(g for g in graded if g not in GRADE_ORDER)
    grades = _frame(("等次", "份数"), ((g, graded.get(g, 0)) for g in order))
    buckets = Counter(_bucket(e.record.total_score) for e in good if e.record.total_score is not None)
    scores = _frame(("分数段", "份数"), ((label, buckets.get(label, 0)) for _, label in SCORE_BUCKETS))
    by_dept: dict[str, list[Entry]] = {}
    for e in good:
        p = e.project
        if p.rate is not None and p.budget is not None and p.spent is not None:
            by_dept.setdefault(e.dept or NO_DEPT, []).append(e)
    rows = []
    for dept in sorted(by_dept):
        budget = round(math.fsum(e.project.budget or 0.0 for e in by_dept[dept]), 6)
        spent = round(math.fsum(e.project.spent or 0.0 for e in by_dept[dept]), 6)
        rows.append((dept, len(by_dept[dept]), budget, spent, round(spent / budget, 4) if budget else None))
    exec_rates = _frame(("主管部门", "项目数", "预算（万元）", "支出（万元）", "执行率"), rows)
    return Stats(grades, scores, exec_rates)


def _bucket(score: float) -> str:
    return next(label for low, label in SCORE_BUCKETS if score >= low)
