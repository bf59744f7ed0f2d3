"""What the roll-up keeps of one checked file: a slim, picklable record (plain data, no logic).

A worker process checks a file and sends back only this, not the whole
:class:`xlperf.findings.Checked`: the narrative texts and the hundreds of raw values a summary
never shows stay in the worker, so less is pickled, sent and held for ten thousand returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from xlperf.findings import REJECTED, STATUS_LABELS, Finding
from xlperf.findings.catalogue import finding

IGNORED = "ignored"
"""A file found in the inbox that is not a spreadsheet: listed in 清单, never checked."""
RECORD_LABELS = {**STATUS_LABELS, IGNORED: "未审核"}

Cell = float | int | str | dt.date | None
"""A value as read from a return: numbers, text (also text typed into number cells), dates."""


class ProjectRow(NamedTuple):
    """One project of a return (forms with one sheet per project hold several)."""

    prefix: str
    """Key prefix of the project's sheet: "" or "p1_", "p2_" ..."""
    unit: str | None
    dept: str | None
    """主管部门 as typed in the return."""
    project: str | None
    year: int | None
    budget: float | None
    """Money in 万元, converted from the form's amount unit."""
    released: float | None
    spent: float | None
    rate: float | None
    """执行率 as a fraction (0.117 for 11.7%), recomputed."""
    adjusted_budget: float | None = None
    """调整后预算 in 万元, where the form names one (spec ``amounts``)."""
    rate_numerator: float | None = None
    """The amounts the 执行率 is measured on (spec ``execution_rate``: spent over budget, or over
    the adjusted budget), in 万元: what the statistics add up per 主管部门."""
    rate_denominator: float | None = None


class IndicatorRow(NamedTuple):
    """One indicator of a return: a row of an indicator table or of a scorecard."""

    prefix: str
    source: str
    """指标表 (a table with a target column) or 评分表 (a scorecard row)."""
    level1: Cell
    level2: Cell
    name: Cell
    op: Cell
    target: Cell
    unit: Cell
    actual: Cell
    weight: float | None
    score: Cell
    completion: float | None
    """完成率 of a table indicator (recomputed); 得分率 (score / weight) of a scorecard row."""


@dataclass
class ReturnRecord:
    """The outcome of one input file, as the roll-up needs it."""

    file: Path
    size: int
    mtime_ns: int
    status: str
    """accepted / accepted_with_warnings / rejected (see xlperf.findings), or IGNORED."""
    form: str | None = None
    form_version: str | None = None
    unit: str | None = None
    year: int | None = None
    total_score: float | None = None
    grade: str | None = None
    projects: tuple[ProjectRow, ...] = ()
    """Empty when the file is not a readable return of a known form."""
    indicators: tuple[IndicatorRow, ...] = ()
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def errors(self) -> int:
        return sum(1 for f in self.findings if f.severity == "error")

    @property
    def warnings(self) -> int:
        return sum(1 for f in self.findings if f.severity == "warning")

    @property
    def mtime(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.mtime_ns / 1e9).replace(microsecond=0)


def failed_record(path: Path, size: int, mtime_ns: int, code: str, message: str) -> ReturnRecord:
    """A rejected record for a file the roll-up could not check at all."""
    return ReturnRecord(file=path, size=size, mtime_ns=mtime_ns, status=REJECTED,
                        findings=(finding(code, message),))


def ignored_record(path: Path, size: int, mtime_ns: int, reason: str) -> ReturnRecord:
    """The record of a file that is not checked (:func:`xlperf.read.inbox.not_a_return` says why)."""
    return ReturnRecord(file=path, size=size, mtime_ns=mtime_ns, status=IGNORED, notes=(reason,))
