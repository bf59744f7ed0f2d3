"""One submission's check as a :class:`xlperf.findings.Checked`, as recorded (nothing re-read):
what a report page, the annotated copy and the JSON are rendered from, with the staff's decision
shown as the unit is told it (see :func:`xlperf.ledger.decisions.staff_finding`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings import Checked
from xlperf.ledger.codec import checked_from_json
from xlperf.ledger.decisions import staff_finding, staff_note
from xlperf.ledger.models import FindingRow, Result, Submission

__all__ = ["submission_checked"]


def submission_checked(session: Session, sub: Submission, file: Path | None = None) -> Checked | None:
    """The latest check of ``sub`` (None when it was never checked: a repeat, a non-spreadsheet).

    ``file`` is the path the Checked names (the original name by default: reports show it)."""
    result = session.get(Result, sub.result_id) if sub.result_id else None
    if result is None:
        return None
    findings = [f.finding() for f in session.scalars(select(FindingRow).where(FindingRow.result_id == result.id)
                                                     .order_by(FindingRow.id))]
    checked = checked_from_json(result.checked_json, file=file or Path(sub.original_name), form=sub.form,
                                form_version=result.form_version, unit=sub.unit_name or None, year=sub.year,
                                findings=findings)
    staff = staff_finding(sub.decision, sub.decision_note)
    if staff is not None:
        checked.findings.insert(0, staff)
    note = staff_note(sub.decision, sub.decision_note)
    if note is not None:
        checked.notes.insert(0, note)
    return checked
