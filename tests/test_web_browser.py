"""The desk in a real Chromium, as a finance clerk uses it: create a round from the sample roster,
upload the demo returns, read the statuses, open a rejected return and its findings, return one
with a note, upload a corrected version and see the history, build the summary in the background
and download it."""

from __future__ import annotations

import time
from pathlib import Path

import openpyxl
import pytest
from browser import Desk, browser, console_problems, desk, screenshot  # noqa: F401  (fixtures)
from chain_support import (
    DECLARATION,
    MONITORING,
    SELF_EVALUATION,
    declaration,
    monitoring,
    self_evaluation,
)
from deskdata import (
    CORRECTED_NAME,
    REJECTED_UNIT,
    corrected,
    demo_year,
    make_returns,
    rejected_demo,
)
from ledger_support import LedgerDb
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from xlperf.cli.demo import SAMPLES_DIR

ROUND = "2019年度项目支出绩效自评"
RECTIFY = "2019年度自评整改"


def test_start_url_signs_in_and_drops_the_token(desk: Desk, browser) -> None:  # noqa: F811
    browser.get(desk.base + "/rounds")
    assert "访问令牌" in browser.find_element(By.TAG_NAME, "body").text
    console_problems(browser)  # the 401 of that page is expected; read and drop it
    browser.get(desk.url)
    assert "token" not in browser.current_url and browser.current_url.endswith("/rounds")
    assert "报送任务" in browser.find_element(By.TAG_NAME, "h1").text
    assert console_problems(browser) == []


def _wait(driver, seconds: float = 60) -> WebDriverWait:  # type: ignore[no-untyped-def]
    # htmx replaces the table while a condition reads it: try again rather than fail.
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def _upload(driver, paths: list[Path]) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    before = driver.find_element(By.TAG_NAME, "body").get_attribute("data-upload-done") or "0"
    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in paths))
    driver.find_element(By.ID, "upload-button").click()
    _wait(driver, 120).until(lambda d: (d.find_element(By.TAG_NAME, "body").get_attribute("data-upload-done")
                                        or "0") != before)
    rows = driver.find_elements(By.CSS_SELECTOR, "#upload-results tbody tr")
    return [(r.find_elements(By.TAG_NAME, "td")[0].text, r.get_attribute("data-kind")) for r in rows]


def _row(driver, unit: str):  # type: ignore[no-untyped-def]
    return driver.find_element(By.CSS_SELECTOR, f'#roster-table tr[data-unit="{unit}"]')


def _fits(driver) -> None:  # type: ignore[no-untyped-def]
    """Nothing wider than the 1366-pixel window: the page does not scroll sideways."""
    width = driver.execute_script("return document.documentElement.scrollWidth")
    assert width <= 1366, f"the page is {width} px wide"


CHAIN = ("2019年度目标申报", "2019年度运行监控", "2019年度自评（承接监控）")
CHAIN_PROJECT = ("101001", "东湖区科技局", "科技成果转化服务平台运营", 45)


@pytest.fixture(scope="module")
def chain_returns(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A declaration, a monitoring return and a self-evaluation of one project, each prefilled from
    the declaration as the chain's templates are; one folder each."""
    base = tmp_path_factory.mktemp("chain")
    code, unit, project, budget = CHAIN_PROJECT
    declared = declaration(base / "申报", code, unit, project, budget)
    monitoring(base / "监控" / f"监控表_{unit}.xlsx", declared, exec_general=27, forecast_general=45)
    self_evaluation(base / "自评" / f"自评表_{unit}.xlsx", declared, ind_1_actual=13)
    return base / "申报", base / "监控", base / "自评"


def _chain(db: LedgerDb, folders: tuple[Path, Path, Path]) -> None:
    """The chain's rounds on the desk's ledger, made with the CLI (``round new --from-round``)."""
    roster, earlier = str(SAMPLES_DIR / "roster.csv"), ()
    for name, form, folder in zip(CHAIN, (DECLARATION, MONITORING, SELF_EVALUATION), folders, strict=True):
        db.run("new", name, "--form", form, "--year", str(demo_year()), "--roster", roster, *earlier)
        db.run("intake", name, str(folder))
        earlier = ("--from-round", name)


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    paths = make_returns(tmp_path_factory.mktemp("returns"), (corrected(rejected_demo()),))
    return {p.name: p for p in paths}


def test_a_clerk_collects_a_round(desk: Desk, browser, returns: dict[str, Path], db: LedgerDb,  # noqa: F811
                                  chain_returns: tuple[Path, Path, Path]) -> None:
    driver = browser
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                          "downloadPath": str(driver.download_dir)})
    driver.get(desk.url)
    driver.find_element(By.LINK_TEXT, "新建报送任务").click()
    driver.find_element(By.NAME, "name").send_keys(ROUND)
    Select(driver.find_element(By.NAME, "form")).select_by_value("self_evaluation")
    year = driver.find_element(By.NAME, "year")
    year.clear()
    year.send_keys(str(demo_year()))
    # A deadline already past: units that have not passed are shown overdue.
    driver.execute_script("arguments[0].value = '2020-01-31'", driver.find_element(By.NAME, "deadline"))
    driver.find_element(By.NAME, "roster").send_keys(str(SAMPLES_DIR / "roster.csv"))
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    _wait(driver).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), ROUND))
    assert len(driver.find_elements(By.CSS_SELECTOR, '#roster-table tr[data-status="未报送"]')) == 8
    dashboard = driver.current_url

    driver.find_element(By.LINK_TEXT, "上传报表").click()
    demo = [p for name, p in returns.items() if name != CORRECTED_NAME]
    outcomes = _upload(driver, demo)
    assert [name for name, _ in outcomes] == [p.name for p in demo]
    # The three self-evaluations are this round's; the other forms are held for staff.
    assert outcomes == [("自评表_东湖区科技局.xlsx", "current"), ("自评表_西山县中小企业局.xlsx", "current"),
                        ("自评表_南城区商务局.xlsx", "current"), ("目标申报表_北湖县工信局.xlsx", "held"),
                        ("绩效目标表_市中小企业办.xlsx", "held"), ("评价报告_湘潭县科工局.xlsx", "held")]

    driver.get(dashboard)
    assert _row(driver, REJECTED_UNIT).get_attribute("data-status") == "退回"
    assert _row(driver, "东湖区教育局").get_attribute("data-status") == "未报送"
    assert "overdue" in _row(driver, "东湖区教育局").get_attribute("class")
    _fits(driver)
    screenshot(driver, "dashboard")
    driver.find_element(By.ID, "roster-section").location_once_scrolled_into_view  # noqa: B018
    screenshot(driver, "dashboard-roster")

    # Filter by status through htmx: only 退回 rows remain.
    Select(driver.find_element(By.NAME, "status")).select_by_value("退回")
    _wait(driver).until(lambda d: all(r.get_attribute("data-status") == "退回"
                                      for r in d.find_elements(By.CSS_SELECTOR, "#roster-table tbody tr")))

    driver.get(dashboard)
    _row(driver, REJECTED_UNIT).find_element(By.TAG_NAME, "a").click()
    # Seed 004: 差 typed over the grade formula of a return scoring 96.35 (优): two errors there.
    findings = [[td.text for td in row.find_elements(By.TAG_NAME, "td")]
                for row in driver.find_elements(By.CSS_SELECTOR, "#findings tbody tr.error")]
    assert [(f[1], f[2], f[3], f[4], f[5].rsplit("代码 ", 1)[1], f[6], f[7]) for f in findings] == [
        ("错误", "评分表", "C29", "评价结果等次", "GRADE_MISMATCH", "优", "差"),
        ("错误", "评分表", "C29", "评价结果等次", "FORMULA_OVERWRITTEN", "公式", "差")]
    assert driver.find_element(By.ID, "status").text == "退回"
    _fits(driver)
    screenshot(driver, "submission")

    # Return another unit's return with a note.
    driver.get(dashboard)
    _row(driver, "东湖区科技局").find_element(By.TAG_NAME, "a").click()
    note = "支出数与决算不符，请核对后重新报送"
    driver.find_element(By.NAME, "note").send_keys(note)
    driver.find_element(By.CSS_SELECTOR, '#decide button[value="return"]').click()
    _wait(driver).until(ec.text_to_be_present_in_element((By.ID, "event-log"), note))
    assert driver.find_element(By.ID, "status").text == "退回"

    # The rejected unit sends a corrected version: it supersedes, the history shows both.
    driver.get(dashboard)
    driver.find_element(By.LINK_TEXT, "上传报表").click()
    assert _upload(driver, [returns[CORRECTED_NAME]])[-1][1] == "current"
    driver.get(dashboard)
    # The corrected version keeps the sample's warnings (e.g. low execution, high scores).
    assert _row(driver, REJECTED_UNIT).get_attribute("data-status") == "通过（有提示）"
    _row(driver, REJECTED_UNIT).find_element(By.TAG_NAME, "a").click()
    history = driver.find_elements(By.CSS_SELECTOR, "#history > tbody > tr")
    assert len(history) == 2
    history[-1].find_element(By.TAG_NAME, "summary").click()
    assert "项目实施情况" in history[-1].text

    # The summary workbook, downloaded and opened.
    driver.get(dashboard)
    driver.find_element(By.LINK_TEXT, "汇总").click()
    driver.find_element(By.ID, "summary-start").click()
    # Built in the background: the page polls, shows n of N, then the download link.
    _wait(driver).until(ec.element_to_be_clickable((By.ID, "summary-download"))).click()
    assert "已生成" in driver.find_element(By.ID, "summary-job").text
    summary = _downloaded(driver.download_dir, ".xlsx")
    book = openpyxl.load_workbook(summary, read_only=True)
    text = "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v)
    assert REJECTED_UNIT in text and "东湖区教育局" in text

    # 结果应用: every project whose return counts (通过, with or without 提示), with its consequence.
    driver.get(dashboard)
    passed = {r.get_attribute("data-unit") for r in driver.find_elements(By.CSS_SELECTOR, "#roster-table tbody tr")
              if r.get_attribute("data-status").startswith("通过")}
    driver.find_element(By.LINK_TEXT, "结果应用").click()
    rows = driver.find_elements(By.CSS_SELECTOR, "#results tbody tr")
    assert {r.find_elements(By.TAG_NAME, "td")[1].text for r in rows} == passed and REJECTED_UNIT in passed
    _fits(driver)
    screenshot(driver, "results")

    # 整改: the round's 整改 round (made on the command line) follows the returned project's
    # problems; nothing has come back and the deadline has passed: every item is overdue.
    db.run("new", RECTIFY, "--rectify", ROUND, "--select", "returned", "--deadline", "2020-06-30")
    driver.get(desk.base + "/rounds")
    driver.find_element(By.LINK_TEXT, RECTIFY).click()
    assert driver.find_element(By.ID, "rectify-line").text.startswith("整改未完成：共 ")
    driver.find_element(By.LINK_TEXT, "整改情况").click()
    [row] = driver.find_elements(By.CSS_SELECTOR, "#rectify tbody tr")
    assert row.get_attribute("data-unit") == "东湖区科技局"
    items = row.find_elements(By.CSS_SELECTOR, "li")
    assert items[0].text == f"逾期 财政局退回意见：{note}"
    assert {i.get_attribute("data-state") for i in items} == {"逾期"}
    assert driver.find_element(By.ID, "rectify-summary").text.startswith(f"整改未完成：共 {len(items)} 项问题，已完成 0 项")
    _fits(driver)
    screenshot(driver, "rectify")

    # A project's chain: 目标申报 → 运行监控 → 自评 rounds on the same ledger (each --from-round the
    # one before); from the self-evaluation round's status, the return, then its chain page.
    _chain(db, chain_returns)
    driver.get(dashboard.rsplit("/rounds/", 1)[0] + "/rounds")
    driver.find_element(By.LINK_TEXT, CHAIN[-1]).click()
    _row(driver, CHAIN_PROJECT[1]).find_element(By.TAG_NAME, "a").click()
    driver.find_element(By.CSS_SELECTOR, "#chains a").click()
    _wait(driver).until(ec.presence_of_element_located((By.ID, "chain")))
    table = [[c.text for c in r.find_elements(By.CSS_SELECTOR, "th, td")]
             for r in driver.find_elements(By.CSS_SELECTOR, "#chain tr")]
    assert [row[0].splitlines()[0] for row in table[:1]] == ["项目"]
    assert [c.splitlines()[0] for c in table[0][1:]] == list(CHAIN)
    assert table[2:8] == [["预算（万元）", "45.00", "45.00", "45.00"], ["支出（万元）", "—", "27.00", "45.00"],
                          ["执行率", "—", "—", "100.00%"], ["总分", "—", "—", "100.00"], ["等次", "—", "—", "优"],
                          ["公益服务活动\n目标 / 实际", "≥12次 / —", "≥12次 / —", "≥12次 / 13次"]]
    _fits(driver)
    screenshot(driver, "chain")
    assert console_problems(driver) == []


def _downloaded(folder: Path, suffix: str, timeout: float = 60) -> Path:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done = [p for p in folder.iterdir() if p.suffix == suffix]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"nothing was downloaded into {folder}")
