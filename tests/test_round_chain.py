"""Rounds that follow rounds (issue 24): ``round new --from-round EARLIER`` links the new round to
EARLIER in the ledger, on SQLite and PostgreSQL; an unknown EARLIER, or forms that do not map onto
each other, make no round. The chained round's templates are prefilled from EARLIER's accepted
returns, locked and signed; ``round issue`` mails each unit its own, once (real SMTP on loopback)."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path
from urllib.parse import quote

import pytest
from chain_support import DECLARATION as DECLARED_FORM
from chain_support import (
    MINUS_15,
    MINUS_30,
    declaration,
    monitoring,
    self_evaluation,
)
from chain_support import SELF_EVALUATION as SCORED_FORM
from chain_support import monitoring as monitoring_return
from deskclient import server_client, sign_in, signed_in_local
from ledger_support import FORM, YEAR, LedgerDb, make_return, write_roster
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from servers import SmtpStart
from sqlalchemy import select
from test_ledger_mail import Clock
from test_rectify import _fill as fill_rectify
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
    # (Filled in the monitoring template as prefilled: the round checks it against the declaration.)
    monitoring_return(tmp_path / "mon" / "东城.xlsx", tmp_path / "decl" / "东城区科技局.xlsx", exec_general=27,
                      forecast_general=45, fill_date=dt.datetime(CHAIN_YEAR, 7, 8))
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


# -- checks across the chain, automatic (issue 24) -----------------------------------------------
DECLARED = [  # code, unit, project, budget (万元)
    ("3001", "东城区科技局", "科技创新券补助", 100),
    ("3002", "西山县中小企业局", "中小企业公共服务平台运营经费", 200),
    ("3003", "南城区商务局", "商贸流通体系建设", 50),
]


@pytest.fixture(scope="module")
def chain_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The roster, the declarations folder, the first self-evaluations (3001's budget 90 where 100
    was declared; 3002's first indicator's target lowered from 12 to 8 and its second indicator
    dropped) and 3002's corrected one, made once for both databases."""
    base = tmp_path_factory.mktemp("chain")
    declared = {code: declaration(base / "申报", code, unit, project, budget)
                for code, unit, project, budget in DECLARED}
    first = base / "自评"
    for code in ("3001", "3002"):
        monitoring(base / "监控" / f"监控表_{code}.xlsx", declared[code])
    self_evaluation(first / "自评表_3001.xlsx", declared["3001"], budget_city=90, released=90, spent_city=90)
    self_evaluation(first / "自评表_3002.xlsx", declared["3002"], age=3600, ind_1_target=8,
                    ind_2_name=None, ind_2_op=None, ind_2_target=None, ind_2_unit=None)
    self_evaluation(first / "自评表_3003.xlsx", declared["3003"], **MINUS_30)
    corrected = self_evaluation(base / "更正" / "自评表_3002_更正.xlsx", declared["3002"], **MINUS_15)
    return {"roster": write_roster(base), "declared": base / "申报", "monitored": base / "监控", "first": first,
            "corrected": corrected}


def _findings(db: LedgerDb, round_name: str) -> dict[str, list[tuple[str, str, str]]]:
    """The crossform findings of each current return of ``round_name``, by unit code."""
    ledger = db.open()
    try:
        with ledger.session() as session:
            rnd = session.scalars(select(Round).where(Round.name == round_name)).one()
            rows = session.execute(
                select(Unit.code, FindingRow.code, FindingRow.sheet, FindingRow.cell)
                .join(Submission, Submission.unit_id == Unit.id)
                .join(FindingRow, FindingRow.result_id == Submission.result_id)
                .where(Submission.round_id == rnd.id, Submission.state == CURRENT,
                       FindingRow.code.in_(("TARGET_CHANGED", "BUDGET_CHANGED", "DECLARATION_NOT_FOUND")))
                .order_by(FindingRow.id))
            found: dict[str, list[tuple[str, str, str]]] = {}
            for code, finding, sheet, cell in rows:
                found.setdefault(code, []).append((finding, sheet, cell))
            return found
    finally:
        ledger.close()


def _submission_of(db: LedgerDb, round_name: str, unit_code: str) -> int:
    ledger = db.open()
    try:
        with ledger.session() as session:
            return session.scalars(select(Submission.id).join(Unit, Unit.id == Submission.unit_id).join(
                Round, Round.id == Submission.round_id).where(Round.name == round_name, Unit.code == unit_code,
                                                              Submission.state == CURRENT)).one()
    finally:
        ledger.close()


def _table(html: str) -> list[list[str]]:
    """The chain table's rows, each cell's text with spaces collapsed."""
    table = html[html.index('<table id="chain">'):html.index("</table>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S)
    return [[" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S)]
            for r in rows]


def test_a_chained_self_evaluation_is_checked_against_the_accepted_declarations(
        db: LedgerDb, chain_files: dict[str, Path], tmp_path: Path) -> None:
    roster = str(chain_files["roster"])
    db.run("new", "目标申报", "--form", DECLARED_FORM, "--year", str(YEAR), "--roster", roster)
    assert "新登记 3" in db.run("intake", "目标申报", str(chain_files["declared"])).output
    # Staff send 南城区商务局's declaration back: it is not an accepted declaration.
    db.run("return", "目标申报", str(_submission_of(db, "目标申报", "3003")), "--note", "预算测算依据不足")
    db.run("new", "运行监控", "--form", "performance_monitoring", "--year", str(YEAR), "--roster", roster,
           "--from-round", "目标申报")
    assert "新登记 2" in db.run("intake", "运行监控", str(chain_files["monitored"])).output
    assert _findings(db, "运行监控") == {}  # checked against the declarations: their targets kept
    db.run("new", "自评", "--form", SCORED_FORM, "--year", str(YEAR), "--roster", roster,
           "--from-round", "运行监控")

    # Route 1, round intake: no --against, yet 3002's lowered target is found in its cell, and
    # 3003, whose declaration was sent back, has no accepted declaration to compare with.
    out = db.run("intake", "自评", str(chain_files["first"]), ok=(1,)).output  # 1: a return was sent back
    sheet, row, col = builtin_layout(SCORED_FORM).address("ind_1_target")  # 0-based
    assert (sheet, f"{get_column_letter(col + 1)}{row + 1}") == ("自评表", "F21")
    budget_changed = ("BUDGET_CHANGED", "自评表", "G7")  # 预算资金（市级预算资金）: a warning
    assert _findings(db, "自评") == {
        "3001": [budget_changed],
        "3002": [("TARGET_CHANGED", "自评表", "F21"),  # the first indicator's 指标值
                 ("TARGET_CHANGED", "自评表", "D22")],  # the second indicator's name, blank
        "3003": [("DECLARATION_NOT_FOUND", "自评表", "C3")]}  # 项目名称
    assert "西山县中小企业局：退回" in out, out
    # 3002 sends its self-evaluation again with the declared target: it replaces the first.
    db.run("intake", "自评", str(chain_files["corrected"]))
    # Route 2, round revalidate: staff accept 3003's declaration after all; the check's cached
    # context of the round sees the new accepted set, and 3003's return now has its declaration.
    db.run("accept", "目标申报", str(_submission_of(db, "目标申报", "3003")))
    db.run("revalidate", "自评")
    assert _findings(db, "自评") == {"3001": [budget_changed]}

    data = json.loads(db.run("results", "自评", "--json").output)
    got = {p["unit_code"]: (p["project"], p["score"], p["grade"], p["budget"], p["action"], p["suggested_budget"])
           for p in data["projects"]}
    assert got == {  # 100; 100 - 15; 100 - 30: the budgets as filed, × the default factors
        "3001": ("科技创新券补助", 100.0, "优", 90.0, "优先保障", 90.0),
        "3002": ("中小企业公共服务平台运营经费", 85.0, "良", 200.0, "保持", 200.0),
        "3003": ("商贸流通体系建设", 70.0, "中", 50.0, "压减 10%", 45.0),
    }

    # 整改 ends the chain: a 整改 round of the self-evaluation's 中 project (3003). Its problems are
    # the grade and its return's two warnings (a deviation with no reason, J21; a completion score
    # to explain, D18); the unit's form, prefilled through round templates, comes back with all
    # three 已完成, and the round is closed.
    made = db.run("new", "整改", "--rectify", "自评", "--select", "grade").output
    assert "等次为中或差的项目 1 个，1 个单位，问题 3 项" in made, made
    forms = tmp_path / "整改表"
    db.run("templates", "整改", "-o", str(forms))
    (form,) = forms.iterdir()
    assert "商贸流通体系建设" in form.name
    problems = [load_workbook(form)["整改情况"][f"A{r}"].value for r in (6, 7, 8, 9)]
    assert problems[0] == "评价等次为“中”（总分 70.00）：请针对扣分的指标分析原因并整改" and problems[3] is None
    assert problems[1].endswith("（自评表!J21）") and problems[2].endswith("（评分表!D18）")
    answered = fill_rectify(form, tmp_path / "整改报送" / form.name, ["已完成"] * 3, dt.date(YEAR + 1, 6, 30), age=100)
    db.run("intake", "整改", str(answered))
    assert db.run("status", "整改").output.splitlines()[-1] == "整改已全部完成：共 3 项问题，均已完成"

    # The same in the CLI: round chain.
    assert db.run("chain", "自评", "--unit", "3001", "--project", "科技创新券补助").output.splitlines()[:6] == [
        f"目标申报（项目支出绩效目标申报表，{YEAR} 年）",
        "  报表 目标申报表_3001_东城区科技局.xlsx，预算 100.00 万元，支出 —，执行率 —，总分 — —",
        "  公益服务活动：目标 ≥12次，实际 —",
        "  服务企业：目标 ≥120家，实际 —",
        "  社会公众或服务对象满意度：目标 ≥95%，实际 —",
        f"运行监控（项目支出绩效监控表，{YEAR} 年）"]

    # The desk's chain page of 3001's project: the three stages' figures side by side.
    ledger = db.open()
    try:
        with ledger.session() as session:
            last = session.scalars(select(Round.id).where(Round.name == "自评")).one()
        staff = sign_in(server_client(ledger), ledger, "预算科", STAFF)
        query = {"code": "3001", "unit": "东城区科技局", "project": "科技创新券补助"}
        page = staff.get(f"/rounds/{last}/chain", params=query)
        assert page.status_code == 200
        assert _table(page.text)[:10] == [
            ["项目", f"目标申报 项目支出绩效目标申报表 · {YEAR} 年", f"运行监控 项目支出绩效监控表 · {YEAR} 年",
             f"自评 财政支出项目绩效自评表 · {YEAR} 年"],
            ["报表", "目标申报表_3001_东城区科技局.xlsx", "监控表_3001.xlsx", "自评表_3001.xlsx"],
            ["预算（万元）", "100.00", "100.00", "90.00"],  # declared; prefilled; as filed (BUDGET_CHANGED)
            ["支出（万元）", "—", "60.00", "90.00"],
            ["执行率", "—", "—", "100.00%"],
            ["总分", "—", "—", "100.00"],
            ["等次", "—", "—", "优"],
            ["公益服务活动 目标 / 实际", "≥12次 / —", "≥12次 / —", "≥12次 / 1次"],
            ["服务企业 目标 / 实际", "≥120家 / —", "≥120家 / —", "≥120家 / 0家"],
            ["社会公众或服务对象满意度 目标 / 实际", "≥95% / —", "≥95% / —", "≥95% / 95%"],
        ]
        # Reached from the return's page (which the status table links) and the project's
        # year-over-year page.
        sub = _submission_of(db, "自评", "3001")
        assert f'href="/rounds/{last}/submissions/{sub}"' in staff.get(f"/rounds/{last}").text
        assert (f'绩效管理链条（申报、监控、自评对照）：<a href="/rounds/{last}/chain?code=3001&amp;unit='
                in staff.get(f"/rounds/{last}/submissions/{sub}").text)
        years = staff.get(f"/rounds/{last}/results/project", params=query).text
        assert f'id="chain-link" href="/rounds/{last}/chain?code=3001&amp;unit=' in years
    finally:
        ledger.close()
