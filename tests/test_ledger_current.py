"""Which return of a unit is current (issue 21) and revalidation after a roster change (issue 20),
on SQLite and a real PostgreSQL, through the commands and routes a clerk and the bureau use:

- a blank-project return and its correction count once; status, summary and 汇总 agree; a 退回
  return never enters 汇总;
- several current returns a blank one could replace: held for staff;
- the bureau's own files (the annotated copy made by ``xlperf check --report-dir``, the blank
  template made by ``xlperf template``) held with a reply that says why; the same values under
  other bytes (an auto-responder's echo) are repeats, not versions;
- an older file (its core.xml saved time) taken later never replaces the newer; no evidence of
  order: held;
- ``round roster`` then ``round revalidate`` holds a return whose unit left the roster, and
  ``--held`` takes it in again once the unit is back.
"""

from __future__ import annotations

import datetime as dt
import json
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from ledger_support import CLEAN, FORM, ROSTER, YEAR, LedgerDb, make_return, set_saved, write_roster
from sqlalchemy import select, text

from xlperf.cli import main
from xlperf.intake import intake_files
from xlperf.intake.mailtake import NOTICE, take_message
from xlperf.intake.mime import parse_message
from xlperf.intake.outbox import _compose
from xlperf.ledger import find_round
from xlperf.ledger.models import Reply, Submission
from xlperf.ledger.rounds import roster_of, units_of

T0 = dt.datetime(2025, 3, 3, 0, 0, 0)
"""A morning's saved times (UTC) for returns whose order the test sets."""


@pytest.fixture
def rnd(db: LedgerDb, tmp_path: Path) -> str:
    roster = write_roster(tmp_path / "roster")
    db.run("new", "2024自评", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    return "2024自评"


def status_rows(db: LedgerDb, rnd: str) -> dict[str, dict]:
    doc = json.loads(db.run("status", rnd, "--json").output)
    return {row["code"]: row for row in doc["rows"]}


def states(db: LedgerDb) -> dict[str, tuple[str, str]]:
    with db.open().session() as session:
        return {s.original_name: (s.state, s.reason) for s in session.scalars(select(Submission).order_by(Submission.id))}


def sheet_rows(path: Path, sheet: str) -> list[tuple]:
    wb = openpyxl.load_workbook(path, read_only=True)
    return [r for r in wb[sheet].iter_rows(min_row=2, values_only=True) if any(v is not None for v in r)]


def test_a_blank_project_return_and_its_correction_count_once(db: LedgerDb, rnd: str, tmp_path: Path) -> None:
    blank = make_return(tmp_path / "1" / "东城_自评.xlsx", "东城区科技局", age=600, project_name=None, **CLEAN)
    assert "退回" in db.run("intake", rnd, str(blank), ok=(1,)).output
    fixed = make_return(tmp_path / "2" / "东城_自评_改.xlsx", "东城区科技局", age=60, **CLEAN)
    out = db.run("intake", rnd, str(fixed)).output
    assert "东城区科技局：通过（有提示）（取代 #1）" in out
    assert states(db) == {"东城_自评.xlsx": ("superseded", ""), "东城_自评_改.xlsx": ("current", "")}
    row = status_rows(db, rnd)["3001"]
    assert (row["status"], row["versions"], row["submission"]) == ("通过（有提示）", 2, 2)

    # A unit whose only return the checks rejected: listed, never in the totals.
    bad = make_return(tmp_path / "3" / "西山_自评.xlsx", "西山县中小企业局", **{**CLEAN, "spent_city": 60})
    db.run("intake", rnd, str(bad), ok=(1,))
    assert status_rows(db, rnd)["3002"]["status"] == "退回"
    summary = tmp_path / "汇总.xlsx"
    db.run("rollup", rnd, "-o", str(summary))
    projects = sheet_rows(summary, "汇总")
    totals = [r for r in projects if r[1] is None and r[2] is None]
    counted = [r for r in projects if r not in totals]
    assert [(r[2], r[6], r[15]) for r in counted] == [("东城区科技局", 40, "东城_自评_改.xlsx")]  # once, budget 40
    inventory = {r[1]: r[11] for r in sheet_rows(summary, "清单")}
    assert inventory == {"东城_自评_改.xlsx": "计入汇总", "西山_自评.xlsx": "未汇总：报表被退回"}
    missing = {r[0]: r[5] for r in sheet_rows(summary, "未报送")}
    assert missing == {"3002": "报表被退回：西山_自评.xlsx", "3003": "未收到报表", "3004": "未收到报表"}

    # Staff send the accepted one back: it leaves the totals as the status says 退回.
    db.run("return", rnd, "2", "--note", "缺盖章页")
    assert status_rows(db, rnd)["3001"]["status"] == "退回"
    db.run("rollup", rnd, "-o", str(summary))
    assert [r for r in sheet_rows(summary, "汇总") if r[2] is not None] == []
    assert {r[1]: r[11] for r in sheet_rows(summary, "清单")}["东城_自评_改.xlsx"] == "未汇总：报表被退回"


def test_a_return_that_fits_no_row_or_several_is_held_for_staff(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "roster", "单位代码,单位名称,主管部门,联系人,邮箱,项目名称\n"
                                               "3001,东城区科技局,市科学技术局,张明,d@example.gov.cn,科技创新券\n"
                                               "3001,东城区科技局,市科学技术局,张明,d@example.gov.cn,孵化器补助\n")
    db.run("new", "项目", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    inbox = tmp_path / "inbox"
    make_return(inbox / "创新券.xlsx", "东城区科技局", age=300, project_name="科技创新券", **CLEAN)
    make_return(inbox / "孵化器.xlsx", "东城区科技局", age=200, project_name="孵化器补助", **CLEAN)
    db.run("intake", "项目", str(inbox))
    # 项目名称 blank: it answers none of the unit's rows, so it replaces neither.
    blank = make_return(tmp_path / "blank" / "无项目.xlsx", "东城区科技局", age=100, project_name=None, **CLEAN)
    out = db.run("intake", "项目", str(blank), ok=(1,)).output
    assert ("暂存待处理  无项目.xlsx  #3：报表未填写项目名称，无法对应到名单中该单位的项目（科技创新券、孵化器补助）"
            "：请填写项目名称后重新报送") in out
    doc = json.loads(db.run("status", "项目", "--json").output)
    assert [(r["project"], r["status"], r["submission"]) for r in doc["rows"]] == [
        ("科技创新券", "通过（有提示）", 1), ("孵化器补助", "通过（有提示）", 2)]
    assert doc["held"] == 1

    # The roster now lists no projects for the unit: it has one row, and two current returns a
    # new one could replace. Nothing is guessed: held until staff decide.
    db.run("roster", "项目", "--roster", str(write_roster(tmp_path / "new")))
    newest = make_return(tmp_path / "newest" / "东城.xlsx", "东城区科技局", age=50, project_name="科技创新券",
                         **{**CLEAN, "spent_city": 30})
    out = db.run("intake", "项目", str(newest), ok=(1,)).output
    assert "暂存待处理  东城.xlsx  #4：无法判断此文件取代哪一份报表：该单位已有 2 份当前有效的报表（#1“创新券.xlsx”、#2“孵化器.xlsx”）" in out
    # Staff void the wrong one and take the held files in again: each replaces the one before.
    db.run("void", "项目", "2", "--note", "项目已合并")
    out = db.run("revalidate", "项目", "--held").output
    assert "#3  东城区科技局  无项目.xlsx：暂存待处理 → 退回" in out and "#4  东城区科技局  东城.xlsx：暂存待处理 → 通过（有提示）" in out
    assert [s for s, _ in states(db).values()] == ["superseded", "superseded", "superseded", "current"]
    row = status_rows(db, "项目")["3001"]
    assert (row["project"], row["submission"], row["versions"]) == ("", 4, 4)


def _mail(sender: str, subject: str, files: list[tuple[str, bytes]], message_id: str, date: dt.datetime) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "czj@example.gov.cn", subject
    msg["Message-ID"], msg["Date"] = message_id, format_datetime(date.replace(tzinfo=dt.timezone.utc))
    msg.set_content("请查收。")
    for name, data in files:
        msg.add_attachment(data, maintype="application", subtype="octet-stream", filename=name)
    return msg.as_bytes()


def test_the_bureaus_own_files_sent_back_are_held_with_a_reply_saying_why(db: LedgerDb, rnd: str,
                                                                           tmp_path: Path) -> None:
    original = make_return(tmp_path / "unit" / "自评表_东城区科技局.xlsx", "东城区科技局", age=600,
                           **{**CLEAN, "spent_city": 60})
    db.run("intake", rnd, str(original), ok=(1,))
    # Our annotated copy, made as every reply makes it, and the blank template the unit was sent.
    reports = tmp_path / "reports"
    checked = CliRunner().invoke(main, ["check", str(original), "--report-dir", str(reports)])
    assert checked.exit_code == 1, checked.output
    annotated = reports / "自评表_东城区科技局_批注.xlsx"
    template = tmp_path / "自评表_东城区科技局_空白.xlsx"
    made = CliRunner().invoke(main, ["template", FORM, "--unit", "东城区科技局", "--year", str(YEAR), "-o", str(template)])
    assert made.exit_code == 0, made.output

    ledger = db.open()
    with ledger.session() as session:
        round_row = find_round(session, rnd)
        roster = roster_of(round_row, units_of(session, round_row.id))
    raw = _mail("dongcheng@example.gov.cn", "回复：【需修改】请问", [(annotated.name, annotated.read_bytes()),
                                                               (template.name, template.read_bytes())],
                "<q1@unit>", dt.datetime(2025, 3, 3, 9))
    taken = take_message(ledger, round_row, roster, parse_message(raw))
    assert [(o.name, o.kind) for o in taken.outcomes] == [(annotated.name, "held"), (template.name, "held")]
    with ledger.session() as session:
        subs = {s.original_name: s for s in session.scalars(select(Submission))}
        assert subs[annotated.name].reason.startswith("这是财政局发回的批注工作簿（审核意见），不是报表")
        assert subs[template.name].reason.startswith("这是未填写的空白模板，不是报表")
        reply = session.scalars(select(Reply).where(Reply.mail_id == taken.mail_id)).one()
        assert reply.kind == NOTICE
        message = _compose(session, reply, "czj@example.gov.cn", dt.datetime(2025, 3, 3, 9, 5, tzinfo=dt.timezone.utc))
    text = message.get_content()
    assert f"已收到“{annotated.name}”，但未受理，未计入本次报送：这是财政局发回的批注工作簿" in text
    assert f"已收到“{template.name}”，但未受理，未计入本次报送：这是未填写的空白模板" in text
    assert str(message["Subject"]).startswith("【未受理】")
    assert status_rows(db, rnd)["3001"]["versions"] == 1  # no new version, nothing current changed

    # An auto-responder echoing the unit's return five times, each a re-save (other bytes, the
    # same values): repeats of the first, not five versions.
    echoes = []
    for n in range(5):
        echo = tmp_path / "echo" / f"{n}" / "自评表_东城区科技局.xlsx"
        echo.parent.mkdir(parents=True)
        echo.write_bytes(original.read_bytes())
        set_saved(echo, T0 + dt.timedelta(hours=1 + n))
        echoes.append((echo.name, echo.read_bytes()))
    assert len({data for _, data in echoes}) == 5
    outcomes = intake_files(ledger, round_row, echoes, source="mail", sender="dongcheng@example.gov.cn").outcomes
    first = next(s.id for s in subs.values() if s.original_name == original.name)
    assert [(o.kind, o.repeat_of) for o in outcomes] == [("repeat", first)] * 5
    ledger.close()
    row = status_rows(db, rnd)["3001"]
    assert (row["versions"], row["submission"]) == (1, first)


def test_an_older_file_taken_later_never_replaces_the_newer(db: LedgerDb, rnd: str, tmp_path: Path) -> None:
    v1 = make_return(tmp_path / "v1" / "东城_v1.xlsx", "东城区科技局", saved=T0, **{**CLEAN, "spent_city": 30})
    v2 = make_return(tmp_path / "v2" / "东城_v2.xlsx", "东城区科技局", saved=T0 + dt.timedelta(minutes=17), **CLEAN)
    db.run("intake", rnd, str(v2))
    # v1 comes later, and its file on the share is even touched later: its saved time decides.
    out = db.run("intake", rnd, str(v1), ok=(1,)).output
    assert "此文件保存于" in out and "早于已收到的 #1“东城_v2.xlsx”" in out
    assert states(db)["东城_v1.xlsx"][0] == "held" and states(db)["东城_v2.xlsx"] == ("current", "")
    row = status_rows(db, rnd)["3001"]
    assert (row["submission"], row["versions"]) == (1, 1)

    # Two versions in one folder (one batch): the one saved later counts, whichever is read first.
    both = tmp_path / "both"
    make_return(both / "北湖_新.xlsx", "北湖县工信局", age=300, saved=T0 + dt.timedelta(minutes=5), **CLEAN)
    make_return(both / "北湖_旧.xlsx", "北湖县工信局", age=100, saved=T0, **{**CLEAN, "spent_city": 30})
    out = db.run("intake", rnd, str(both), ok=(1,)).output
    assert "早于已收到的 “北湖_新.xlsx”" in out
    assert states(db)["北湖_新.xlsx"] == ("current", "") and states(db)["北湖_旧.xlsx"][0] == "held"

    # Uploads whose files say nothing of their order (the same saved time, no message): held.
    ledger = db.open()
    with ledger.session() as session:
        round_row = find_round(session, rnd)
    a = make_return(tmp_path / "u" / "西山_a.xlsx", "西山县中小企业局", saved=T0, **CLEAN).read_bytes()
    b = make_return(tmp_path / "u" / "西山_b.xlsx", "西山县中小企业局", saved=T0, **{**CLEAN, "spent_city": 30}).read_bytes()
    first = intake_files(ledger, round_row, [("西山_a.xlsx", a)], source="upload", sender="staff").outcomes[0]
    second = intake_files(ledger, round_row, [("西山_b.xlsx", b)], source="upload", sender="staff").outcomes[0]
    assert first.kind == "current" and second.kind == "held"
    assert second.reason.startswith(f"无法判断此文件与已收到的 #{first.submission_id}“西山_a.xlsx”哪一份较新")
    # By mail, the message's Date orders files whose saved times agree.
    c = make_return(tmp_path / "m" / "南城_c.xlsx", "南城区商务局", saved=T0, **{**CLEAN, "spent_city": 30}).read_bytes()
    d = make_return(tmp_path / "m" / "南城_d.xlsx", "南城区商务局", saved=T0, **CLEAN).read_bytes()
    later = intake_files(ledger, round_row, [("南城_d.xlsx", d)], source="mail", sender="nancheng@example.gov.cn",
                         sent=dt.datetime(2025, 3, 3, 10)).outcomes[0]
    earlier = intake_files(ledger, round_row, [("南城_c.xlsx", c)], source="mail", sender="nancheng@example.gov.cn",
                           sent=dt.datetime(2025, 3, 3, 9)).outcomes[0]
    ledger.close()
    assert later.kind == "current" and earlier.kind == "held" and "邮件发于" in earlier.reason
    assert status_rows(db, rnd)["3003"]["submission"] == later.submission_id


def test_revalidation_after_a_roster_change_holds_a_return_whose_unit_left(db: LedgerDb, rnd: str,
                                                                          tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    make_return(inbox / "东城.xlsx", "东城区科技局", age=200, **CLEAN)
    make_return(inbox / "西山.xlsx", "西山县中小企业局", age=100, **CLEAN)
    db.run("intake", rnd, str(inbox))
    assert status_rows(db, rnd)["3002"]["status"] == "通过（有提示）"
    ledger = db.open()
    with ledger.engine.begin() as conn:  # as recorded before xlperf kept the saved time
        conn.execute(text("UPDATE submissions SET saved_at = NULL"))
    ledger.close()

    without = write_roster(tmp_path / "new", "\n".join(line for line in ROSTER.splitlines() if "西山" not in line) + "\n")
    out = db.run("roster", rnd, "--roster", str(without)).output
    assert "移出名单 3002 西山县中小企业局" in out
    out = db.run("revalidate", rnd).output
    assert ("#2  西山县中小企业局  西山.xlsx：通过（有提示） → 暂存待处理（单位“西山县中小企业局”不在本任务的名单中" in out)
    assert "已重新审核 2 份，结果变化 1 份" in out
    assert states(db)["西山.xlsx"][0] == "held" and states(db)["东城.xlsx"][0] == "current"
    with db.open().session() as session:  # revalidation gave them their saved time again
        assert all(s.saved_at is not None for s in session.scalars(select(Submission)))
    doc = json.loads(db.run("status", rnd, "--json").output)
    assert [r["code"] for r in doc["rows"]] == ["3001", "3003", "3004"] and doc["held"] == 1
    summary = tmp_path / "s.xlsx"
    db.run("rollup", rnd, "-o", str(summary))
    assert [r[1] for r in sheet_rows(summary, "清单")] == ["东城.xlsx"]

    # Without --held a held file is left alone; with it, once the unit is back, it counts again.
    db.run("roster", rnd, "--roster", str(tmp_path / "roster" / "roster.csv"))
    assert "已重新审核 1 份，结果变化 0 份" in db.run("revalidate", rnd).output
    out = db.run("revalidate", rnd, "--held").output
    assert "#2  西山县中小企业局  西山.xlsx：暂存待处理 → 通过（有提示）" in out
    assert status_rows(db, rnd)["3002"]["status"] == "通过（有提示）"


def test_the_saved_time_of_real_and_hostile_workbooks(tmp_path: Path, lo_recalc) -> None:  # type: ignore[no-untyped-def]
    """The saved time is read, also from a file LibreOffice wrote (it keeps the document's time on
    a conversion); a file without one, a broken zip, an oversized or entity-laden core.xml give
    no time (never an error, never an expansion); an offset is turned into UTC."""
    import zipfile

    from xlperf.read.saved import MAX_CORE_BYTES, saved_time

    filled = make_return(tmp_path / "in" / "东城.xlsx", "东城区科技局", saved=T0, **CLEAN)
    assert saved_time(filled.read_bytes()) == T0
    saved = lo_recalc([filled], tmp_path / "calc")[filled]  # written again by LibreOffice
    assert saved.read_bytes() != filled.read_bytes() and saved_time(saved.read_bytes()) == T0  # kept as written

    def with_core(core: bytes) -> bytes:
        path = tmp_path / "c.xlsx"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("docProps/core.xml", core)
        return path.read_bytes()

    laughs = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "2025-01-01T00:00:00Z">]>'
              b'<cp:coreProperties xmlns:dcterms="http://purl.org/dc/terms/"><dcterms:modified>&a;</dcterms:modified>'
              b"</cp:coreProperties>")
    assert saved_time(with_core(laughs)) is None
    padded = b"<x>" + b" " * MAX_CORE_BYTES + b"<dcterms:modified>2025-01-01T00:00:00Z</dcterms:modified></x>"
    assert saved_time(with_core(padded)) is None
    assert saved_time(with_core(b"<dcterms:modified>2025-01-01T08:00:00+08:00</dcterms:modified>")) == dt.datetime(2025, 1, 1)
    assert saved_time(b"PK\x03\x04broken") is None and saved_time(b"\xd0\xcf\x11\xe0") is None
