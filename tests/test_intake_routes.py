"""One way in (issue 20) and the rules every route keeps (issue 21): the same files given to folder
intake, to a desk upload (real HTTP to ``xlperf serve``) and to the mailbox (Dovecot, aiosmtpd)
give the same ledger rows; an e-mailed file is hashed once; a message is known by Message-ID and
content; a round's rules hold on every route; a return from another unit's address is held; zips
are unpacked one nested level and capped; the watcher's workers come from a fork server."""

from __future__ import annotations

import io
import json
import os
import urllib.parse
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
from browser import Desk, browser, desk, serving  # noqa: F401  (fixtures)
from click.testing import CliRunner
from deskclient import csrf_of, signed_in_local
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from selenium.webdriver.common.by import By
from sqlalchemy import select
from test_watch import (  # noqa: F401  (the room fixture)
    BUREAU,
    PASSWORD,
    REJECTED,
    ROSTER,
    ROUND,
    SENDER,
    Room,
    client_message,
    room,
    text_of,
)
from test_web_browser import _upload as upload_in_page

from xlperf.cli import main
from xlperf.intake.archive import MAX_FILES
from xlperf.intake.imapconf import ImapConfig
from xlperf.intake.mailtake import take_message
from xlperf.intake.mime import parse_message
from xlperf.intake.watch import Watcher
from xlperf.ledger import find_round, open_ledger
from xlperf.ledger.models import MAIL_TAKEN, Event, MailMessage, Result, Submission
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.mail.config import SmtpConfig
from xlperf.read.inbox import not_a_return

KEY = "a-test-signing-key-of-32-bytes!!"


def zip_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def docx(text: str) -> bytes:
    """A small real Word document (the parts Word needs to open it)."""
    return zip_of({
        "[Content_Types].xml": '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
        'package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.wordprocessingml.document.main+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="r1" Type="http://schemas.openxmlformats.org/officeDocument/'
        '2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>',
        "word/document.xml": '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats'
        f'.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>'})


def rows_of(room: Room, round_name: str) -> list[tuple[Any, ...]]:  # noqa: F811
    """What the ledger recorded for a round, apart from where each file came from and when."""
    ledger = open_ledger(room.db, room.files)
    try:
        with ledger.session() as session:
            rnd = find_round(session, round_name)
            subs = session.scalars(select(Submission).where(Submission.round_id == rnd.id).order_by(Submission.id))
            rows = []
            for s in subs:
                result = session.get(Result, s.result_id) if s.result_id else None
                rows.append((s.original_name, s.state, s.unit_name, s.form, s.reason, result and result.status))
            return rows
    finally:
        ledger.close()


@pytest.fixture
def served(room: Room) -> Iterator[str]:  # noqa: F811
    """``xlperf serve`` on the room's ledger (a subprocess, real HTTP); yields its start URL."""
    env = {"XLPERF_STORE": str(room.files)}
    with serving(room.db, room.files.parent, "--workers", "1", env=env) as desk_server:
        yield desk_server.url


def http_upload(start_url: str, round_id: int, files: list[tuple[str, bytes]]) -> httpx.Response:
    parts = urllib.parse.urlsplit(start_url)
    base = f"{parts.scheme}://{parts.netloc}"
    with httpx.Client(follow_redirects=True, timeout=120) as client:
        assert client.get(start_url).status_code == 200
        token = csrf_of(client.get(f"{base}/rounds/{round_id}/upload").text)
        return client.post(f"{base}/rounds/{round_id}/upload", headers={"X-CSRF-Token": token, "Accept": "application/json"},
                           files=[("files", (name, data, "application/octet-stream")) for name, data in files])


def round_id(room: Room, name: str) -> int:  # noqa: F811
    ledger = open_ledger(room.db, room.files)
    try:
        with ledger.session() as session:
            return find_round(session, name).id
    finally:
        ledger.close()


# ---------------------------------------------------------------- one way in


def test_the_same_zip_docx_and_xlsx_give_the_same_rows_on_every_route(room: Room, served: str,  # noqa: F811
                                                                       tmp_path: Path) -> None:
    first = room.workbook("初稿.xlsx", "西山县中小企业局", **REJECTED)
    final = room.workbook("定稿.xlsx", "西山县中小企业局", **CLEAN)
    inner = zip_of({"说明（内层）.docx": docx("内层说明")})
    files = [("西山报表.zip", zip_of({"西山/自评表_初稿.xlsx": first, "附件/内层.zip": inner})),
             ("说明.docx", docx("报送说明")), ("自评表_定稿.xlsx", final)]
    roster = write_roster(tmp_path / "roster", ROSTER)
    for name in ("文件夹", "上传"):
        room.run("new", name, "--form", FORM, "--year", str(YEAR), "--roster", str(roster))

    folder = tmp_path / "inbox"
    folder.mkdir()
    for age, (name, data) in enumerate(files):
        path = folder / name
        path.write_bytes(data)
        os.utime(path, (1_700_000_000 + age, 1_700_000_000 + age))  # the order they were given in
    room.run("intake", "文件夹", str(folder), ok=(1,))
    response = http_upload(served, round_id(room, "上传"), files)
    assert response.status_code == 200, response.text
    assert [r["given"] for r in response.json()["results"]] == [0, 0, 0, 0, 1, 2]
    room.deliver(client_message("xishan@example.gov.cn", "西山报表", files, message_id="xs-routes@m"))
    room.watch_once()

    docx_reason = not_a_return(Path("说明.docx"))
    expected = [
        ("西山报表.zip", "ignored", "", None, "压缩包，已解压其中的 2 个文件，逐个登记", None),
        ("自评表_初稿.xlsx", "superseded", "西山县中小企业局", FORM, "", "rejected"),
        ("内层.zip", "ignored", "", None, "压缩包，已解压其中的 1 个文件，逐个登记", None),
        ("说明（内层）.docx", "ignored", "", None, docx_reason, None),
        ("说明.docx", "ignored", "", None, docx_reason, None),
        ("自评表_定稿.xlsx", "current", "西山县中小企业局", FORM, "", "accepted_with_warnings"),
    ]
    assert rows_of(room, "文件夹") == expected
    assert rows_of(room, "上传") == expected
    assert rows_of(room, ROUND) == expected
    # The mail's unit is answered about the returns and the document, not about the zips themselves.
    reply_subjects = sorted(str(m.message["Subject"]) for m in room.store.received)
    assert reply_subjects == ["【已收到】说明（内层）.docx、说明.docx",
                              f"【通过（有提示）】{YEAR}年度财政支出项目绩效自评表审核结果（西山县中小企业局）"]


def test_an_emailed_file_is_hashed_once(db: LedgerDb, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import xlperf.ledger.store as store

    roster = write_roster(tmp_path, ROSTER)
    db.run("new", ROUND, "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    workbook = make_return(tmp_path / "x.xlsx", "东城区科技局", **CLEAN).read_bytes()
    member = make_return(tmp_path / "y.xlsx", "东城区科技局", **{**CLEAN, "released": 39}).read_bytes()
    archive = zip_of({"材料/自评表_修改.xlsx": member})
    raw = client_message("dongcheng@example.gov.cn", "报表", [("自评表.xlsx", workbook), ("材料.zip", archive)],
                         message_id="hash-once@m")
    hashed: list[bytes] = []
    real = store.sha256_of

    def counting(data: bytes) -> str:
        hashed.append(bytes(data))
        return real(data)

    monkeypatch.setattr(store, "sha256_of", counting)
    ledger = db.open()
    try:
        with ledger.session() as session:
            rnd = find_round(session, ROUND)
            session.expunge(rnd)
            units = units_of(session, rnd.id)
        taken = take_message(ledger, rnd, roster_of(rnd, units), parse_message(raw))
    finally:
        ledger.close()
    assert sorted(hashed) == sorted([workbook, archive, member])
    assert [o.name for o in taken.outcomes] == ["自评表.xlsx", "材料.zip", "自评表_修改.xlsx"]


# ---------------------------------------------------------------- Message-ID and sender


def test_a_reused_message_id_with_other_content_is_taken_and_answered(room: Room) -> None:  # noqa: F811
    east = client_message("dongcheng@example.gov.cn", "东城报表",
                          [("东城.xlsx", room.workbook("东城.xlsx", "东城区科技局", **CLEAN))], message_id="same@m")
    room.deliver(east)
    room.deliver(client_message("xishan@example.gov.cn", "西山报表",
                                [("西山.xlsx", room.workbook("西山.xlsx", "西山县中小企业局", **CLEAN))],
                                message_id="same@m"))
    room.deliver(east)  # the very same message again (delivered twice): taken once
    room.watch_once()
    mails = room.ledger_rows(MailMessage)
    assert [(m.message_id, m.sender, m.state) for m in mails] == [
        ("<same@m>", "dongcheng@example.gov.cn", MAIL_TAKEN), ("<same@m>", "xishan@example.gov.cn", MAIL_TAKEN)]
    assert [(s.original_name, s.state) for s in room.ledger_rows(Submission)] == [("东城.xlsx", "current"),
                                                                                 ("西山.xlsx", "current")]
    to = sorted(str(m.message["To"]) for m in room.store.received)
    assert len(to) == 2 and "xishan@example.gov.cn" in to[1] and "dongcheng@example.gov.cn" in to[0]
    assert room.imap.messages(BUREAU) == []


def test_a_return_from_another_units_address_is_held_and_answered_only_to_its_sender(room: Room) -> None:  # noqa: F811
    accepted = room.workbook("西山.xlsx", "西山县中小企业局", **CLEAN)
    other = room.workbook("西山_改.xlsx", "西山县中小企业局", **{**CLEAN, "released": 39})
    room.deliver(client_message("xishan@example.gov.cn", "西山报表", [("西山.xlsx", accepted)], message_id="x1@m"))
    room.watch_once()
    room.deliver(client_message("dongcheng@example.gov.cn", "西山的报表", [("西山_改.xlsx", other)], message_id="d1@m"))
    room.watch_once()
    subs = room.ledger_rows(Submission)
    assert [(s.original_name, s.state) for s in subs] == [("西山.xlsx", "current"), ("西山_改.xlsx", "held")]
    assert subs[1].reason == ("发件地址 dongcheng@example.gov.cn 不是名单中“西山县中小企业局”的邮箱：此报表暂存，"
                              "待财政局工作人员核实，未计入该单位的报送；请由该单位名单中的邮箱报送")
    status = {r["code"]: r["status"] for r in json.loads(room.run("status", ROUND, "--json").output)["rows"]}
    assert status["3002"] == "通过（有提示）"
    answer = [m.message for m in room.store.received if str(m.message["In-Reply-To"]) == "<d1@m>"]
    assert len(answer) == 1
    recipients = [a.addr_spec for key in ("To", "Cc") for h in answer[0].get_all(key, []) for a in h.addresses]
    assert "xishan@example.gov.cn" not in recipients and recipients[0] == "dongcheng@example.gov.cn"
    assert str(answer[0]["Subject"]).startswith("【未受理】西山_改.xlsx")
    assert not [p for p in answer[0].iter_attachments()]  # no report of 西山's return goes to 东城


# ---------------------------------------------------------------- the round's rules on every route


def test_a_round_that_requires_signatures_takes_nothing_on_any_route_without_the_key(
        room: Room, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    roster = write_roster(tmp_path / "roster", ROSTER)
    room.run("new", "签名", "--form", FORM, "--year", str(YEAR), "--roster", str(roster), "--require-signature")
    unsigned = room.workbook("东城.xlsx", "东城区科技局", **CLEAN)
    room.deliver(client_message("dongcheng@example.gov.cn", "报表", [("东城.xlsx", unsigned)], message_id="u1@m"))
    args = ["watch", "签名", *room.watch_args("--once")[2:]]
    refused = room.run(*args, ok=(2,))
    assert "要求签名" in refused.output
    assert len(room.imap.messages(BUREAU)) == 1 and room.ledger_rows(MailMessage) == []
    folder = tmp_path / "inbox"
    folder.mkdir()
    (folder / "东城.xlsx").write_bytes(unsigned)
    assert "要求签名" in room.run("intake", "签名", str(folder), ok=(2,)).output

    monkeypatch.delenv("XLPERF_SIGNING_KEY", raising=False)
    monkeypatch.delenv("XLPERF_KEY_FILE", raising=False)
    ledger = open_ledger(room.db, room.files)
    try:
        client = signed_in_local(ledger)
        rid = round_id(room, "签名")
        response = client.post(f"/rounds/{rid}/upload", files=[("files", ("东城.xlsx", unsigned, "application/octet-stream"))],
                               data={"csrf_token": csrf_of(client.get(f"/rounds/{rid}/upload").text)},
                               headers={"accept": "application/json"})
    finally:
        ledger.close()
    assert response.status_code == 409
    assert [(r["name"], r["kind"], r["given"]) for r in response.json()["results"]] == [("东城.xlsx", "refused", 0)]
    assert "要求签名" in response.json()["results"][0]["line"]
    assert room.ledger_rows(Submission) == []


def test_with_the_key_the_watcher_holds_an_unsigned_return(room: Room, tmp_path: Path,  # noqa: F811
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    roster = write_roster(tmp_path / "roster", ROSTER)
    room.run("new", "签名", "--form", FORM, "--year", str(YEAR), "--roster", str(roster), "--require-signature")
    room.deliver(client_message("dongcheng@example.gov.cn", "报表",
                                [("东城.xlsx", room.workbook("东城.xlsx", "东城区科技局", **CLEAN))], message_id="u2@m"))
    monkeypatch.setenv("XLPERF_SIGNING_KEY", KEY)
    lines: list[str] = []
    ledger = open_ledger(room.db, room.files)
    try:
        with ledger.session() as session:
            rnd = find_round(session, "签名")
        watcher = Watcher(ledger, rnd, ImapConfig("127.0.0.1", room.imap.port, "none", BUREAU, PASSWORD),
                          smtp=SmtpConfig("127.0.0.1", room.smtp.port, "none"), sender=SENDER, clock=room.clock,
                          log=lines.append)
        try:
            watcher.one_pass()
            # The workers that checked the file were started by the fork server, not forked
            # from this process (which holds the database engine and the recording thread).
            idle = watcher.checkers.idle()
            assert idle and all(psutil.Process(pid).ppid() != os.getpid() for pid in idle)
        finally:
            watcher.close()
    finally:
        ledger.close()
    subs = room.ledger_rows(Submission)
    assert [(s.original_name, s.state, s.reason) for s in subs] == [
        ("东城.xlsx", "held", "本任务要求使用财政局下发的签名模板，此文件没有签名：请用下发的模板重新填报")]
    (answer,) = [m.message for m in room.store.received]
    assert str(answer["Subject"]).startswith("【未受理】东城.xlsx")


# ---------------------------------------------------------------- zips


def test_nested_zips_caps_and_short_subjects_by_mail(room: Room) -> None:  # noqa: F811
    many = zip_of({f"文件{n:03}.txt": b"x" for n in range(MAX_FILES + 50)})
    notes = zip_of({f"说明{n}.txt": f"说明 {n}".encode() for n in range(5)})
    deep = zip_of({"第二层.zip": zip_of({"第三层.zip": zip_of({"东城.xlsx": b"PK"})})})
    room.deliver(client_message("dongcheng@example.gov.cn", "很多文件", [("很多.zip", many)], message_id="many@m"))
    room.deliver(client_message("xishan@example.gov.cn", "说明", [("说明.zip", notes)], message_id="notes@m"))
    room.deliver(client_message("nancheng@example.gov.cn", "套娃", [("第一层.zip", deep)], message_id="deep@m"))
    room.watch_once()
    subs = room.ledger_rows(Submission)
    by_sender: dict[str, list[tuple[str, str]]] = {}
    for s in subs:
        by_sender.setdefault(s.sender, []).append((s.original_name, s.reason))
    assert by_sender["dongcheng@example.gov.cn"] == [(
        "很多.zip", f"压缩包“很多.zip”中有 {MAX_FILES + 50} 个文件，超过上限（每封邮件、每次上传或每个压缩包最多 {MAX_FILES} 个文件），"
        f"未解压、未审核：请分成每次不超过 {MAX_FILES} 个文件重新报送")]
    assert [name for name, _ in by_sender["nancheng@example.gov.cn"]] == ["第一层.zip", "第二层.zip", "第三层.zip"]
    assert "只解开一层嵌套" in by_sender["nancheng@example.gov.cn"][2][1]
    replies = {str(m.message["In-Reply-To"]): m.message for m in room.store.received}
    assert set(replies) == {"<many@m>", "<notes@m>", "<deep@m>"}
    assert str(replies["<many@m>"]["Subject"]) == "【已收到】很多.zip"
    assert str(replies["<notes@m>"]["Subject"]) == "【已收到】说明0.txt、说明1.txt、说明2.txt等 5 个文件"
    assert "请解压后" not in text_of(replies["<deep@m>"])
    assert "已收到“第三层.zip”：压缩包里的压缩包中又有压缩包" in text_of(replies["<deep@m>"])


def test_an_empty_zip_uploaded_gets_its_row(room: Room, served: str) -> None:  # noqa: F811
    response = http_upload(served, round_id(room, ROUND), [("空.zip", zip_of({})), ("说明.txt", b"x")])
    assert response.status_code == 200
    assert [(r["name"], r["kind"], r["given"]) for r in response.json()["results"]] == [
        ("空.zip", "ignored", 0), ("说明.txt", "ignored", 1)]
    assert "压缩包中没有文件" in response.json()["results"][0]["line"]


def test_a_form_mismatch_names_the_forms_by_title_and_the_route_in_chinese(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path, ROSTER)
    db.run("new", ROUND, "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    make_return(tmp_path / "inbox" / "目标表.xlsx", "东城区科技局", form="target_declaration")
    out = db.run("intake", ROUND, str(tmp_path / "inbox"), "--sender", "演示收件箱", ok=(1,)).output
    assert "表单不符：本任务收“财政支出项目绩效自评表”，此文件是“项目支出绩效目标申报表”" in out
    assert "self_evaluation" not in out and "target_declaration" not in out
    ledger = db.open()
    try:
        with ledger.session() as session:
            notes = list(session.scalars(select(Event.note).where(Event.kind == "received")))
    finally:
        ledger.close()
    assert notes == ["文件夹 演示收件箱"]  # the desk's 操作记录: the route in Chinese, not "folder"



def test_the_upload_page_finishes_for_an_empty_zip_in_chromium(desk: Desk, browser, tmp_path: Path) -> None:  # noqa: F811
    """The page's script fills every file's row from the results that name it: an empty zip
    reads 未审核 with its reason, never stays at 审核中…"""
    roster = write_roster(tmp_path / "roster", ROSTER)
    created = CliRunner().invoke(main, ["round", "--db", desk.db, "new", "空包", "--form", FORM, "--year", str(YEAR),
                                        "--roster", str(roster)], env={"XLPERF_STORE": None})
    assert created.exit_code == 0, created.output
    empty = tmp_path / "空.zip"
    empty.write_bytes(zip_of({}))
    note = tmp_path / "说明.txt"
    note.write_text("请查收")
    browser.get(desk.url)
    browser.get(f"{desk.base}/rounds/1/upload")
    assert upload_in_page(browser, [empty, note]) == [("空.zip", "ignored"), ("说明.txt", "ignored")]
    texts = [row.text for row in browser.find_elements(By.CSS_SELECTOR, "#upload-results tbody tr")]
    assert not any("审核中" in text for text in texts) and "压缩包中没有文件" in texts[0]


def test_a_folder_zip_over_the_cap_is_one_row_and_a_nested_one_shares_the_cap(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path, ROSTER)
    db.run("new", ROUND, "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "很多.zip").write_bytes(zip_of({f"{n}.txt": b"x" for n in range(MAX_FILES + 1)}))
    nested = zip_of({f"内{n}.txt": b"y" for n in range(60)})
    (inbox / "外层.zip").write_bytes(zip_of({**{f"外{n}.txt": b"z" for n in range(150)}, "内层.zip": nested}))
    os.utime(inbox / "很多.zip", (1_700_000_000, 1_700_000_000))  # taken first (oldest first)
    db.run("intake", ROUND, str(inbox))
    ledger = db.open()
    try:
        with ledger.session() as session:
            subs = list(session.scalars(select(Submission).order_by(Submission.id)))
    finally:
        ledger.close()
    zips = [(s.original_name, s.reason) for s in subs if s.original_name.endswith(".zip")]
    assert zips == [
        ("很多.zip", f"压缩包“很多.zip”中有 {MAX_FILES + 1} 个文件，超过上限（每封邮件、每次上传或每个压缩包最多 "
                    f"{MAX_FILES} 个文件），未解压、未审核：请分成每次不超过 {MAX_FILES} 个文件重新报送"),
        ("外层.zip", "压缩包，已解压其中的 151 个文件，逐个登记"),
        ("内层.zip", f"压缩包“内层.zip”中有 60 个文件，超过上限（每封邮件、每次上传或每个压缩包最多 {MAX_FILES} 个文件，"
                    f"其中 150 个已被此前的文件占用），未解压、未审核：请分成每次不超过 {MAX_FILES} 个文件重新报送")]
    assert len(subs) == 1 + 150 + 1 + 1
