"""The round's summary workbook from the ledger: nothing is read or checked again.

The records are the ones stored at intake (or at the last revalidation) for the submissions
that count: current, not voided. The ledger already decided which return of a unit and project
counts, so the roll-up's own de-duplication finds nothing to do; 未报送 comes from the round's
roster. A return's time in 清单 is when the ledger received it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, Finding
from xlperf.ledger.codec import record_from_json
from xlperf.ledger.decisions import staff_finding, staff_note
from xlperf.ledger.models import ACCEPT, CURRENT, VOID, FindingRow, Result, Round, Submission
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.rollup import Rollup, build_tables, paragraph, write_summary
from xlperf.rollup.records import ReturnRecord

__all__ = ["round_records", "round_rollup"]


def round_records(session: Session, rnd: Round) -> list[ReturnRecord]:
    """The stored records of the submissions that count in ``rnd`` (submission order)."""
    rows = session.execute(
        select(Submission.id, Submission.original_name, Submission.size, Submission.received_at,
               Result.id, Result.status, Result.form_version, Result.record_json, Submission.form,
               Submission.unit_name, Submission.year)
        .add_columns(Submission.decision, Submission.decision_note)
        .join(Result, Result.id == Submission.result_id)
        .where(Submission.round_id == rnd.id, Submission.state == CURRENT,
               (Submission.decision.is_(None)) | (Submission.decision != VOID))
        .order_by(Submission.id)).all()
    findings: dict[int, list[Finding]] = {}
    result_ids = [r[4] for r in rows]
    for start in range(0, len(result_ids), 900):
        for f in session.scalars(select(FindingRow).where(FindingRow.result_id.in_(result_ids[start:start + 900]))
                                 .order_by(FindingRow.id)):
            findings.setdefault(f.result_id, []).append(f.finding())
    records = []
    for (_sid, name, size, received, rid, status, form_version, record_json, form, unit, year,
         decision, note) in rows:
        mine = findings.get(rid, [])
        staff = staff_finding(decision, note)
        if staff is not None:  # sent back by staff: rejected in the summary too
            mine, status = [staff, *mine], REJECTED
        elif decision == ACCEPT and status == ACCEPTED_WITH_WARNINGS:
            status = ACCEPTED
        records.append(record_from_json(
            record_json, file=Path(name), size=size, mtime_ns=_ns(received), status=status, form=form,
            form_version=form_version, unit=unit or None, year=year,
            findings=tuple(mine), notes=tuple(filter(None, [staff_note(decision, note)]))))
    return records


def round_rollup(session: Session, rnd: Round, output: Path) -> Rollup:
    """Write the summary workbook of ``rnd`` at ``output``."""
    records = round_records(session, rnd)
    roster = roster_of(rnd, units_of(session, rnd.id))
    session.commit()  # end the read here: on SQLite it holds the write lock; writing takes seconds
    tables = build_tables(records, roster, rnd.form)
    text = paragraph(tables)
    write_summary(tables, output, text)
    return Rollup(output, tables, text)


def _ns(when: dt.datetime) -> int:
    return int(when.replace(tzinfo=dt.timezone.utc).timestamp() * 1e9)
