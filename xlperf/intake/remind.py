"""``round remind`` (催报): mail every unit whose status is 未报送 or 退回 the deadline and what is
missing, recorded in the ledger's replies (kind ``reminder``), and not again within ``every``
(default three days) of the last reminder that was sent.

What a unit is told comes from :func:`xlperf.ledger.round_status` (one row per unit, or per
project where the roster lists projects): the projects not yet received, and the returns sent back
with the reason (the staff's note, else the number of errors the check found).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from xlperf.form.registry import builtin_forms
from xlperf.ledger import Ledger, round_status
from xlperf.ledger.models import REPLY_CONFIRMED, REPLY_SENT, Reply, Result, Round, Submission, Unit
from xlperf.ledger.rounds import roster_unit
from xlperf.ledger.sendclaims import ClaimFacts, LedgerRecorder
from xlperf.ledger.status import MISSING, RETURNED, StatusRow
from xlperf.mail import Clock, SmtpConfig, SmtpSender, SystemClock
from xlperf.mail.body import FOOTER
from xlperf.mail.message import addressees, header_text, new_message, set_text
from xlperf.mail.outgo import (
    FAILURES,
    SEND_LABELS,
    WRITTEN,
    Outcome,
    Outgoing,
    send_all,
    send_key,
    write_all,
)
from xlperf.mail.run import eml_name
from xlperf.mail.send import DEFAULT_RATE
from xlperf.read.roster import RosterUnit

__all__ = ["DEFAULT_EVERY", "REMINDER", "Reminded", "round_remind"]

REMINDER = "reminder"
DEFAULT_EVERY = dt.timedelta(days=3)

RECENT, NO_ADDRESS = "recent", "no_address"
LABELS = {**SEND_LABELS, RECENT: "近期已催报", NO_ADDRESS: "名单中没有邮箱"}


@dataclass(frozen=True)
class Reminded:
    unit: str
    action: str
    detail: str = ""
    message: EmailMessage | None = None
    """The message built (a preview or a dry run)."""

    def line(self) -> str:
        return f"{LABELS[self.action]}  {header_text(self.unit)}" + (f"：{self.detail}" if self.detail else "")

    @classmethod
    def of(cls, outcome: Outcome) -> Reminded:
        detail = str(outcome.path or "") if outcome.action == WRITTEN else outcome.detail
        return cls(outcome.outgoing.label, outcome.action, detail, outcome.message)


@dataclass
class RemindRun:
    results: list[Reminded] = field(default_factory=list)
    aborted: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.aborted) or any(r.action in FAILURES for r in self.results)

    def summary(self) -> str:
        counts = [f"{label} {n}" for action, label in LABELS.items()
                  if (n := sum(1 for r in self.results if r.action == action))]
        return f"需催报 {len(self.results)} 个单位" + (f"：{'，'.join(counts)}" if counts else "")


def round_remind(ledger: Ledger, rnd: Round, *, sender: str, smtp: SmtpConfig | None = None,
                 dry_run: Path | None = None, every: dt.timedelta = DEFAULT_EVERY, rate: int = DEFAULT_RATE,
                 clock: Clock | None = None, actor: str = "",
                 progress: Callable[[Reminded], None] | None = None, preview: bool = False) -> RemindRun:
    """Remind the units of ``rnd`` that have something to send: through ``smtp``, or as .eml files
    in ``dry_run``, or built in memory only with ``preview`` (nothing sent, nothing recorded).
    Each reminder is claimed in the ledger before it is sent (keyed on its recipients, what it says and the last reminder sent), so two runs
    at once remind each unit once."""
    if sum((smtp is not None, dry_run is not None, preview)) != 1:
        raise ValueError("exactly one of smtp, dry_run and preview")
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
        last = {unit_id: (at, last_id) for unit_id, at, last_id in session.execute(
            select(Reply.unit_id, func.max(Reply.at), func.max(Reply.id)).where(
                Reply.round_id == rnd.id, Reply.kind == REMINDER,
                Reply.outcome.in_((REPLY_SENT, REPLY_CONFIRMED))).group_by(Reply.unit_id)).all()}
        due: dict[str, list[StatusRow]] = {}
        for row in status.rows:
            if row.status in (MISSING, RETURNED):
                due.setdefault(row.code, []).append(row)
        names = _returned_files(session, [r.submission for rows in due.values() for r in rows if r.submission])
    cutoff = _utc(now) - every
    outgoing: list[Outgoing] = []
    facts: dict[str, ClaimFacts] = {}
    for code, rows in due.items():
        unit = units[code]
        roster = roster_unit(unit)
        if not roster.addresses:
            record(Reminded(unit.name, NO_ADDRESS))
            continue
        previous, previous_id = last.get(unit.id, (None, None))
        if previous is not None and previous > cutoff:
            record(Reminded(unit.name, RECENT, f"上次 {previous:%Y-%m-%d %H:%M}（UTC），{every.days} 天内不重复"))
            continue
        said = [unit.code, previous_id, [(r.project, r.status, r.submission, r.note) for r in rows]]
        key = send_key(REMINDER, roster.addresses, said)
        facts[key] = ClaimFacts(unit.id, [r.submission for r in rows if r.submission])

        def build(roster: RosterUnit = roster, rows: list[StatusRow] = rows) -> EmailMessage:
            return reminder(rnd, roster, rows, names, sender, now)

        outgoing.append(Outgoing(key, tuple(roster.addresses), build, item=roster, label=unit.name))
    if dry_run is not None or preview:
        write_all(outgoing, dry_run, lambda out: eml_name(out.item), lambda o: record(Reminded.of(o)))
        return run
    if not outgoing or smtp is None:
        return run
    recorder = LedgerRecorder(ledger, rnd.id, REMINDER, facts, actor=actor, now=lambda: _utc(clock.now()),
                              sent_event="reminded")
    with SmtpSender(smtp, rate=rate, clock=clock) as smtp_sender:
        sent = send_all(outgoing, smtp_sender, recorder, lambda o: record(Reminded.of(o)))
    run.aborted = sent.aborted
    return run


def reminder(rnd: Round, unit: RosterUnit, rows: list[StatusRow], names: dict[int, tuple[str, str]], sender: str,
             now: dt.datetime) -> EmailMessage:
    """The reminder for ``unit``: what is missing or was sent back, and the deadline."""
    title = builtin_forms()[rnd.form].title if rnd.form in builtin_forms() else rnd.form
    lines = [f"{header_text(unit.contact or unit.name)}：", "", f"您好！{rnd.year}年度{title}的报送情况如下："]
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
    late = "（已逾期）" if rnd.deadline is not None and now.date() > rnd.deadline else ""
    to, _ = addressees(unit)
    msg = new_message(subject=f"【催报】{rnd.year}年度{title}{late}（{unit.name}）", sender=sender, to=to, now=now)
    set_text(msg, "\n".join(lines) + "\n")
    return msg
def _returned_files(session: Session, ids: list[int]) -> dict[int, tuple[str, str]]:
    """Submission id → (file name, why it was sent back: the staff's note, else the check's errors)."""
    rows = session.execute(select(Submission.id, Submission.original_name, Submission.decision_note, Result.errors)
                           .outerjoin(Result, Result.id == Submission.result_id).where(Submission.id.in_(ids)))
    return {sid: (name, note or f"审核发现错误 {errors or 0} 项") for sid, name, note, errors in rows}


def _utc(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.timezone.utc).replace(tzinfo=None) if value.tzinfo else value
