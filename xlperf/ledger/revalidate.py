"""Re-check every current submission of a round after a form or rule change.

Each stored file is checked again from the file store (under its original name), a new result
is recorded (the old one stays), and an event says what changed. Returns whose status label
changed are listed. Staff decisions stay: a return that staff returned or voided stays so; an
acceptance despite warnings no longer holds if the return now has errors (see
:func:`xlperf.ledger.status.effective_status`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from xlperf.ledger.checking import check_many, materialised, round_check
from xlperf.ledger.db import Ledger
from xlperf.ledger.models import CURRENT, Result, Round, Submission
from xlperf.ledger.receive import store_result
from xlperf.ledger.rounds import log_event
from xlperf.ledger.status import effective_status
from xlperf.rollup.collect import Progress

__all__ = ["Change", "revalidate"]

BATCH = 200


@dataclass(frozen=True)
class Change:
    submission: int
    unit: str
    file: str
    old: str
    new: str

    def line(self) -> str:
        return f"#{self.submission}  {self.unit}  {self.file}：{self.old} → {self.new}"


def revalidate(ledger: Ledger, rnd: Round, actor: str = "", jobs: int | None = None,
               progress: Progress | None = None, scheduler: Any = None) -> tuple[int, list[Change]]:
    """(submissions re-checked, those whose status changed); ``scheduler``: on a Dask cluster
    (see :func:`xlperf.ledger.checking.check_many`)."""
    with ledger.session() as session:
        work = round_check(session, rnd)
        todo = session.execute(select(Submission.id, Submission.sha256, Submission.original_name)
                               .where(Submission.round_id == rnd.id, Submission.state == CURRENT)
                               .order_by(Submission.id)).all()
    changes: list[Change] = []
    for start in range(0, len(todo), BATCH):
        batch = todo[start:start + BATCH]
        with materialised(ledger.store, [(sha, name) for _, sha, name in batch]) as paths:
            records = check_many(paths, jobs=jobs, progress=progress, work=work, scheduler=scheduler)
        with ledger.session() as session, session.begin():
            for (sid, _, _), record in zip(batch, records, strict=True):
                sub = session.get(Submission, sid)
                if sub is None or sub.state != CURRENT:  # superseded meanwhile: its newer one counts
                    continue
                old = session.get(Result, sub.result_id) if sub.result_id else None
                before = effective_status(old.status if old else None, sub.decision)
                store_result(session, sub, record, actor)
                after = effective_status(record.status, sub.decision)
                log_event(session, rnd.id, "revalidated", submission_id=sid, actor=actor,
                          note=f"{before} → {after}" if before != after else f"仍为{after}")
                if before != after:
                    changes.append(Change(sid, sub.unit_name, sub.original_name, before, after))
    return len(todo), changes
