"""Sending the replies that :mod:`xlperf.intake.mailtake` recorded as due.

Each reply is composed from the ledger when it is sent (the reports from the stored results;
nothing is checked again), marked ``sending`` with its Message-ID and committed, then handed to
the SMTP server (:class:`xlperf.mail.SmtpSender`: its rate limit and retries), then marked
``sent`` or ``failed`` and committed. A failed reply is tried again on the next pass, up to
:data:`MAX_TRIES` passes. A reply found ``sending`` when the watcher starts was in flight when it
died: the server may have accepted it, so it becomes ``uncertain`` and is never sent again (a
unit that gets its report twice would rightly ask which one counts); staff see it listed.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from xlperf.intake.mailtake import NOTICE, REPORT
from xlperf.intake.replies import Repeat, notice_reply, recipients, report_reply
from xlperf.ledger import Ledger
from xlperf.ledger.checked import checked_of
from xlperf.ledger.models import (
    HELD,
    MAIL_HELD,
    REPLY_DUE,
    REPLY_FAILED,
    REPLY_SENDING,
    REPLY_SENT,
    REPLY_UNCERTAIN,
    MailMessage,
    Reply,
    Result,
    Round,
    Submission,
    Unit,
)
from xlperf.ledger.rounds import log_event, roster_unit
from xlperf.mail import SendAborted, SmtpSender, load_reports
from xlperf.report import write_reports

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

    def line(self) -> str:
        if self.ok:
            return f"已回复 {self.to}：{self.subject}"
        return f"回复 {self.to} 失败（{self.error}），下一轮重试"


@dataclass(frozen=True)
class _Thread:
    """What the ledger kept of the message answered (replies.Original)."""

    sender: str
    sender_name: str
    message_id: str
    thread: tuple[str, ...]


def mark_uncertain(ledger: Ledger, rnd: Round) -> int:
    """Replies left ``sending`` by a watcher that died: never sent again. Returns how many."""
    with ledger.session() as session, session.begin():
        result = session.execute(update(Reply).where(Reply.round_id == rnd.id, Reply.outcome == REPLY_SENDING)
                                 .values(outcome=REPLY_UNCERTAIN,
                                         error="发送时程序中断，服务器可能已收到；为免重复不再发送，请人工核实"))
        return int(getattr(result, "rowcount", 0) or 0)


def send_due(ledger: Ledger, rnd: Round, smtp: SmtpSender, sender: str, now: Callable[[], dt.datetime], *,
             actor: str = "", mail_ids: set[int] | None = None) -> list[ReplySent]:
    """Send every due (or failed, fewer than MAX_TRIES times) reply of ``rnd``, oldest first; only
    those answering ``mail_ids`` when given. Stops at SendAborted (the server cannot be used:
    the rest wait for the next pass)."""
    done: list[ReplySent] = []
    with ledger.session() as session:
        query = select(Reply.id).where(Reply.round_id == rnd.id, Reply.mail_id.is_not(None),
                                       Reply.outcome.in_((REPLY_DUE, REPLY_FAILED)), Reply.tries < MAX_TRIES)
        if mail_ids is not None:
            query = query.where(Reply.mail_id.in_(mail_ids))
        due = list(session.scalars(query.order_by(Reply.id)))
    for reply_id in due:
        with ledger.session() as session:
            # SQLite: BEGIN IMMEDIATE holds the write lock from here; PostgreSQL: the row lock.
            reply = session.scalar(select(Reply).where(Reply.id == reply_id).with_for_update())
            if reply is None or reply.outcome not in (REPLY_DUE, REPLY_FAILED):
                continue  # another watcher of the same round took it meanwhile
            try:
                message = _compose(session, reply, sender, now())
            except Exception as exc:  # noqa: BLE001 - one reply that cannot be written must not stop the others
                _finish(session, reply, False, f"未能生成回复（{type(exc).__name__}: {exc}）", actor)
                session.commit()
                done.append(ReplySent(reply_id, False, reply.recipient, "", f"未能生成回复：{exc}"))
                continue
            before = reply.outcome
            reply.outcome, reply.tries = REPLY_SENDING, reply.tries + 1
            reply.subject, reply.message_id = str(message["Subject"]), str(message["Message-ID"])
            reply.recipient = ", ".join(recipients(message))
            session.commit()
            try:
                result = smtp.send(message)
            except SendAborted as exc:
                # Nothing was handed over (no connection, login refused): not a try of this reply,
                # so an outage of the mail server never uses up its tries.
                reply.outcome, reply.tries, reply.error = before, reply.tries - 1, str(exc)
                session.commit()
                done.append(ReplySent(reply_id, False, reply.recipient, reply.subject, str(exc), aborted=True))
                break
            _finish(session, reply, result.ok, result.error, actor)
            session.commit()
            done.append(ReplySent(reply_id, result.ok, reply.recipient, reply.subject, result.error))
    return done


def _finish(session: Session, reply: Reply, ok: bool, error: str, actor: str) -> None:
    reply.outcome = REPLY_SENT if ok else REPLY_FAILED
    reply.error = error
    reply.at = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    for sid in json.loads(reply.submissions or "[]"):
        log_event(session, reply.round_id, "mailed" if ok else "mail_failed", submission_id=sid, actor=actor,
                  note=f"{reply.recipient} {reply.subject if ok else error}".strip())


def _compose(session: Session, reply: Reply, sender: str, now: dt.datetime) -> EmailMessage:
    mail = session.get(MailMessage, reply.mail_id)
    unit = session.get(Unit, reply.unit_id)
    if mail is None or unit is None:
        raise ValueError("回复对应的邮件或单位已不在台账中")
    original = _Thread(mail.sender, mail.sender_name, mail.message_id, tuple(mail.thread.split()))
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
    with tempfile.TemporaryDirectory(prefix="xlperf-reply-") as tmp:
        taken: set[str] = set()
        for sub in subs:
            result = session.get(Result, sub.result_id) if sub.result_id else None
            if result is None:
                continue
            write_reports(checked_of(session, sub, result), Path(tmp), taken)
        reports, problems = load_reports(Path(tmp))
        if problems or not reports:
            raise ValueError("；".join(problems) or "没有可回复的审核结果")
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
            shown = {REPLY_SENT: "已回复", REPLY_FAILED: "回复失败", REPLY_DUE: "待回复",
                     REPLY_SENDING: "正在回复", REPLY_UNCERTAIN: "回复状态不确定（请人工核实）"}.get(reply.outcome, reply.outcome)
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
