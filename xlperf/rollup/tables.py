"""Checked returns and a roster → the tables of the summary workbook (pandas DataFrames).

Two halves:

- :func:`xlperf.model.return_summary.summarised` runs in the worker that checked a file: it
  derives what the summary shows (one :class:`ProjectRow` per filled project, one
  :class:`IndicatorRow` per indicator), and the worker sends the return's slim form back.
- :func:`build_tables` runs once over all records: it matches units to the roster, decides
  which return of a project counts, and builds every sheet's rows. Nothing is re-validated:
  statuses and findings are the checker's.

Decisions (also in the reply of issue 4):

- **Unit matching**: a project's unit name as typed in the return, compared with the roster's
  names after :func:`xlperf.read.roster.normalise_name` (full-width/half-width folded, whitespace
  removed). The forms have no unit-code field, so there is no code to match on. A unit not in
  the roster is reported in 问题清单 (``UNIT_NOT_IN_ROSTER``) and 清单; its return still counts.
- **主管部门**: the roster's when the unit matched, else the return's (field with role ``dept``).
- **Project identity**: (unit, project name, form, year); the unit is its roster code when
  matched, else its normalised name; the project name is normalised the same way. Forms with one
  sheet per project (spec ``repeat``: keys ``p1_``, ``p2_``, ``p3_``) give one row per filled
  project sheet, and each project is deduplicated on its own.
- **Duplicates**: of several returns of one project, the newest counts: latest file
  modification time, then the file name sorting last (``..._v2`` after ``..._v1``), then the
  path. The others are listed in 重复报送 and marked in 清单 with the file that counts.
  Rejected returns take part: a unit's latest word counts even when it is worse.
- **未报送**: roster units with no counted return that was accepted (with or without warnings);
  with ``form`` given, only returns of that form count.
- **Statistics** (统计 and the summary paragraph's grades) use counted, accepted returns only.
- **A round's summary** (``count_rejected=False``, from the ledger): a rejected return (by the
  checks or by staff) is listed in 清单 ("未汇总：报表被退回"), 问题清单 and 未报送, never in
  汇总, 指标明细 or 统计: a unit's 退回 return adds nothing to the totals.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from xlperf.findings import (
    ACCEPTED,
    ACCEPTED_WITH_WARNINGS,
    REJECTED,
    SEVERITY_LABELS,
    CheckedReturn,
)
from xlperf.findings.catalogue import code
from xlperf.findings.text import scrub
from xlperf.form.registry import builtin_forms
from xlperf.model.summary_rows import ProjectRow, indicators_of, projects_of
from xlperf.read.roster import Roster, RosterUnit, normalise_name
from xlperf.rollup.records import IGNORED, RECORD_LABELS

UNIT_NOT_IN_ROSTER = "UNIT_NOT_IN_ROSTER"
GRADE_ORDER = ("优", "良", "中", "差")
SCORE_BUCKETS = ((90.0, "90–100"), (80.0, "80–89.99"), (70.0, "70–79.99"), (60.0, "60–69.99"),
                 (-math.inf, "60以下"))
NO_DEPT = "（未注明）"

PROJECT_COLUMNS = ("主管部门", "单位代码", "单位", "项目", "表单", "年度", "预算（万元）", "下达（万元）",
                   "支出（万元）", "执行率", "总分", "等次", "审核结果", "错误", "提示", "文件")
ADJUSTED_COLUMN = "调整后预算（万元）"
"""Inserted after 预算 only when some counted project has an adjusted budget."""
INDICATOR_HEADERS = ("主管部门", "单位", "项目", "表单", "年度", "来源", "一级指标", "二级指标", "三级指标",
                     "符号", "目标值", "计量单位", "实际值", "分值", "得分", "完成率", "审核结果", "文件")
FINDING_COLUMNS = ("文件", "单位", "主管部门", "表单", "审核结果", "代码", "类别", "工作表", "单元格", "字段",
                   "说明", "应为", "实际")
MISSING_COLUMNS = ("单位代码", "单位名称", "主管部门", "联系人", "邮箱", "情况")
DUPLICATE_COLUMNS = ("主管部门", "单位", "项目", "表单", "年度", "重复文件", "修改时间", "审核结果",
                     "以此为准", "其修改时间")
INVENTORY_COLUMNS = ("序号", "文件", "大小（字节）", "修改时间", "表单", "单位", "主管部门", "项目数", "审核结果",
                     "错误", "提示", "汇总情况", "说明")

# --------------------------------------------------------------------------- in the main process


@dataclass
class Entry:
    """A project row of a record, with its roster match and whether it counts."""

    record: CheckedReturn
    project: ProjectRow
    unit: RosterUnit | None
    counted_instead: CheckedReturn | None = None
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


def build_tables(records: Sequence[CheckedReturn], roster: Roster | None = None,
                 form: str | None = None, *, count_rejected: bool = True) -> Tables:
    """Match, deduplicate and tabulate ``records`` (any order; the output is sorted).
    ``count_rejected=False`` (a round's summary from the ledger): a rejected return is listed
    (清单, 问题清单, 未报送) but never enters 汇总, 指标 or 统计."""
    return _build_tables(records, roster, form, count_rejected)


def _build_tables(records: Sequence[CheckedReturn], roster: Roster | None, form: str | None,
                  count_rejected: bool = True) -> Tables:
    records = sorted(records, key=lambda r: str(r.file))
    names = _display_names(records)
    entries = [Entry(r, p, roster.find(p.unit) if roster else None)
               for r in records if form is None or r.form == form for p in projects_of(r)]
    _mark_duplicates(entries)
    counted = sorted((e for e in entries if e.counted_instead is None
                      and (count_rejected or e.record.status != REJECTED)),
                     key=lambda e: (e.dept, e.unit_name, e.record.form or "", e.project.year or 0,
                                    e.project.project or "", names[id(e.record)], e.project.prefix))
    return Tables(
        projects=_with_adjusted(_frame(PROJECT_COLUMNS, (_project_row(e, names) for e in counted)), counted),
        indicators=_frame(INDICATOR_HEADERS, _indicator_rows(counted, names)),
        findings=_frame(FINDING_COLUMNS, _finding_rows(records, entries, names, roster)),
        missing=_frame(MISSING_COLUMNS, _missing_rows(roster, entries, names)),
        duplicates=_frame(DUPLICATE_COLUMNS, _duplicate_rows(entries, names)),
        stats=_stats(counted),
        inventory=_frame(INVENTORY_COLUMNS, _inventory_rows(records, entries, names, roster, form, count_rejected)),
        roster=roster, form=form,
    )


def _frame(columns: Sequence[str], rows: Iterable[tuple[Any, ...]]) -> pd.DataFrame:
    # object dtype throughout: a column keeps None, text, numbers and datetimes exactly as given.
    return pd.DataFrame(list(rows), columns=list(columns), dtype=object)


def _display_names(records: Sequence[CheckedReturn]) -> dict[int, str]:
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


def _status(record: CheckedReturn) -> str:
    return RECORD_LABELS[record.status]


def _project_row(e: Entry, names: dict[int, str]) -> tuple[Any, ...]:
    r, p = e.record, e.project
    return (e.dept, e.unit.code if e.unit else None, p.unit, p.project, _form_title(r.form), p.year,
            p.budget, p.released, p.spent, p.rate, _score(r), r.grade, _status(r), len(r.errors),
            len(r.warnings), names[id(r)])


def _with_adjusted(projects: pd.DataFrame, counted: Sequence[Entry]) -> pd.DataFrame:
    """调整后预算 beside 预算 when a counted project's form names one (spec ``amounts``)."""
    adjusted = [e.project.adjusted_budget for e in counted]
    if all(a is None for a in adjusted):
        return projects
    projects.insert(PROJECT_COLUMNS.index("预算（万元）") + 1, ADJUSTED_COLUMN, adjusted)
    return projects


def _indicator_rows(counted: Sequence[Entry], names: dict[int, str]) -> Iterable[tuple[Any, ...]]:
    for e in counted:
        r, p = e.record, e.project
        head = (e.dept, p.unit, p.project, _form_title(r.form), p.year)
        status, name = _status(r), names[id(r)]
        for ind in indicators_of(r):
            if ind.prefix == p.prefix:
                yield (*head, ind.source, ind.level1, ind.level2, ind.name, ind.op, ind.target, ind.unit,
                       ind.actual, ind.weight, ind.score, ind.completion, status, name)


def _finding_rows(records: Sequence[CheckedReturn], entries: Sequence[Entry], names: dict[int, str],
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
                yield (*head, UNIT_NOT_IN_ROSTER, SEVERITY_LABELS[code(UNIT_NOT_IN_ROSTER).severity], None, None, "填报单位",
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
        yield unit.code, unit.name, unit.dept, unit.contact or None, "; ".join(unit.addresses) or None, state


def _duplicate_rows(entries: Sequence[Entry], names: dict[int, str]) -> Iterable[tuple[Any, ...]]:
    dups = sorted((e for e in entries if e.counted_instead is not None),
                  key=lambda e: (e.dept, e.unit_name, e.record.form or "", e.project.year or 0,
                                 e.project.project or "", names[id(e.record)], e.project.prefix))
    for e in dups:
        newer = e.counted_instead
        assert newer is not None
        yield (e.dept, e.project.unit, e.project.project, _form_title(e.record.form), e.project.year,
               names[id(e.record)], e.record.mtime, _status(e.record), names[id(newer)], newer.mtime)


def _inventory_rows(records: Sequence[CheckedReturn], entries: Sequence[Entry], names: dict[int, str],
                    roster: Roster | None, form: str | None, count_rejected: bool) -> Iterable[tuple[Any, ...]]:
    by_record: dict[int, list[Entry]] = {}
    for e in entries:
        by_record.setdefault(id(e.record), []).append(e)
    for i, r in enumerate(records, start=1):
        mine = by_record.get(id(r), [])
        outcome = (_outcome(r, mine, names, roster, form) if count_rejected or r.status != REJECTED
                   else "未汇总：报表被退回")
        first_error = next((f.message for f in r.findings if f.severity == "error"),
                           r.notes[0] if r.status == IGNORED else None)
        yield (i, names[id(r)], r.size, r.mtime, _form_title(r.form), r.unit, mine[0].dept if mine else None,
               len(r.projects), _status(r), len(r.errors), len(r.warnings), outcome, first_error)


def _outcome(r: CheckedReturn, mine: Sequence[Entry], names: dict[int, str], roster: Roster | None,
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
    buckets = Counter(_bucket(score) for e in good if (score := _score(e.record)) is not None)
    scores = _frame(("分数段", "份数"), ((label, buckets.get(label, 0)) for _, label in SCORE_BUCKETS))
    by_dept: dict[str, list[Entry]] = {}
    for e in good:
        p = e.project
        # the amounts the form's execution rate is measured on (spec execution_rate)
        if p.rate is not None and p.rate_denominator is not None and p.rate_numerator is not None:
            by_dept.setdefault(e.dept or NO_DEPT, []).append(e)
    rows = []
    for dept in sorted(by_dept):
        budget = round(math.fsum(e.project.rate_denominator or 0.0 for e in by_dept[dept]), 6)
        spent = round(math.fsum(e.project.rate_numerator or 0.0 for e in by_dept[dept]), 6)
        rows.append((dept, len(by_dept[dept]), budget, spent, round(spent / budget, 4) if budget else None))
    exec_rates = _frame(("主管部门", "项目数", "预算（万元）", "支出（万元）", "执行率"), rows)
    return Stats(grades, scores, exec_rates)


def _score(record: CheckedReturn) -> float | None:
    """The total score as the tables hold numbers."""
    total = record.total_score
    return None if total is None else float(total)


def _bucket(score: float) -> str:
    return next(label for low, label in SCORE_BUCKETS if score >= low)
