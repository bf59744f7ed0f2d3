"""Reports of checked returns, read back: the HTML page parsed, the annotated workbook opened.

CheckedReturn objects come from really checking real returns (a template filled like a clerk would,
then a mistake made with openpyxl), and, so that rendering is tested whatever the checks find
today, from the same returns with findings placed at known cells.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from helpers import cell_of as a1
from helpers import sample
from openpyxl.utils.cell import coordinate_to_tuple

from xlperf.checks.check_return import check_file
from xlperf.excel.fill import fill_workbook
from xlperf.excel.regen import TEMPLATES_DIR
from xlperf.excel.template import ALERT_FILL, SUMMARY_SHEET
from xlperf.findings import CheckedReturn, Finding
from xlperf.form.metasheet import NAME_PREFIX
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.read import read_return
from xlperf.report import ANNOTATED_SUFFIX, render_html, write_annotated, write_json, write_reports

SCRIPT = "<script>alert('x')</script>"
MARKUP = "<p>引导和带动</p>"






def make_return(folder: Path, name: str, form: str, changes: dict[str, Any] | None = None,
                typed: dict[str, Any] | None = None) -> Path:
    """A return filled from the form's sample with ``changes``; ``typed`` overwrites cells
    (formulas included) by key with openpyxl, as a clerk typing over a locked cell would."""
    path = fill_workbook(TEMPLATES_DIR / f"{form}.xlsx", {**sample(form), **(changes or {})}, folder / name)
    if typed:
        wb = openpyxl.load_workbook(path)
        for key, value in typed.items():
            sheet, cell = a1(form, key)
            wb[sheet][cell] = value
        wb.save(path)
    return path


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CheckedReturn]:
    """Real returns, really checked: clean, with typical mistakes, unreadable, unscored form."""
    folder = tmp_path_factory.mktemp("returns")
    garbage = folder / "乱码.xlsx"
    garbage.write_bytes(b"this is not a workbook at all\n" * 40)
    paths = {
        "clean": make_return(folder, "clean.xlsx", "self_evaluation"),
        "text_amount": make_return(folder, "text_amount.xlsx", "self_evaluation",
                                   {"budget_city": "四十", "overview": MARKUP + SCRIPT}),
        "mistakes": make_return(folder, "mistakes.xlsx", "self_evaluation",
                                {"budget_city": 5.0, "budget_other": 0.0, "released": 6.0},
                                typed={"grade": "差"}),
        "target_table": make_return(folder, "target_table.xlsx", "target_table"),
        "unreadable": garbage,
    }
    return {name: check_file(path) for name, path in paths.items()}


def placed(form: str, key: str, code: str, severity: str, message: str, **kw: Any) -> Finding:
    sheet, cell = a1(form, key)
    label = builtin_layout(form).cells[key][1].label
    return Finding(code, severity, message, sheet=sheet, cell=cell, field=key, label=label, **kw)  # type: ignore[arg-type]


def with_known_findings(checked: CheckedReturn) -> CheckedReturn:
    """``checked`` with findings at known cells of both sheets, deliberately out of order."""
    form = "self_evaluation"
    findings = [
        placed(form, "total_score", "SCORE_MISMATCH", "warning", "综合得分与重算结果不符：请勿覆盖公式",
               expected="96.35", found="90"),
        placed(form, "released", "RELEASED_OVER_BUDGET", "warning",
               "预算下达资金 6.00 万元超过预算资金 5.00 万元：请核对下达或预算金额", expected="≤ 5.00", found="6.00"),
        placed(form, "grade", "GRADE_MISMATCH", "error", "等次与总分不符：总分 96.35 应为“优”，请勿手工填写等次",
               expected="优", found="差"),
        Finding("CACHED_MISSING", "warning", "文件保存时未计算公式：已按填报内容重算"),
        placed(form, "budget_city", "WRONG_TYPE", "error", "“市级预算资金”应填数字，现填“四十”：请输入金额",
               expected="数字", found="四十"),
        placed(form, "budget_city", "AMOUNT_UNIT", "warning", "市级预算资金疑似以元为单位：请按万元填报"),
        placed(form, "overview", "PASTED_HTML", "error", f"项目概况含网页代码 {MARKUP}{SCRIPT}：请删除标签",
               found=MARKUP + SCRIPT),
        placed(form, "year", "REQUIRED", "error", "年度未填写：请填写四位年度"),
    ]
    return replace(checked, findings=findings, notes=[*checked.notes, f"无法核实的单元格 {SCRIPT}"])


@pytest.fixture(scope="module")
def known(returns: dict[str, CheckedReturn]) -> CheckedReturn:
    return with_known_findings(returns["text_amount"])


# --- reading the HTML back -------------------------------------------------------------------


class Page(HTMLParser):
    """Tags seen, the text of the page, and the findings table as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.rows: list[dict[str, Any]] = []
        self.ids: dict[str, str] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._id: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        a = dict(attrs)
        if tag == "table" and a.get("id"):
            self._table = a["id"]
        if self._table == "findings" and tag == "tr" and a.get("data-code"):
            self.rows.append({"code": a["data-code"], "class": a.get("class"), "cells": []})
        if self._table == "findings" and tag == "td" and self.rows:
            self._cell = []
        cell_id = a.get("id")
        if tag == "td" and cell_id:
            self._id, self.ids[cell_id] = cell_id, ""
            self.ids[cell_id + ".style"] = a.get("style") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append("".join(self._cell).strip())
            self._cell = None
        if tag == "td":
            self._id = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._cell is not None:
            self._cell.append(data)
        if self._id is not None:
            self.ids[self._id] += data


def parse(html: str) -> Page:
    page = Page()
    page.feed(html)
    page.close()
    return page


def expected_order(checked: CheckedReturn) -> list[Finding]:
    """Errors first, then by sheet (form order; file-level first) and by row, then column."""
    sheets = [s.name for s in builtin_layout(str(checked.form)).sheets] if checked.form in builtin_forms() else []

    def key(f: Finding) -> tuple[int, int, tuple[int, int]]:
        where = (-1 if not f.sheet else sheets.index(f.sheet) if f.sheet in sheets else len(sheets))
        return (f.severity != "error", where, coordinate_to_tuple(f.cell) if f.cell else (0, 0))

    return sorted(checked.findings, key=key)


def assert_findings_table(checked: CheckedReturn, html: str) -> None:
    page = parse(html)
    order = expected_order(checked)
    assert [r["code"] for r in page.rows] == [f.code for f in order]
    for i, (row, f) in enumerate(zip(page.rows, order, strict=True), 1):
        number, severity, sheet, cell, field, message, expected, found = row["cells"]
        assert number == str(i)
        assert row["class"] == f.severity
        assert severity == {"error": "错误", "warning": "提示"}[f.severity]
        assert sheet == (f.sheet or "（整个文件）")
        assert cell == (f.cell or "—")
        assert field == (f.label or f.field or "—")
        assert f.message in message and f.code in message
        assert expected == (f.expected or "—") and found == (f.found or "—")


# --- HTML ------------------------------------------------------------------------------------


def test_html_lists_known_findings_errors_first_by_sheet_and_cell(known: CheckedReturn) -> None:
    html = render_html(known)
    assert_findings_table(known, html)
    codes = [r["code"] for r in parse(html).rows]
    # Spelled out once, so that the ordering rule itself is pinned, not only re-derived.
    assert codes == ["REQUIRED", "WRONG_TYPE", "PASTED_HTML", "GRADE_MISMATCH",
                     "CACHED_MISSING", "AMOUNT_UNIT", "RELEASED_OVER_BUDGET", "SCORE_MISMATCH"]


@pytest.mark.parametrize("name", ["clean", "text_amount", "mistakes", "target_table", "unreadable"])
def test_html_lists_what_the_checks_found(returns: dict[str, CheckedReturn], name: str) -> None:
    assert_findings_table(returns[name], render_html(returns[name]))


def test_html_header_names_the_return_and_recomputed_score(known: CheckedReturn) -> None:
    page = parse(render_html(known, generated=dt.datetime(2024, 5, 6, 7, 8)))
    text = "".join(page.text)
    spec = builtin_forms()["self_evaluation"]
    assert "绩效报表审核报告" in text
    for piece in (known.file.name, "晋中市中小企业局", spec.title, spec.version, "2019",
                  "错误 4 项", "提示 4 项", "2024-05-06 07:08", "如何修改", "不要撤销工作表保护"):
        assert piece in text, piece
    assert page.ids["status"] == "退回"
    assert "#FFC7CE" in page.ids["status.style"]
    # an amount typed as text (四十) feeds no score: none is shown, and the page says why
    assert known.total_score is None and known.grade is None
    assert "无法计算（请先改正上表中的错误）" in text


def test_html_header_shows_the_recomputed_score(returns: dict[str, CheckedReturn]) -> None:
    mistakes = returns["mistakes"]
    text = "".join(parse(render_html(mistakes)).text)
    assert mistakes.total_score is not None and f"{mistakes.total_score:.2f}" in text
    assert mistakes.grade is not None and mistakes.grade in text and "按填报内容重算" in text


def defang(text: str) -> str:
    return text.replace("<", "＜").replace(">", "＞")


def test_html_escapes_everything_from_the_return(known: CheckedReturn) -> None:
    hostile = replace(known, unit=SCRIPT + MARKUP, file=Path(f"{MARKUP}.xlsx"))
    tame = replace(hostile, unit=defang(hostile.unit or ""), file=Path(defang(hostile.file.name)),
                   notes=[defang(n) for n in hostile.notes],
                   findings=[replace(f, message=defang(f.message), found=defang(f.found or "") or None)
                             for f in hostile.findings])
    html = render_html(hostile)
    page = parse(html)
    # Markup typed into a return adds no element: the page has the tags of a page without it.
    assert page.tags == parse(render_html(tame)).tags
    assert "script" not in page.tags
    text = "".join(page.text)
    assert SCRIPT in text and MARKUP in text  # shown as text, not run as markup
    assert "&lt;script&gt;" in html and "<script" not in html


def test_html_is_self_contained_for_a_mail_client(known: CheckedReturn) -> None:
    html = render_html(known)
    assert '<meta charset="utf-8">' in html
    for banned in ("<script", "<link", "<img", "<style", "src=", "http://", "https://", "url(", "@import"):
        assert banned not in html.lower(), banned
    assert "<table" in html


@pytest.mark.parametrize(("findings", "label", "colour"), [
    ([], "通过", "#C6EFCE"),
    ([Finding("W", "warning", "提示")], "通过（有提示）", "#FFEB9C"),
    ([Finding("W", "warning", "提示"), Finding("E", "error", "错误")], "退回", "#FFC7CE"),
])
def test_html_status_label_and_colour(returns: dict[str, CheckedReturn], findings: list[Finding], label: str,
                                      colour: str) -> None:
    page = parse(render_html(replace(returns["clean"], findings=findings)))
    assert page.ids["status"] == label and colour in page.ids["status.style"]


def test_html_of_a_clean_return_says_nothing_to_fix(returns: dict[str, CheckedReturn]) -> None:
    clean = returns["clean"]
    text = "".join(parse(render_html(clean)).text)
    if not clean.findings:
        assert "本表审核通过，无需修改" in text and "未发现问题" in text
    assert clean.total_score is not None and f"{clean.total_score:.2f}" in text


def test_html_of_an_unscored_form(returns: dict[str, CheckedReturn]) -> None:
    text = "".join(parse(render_html(returns["target_table"])).text)
    assert "本表不评分" in text and builtin_forms()["target_table"].title in text


# --- annotated workbook ------------------------------------------------------------------------


def cell_of_name(wb: openpyxl.Workbook, key: str) -> Any:
    (sheet, ref), = wb.defined_names[NAME_PREFIX + key].destinations
    return wb[sheet][ref.replace("$", "")]


def as_written(value: Any) -> Any:
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return dt.datetime(value.year, value.month, value.day)
    return value


def assert_annotated(checked: CheckedReturn, path: Path) -> openpyxl.Workbook:
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames[0] == SUMMARY_SHEET
    assert wb.sheetnames[1:-1] == [s.name for s in builtin_layout(str(checked.form)).sheets]
    for ws in wb.worksheets:
        assert ws.protection.sheet, f"{ws.title} is not protected"
    with_cell = [f for f in checked.findings if f.sheet and f.cell]
    for f in with_cell:
        cell = wb[f.sheet][f.cell]
        assert cell.comment is not None, (f.code, f.sheet, f.cell)
        assert f.message in cell.comment.text
        assert cell.fill.fgColor.rgb == "FF" + ALERT_FILL.lstrip("#").upper()
    flagged = {(f.sheet, f.cell) for f in with_cell}
    for ws in wb.worksheets[1:]:
        for row in ws.iter_rows():
            for c in row:
                assert c.comment is None or (ws.title, c.coordinate) in flagged, (ws.title, c.coordinate)
    for key, value in checked.values.items():
        if value not in (None, ""):
            cell = cell_of_name(wb, key)
            assert cell.value == as_written(value), key
            assert cell.protection.locked is False, key  # still an input the clerk can correct
    summary_text = "\n".join(str(c.value) for row in wb[SUMMARY_SHEET].iter_rows() for c in row if c.value)
    for f in checked.findings:
        assert f.message in summary_text and f.code in summary_text
    return wb


def test_annotated_workbook_holds_every_known_finding_at_its_cell(known: CheckedReturn, tmp_path: Path) -> None:
    path = write_annotated(known, tmp_path / "known_批注.xlsx")
    assert path is not None
    wb = assert_annotated(known, path)
    sheet, cell = a1("self_evaluation", "budget_city")
    comment = wb[sheet][cell].comment.text
    # Two findings on one cell: one comment listing both, the error first.
    assert comment.index("“市级预算资金”应填数字") < comment.index("疑似以元为单位")
    assert comment.startswith("1. 【错误】") and "\n2. 【提示】" in comment
    assert wb[sheet][cell].value == "四十"  # the wrong value, as typed
    links = {c.value: c.hyperlink.location for row in wb[SUMMARY_SHEET].iter_rows() for c in row if c.hyperlink}
    assert links[cell] == f"'{sheet}'!{cell}"


@pytest.mark.parametrize("name", ["clean", "text_amount", "mistakes", "target_table"])
def test_annotated_workbook_of_real_returns(returns: dict[str, CheckedReturn], name: str, tmp_path: Path) -> None:
    path = write_annotated(returns[name], tmp_path / f"{name}{ANNOTATED_SUFFIX}")
    assert path is not None
    assert_annotated(returns[name], path)


def test_annotated_workbook_reads_back_as_the_same_return(known: CheckedReturn, tmp_path: Path) -> None:
    path = write_annotated(known, tmp_path / "again.xlsx")
    assert path is not None
    ret = read_return(path)
    assert ret.form_id == known.form
    assert {k: v for k, v in ret.values.items() if k in known.values and v is not None} == \
        {k: v for k, v in known.values.items() if v is not None}


# --- JSON, the set of files, an unreadable file -----------------------------------------------


def test_json_is_to_dict(known: CheckedReturn, tmp_path: Path) -> None:
    path = write_json(known, tmp_path / "known.json")
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == known.to_dict()
    assert "晋中市中小企业局" in text  # Chinese kept as is


def test_write_reports_writes_three_files(known: CheckedReturn, tmp_path: Path) -> None:
    out = write_reports(known, tmp_path / "out")
    stem = known.file.stem
    assert out == {"html": tmp_path / "out" / f"{stem}.html", "json": tmp_path / "out" / f"{stem}.json",
                   "xlsx": tmp_path / "out" / f"{stem}{ANNOTATED_SUFFIX}"}
    html = out["html"].read_text(encoding="utf-8")
    assert_findings_table(known, html)
    assert f"{stem}{ANNOTATED_SUFFIX}" in html  # the page points to its attachment
    assert json.loads(out["json"].read_text(encoding="utf-8")) == known.to_dict()
    assert_annotated(known, out["xlsx"])


def test_unreadable_file_gives_html_and_json_only(returns: dict[str, CheckedReturn], tmp_path: Path) -> None:
    checked = returns["unreadable"]
    assert checked.form is None and checked.findings
    assert write_annotated(checked, tmp_path / "x.xlsx") is None
    out = write_reports(checked, tmp_path / "out")
    assert set(out) == {"html", "json"}
    assert not list((tmp_path / "out").glob("*.xlsx"))
    html = out["html"].read_text(encoding="utf-8")
    assert_findings_table(checked, html)
    text = "".join(parse(html).text)
    assert "退回" in text and "未能识别" in text and "请使用财政局下发的 .xlsx 模板填报" in text
    assert json.loads(out["json"].read_text(encoding="utf-8")) == checked.to_dict()


def test_stems_are_unique_across_a_batch(known: CheckedReturn, tmp_path: Path) -> None:
    twins = [replace(known, file=Path("甲单位") / "自评表.xlsx"), replace(known, file=Path("乙单位") / "自评表.xlsx"),
             replace(known, file=Path("丙") / "乙单位" / "自评表.xlsx")]
    taken: set[str] = set()
    names = [write_reports(c, tmp_path, taken)["html"].name for c in twins]
    assert names == ["自评表.html", "乙单位_自评表.html", "乙单位_自评表_2.html"]
    assert len(list(tmp_path.glob("*.xlsx"))) == 3
    again: set[str] = set()  # a re-run of the same batch writes the same names
    assert [write_reports(c, tmp_path, again)["html"].name for c in twins] == names
