"""Taking one received message into the ledger: its attachments through :func:`intake_files`
(source ``mail``, the sender's address), the message itself as a :class:`MailMessage` row, and
the replies it is owed, recorded as due in the same transaction (sent afterwards by
:mod:`xlperf.intake.outbox`).

What happens to a message:

- taken before (its Message-ID *and* content digest are in the round): nothing; the caller only
  moves it again (a message that reuses a Message-ID with other content is a new message);
- automatic (an out-of-office reply, a bounce of our own reply, a mailing list): held, its
  attachments kept in the file store only, never answered;
- from an address not in the roster: held the same way, for staff (a report describes a unit's
  budget; it is never mailed to a stranger, and a stranger's file never counts for a unit);
- without an attachment: held;
- otherwise every attachment, and every member of a zip attachment (one nested zip unpacked too;
  :mod:`xlperf.intake.given`), becomes a submission, a zip itself too (a refused zip's row
  says why, and the unit is told); a return of a unit whose roster addresses are not the
  sender's is held for staff (a From address can be forged); a
  report reply per unit whose returns count, and a short note to the sender's unit for files
  received before (repeats), files that are not returns, and returns the ledger held (another
  form or year, a unit or project not in the roster, unsigned...): received, not counted, why.

Restart safety: :func:`intake_files` commits the submissions before the message row is written.
If the watcher dies between the two, the message is taken again: its files are then ``known``
(same content, name, source and sender) and keep their submissions, while a file already
taken by an *earlier message* of the same sender is answered as a repeat.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.intake.archive import MAX_FILES
from xlperf.intake.files import intake_files
from xlperf.intake.mime import ParsedMessage
from xlperf.ledger import Ledger, Outcome
from xlperf.ledger.models import (
    CURRENT,
    HELD,
    IGNORED,
    MAIL_HELD,
    MAIL_TAKEN,
    REPEAT,
    REPLY_DUE,
    MailMessage,
    Reply,
    Round,
    Submission,
    Unit,
)
from xlperf.ledger.receive import KNOWN
from xlperf.ledger.rounds import log_event, roster_unit
from xlperf.read.roster import Roster
from xlperf.workers.pool import WorkerPool

__all__ = ["NOTICE", "REPORT", "MailIntake", "take_message"]

REPORT = "report"
"""Reply kind: the reports of the returns a message brought, for one unit."""
NOTICE = "notice"
"""Reply kind: a short note on files received before, not returns, or held (not counted)."""


@dataclass
class MailIntake:
    """What taking one message did: its row, its state and why, what its files became, and the
    replies recorded as due."""

    mail_id: int
    state: str
    reason: str = ""
    outcomes: list[Outcome] = field(default_factory=list)
    replies: list[int] = field(default_factory=list)
    new: bool = True
    """False when the message had been taken before (only its move was left to do)."""


def take_message(ledger: Ledger, rnd: Round, roster: Roster, parsed: ParsedMessage, *, reply: bool = True,
                 too_large: str = "", actor: str = "", now: dt.datetime | None = None,
                 pool: WorkerPool | None = None) -> MailIntake:
    """Record ``parsed`` (and what it brought) in round ``rnd``; ``too_large``: why only its
    header was read. ``reply``: record the replies it is owed as due. ``pool``: the checking
    workers (the watcher's, started by a fork server)."""
    with ledger.session() as session:
        # Known by Message-ID and content: a sender may reuse a Message-ID (a client's bug, a
        # forger) for another message, which is taken as new; the very same message is not.
        before = session.scalar(select(MailMessage).where(MailMessage.round_id == rnd.id,
                                                          MailMessage.message_id == parsed.message_id,
                                                          MailMessage.digest == parsed.digest))
        if before is not None:
            return MailIntake(before.id, before.state, before.reason, new=False)
        units = {u.code: u for u in session.scalars(select(Unit).where(Unit.round_id == rnd.id))}
    senders = roster.units_for_address(parsed.sender) if parsed.sender else ()
    held = _held_reason(parsed, bool(senders), too_large)
    problems = [] if too_large else list(parsed.problems)  # only the header was read
    files: list[dict[str, object]] = []
    outcomes: list[Outcome] = []
    archives: set[int] = set()
    """Submissions of zips that were unpacked: their members are what the unit is told about."""
    if held:
        for attachment in parsed.attachments:  # kept whatever happens next: nothing is lost
            files.append({"name": attachment.name, "sha256": ledger.store.put(attachment.data),
                          "size": len(attachment.data)})
    else:
        sender_units = frozenset(units[u.code].id for u in senders if u.code in units)
        intake = intake_files(ledger, rnd, [(a.name, a.data) for a in parsed.attachments], source="mail",
                              sender=parsed.sender, actor=actor, cap=MAX_FILES, sender_units=sender_units,
                              pool=pool, sent=_utc(parsed.date))
        outcomes = intake.outcomes
        for outcome, got in zip(intake.outcomes, intake.files, strict=True):
            entry: dict[str, object] = {"name": got.name, "sha256": got.sha256, "size": got.size}
            if got.within:
                entry.update({"in": got.within, "path": got.path})
            if got.archive and outcome.submission_id is not None:
                archives.add(outcome.submission_id)
            files.append(entry)
        problems += intake.notes
    sender_unit = units.get(senders[0].code) if senders else None
    with ledger.session() as session, session.begin():
        mail = MailMessage(
            round_id=rnd.id, message_id=parsed.message_id, digest=parsed.digest, sender=parsed.sender,
            sender_name=parsed.sender_name, subject=parsed.subject, thread=" ".join(parsed.thread),
            sent_at=_utc(parsed.date), state=MAIL_HELD if held else MAIL_TAKEN,
            reason="；".join([held] * bool(held) + problems),
            unit_id=sender_unit.id if sender_unit else None,
            submissions=json.dumps([o.submission_id for o in outcomes if o.submission_id is not None]),
            files=json.dumps(files, ensure_ascii=False))
        if now is not None:
            mail.received_at = _utc(now) or mail.received_at
        session.add(mail)
        session.flush()
        log_event(session, rnd.id, "mail_held" if held else "mail_taken", actor=actor,
                  note=f"{parsed.message_id} {parsed.sender}：{held or f'{len(outcomes)} 个文件'}")
        replies = []
        if reply and not held and sender_unit is not None:
            replies = _due_replies(session, rnd, mail, outcomes, units, sender_unit, archives)
        return MailIntake(mail.id, mail.state, mail.reason, outcomes, replies)


def _held_reason(parsed: ParsedMessage, known: bool, too_large: str) -> str:
    if too_large:
        return too_large
    if parsed.automatic:
        return "自动回复、退信或群发邮件，附件已存档，未登记审核，不回复"
    if not parsed.sender:
        return "无法识别发件人地址，附件已存档，未登记审核"
    if not known:
        return f"发件人 {parsed.sender} 不在单位名单中：附件已存档，未登记审核，未回复；请核对后处理"
    if not parsed.attachments:
        return "邮件没有附件"
    return ""


def _due_replies(session: Session, rnd: Round, mail: MailMessage, outcomes: Sequence[Outcome],
                 units: dict[str, Unit], sender_unit: Unit, archives: set[int]) -> list[int]:
    """Reply rows (due) for ``mail``: one report per unit with counted returns, one notice.
    A zip that was unpacked is not in the notice (its members are); one that was refused is,
    so a roster unit is always answered."""
    ids = [o.submission_id for o in outcomes if o.submission_id is not None]
    subs = {s.id: s for s in session.scalars(select(Submission).where(Submission.id.in_(ids)))}
    earlier = _taken_by_earlier(session, rnd.id, mail)
    by_unit: dict[int, list[int]] = {}
    notice: list[int] = []
    for outcome in outcomes:
        sub = subs.get(outcome.submission_id or -1)
        if sub is None or sub.id in archives:
            continue
        repeat = outcome.kind == REPEAT or (outcome.kind == KNOWN and sub.id in earlier)
        if repeat or sub.state in (IGNORED, REPEAT, HELD) or sub.result_id is None:
            # A held return was not counted: the sender's unit is told so and why, never sent a
            # report whose 【通过】 would read as accepted (nor the unit the file names).
            notice.append(sub.id)
        elif sub.state == CURRENT or outcome.kind == KNOWN:
            by_unit.setdefault(sub.unit_id or sender_unit.id, []).append(sub.id)
    by_id = {u.id: u for u in units.values()}
    rows = []
    for unit_id, sub_ids in by_unit.items():
        rows.append(_reply_row(rnd, mail, by_id.get(unit_id, sender_unit), REPORT, sub_ids))
    if notice:
        rows.append(_reply_row(rnd, mail, sender_unit, NOTICE, notice))
    session.add_all(rows)
    session.flush()
    return [r.id for r in rows]


def _reply_row(rnd: Round, mail: MailMessage, unit: Unit, kind: str, sub_ids: list[int]) -> Reply:
    addresses = [mail.sender] + [a for a in roster_unit(unit).addresses if a.casefold() != mail.sender.casefold()]
    return Reply(round_id=rnd.id, unit_id=unit.id, recipient=", ".join(addresses), kind=kind, mail_id=mail.id,
                 digest=f"mail:{mail.id}:{kind}:{unit.id}", submissions=json.dumps(sub_ids), outcome=REPLY_DUE)


def _taken_by_earlier(session: Session, round_id: int, mail: MailMessage) -> set[int]:
    """Submissions that earlier messages of the same sender brought."""
    lists = session.scalars(select(MailMessage.submissions).where(
        MailMessage.round_id == round_id, MailMessage.sender == mail.sender, MailMessage.id != mail.id))
    return {sid for text in lists for sid in json.loads(text or "[]")}


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """Naive UTC, as the ledger keeps times."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value
