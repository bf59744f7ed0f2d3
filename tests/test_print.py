"""Printed templates: no page holds only a row or two, and each sheet prints on the official
form's pages (the self-evaluation's 其他 on the page of 项目实施情况).

The committed templates are rendered to PDF by LibreOffice in one soffice call; pdftotext
(poppler-utils) gives each page's text lines.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from required import missing

from xlperf.form.registry import builtin_forms, builtin_layout

TEMPLATES = Path(__file__).resolve().parent.parent / "templates_xlsx"
FORMS = sorted(builtin_forms())
MIN_LINES = 12
"""Text lines a printed page holds at least: the repeated title rows and the footer take ~4, a
page with a row or two of the form's own has fewer than 8."""


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory, lo_recalc: Callable[..., dict[Path, Path]]) -> dict[str, list[str]]:
    """form → the text of each printed page."""
    if shutil.which("pdftotext") is None:
        missing("pdftotext (poppler-utils)", "apt-get install poppler-utils")
    pdfs = lo_recalc([TEMPLATES / f"{form}.xlsx" for form in FORMS], tmp_path_factory.mktemp("print"), fmt="pdf")
    out = {}
    for source, pdf in pdfs.items():
        text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                              check=True).stdout
        out[source.stem] = [page for page in text.split("\f") if page.strip()]
    return out


def lines(page: str) -> list[str]:
    return [line for line in page.splitlines() if line.strip()]


@pytest.mark.parametrize("form", FORMS)
def test_no_page_holds_only_a_row_or_two(pages: dict[str, list[str]], form: str) -> None:
    for number, page in enumerate(pages[form], 1):
        assert len(lines(page)) >= MIN_LINES, f"{form} page {number} holds only:\n{page}"


BLANK_PAGES = {"evaluation_report": 3, "self_evaluation": 2, "target_declaration": 2, "project_self_evaluation": 2}
"""Pages of the blank templates whose spec leaves a sheet's page count free (``pages: 0``): the
fixed sheets' pages (evaluation_report 2, self_evaluation 1) plus what the free sheets take
as LibreOffice prints them today (1, 1, and 2 for the declaration's long indicator table;
project_self_evaluation's 绩效指标 starts page 2 by its spec's ``page_break``); a layout change
that adds or loses a page shows here."""


@pytest.mark.parametrize("form", FORMS)
def test_sheets_print_on_the_official_forms_pages(pages: dict[str, list[str]], form: str) -> None:
    sheets = builtin_layout(form).sheets
    fixed = [s.spec.pages for s in sheets]
    if all(fixed):
        assert len(pages[form]) == sum(fixed), f"{form}: {len(pages[form])} pages"
    else:
        assert len(pages[form]) == BLANK_PAGES[form], f"{form}: {len(pages[form])} pages"


def test_other_prints_with_project_implementation(pages: dict[str, list[str]]) -> None:
    """The 自评表 prints on one page, as the official form: its last row (其他) is not alone."""
    first = pages["self_evaluation"][0]
    assert "财政支出项目绩效自评表" in first and "项目实施情况" in first
    assert any(line.strip() == "其他" for line in lines(first)), first


def test_indicators_start_the_second_page(pages: dict[str, list[str]]) -> None:
    """The 一体化 self-evaluation prints as the official form: 项目基本情况 and 预算执行情况 on the
    first page, the 20 indicator rows with 合计, 自评等次 and 评价结论 on the second."""
    first, second = pages["project_self_evaluation"]
    assert "预算执行情况（10分）" in first and "绩效指标（90分）" not in first
    assert "绩效指标（90分）" in second and "评价结论" in second and "财务负责人" in second
