"""``round mail``: tell each unit the outcome of its current returns, and record what was sent.

The reports are rendered from the ledger (values, scores and findings as stored; nothing is
checked again) into a temporary folder, then grouped and composed by :mod:`xlperf.mail` exactly
as ``xlperf mail`` does. A staff decision reaches the unit: a return sent back (退回) carries the
staff's reason as an error, a voided one says so, an accepted one says it was accepted.

A unit is not mailed twice for the same news: a message is known by the digest of what it
reported (each submission, the result it showed and the staff decision) and the address; a
``sent`` reply with that digest is not sent again (unless ``resend``). Each reply is committed
right after the server accepted (or refused) it, so a run that is killed re-sends nothing that
was recorded. ``dry_run`` writes .eml files and records nothing.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings import ACCEPTED, Checked
from xlperf.ledger.codec import checked_from_json
from xlperf.ledger.db import Ledger
from xlperf.ledger.decisions import staff_finding, staff_note
from xlperf.ledger.models import CURRENT, FindingRow, Reply, Result, Round, Submission
from xlperf.ledger.rounds import log_event, roster_of, units_of
from xlperf.mail import (
    DEFAULT_RATE,
    Clock,
    SendAborted,
    SmtpSender,
    SystemClock,
    compose,
    load_reports,
)
from xlperf.mail.config import SmtpConfig
from xlperf.mail.reports import worst_status
from xlperf.mail.run import (
    ALREADY_SENT,
    DONE_SENT,
    DONE_WRITTEN,
    NOT_DUE,
    NOT_SENT,
    SEND_FAILED,
    MailRun,
    UnitResult,
    eml_name,
    group_by_unit,
)
from xlperf.report import write_reports

__all__ = ["checked_of", "round_mail"]


def round_mail(ledger: Ledger, rnd: Round, *, sender: str, smtp: SmtpConfig | None = None,
               dry_run: Path | None = None, only_failed: bool = False, resend: bool = False,
               rate: int = DEFAULT_RATE, clock: Clock | None = None, actor: str = "",
               progress: Callable[[UnitResult], None] | None = None) -> MailRun:
    if (smtp is None) == (dry_run is None):
        raise ValueError("exactly one of smtp and dry_run")
    clock = clock or SystemClock()
    with tempfile.TemporaryDirectory(prefix="xlperf-mail-") as tmp:
        # Read everything first, in a transaction of its own: none is held while mail is sent.
        with ledger.session() as session:
            units = units_of(session, rnd.id)
            digests = _write_reports(session, rnd, Path(tmp))
            sent = set(session.scalars(select(Reply.digest).where(Reply.round_id == rnd.id,
                                                                  Reply.outcome == "sent")))
        roster = roster_of(rnd, units)
        unit_ids = {u.code: u.id for u in units}
        reports, problems = load_reports(Path(tmp))
        groups, unmatched = group_by_unit(reports, roster)
        run = MailRun(unmatched=unmatched, problems=problems)

        def record(result: UnitResult) -> None:
            run.results.append(result)
            if progress is not None:
                progress(result)

        due = []
        for group in groups:
            digest = _digest(group.unit.email, [digests[r.stem] for r in group.reports])
            if only_failed and worst_status(group.reports) == ACCEPTED:
                record(UnitResult(group.unit, group.reports, NOT_DUE))
            elif not resend and digest in sent:
                record(UnitResult(group.unit, group.reports, ALREADY_SENT))
            else:
                due.append((group, digest))
        if dry_run is not None:
            for group, _ in due:
                message = compose(group.unit, group.reports, sender, clock.now())
                dry_run.mkdir(parents=True, exist_ok=True)
                path = dry_run / eml_name(group.unit)
                path.write_bytes(message.as_bytes())
                record(UnitResult(group.unit, group.reports, DONE_WRITTEN, path=path))
            return run
        if not due or smtp is None:
            return run
        with SmtpSender(smtp, rate=rate, clock=clock) as smtp_sender:
            for n, (group, digest) in enumerate(due):
                unit = group.unit
                try:
                    message = compose(unit, group.reports, sender, clock.now())
                except Exception as exc:  # noqa: BLE001 - one unit's message must not stop the others
                    record(UnitResult(unit, group.reports, SEND_FAILED, f"未能生成邮件（{type(exc).__name__}: {exc}）"))
                    continue
                try:
                    result = smtp_sender.send(message)
                except SendAborted as exc:
                    run.aborted = str(exc)
                    for rest, _ in due[n:]:
                        record(UnitResult(rest.unit, rest.reports, NOT_SENT, str(exc)))
                    break
                subs = [digests[r.stem][0] for r in group.reports]
                with ledger.session() as session, session.begin():  # recorded right after the server answered
                    session.add(Reply(round_id=rnd.id, unit_id=unit_ids.get(unit.code), recipient=unit.email,
                                      digest=digest, submissions=json.dumps(subs),
                                      outcome="sent" if result.ok else "failed", subject=str(message["Subject"]),
                                      message_id=str(message["Message-ID"]), error=result.error))
                    for sid in subs:
                        log_event(session, rnd.id, "mailed" if result.ok else "mail_failed", submission_id=sid,
                                  actor=actor, note=f"{unit.email} {result.error}".strip())
                record(UnitResult(unit, group.reports, DONE_SENT if result.ok else SEND_FAILED,
                                  "" if result.ok else result.error))
    return run


def _digest(recipient: str, parts: list[tuple[int, int, str]]) -> str:
    return hashlib.sha256(json.dumps([recipient, sorted(parts)]).encode()).hexdigest()


def _write_reports(session: Session, rnd: Round, folder: Path) -> dict[str, tuple[int, int, str]]:
    """Reports of the current submissions of units in the roster; by report stem, what they showed:
    (submission id, result id, decision and note)."""
    rows = session.execute(
        select(Submission, Result).join(Result, Result.id == Submission.result_id)
        .where(Submission.round_id == rnd.id, Submission.state == CURRENT, Submission.unit_id.is_not(None))
        .order_by(Submission.id)).all()
    taken: set[str] = set()
    shown: dict[str, tuple[int, int, str]] = {}
    for sub, result in rows:
        written = write_reports(checked_of(session, sub, result), folder, taken)
        shown[written["json"].stem] = (sub.id, result.id, f"{sub.decision or ''}:{sub.decision_note}")
    return shown


def checked_of(session: Session, sub: Submission, result: Result) -> Checked:
    """What a report of ``sub`` shows, from the ledger (nothing checked again): the result's
    values, scores and findings, with the staff's decision first (a return's reason as an error)."""
    findings = [f.finding() for f in session.scalars(select(FindingRow).where(FindingRow.result_id == result.id)
                                         .order_by(FindingRow.id))]
    checked = checked_from_json(result.checked_json, file=Path(sub.original_name), form=sub.form,
                                form_version=result.form_version, unit=sub.unit_name or None, year=sub.year,
                                findings=findings)
    staff = staff_finding(sub.decision, sub.decision_note)
    if staff is not None:
        checked.findings.insert(0, staff)
    note = staff_note(sub.decision, sub.decision_note)
    if note is not None:
        checked.notes.insert(0, note)
    return checked
