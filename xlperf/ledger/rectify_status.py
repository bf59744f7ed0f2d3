"""The status of a 整改 round: every problem it follows (:class:`~xlperf.ledger.models.RectifyItem`),
open or closed, and which are overdue.

An item is read from row ``n`` of the current 整改 form of its unit and project, when that return
counts (通过 or 通过（有提示）: a return 退回 or 已作废 closes nothing). It is **已完成** when its
是否完成 column holds the spec's closing choice (``tracked_items.closed``), else **未完成**; an
open item is **逾期** when its 完成时限 has passed, or when the round's deadline has passed with
no return counting for it. The round is closed when every item is 已完成.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, STATUS_LABELS, CheckedReturn
from xlperf.ledger.models import FOLLOWS_RECTIFY, RectifyItem, Result, Round, Submission, Unit
from xlperf.ledger.rectify import tracked_table
from xlperf.ledger.roundform import round_spec
from xlperf.ledger.status import round_status
from xlperf.model.values import cell_text

__all__ = ["CLOSED", "OPEN", "OVERDUE", "RectifyStatus", "rectify_status"]

CLOSED, OPEN, OVERDUE = "已完成", "未完成", "逾期"
"""An item's state as people read it (an overdue item is open too)."""
_COUNTS = (STATUS_LABELS[ACCEPTED], STATUS_LABELS[ACCEPTED_WITH_WARNINGS])


@dataclass(slots=True)
class Item:
    n: int
    problem: str
    state: str
    due: dt.date | None = None

    def to_dict(self) -> dict[str, object]:
        data = asdict(self)
        data["due"] = self.due.isoformat() if self.due else None
        return data


@dataclass
class ProjectItems:
    """One unit and project of the round: its return's status and its items."""

    code: str
    unit: str
    project: str
    status: str
    submission: int | None
    items: list[Item] = field(default_factory=list)

    def count(self, state: str) -> int:
        return sum(i.state == state for i in self.items)

    @property
    def closed(self) -> int:
        return self.count(CLOSED)

    @property
    def open(self) -> int:
        return len(self.items) - self.closed

    def line(self) -> str:
        project = f"  {self.project}" if self.project else ""
        late = f"（其中逾期 {self.count(OVERDUE)} 项）" if self.count(OVERDUE) else ""
        return (f"{self.code}  {self.unit}{project}  {self.status}  问题 {len(self.items)} 项：已完成 {self.closed} 项，"
                f"未完成 {self.open} 项{late}")


@dataclass
class RectifyStatus:
    round: Round
    earlier: str
    rows: list[ProjectItems]

    @property
    def total(self) -> int:
        return sum(len(r.items) for r in self.rows)

    def count(self, state: str) -> int:
        return sum(r.count(state) for r in self.rows)

    @property
    def closed(self) -> bool:
        return self.count(CLOSED) == self.total

    def summary(self) -> str:
        done, overdue = self.count(CLOSED), self.count(OVERDUE)
        if self.closed:
            return f"整改已全部完成：共 {self.total} 项问题，均已完成"
        late = f"，其中逾期 {overdue} 项" if overdue else ""
        return f"整改未完成：共 {self.total} 项问题，已完成 {done} 项，未完成 {self.total - done} 项{late}"

    def lines(self) -> list[str]:
        """Per project its counts, then each item not closed, then the round's line."""
        out = [f"整改任务（承接“{self.earlier}”）："]
        for row in self.rows:
            out.append(row.line())
            out += [f"    {i.n}. 【{i.state}】{_one_line(i.problem)}"
                    + (f"（完成时限 {i.due}）" if i.due else "") for i in row.items if i.state != CLOSED]
        return [*out, self.summary()]

    def to_dict(self) -> dict[str, object]:
        return {"earlier": self.earlier, "closed": self.closed, "items": self.total,
                "counts": {CLOSED: self.count(CLOSED), OPEN: self.total - self.count(CLOSED), OVERDUE: self.count(OVERDUE)},
                "projects": [{"code": r.code, "unit": r.unit, "project": r.project, "status": r.status,
                              "submission": r.submission, "items": [i.to_dict() for i in r.items]} for r in self.rows]}


def _one_line(text: str) -> str:
    return " / ".join(part for part in text.splitlines() if part.strip())


def _date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def rectify_status(session: Session, rnd: Round, today: dt.date | None = None) -> RectifyStatus | None:
    """The items of ``rnd`` and their states; None when ``rnd`` is not a 整改 round."""
    spec = round_spec(rnd)
    if rnd.follows_kind != FOLLOWS_RECTIFY or spec is None or spec.tracked_items is None:
        return None
    tracked, table = spec.tracked_items, tracked_table(spec)
    today = today or dt.date.today()
    past_deadline = rnd.deadline is not None and today > rnd.deadline
    earlier = session.get(Round, rnd.follows_id) if rnd.follows_id is not None else None
    items: dict[tuple[str, str], list[RectifyItem]] = defaultdict(list)
    for item, code in session.execute(select(RectifyItem, Unit.code).join(Unit, Unit.id == RectifyItem.unit_id)
                                      .where(RectifyItem.round_id == rnd.id).order_by(RectifyItem.n)):
        items[(code, item.project)].append(item)
    rows = []
    for row in round_status(session, rnd, today).rows:
        values = _values(session, row.submission) if row.status in _COUNTS and row.submission else None
        mine = ProjectItems(row.code, row.unit, row.project, row.status, row.submission)
        for item in items.get((row.code, row.project), []):
            done = values is not None and cell_text(values.get(table.row_key(item.n, tracked.done))).strip() == tracked.closed
            due = _date(values.get(table.row_key(item.n, tracked.due))) if values is not None else None
            late = (due is not None and due < today) or (values is None and past_deadline)
            mine.items.append(Item(item.n, item.problem, CLOSED if done else OVERDUE if late else OPEN, due))
        rows.append(mine)
    return RectifyStatus(rnd, earlier.name if earlier is not None else "", rows)


def _values(session: Session, submission: int) -> dict[str, object]:
    result_json = session.scalar(select(Result.checked_json).join(Submission, Submission.result_id == Result.id)
                                 .where(Submission.id == submission))
    return CheckedReturn.from_json(result_json, file=Path("")).values if result_json else {}
