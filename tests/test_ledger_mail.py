"""``round mail`` against a real SMTP server (aiosmtpd on loopback): each unit is told the outcome
of its current returns, staff's reasons included; what was sent is in the ledger, and a unit is
not mailed twice for the same result."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from servers import LoopbackController
from sqlalchemy import select

from xlperf.ledger.models import Event, Reply

SENDER = "绩效科 <jixiao@czj.example.gov.cn>"


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        assert isinstance(message, EmailMessage)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 2.0.0 OK"

    def take(self) -> dict[str, EmailMessage]:
        taken = {rcpt[0]: message for rcpt, message in self.messages}
        self.messages.clear()
        return taken


class Clock:
    """No real sleeping between messages (rate limit)."""

    t = 1000.0

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.t += seconds

    def now(self) -> dt.datetime:
        return dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


@pytest.fixture
def smtp() -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    controller = LoopbackController(inbox)  # binds a port of the system's choosing, then reports it
    controller.start()
    yield controller.port, inbox
    controller.stop()


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def test_round_mail_sends_once_per_result(db: LedgerDb, tmp_path: Path, smtp: tuple[int, Inbox]) -> None:
    port, inbox = smtp
    db.run("new", "r", "--form", FORM, "--year", str(YEAR), "--roster", str(write_roster(tmp_path)))
    make_return(tmp_path / "in" / "东城.xlsx", "东城区科技局", **CLEAN)
    make_return(tmp_path / "in" / "西山.xlsx", "西山县中小企业局", **{**CLEAN, "released": 5.55, "spent_city": 6.2})
    make_return(tmp_path / "in" / "陌生.xlsx", "不在名单的局", **CLEAN)
    db.run("intake", "r", str(tmp_path / "in"), ok=(1,))
    args = ["mail", "r", "--smtp", f"127.0.0.1:{port}", "--tls", "none", "--from", SENDER]
    obj = {"clock": Clock()}

    out = db.run(*args, obj=obj).output
    sent = inbox.take()
    assert set(sent) == {"dongcheng@example.gov.cn", "xishan@example.gov.cn"}  # held stranger: not mailed
    assert "【退回】" in str(sent["xishan@example.gov.cn"]["Subject"])
    assert "已发送 2" in out

    # Nothing changed: nobody is mailed again.
    assert "已发送过 2" in db.run(*args, obj=obj).output
    assert inbox.take() == {}

    # Staff send 东城's return back: that is news for 东城 only, with the reason.
    ledger = db.open()
    with ledger.session() as session:
        dongcheng = session.scalar(select(Event.submission_id).where(Event.kind == "checked").order_by(Event.id))
    db.run("return", "r", str(dongcheng), "--note", "请补充盖章页")
    db.run(*args, obj=obj)
    again = inbox.take()
    assert list(again) == ["dongcheng@example.gov.cn"]
    assert "请补充盖章页" in body(again["dongcheng@example.gov.cn"])
    assert "【退回】" in str(again["dongcheng@example.gov.cn"]["Subject"])

    with ledger.session() as session:
        replies = session.scalars(select(Reply).order_by(Reply.id)).all()
        assert [(r.recipient, r.outcome) for r in replies] == [
            ("dongcheng@example.gov.cn", "sent"), ("xishan@example.gov.cn", "sent"), ("dongcheng@example.gov.cn", "sent")]
        assert all(r.message_id for r in replies)
        assert session.scalars(select(Event.kind).where(Event.kind == "mailed")).all() == ["mailed"] * 3
    ledger.close()

    # --dry-run writes the messages and records nothing; --resend sends again.
    out = db.run("mail", "r", "--from", SENDER, "--dry-run", str(tmp_path / "eml"), "--resend").output
    assert sorted(p.name for p in (tmp_path / "eml").iterdir()) == ["3001_东城区科技局.eml", "3002_西山县中小企业局.eml"]
    assert "已写出 2" in out
    assert "已发送 2" in db.run(*args, "--resend", obj=obj).output
