"""The messages sent back to a unit that mailed returns: its reports, in the thread of its mail.

A report reply is the message ``xlperf mail`` writes (:func:`xlperf.mail.compose`: subject
``【退回】/【通过（有提示）】/【通过】…``, letter, report pages, annotated workbooks, a fresh template for
a rejected return), addressed to the sender and, in copy, to the unit's roster addresses, with
In-Reply-To and References so that the unit's mail client shows it under their own message. A
file already received gets a short "已收到，与 … 相同" note instead of a second report; a return
the ledger held (not counted: another form or year, a unit not in the roster, unsigned...) a
【未受理】 note with the reason, never a report whose 【通过】 would read as accepted.

Only a sender listed in the roster is ever answered (the intake decides, see
:mod:`xlperf.intake.mailtake`): a report describes a unit's budget, and a forged or mistyped
address must not receive one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage

from xlperf.mail.body import FOOTER
from xlperf.mail.compose import compose
from xlperf.mail.message import (
    Original,
    addressees,
    header_text,
    name_list,
    new_message,
    recipients,
    set_text,
)
from xlperf.mail.reports import Report
from xlperf.read.roster import RosterUnit

__all__ = ["Original", "Repeat", "notice_reply", "recipients", "report_reply"]


@dataclass(frozen=True)
class Repeat:
    """A file received again: its name now, and when and under which name it first came."""

    name: str
    first_name: str
    first_received: dt.datetime


def report_reply(unit: RosterUnit, reports: Sequence[Report], original: Original, sender: str,
                 now: dt.datetime) -> EmailMessage:
    """The reports of ``unit``'s returns from ``original``, answered in its thread."""
    return compose(unit, reports, sender, now, original=original)


def notice_reply(unit: RosterUnit, repeats: Sequence[Repeat], ignored: Sequence[tuple[str, str]],
                 original: Original, sender: str, now: dt.datetime, *,
                 held: Sequence[tuple[str, str]] = ()) -> EmailMessage:
    """A short note for files that got no report: received before (``repeats``: "已收到，与 … 相同",
    not a second report), not returns (``ignored``: name and reason), or returns received but
    not counted for this round (``held``: name and the ledger's reason; subject 【未受理】)."""
    lines = [f"{header_text(unit.contact or unit.name)}：", "", "您好！"]
    for name, reason in held:
        lines.append(f"已收到“{name}”，但未受理，未计入本次报送：{reason}")
    for repeat in repeats:
        when = repeat.first_received.astimezone(now.tzinfo).strftime("%Y年%m月%d日 %H:%M")
        same = "" if repeat.first_name == repeat.name else f"的“{repeat.first_name}”"
        lines.append(f"已收到“{repeat.name}”，与 {when} 收到{same}相同，不再重复审核；审核结果见当时的回复邮件。")
    for name, reason in ignored:
        lines.append(f"已收到“{name}”：{reason}")
    lines += ["如需修改，请修改后重新报送。", "", FOOTER]
    if held:
        # Plain in the subject: a clerk who reads only the subject must not take it as received.
        reasons = list(dict.fromkeys(reason for _, reason in held))
        shown = reasons[0] + (f"等 {len(reasons)} 种原因" if len(reasons) > 1 else "")
        title = f"【未受理】{name_list([n for n, _ in held])}：{shown}"
    else:
        names = name_list([r.name for r in repeats] + [n for n, _ in ignored])
        title = f"【已收到】{names}" + ("（与此前报送的相同）" if repeats and not ignored else "")
    to, cc = addressees(unit, original)
    msg = new_message(subject=title, sender=sender, to=to, cc=cc, now=now, original=original)
    set_text(msg, "\n".join(lines) + "\n")
    return msg
