"""Sending the replies that :mod:`xlperf.intake.mailtake` recorded as due.

Each reply is composed from the ledger when it is sent (the reports rendered in memory from the
stored results; nothing is checked again, nothing written to disk) and sent by the one send loop
(:func:`xlperf.mail.outgo.send_all`) with the ledger's recorder
(:class:`xlperf.ledger.sendclaims.LedgerRecorder`): the reply's row is claimed (due or failed →
claimed, one watcher only), marked ``sending`` when the SMTP transaction starts (after the
rate-limit wait), then ``sent``, ``failed`` or ``uncertain``. A failed reply is tried again on
the next pass, up to :data:`MAX_TRIES` passes. One handed over without an answer, or found
``sending`` when the watcher starts (it was in flight when the watcher died), is ``uncertain``
and never sent again automatically (a unit that gets its report twice would rightly ask which
one counts); staff see it on the desk and confirm it or resend it. A reply found ``claimed``
when the watcher starts never reached the server: it is due again.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from xlperf.intake.mailtake import NOTICE, REPORT
from xlperf.intake.replies import Repeat, notice_reply, report_reply
from xlperf.ledger import Ledger
from xlperf.ledger.models import (
    HELD,
    MAIL_HELD,
    REPLY_CLAIMED,
    REPLY_DUE,
    REPLY_FAILED,
    REPLY_SENDING,
    REPLY_UNCERTAIN,
    MailMessage,
    Reply,
    Result,
    Round,
    Submission,
    Unit,
)
from xlperf.ledger.roundform import round_pinned
from xlperf.ledger.rounds import roster_unit
from xlperf.ledger.sendclaims import ClaimFacts, LedgerRecorder
from xlperf.ledger.stored_results import checked_of
from xlperf.mail import SmtpSender
from xlperf.mail.message import addressees, header_text
from xlperf.mail.outgo import NOT_SENT, SEND_LABELS, SENT, Outcome, Outgoing, send_all
from xlperf.mail.reports import Report
from xlperf.mail.send import UNCERTAIN_NOTE
from xlperf.report import render_reports, unique_stem

__all__ = ["MAX_TRIES", "MessageRow", "ReplySent", "mark_uncertain", "message_rows", "send_due"]

MAX_TRIES = 5
"""Passes that try a failing reply; then it stays failed for staff."""


@dataclass(frozen=True)
class ReplySent:
    reply_id: int
    ok: bool
    to: str
    subject: str
    error: str = ""
    aborted: bool = False
    """The SMTP server could not be used at all: nothing more is sent this pass."""
    action: str = ""

    def line(self) -> str:
        if self.ok:
            return f"{SEND_LABELS[SENT]}回复 {self.to}：{self.subject}"
        if self.action in SEND_LABELS and self.action != NOT_SENT:
            return f"回复 {self.to} {SEND_LABELS[self.action]}（{self.error}）"
        return f"回复 {self.to} 失败（{self.error}），下一轮重试"


@dataclass(frozen=True)
class _Thread:
    """What the ledger kept of the message answered (replies.Original)."""

    sender: str
    sender_name: str
    message_id: str
    thread: tuple[str, ...]


def mark_uncertain(ledger: Ledger, rnd: Round) -> int:
    """Replies left by a watcher that died: ``sending`` ones (maybe received) become uncertain and
    are never sent again automatically; ``claimed`` ones never reached the server and are due
    again. Returns how many became uncertain."""
    with ledger.session() as session, session.begin():
        session.execute(update(Reply).where(Reply.round_id == rnd.id, Reply.mail_id.is_not(None),
                                            Reply.outcome == REPLY_CLAIMED).values(outcome=REPLY_DUE))
        result = session.execute(update(Reply).where(Reply.round_id == rnd.id, Reply.outcome == REPLY_SENDING)
                                 .values(outcome=REPLY_UNCERTAIN, error="发送时程序中断。" + UNCERTAIN_NOTE))
        return int(getattr(result, "rowcount", 0) or 0)


def send_due(ledger: Ledger, rnd: Round, smtp: SmtpSender, sender: str, now: Callable[[], dt.datetime], *,
             actor: str = "", mail_ids: set[int] | None = None) -> list[ReplySent]:
    """Send every due (or failed, fewer than MAX_TRIES times) reply of ``rnd``, oldest first; only
    those answering ``mail_ids`` when given. Stops at SendAborted (the server cannot be used:
    the rest wait for the next pass)."""
    done: list[ReplySent] = []
    outgoing: list[Outgoing] = []
    facts: dict[str, ClaimFacts] = {}
    with ledger.session() as session:
        query = select(Reply).where(Reply.round_id == rnd.id, Reply.mail_id.is_not(None),
                                    Reply.outcome.in_((REPLY_DUE, REPLY_FAILED)), Reply.tries < MAX_TRIES)
        if mail_ids is not None:
            query = query.where(Reply.mail_id.in_(mail_ids))
        due = list(session.scalars(query.order_by(Reply.id)))
        for reply in due:
            key = f"reply:{reply.id}"
            facts[key] = ClaimFacts(reply.unit_id, json.loads(reply.submissions or "[]"), reply_id=reply.id,
                                    max_tries=MAX_TRIES)
            try:
                to = _recipients(session, reply)
            except Exception as exc:  # noqa: BLE001 - one reply that cannot be addressed must not stop the others
                to = tuple(a.strip() for a in reply.recipient.split(",") if a.strip())
                error = f"未能生成回复（{type(exc).__name__}: {header_text(str(exc), 200)}）"
                outgoing.append(Outgoing(key, to, functools.partial(_refuse, error), item=reply.id,
                                         label=reply.recipient))
                continue
            outgoing.append(Outgoing(key, to, functools.partial(_build, ledger, reply.id, sender, now),
                                     item=reply.id, label=", ".join(to)))
    recorder = LedgerRecorder(ledger, rnd.id, "", facts, actor=actor)

    def progress(outcome: Outcome) -> None:
        if outcome.action == NOT_SENT and any(d.aborted for d in done):
            return
        message = outcome.message
        subject = str(message["Subject"]) if message is not None else ""
        if outcome.action in (SENT, NOT_SENT) or message is not None or outcome.detail:
            done.append(ReplySent(outcome.outgoing.item, outcome.action == SENT, outcome.outgoing.label, subject,
                                  outcome.detail, aborted=outcome.action == NOT_SENT, action=outcome.action))

    send_all(outgoing, smtp, recorder, progress)
    return done


def _refuse(error: str) -> EmailMessage:
    raise ValueError(error)


def _recipients(session: Session, reply: Reply) -> tuple[str, ...]:
    mail = session.get(MailMessage, reply.mail_id)
    unit = session.get(Unit, reply.unit_id)
    if mail is None or unit is None:
        raise ValueError("回复对应的邮件或单位已不在台账中")
    to, cc = addressees(roster_unit(unit), _original(mail))
    return tuple(a.addr_spec for a in [*to, *cc])


def _original(mail: MailMessage) -> _Thread:
    return _Thread(mail.sender, mail.sender_name, mail.message_id, tuple(mail.thread.split()))


def _build(ledger: Ledger, reply_id: int, sender: str, now: Callable[[], dt.datetime]) -> EmailMessage:
    with ledger.session() as session:
        reply = session.get(Reply, reply_id)
        assert reply is not None
        return _compose(session, reply, sender, now())


def _compose(session: Session, reply: Reply, sender: str, now: dt.datetime) -> EmailMessage:
    mail = session.get(MailMessage, reply.mail_id)
    unit = session.get(Unit, reply.unit_id)
    if mail is None or unit is None:
        raise ValueError("回复对应的邮件或单位已不在台账中")
    original = _original(mail)
    roster = roster_unit(unit)
    sub_ids = json.loads(reply.submissions or "[]")
    subs = list(session.scalars(select(Submission).where(Submission.id.in_(sub_ids)).order_by(Submission.id)))
    if reply.kind == NOTICE:
        repeats, ignored, held = [], [], []
        for sub in subs:
            if sub.state == HELD:
                held.append((sub.original_name, sub.reason))
                continue
            first = session.get(Submission, sub.repeat_of) if sub.repeat_of else None
            if first is None and sub.reason:
                ignored.append((sub.original_name, sub.reason))
                continue
            first = first or sub
            received = first.received_at.replace(tzinfo=dt.timezone.utc)
            repeats.append(Repeat(sub.original_name, first.original_name, received))
        return notice_reply(roster, repeats, ignored, original, sender, now, held=held)
    if reply.kind != REPORT:
        raise ValueError(f"未知的回复类型 {reply.kind}")
    taken: set[str] = set()
    reports: list[Report] = []
    for sub in subs:
        result = session.get(Result, sub.result_id) if sub.result_id else None
        if result is None:
            continue
        checked = checked_of(session, sub, result)
        rnd = session.get(Round, sub.round_id)
        with round_pinned(rnd) if rnd is not None else nullcontext():  # the round's own spec
            reports.append(Report.of(render_reports(checked, unique_stem(checked.file, taken))))
    if not reports:
        raise ValueError("没有可回复的审核结果")
    return report_reply(roster, reports, original, sender, now)


@dataclass(frozen=True)
class MessageRow:
    """One received message as staff see it: what came, what became of it, what was answered."""

    mail: MailMessage
    replies: tuple[Reply, ...]

    def line(self) -> str:
        mail = self.mail
        when = mail.received_at.replace(tzinfo=dt.timezone.utc).astimezone().strftime("%m-%d %H:%M")
        state = "暂存待处理" if mail.state == MAIL_HELD else "已登记"
        head = f"#{mail.id} {when} {mail.sender or '（无发件人）'}「{mail.subject or '（无主题）'}」{state}"
        names = "、".join(str(f.get("name")) for f in json.loads(mail.files or "[]"))
        parts = [head + (f"：{names}" if names else "")]
        if mail.reason:
            parts.append(f"    {mail.reason}")
        for reply in self.replies:
            shown = SEND_LABELS.get(reply.outcome, reply.outcome)
            parts.append(f"    {shown} {reply.recipient}：{reply.subject}" + (f"（{reply.error}）" if reply.error else ""))
        return "\n".join(parts)


def message_rows(ledger: Ledger, rnd: Round, *, held_only: bool = False) -> list[MessageRow]:
    """The messages of ``rnd`` taken from the mailbox, oldest first, with their replies."""
    with ledger.session() as session:
        query = select(MailMessage).where(MailMessage.round_id == rnd.id)
        if held_only:
            query = query.where(MailMessage.state == MAIL_HELD)
        mails = list(session.scalars(query.order_by(MailMessage.id)))
        replies: dict[int, list[Reply]] = {}
        for reply in session.scalars(select(Reply).where(Reply.round_id == rnd.id, Reply.mail_id.is_not(None))
                                     .order_by(Reply.id)):
            replies.setdefault(reply.mail_id or 0, []).append(reply)
    return [MessageRow(m, tuple(replies.get(m.id, ()))) for m in mails]
