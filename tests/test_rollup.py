"""Roll-up of a generated inbox: every sheet holds exactly what it should, nothing is lost.

The inbox holds real returns made from the templates and the samples (recalculated once by
LibreOffice, as a unit's Excel would save them): clean ones, a faulty one, two projects sent
twice (different modification times), a return whose texts look like formulas, a foreign
workbook and a corrupt file; the roster lists units that never report. Expected figures are
recomputed here from the values filled in (xlperf.form.evaluate), not taken from the roll-up.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import openpyxl
import pandas.testing as pd_testing
import pytest
from click.testing import CliRunner
from required import importable

from xlperf import rollup as rollup_pkg
from xlperf.checks import check_files as check_files_mod
from xlperf.checks.check_return import check_file
from xlperf.cli import main
from xlperf.cli.demo import sample_values
from xlperf.excel.fill import fill_workbook
from xlperf.findings import CheckedReturn
from xlperf.form.evaluate import evaluate
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.spec import TableSection
from xlperf.read.roster import read_roster
from xlperf.rollup import SHEETS, collect_returns, figures, rollup
from xlperf.rollup import workbook as workbook_mod
from xlperf.rollup.distributed import (
    DEFAULT_FILE_SECONDS,
    OVERHEAD_SHARE,
    TASK_OVERHEAD_S,
    batch_size,
    collect_on_cluster,
)
from xlperf.workers.limits import Limits

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = ROOT / "templates_xlsx"
T0 = dt.datetime(2024, 3, 1, 9, 0).timestamp()

HYPERLINK = '=HYPERLINK("http://x","y")'
AT_SUM = "@SUM(A1)"
PLUS_CMD = "+cmd|' /C calc'!A0"
INJECTED = (HYPERLINK, AT_SUM, PLUS_CMD)

ROSTER = f"""单位代码,单位名称,主管部门,联系人,邮箱
2001,东城区科技局,市科学技术局,张明,dongcheng@example.gov.cn
2002,湘潭县科技和工业信息化局,市工业和信息化局,刘正,xiangtan@example.gov.cn
2003,市中小企业办,市工业和信息化局,陈静,sme@example.gov.cn
2004,南城区商务局,市商务局,王芳,nancheng@example.gov.cn
2005,北湖县工信局,市工业和信息化局,赵强,beihu@example.gov.cn
2006,东湖区教育局,市教育局,"{HYPERLINK.replace('"', '""')}",jiaoyu@example.gov.cn
2007,西山县农业农村局,市农业农村局,吴刚,nongye@example.gov.cn
"""


def values_of(form: str, unit: str, **changes: Any) -> dict[str, Any]:
    values = sample_values(form)
    values.update({k: unit for k in values if k == "unit_name" or k.endswith("_unit_name")})
    values.update(changes)
    return {k: v for k, v in values.items() if v is not None}


# file, form, values, seconds after T0 (the modification time)
RETURNS: list[tuple[str, str, dict[str, Any], int]] = [
    ("甲_自评_第一次.xlsx", "self_evaluation",
     values_of("self_evaluation", "东城区科技局", released=40, spent_city=30.0), 0),
    ("甲_自评_第二次.xlsx", "self_evaluation",
     values_of("self_evaluation", "东城区科技局", released=40, spent_city=38.6, completion_rate_score=8), 3600),
    # Typed with full-width space and a trailing blank: still the roster's unit.
    ("乙_评价报告.xlsx", "evaluation_report",
     values_of("evaluation_report", "湘潭县科技和工业信息化局\u3000 "), 100),
    ("丙_目标表.xlsx", "target_table", values_of("target_table", "市中小企业办"), 200),
    # Spending over the released amount: an error, so rejected.
    ("丁_自评_有误.xlsx", "self_evaluation",
     values_of("self_evaluation", "南城区商务局", released=5.55, spent_city=6.2), 300),
    ("戊_申报表.xlsx", "target_declaration", values_of("target_declaration", "北湖县工信局"), 400),
    # A unit not in the roster whose texts look like formulas, sent twice.
    ("注入_旧.xlsx", "self_evaluation",
     values_of("self_evaluation", AT_SUM, dept_name=PLUS_CMD, project_name=HYPERLINK, released=40), 500),
    ("注入_新.xlsx", "self_evaluation",
     values_of("self_evaluation", AT_SUM, dept_name=PLUS_CMD, project_name=HYPERLINK, released=40,
               spent_city=20.0), 900),
]
FOREIGN, CORRUPT = "外来表格.xlsx", "损坏.xlsx"
SUPERSEDED = {"甲_自评_第一次.xlsx": "甲_自评_第二次.xlsx", "注入_旧.xlsx": "注入_新.xlsx"}


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, lo_recalc: Callable[..., dict[Path, Path]]) -> Path:
    work = tmp_path_factory.mktemp("rollup")
    filled = [fill_workbook(TEMPLATES / f"{form}.xlsx", values, work / "filled" / name)
              for name, form, values, _ in RETURNS]
    box = work / "inbox"
    lo_recalc(filled, box)  # once for the module: returns saved with computed results
    wb = openpyxl.Workbook()
    wb.active.append(["单位", "金额"])
    wb.active.append(["某单位", 12])
    wb.save(box / FOREIGN)
    (box / CORRUPT).write_bytes(b"PK\x03\x04" + os.urandom(2000))
    for name, _, _, offset in RETURNS:
        os.utime(box / name, (T0 + offset, T0 + offset))
    for name in (FOREIGN, CORRUPT):
        os.utime(box / name, (T0, T0))
    (work / "roster.csv").write_text(ROSTER, encoding="utf-8")
    return box


@pytest.fixture(scope="module")
def summary(inbox: Path) -> rollup_pkg.Rollup:
    roster = read_roster(inbox.parent / "roster.csv")
    return rollup(sorted(inbox.iterdir()), inbox.parent / "out" / "summary.xlsx", roster=roster, jobs=2)


@pytest.fixture(scope="module")
def book(summary: rollup_pkg.Rollup) -> openpyxl.Workbook:
    return openpyxl.load_workbook(summary.output)


@pytest.fixture(scope="module")
def checked(inbox: Path) -> dict[str, CheckedReturn]:
    """The checker's own outcome of every file, to compare statuses and findings with."""
    return {p.name: check_file(p) for p in sorted(inbox.iterdir())}


def rows(book: openpyxl.Workbook, sheet: str) -> list[dict[str, Any]]:
    """A table sheet as dicts by header (no totals row)."""
    ws = book[sheet]
    values = list(ws.iter_rows(values_only=True))
    header = values[0]
    return [dict(zip(header, r, strict=True)) for r in values[1:] if not str(r[0] or "").startswith("合计（")]


def numeric(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if not (isinstance(v, str) and re.fullmatch(r"\d{4}-\d\d-\d\d", v))}


def counted_returns() -> list[tuple[str, str, dict[str, Any]]]:
    return [(n, f, v) for n, f, v, _ in RETURNS if n not in SUPERSEDED]


# --------------------------------------------------------------------------- sheets


def test_workbook_has_every_sheet(book: openpyxl.Workbook) -> None:
    assert book.sheetnames == list(SHEETS)
    for name in SHEETS:
        if name != "统计":
            assert book[name].freeze_panes == "A2"
            assert book[name].auto_filter.ref and book[name].auto_filter.ref.startswith("A1:")


def test_every_sheet_prints_on_a4_one_page_wide(book: openpyxl.Workbook) -> None:
    for ws in book.worksheets:
        assert int(ws.page_setup.paperSize) == 9, ws.title
        assert ws.page_setup.orientation == "landscape", ws.title
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert ws.page_setup.fitToWidth in (1, None) and ws.page_setup.fitToHeight == 0, ws.title
        assert "&P" in (ws.oddFooter.center.text or ""), ws.title
        assert ws.oddHeader.right.text == "&A" and "预算绩效汇总" in (ws.oddHeader.left.text or ""), ws.title
        if ws.title != "统计":
            assert ws.print_title_rows == "$1:$1", f"{ws.title} does not repeat its header row on every page"


def test_inventory_has_one_row_per_input(inbox: Path, book: openpyxl.Workbook,
                                         checked: dict[str, CheckedReturn]) -> None:
    inventory = rows(book, "清单")
    assert len(inventory) == len(list(inbox.iterdir())) == len(RETURNS) + 2
    by_file = {r["文件"]: r for r in inventory}
    assert set(by_file) == {p.name for p in inbox.iterdir()}
    assert {n for n, c in checked.items() if c.status == "rejected"} == {"丁_自评_有误.xlsx", CORRUPT, FOREIGN}
    status = {"accepted": "通过", "accepted_with_warnings": "通过（有提示）", "rejected": "退回"}
    for name, result in checked.items():
        assert by_file[name]["审核结果"] == status[result.status], name
        assert by_file[name]["错误"] == len(result.errors)
        assert by_file[name]["提示"] == len(result.warnings)
    for old, new in SUPERSEDED.items():
        assert by_file[old]["汇总情况"].startswith(f"重复报送：以“{new}”为准")
    assert by_file[FOREIGN]["审核结果"] == by_file[CORRUPT]["审核结果"] == "退回"
    assert by_file[FOREIGN]["汇总情况"].startswith("未汇总：无法作为报表读取（")
    assert by_file[CORRUPT]["说明"] == checked[CORRUPT].errors[0].message
    assert by_file["注入_新.xlsx"]["汇总情况"] == "计入汇总；单位不在名单中"
    assert by_file["丙_目标表.xlsx"]["项目数"] == 2
    assert by_file["甲_自评_第二次.xlsx"]["修改时间"] == dt.datetime.fromtimestamp(T0 + 3600)
    assert [r["序号"] for r in inventory] == list(range(1, len(inventory) + 1))


def test_projects_sheet_figures_equal_recomputed(book: openpyxl.Workbook, checked: dict[str, CheckedReturn]) -> None:
    projects = rows(book, "汇总")
    expected = []
    for name, form, values in counted_returns():
        layout = builtin_layout(form)
        scores = evaluate(layout, numeric(values))
        if form == "target_table":
            for n in (1, 2):
                expected.append((name, values[f"p{n}_project_name"], values[f"p{n}_year_budget"] / 10000,
                                 None, None, None, None, None))
            continue
        budget = {"self_evaluation": scores.get("budget_total"), "evaluation_report": values.get("budget"),
                  "target_declaration": values.get("fund_total")}[form]
        rate = scores.get("exec_rate")
        expected.append((name, values["project_name"], float(budget), values.get("released"),
                         float(scores["spent_total"]) if "spent_total" in scores else None,
                         float(rate) if rate is not None else None,
                         float(scores["total_score"]) if "total_score" in scores else None,
                         scores.get("grade")))
    got = [(r["文件"], r["项目"], r["预算（万元）"], r["下达（万元）"], r["支出（万元）"], r["执行率"], r["总分"],
            r["等次"]) for r in projects]
    assert sorted(got, key=str) == sorted(expected, key=str)
    by_file = {r["文件"]: r for r in projects}
    assert by_file["甲_自评_第二次.xlsx"]["主管部门"] == "市科学技术局"  # the roster's, not the return's
    assert by_file["甲_自评_第二次.xlsx"]["单位代码"] == "2001"
    assert by_file["乙_评价报告.xlsx"]["单位代码"] == "2002"
    assert by_file["注入_新.xlsx"]["主管部门"] == PLUS_CMD  # unmatched: the return's own
    assert by_file["丁_自评_有误.xlsx"]["审核结果"] == "退回"
    assert by_file["丁_自评_有误.xlsx"]["错误"] == len(checked["丁_自评_有误.xlsx"].errors)
    # Sorted by 主管部门, then unit.
    keys = [(r["主管部门"] or "", r["单位"] or "") for r in projects]
    assert keys == sorted(keys)


def test_projects_totals_row(summary: rollup_pkg.Rollup, book: openpyxl.Workbook) -> None:
    ws = book["汇总"]
    header = [c.value for c in ws[1]]
    last = ws.max_row
    assert ws.cell(last, 1).value == f"合计（{last - 2} 项）"
    col = header.index("预算（万元）") + 1
    letter = openpyxl.utils.get_column_letter(col)
    assert ws.cell(last, col).value == f"=SUBTOTAL(109,{letter}2:{letter}{last - 1})"
    cached = openpyxl.load_workbook(summary.output, data_only=True)["汇总"].cell(last, col).value
    budgets = [r["预算（万元）"] for r in rows(book, "汇总") if r["预算（万元）"] is not None]
    assert cached == pytest.approx(sum(budgets))
    assert ws.cell(2, col).number_format == "#,##0.00"
    assert ws.cell(2, header.index("执行率") + 1).number_format == "0.00%"


def test_indicator_rows_come_from_tables_and_scorecards(book: openpyxl.Workbook) -> None:
    indicators = rows(book, "指标明细")
    expected = []
    for name, form, values in counted_returns():
        layout = builtin_layout(form)
        scores = evaluate(layout, numeric(values))
        for sheet in layout.spec.sheets:
            for section in sheet.sections:
                if isinstance(section, TableSection) and any(c.key == "target" for c in section.columns):
                    for n in range(1, section.rows + 1):
                        if any(values.get(section.row_key(n, c)) not in (None, "") for c in ("name", "target", "actual")):
                            expected.append((name, "指标表", values.get(section.row_key(n, "name")),
                                             values.get(section.row_key(n, "target"))))
        for card in layout.spec.scorecards():
            for block in card.blocks:
                for row in block.rows:
                    score = scores.get(row.score_key, values.get(row.score_key))
                    expected.append((name, "评分表", row.label, float(score)))
    got = [(r["文件"], r["来源"], r["三级指标"], r["目标值"] if r["来源"] == "指标表" else r["得分"])
           for r in indicators]
    assert sorted(got, key=str) == sorted(expected, key=str)
    budget_exec = next(r for r in indicators if r["文件"] == "甲_自评_第二次.xlsx" and r["三级指标"] == "预算执行率")
    assert (budget_exec["一级指标"], budget_exec["二级指标"], budget_exec["分值"]) == ("投入", "资金落实", 3)
    assert budget_exec["目标值"] == 40 and budget_exec["实际值"] == 38.6
    assert budget_exec["完成率"] == pytest.approx(budget_exec["得分"] / 3, abs=1e-4)
    progress = next(r for r in indicators if r["文件"] == "甲_自评_第二次.xlsx" and r["三级指标"] == "平台运营管理维护")
    assert (progress["一级指标"], progress["二级指标"], progress["符号"], progress["计量单位"]) == ("产出指标", "成本指标", "≤", "万元")


def test_findings_sheet_lists_every_finding(book: openpyxl.Workbook, checked: dict[str, CheckedReturn]) -> None:
    got = sorted((r["文件"], r["代码"], r["工作表"] or "", r["单元格"] or "", r["说明"])
                 for r in rows(book, "问题清单") if r["代码"] != "UNIT_NOT_IN_ROSTER")
    expected = sorted((name, f.code, f.sheet, f.cell, f.message) for name, c in checked.items() for f in c.findings)
    assert got == expected
    unlisted = [(r["文件"], r["实际"]) for r in rows(book, "问题清单") if r["代码"] == "UNIT_NOT_IN_ROSTER"]
    assert sorted(unlisted) == [("注入_新.xlsx", AT_SUM), ("注入_旧.xlsx", AT_SUM)]


def test_missing_sheet_lists_units_without_an_accepted_return(book: openpyxl.Workbook) -> None:
    missing = {r["单位名称"]: r for r in rows(book, "未报送")}
    assert set(missing) == {"南城区商务局", "东湖区教育局", "西山县农业农村局"}
    assert missing["南城区商务局"]["情况"] == "报表被退回：丁_自评_有误.xlsx"
    assert missing["东湖区教育局"]["情况"] == "未收到报表"
    assert missing["东湖区教育局"]["联系人"] == HYPERLINK


def test_duplicates_sheet_names_the_return_that_counts(book: openpyxl.Workbook) -> None:
    dups = rows(book, "重复报送")
    assert sorted((r["重复文件"], r["以此为准"]) for r in dups) == sorted(SUPERSEDED.items())
    first = next(r for r in dups if r["重复文件"] == "甲_自评_第一次.xlsx")
    assert first["修改时间"] == dt.datetime.fromtimestamp(T0)
    assert first["其修改时间"] == dt.datetime.fromtimestamp(T0 + 3600)
    assert first["项目"] == sample_values("self_evaluation")["project_name"]


def test_stats_and_paragraph_figures(summary: rollup_pkg.Rollup, book: openpyxl.Workbook,
                                     checked: dict[str, CheckedReturn]) -> None:
    # The grades from the fixtures' known totals (shared/rules.md: 预算执行率 = min(spent / budget, 1)
    # × 3, budget 40 + 0; 优 from 90), not from the code that rolls them up:
    # - the self-evaluation sample's typed scores sum to 96.00 (its total 96.35 less 4.68 / 40 × 3 = 0.35);
    #   甲_自评_第二次: completion_rate_score 8 for the sample's 7 → 97.00, + 38.6 / 40 × 3 = 2.895 → 2.90:
    #   99.90, 优; 注入_新: 96.00 + 20 / 40 × 3 = 1.50: 97.50, 优;
    # - the evaluation report's sample: every item at its full weight, 100.00, 优;
    # - 丙 (target table) and 戊 (declaration) have no score; 丁 is rejected (spent over released);
    #   甲_自评_第一次 and 注入_旧 are superseded.
    grades = {"优": 3}
    assert sorted(n for n, _, _ in counted_returns() if checked[n].status != "rejected") == sorted(
        ["甲_自评_第二次.xlsx", "乙_评价报告.xlsx", "丙_目标表.xlsx", "戊_申报表.xlsx", "注入_新.xlsx"])
    ws = book["统计"]
    cells = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None}
    top = next(r for (r, c), v in cells.items() if v == "评价等次分布（已通过的报表）")
    table = {cells[(r, 1)]: cells[(r, 2)] for r in range(top + 2, top + 6)}
    assert table == {g: grades.get(g, 0) for g in ("优", "良", "中", "差")}
    f = figures(summary.tables)
    statuses = [c.status for c in checked.values()]
    assert f.files == len(RETURNS) + 2
    assert f.accepted == sum(s != "rejected" for s in statuses)
    assert f.rejected == sum(s == "rejected" for s in statuses)
    assert f.unreadable == 2 and f.superseded == 2
    assert set(f.missing_units) == {"南城区商务局", "东湖区教育局", "西山县农业农村局"}
    assert dict(f.grades) == {g: grades.get(g, 0) for g in ("优", "良", "中", "差")}
    assert f"本次共收到 {f.files} 个文件：通过 {f.accepted} 份" in summary.paragraph
    assert "3 个单位没有通过的报表" in summary.paragraph
    assert cells[(1, 1)] == summary.paragraph
    # 执行率 by 主管部门, from the accepted self-evaluations only.
    top = next(r for (r, c), v in cells.items() if v == "预算执行率（按主管部门，已通过的报表）")
    rates = {cells[(r, 1)]: cells[(r, 5)] for r in range(top + 2, ws.max_row + 1) if (r, 1) in cells}
    # The accepted self-evaluations: 甲 (东城区科技局, under 市科学技术局 in the roster) spent 38.6
    # of 40; 注入_新 (not in the roster: its own 主管部门 text) spent 20 of 40.
    assert rates == pytest.approx({"市科学技术局": 38.6 / 40, PLUS_CMD: 20 / 40})


def test_charts_point_at_the_stats_tables(summary: rollup_pkg.Rollup, book: openpyxl.Workbook) -> None:
    with zipfile.ZipFile(summary.output) as z:
        charts = sorted(n for n in z.namelist() if re.fullmatch(r"xl/charts/chart\d+\.xml", n))
        refs = [re.findall(r"<c:f>([^<]*)</c:f>", z.read(n).decode()) for n in charts]
        kinds = [re.findall(r"<c:(barChart|pieChart)>", z.read(n).decode()) for n in charts]
    ws = book["统计"]
    cells = {(c.row, c.column): c.value for row in ws.iter_rows() for c in row if c.value is not None}

    def block(title: str, value_col: str) -> list[str]:
        top = next(r for (r, c), v in cells.items() if v == title)
        last = max(r for (r, c) in cells if c == 1 and r > top + 1 and all(
            (rr, 1) in cells for rr in range(top + 2, r + 1)))
        def ref(col: str) -> str:  # xlsxwriter writes a one-cell range as one cell
            first = f"${col}${top + 2}"
            return f"统计!{first}" if last == top + 2 else f"统计!{first}:${col}${last}"

        return [ref("A"), ref(value_col)]

    grades = block("评价等次分布（已通过的报表）", "B")
    scores = block("总分分布（已通过的报表）", "B")
    rates = block("预算执行率（按主管部门，已通过的报表）", "E")
    assert refs == [grades, grades, scores, rates]
    assert kinds == [["barChart"], ["pieChart"], ["barChart"], ["barChart"]]
    top = int(grades[0].split("$")[2].split(":")[0])
    assert [cells[(r, 1)] for r in range(top, top + 4)] == ["优", "良", "中", "差"]
    assert cells[(top - 1, 2)] == "份数"


def test_text_from_returns_stays_text_in_every_sheet(book: openpyxl.Workbook) -> None:
    seen: dict[str, set[str]] = {text: set() for text in INJECTED}
    for ws in book.worksheets:
        last = ws.max_row
        for row in ws.iter_rows():
            for cell in row:
                if cell.data_type == "f":  # only the totals row of 汇总 holds formulas, ours
                    assert ws.title == "汇总" and cell.row == last, (ws.title, cell.coordinate, cell.value)
                    assert re.fullmatch(r"=SUBTOTAL\(10[19],[A-Z]+2:[A-Z]+\d+\)", str(cell.value))
                for text in INJECTED:
                    if isinstance(cell.value, str) and text in cell.value:
                        assert cell.data_type == "s"
                        seen[text].add(ws.title)
    assert seen[HYPERLINK] >= {"汇总", "指标明细", "问题清单", "未报送", "重复报送"}
    assert seen[AT_SUM] >= {"汇总", "指标明细", "问题清单", "重复报送", "清单"}
    assert seen[PLUS_CMD] >= {"汇总", "指标明细", "问题清单", "重复报送", "统计"}
    exact = [c for ws in book.worksheets for row in ws.iter_rows() for c in row if c.value == HYPERLINK]
    assert exact and all(c.data_type == "s" for c in exact)


# --------------------------------------------------------------------------- repeatability, safety


def sheet_values(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    wb = openpyxl.load_workbook(path)
    return {ws.title: list(ws.iter_rows(values_only=True)) for ws in wb.worksheets}


def test_running_twice_gives_the_same_workbook(inbox: Path, summary: rollup_pkg.Rollup, tmp_path: Path) -> None:
    roster = read_roster(inbox.parent / "roster.csv")
    again = rollup(sorted(inbox.iterdir(), reverse=True), tmp_path / "again.xlsx", roster=roster, jobs=1)
    assert sheet_values(again.output) == sheet_values(summary.output)
    assert again.paragraph == summary.paragraph
    with zipfile.ZipFile(again.output) as a, zipfile.ZipFile(summary.output) as b:
        assert {n: a.read(n) for n in a.namelist()} == {n: b.read(n) for n in b.namelist()}


def _fail_midway(tables: Any, path: Path, paragraph: str) -> None:
    path.write_bytes(b"PK\x03\x04 half a workbook")
    raise KeyboardInterrupt


def test_interrupted_write_leaves_no_partial_file(inbox: Path, tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    records = collect_returns([inbox / "乙_评价报告.xlsx"], jobs=1)
    tables = rollup_pkg.build_tables(records)
    monkeypatch.setattr(workbook_mod, "_write", _fail_midway)
    target = tmp_path / "summary.xlsx"
    with pytest.raises(KeyboardInterrupt):
        workbook_mod.write_summary(tables, target)
    assert list(tmp_path.iterdir()) == []
    target.write_bytes(b"the previous summary")
    with pytest.raises(KeyboardInterrupt):
        workbook_mod.write_summary(tables, target)
    assert target.read_bytes() == b"the previous summary"
    assert list(tmp_path.iterdir()) == [target]


# --------------------------------------------------------------------------- nothing lost


def _raise_on_one(path: Path) -> CheckedReturn:
    """The roll-up's check, with the checker raising on one file (check_one must catch it)."""
    if path.name != "乙_评价报告.xlsx":
        return check_files_mod.check_one(path, keep="summary")

    def boom(path: Path, **options: Any) -> CheckedReturn:
        raise ValueError("boom")

    real, check_files_mod.check_file = check_files_mod.check_file, boom  # type: ignore[assignment]
    try:
        return check_files_mod.check_one(path, keep="summary")
    finally:
        check_files_mod.check_file = real


def _crash_on_one(path: Path) -> CheckedReturn:
    if path.name == "丙_目标表.xlsx":
        os._exit(3)  # a worker killed mid-file
    return check_files_mod.check_one(path, keep="summary")


# The work is handed to collect_returns (a module-level function: pickled to the workers under
# any start method), not patched into the parent: a patch reaches forked workers only.
@pytest.mark.parametrize("work, code, name", [
    (_raise_on_one, "CHECK_FAILED", "乙_评价报告.xlsx"),
    (_crash_on_one, "WORKER_CRASHED", "丙_目标表.xlsx"),
])
def test_every_file_yields_one_outcome_even_when_a_worker_fails(
        inbox: Path, work: Callable[[Path], CheckedReturn], code: str, name: str) -> None:
    files = sorted(inbox.iterdir())
    records = collect_returns(files, jobs=2, check=work)
    assert [r.file for r in records] == files
    failed = [r for r in records if any(f.code == code for f in r.findings)]
    assert [r.file.name for r in failed] == [name]
    assert failed[0].status == "rejected" and name in failed[0].findings[0].message
    others = [r for r in records if r.file.name not in (name, FOREIGN, CORRUPT)]
    assert all(r.projects for r in others)


def test_progress_counts_every_file(inbox: Path) -> None:
    seen: list[int] = []
    files: Sequence[Path] = sorted(inbox.iterdir())
    collect_returns(files, jobs=2, progress=seen.append)
    assert sum(seen) == len(files)


# --------------------------------------------------------------------------- command line


def test_cli_rollup(inbox: Path, tmp_path: Path) -> None:
    out = inbox / "summary.xlsx"  # inside the inbox: must not roll itself up on the second run
    args = ["rollup", str(inbox), "-o", str(out), "--roster", str(inbox.parent / "roster.csv"), "--jobs", "2"]
    try:
        for _ in range(2):
            result = CliRunner().invoke(main, args)
            assert result.exit_code == 0, result.output
            assert f"本次共收到 {len(RETURNS) + 2} 个文件" in result.output
    finally:
        out.unlink(missing_ok=True)
    only = CliRunner().invoke(main, ["rollup", str(inbox), "-o", str(tmp_path / "s.xlsx"), "--form", "target_table"])
    assert only.exit_code == 0, only.output
    inventory = {r["文件"]: r["汇总情况"] for r in rows(openpyxl.load_workbook(tmp_path / "s.xlsx"), "清单")}
    assert inventory["丙_目标表.xlsx"] == "计入汇总"
    assert inventory["乙_评价报告.xlsx"] == "未汇总：表单为“项目支出绩效评价报告”，本次只汇总“财政项目支出绩效目标表”"
    assert "未提供单位名单" in str(openpyxl.load_workbook(tmp_path / "s.xlsx")["未报送"]["A1"].value)


def test_files_in_the_inbox_that_are_not_returns_are_listed_not_checked(inbox: Path, tmp_path: Path) -> None:
    box = tmp_path / "box"
    shutil.copytree(inbox, box)
    (box / "sub").mkdir()
    (box / "sub" / "自评报告.docx").write_bytes(b"PK\x03\x04 a Word report sent with the return")
    (box / "报表.zip").write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    (box / "~$甲_自评表.xlsx").write_bytes(b"\x00" * 162)  # Excel's lock file while 甲_自评表 is open
    out = tmp_path / "s.xlsx"
    result = CliRunner().invoke(main, ["rollup", str(box), "-o", str(out), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert f"本次共收到 {len(RETURNS) + 2 + 3} 个文件" in result.output
    assert "另有 3 个文件不是报表、未审核" in result.output
    wb = openpyxl.load_workbook(out)
    inventory = {r["文件"]: r for r in rows(wb, "清单")}
    assert len(inventory) == sum(1 for p in box.rglob("*") if p.is_file())
    ignored = {name: (r["审核结果"], r["汇总情况"], r["说明"]) for name, r in inventory.items()
               if r["审核结果"] == "未审核"}
    assert set(ignored) == {"sub/自评报告.docx", "报表.zip", "~$甲_自评表.xlsx"}
    assert ignored["报表.zip"][2].startswith("压缩包") and "请解压" in ignored["报表.zip"][2]
    assert "Word" in ignored["sub/自评报告.docx"][2] and "临时锁定文件" in ignored["~$甲_自评表.xlsx"][2]
    assert all(outcome == "未审核：不是报表文件" for _, outcome, _ in ignored.values())
    assert not {r["文件"] for r in rows(wb, "问题清单")} & set(ignored)


def test_cli_usage_errors_exit_2(inbox: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("单位代码,单位名称,主管部门,邮箱\n1,甲,乙,not-an-email\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["rollup", str(inbox), "-o", str(tmp_path / "s.xlsx"), "--roster", str(bad)])
    assert result.exit_code == 2
    assert "bad.csv 第 2 行 D 列（邮箱）" in result.output
    result = CliRunner().invoke(main, ["rollup", str(inbox), "-o", str(tmp_path / "s.xlsx"), "--form", "nope"])
    assert result.exit_code == 2 and "未知的表单" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(main, ["rollup", str(empty), "-o", str(tmp_path / "s.xlsx")])
    assert result.exit_code == 2
    assert not (tmp_path / "s.xlsx").exists()
    assert set(builtin_forms()) >= {"target_table"}


def test_a_table_longer_than_a_sheet_continues_on_the_next(summary: rollup_pkg.Rollup, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(workbook_mod, "MAX_ROWS", 12)  # 10 rows a sheet, besides header and totals
    out = workbook_mod.write_summary(summary.tables, tmp_path / "long.xlsx", summary.paragraph)
    wb = openpyxl.load_workbook(out)
    parts = [n for n in wb.sheetnames if n == "指标明细" or n.startswith("指标明细（")]
    assert parts == ["指标明细"] + [f"指标明细（{i}）" for i in range(2, len(parts) + 1)]
    assert len(parts) == -(-len(summary.tables.indicators) // 10)
    assert sum(len(rows(wb, name)) for name in parts) == len(summary.tables.indicators)
    assert wb.sheetnames[0] == "汇总" and wb.sheetnames[-1].startswith("清单")


# --------------------------------------------------------------------------- on a Dask cluster


@pytest.fixture(scope="module")
def cluster(dask_cluster: Any) -> Any:
    """A client of the session's Dask cluster (``dask scheduler`` and ``dask worker`` started as
    separate processes, conftest.py), made as xlperf makes one: not the default client."""
    with dask_cluster.client() as client:
        yield client


@pytest.fixture(scope="module")
def two_folders(inbox: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The inbox with a sub-folder holding files of the same names (one batch carries both)."""
    box = tmp_path_factory.mktemp("cluster") / "inbox"
    shutil.copytree(inbox, box)
    (box / "sub").mkdir()
    for name in ("甲_自评_第二次.xlsx", CORRUPT):
        shutil.copy2(inbox / name, box / "sub" / name)
    return box


def test_batches_keep_scheduling_under_five_percent() -> None:
    for files, threads in ((10_000, 2), (100_000, 64), (300, 8)):
        size = batch_size(files, threads)
        assert TASK_OVERHEAD_S <= OVERHEAD_SHARE * size * DEFAULT_FILE_SECONDS or size == files
    assert batch_size(10_000, 2) * 2 * 4 <= 10_000  # several batches per worker thread
    assert batch_size(5, 2) == 5


@pytest.mark.parametrize("shared", [False, True], ids=["bytes", "shared-folder"])
def test_cluster_gives_the_same_records_and_workbook_as_the_local_pool(
        inbox: Path, two_folders: Path, cluster: Any, tmp_path: Path, shared: bool) -> None:
    files = sorted(p for p in two_folders.rglob("*") if p.is_file())
    local = collect_returns(files, jobs=2)
    seen: list[int] = []
    remote = collect_on_cluster(files, cluster, shared_folder=two_folders if shared else None,
                                progress=seen.append, batch=4)
    assert sum(seen) == len(files)
    assert remote == local
    assert [r.file for r in remote] == files
    roster = read_roster(inbox.parent / "roster.csv")
    a = rollup(files, tmp_path / "local.xlsx", roster=roster, jobs=2)
    b = rollup(files, tmp_path / "cluster.xlsx", roster=roster, scheduler=cluster,
               shared_folder=two_folders if shared else None)
    assert b.paragraph == a.paragraph
    for name in ("projects", "indicators", "findings", "missing", "duplicates", "inventory"):
        pd_testing.assert_frame_equal(getattr(b.tables, name), getattr(a.tables, name))
    with zipfile.ZipFile(a.output) as x, zipfile.ZipFile(b.output) as y:
        assert {n: x.read(n) for n in x.namelist()} == {n: y.read(n) for n in y.namelist()}


def _xlperf(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m xlperf ARGS`` in a process of its own, as a user runs it (no Dask client in it
    but the one the command makes)."""
    return subprocess.run([sys.executable, "-m", "xlperf", *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})


def test_cli_rollup_on_a_cluster(inbox: Path, dask_cluster: Any, tmp_path: Path) -> None:
    """``xlperf rollup --scheduler tcp://127.0.0.1:PORT`` against a scheduler and workers started
    with Dask's own command line: the same output and workbook as the local pool. (Before the fix
    it stopped at once with ``ValueError: No clients found``.)"""
    roster = str(inbox.parent / "roster.csv")
    local = _xlperf("rollup", str(inbox), "-o", str(tmp_path / "local.xlsx"), "--roster", roster)
    assert dask_cluster.address.startswith("tcp://127.0.0.1:")
    remote = _xlperf("rollup", str(inbox), "-o", str(tmp_path / "cluster.xlsx"), "--roster", roster,
                     "--scheduler", dask_cluster.address)
    assert (remote.returncode, remote.stderr) == (local.returncode, local.stderr) == (0, ""), remote.stderr
    assert remote.stdout.replace("cluster.xlsx", "local.xlsx") == local.stdout
    assert sheet_values(tmp_path / "cluster.xlsx") == sheet_values(tmp_path / "local.xlsx")
    alone = CliRunner().invoke(main, ["rollup", str(inbox), "-o", str(tmp_path / "x.xlsx"),
                                      "--shared-folder", str(inbox)])
    assert alone.exit_code == 2 and "--shared-folder 只能与 --scheduler 一起使用" in alone.output


try:
    from distributed import WorkerPlugin
except ImportError:  # the cluster tests skip
    WorkerPlugin = object


class _CrashOn(WorkerPlugin):  # type: ignore[misc,valid-type]
    """A Dask worker plugin: the worker process dies when it is given the file ``name``."""

    def __init__(self, name: str) -> None:
        self.name = name

    def setup(self, worker: Any) -> None:
        # where a Dask worker's batch goes to its host
        from xlperf.checks import check_files as on_cluster

        real, name = on_cluster.run_hosted, self.name

        def check_or_die(paths: list[Path], *args: Any, **kwargs: Any) -> Any:
            if any(path.name == name for path in paths):
                os._exit(3)  # the Dask worker itself killed mid-batch (its host would survive a reader's crash)
            return real(paths, *args, **kwargs)

        on_cluster.run_hosted = check_or_die


def test_a_file_that_kills_cluster_workers_is_rejected_alone(inbox: Path, tmp_path: Path) -> None:
    dask = importable("dask", "Dask", "pip install -e '.[test]'")
    distributed = importable("distributed", "Dask distributed", "pip install -e '.[test]'")
    files = sorted(inbox.iterdir())
    victim = "丙_目标表.xlsx"
    # A task is given up after its first killed worker (Dask retries 3 times by default): one
    # restart for the batch, one for the file alone.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), distributed.LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None, processes=True,
                                  host="127.0.0.1") as local, distributed.Client(local) as client:
        client.register_plugin(_CrashOn(victim))
        records = collect_on_cluster(files, client, batch=3)
    assert [r.file for r in records] == files
    crashed = [r for r in records if any(f.code == "WORKER_CRASHED" for f in r.findings)]
    assert [r.file.name for r in crashed] == [victim]
    assert crashed[0].status == "rejected" and victim in crashed[0].findings[0].message
    expected = collect_returns([f for f in files if f.name != victim], jobs=1)
    assert [r for r in records if r.file.name != victim] == expected


def test_the_roster_reaches_the_checks_locally_and_on_the_cluster(inbox: Path, cluster: Any, tmp_path: Path) -> None:
    """``rollup --roster`` checks as ``check --roster`` does: a return sent under another roster
    unit's name is flagged (FILE_NAME_UNIT_MISMATCH), on this machine and on a Dask cluster."""
    roster = read_roster(inbox.parent / "roster.csv")
    renamed = tmp_path / "自评表_南城区商务局.xlsx"
    shutil.copy2(inbox / "甲_自评_第二次.xlsx", renamed)
    files = [inbox / "甲_自评_第二次.xlsx", renamed]

    def flagged(records: list[CheckedReturn]) -> list[str]:
        return [r.file.name for r in records if any(f.code == "FILE_NAME_UNIT_MISMATCH" for f in r.findings)]

    assert collect_returns(files, jobs=1)[1].unit != "南城区商务局"
    assert flagged(collect_returns(files, jobs=1)) == []  # no roster: a file name cannot be judged
    local = collect_returns(files, jobs=2, roster=roster)
    assert flagged(local) == [renamed.name]
    assert collect_on_cluster(files, cluster, roster=roster, batch=1) == local


MEMORY_LIMIT = Limits(memory_mb=16)


def test_the_memory_limit_holds_on_the_cluster_for_python_allocations(inbox: Path, cluster: Any) -> None:
    """A Dask worker may not start the limited workers itself; its host does, under the limits
    sent with the batch. A check that asks Python for 256 MB under a 16 MB limit gets a
    MemoryError there: every return ends as FILE_TOO_COMPLEX naming the memory limit, none is
    checked (with the default 1 GiB limit the allocation would succeed)."""
    from cluster_checks import bloat_in_python

    returns = [inbox / name for name, *_ in RETURNS]
    records = collect_on_cluster(returns, cluster, limits=MEMORY_LIMIT, batch=3, check=bloat_in_python)
    assert [r.file for r in records] == returns
    assert [([f.code for f in r.findings], r.status, r.projects) for r in records] == \
        [(["FILE_TOO_COMPLEX"], "rejected", ())] * len(returns)
    assert all("审核所需内存超过上限 16 MB" in r.findings[0].message for r in records)
    normal = collect_on_cluster(returns, cluster, batch=3)  # the hosts live on for the next batches
    assert all(r.projects for r in normal)


def test_the_memory_limit_holds_on_the_cluster_for_native_allocations(inbox: Path, cluster: Any) -> None:
    """The same limit met by a native allocation (malloc returns NULL and the code writes to it,
    as a C reader might): the limited worker dies, and every return ends as WORKER_CRASHED naming
    the file and the limit; the batch goes on with fresh workers."""
    from cluster_checks import bloat_natively

    returns = [inbox / name for name, *_ in RETURNS]
    records = collect_on_cluster(returns, cluster, limits=MEMORY_LIMIT, batch=3, check=bloat_natively)
    assert [r.file for r in records] == returns
    assert [([f.code for f in r.findings], r.status, r.projects) for r in records] == \
        [(["WORKER_CRASHED"], "rejected", ())] * len(returns)
    assert all(r.file.name in r.findings[0].message and "内存上限 16 MB" in r.findings[0].message for r in records)
