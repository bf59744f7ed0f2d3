"""``round remind`` (催报): mail every unit whose status is 未报送 or 退回 the deadline and what is
missing, recorded in the ledger's replies (kind ``reminder``), and not again within ``every``
(default three days) of the last reminder that was sent.

What a unit is told comes from :func:`xlperf.ledger.round_status` (one row per unit, or per
project where the roster lists projects): the projects not yet received, and the returns sent back
with the reason (the staff's note, else the number of errors the check found).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xlperf import __version__
from xlperf.form.specload import builtin_forms
from xlperf.ledger import Ledger, round_status
from xlperf.ledger.models import REPLY_FAILED, REPLY_SENT, Reply, Result, Round, Submission, Unit
from xlperf.ledger.rounds import log_event, roster_unit
from xlperf.ledger.status import MISSING, RETURNED, StatusRow
from xlperf.mail import Clock, SendAborted, SmtpConfig, SmtpSender, SystemClock
from xlperf.mail.body import FOOTER
from xlperf.mail.run import eml_name
from xlperf.mail.send import DEFAULT_RATE
from xlperf.read.roster import RosterUnit

__all__ = ["DEFAULT_EVERY", "REMINDER", "Reminded", "round_remind"]

REMINDER = "reminder"
DEFAULT_EVERY = dt.timedelta(days=3)

SENT, WRITTEN, RECENT, NO_ADDRESS, FAILED = "sent", "written", "recent", "no_address", "failed"
LABELS = {SENT: "已催报", WRITTEN: "已写出", RECENT: "近期已催报", NO_ADDRESS: "名单中没有邮箱", FAILED: "发送失败"}


@dataclass(frozen=True)
class Reminded:
    unit: str
    action: str
    detail: str = ""

    def line(self) -> str:
        return f"{LABELS[self.action]}  {self.unit}" + (f"：{self.detail}" if self.detail else "")


@dataclass
class RemindRun:
    results: list[Reminded] = field(default_factory=list)
    aborted: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.aborted) or any(r.action == FAILED for r in self.results)

    def summary(self) -> str:
        counts = [f"{label} {n}" for action, label in LABELS.items()
                  if (n := sum(1 for r in self.results if r.action == action))]
        return f"需催报 {len(self.results)} 个单位" + (f"：{'，'.join(counts)}" if counts else "")


def round_remind(ledger: Ledger, rnd: Round, *, sender: str, smtp: SmtpConfig | None = None,
                 dry_run: Path | None = None, every: dt.timedelta = DEFAULT_EVERY, rate: int = DEFAULT_RATE,
                 clock: Clock | None = None, actor: str = "",
                 progress: Callable[[Reminded], None] | None = None) -> RemindRun:
    """Remind the units of ``rnd`` that have something to send: through ``smtp``, or as .eml files
    in ``dry_run`` (nothing sent, nothing recorded)."""
    if (smtp is None) == (dry_run is None):
        raise ValueError("exactly one of smtp and dry_run")
    clock = clock or SystemClock()
    now = clock.now()
    run = RemindRun()

    def record(item: Reminded) -> None:
        run.results.append(item)
        if progress is not None:
            progress(item)

    with ledger.session() as session:
        status = round_status(session, rnd, today=now.date())
        units = {u.code: u for u in session.scalars(select(Unit).where(Unit.round_id == rnd.id))}
        last = dict(session.execute(select(Reply.unit_id, func.max(Reply.at)).where(
            Reply.round_id == rnd.id, Reply.kind == REMINDER, Reply.outcome == REPLY_SENT).group_by(Reply.unit_id)).all())
        due: dict[str, list[StatusRow]] = {}
        for row in status.rows:
            if row.status in (MISSING, RETURNED):
                due.setdefault(row.code, []).append(row)
        names = _returned_files(session, [r.submission for rows in due.values() for r in rows if r.submission])
    cutoff = _utc(now) - every
    sender_smtp = SmtpSender(smtp, rate=rate, clock=clock) if smtp is not None else None
    try:
        for code, rows in due.items():
            unit = units[code]
            roster = roster_unit(unit)
            if not roster.addresses:
                record(Reminded(unit.name, NO_ADDRESS))
                continue
            previous = last.get(unit.id)
            if previous is not None and previous > cutoff:
                record(Reminded(unit.name, RECENT, f"上次 {previous:%Y-%m-%d %H:%M}（UTC），{every.days} 天内不重复"))
                continue
            message = reminder(rnd, roster, rows, names, sender, now)
            if dry_run is not None:
                dry_run.mkdir(parents=True, exist_ok=True)
                path = dry_run / eml_name(roster)
                path.write_bytes(message.as_bytes())
                record(Reminded(unit.name, WRITTEN, str(path)))
                continue
            assert sender_smtp is not None
            try:
                result = sender_smtp.send(message)
            except SendAborted as exc:
                run.aborted = str(exc)
                break
            with ledger.session() as session:
                session.add(Reply(round_id=rnd.id, unit_id=unit.id, recipient=", ".join(roster.addresses),
                                  digest=f"reminder:{unit.id}:{now.isoformat()}", kind=REMINDER, tries=result.tries,
                                  submissions=json.dumps([r.submission for r in rows if r.submission]),
                                  outcome=REPLY_SENT if result.ok else REPLY_FAILED, subject=str(message["Subject"]),
                                  message_id=str(message["Message-ID"]), error=result.error, at=_utc(now)))
                log_event(session, rnd.id, "reminded" if result.ok else "mail_failed", actor=actor,
                          note=f"{unit.name} {', '.join(roster.addresses)} {result.error}".strip())
                session.commit()
            record(Reminded(unit.name, SENT if result.ok else FAILED, "" if result.ok else result.error))
    finally:
        if sender_smtp is not None:
            sender_smtp.close()
    return run


def reminder(rnd: Round, unit: RosterUnit, rows: list[StatusRow], names: dict[int, tuple[str, str]], sender: str,
             now: dt.datetime) -> EmailMessage:
    """The reminder for ``unit``: what is missing or was sent back, and the deadline."""
    title = builtin_forms()[rnd.form].title if rnd.form in builtin_forms() else rnd.form
    lines = [f"{unit.contact or unit.name}：", "", f"您好！{rnd.year}年度{title}的报送情况如下："]
    for row in rows:
        what = f"项目“{row.project}”" if row.project else title
        if row.status == MISSING:
            lines.append(f"- {what}：尚未收到。")
        else:
            name, why = names.get(row.submission or -1, ("", ""))
            lines.append(f"- {what}：报表“{name}”已退回（{row.note or why}），请修改后重新报送。")
    if rnd.deadline is not None:
        days = (rnd.deadline - now.date()).days
        when = f"{rnd.deadline:%Y年%m月%d日}"
        lines += ["", f"报送截止日期为 {when}" + (f"，已逾期 {-days} 天，请尽快报送。" if days < 0 else
                                                 "，即今天。" if days == 0 else f"，还有 {days} 天。")]
    lines += ["请使用财政局下发的模板填报，以附件形式回复本邮件即可。", "", FOOTER]
    msg = EmailMessage()
    late = "（已逾期）" if rnd.deadline is not None and now.date() > rnd.deadline else ""
    msg["Subject"] = f"【催报】{rnd.year}年度{title}{late}（{unit.name}）"
    msg["From"] = sender
    msg["To"] = [Address(display_name=unit.contact or unit.name, addr_spec=a) for a in unit.addresses]
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Mailer"] = f"xlperf {__version__}"
    msg.set_content("\n".join(lines) + "\n", cte="base64")
    return msg


def _returned_files(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    """Submission id → (file name, why it was sent back: the staff's note, else the check's errors)."""
    rows = session.execute(select(Submission.id, Submission.original_name, Submission.decision_note, Result.errors)
                           .outerjoin(Result, Result.id == Submission.result_id).where(Submission.id.in_(ids)))
    return {sid: (name, note or f"审核发现错误 {errors or 0} 项") for sid, name, note, errors in rows}


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
