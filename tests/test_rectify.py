"""整改 tracked to the end (issue 24), as a user runs it on SQLite and PostgreSQL: a self-evaluation
round with a project graded 中, one sent back by staff with a note, one graded 优 and a unit that
sent nothing; ``round new --rectify`` selects exactly the first two; ``round rectify-forms``
writes their 整改 forms (problem rows prefilled and locked, opened with openpyxl); the units'
returns come in through ``round intake`` and are checked; ``round status`` shows each item
open, closed or overdue, and the round closed once every item is 已完成."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import openpyxl
from ledger_support import YEAR, LedgerDb, make_return, set_saved, write_roster

from xlperf.cli.rectify_demo import run_rectify
from xlperf.excel.fill import fill_workbook
from xlperf.ledger.rectify_status import rectify_status
from xlperf.ledger.rounds import find_round

EARLIER, RECTIFY = f"{YEAR}年项目支出绩效自评", f"{YEAR}年绩效自评整改"
FULL = {"budget_other": 0, "spent_carryover": 0, "spent_upper": 0, "spent_other": 0, "completion_rate_score": 8,
        "budget_city": 100, "released": 100, "spent_city": 100}
"""Every score row at its weight (test_ledger_results.py): 100, 优, and no finding."""
MINUS_30 = {"economic_score": 0, "social_score": 0, "satisfaction_score": 5, "quality_rate_score": 0,
            "cost_saving_score": 0}
"""30 points off: 70, 中."""
NOTE = "支出数与决算不符，请核对后重新报送"
GRADE_ROW = "评价等次为“中”（总分 70.00）：请针对扣分的指标分析原因并整改"
UNMET = ("实际完成率得分：数量指标/质量指标中有 1 项未完成目标（开展中小企业人力资源专项服务：目标 ＝1年，实际 0年），"
         "而“实际完成率”得分 8.00 / 8（达到分值的 85% 以上）：请说明评分依据，或按目标完成情况调整“实际完成率”得分（评分表!D18）")
"""The warning every sample return carries (its finding, with sheet and cell); CACHE_MISSING,
about how the file was saved, is no problem to rectify."""


def _earlier_returns(folder: Path) -> Path:
    for code, unit, project, changes in (("3001", "东城区科技局", "科技创新券补助", {}),
                                         ("3002", "西山县中小企业局", "中小企业公共服务平台运营经费", {}),
                                         ("3003", "南城区商务局", "商贸流通体系建设", MINUS_30)):
        make_return(folder / f"自评表_{code}.xlsx", unit, project_name=project, start_date=dt.datetime(YEAR, 1, 1),
                    end_date=dt.datetime(YEAR, 12, 31), fill_date=dt.datetime(YEAR + 1, 6, 15), **{**FULL, **changes})
    return folder


def _fill(form: Path, out: Path, done: list[str], due: dt.date, age: float) -> Path:
    """What a unit types into its 整改 form: every problem row's measure, owner, deadline, result, 是否完成."""
    values: dict[str, Any] = {"filler": "李华", "phone": "0731-55551234", "fill_date": dt.datetime(YEAR + 1, 9, 1)}
    for n in range(1, len(done) + 1):
        values |= {f"items_{n}_measure": f"第 {n} 项的整改措施", f"items_{n}_owner": "李华",
                   f"items_{n}_due": dt.datetime(due.year, due.month, due.day), f"items_{n}_result": "已按要求整改",
                   f"items_{n}_done": done[n - 1]}
    fill_workbook(form, values, out)
    set_saved(out, dt.datetime(2030, 1, 1) - dt.timedelta(seconds=age))
    return out


def test_a_rectify_round_selects_prefills_checks_and_closes(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "roster")
    db.run("new", EARLIER, "--form", "self_evaluation", "--year", str(YEAR), "--roster", str(roster))
    db.run("intake", EARLIER, str(_earlier_returns(tmp_path / "earlier")))
    rows = {r["code"]: r for r in json.loads(db.run("status", EARLIER, "--json").output)["rows"]}
    assert {c: (r["status"], r["grade"]) for c, r in rows.items()} == {
        "3001": ("通过（有提示）", "优"), "3002": ("通过（有提示）", "优"), "3003": ("通过（有提示）", "中"),
        "3004": ("未报送", None)}
    # Nothing sent back yet: a 整改 round of the returned projects is refused in Chinese, no round made.
    refused = db.run("new", "只看退回", "--rectify", EARLIER, "--select", "returned", ok=(2,)).output
    assert f"报送任务“{EARLIER}”没有需要整改的项目（当前有效的报表中没有被财政局退回并附有意见的）：未新建整改任务" in refused
    assert "只看退回" not in db.run("list").output
    db.run("return", EARLIER, str(rows["3002"]["submission"]), "--note", NOTE)
    made = db.run("new", RECTIFY, "--rectify", EARLIER, "--deadline", "2020-01-31").output.splitlines()
    assert made[0].startswith(f"已新建整改任务“{RECTIFY}”（承接“{EARLIER}”，绩效问题整改情况表（版本 1.0，规格 ")
    assert made[0].endswith(f"，{YEAR} 年）：等次为中或差或被财政局退回并附有意见的项目 2 个，2 个单位，问题 4 项，截止 2020-01-31")
    assert made[1:3] == ["  3002  西山县中小企业局  中小企业公共服务平台运营经费  被财政局退回并附有意见：问题 2 项",
                         "  3003  南城区商务局  商贸流通体系建设  等次为中或差：问题 2 项"]
    nothing = db.run("new", "再来一个", "--rectify", EARLIER, "--select", "grade", "--form", "self_evaluation", ok=(2,))
    assert "不是整改表单" in nothing.output

    forms = tmp_path / "整改表"
    issued = db.run("rectify-forms", RECTIFY, "-o", str(forms)).output.splitlines()
    assert issued == ["已生成 整改表_西山县中小企业局_中小企业公共服务平台运营经费.xlsx（西山县中小企业局，中小企业公共服务平台运营经费，问题 2 项）",
                      "已生成 整改表_南城区商务局_商贸流通体系建设.xlsx（南城区商务局，商贸流通体系建设，问题 2 项）",
                      f"共 2 份整改表：{forms}"]
    returned = forms / "整改表_西山县中小企业局_中小企业公共服务平台运营经费.xlsx"
    graded = forms / "整改表_南城区商务局_商贸流通体系建设.xlsx"
    sheet = openpyxl.load_workbook(graded)["整改情况"]
    assert [sheet[c].value for c in ("B2", "D2", "G2", "B3", "F3", "B4", "F4", "A6", "A7", "A8")] == [
        YEAR, "南城区商务局", "市商务局", "商贸流通体系建设", 100, 70, "中", GRADE_ROW, UNMET, None]
    assert sheet.protection.sheet and all(sheet[c].protection.locked for c in ("A6", "A7", "B3", "F3", "B4", "F4"))
    assert not any(sheet[c].protection.locked for c in ("A8", "C6", "E6", "F6", "G6", "H6"))
    assert [openpyxl.load_workbook(returned)["整改情况"][c].value for c in ("A6", "A7")] == [f"财政局退回意见：{NOTE}", UNMET]
    # round templates (and so the desk's 下发模板 and round issue, which go through the same
    # function) hands out the same prefilled 整改 forms, not blank ones.
    templates = tmp_path / "下发"
    db.run("templates", RECTIFY, "-o", str(templates))
    assert sorted(p.name for p in templates.iterdir()) == sorted(p.name for p in forms.iterdir())
    assert openpyxl.load_workbook(templates / graded.name)["整改情况"]["A7"].value == UNMET

    # The units' returns: 南城 closes its item; 西山 leaves it open past its 完成时限; a third
    # return has 是否完成 off the list and a date typed as words: rejected, closing nothing.
    inbox = tmp_path / "inbox"
    _fill(graded, inbox / "南城.xlsx", ["已完成", "已完成"], dt.date(YEAR + 1, 6, 30), age=100)
    _fill(returned, inbox / "西山.xlsx", ["未完成", "已完成"], dt.date(YEAR + 1, 3, 31), age=100)
    db.run("intake", RECTIFY, str(inbox))
    status = db.run("status", RECTIFY).output.splitlines()
    assert status[-5:] == [
        f"整改任务（承接“{EARLIER}”）：",
        "3002  西山县中小企业局  中小企业公共服务平台运营经费  通过  问题 2 项：已完成 1 项，未完成 1 项（其中逾期 1 项）",
        f"    1. 【逾期】财政局退回意见：{NOTE}（完成时限 {YEAR + 1}-03-31）",
        "3003  南城区商务局  商贸流通体系建设  通过  问题 2 项：已完成 2 项，未完成 0 项",
        "整改未完成：共 4 项问题，已完成 3 项，未完成 1 项，其中逾期 1 项"]
    wrong = fill_workbook(inbox / "西山.xlsx", {"items_1_done": "差不多", "items_1_due": "明年"}, tmp_path / "wrong" / "西山.xlsx")
    set_saved(wrong, dt.datetime(2030, 1, 1) - dt.timedelta(seconds=50))
    bad = db.run("intake", RECTIFY, str(wrong), ok=(1,)).output
    assert "退回" in bad
    data = json.loads(db.run("status", RECTIFY, "--json").output)
    assert data["rectify"]["closed"] is False and data["rectify"]["counts"] == {"已完成": 2, "未完成": 2, "逾期": 2}
    ledger = db.open()
    try:
        with ledger.session() as session:
            [sub] = [r["submission"] for r in data["rows"] if r["code"] == "3002"]
            from xlperf.ledger.models import Submission
            from xlperf.ledger.stored_results import submission_checked
            checked = submission_checked(session, session.get(Submission, sub))
            assert checked is not None
            assert sorted((f.code, f.cell) for f in checked.findings) == [("CHOICE_INVALID", "H6"), ("WRONG_TYPE", "F6")]
    finally:
        ledger.close()

    # 西山 finishes it: every item 已完成, the round is closed.
    _fill(returned, inbox / "西山_2.xlsx", ["已完成", "已完成"], dt.date(YEAR + 1, 3, 31), age=10)
    db.run("intake", RECTIFY, str(inbox / "西山_2.xlsx"))
    assert db.run("status", RECTIFY).output.splitlines()[-1] == "整改已全部完成：共 4 项问题，均已完成"
    ledger = db.open()
    try:
        with ledger.session() as session:
            later = rectify_status(session, find_round(session, RECTIFY), today=dt.date(YEAR + 5, 1, 1))
            assert later is not None and later.closed and later.count("逾期") == 0
    finally:
        ledger.close()


def test_the_demo_ends_with_a_rectify_round(tmp_path: Path) -> None:
    """``run_rectify`` (the demo chain's last step) on a self-evaluation round with one project graded
    中: its 整改 form comes back with the first problem 已完成 and the last 未完成 past its 完成时限."""
    db = LedgerDb("sqlite", str(tmp_path / "demo.db"), tmp_path / "demo.db.files")
    db.run("new", EARLIER, "--form", "self_evaluation", "--year", str(YEAR), "--roster",
           str(write_roster(tmp_path / "roster")))
    make_return(tmp_path / "in" / "自评表_3003.xlsx", "南城区商务局", project_name="商贸流通体系建设",
                start_date=dt.datetime(YEAR, 1, 1), end_date=dt.datetime(YEAR, 12, 31),
                fill_date=dt.datetime(YEAR + 1, 6, 15), **{**FULL, **MINUS_30})
    db.run("intake", EARLIER, str(tmp_path / "in"))
    ledger = db.open()
    try:
        lines = list(run_rectify(ledger, EARLIER, tmp_path / "out", today=dt.date(2030, 5, 1)))
    finally:
        ledger.close()
    assert lines[0] == f"整改任务“{EARLIER}整改”（承接“{EARLIER}”）：等次为中、差或被退回的项目 1 个，问题 2 项，截止 2030-05-31"
    sent = tmp_path / "out" / "整改报送" / "整改表_南城区商务局_商贸流通体系建设.xlsx"
    assert lines[2] == f"南城区商务局 报送整改表（2 个问题中最后一个未完成且已过完成时限）：{sent}"
    assert lines[-3:] == [
        "3003  南城区商务局  商贸流通体系建设  通过  问题 2 项：已完成 1 项，未完成 1 项（其中逾期 1 项）",
        f"    2. 【逾期】{UNMET}（完成时限 2030-04-21）",
        "整改未完成：共 2 项问题，已完成 1 项，未完成 1 项，其中逾期 1 项"]
