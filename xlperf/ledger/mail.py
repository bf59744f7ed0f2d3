"""``round mail``: tell each unit the outcome of its current returns, and record what was sent.

The reports are rendered from the ledger in memory (values, scores and findings as stored;
nothing is checked again, nothing written to disk), then grouped and composed by
:mod:`xlperf.mail` exactly as ``xlperf mail`` does, and sent by the one send loop
(:func:`xlperf.mail.outgo.send_all`) with the ledger's recorder
(:class:`xlperf.ledger.sendclaims.LedgerRecorder`). A staff decision reaches the unit: a return
sent back (退回) carries the staff's reason as an error, a voided one says so, an accepted one
says it was accepted.

A unit is not mailed twice for the same news: a message is known by its send key (exactly the
addresses it goes to, each submission, the result it showed and the staff decision); its row in
``replies`` is claimed before it is built, so two runs at once (two ``round mail``, the desk's
发送 pressed twice) send it once. Each reply is committed right after the server accepted (or
refused) it; one handed over without an answer is uncertain and not sent again unless
``resend``. ``dry_run`` writes .eml files and records nothing. One unit's data that cannot be
rendered or composed is that unit's failure, listed; the others are mailed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings import ACCEPTED
from xlperf.ledger.db import Ledger
from xlperf.ledger.models import CURRENT, Result, Round, Submission
from xlperf.ledger.roundform import round_pinned
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.ledger.sendclaims import ClaimFacts, LedgerRecorder
from xlperf.ledger.stored_results import checked_of
from xlperf.mail import DEFAULT_RATE, Clock, SmtpSender, SystemClock
from xlperf.mail.config import SmtpConfig
from xlperf.mail.message import header_text
from xlperf.mail.outgo import FAILED, NOT_DUE, Outgoing, send_all, write_all
from xlperf.mail.reports import Report, worst_status
from xlperf.mail.run import MailRun, UnitResult, eml_name, group_by_unit, unit_message
from xlperf.report import render_reports, unique_stem

__all__ = ["round_mail"]

Shown = tuple[int, int, str]
"""What a report showed: (submission id, result id, decision and note)."""


def round_mail(ledger: Ledger, rnd: Round, *, sender: str, smtp: SmtpConfig | None = None,
               dry_run: Path | None = None, only_failed: bool = False, resend: bool = False,
               rate: int = DEFAULT_RATE, clock: Clock | None = None, actor: str = "",
               progress: Callable[[UnitResult], None] | None = None, preview: bool = False) -> MailRun:
    """Mail each unit of ``rnd`` the outcome of its current returns: through ``smtp``; or, with
    ``dry_run``, as .eml files in that folder; or, with ``preview``, built in memory only (each
    result's ``message``). A dry run and a preview send and record nothing."""
    if sum((smtp is not None, dry_run is not None, preview)) != 1:
        raise ValueError("exactly one of smtp, dry_run and preview")
    clock = clock or SystemClock()
    # Read everything first, in a transaction of its own: none is held while mail is sent.
    with ledger.session() as session:
        units = units_of(session, rnd.id)
        codes = {u.id: u.code for u in units}
        reports, broken = _reports(session, rnd, codes)
    roster = roster_of(rnd, units)
    unit_ids = {u.code: u.id for u in units}
    groups, unmatched = group_by_unit([r for r, _ in reports], roster)
    shown_of = {id(r): shown for r, shown in reports}
    run = MailRun(unmatched=unmatched)

    def record(result: UnitResult) -> None:
        run.results.append(result)
        if progress is not None:
            progress(result)

    due: list[Outgoing] = []
    facts: dict[str, ClaimFacts] = {}
    for group in groups:
        unit = group.unit
        if unit.code in broken:
            record(UnitResult(unit, group.reports, FAILED, broken[unit.code]))
            continue
        if only_failed and worst_status(group.reports) == ACCEPTED:
            record(UnitResult(unit, group.reports, NOT_DUE))
            continue
        parts = sorted(shown_of[id(r)] for r in group.reports)
        out = unit_message(group, sender, clock, kind="round", shown=[unit.code, parts])
        facts[out.key] = ClaimFacts(unit_ids.get(unit.code), [sid for sid, _, _ in parts],
                                    legacy_digest=_legacy_digest(unit.email, parts))
        due.append(out)
    grouped = {g.unit.code for g in groups}
    for unit in roster.units:
        if unit.code in broken and unit.code not in grouped:
            record(UnitResult(unit, [], FAILED, broken[unit.code]))
    recorder = LedgerRecorder(ledger, rnd.id, "", facts, actor=actor, resend=resend,
                              now=lambda: _utc(clock))
    if dry_run is not None or preview:
        shown: list[Outgoing] = []
        for out in due:
            refusal = recorder.peek(out)
            if refusal is not None:
                record(UnitResult.of_refusal(out, refusal))
            else:
                shown.append(out)
        write_all(shown, dry_run, lambda out: eml_name(out.item.unit), lambda o: record(UnitResult.of(o)))
        return run
    if due and smtp is not None:
        with SmtpSender(smtp, rate=rate, clock=clock) as smtp_sender:
            sent = send_all(due, smtp_sender, recorder, lambda o: record(UnitResult.of(o)))
        run.aborted = sent.aborted
    return run


def _legacy_digest(recipient: str, parts: list[Shown]) -> str:
    """The digest ``round mail`` recorded before messages were claimed by their send key."""
    return hashlib.sha256(json.dumps([recipient, sorted(parts)]).encode()).hexdigest()


def _utc(clock: Clock) -> dt.datetime:
    now = clock.now()
    return now.astimezone(dt.timezone.utc).replace(tzinfo=None) if now.tzinfo else now


def _reports(session: Session, rnd: Round, codes: dict[int, str]) -> tuple[list[tuple[Report, Shown]], dict[str, str]]:
    """Reports of the current submissions of units in the roster, rendered in memory, with what
    they showed; and, by unit code, why a unit's reports could not be rendered."""
    rows = session.execute(
        select(Submission, Result).join(Result, Result.id == Submission.result_id)
        .where(Submission.round_id == rnd.id, Submission.state == CURRENT, Submission.unit_id.is_not(None))
        .order_by(Submission.id)).all()
    taken: set[str] = set()
    reports: list[tuple[Report, Shown]] = []
    broken: dict[str, str] = {}
    for sub, result in rows:
        try:
            checked = checked_of(session, sub, result)
            with round_pinned(rnd):  # the round's own spec
                report = Report.of(render_reports(checked, unique_stem(checked.file, taken)))
        except Exception as exc:  # noqa: BLE001 - one return's stored result must not stop the others' mail
            broken[codes.get(sub.unit_id or 0, "")] = (f"报表“{header_text(sub.original_name, 60)}”的审核报告无法生成"
                            f"（{type(exc).__name__}: {header_text(str(exc), 200)}）")
            continue
        reports.append((report, (sub.id, result.id, f"{sub.decision or ''}:{sub.decision_note}")))
    return reports, broken
