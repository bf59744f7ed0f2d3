"""Re-check a round's returns after a form, rule or roster change, and re-apply its rules.

Each stored file is checked again from the file store (under its original name), a new result
is recorded (the old one stays), and an event says what changed. Then the round's hold rules
(:func:`xlperf.ledger.receive.held_reason`: the unit on the roster *as it is now*, the form, the
year, the template version, the signature) are applied again: a current return that now breaks
one is held, with the reason, and no longer counts. With ``held=True`` the held files are
checked again too, and one that now meets the rules becomes current (replacing the unit's
current return as at intake, :func:`xlperf.ledger.current.replaced`; or stays held with the
new reason). Returns whose status changed are listed. A return recorded before xlperf kept
the saved time of a workbook (migration 0004) gets it here, so that its next version can be
ordered.

Staff decisions stay: a return that staff returned or voided stays so; an acceptance despite
warnings no longer holds if the return now has errors (see
:func:`xlperf.ledger.current.effective_status`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings import CheckedReturn
from xlperf.ledger.current import effective_status, replaced
from xlperf.ledger.db import Ledger, lock_round
from xlperf.ledger.models import CURRENT, HELD, STATE_LABELS, SUPERSEDED, Result, Round, Submission
from xlperf.ledger.receive import RoundView, held_reason, read_view, store_result
from xlperf.ledger.round_checks import check_many, materialised, round_check
from xlperf.ledger.rounds import log_event
from xlperf.model.summary_rows import projects_of
from xlperf.read.roster import normalise_name
from xlperf.read.saved import saved_time
from xlperf.rollup.collect import Progress

__all__ = ["Change", "revalidate"]

BATCH = 200
HELD_LABEL = STATE_LABELS[HELD]


@dataclass(frozen=True)
class Change:
    submission: int
    unit: str
    file: str
    old: str
    new: str
    reason: str = ""

    def line(self) -> str:
        why = f"（{self.reason}）" if self.reason else ""
        return f"#{self.submission}  {self.unit}  {self.file}：{self.old} → {self.new}{why}"


def revalidate(ledger: Ledger, rnd: Round, actor: str = "", jobs: int | None = None,
               progress: Progress | None = None, held: bool = False,
               scheduler: Any = None) -> tuple[int, list[Change]]:
    """(submissions re-checked, those whose status changed); ``held``: the held files too;
    ``scheduler``: on a Dask cluster (see :func:`xlperf.ledger.round_checks.check_many`)."""
    states = (CURRENT, HELD) if held else (CURRENT,)
    with ledger.session() as session:
        context = round_check(session, rnd)
        todo = session.execute(select(Submission.id, Submission.sha256, Submission.original_name)
                               .where(Submission.round_id == rnd.id, Submission.state.in_(states))
                               .order_by(Submission.id)).all()
    changes: list[Change] = []
    for start in range(0, len(todo), BATCH):
        batch = todo[start:start + BATCH]
        with materialised(ledger.store, [(sha, name) for _, sha, name in batch]) as paths:
            records = check_many(paths, jobs=jobs, progress=progress, context=context, scheduler=scheduler)
            saved = [saved_time(path.read_bytes()) for path in paths]
        with ledger.session() as session, session.begin():
            lock_round(session, rnd.id)
            view = read_view(session, rnd)  # the roster as it is now, not as an earlier read kept it
            for (sid, _, _), record, when in zip(batch, records, saved, strict=True):
                sub = session.get(Submission, sid)
                if sub is None or sub.state not in states:  # superseded meanwhile: its newer one counts
                    continue
                sub.saved_at = sub.saved_at or when  # recorded before xlperf kept it (migration 0004)
                change = _apply(session, view, sub, record, actor)
                if change is not None:
                    changes.append(change)
    return len(todo), changes


def _apply(session: Session, view: RoundView, sub: Submission, record: CheckedReturn, actor: str) -> Change | None:
    """Record the new check of ``sub`` and re-apply the round's rules to it."""
    old = session.get(Result, sub.result_id) if sub.result_id else None
    before = effective_status(old.status if old else None, sub.decision) if sub.state == CURRENT else HELD_LABEL
    store_result(session, sub, record, actor)
    projects = [p.project for p in projects_of(record) if p.project]
    unit = view.by_name.get(normalise_name(record.unit)) if record.unit else None
    sub.unit_name, sub.form, sub.year = record.unit or "", record.form, record.year
    sub.projects = json.dumps(projects, ensure_ascii=False)
    sub.project_key = "|".join(sorted({normalise_name(p) for p in projects}))
    if unit is not None:
        sub.unit_id = unit.id
    reason = held_reason(view, record, unit, projects)
    if sub.state == HELD and not reason and unit is not None:
        current = list(session.scalars(select(Submission).where(
            Submission.round_id == sub.round_id, Submission.state == CURRENT, Submission.unit_id == unit.id)))
        supersedes, reason = replaced(sub, current, unit.projects)
        if not reason:
            sub.state, sub.reason = CURRENT, ""
            for prior in supersedes:
                prior.state, prior.superseded_by = SUPERSEDED, sub.id
                log_event(session, sub.round_id, "superseded", submission_id=prior.id, actor=actor,
                          note=f"由 #{sub.id} 取代")
    if reason:
        if sub.state == CURRENT:
            log_event(session, sub.round_id, "held", submission_id=sub.id, actor=actor, note=reason)
        sub.state, sub.reason = HELD, reason
    after = effective_status(record.status, sub.decision) if sub.state == CURRENT else HELD_LABEL
    log_event(session, sub.round_id, "revalidated", submission_id=sub.id, actor=actor,
              note=f"{before} → {after}" if before != after else f"仍为{after}")
    if before == after:
        return None
    return Change(sub.id, sub.unit_name, sub.original_name, before, after, reason if sub.state == HELD else "")
