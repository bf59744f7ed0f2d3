"""A round's status: one row per roster unit (and project, where the roster lists projects).

Status labels: 未报送 (no current return), 退回 (rejected by the checks, or returned by staff),
通过（有提示）, 通过 (accepted by the checks, or by staff despite warnings), 已作废 (the newest
return was voided by staff and nothing newer has arrived). Read with a few column queries, not
ORM objects; the current returns are :func:`xlperf.ledger.current.current_returns` (the one
definition the summary workbook reads too), and only units whose roster lists projects have
their versions matched in Python: a 10,000-unit round is answered in about a tenth of a second
of CPU.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, STATUS_LABELS
from xlperf.ledger.current import MISSING, RETURNED, VOIDED, current_returns, effective_status
from xlperf.ledger.models import HELD, IGNORED, REPEAT, Round, Submission, Unit, local
from xlperf.read.roster import normalise_name

__all__ = ["MISSING", "STATUS_ORDER", "VOIDED", "StatusRow", "effective_status", "round_status"]

STATUS_ORDER = (MISSING, RETURNED, STATUS_LABELS[ACCEPTED_WITH_WARNINGS], STATUS_LABELS[ACCEPTED], VOIDED)


@dataclass(slots=True)
class StatusRow:
    code: str
    unit: str
    dept: str
    project: str
    status: str
    submission: int | None = None
    total_score: float | None = None
    grade: str | None = None
    received_at: dt.datetime | None = None
    versions: int = 0
    overdue: bool = False
    note: str = ""

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["received_at"] = self.received_at.isoformat(timespec="seconds") if self.received_at else None
        return data


@dataclass
class RoundStatus:
    round: Round
    rows: list[StatusRow]
    held: int
    """Submissions held for staff (another form/year, unit not in roster, unreadable)."""
    ignored: int
    repeats: int

    def counts(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUS_ORDER, 0)
        for row in self.rows:
            counts[row.status] += 1
        return counts

    def progress(self) -> str:
        counts = self.counts()
        done = counts[STATUS_LABELS[ACCEPTED]] + counts[STATUS_LABELS[ACCEPTED_WITH_WARNINGS]]
        total = len(self.rows)
        pct = f"{done / total:.0%}" if total else "—"
        parts = "，".join(f"{label} {counts[label]}" for label in STATUS_ORDER)
        line = f"共 {total} 行：{parts}；已通过 {done}/{total}（{pct}）"
        extra = [f"暂存待处理 {self.held} 个文件" if self.held else "",
                 f"非报表文件 {self.ignored} 个" if self.ignored else "",
                 f"重复文件 {self.repeats} 个" if self.repeats else ""]
        extra = [e for e in extra if e]
        if extra:
            line += "；另有" + "，".join(extra)
        overdue = sum(r.overdue for r in self.rows)
        if overdue:
            line += f"；已过截止日期未通过 {overdue} 行"
        return line

    def lines(self) -> list[str]:
        """The status table as text: one line per row, then the progress line."""
        lines = []
        for row in self.rows:
            project = f"  {row.project}" if row.project else ""
            score = f"  {row.total_score:g}" if row.total_score is not None else ""
            grade = f" {row.grade}" if row.grade else ""
            when = f"  {local(row.received_at):%Y-%m-%d %H:%M}" if row.received_at else ""
            sub = f"  #{row.submission}" if row.submission else ""
            versions = f"  第 {row.versions} 版" if row.versions > 1 else ""
            late = "  【已过截止日期】" if row.overdue else ""
            note = f"  （{row.note}）" if row.note else ""
            lines.append(f"{row.code}  {row.unit}{project}  {row.status}{sub}{score}{grade}{when}{versions}{late}{note}")
        return [*lines, self.progress()]

    def to_dict(self) -> dict[str, object]:
        rnd = self.round
        return {"round": {"name": rnd.name, "form": rnd.form, "year": rnd.year,
                          "deadline": rnd.deadline.isoformat() if rnd.deadline else None},
                "counts": self.counts(), "held": self.held, "ignored": self.ignored, "repeats": self.repeats,
                "rows": [r.to_dict() for r in self.rows]}


def round_status(session: Session, rnd: Round, today: dt.date | None = None) -> RoundStatus:
    # No pause of the cycle collector here (xlperf.rollup.gcpause): the desk computes this while
    # it serves other requests, and the switch would be its whole process's.
    return _round_status(session, rnd, today or dt.date.today())


def _round_status(session: Session, rnd: Round, today: dt.date) -> RoundStatus:
    overdue_now = rnd.deadline is not None and today > rnd.deadline
    # Core rows (the connection, not the ORM): a 10,000-unit round is read on every first view
    # of the dashboard after a change. The current returns are the ledger's one query of them.
    conn = session.connection()
    current: dict[Any, list[Any]] = defaultdict(list)
    for row in conn.execute(current_returns(rnd.id)):
        current[row[1]].append(row)
    counted = (Submission.round_id == rnd.id, Submission.unit_id.is_not(None),
               Submission.state.not_in((HELD, IGNORED, REPEAT)))
    versions = dict(conn.execute(select(Submission.unit_id, func.count()).where(*counted)
                                 .group_by(Submission.unit_id)).all())
    units = conn.execute(select(Unit.id, Unit.code, Unit.name, Unit.dept, Unit.projects)
                         .where(Unit.round_id == rnd.id, Unit.in_roster.is_(True)).order_by(Unit.id)).all()
    # Units with projects in the roster: a return counts for the projects it names, so their
    # versions are counted here, project by project.
    keys: dict[Any, list[str]] = defaultdict(list)
    if any(u[4] and u[4] != "[]" for u in units):
        with_projects = select(Unit.id).where(Unit.round_id == rnd.id, Unit.projects.not_in(("", "[]")))
        for unit_id, key in conn.execute(select(Submission.unit_id, Submission.project_key)
                                         .where(*counted, Submission.unit_id.in_(with_projects))):
            keys[unit_id].append(key)
    accepted = STATUS_ORDER[2:4]
    rows = []
    for unit_id, code, name, dept, projects_json, in units:
        mine = current.get(unit_id, [])
        if not projects_json or projects_json == "[]":
            rows.append(_row(code, name, dept, "", versions.get(unit_id, 0), mine[-1][3:] if mine else None,
                             overdue_now, accepted, mine[-1][0] if mine else None))
            continue
        for project in json.loads(projects_json) or [""]:
            key = normalise_name(project)
            count = sum(1 for k in keys.get(unit_id, []) if not key or key in k.split("|"))
            last = next((r for r in reversed(mine) if not key or key in r[2].split("|")), None)
            rows.append(_row(code, name, dept, project, count, last[3:] if last else None, overdue_now, accepted,
                             last[0] if last else None))
    counts = dict(conn.execute(select(Submission.state, func.count()).where(
        Submission.round_id == rnd.id).group_by(Submission.state)).all())
    return RoundStatus(rnd, rows, counts.get(HELD, 0), counts.get(IGNORED, 0), counts.get(REPEAT, 0))


def _row(code: str, name: str, dept: str, project: str, versions: int, current: Sequence[Any] | None,
         overdue_now: bool, accepted: tuple[str, ...], sid: int | None) -> StatusRow:
    """One status row; ``current``: (received, decision, note, check status, total, grade)."""
    if current is None or sid is None:
        return StatusRow(code, name, dept, project, MISSING, versions=versions, overdue=overdue_now)
    received, decision, note, check, total, grade = current
    status = effective_status(check, decision)
    return StatusRow(code, name, dept, project, status, sid, total, grade, received, versions,
                     overdue_now and status not in accepted, note if decision else "")
