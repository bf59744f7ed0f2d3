"""The desk behind a real nginx on a sub-path (/jixiao/), as a bureau's intranet serves it: one
browser session through the proxy (sign in, a round, an upload, a download, sign out) where every
link, form, redirect, static file and download stays under the sub-path; forwarded headers
believed from the proxy's address only; the cookie Secure when the proxy says https."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from browser import browser, console_problems, serving  # noqa: F401  (fixtures)
from click.testing import CliRunner
from deskclient import PASSWORD, csrf_of
from deskdata import demo_year
from ledger_support import LedgerDb
from nginx import PROXY_ADDRESS, proxy
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from xlperf.cli import main
from xlperf.cli.demo import DEMO_RETURNS, SAMPLES_DIR
from xlperf.excel.fill import fill_workbook
from xlperf.excel.template import write_template
from xlperf.form.registry import builtin_layout

SUB = "/jixiao"
STAFF = "张三"
ROUND = "2019年度项目支出绩效自评"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (DEBUG|INFO|WARNING|ERROR|CRITICAL) 任务=(\S+) 报送=(\S+) (.*)$")


@dataclass
class Site:
    url: str
    """The proxy's URL of the desk: http://127.0.0.1:PORT/jixiao"""
    proxy: str
    desk: str
    """The desk's own address (not through the proxy)."""
    db: Path
    log: Path


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """``xlperf serve --root-path /jixiao/ --forwarded-allow-ips 127.0.0.2`` (one account), and
    nginx in front of it."""
    work = tmp_path_factory.mktemp("proxied")
    db = work / "xlperf.db"
    added = CliRunner().invoke(main, ["user", "add", STAFF, "--role", "staff", "--db", f"sqlite:///{db}"],
                               env={"XLPERF_USER_PASSWORD": PASSWORD})
    assert added.exit_code == 0, added.output
    log = work / "desk.log"
    with serving(f"sqlite:///{db}", work, "--host", "127.0.0.1", "--root-path", SUB + "/", "--workers", "1",
                 "--forwarded-allow-ips", PROXY_ADDRESS, "--log-file", str(log)) as desk, \
            proxy(work / "nginx", SUB + "/", int(urlsplit(desk.url).port or 0)) as base:
        yield Site(base + SUB, base, desk.base.rstrip("/"), db, log)


def one_return(folder: Path) -> Path:
    """One demo unit's self-evaluation, filled from the template (not recalculated: the flow
    needs a file recorded, whatever its checks say)."""
    demo = next(r for r in DEMO_RETURNS if r.form == "self_evaluation")
    template = write_template(builtin_layout(demo.form), folder / "template.xlsx")
    return fill_workbook(template, demo.values(), folder / demo.file)


def _wait(driver, seconds: float = 60) -> WebDriverWait:  # type: ignore[no-untyped-def]
    # htmx replaces the roster table while a condition reads it: read it again (as test_web_browser).
    return WebDriverWait(driver, seconds, ignored_exceptions=(StaleElementReferenceException,))


def test_the_desk_through_nginx_on_a_sub_path(site: Site, browser, tmp_path: Path) -> None:  # noqa: F811
    driver = browser
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                          "downloadPath": str(driver.download_dir)})
    # Sign in: the desk sends the browser to the login form under the sub-path, and back.
    driver.get(site.url + "/")
    assert driver.current_url == f"{site.url}/login?next=%2Fjixiao%2F"
    driver.find_element(By.NAME, "name").send_keys(STAFF)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    _wait(driver).until(ec.url_to_be(f"{site.url}/rounds"))
    # The stylesheet and the scripts came through the proxy (a missing one is a console error).
    assert driver.execute_script("return typeof htmx") == "object"
    assert driver.execute_script("return document.styleSheets[0].cssRules.length") > 10
    cookie = driver.get_cookie("xlperf_desk")
    assert (cookie["path"], cookie["secure"], cookie["httpOnly"]) == (SUB, False, True)

    # A round: the form's action and the redirect after it.
    driver.find_element(By.LINK_TEXT, "新建报送任务").click()
    assert driver.current_url == f"{site.url}/rounds/new"
    driver.find_element(By.NAME, "name").send_keys(ROUND)
    Select(driver.find_element(By.NAME, "form")).select_by_value("self_evaluation")
    year = driver.find_element(By.NAME, "year")
    year.clear()
    year.send_keys(str(demo_year()))
    driver.find_element(By.NAME, "roster").send_keys(str(SAMPLES_DIR / "roster.csv"))
    driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]").click()
    _wait(driver).until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), ROUND))
    assert driver.current_url == f"{site.url}/rounds/1"

    # An upload (the page's script posts to the form's action), then the submission's page by
    # the link the result row carries.
    driver.find_element(By.LINK_TEXT, "上传报表").click()
    assert driver.current_url == f"{site.url}/rounds/1/upload"
    upload = one_return(tmp_path)
    driver.find_element(By.ID, "files").send_keys(str(upload))
    driver.find_element(By.ID, "upload-button").click()
    _wait(driver, 120).until(lambda d: d.find_element(By.TAG_NAME, "body").get_attribute("data-upload-done"))
    link = driver.find_element(By.CSS_SELECTOR, "#upload-results tbody tr a")
    assert (link.text, link.get_attribute("href")) == (upload.name, f"{site.url}/rounds/1/submissions/1")
    link.click()
    assert driver.current_url == f"{site.url}/rounds/1/submissions/1"

    # A download through the proxy: the file as uploaded.
    driver.find_element(By.LINK_TEXT, "下载原文件").click()
    saved = Path(driver.download_dir) / upload.name
    _wait(driver).until(lambda _d: saved.is_file() and saved.stat().st_size == upload.stat().st_size)
    assert saved.read_bytes() == upload.read_bytes()

    # The dashboard's filter goes through htmx (hx-get under the sub-path).
    driver.get(f"{site.url}/rounds/1")
    Select(driver.find_element(By.NAME, "status")).select_by_value("未报送")
    _wait(driver).until(lambda d: {r.get_attribute("data-status")
                                   for r in d.find_elements(By.CSS_SELECTOR, "#roster-table tbody tr")} == {"未报送"})
    assert console_problems(driver) == []

    # Sign out: back to the login form, and the old session is gone.
    driver.find_element(By.CSS_SELECTOR, "header form button").click()
    _wait(driver).until(ec.url_to_be(f"{site.url}/login"))
    driver.get(site.url + "/rounds/1")
    assert driver.current_url == f"{site.url}/login?next=%2Fjixiao%2Frounds%2F1"

    # The operator's log: the upload in the one format, naming its round and submission.
    lines = [LOG_LINE.match(line) for line in site.log.read_text(encoding="utf-8").splitlines()]
    uploads = [m.groups() for m in lines if m and "网页上传" in m.group(4)]
    assert len(uploads) == 1 and uploads[0][:3] == ("INFO", ROUND, "1"), uploads
    assert uploads[0][3].startswith(f"网页上传（{STAFF}）：") and upload.name in uploads[0][3]


def _sign_in(base: str, headers: dict[str, str]) -> httpx.Response:
    """Sign in at ``base`` sending ``headers``; the cookie is carried by hand (the https location's
    path is not the cookie's, and a Secure cookie would not be sent back over http)."""
    form = httpx.get(f"{base}/login", headers=headers)
    cookie = form.headers["set-cookie"].split(";")[0]
    return httpx.post(f"{base}/login", headers={**headers, "Cookie": cookie},
                      data={"name": STAFF, "password": PASSWORD, "csrf_token": csrf_of(form.text), "next": f"{SUB}/"})


def _flags(response: httpx.Response) -> list[str]:
    return [part.strip().lower() for part in response.headers["set-cookie"].split(";")[1:]]


def _last_sign_in_address(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT address FROM audit_log WHERE kind = 'sign_in' ORDER BY id DESC LIMIT 1").fetchone()
    return str(row[0])


def test_forwarded_headers_are_believed_from_the_proxy_only(site: Site) -> None:
    # Through the proxy's https location: the cookie is Secure, and the client is the one the
    # proxy saw (127.0.0.1), not the proxy itself (127.0.0.2) nor what the client claimed.
    signed = _sign_in(f"{site.proxy}/https{SUB}", {"X-Forwarded-For": "198.51.100.7"})
    assert (signed.status_code, signed.headers["location"]) == (303, f"{SUB}/")
    assert "secure" in _flags(signed) and f"path={SUB}" in _flags(signed)
    assert _last_sign_in_address(site.db) == "127.0.0.1"
    # Straight to the desk, not from the proxy's address, with made-up headers: none believed.
    direct = _sign_in(site.desk, {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert direct.status_code == 303
    assert "secure" not in _flags(direct)
    assert _last_sign_in_address(site.db) == "127.0.0.1"


ATTRIBUTE = re.compile(r'\b(href|src|action|hx-get|hx-post)="([^"]*)"')


def test_every_url_of_every_page_is_under_the_sub_path(tmp_path: Path) -> None:
    """Every page of a round with a submission, read as uvicorn hands it over under --root-path:
    every URL the page names starts with the sub-path, and every link it names can be opened."""
    from starlette.testclient import TestClient

    from xlperf.web import DeskConfig, create_app

    ledger_db = LedgerDb("sqlite", f"sqlite:///{tmp_path / 'xlperf.db'}", tmp_path / "xlperf.db.files")
    ledger_db.run("new", ROUND, "--form", "self_evaluation", "--year", str(demo_year()), "--roster",
                  str(SAMPLES_DIR / "roster.csv"))
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    one_return(inbox)
    (inbox / "template.xlsx").unlink()
    ledger_db.run("intake", ROUND, str(inbox), ok=(0, 1))
    ledger = ledger_db.open()
    config = DeskConfig.for_host(ledger.url, "127.0.0.1", 8750, root_path=SUB)
    client = TestClient(create_app(config, ledger), root_path=SUB, follow_redirects=False)
    assert client.get(f"{SUB}/?token={config.token}").headers["location"] == f"{SUB}/"
    pages = ["/rounds", "/rounds/new", "/rounds/1", "/rounds/1/upload", "/rounds/1/submissions/1",
             "/rounds/1/templates", "/rounds/1/summary", "/rounds/1/results", "/rounds/1/mail", "/audit",
             "/rounds/9"]
    seen: set[str] = set()
    for path in pages:
        response = client.get(SUB + path)
        assert response.status_code == (404 if path == "/rounds/9" else 200), path
        for attribute, url in ATTRIBUTE.findall(response.text):
            if url.startswith("#") or url == "":
                continue
            assert url.startswith(f"{SUB}/"), (path, attribute, url)
            if attribute in ("href", "src", "hx-get"):
                seen.add(url.replace("&amp;", "&").split("#")[0])
    for url in sorted(seen):
        response = client.get(url)
        # "/jixiao/" sends the browser on to the list of rounds, under the sub-path too
        assert response.status_code == 200 or response.headers["location"] == f"{SUB}/rounds", url
    assert len(seen) >= 25
