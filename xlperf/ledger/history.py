"""A unit's history in a round: every version received, its outcome, and what changed.

"What did they change?": between two consecutive checked versions of the same project, each
input field whose value differs, with the field's label as printed on the form, the old and the
new value (as the clerk would read them: numbers without a trailing .0, dates as dates).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from xlperf.findings import CheckedReturn
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.ledger.current import effective_status
from xlperf.ledger.db import LedgerError
from xlperf.ledger.models import (
    CURRENT,
    IGNORED,
    STATE_LABELS,
    SUPERSEDED,
    Event,
    Result,
    Round,
    Submission,
    Unit,
    local,
)
from xlperf.read.roster import normalise_name

__all__ = ["Change", "Version", "field_changes", "find_unit", "unit_history"]



@dataclass(frozen=True)
class Change:
    key: str
    label: str
    old: str
    new: str


@dataclass
class Version:
    submission: Submission
    status: str
    total_score: float | None
    grade: str | None
    errors: int
    warnings: int
    changes: list[Change] = field(default_factory=list)
    """Against the previous checked version of the same projects (empty for the first)."""
    events: list[Event] = field(default_factory=list)

    def lines(self) -> list[str]:
        s = self.submission
        score = f"，总分 {self.total_score:g}" if self.total_score is not None else ""
        grade = f"，等次 {self.grade}" if self.grade else ""
        head = (f"#{s.id}  {local(s.received_at):%Y-%m-%d %H:%M}  {s.original_name}  [{STATE_LABELS.get(s.state, s.state)}]"
                f"  {self.status}{score}{grade}（错误 {self.errors}，提示 {self.warnings}）")
        lines = [head]
        if s.reason:
            lines.append(f"    原因：{s.reason}")
        if s.decision:
            lines.append(f"    决定：{s.decision} {s.decision_note}".rstrip())
        if self.changes:
            lines.append(f"    与上一版相比改动 {len(self.changes)} 处：")
            lines += [f"      {c.label}：{c.old or '（空）'} → {c.new or '（空）'}" for c in self.changes]
        return lines


def find_unit(session: Session, rnd: Round, text: str) -> Unit:
    """A roster unit of ``rnd`` by code or by name (compared as the roster compares names)."""
    units = session.scalars(select(Unit).where(Unit.round_id == rnd.id)).all()
    for unit in units:
        if unit.code == text.strip() or normalise_name(unit.name) == normalise_name(text):
            return unit
    raise LedgerError(f"报送任务“{rnd.name}”的名单中没有单位“{text}”（可用单位代码或名称）")


def unit_history(session: Session, rnd: Round, unit: Unit) -> list[Version]:
    """Every submission of ``unit`` in ``rnd`` (oldest first), with field changes and events."""
    subs = session.scalars(select(Submission).where(
        Submission.round_id == rnd.id,
        or_(Submission.unit_id == unit.id, Submission.unit_name == unit.name)).order_by(Submission.id)).all()
    results = {r.id: r for r in session.scalars(select(Result).where(
        Result.id.in_([s.result_id for s in subs if s.result_id])))}
    events = session.scalars(select(Event).where(Event.submission_id.in_([s.id for s in subs])).order_by(Event.id)).all()
    versions = []
    last_values: dict[str, dict] = {}
    for sub in subs:
        result = results.get(sub.result_id) if sub.result_id else None
        status = (effective_status(result.status, sub.decision) if result is not None and sub.state != IGNORED
                  else "未审核")
        version = Version(sub, status, result.total_score if result else None, result.grade if result else None,
                          result.errors if result else 0, result.warnings if result else 0,
                          events=[e for e in events if e.submission_id == sub.id])
        if result is not None and sub.state in (CURRENT, SUPERSEDED):
            values = CheckedReturn.from_json(result.checked_json, file=Path(sub.original_name)).values
            if sub.project_key in last_values:
                version.changes = field_changes(sub.form, last_values[sub.project_key], values)
            last_values[sub.project_key] = values
        versions.append(version)
    return versions


def field_changes(form: str | None, old: dict, new: dict) -> list[Change]:
    """Fields whose value differs between ``old`` and ``new``, in the form's order."""
    labels: dict[str, str | None] = {}
    order: list[str] = []
    if form in builtin_forms():
        layout = builtin_layout(str(form))
        for fld in layout.inputs():
            labels[fld.key] = fld.label or fld.key
            order.append(fld.key)
    keys = order + sorted((set(old) | set(new)) - set(order))
    changes = []
    for key in keys:
        before, after = _shown(old.get(key)), _shown(new.get(key))
        if before != after:
            changes.append(Change(key, labels.get(key) or key, before, after))
    return changes


def _shown(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (float, Decimal)):
        return f"{value:.15g}" if isinstance(value, float) else str(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value).strip()
