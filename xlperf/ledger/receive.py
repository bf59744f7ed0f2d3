"""Recording files received: repeats, held returns, supersession, results and findings as rows.

:func:`receive` is the one writer of new submissions (folder, upload and mail intake all end
here). It runs inside the caller's transaction with the round locked (:func:`lock_round`), so
two intakes at once see each other's files: what one recorded, the other finds as known.

What happens to a file (its :class:`Outcome` kind):

- ``known``: the same content, name, source and sender are already recorded in the round (a
  folder taken in again, an intake run again after it was killed): nothing new is written.
- ``repeat``: the same content (SHA-256) arrived before under another name or from another
  sender: recorded, linked to the first one, not checked again; it changes no status.
- ``ignored``: not a spreadsheet (:func:`xlperf.read.inbox.not_a_return` says why).
- ``held``: checked, but not for this round: unreadable or not a return of a known form,
  another form or year, a template version the round does not accept, a unit not in the
  roster, a project the roster does not list for the unit. Kept with the reason for staff.
- ``current``: counts for its unit and project; the unit's previous current return of the same
  projects becomes ``superseded`` (kept, linked to the newer one).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf import __version__
from xlperf.findings import STATUS_LABELS
from xlperf.ledger.codec import record_to_json
from xlperf.ledger.db import lock_round
from xlperf.ledger.models import (
    CURRENT,
    HELD,
    IGNORED,
    REPEAT,
    SUPERSEDED,
    FindingRow,
    Result,
    Round,
    StoredFile,
    Submission,
    Unit,
)
from xlperf.ledger.rounds import log_event
from xlperf.read.roster import normalise_name
from xlperf.rollup.records import ReturnRecord

__all__ = ["KNOWN", "Incoming", "Outcome", "RoundView", "known_receipts", "receive", "round_view",
           "store_result"]

KNOWN = "known"
KIND_LABELS = {KNOWN: "已登记过", REPEAT: "重复文件", IGNORED: "未审核", HELD: "暂存待处理", CURRENT: "已登记"}


@dataclass(frozen=True)
class Incoming:
    """A file to record: where it came from, its content digest and (unless known) its check."""

    name: str
    sha256: str
    size: int
    source: str
    """folder / upload / mail"""
    sender: str = ""
    mtime: dt.datetime | None = None
    record: ReturnRecord | None = None
    """The check (a :class:`xlperf.ledger.checking.LedgerRecord`); None when not checked."""
    ignored: str | None = None
    """Why the file is not a return (not checked); None for a spreadsheet."""


@dataclass
class Outcome:
    name: str
    kind: str
    submission_id: int | None = None
    status: str = ""
    """The check's status label (通过 / 通过（有提示）/ 退回) when checked."""
    reason: str = ""
    unit: str = ""
    superseded: list[int] = field(default_factory=list)
    repeat_of: int | None = None

    def line(self) -> str:
        head = f"{KIND_LABELS[self.kind]}  {self.name}"
        if self.submission_id is not None:
            head += f"  #{self.submission_id}"
        if self.kind == CURRENT:
            head += f"  {self.unit}：{self.status}"
            if self.superseded:
                head += f"（取代 {'、'.join('#' + str(s) for s in self.superseded)}）"
        elif self.kind == REPEAT:
            head += f"：与 #{self.repeat_of} 内容相同，未重复审核"
        elif self.kind == KNOWN:
            head += "：此前已收到并登记"
        elif self.reason:
            head += f"：{self.reason}"
        return head


@dataclass
class RoundView:
    """What recording needs of a round, read once per intake (the roster does not change)."""

    round: Round
    by_name: dict[str, Unit]
    versions: tuple[str, ...]


def round_view(session: Session, rnd: Round) -> RoundView:
    units = session.scalars(select(Unit).where(Unit.round_id == rnd.id)).all()
    return RoundView(rnd, {normalise_name(u.name): u for u in units},
                     tuple(json.loads(rnd.template_versions or "[]")))


def known_receipts(session: Session, round_id: int, shas: Sequence[str]) -> dict[str, list[Submission]]:
    """Earlier submissions of the round by content digest (only the digests asked about)."""
    found: dict[str, list[Submission]] = {}
    for start in range(0, len(shas), 500):
        rows = session.scalars(select(Submission).where(Submission.round_id == round_id,
                                                        Submission.sha256.in_(shas[start:start + 500]))
                               .order_by(Submission.id))
        for sub in rows:
            found.setdefault(sub.sha256, []).append(sub)
    return found


def receive(session: Session, view: RoundView, items: Sequence[Incoming], actor: str = "") -> list[Outcome]:
    """Record ``items`` in this order (oldest first); the caller's transaction commits them."""
    rnd = view.round
    lock_round(session, rnd.id)
    earlier = known_receipts(session, rnd.id, list(dict.fromkeys(i.sha256 for i in items)))
    stored = set(session.scalars(select(StoredFile.sha256).where(
        StoredFile.sha256.in_({i.sha256 for i in items}))))
    outcomes = []
    for item in items:
        if item.sha256 not in stored:
            session.add(StoredFile(sha256=item.sha256, size=item.size))
            stored.add(item.sha256)
        outcome = _receive_one(session, view, item, earlier.get(item.sha256, []), actor)
        outcomes.append(outcome)
    return outcomes


def _receive_one(session: Session, view: RoundView, item: Incoming, before: list[Submission],
                 actor: str) -> Outcome:
    rnd = view.round
    if any((s.original_name, s.source, s.sender) == (item.name, item.source, item.sender) for s in before):
        return Outcome(item.name, KNOWN, before[0].id)
    sub = Submission(round_id=rnd.id, sha256=item.sha256, size=item.size, original_name=item.name,
                     source=item.source, sender=item.sender, file_mtime=item.mtime, state=HELD)
    if before:
        first = before[0]
        sub.state, sub.repeat_of, sub.result_id = REPEAT, first.id, first.result_id
        sub.unit_id, sub.unit_name, sub.form, sub.year = first.unit_id, first.unit_name, first.form, first.year
        sub.project_key, sub.projects = first.project_key, first.projects
        _add(session, sub, before)
        log_event(session, rnd.id, "repeat", submission_id=sub.id, actor=actor, note=f"与 #{first.id} 内容相同")
        return Outcome(item.name, REPEAT, sub.id, repeat_of=first.id, unit=first.unit_name)
    if item.ignored is not None or item.record is None:
        sub.state, sub.reason = IGNORED, item.ignored or "未审核"
        _add(session, sub, before)
        log_event(session, rnd.id, "ignored", submission_id=sub.id, actor=actor, note=sub.reason)
        return Outcome(item.name, IGNORED, sub.id, reason=sub.reason)
    record = item.record
    projects = [p.project for p in record.projects if p.project]
    sub.unit_name, sub.form, sub.year = record.unit or "", record.form, record.year
    sub.projects = json.dumps(projects, ensure_ascii=False)
    sub.project_key = "|".join(sorted({normalise_name(p) for p in projects}))
    unit = view.by_name.get(normalise_name(record.unit)) if record.unit else None
    sub.unit_id = unit.id if unit else None
    sub.reason = _held_reason(view, record, unit, projects)
    sub.state = HELD if sub.reason else CURRENT
    _add(session, sub, before)
    log_event(session, rnd.id, "received", submission_id=sub.id, actor=actor,
              note=f"{item.source} {item.sender}".strip())
    store_result(session, sub, record, actor)
    outcome = Outcome(item.name, sub.state, sub.id, status=STATUS_LABELS.get(record.status, record.status),
                      reason=sub.reason, unit=unit.name if unit else (record.unit or ""))
    if sub.state == HELD:
        log_event(session, rnd.id, "held", submission_id=sub.id, actor=actor, note=sub.reason)
        return outcome
    older = session.scalars(select(Submission).where(
        Submission.round_id == rnd.id, Submission.unit_id == sub.unit_id, Submission.state == CURRENT,
        Submission.project_key == sub.project_key, Submission.id != sub.id))
    for old in older:
        old.state, old.superseded_by = SUPERSEDED, sub.id
        log_event(session, rnd.id, "superseded", submission_id=old.id, actor=actor, note=f"由 #{sub.id} 取代")
        outcome.superseded.append(old.id)
    return outcome


def _add(session: Session, sub: Submission, before: list[Submission]) -> None:
    session.add(sub)
    session.flush()
    before.append(sub)  # a second copy later in the same batch is then a repeat of this one


def store_result(session: Session, sub: Submission, record: ReturnRecord, actor: str = "") -> Result:
    """A result row (and its findings) for ``sub``, which then points at it."""
    result = Result(submission_id=sub.id, status=record.status, total_score=record.total_score,
                    grade=record.grade, errors=record.errors, warnings=record.warnings,
                    xlperf_version=__version__, form_version=record.form_version,
                    checked_json=getattr(record, "checked_json", "{}"),
                    record_json=getattr(record, "record_json", None) or record_to_json(record))
    session.add(result)
    session.flush()
    session.add_all(FindingRow(result_id=result.id, code=f.code, severity=f.severity, sheet=f.sheet,
                               cell=f.cell, field=f.field, label=f.label, message=f.message,
                               expected=f.expected, found=f.found) for f in record.findings)
    sub.result_id = result.id
    log_event(session, sub.round_id, "checked", submission_id=sub.id, actor=actor,
              note=f"{STATUS_LABELS.get(record.status, record.status)}：错误 {record.errors}，提示 {record.warnings}")
    return result


def _held_reason(view: RoundView, record: ReturnRecord, unit: Unit | None, projects: list[str]) -> str:
    rnd = view.round
    if not record.form or not record.projects and not record.unit:
        first = next((f.message for f in record.findings if f.severity == "error"), "")
        return f"无法作为本任务的报表读取：{first}" if first else "无法作为本任务的报表读取"
    if record.form != rnd.form:
        return f"表单不符：本任务收“{rnd.form}”，此文件是“{record.form}”"
    if record.year is not None and record.year != rnd.year:
        return f"年度不符：本任务为 {rnd.year} 年，此文件填的是 {record.year} 年"
    if view.versions and record.form_version not in view.versions:
        return f"模板版本“{record.form_version}”不在本任务接受的版本（{'、'.join(view.versions)}）中，请用下发的模板重新填报"
    if not record.unit:
        return "报表未填写单位名称，无法对应到名单中的单位"
    if unit is None:
        return f"单位“{record.unit}”不在本任务的名单中：请核对报表中的单位名称，或在名单中补充该单位"
    listed = {normalise_name(p) for p in json.loads(unit.projects or "[]")}
    if listed and projects and not {normalise_name(p) for p in projects} <= listed:
        strays = "、".join(p for p in projects if normalise_name(p) not in listed)
        return f"项目“{strays}”不在名单中该单位的项目里"
    return ""
