"""结果应用 (a round's results applied to next year's budget): each accepted project with its score
and grade, the stage figures its return holds, the consequence the bureau set for its grade and
the suggested next-year budget; last year's score and grade beside it.

Pure data: the ledger hands over the records of a round (:func:`xlperf.ledger.summary.round_records`),
its roster, its settings and last year's results (:mod:`xlperf.ledger.results`);
:mod:`xlperf.rollup.resultsbook` writes the workbook, the desk shows the same rows.

Decisions:

- **Which projects**: every project of a current return that counts (accepted by the checks or
  by staff; 退回 and 已作废 never), the same rule as the summary's 汇总 sheet.
- **主管部门**: the roster's when the unit matched, else the return's (as in the summary).
- **The same project in another round** (last year, the year-over-year page): the forms have no
  project-code field, so a project is its unit and its name: the unit by its roster code when
  both rounds' rosters know it, else by its normalised name; the project name normalised the same
  way (:func:`project_keys`).
- **Suggested budget**: this year's budget (万元) × the grade's factor, half up to 6 decimals
  (what the ledger keeps of an amount: 0.01 元); a project without a budget or a grade gets none.
- **A fallen grade**: last year's grade is better than this year's in the order of this round's
  form (its grade bands, best first); grades outside that order are not compared.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Generic, TypeVar

import pandas as pd

from xlperf.findings import REJECTED, CheckedReturn
from xlperf.model.summary_rows import Cell, indicators_of, projects_of
from xlperf.read.roster import Roster, normalise_name
from xlperf.rollup.tables import NO_DEPT, Entry

__all__ = ["Consequence", "Figure", "GradeTotal", "Past", "ProjectIndex", "ResultRow", "Results",
           "accepted_entries", "add_last_year", "by_dept", "entry_keys", "grade_totals", "past_index", "project_keys",
           "result_rows", "score_of", "suggested_budget"]

SUGGESTED_PLACES = Decimal("0.000001")
NO_GRADE = "（无等次）"
LAST_SCORE, LAST_GRADE = "上年总分", "上年等次"

T = TypeVar("T")


@dataclass(frozen=True)
class Consequence:
    """What a grade leads to: the action as the budget section reads it, and the factor next
    year's budget is this year's multiplied by."""

    grade: str
    action: str
    factor: Decimal


@dataclass(frozen=True)
class Figure:
    """One indicator whose return holds both its target and its actual value."""

    level2: Cell
    name: Cell
    op: Cell
    target: Cell
    actual: Cell
    unit: Cell
    completion: float | None


@dataclass(frozen=True)
class Past:
    """A project's result in another round (last year's, or a year of the year-over-year page)."""

    year: int
    round_name: str
    score: float | None
    grade: str | None
    budget: float | None = None
    spent: float | None = None
    rate: float | None = None


@dataclass(frozen=True)
class ResultRow:
    dept: str
    unit_code: str
    unit: str
    project: str
    year: int | None
    score: float | None
    grade: str | None
    budget: float | None
    released: float | None
    spent: float | None
    rate: float | None
    figures: tuple[Figure, ...]
    consequence: Consequence | None
    suggested: Decimal | None
    last: Past | None
    fell: bool
    file: str


@dataclass(frozen=True)
class Results:
    """结果应用 of one round."""

    round_name: str
    year: int
    form_title: str
    consequences: tuple[Consequence, ...]
    rows: tuple[ResultRow, ...]
    totals: tuple[GradeTotal, ...]
    previous: str | None
    """Last year's round the grades are compared with (None: none in the ledger)."""

    @property
    def fallen(self) -> list[ResultRow]:
        return [r for r in self.rows if r.fell]


@dataclass(frozen=True)
class GradeTotal:
    grade: str
    action: str
    factor: Decimal | None
    count: int
    budget: float
    suggested: Decimal


def project_keys(code: str | None, unit: str | None, project: str | None) -> tuple[tuple[str, str], ...]:
    """The keys a project is known by across rounds, the surest first: (roster code, project)
    when the unit matched its roster, then (normalised unit name, project)."""
    name = normalise_name(project)
    keys = []
    if code:
        keys.append(("code:" + code, name))
    if unit and normalise_name(unit):
        keys.append(("name:" + normalise_name(unit), name))
    return tuple(keys)


class ProjectIndex(Generic[T]):
    """Values by project, found by any of :func:`project_keys` (the first key that matches wins)."""

    def __init__(self) -> None:
        self._by_key: dict[tuple[str, str], T] = {}

    def add(self, keys: Iterable[tuple[str, str]], value: T) -> None:
        for key in keys:
            self._by_key.setdefault(key, value)

    def find(self, keys: Iterable[tuple[str, str]]) -> T | None:
        for key in keys:
            if key in self._by_key:
                return self._by_key[key]
        return None

    def __len__(self) -> int:
        return len(self._by_key)


def accepted_entries(records: Sequence[CheckedReturn], roster: Roster | None) -> list[Entry]:
    """One entry per project of a return that counts (not 退回), matched to the roster, sorted by
    主管部门, unit and project."""
    entries = [Entry(r, p, roster.find(p.unit) if roster else None)
               for r in records if r.status != REJECTED for p in projects_of(r)]
    return sorted(entries, key=lambda e: (e.dept or NO_DEPT, e.unit.code if e.unit else "", e.unit_name,
                                          e.project.project or "", str(e.record.file), e.project.prefix))


def entry_keys(entry: Entry) -> tuple[tuple[str, str], ...]:
    return project_keys(entry.unit.code if entry.unit else None, entry.project.unit, entry.project.project)


def score_of(record: CheckedReturn) -> float | None:
    total = record.total_score
    return None if total is None else float(total)


def suggested_budget(budget: float | None, consequence: Consequence | None) -> Decimal | None:
    if budget is None or consequence is None or not math.isfinite(budget):
        return None
    return (Decimal(repr(budget)) * consequence.factor).quantize(SUGGESTED_PLACES, rounding=ROUND_HALF_UP)


def result_rows(records: Sequence[CheckedReturn], roster: Roster | None, consequences: Sequence[Consequence],
                last_year: ProjectIndex[Past] | None = None) -> list[ResultRow]:
    """The rows of 结果应用, sorted by 主管部门, unit and project. ``consequences`` are in the
    order of the form's grades, best first."""
    by_grade = {c.grade: c for c in consequences}
    order = {c.grade: i for i, c in enumerate(consequences)}
    rows = []
    for e in accepted_entries(records, roster):
        p, grade = e.project, e.record.grade
        consequence = by_grade.get(grade or "")
        last = last_year.find(entry_keys(e)) if last_year is not None else None
        fell = (last is not None and grade in order and last.grade in order
                and order[grade or ""] > order[last.grade or ""])
        rows.append(ResultRow(
            dept=e.dept or NO_DEPT, unit_code=e.unit.code if e.unit else "", unit=p.unit or "",
            project=p.project or "", year=p.year, score=score_of(e.record), grade=grade, budget=p.budget,
            released=p.released, spent=p.spent, rate=p.rate, figures=tuple(_figures(e)), consequence=consequence,
            suggested=suggested_budget(p.budget, consequence), last=last, fell=fell, file=str(e.record.file)))
    return rows


def _figures(e: Entry) -> Iterable[Figure]:
    for ind in indicators_of(e.record):
        if ind.prefix == e.project.prefix and _filled(ind.target) and _filled(ind.actual):
            yield Figure(ind.level2, ind.name, ind.op, ind.target, ind.actual, ind.unit, ind.completion)


def _filled(value: Cell) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def grade_totals(rows: Sequence[ResultRow], consequences: Sequence[Consequence]) -> list[GradeTotal]:
    """Per grade (the form's order, then any other grade found, then projects with none): how
    many projects, this year's budget and the suggested next-year budget."""
    grades = [c.grade for c in consequences]
    grades += sorted({r.grade for r in rows if r.grade and r.grade not in grades})
    by_grade = {c.grade: c for c in consequences}
    totals = []
    for grade in [*grades, None]:
        mine = [r for r in rows if r.grade == grade]
        if grade is None and not mine:
            continue
        c = by_grade.get(grade or "")
        totals.append(GradeTotal(
            grade or NO_GRADE, c.action if c else "", c.factor if c else None, len(mine),
            round(math.fsum(r.budget for r in mine if r.budget is not None), 6),
            sum((r.suggested for r in mine if r.suggested is not None), Decimal(0))))
    return totals


def past_index(records: Sequence[CheckedReturn], roster: Roster | None, year: int,
               round_name: str) -> ProjectIndex[Past]:
    """Each counted project of another round as :class:`Past`, by its keys."""
    index: ProjectIndex[Past] = ProjectIndex()
    for e in accepted_entries(records, roster):
        p = e.project
        index.add(entry_keys(e), Past(year, round_name, score_of(e.record), e.record.grade, p.budget, p.spent, p.rate))
    return index


def add_last_year(projects: pd.DataFrame, last_year: ProjectIndex[Past]) -> pd.DataFrame:
    """The summary's 汇总 rows with 上年总分 and 上年等次 after 等次 (found by unit and project)."""
    found = [last_year.find(project_keys(code, unit, project)) for code, unit, project in
             zip(projects["单位代码"], projects["单位"], projects["项目"], strict=True)]
    at = list(projects.columns).index("等次") + 1
    projects.insert(at, LAST_SCORE, pd.Series([p.score if p else None for p in found], index=projects.index,
                                                  dtype=object))
    projects.insert(at + 1, LAST_GRADE, pd.Series([p.grade if p else None for p in found], index=projects.index,
                                                      dtype=object))
    return projects


def by_dept(rows: Sequence[ResultRow]) -> dict[str, list[ResultRow]]:
    """Rows per 主管部门, in the rows' order."""
    out: dict[str, list[ResultRow]] = {}
    for r in rows:
        out.setdefault(r.dept, []).append(r)
    return out

