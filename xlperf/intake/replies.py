"""The messages sent back to a unit that mailed returns: its reports, in the thread of its mail.

A report reply is the message ``xlperf mail`` writes (:func:`xlperf.mail.compose`: subject
``【退回】/【需修改】/【通过】…``, letter, report pages, annotated workbooks, a fresh template for
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
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Protocol

from xlperf import __version__
from xlperf.mail.body import FOOTER
from xlperf.mail.compose import compose
from xlperf.mail.reports import Report
from xlperf.read.roster import RosterUnit

__all__ = ["Original", "Repeat", "notice_reply", "recipients", "report_reply"]


class Original(Protocol):
    """The message answered: a :class:`~xlperf.intake.mime.ParsedMessage`, or what the ledger
    kept of it."""

    @property
    def sender(self) -> str: ...

    @property
    def sender_name(self) -> str: ...

    @property
    def message_id(self) -> str: ...

    @property
    def thread(self) -> tuple[str, ...]: ...


@dataclass(frozen=True)
class Repeat:
    """A file received again: its name now, and when and under which name it first came."""

    name: str
    first_name: str
    first_received: dt.datetime


def report_reply(unit: RosterUnit, reports: Sequence[Report], original: Original, sender: str,
                 now: dt.datetime) -> EmailMessage:
    """The reports of ``unit``'s returns from ``original``, answered in its thread."""
    msg = compose(unit, reports, sender, now)
    _address(msg, unit, original)
    _thread(msg, original)
    return msg


def notice_reply(unit: RosterUnit, repeats: Sequence[Repeat], ignored: Sequence[tuple[str, str]],
                 original: Original, sender: str, now: dt.datetime, *,
                 held: Sequence[tuple[str, str]] = ()) -> EmailMessage:
    """A short note for files that got no report: received before (``repeats``: "已收到，与 … 相同",
    not a second report), not returns (``ignored``: name and reason), or returns received but
    not counted for this round (``held``: name and the ledger's reason; subject 【未受理】)."""
    lines = [f"{unit.contact or unit.name}：", "", "您好！"]
    for name, reason in held:
        lines.append(f"已收到“{name}”，但未受理，未计入本次报送：{reason}")
    for repeat in repeats:
        when = repeat.first_received.astimezone(now.tzinfo).strftime("%Y年%m月%d日 %H:%M")
        same = "" if repeat.first_name == repeat.name else f"的“{repeat.first_name}”"
        lines.append(f"已收到“{repeat.name}”，与 {when} 收到{same}相同，不再重复审核；审核结果见当时的回复邮件。")
    for name, reason in ignored:
        lines.append(f"已收到“{name}”：{reason}")
    lines += ["如需修改，请修改后重新报送。", "", FOOTER]
    msg = EmailMessage()
    if held:
        # Plain in the subject: a clerk who reads only the subject must not take it as received.
        reasons = list(dict.fromkeys(reason for _, reason in held))
        shown = reasons[0] + (f"等 {len(reasons)} 种原因" if len(reasons) > 1 else "")
        msg["Subject"] = f"【未受理】{short_names([n for n, _ in held])}：{shown}"
    else:
        names = short_names([r.name for r in repeats] + [n for n, _ in ignored])
        msg["Subject"] = f"【已收到】{names}" + ("（与此前报送的相同）" if repeats and not ignored else "")
    msg["From"] = sender
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=parseaddr(sender)[1].rpartition("@")[2] or "localhost")
    msg["X-Mailer"] = f"xlperf {__version__}"
    msg.set_content("\n".join(lines) + "\n", cte="base64")
    _address(msg, unit, original)
    _thread(msg, original)
    return msg


SUBJECT_NAMES = 3
"""File names a subject shows at most; the body lists every file."""


def short_names(names: Sequence[str]) -> str:
    """``a、b、c等 N 个文件``: a subject stays short however many files a message brought."""
    shown = "、".join(names[:SUBJECT_NAMES])
    return shown + (f"等 {len(names)} 个文件" if len(names) > SUBJECT_NAMES else "")


def _address(msg: EmailMessage, unit: RosterUnit, original: Original) -> None:
    """To the sender; a copy to the unit's other roster addresses."""
    to = Address(display_name=original.sender_name, addr_spec=original.sender)
    copies = [a for a in unit.addresses if a.casefold() != original.sender.casefold()]
    del msg["To"]
    del msg["Cc"]
    msg["To"] = to
    if copies:
        msg["Cc"] = [Address(display_name=unit.contact or unit.name, addr_spec=a) for a in copies]
    # RFC 3834: an automatic answer to a message, so that auto-responders do not answer it back.
    del msg["Auto-Submitted"]
    msg["Auto-Submitted"] = "auto-replied"


def _thread(msg: EmailMessage, original: Original) -> None:
    msg["In-Reply-To"] = original.message_id
    msg["References"] = " ".join(original.thread)


def recipients(msg: EmailMessage) -> list[str]:
    """Every address a message goes to (To and Cc)."""
    return [a.addr_spec for key in ("To", "Cc") for header in msg.get_all(key, []) for a in header.addresses]
