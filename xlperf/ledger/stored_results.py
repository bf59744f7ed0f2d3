"""A stored result as the :class:`xlperf.findings.CheckedReturn` it was recorded from (nothing re-read):
what a report page, the annotated copy and the JSON are rendered from, with the staff's decision
shown as the unit is told it (see :func:`xlperf.ledger.decisions.staff_finding`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings import CheckedReturn
from xlperf.ledger.decisions import staff_finding, staff_note
from xlperf.ledger.models import FindingRow, Result, Submission

__all__ = ["checked_of", "submission_checked"]


def submission_checked(session: Session, sub: Submission, file: Path | None = None) -> CheckedReturn | None:
    """The latest check of ``sub`` (None when it was never checked: a repeat, a non-spreadsheet).

    ``file`` is the path the CheckedReturn names (the original name by default: reports show it)."""
    result = session.get(Result, sub.result_id) if sub.result_id else None
    return None if result is None else checked_of(session, sub, result, file)


def checked_of(session: Session, sub: Submission, result: Result, file: Path | None = None) -> CheckedReturn:
    """What a report of ``sub`` shows, from the ledger (nothing checked again): the result's
    values, scores and findings, with the staff's decision first (a return's reason as an error)."""
    findings = [f.finding() for f in session.scalars(select(FindingRow).where(FindingRow.result_id == result.id)
                                                     .order_by(FindingRow.id))]
    checked = CheckedReturn.from_json(result.checked_json, file=file or Path(sub.original_name), findings=findings,
                                      size=sub.size)
    # The submission's identity as the ledger keeps it (a revalidation rewrites both).
    checked.form, checked.form_version, checked.unit, checked.year = (sub.form, result.form_version,
                                                                      sub.unit_name or None, sub.year)
    staff = staff_finding(sub.decision, sub.decision_note)
    if staff is not None:
        checked.findings.insert(0, staff)
    note = staff_note(sub.decision, sub.decision_note)
    if note is not None:
        checked.notes.insert(0, note)
    return checked
