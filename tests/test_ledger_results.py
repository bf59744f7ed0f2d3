"""结果应用 and year over year, as a user runs them: two self-evaluation rounds of consecutive years
on the ledger (SQLite and PostgreSQL), real returns taken in by ``round intake``, then
``round results`` (its JSON and its workbook, opened with openpyxl), ``round consequence``,
``round rollup``; the desk's pages in the test client.

Every expected figure is worked out here by hand from the scores and budgets the returns are
made with (a full scorecard is 100; the lowered rows below take off what their weights say).
"""

from __future__ import annotations

import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from deskclient import csrf_of, server_client, sign_in
from ledger_support import YEAR, LedgerDb, make_return, write_roster
from test_web_pages import _build

from xlperf.web import AUDITOR, STAFF

LAST = YEAR - 1
FULL = {"budget_other": 0, "spent_carryover": 0, "spent_upper": 0, "spent_other": 0, "completion_rate_score": 8}
"""Every score row at its weight: 97 typed, and 预算执行率 3 of 3 when all is spent (below)."""
MINUS_15 = {"economic_score": 0, "social_score": 0, "satisfaction_score": 5}  # 5 + 5 + 5
MINUS_30 = {**MINUS_15, "quality_rate_score": 0, "cost_saving_score": 0}  # + 8 + 7
MINUS_50 = {**MINUS_30, "timeliness_score": 0, "completion_rate_score": 0, "ecological_score": 0}  # + 7 + 8 + 5

FORMULA_LIKE = '=HYPERLINK("http://example.com","工业技改专项")'
"""A project name that a spreadsheet would run as a formula if it were written as one."""
# unit, 主管部门 (roster), project, budget (万元), score changes → score, grade
THIS_YEAR = [
    ("3001", "东城区科技局", "市科学技术局", "科技创新券补助", 100, {}, 100.0, "优"),
    ("3002", "西山县中小企业局", "市工业和信息化局", "中小企业公共服务平台运营经费", 200, MINUS_15, 85.0, "良"),
    ("3003", "南城区商务局", "市商务局", "商贸流通体系建设", 50, MINUS_30, 70.0, "中"),
    ("3004", "北湖县工信局", "市工业和信息化局", FORMULA_LIKE, 80, MINUS_50, 50.0, "差"),
]
LAST_YEAR = [  # 3004 sent nothing last year
    ("3001", "东城区科技局", "市科学技术局", "科技创新券补助", 90, {}, 100.0, "优"),
    ("3002", "西山县中小企业局", "市工业和信息化局", "中小企业公共服务平台运营经费", 150, {}, 100.0, "优"),
    ("3003", "南城区商务局", "市商务局", "商贸流通体系建设", 60, MINUS_30, 70.0, "中"),
]
THIS, BEFORE = f"{YEAR}年项目支出绩效自评", f"{LAST}年项目支出绩效自评"


def _returns(folder: Path, year: int, rows: list[tuple[Any, ...]]) -> Path:
    for code, unit, _dept, project, budget, changes, _score, _grade in rows:
        make_return(folder / f"自评表_{code}_{unit}.xlsx", unit, year=year, project_name=project,
                    start_date=dt.datetime(year, 1, 1), end_date=dt.datetime(year, 12, 31),
                    fill_date=dt.datetime(year + 1, 6, 15),
                    budget_city=budget, released=budget, spent_city=budget, **{**FULL, **changes})
    return folder


@pytest.fixture(scope="module")
def inboxes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    base = tmp_path_factory.mktemp("results")
    return (write_roster(base / "roster"), _returns(base / "this", YEAR, THIS_YEAR),
            _returns(base / "last", LAST, LAST_YEAR))


def _two_rounds(db: LedgerDb, inboxes: tuple[Path, Path, Path]) -> None:
    roster, this, last = inboxes
    for name, year, folder in ((BEFORE, LAST, last), (THIS, YEAR, this)):
        db.run("new", name, "--form", "self_evaluation", "--year", str(year), "--roster", str(roster))
        out = db.run("intake", name, str(folder)).output
        assert f"新登记 {len(list(folder.iterdir()))}" in out, out


def _results(db: LedgerDb, *extra: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(db.run("results", THIS, "--json", *extra).output)
    return data


def test_results_consequences_budgets_workbook_and_last_year(db: LedgerDb, inboxes: tuple[Path, Path, Path],
                                                             tmp_path: Path) -> None:
    _two_rounds(db, inboxes)
    data = _results(db)
    assert data["previous_round"] == BEFORE
    assert [(c["grade"], c["action"], c["factor"]) for c in data["consequences"]] == [
        ("优", "优先保障", 1.0), ("良", "保持", 1.0), ("中", "压减 10%", 0.9), ("差", "取消或暂停安排", 0.0)]
    got = {p["unit_code"]: (p["dept"], p["project"], p["score"], p["grade"], p["budget"], p["action"],
                            p["suggested_budget"], p["last_grade"], p["grade_fell"]) for p in data["projects"]}
    assert got == {
        "3001": ("市科学技术局", "科技创新券补助", 100.0, "优", 100.0, "优先保障", 100.0, "优", False),
        "3002": ("市工业和信息化局", "中小企业公共服务平台运营经费", 85.0, "良", 200.0, "保持", 200.0, "优", True),
        "3003": ("市商务局", "商贸流通体系建设", 70.0, "中", 50.0, "压减 10%", 45.0, "中", False),
        "3004": ("市工业和信息化局", FORMULA_LIKE, 50.0, "差", 80.0, "取消或暂停安排", 0.0, None, False),
    }
    assert [(t["grade"], t["projects"], t["budget"], t["suggested_budget"]) for t in data["totals"]] == [
        ("优", 1, 100.0, 100.0), ("良", 1, 200.0, 200.0), ("中", 1, 50.0, 45.0), ("差", 1, 80.0, 0.0)]

    # A form without scores (a declaration) has nothing to apply.
    roster = inboxes[0]
    db.run("new", "申报", "--form", "target_declaration", "--year", str(YEAR), "--roster", str(roster))
    refused = db.run("results", "申报", ok=(2,)).output
    assert "不评分（没有总分和等次）" in refused

    # The bureau's own rules: 中 cut by 20%, 良 by 5% (typed as a percentage); recorded in the log.
    out = db.run("consequence", THIS, "中", "压减 20%", "0.8").output
    assert "中：压减 10% ×0.9 → 压减 20% ×0.8" in out
    db.run("consequence", THIS, "良", "压减 5%", "95%")
    bad = db.run("consequence", THIS, "中", "压减", "11", ok=(2,)).output
    assert "预算系数“11”无效" in bad
    output = tmp_path / "结果应用.xlsx"
    printed = db.run("results", THIS, "-o", str(output)).output
    assert f"等次下降：西山县中小企业局 中小企业公共服务平台运营经费：{LAST} 年 优 → 本年 良" in printed
    assert "中：1 个项目，预算 50.00 万元，压减 20%（×0.8），建议下年预算 40.00 万元" in printed
    data = _results(db)
    assert {p["unit_code"]: (p["action"], p["suggested_budget"]) for p in data["projects"]} == {
        "3001": ("优先保障", 100.0), "3002": ("压减 5%", 190.0), "3003": ("压减 20%", 40.0),
        "3004": ("取消或暂停安排", 0.0)}

    wb = openpyxl.load_workbook(output)
    assert wb.sheetnames == ["等次汇总", "市商务局", "市工业和信息化局", "市科学技术局", "指标对比"]
    overview = wb["等次汇总"]
    table = [[c.value for c in row] for row in overview.iter_rows(min_row=4, max_row=9, max_col=6)]
    assert table == [["等次", "应用结果", "预算系数", "项目数", "本年预算（万元）", "建议下年预算（万元）"],
                     ["优", "优先保障", 1, 1, 100, 100], ["良", "压减 5%", 0.95, 1, 200, 190],
                     ["中", "压减 20%", 0.8, 1, 50, 40], ["差", "取消或暂停安排", 0, 1, 80, 0],
                     ["合计", None, None, 4, 430, 330]]
    [chart] = overview._charts
    ref = chart.series[0].val.numRef.f
    assert ref == "等次汇总!$D$5:$D$8"  # the four grades' counts, not the 合计 row
    industry = wb["市工业和信息化局"]
    rows = [[c.value for c in row] for row in industry.iter_rows(max_row=3)]
    header = rows[0]
    assert header[:9] == ["单位代码", "单位", "项目", "年度", "总分", "等次", "上年总分", "上年等次", "等次变化"]
    pick = [header.index(h) for h in ("单位代码", "等次", "上年等次", "等次变化", "应用结果", "预算（万元）", "建议下年预算（万元）")]
    assert [[r[i] for i in pick] for r in rows[1:]] == [
        ["3002", "良", "优", "下降", "压减 5%", 200, 190], ["3004", "差", None, None, "取消或暂停安排", 80, 0]]
    project = industry.cell(3, header.index("项目") + 1)
    assert (project.value, project.data_type) == (FORMULA_LIKE, "s")  # text from a return stays text
    grades = [[c.value for c in row] for row in industry.iter_rows(min_row=6, max_row=11, max_col=6)]
    assert grades[1:] == [["优", "优先保障", 1, 0, 0, 0], ["良", "压减 5%", 0.95, 1, 200, 190],
                          ["中", "压减 20%", 0.8, 0, 0, 0], ["差", "取消或暂停安排", 0, 1, 80, 0],
                          ["合计", None, None, 2, 280, 190]]
    figures = wb["指标对比"]
    assert figures["A1"].value == "主管部门" and figures.max_row > 4  # each return's filled targets and actuals

    # The roll-up of this year's round: last year's score and grade beside this year's.
    summary = tmp_path / "汇总.xlsx"
    db.run("rollup", THIS, "-o", str(summary))
    sheet = openpyxl.load_workbook(summary)["汇总"]
    head = [c.value for c in sheet[1]]
    at = head.index("等次")
    assert head[at + 1:at + 3] == ["上年总分", "上年等次"]
    code = head.index("单位代码")
    beside = {r[code]: (r[at], r[at + 1], r[at + 2]) for r in sheet.iter_rows(min_row=2, max_row=5, values_only=True)}
    assert beside == {"3001": ("优", 100, "优"), "3002": ("良", 100, "优"), "3003": ("中", 70, "中"),
                      "3004": ("差", None, None)}


def test_results_and_year_over_year_pages(db: LedgerDb, inboxes: tuple[Path, Path, Path]) -> None:
    _two_rounds(db, inboxes)
    ledger = db.open()
    try:
        staff = sign_in(server_client(ledger), ledger, "预算科", STAFF)
        page = staff.get("/rounds/2/results")
        assert page.status_code == 200, page.text
        html = page.text
        assert "结果应用设置" in html and "等次下降" in html and f"上年报送任务“{BEFORE}”" in html
        assert '<svg class="chart"' in html and "45.00" in html
        token = csrf_of(html)
        settings = {"action_0": "优先保障", "factor_0": "1", "action_1": "保持", "factor_1": "1",
                    "action_2": "压减 30%", "factor_2": "0.7", "action_3": "取消", "factor_3": "0"}
        assert staff.post("/rounds/2/results/settings", data=settings).status_code == 403  # no CSRF token
        saved = staff.post("/rounds/2/results/settings", data={**settings, "csrf_token": token})
        assert saved.status_code == 303 and saved.headers["location"] == "/rounds/2/results?saved=1"
        html = staff.get("/rounds/2/results?saved=1").text
        assert "压减 30%" in html and "35.00" in html  # 50 × 0.7
        book = openpyxl.load_workbook(io.BytesIO(_build(staff, 2, "results")))  # the page's 生成 button
        assert book.sheetnames == ["等次汇总", "市商务局", "市工业和信息化局", "市科学技术局", "指标对比"]
        assert [c.value for c in book["等次汇总"][7][:6]] == ["中", "压减 30%", 0.7, 1, 50, 35]
        wrong = staff.post("/rounds/2/results/settings", data={**settings, "factor_2": "七折", "csrf_token": token})
        assert wrong.status_code == 400 and "预算系数“七折”无效" in wrong.text

        years = staff.get("/rounds/2/results/project", params={"code": "3002", "unit": "西山县中小企业局",
                                                               "project": "中小企业公共服务平台运营经费"})
        assert years.status_code == 200
        chart = years.text.split("历年总分与等次")[1].split("</svg>")[0]  # a column a year, labelled
        assert f">{LAST} 年</text>" in chart and f">{YEAR} 年</text>" in chart and ">85.00 良</text>" in chart
        cells = years.text.split('<table id="years">')[1]
        assert f"<td>{LAST}</td><td>{BEFORE}</td><td class=\"num\">100.00</td><td>优</td>" in cells
        assert f"<td>{YEAR}</td><td>{THIS}</td><td class=\"num\">85.00</td><td>良</td>" in cells
        assert "150.00" in cells and "200.00" in cells

        auditor = sign_in(server_client(ledger), ledger, "审计员", AUDITOR)
        html = auditor.get("/rounds/2/results").text
        assert "当前账户只读" in html and 'name="factor_0"' not in html
        refused = auditor.post("/rounds/2/results/settings", data={**settings, "csrf_token": csrf_of(html)})
        assert refused.status_code == 403
    finally:
        ledger.close()
