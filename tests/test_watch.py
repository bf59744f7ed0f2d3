"""``xlperf round watch`` end to end against real servers on loopback: Dovecot (IMAP, messages put
in with APPEND as a delivery would), the aiosmtpd server that receives the replies, and an SQLite
ledger. Returns are real workbooks made from the templates (tests/ledger_support.py); messages are
written as Chinese mail clients send them (GBK names and subjects in RFC 2047 and RFC 2231).

Covered: a correct return, a rejected one, a resubmission, a repeat, a zip, a stranger, a message
without attachment, an automatic reply, a connection dropped in the middle of a pass, a watcher
killed and started again (no message taken twice, no reply sent twice), and reminders.
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner, Result
from gate import gated_env, wait_at_gate
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from servers import Dovecot, FakeClock, SmtpStart, Store, refused_port
from sqlalchemy import func, select

from xlperf.cli import main
from xlperf.intake.imapconf import PASSWORD_ENV, USER_ENV, ImapConfig
from xlperf.intake.mailbox import PROCESSED_FOLDER, Mailbox
from xlperf.intake.watch import Watcher
from xlperf.ledger import find_round, open_ledger
from xlperf.ledger.models import (
    MAIL_HELD,
    MAIL_TAKEN,
    REPLY_SENT,
    REPLY_UNCERTAIN,
    MailMessage,
    Reply,
    Submission,
)
from xlperf.mail.config import SmtpConfig

ROUND = "2024自评"
BUREAU = "czj"
PASSWORD = "收件-s3cret"
SENDER = "财政局绩效科 <jixiao@czj.example.gov.cn>"
ROSTER = """单位代码,单位名称,主管部门,联系人,邮箱
3001,东城区科技局,市科学技术局,张明,dongcheng@example.gov.cn；dc-office@example.gov.cn
3002,西山县中小企业局,市工业和信息化局,李华,xishan@example.gov.cn
3003,南城区商务局,市商务局,王芳,nancheng@example.gov.cn
3004,北湖县工信局,市工业和信息化局,赵强,beihu@example.gov.cn
"""
REJECTED = {**CLEAN, "released": 5.55, "spent_city": 6.2}
"""Executed more than released: 退回 (see test_ledger_flow)."""


# ---------------------------------------------------------------- messages as clients write them


def gbk_word(text: str) -> bytes:
    return b"=?GBK?B?" + base64.b64encode(text.encode("gbk")) + b"?="


def client_message(sender: str, subject: str, files: list[tuple[str, bytes]], *, message_id: str,
                   style: str = "2047", extra: bytes = b"") -> bytes:
    """A message as Foxmail/Outlook on Chinese Windows writes it: GBK everywhere; attachment names
    as RFC 2047 words in a quoted filename (``style="2047"``) or RFC 2231 GBK (``"2231"``)."""
    parts = [b"--B0\r\nContent-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n"
             + base64.b64encode("请查收附件。".encode("gbk")) + b"\r\n"]
    for name, data in files:
        if style == "2047":
            disposition = b'attachment; filename="' + gbk_word(name) + b'"'
        else:
            disposition = b"attachment; filename*=GBK''" + urllib.parse.quote(name.encode("gbk")).encode()
        parts.append(b"--B0\r\nContent-Type: application/octet-stream\r\nContent-Disposition: " + disposition
                     + b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.encodebytes(data).replace(b"\n", b"\r\n"))
    return (b"From: " + gbk_word("经办人") + b" <" + sender.encode() + b">\r\nTo: czj@czj.example.gov.cn\r\n"
            b"Subject: " + gbk_word(subject) + b"\r\nMessage-ID: <" + message_id.encode() + b">\r\n"
            b"Date: Mon, 3 Mar 2025 08:00:00 +0800\r\n" + extra +
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=B0\r\n\r\n" + b"".join(parts) + b"--B0--\r\n")


def gbk_zip(files: dict[str, bytes]) -> bytes:
    """A zip as Windows' "send to compressed folder" makes it on Chinese Windows: GBK names, no
    UTF-8 flag."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            info = zipfile.ZipInfo("x" * len(name.encode("gbk")))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    data = buffer.getvalue()
    for name in files:
        data = data.replace(b"x" * len(name.encode("gbk")), name.encode("gbk"), 2)  # local header, directory
    return data


# ---------------------------------------------------------------- the mail room


@dataclass
class Room:
    imap: Dovecot
    smtp: Controller
    store: Store
    db: str
    files: Path
    work: Path
    clock: FakeClock

    def args(self) -> list[str]:
        return ["round", "--db", self.db, "--store", str(self.files)]

    def env(self) -> dict[str, str | None]:
        return {USER_ENV: BUREAU, PASSWORD_ENV: PASSWORD, "XLPERF_SMTP_USER": None, "XLPERF_SMTP_PASSWORD": None,
                "XLPERF_SIGNING_KEY": None}

    def watch_args(self, *extra: str) -> list[str]:
        return ["watch", ROUND, "--imap", f"127.0.0.1:{self.imap.port}", "--tls", "none", "--smtp",
                f"127.0.0.1:{self.smtp.port}", "--smtp-tls", "none", "--from", SENDER, *extra]

    def run(self, *argv: str, ok: tuple[int, ...] = (0,)) -> Result:
        result = CliRunner().invoke(main, [*self.args(), *argv], env=self.env(), obj={"clock": self.clock})
        assert result.exit_code in ok, (result.exit_code, result.output, result.exception)
        return result

    def watch_once(self) -> Result:
        return self.run(*self.watch_args("--once"))

    def deliver(self, raw: bytes) -> None:
        self.imap.append(BUREAU, raw)

    def workbook(self, name: str, unit: str, **changes: Any) -> bytes:
        return make_return(self.work / name, unit, **changes).read_bytes()

    def replies(self) -> dict[str, EmailMessage]:
        """Received replies by the Message-ID they answer (each answered message once)."""
        found: dict[str, EmailMessage] = {}
        for received in self.store.received:
            key = str(received.message["In-Reply-To"])
            assert key not in found or received.message["Subject"] != found[key]["Subject"], f"sent twice: {key}"
            found.setdefault(key, received.message)
        return found

    def ledger_rows(self, model: Any) -> list[Any]:
        ledger = open_ledger(self.db, self.files)
        try:
            with ledger.session() as session:
                return list(session.scalars(select(model).order_by(model.id)))
        finally:
            ledger.close()


@pytest.fixture
def room(dovecot: Callable[..., Dovecot], smtp_server: SmtpStart, db: LedgerDb, tmp_path: Path) -> Room:
    """A bureau's mailbox, its SMTP server and a round on the ledger (SQLite, and PostgreSQL
    under pg_virtualenv)."""
    controller, store = smtp_server()
    server = dovecot({BUREAU: PASSWORD})
    roster = write_roster(tmp_path, ROSTER)
    room = Room(server, controller, store, db.url, db.store, tmp_path / "work", FakeClock())
    room.run("new", ROUND, "--form", FORM, "--year", str(YEAR), "--roster", str(roster), "--deadline", "2025-03-10")
    return room


def attachment_names(message: EmailMessage) -> list[str]:
    return [str(p.get_filename()) for p in message.iter_attachments()]


def lines_starting(result: Result, head: str) -> int:
    return sum(1 for line in result.output.splitlines() if line.startswith(head))


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


# ---------------------------------------------------------------- tests


def test_correct_and_rejected_returns_are_answered_in_their_threads(room: Room) -> None:
    room.deliver(client_message("dongcheng@example.gov.cn", "报送2024年度绩效自评表（东城区科技局）",
                                [("自评表_东城区科技局（镕）.xlsx", room.workbook("东城.xlsx", "东城区科技局", **CLEAN))],
                                message_id="dc-1@mail.example.gov.cn"))
    room.deliver(client_message("XiShan@Example.gov.cn", "西山县中小企业局自评表",
                                [("自评表_西山县.xlsx", room.workbook("西山.xlsx", "西山县中小企业局", **REJECTED))],
                                message_id="xs-1@mail.example.gov.cn", style="2231"))
    output = room.watch_once().output
    assert "自评表_东城区科技局（镕）.xlsx" in output
    # The operator's log, in the desk's format: time, level, round, the submission it recorded.
    taken = re.findall(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO 任务=(\S+) 报送=(\S+) dongcheng@example\.gov\.cn「", output, re.M)
    subs = {s.original_name: s for s in room.ledger_rows(Submission)}
    assert taken == [(ROUND, str(subs["自评表_东城区科技局（镕）.xlsx"].id))]

    assert room.imap.messages(BUREAU) == []
    assert len(room.imap.messages(BUREAU, PROCESSED_FOLDER)) == 2
    replies = room.replies()
    assert set(replies) == {"<dc-1@mail.example.gov.cn>", "<xs-1@mail.example.gov.cn>"}
    dongcheng = replies["<dc-1@mail.example.gov.cn>"]
    assert str(dongcheng["Subject"]).startswith("【通过（有提示）】")
    assert [a.addr_spec for a in dongcheng["To"].addresses] == ["dongcheng@example.gov.cn"]
    assert [a.addr_spec for a in dongcheng["Cc"].addresses] == ["dc-office@example.gov.cn"]
    assert str(dongcheng["References"]).split()[-1] == "<dc-1@mail.example.gov.cn>"
    assert str(dongcheng["Auto-Submitted"]) == "auto-replied"
    assert attachment_names(dongcheng) == ["自评表_东城区科技局（镕）_批注.xlsx"]
    xishan = replies["<xs-1@mail.example.gov.cn>"]
    assert str(xishan["Subject"]).startswith("【退回】")
    assert [a.addr_spec for a in xishan["To"].addresses] == ["XiShan@Example.gov.cn"]
    assert xishan["Cc"] is None  # the roster's address is the sender's, in another case
    assert any(name.startswith("新模板_") for name in attachment_names(xishan))

    subs = room.ledger_rows(Submission)
    assert [(s.original_name, s.source, s.sender) for s in subs] == [
        ("自评表_东城区科技局（镕）.xlsx", "mail", "dongcheng@example.gov.cn"),
        ("自评表_西山县.xlsx", "mail", "XiShan@Example.gov.cn")]
    mails = room.ledger_rows(MailMessage)
    assert [(m.state, m.subject) for m in mails] == [(MAIL_TAKEN, "报送2024年度绩效自评表（东城区科技局）"),
                                                     (MAIL_TAKEN, "西山县中小企业局自评表")]
    assert [r.outcome for r in room.ledger_rows(Reply)] == [REPLY_SENT, REPLY_SENT]
    status = {r["code"]: r["status"] for r in json.loads(room.run("status", ROUND, "--json").output)["rows"]}
    assert status == {"3001": "通过（有提示）", "3002": "退回", "3003": "未报送", "3004": "未报送"}

    room.watch_once()  # nothing new: nothing taken, nothing sent
    assert len(room.store.received) == 2 and len(room.ledger_rows(MailMessage)) == 2


def test_resubmission_repeat_zip_stranger_and_messages_without_returns(room: Room) -> None:
    rejected = room.workbook("西山_1.xlsx", "西山县中小企业局", **REJECTED)
    corrected = room.workbook("西山_2.xlsx", "西山县中小企业局", **CLEAN)
    dongcheng = room.workbook("东城.xlsx", "东城区科技局", **CLEAN)
    room.deliver(client_message("xishan@example.gov.cn", "自评表", [("自评表.xlsx", rejected)], message_id="x1@m"))
    room.deliver(client_message("dongcheng@example.gov.cn", "自评表", [("东城自评.xlsx", dongcheng)], message_id="d1@m"))
    room.watch_once()
    room.deliver(client_message("xishan@example.gov.cn", "修改后重新报送", [("自评表（修改）.xlsx", corrected)],
                                message_id="x2@m"))
    room.deliver(client_message("dc-office@example.gov.cn", "再发一次", [("东城自评-副本.xlsx", dongcheng)],
                                message_id="d2@m"))
    nancheng = room.workbook("南城.xlsx", "南城区商务局", **CLEAN)
    room.deliver(client_message("nancheng@example.gov.cn", "南城区商务局报表（压缩包）",
                                [("南城区商务局报表.zip", gbk_zip({"南城区/自评表_南城区商务局.xlsx": nancheng,
                                                                 "南城区/情况说明.docx": b"PK\x03\x04 word"}))],
                                message_id="n1@m"))
    room.deliver(client_message("someone@qq.com", "北湖县的报表", [("北湖.xlsx", room.workbook(
        "北湖.xlsx", "北湖县工信局", **CLEAN))], message_id="s1@m"))
    room.deliver(client_message("beihu@example.gov.cn", "忘了附件", [], message_id="b1@m"))
    room.deliver(client_message("dongcheng@example.gov.cn", "自动回复：我正在休假", [("东城自评.xlsx", dongcheng)],
                                message_id="auto@m", extra=b"Auto-Submitted: auto-replied\r\n"))
    room.watch_once()

    assert room.imap.messages(BUREAU) == []
    replies = room.replies()
    assert set(replies) == {"<x1@m>", "<d1@m>", "<x2@m>", "<d2@m>", "<n1@m>"}  # no stranger, no hold, no robot
    assert str(replies["<x2@m>"]["Subject"]).startswith("【通过（有提示）】")
    repeat = replies["<d2@m>"]
    assert str(repeat["Subject"]).startswith("【已收到】") and attachment_names(repeat) == []
    assert "“东城自评-副本.xlsx”，与" in text_of(repeat) and "收到的“东城自评.xlsx”相同" in text_of(repeat)
    assert [a.addr_spec for a in repeat["To"].addresses] == ["dc-office@example.gov.cn"]
    zip_reply = replies["<n1@m>"]
    assert str(zip_reply["Subject"]).startswith("【通过（有提示）】")
    assert attachment_names(zip_reply) == ["自评表_南城区商务局_批注.xlsx"]

    mails = {m.message_id: m for m in room.ledger_rows(MailMessage)}
    assert {k: m.state for k, m in mails.items()} == {
        "<x1@m>": MAIL_TAKEN, "<d1@m>": MAIL_TAKEN, "<x2@m>": MAIL_TAKEN, "<d2@m>": MAIL_TAKEN,
        "<n1@m>": MAIL_TAKEN, "<s1@m>": MAIL_HELD, "<b1@m>": MAIL_HELD, "<auto@m>": MAIL_HELD}
    assert "someone@qq.com 不在单位名单中" in mails["<s1@m>"].reason
    assert mails["<b1@m>"].reason == "邮件没有附件"
    stranger_file = json.loads(mails["<s1@m>"].files)[0]
    ledger = open_ledger(room.db, room.files)
    stored = ledger.store.path(stranger_file["sha256"])
    ledger.close()
    assert stranger_file["name"] == "北湖.xlsx" and stored.read_bytes()[:2] == b"PK"  # kept, not lost
    subs = {s.original_name: s for s in room.ledger_rows(Submission)}
    assert "北湖.xlsx" not in subs  # a stranger's file never counts for a unit
    assert subs["自评表_南城区商务局.xlsx"].state == "current" and subs["情况说明.docx"].state == "ignored"
    assert subs["东城自评-副本.xlsx"].state == "repeat"
    assert subs["自评表.xlsx"].state == "superseded" and subs["自评表（修改）.xlsx"].state == "current"
    status = {r["code"]: r["status"] for r in json.loads(room.run("status", ROUND, "--json").output)["rows"]}
    assert status == {"3001": "通过（有提示）", "3002": "通过（有提示）", "3003": "通过（有提示）", "3004": "未报送"}
    held = room.run("messages", ROUND, "--held").output  # what staff look at
    assert "someone@qq.com「北湖县的报表」暂存待处理：北湖.xlsx" in held and "邮件没有附件" in held
    assert "自动回复" in held and held.rstrip().endswith("共 3 封暂存待处理的邮件")
    listed = room.run("messages", ROUND).output
    assert "已发送 dc-office@example.gov.cn, dongcheng@example.gov.cn：【已收到】" in listed


def test_connection_dropped_between_commit_and_move_takes_nothing_twice(room: Room) -> None:
    for n, unit in enumerate(("东城区科技局", "西山县中小企业局")):
        address = ("dongcheng", "xishan")[n]
        room.deliver(client_message(f"{address}@example.gov.cn", "报表", [(f"{unit}.xlsx", room.workbook(
            f"{n}.xlsx", unit, **CLEAN))], message_id=f"drop-{n}@m"))
    server = room.imap

    class Dropping(Mailbox):
        dropped = False

        def mark_processed(self, uid: int) -> None:
            if not Dropping.dropped:  # the server dies after the first message was committed
                Dropping.dropped = True
                server.stop(signal.SIGKILL)
                server.start()
            super().mark_processed(uid)

    ledger = open_ledger(room.db, room.files)
    lines: list[str] = []
    try:
        with ledger.session() as session:
            rnd = find_round(session, ROUND)
        imap = ImapConfig("127.0.0.1", server.port, "none", BUREAU, PASSWORD)
        smtp = SmtpConfig("127.0.0.1", room.smtp.port, "none")
        watcher = Watcher(ledger, rnd, imap, smtp=smtp, sender=SENDER, clock=room.clock, log=lines.append,
                          mailbox=Dropping)
        first = watcher.one_pass()
        assert first.error and "连接" in first.error
        second = watcher.one_pass()
        assert not second.error
        watcher.close()
    finally:
        ledger.close()
    assert any("此前已登记" in line for line in lines)
    assert room.imap.messages(BUREAU) == []
    assert len(room.imap.messages(BUREAU, PROCESSED_FOLDER)) == 2
    assert len(room.ledger_rows(MailMessage)) == 2 and len(room.ledger_rows(Submission)) == 2
    assert set(room.replies()) == {"<drop-0@m>", "<drop-1@m>"} and len(room.store.received) == 2


def test_watcher_killed_and_restarted_takes_and_answers_each_message_once(room: Room) -> None:
    units = [("东城区科技局", "dongcheng"), ("西山县中小企业局", "xishan"), ("南城区商务局", "nancheng"),
             ("北湖县工信局", "beihu")]
    expected = set()
    for n in range(8):
        unit, address = units[n % 4]
        data = room.workbook(f"k{n}.xlsx", unit, **{**CLEAN, "spent_city": 30 + n})  # each a new version
        room.deliver(client_message(f"{address}@example.gov.cn", f"第{n}份", [(f"{unit}_{n}.xlsx", data)],
                                    message_id=f"kill-{n}@m"))
        expected.add(f"<kill-{n}@m>")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
           USER_ENV: BUREAU, PASSWORD_ENV: PASSWORD}
    env.pop("XLPERF_SIGNING_KEY", None)
    command = [sys.executable, "-m", "xlperf", *room.args()]
    # The watcher's check of the fifth message's attachment waits at a gate (tests/gate.py); it is
    # killed there once three replies are out: killed half-way, whatever the machine's speed.
    fifo = room.work.parent / "gate"
    os.mkfifo(fifo)
    watcher = subprocess.Popen([*command, *room.watch_args("--interval", "1", "--rate", "600")],
                               env=gated_env(env, fifo, "_4.xlsx"), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    gate = -1
    try:
        gate = wait_at_gate(fifo, watcher)
        while len(room.store.received) < 3:  # replies to the messages before the gate
            assert watcher.poll() is None
            time.sleep(0.02)
    finally:
        watcher.send_signal(signal.SIGKILL)  # no chance to finish anything
        watcher.wait()
        assert watcher.stdout is not None
        watcher.stdout.close()
        if gate >= 0:
            os.close(gate)
    before = len(room.store.received)
    assert 3 <= before <= 7  # the fifth message is never answered before the kill: it waits at the gate
    result = subprocess.run([*command, *room.watch_args("--once", "--rate", "600")], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr

    assert room.imap.messages(BUREAU) == []
    assert len(room.imap.messages(BUREAU, PROCESSED_FOLDER)) == 8
    mails = room.ledger_rows(MailMessage)
    assert sorted(m.message_id for m in mails) == sorted(expected)
    assert len(room.ledger_rows(Submission)) == 8
    answered = set(room.replies())  # asserts that no message was answered twice
    assert len(room.store.received) == len(answered)
    rows = room.ledger_rows(Reply)
    by_mail = {m.id: m.message_id for m in mails}
    sent = {by_mail[r.mail_id] for r in rows if r.outcome == REPLY_SENT}
    # Killed between the server's 250 and the commit: "uncertain", never sent again (it may or
    # may not have arrived; here the SMTP server knows).
    unsure = {by_mail[r.mail_id] for r in rows if r.outcome == REPLY_UNCERTAIN}
    assert len(rows) == 8 and sent | unsure == expected and not sent & unsure
    assert room.run("messages", ROUND).output.count("待确认 ") == len(unsure)  # shown to staff
    assert sent <= answered <= expected


def test_failed_reply_is_retried_on_the_next_pass_and_sent_once(room: Room, smtp_server: SmtpStart) -> None:
    room.deliver(client_message("dongcheng@example.gov.cn", "报表", [("东城.xlsx", room.workbook(
        "东城.xlsx", "东城区科技局", **CLEAN))], message_id="retry@m"))
    room.store.replies = ["451 4.3.0 try again later"] * 4  # every try of the first pass
    failed = room.run(*room.watch_args("--once"), ok=(1,))  # 1: a reply failed
    assert "回复失败 1 封" in failed.output
    [row] = room.ledger_rows(Reply)
    assert row.outcome == "failed" and row.tries == 1 and "451" in row.error
    assert room.store.received == [] and room.imap.messages(BUREAU) == []  # the message itself is taken
    room.watch_once()
    [row] = room.ledger_rows(Reply)
    assert row.outcome == REPLY_SENT and row.tries == 2
    room.watch_once()
    assert set(room.replies()) == {"<retry@m>"} and len(room.store.received) == 1


def test_mail_server_outage_costs_no_tries_and_the_replies_follow(room: Room) -> None:
    for n, (unit, address) in enumerate([("东城区科技局", "dongcheng"), ("西山县中小企业局", "xishan")]):
        room.deliver(client_message(f"{address}@example.gov.cn", "报表", [(f"{unit}.xlsx", room.workbook(
            f"{n}.xlsx", unit, **CLEAN))], message_id=f"out-{n}@m"))
    dead = room.watch_args("--once")
    with refused_port() as port:  # held, never listened on: refused, and no other server takes it
        dead[dead.index("--smtp") + 1] = f"127.0.0.1:{port}"
        for _ in range(6):  # more passes than a reply has tries
            out = room.run(*dead, ok=(1,))
    assert "无法连接邮件服务器" in out.output
    assert room.imap.messages(BUREAU) == [] and len(room.ledger_rows(MailMessage)) == 2  # taken all the same
    assert [(r.outcome, r.tries) for r in room.ledger_rows(Reply)] == [("due", 0), ("due", 0)]
    room.watch_once()
    assert set(room.replies()) == {"<out-0@m>", "<out-1@m>"}
    assert [(r.outcome, r.tries) for r in room.ledger_rows(Reply)] == [(REPLY_SENT, 1), (REPLY_SENT, 1)]


def test_no_reply_option_and_usage_errors(room: Room) -> None:
    room.deliver(client_message("dongcheng@example.gov.cn", "报表", [("东城.xlsx", room.workbook(
        "东城.xlsx", "东城区科技局", **CLEAN))], message_id="quiet@m"))
    quiet = ["watch", ROUND, "--imap", f"127.0.0.1:{room.imap.port}", "--tls", "none", "--once", "--no-reply"]
    room.run(*quiet)
    assert room.store.received == [] and len(room.ledger_rows(MailMessage)) == 1 and room.ledger_rows(Reply) == []
    runner = CliRunner()
    for env, argv, says in [
        ({USER_ENV: None, PASSWORD_ENV: None}, quiet, USER_ENV),
        ({}, ["watch", ROUND, "--imap", "imap.example.gov.cn", "--tls", "none", "--once", "--no-reply"], "不是本机"),
        ({PASSWORD_ENV: "wrong"}, quiet, "用户名和密码"),
        ({}, [*quiet[:-1]], "未指定邮件服务器"),
    ]:
        result = runner.invoke(main, [*room.args(), *argv], env={**room.env(), **env}, obj={"clock": room.clock})
        assert result.exit_code == 2, result.output
        assert says in result.output


def test_reminders_name_what_is_missing_and_are_not_repeated_within_the_interval(room: Room, tmp_path: Path) -> None:
    room.deliver(client_message("xishan@example.gov.cn", "报表", [("西山.xlsx", room.workbook(
        "西山.xlsx", "西山县中小企业局", **REJECTED))], message_id="r1@m"))
    room.deliver(client_message("dongcheng@example.gov.cn", "报表", [("东城.xlsx", room.workbook(
        "东城.xlsx", "东城区科技局", **CLEAN))], message_id="r2@m"))
    room.watch_once()
    sent_before = len(room.store.received)
    smtp = ["--smtp", f"127.0.0.1:{room.smtp.port}", "--tls", "none", "--from", SENDER]
    dry = room.run("remind", ROUND, "--dry-run", str(tmp_path / "eml"), "--from", SENDER)
    assert sorted(p.name for p in (tmp_path / "eml").iterdir()) == ["3002_西山县中小企业局.eml", "3003_南城区商务局.eml",
                                                                    "3004_北湖县工信局.eml"]
    assert "已写出" in dry.output and room.ledger_rows(Reply)[-1].kind != "reminder"
    room.run("remind", ROUND, *smtp)
    reminders = {r.rcpt_tos[0]: r.message for r in room.store.received[sent_before:]}
    assert set(reminders) == {"xishan@example.gov.cn", "nancheng@example.gov.cn", "beihu@example.gov.cn"}
    xishan = text_of(reminders["xishan@example.gov.cn"])
    assert "报表“西山.xlsx”已退回" in xishan and "2025年03月10日" in xishan and "还有 7 天" in xishan
    assert "尚未收到" in text_of(reminders["beihu@example.gov.cn"])
    assert str(reminders["beihu@example.gov.cn"]["Subject"]).startswith("【催报】")
    again = room.run("remind", ROUND, *smtp)
    assert lines_starting(again, "近期已催报 ") == 3 and len(room.store.received) == sent_before + 3
    room.clock.t += 8 * 86400  # eight days later: past the interval and the deadline
    late = room.run("remind", ROUND, *smtp)
    assert lines_starting(late, "已发送 ") == 3 and len(room.store.received) == sent_before + 6
    assert "已逾期" in str(room.store.received[-1].message["Subject"])
    with open_ledger(room.db, room.files).session() as session:
        assert session.scalar(select(func.count()).select_from(Reply).where(Reply.kind == "reminder")) == 6


def test_malformed_and_oversized_messages_are_held_a_bomb_answered_and_the_watcher_goes_on(room: Room) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("自评表.xlsx", b"\0" * (300 << 20))
    room.deliver(b"\x00\xff\xfe this is not a mail\r\n\r\n\x00")
    room.deliver(client_message("dongcheng@example.gov.cn", "压缩包", [("报表.zip", bomb.getvalue())], message_id="bomb@m"))
    room.deliver(client_message("xishan@example.gov.cn", "大附件", [("扫描件.pdf", os.urandom(1_500_000))],
                                message_id="big@m"))
    room.deliver(client_message("nancheng@example.gov.cn", "报表", [("南城.xlsx", room.workbook(
        "南城.xlsx", "南城区商务局", **CLEAN))], message_id="fine@m"))
    ledger = open_ledger(room.db, room.files)
    lines: list[str] = []
    try:
        with ledger.session() as session:
            rnd = find_round(session, ROUND)
        watcher = Watcher(ledger, rnd, ImapConfig("127.0.0.1", room.imap.port, "none", BUREAU, PASSWORD),
                          smtp=SmtpConfig("127.0.0.1", room.smtp.port, "none"), sender=SENDER, clock=room.clock,
                          log=lines.append, max_message=1_000_000)
        result = watcher.one_pass()
        watcher.close()
    finally:
        ledger.close()
    assert (result.taken, result.held, result.error) == (2, 2, "")
    assert room.imap.messages(BUREAU) == []
    mails = {m.message_id: m for m in room.ledger_rows(MailMessage)}
    assert mails["<bomb@m>"].state == MAIL_TAKEN  # the zip is recorded and refused; its unit is told why
    assert "超过上限" in mails["<big@m>"].reason and json.loads(mails["<big@m>"].files) == []
    garbage = [m for k, m in mails.items() if k.endswith("@xlperf.invalid>")]
    assert len(garbage) == 1 and garbage[0].state == MAIL_HELD
    replies = room.replies()
    assert set(replies) == {"<fine@m>", "<bomb@m>"}
    assert str(replies["<bomb@m>"]["Subject"]) == "【已收到】报表.zip"
    assert ("已收到“报表.zip”：文件“报表.zip”解压后将达 300 MB，超过上限 200 MB，可能是恶意构造的压缩文件（zip 炸弹），已拒绝读取"
            in text_of(replies["<bomb@m>"]))
    subs = room.ledger_rows(Submission)
    assert [(s.original_name, s.state) for s in subs] == [("报表.zip", "ignored"), ("南城.xlsx", "current")]
    assert "zip 炸弹" in subs[0].reason


def test_held_returns_are_answered_as_not_counted_and_only_to_their_sender(room: Room) -> None:
    last_year = room.workbook("去年.xlsx", "西山县中小企业局", **CLEAN, year=YEAR - 1)
    unknown = room.workbook("未知.xlsx", "不在名单的局", **CLEAN)
    fine = room.workbook("东城.xlsx", "东城区科技局", **CLEAN)
    # 东城 sends its own return and, by mistake, 西山's return of last year in one message.
    room.deliver(client_message("dongcheng@example.gov.cn", "报表两份", [("东城.xlsx", fine), ("西山去年.xlsx", last_year)],
                                message_id="mixed@m"))
    room.deliver(client_message("nancheng@example.gov.cn", "报表", [("南城.xlsx", unknown)], message_id="unknown@m"))
    room.watch_once()

    subs = {s.original_name: s for s in room.ledger_rows(Submission)}
    assert {k: s.state for k, s in subs.items()} == {"东城.xlsx": "current", "西山去年.xlsx": "held", "南城.xlsx": "held"}
    by_thread: dict[str, list[EmailMessage]] = {}
    for received in room.store.received:
        by_thread.setdefault(str(received.message["In-Reply-To"]), []).append(received.message)
    roster = {"dongcheng@example.gov.cn", "dc-office@example.gov.cn", "xishan@example.gov.cn",
              "nancheng@example.gov.cn", "beihu@example.gov.cn"}
    assert all(set(r.rcpt_tos) <= roster for r in room.store.received)  # never a stranger
    mixed = {str(m["Subject"]).partition("】")[0] + "】": m for m in by_thread["<mixed@m>"]}
    assert set(mixed) == {"【通过（有提示）】", "【未受理】"} and len(by_thread["<mixed@m>"]) == 2
    report, held = mixed["【通过（有提示）】"], mixed["【未受理】"]
    assert attachment_names(report) == ["东城_批注.xlsx"]  # the held return is not in the report
    assert str(held["Subject"]) == f"【未受理】西山去年.xlsx：年度不符：本任务为 {YEAR} 年，此文件填的是 {YEAR - 1} 年"
    assert attachment_names(held) == [] and "已收到“西山去年.xlsx”，但未受理，未计入本次报送" in text_of(held)
    # To the unit that sent it, not to the unit the held file names (西山 sent nothing).
    assert [a.addr_spec for a in held["To"].addresses] == ["dongcheng@example.gov.cn"]
    assert not any("xishan@example.gov.cn" in r.rcpt_tos for r in room.store.received)
    [nancheng] = by_thread["<unknown@m>"]
    subject = str(nancheng["Subject"])
    assert subject.startswith("【未受理】南城.xlsx：单位“不在名单的局”不在本任务的名单中") and "通过" not in subject
    assert "未计入本次报送" in text_of(nancheng) and attachment_names(nancheng) == []
    status = {r["code"]: r["status"] for r in json.loads(room.run("status", ROUND, "--json").output)["rows"]}
    assert status == {"3001": "通过（有提示）", "3002": "未报送", "3003": "未报送", "3004": "未报送"}
    room.watch_once()  # nothing new: nothing answered again
    assert sum(len(v) for v in by_thread.values()) == len(room.store.received) == 3


def test_a_mail_bomb_of_1000_messages_is_taken_once_each_in_capped_passes(room: Room) -> None:
    units = [("东城区科技局", "dongcheng"), ("西山县中小企业局", "xishan"), ("南城区商务局", "nancheng"),
             ("北湖县工信局", "beihu")]
    returns: list[tuple[str, str, bytes]] = []  # (address, file name, bytes): 8 versions, each unit twice
    for version in range(2):
        for unit, address in units:
            name = f"{unit}_{version}.xlsx"
            returns.append((address, name, room.workbook(name, unit, **{**CLEAN, "spent_city": 30 + version})))
    last_year = room.workbook("去年.xlsx", "东城区科技局", **CLEAN, year=YEAR - 1)
    with_files: list[bytes] = []
    for n, (address, name, data) in enumerate(returns):
        with_files.append(client_message(f"{address}@example.gov.cn", "报表", [(name, data)], message_id=f"ret-{n}@m"))
    for n, (address, name, data) in enumerate(returns[4:]):  # the latest again: "已收到，与 … 相同"
        with_files.append(client_message(f"{address}@example.gov.cn", "再发", [(f"副本{name}", data)],
                                         message_id=f"again-{n}@m"))
    with_files.append(client_message("dongcheng@example.gov.cn", "去年的", [("去年.xlsx", last_year)],
                                     message_id="year@m"))
    answered = {f"<ret-{n}@m>" for n in range(8)} | {f"<again-{n}@m>" for n in range(4)} | {"<year@m>"}
    noise: list[bytes] = []
    for n in range(1000 - len(with_files)):
        kind = n % 4
        if kind == 0:  # strangers with an attachment (a stranger's return among them)
            files = [("北湖.xlsx", returns[3][2])] if n % 100 == 0 else [("广告.txt", f"促销 {n}".encode())]
            noise.append(client_message(f"spam{n}@qq.com", f"优惠{n}", files, message_id=f"spam-{n}@m"))
        elif kind == 1:  # strangers without one
            noise.append(client_message(f"x{n}@163.com", f"你好{n}", [], message_id=f"hi-{n}@m"))
        elif kind == 2:  # units that forgot the attachment
            noise.append(client_message(f"{units[n % 4][1]}@example.gov.cn", f"忘了附件{n}", [], message_id=f"bare-{n}@m"))
        else:  # out-of-office answers from a unit, with its file
            noise.append(client_message("xishan@example.gov.cn", "自动回复", [("西山.xlsx", returns[1][2])],
                                        message_id=f"auto-{n}@m", extra=b"Auto-Submitted: auto-replied\r\n"))
    flood = noise[:]
    for n, raw in enumerate(with_files):  # the returns spread through the flood, in their order
        flood.insert(n * 75, raw)
    sent_ids = [f"<{raw.split(b'Message-ID: <')[1].split(b'>')[0].decode()}>" for raw in flood]
    assert len(flood) == len(set(sent_ids)) == 1000
    room.imap.append_many(BUREAU, flood)

    started = time.monotonic()
    first = room.watch_once()  # the default cap: 200 messages a pass
    assert "本遍只处理最早的 200 封" in first.output and "还有 800 封待处理" in first.output
    assert len(room.imap.message_ids(BUREAU, PROCESSED_FOLDER)) == 200
    assert len(room.imap.message_ids(BUREAU)) == 800
    runs = 1
    while room.imap.message_ids(BUREAU) and runs < 10:
        room.run(*room.watch_args("--once", "--max-messages", "300"))
        runs += 1
    elapsed = time.monotonic() - started
    assert runs == 4, runs  # 200, then 300, 300 and the last 200
    again = room.watch_once()  # nothing left: nothing taken, nothing answered
    assert "本遍：登记 0 封，暂存待处理 0 封，回复 0 封" in again.output
    print(f"1000 messages in {runs} passes: {elapsed:.1f} s")

    assert room.imap.message_ids(BUREAU) == []
    processed = room.imap.message_ids(BUREAU, PROCESSED_FOLDER)
    assert sorted(processed) == sorted(sent_ids)  # every message moved, exactly once
    mails = room.ledger_rows(MailMessage)
    assert sorted(m.message_id for m in mails) == sorted(sent_ids)  # each recorded once
    assert {m.message_id for m in mails if m.state == MAIL_TAKEN} == answered
    replies = room.replies()  # asserts that none was answered twice
    assert set(replies) == answered and len(room.store.received) == len(answered)
    roster = {"dongcheng@example.gov.cn", "dc-office@example.gov.cn", "xishan@example.gov.cn",
              "nancheng@example.gov.cn", "beihu@example.gov.cn"}
    assert all(set(r.rcpt_tos) <= roster for r in room.store.received)  # no stranger answered
    assert str(replies["<year@m>"]["Subject"]).startswith("【未受理】")
    assert all(str(replies[f"<again-{n}@m>"]["Subject"]).startswith("【已收到】") for n in range(4))
    rows = room.ledger_rows(Reply)
    assert len(rows) == len(answered) and all(r.outcome == REPLY_SENT for r in rows)
    subs = room.ledger_rows(Submission)
    states = [s.state for s in subs]
    assert len(subs) == 13 and states.count("current") == 4 and states.count("superseded") == 4
    assert states.count("repeat") == 4 and states.count("held") == 1
    status = {r["code"]: r["status"] for r in json.loads(room.run("status", ROUND, "--json").output)["rows"]}
    assert status == dict.fromkeys(("3001", "3002", "3003", "3004"), "通过（有提示）")


WAITING_WATCHER = """
import datetime as dt, pathlib, sys, time
from xlperf.cli import main

class WaitsForever:
    # The rate limit's wait: tell the test (the event), then wait until killed.
    t = 1000.0
    def monotonic(self): return self.t
    def sleep(self, seconds):
        pathlib.Path(sys.argv[1]).write_text(str(seconds))
        time.sleep(3600)
    def now(self): return dt.datetime(2025, 3, 3, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

main(sys.argv[2:], obj={"clock": WaitsForever()})
"""


def test_watcher_killed_in_the_rate_wait_leaves_the_reply_due_and_sends_it_once(room: Room, tmp_path: Path) -> None:
    for n, (unit, address) in enumerate([("东城区科技局", "dongcheng"), ("西山县中小企业局", "xishan")]):
        room.deliver(client_message(f"{address}@example.gov.cn", "报表", [(f"{n}.xlsx", room.workbook(
            f"{n}.xlsx", unit, **CLEAN))], message_id=f"wait-{n}@m"))
    waiting = tmp_path / "waiting"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]), os.environ.get("PYTHONPATH", "")]),
           USER_ENV: BUREAU, PASSWORD_ENV: PASSWORD}
    env.pop("XLPERF_SIGNING_KEY", None)
    watcher = subprocess.Popen([sys.executable, "-c", WAITING_WATCHER, str(waiting), *room.args(),
                                *room.watch_args("--once")], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120  # a bound on a hang, not the event: the event is the file
        while not waiting.exists() and watcher.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert waiting.exists(), watcher.stdout.read().decode() if watcher.poll() is not None else "no wait"
    finally:
        watcher.send_signal(signal.SIGKILL)  # in the middle of the rate-limit wait before the second reply
        watcher.wait()
        assert watcher.stdout is not None
        watcher.stdout.close()
    assert len(room.store.received) == 1  # the first reply went; the second waited
    rows = room.ledger_rows(Reply)
    assert sorted(r.outcome for r in rows) == ["claimed", "sent"]  # taken by the dead watcher, never begun
    assert all(r.tries == 1 for r in rows if r.outcome == "sent") and all(
        r.tries == 0 and r.message_id == "" for r in rows if r.outcome != "sent")
    result = room.watch_once()  # the next watcher: due again, sent once; nothing uncertain
    assert "待确认" not in room.run("messages", ROUND).output, result.output
    assert sorted(r.outcome for r in room.ledger_rows(Reply)) == ["sent", "sent"]
    assert sorted(room.replies()) == ["<wait-0@m>", "<wait-1@m>"] and len(room.store.received) == 2
