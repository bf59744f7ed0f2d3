"""The round's summary workbook from the ledger: nothing is read or checked again.

The records are the ones stored at intake (or at the last revalidation) of the current returns
(:func:`xlperf.ledger.current.current_returns`, the query the status reads), voided ones left
out. The ledger already decided which return of a unit and project counts, so the roll-up's own
de-duplication finds nothing to do. A return that is 退回 (by the checks or by staff) is listed
in 清单, 问题清单 and 未报送 but never enters 汇总, 指标 or 统计
(:func:`xlperf.ledger.current.rolled_up`); 未报送 comes from the round's roster. A return's time
in 清单 is when the ledger received it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, CheckedReturn, Finding
from xlperf.ledger.current import current_returns, rolled_up
from xlperf.ledger.decisions import staff_finding, staff_note
from xlperf.ledger.models import ACCEPT, VOID, FindingRow, Result, Round, Submission
from xlperf.ledger.roundform import round_spec
from xlperf.ledger.rounds import previous_round, roster_of, units_of
from xlperf.rollup import Rollup, build_tables, paragraph, write_summary
from xlperf.rollup.results import Past, ProjectIndex, add_last_year, past_index

__all__ = ["Steps", "last_year", "round_records", "round_rollup"]

Steps = Callable[[int, int], None]
"""Called with (steps done, steps in all) while a summary is built: one step a return, then
one for the tables and one for writing the workbook (the longest single step)."""
REPORT_EVERY = 200


def round_records(session: Session, rnd: Round, progress: Steps | None = None,
                  extra_steps: int = 0, *, project: str = "", values: bool = False) -> list[CheckedReturn]:
    """The stored records of the submissions that count in ``rnd`` (submission order);
    ``progress`` hears of them every few hundred, out of their number plus ``extra_steps``.
    ``project`` (normalised): only returns that name it (and a few more, whose names contain it):
    one project's years read a handful of rows, not every round whole. ``values``: with each
    return's values and scores (prefilling from them), not only its summary."""
    query = current_returns(rnd.id)
    if project:
        query = query.where(Submission.project_key.contains(project, autoescape=True))
    rows = [(sid, name, size, received, rid, status, form_version, checked_json, form, unit, year, decision, note)
            for (sid, _unit, _key, received, decision, note, status, _total, _grade, name, size, rid, form_version,
                 checked_json, form, unit, year) in session.execute(query.add_columns(
                     Submission.original_name, Submission.size, Result.id, Result.form_version, Result.checked_json,
                     Submission.form, Submission.unit_name, Submission.year))
            if rid is not None and decision != VOID]
    findings: dict[int, list[Finding]] = {}
    result_ids = [r[4] for r in rows]
    for start in range(0, len(result_ids), 900):
        for f in session.scalars(select(FindingRow).where(FindingRow.result_id.in_(result_ids[start:start + 900]))
                                 .order_by(FindingRow.id)):
            findings.setdefault(f.result_id, []).append(f.finding())
    records: list[CheckedReturn] = []
    steps = len(rows) + extra_steps
    for (_sid, name, size, received, rid, status, form_version, checked_json, form, unit, year,
         decision, note) in rows:
        mine = findings.get(rid, [])
        staff = staff_finding(decision, note)
        if staff is not None:  # sent back by staff: its finding goes with it
            mine = [staff, *mine]
        if not rolled_up(status, decision):  # 退回: listed, never in the totals (build_tables)
            status = REJECTED
        elif decision == ACCEPT and status == ACCEPTED_WITH_WARNINGS:
            status = ACCEPTED
        record = CheckedReturn.from_json(checked_json, file=Path(name), findings=mine, size=size,
                                         mtime_ns=_ns(received), summary_only=not values)
        # What the ledger knows better than the stored check: the submission's identity (staff
        # may correct it), the staff's decision and its note.
        record.form, record.form_version, record.unit, record.year = form, form_version, unit or None, year
        record.decided, record.notes = status, list(filter(None, [staff_note(decision, note)]))
        records.append(record)
        if progress is not None and len(records) % REPORT_EVERY == 0:
            progress(len(records), steps)
    if progress is not None:
        progress(len(records), steps)
    return records


def round_rollup(session: Session, rnd: Round, output: Path, progress: Steps | None = None) -> Rollup:
    """Write the summary workbook of ``rnd`` at ``output``, telling ``progress`` how far it is."""
    records = round_records(session, rnd, progress, extra_steps=2)
    report = progress or (lambda done, steps: None)
    steps = len(records) + 2
    roster = roster_of(rnd, units_of(session, rnd.id))
    previous = last_year(session, rnd)
    session.commit()  # end the read here: on SQLite it holds the write lock; writing takes seconds
    tables = build_tables(records, roster, rnd.form, count_rejected=False)
    if previous is not None:  # a scored form with last year's round: its score and grade beside this year's
        tables.projects = add_last_year(tables.projects, previous[1])
    report(steps - 1, steps)
    text = paragraph(tables)
    write_summary(tables, output, text)
    report(steps, steps)
    return Rollup(output, tables, text)


def last_year(session: Session, rnd: Round) -> tuple[Round, ProjectIndex[Past]] | None:
    """Last year's round of ``rnd`` (:func:`xlperf.ledger.rounds.previous_round`) and its counted
    projects, when the round's form is scored (has a scorecard) and there is one."""
    spec = round_spec(rnd)
    if spec is None or not any(spec.scorecards()):
        return None
    previous = previous_round(session, rnd)
    if previous is None:
        return None
    records = round_records(session, previous)
    roster = roster_of(previous, units_of(session, previous.id))
    return previous, past_index(records, roster, previous.year, previous.name)


def _ns(when: dt.datetime) -> int:
    return int(when.replace(tzinfo=dt.timezone.utc).timestamp() * 1e9)
