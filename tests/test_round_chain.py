"""Rounds that follow rounds (issue 24): ``round new --from-round EARLIER`` links the new round to
EARLIER in the ledger, on SQLite and PostgreSQL; an unknown EARLIER, or forms that do not map onto
each other, make no round. The chained round's templates are prefilled from EARLIER's accepted
returns, locked and signed; ``round issue`` mails each unit its own, once (real SMTP on loopback)."""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

from deskclient import signed_in_local
from ledger_support import FORM, YEAR, LedgerDb, make_return, write_roster
from openpyxl import load_workbook
from servers import SmtpStart
from sqlalchemy import select
from test_ledger_mail import Clock
from test_web_pages import _build as build_output

from xlperf.form.registry import builtin_layout
from xlperf.ledger.models import CURRENT, FOLLOWS_CHAIN, FindingRow, Round, Submission, Unit
from xlperf.web import STAFF


def test_a_round_made_from_an_earlier_round_follows_it(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path)
    db.run("new", "目标申报", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    db.run("new", "运行监控", "--form", FORM, "--year", str(YEAR), "--roster", str(roster), "--from-round", "目标申报")
    refused = db.run("new", "自评", "--form", FORM, "--year", str(YEAR), "--roster", str(roster),
                     "--from-round", "没有这个任务", ok=(2,))
    assert "没有名为“没有这个任务”的报送任务" in refused.output
    ledger = db.open()
    try:
        with ledger.session() as session:
            rounds = {r.name: (r.id, r.follows_id, r.follows_kind) for r in session.scalars(select(Round))}
    finally:
        ledger.close()
    assert set(rounds) == {"目标申报", "运行监控"}
    assert rounds["目标申报"][1:] == (None, "")
    assert rounds["运行监控"][1:] == (rounds["目标申报"][0], FOLLOWS_CHAIN)


DECLARATION, MONITORING, SELF_EVALUATION = "target_declaration", "performance_monitoring", "project_self_evaluation"
CHAIN_YEAR = 2022  # the sample declaration's year
PROJECT = "2022年湘潭县中小企业服务体系经费"  # the sample declaration's project
SENDER = "绩效科 <jixiao@czj.example.gov.cn>"
KEY = {"XLPERF_SIGNING_KEY": "chain-test-signing-key-0123456789"}


def _cells(path: Path, sheet: str, addresses: list[str]) -> list[tuple[object, bool]]:
    """(value, locked) of each cell of ``sheet``; the sheet must be protected."""
    workbook = load_workbook(path)
    try:
        ws = workbook[sheet]
        assert ws.protection.sheet is True
        return [(ws[a].value, bool(ws[a].protection.locked)) for a in addresses]
    finally:
        workbook.close()


def test_a_chained_round_issues_prefilled_templates_and_mails_each_unit_once(
        db: LedgerDb, tmp_path: Path, smtp_server: SmtpStart) -> None:
    roster = write_roster(tmp_path)
    year = ["--year", str(CHAIN_YEAR), "--roster", str(roster)]
    for name in ("东城区科技局", "西山县中小企业局", "南城区商务局"):
        make_return(tmp_path / "decl" / f"{name}.xlsx", name, form=DECLARATION)
    db.run("new", "目标申报", "--form", DECLARATION, *year)
    db.run("intake", "目标申报", str(tmp_path / "decl"))
    rows = {r["unit"]: r["submission"] for r in json.loads(db.run("status", "目标申报", "--json").output)["rows"]}
    db.run("return", "目标申报", str(rows["南城区商务局"]), "--note", "目标值不明确")  # staff: no longer accepted

    # Forms that do not map onto each other: refused, naming both, and no round made.
    refused = db.run("new", "坏", "--form", "target_table", *year, "--from-round", "目标申报", ok=(2,))
    assert "“财政项目支出绩效目标表”不能承接“项目支出绩效目标申报表”" in refused.output
    assert "坏" not in db.run("list").output

    db.run("new", "运行监控", "--form", MONITORING, *year, "--deadline", "2022-07-15", "--from-round", "目标申报")
    out = db.run("templates", "运行监控", "-o", str(tmp_path / "t1"), env=KEY).output.splitlines()
    east = f"绩效监控表_东城区科技局_{PROJECT}.xlsx"
    west = f"绩效监控表_西山县中小企业局_{PROJECT}.xlsx"
    assert out == [f"已生成 {east}（东城区科技局，{PROJECT}，2022 年，据 东城区科技局.xlsx 预填指标 3 项，已签名）",
                   f"已生成 {west}（西山县中小企业局，{PROJECT}，2022 年，据 西山县中小企业局.xlsx 预填指标 3 项，已签名）",
                   "未生成：南城区商务局：无已通过的申报", "未生成：北湖县工信局：无已通过的申报",
                   "共生成 2 份模板，2 个单位或项目未生成"]
    assert sorted(p.name for p in (tmp_path / "t1").iterdir()) == sorted([east, west])
    # year, unit, project, 主管部门, budget, the declared indicators and targets: prefilled, locked;
    # the next indicator row and 项目执行单位: the unit's.
    assert _cells(tmp_path / "t1" / east, "监控表", ["B2", "E2", "B3", "B4", "C8", "A13", "B13", "C13", "D13",
                                                     "C14", "D14", "C15", "D15", "C16", "E4"]) == [
        (2022, True), ("东城区科技局", True), (PROJECT, True), ("湘潭县科技和工业信息化局", True), (45, True),
        ("产出指标", True), ("数量指标", True), ("公益服务活动", True), ("≥12次", True),
        ("服务企业", True), ("≥120家", True), ("社会公众或服务对象满意度", True), ("≥95%", True),
        (None, False), (None, False)]

    # Declaration → monitoring → self-evaluation: a project whose monitoring passed gets the
    # targets as declared (operator, number, unit in cells of their own), from the declaration.
    make_return(tmp_path / "mon" / "东城.xlsx", "东城区科技局", form=MONITORING, year=CHAIN_YEAR, project_name=PROJECT)
    db.run("intake", "运行监控", str(tmp_path / "mon"))
    db.run("new", "自评", "--form", SELF_EVALUATION, *year, "--from-round", "运行监控")
    out = db.run("templates", "自评", "-o", str(tmp_path / "t2")).output.splitlines()
    assert out[1:] == ["未生成：西山县中小企业局：无已通过的绩效监控表", "未生成：南城区商务局：无已通过的绩效监控表",
                       "未生成：北湖县工信局：无已通过的绩效监控表", "共生成 1 份模板，3 个单位或项目未生成"]
    assert _cells(tmp_path / "t2" / f"项目自评表_东城区科技局_{PROJECT}.xlsx", "项目自评表",
                  ["C2", "C3", "C19", "D19", "E19", "F19", "D21", "E21", "F21", "G19"]) == [
        (2022, True), (PROJECT, True), ("公益服务活动", True), ("≥", True), (12, True), ("次", True),
        ("≥", True), (0.95, True), ("%", True), (None, False)]

    # The desk's 下发模板 page: the prefilled templates, per unit and all as a zip, and who gets none.
    ledger = db.open()
    try:
        with ledger.session() as session:
            monitoring = session.scalar(select(Round.id).where(Round.name == "运行监控"))
        client = signed_in_local(ledger)
        page = client.get(f"/rounds/{monitoring}/templates").text
        assert re.findall(r"<tr><td>(\w+)</td><td>(\w+)</td><td>(.+?)</td><td>(\w+)</td></tr>", page) == [
            ("3003", "南城区商务局", "—", "无已通过的申报"), ("3004", "北湖县工信局", "—", "无已通过的申报")]
        own = client.get(f"/rounds/{monitoring}/templates/unit/3001")
        assert own.status_code == 200 and quote(east) in own.headers["content-disposition"]
        assert load_workbook(io.BytesIO(own.content))["监控表"]["D13"].value == "≥12次"
        assert client.get(f"/rounds/{monitoring}/templates/unit/3004").status_code == 404
        archive = zipfile.ZipFile(io.BytesIO(build_output(client, monitoring, "templates")))
        assert sorted(archive.namelist()) == sorted([east, west])
    finally:
        ledger.close()

    # round issue: each unit its own templates, once; --resend again.
    controller, inbox = smtp_server()
    args = ["issue", "运行监控", "--smtp", f"127.0.0.1:{controller.port}", "--tls", "none", "--from", SENDER]
    obj = {"clock": Clock()}
    out = db.run(*args, obj=obj).output
    assert "已发送 2" in out and "未生成模板  南城区商务局：无已通过的申报" in out
    sent = {m.rcpt_tos[0]: m.message for m in inbox.received}
    assert set(sent) == {"dongcheng@example.gov.cn", "xishan@example.gov.cn"}
    assert [a.get_filename() for a in sent["dongcheng@example.gov.cn"].iter_attachments()] == [east]
    assert [a.get_filename() for a in sent["xishan@example.gov.cn"].iter_attachments()] == [west]
    text = str(sent["dongcheng@example.gov.cn"].get_body(("plain",)).get_content())  # type: ignore[union-attr]
    assert "报送截止日期：2022年07月15日" in text and "发至 jixiao@czj.example.gov.cn" in text
    inbox.received.clear()
    assert "已发送过 2" in db.run(*args, obj=obj).output
    assert inbox.received == []
    db.run(*args, "--resend", obj=obj)
    assert sorted(m.rcpt_tos[0] for m in inbox.received) == ["dongcheng@example.gov.cn", "xishan@example.gov.cn"]
