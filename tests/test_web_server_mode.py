"""The desk in server mode end to end, as IT staff deploy it and a clerk uses it: ``xlperf serve
--host 0.0.0.0 --workers 2`` with TLS from a certificate made for the test, accounts made with
``xlperf user add``, and in Chromium: sign in, return a return with a note, sign out. On SQLite and
on PostgreSQL (conftest's ``db``).

Kept at the level of the user's flow: how sessions are stored and revoked is the desk's business
(and its own tests'); here only what a user sees."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from browser import ROOT, browser, serve, stop  # noqa: F401  (fixture)
from deskdata import REJECTED_UNIT, demo_year, make_returns
from ledger_support import LedgerDb
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait
from servers import make_certificate

from xlperf.cli.demo import SAMPLES_DIR

ROUND = "2019年度项目支出绩效自评"
CLERK, PASSWORD = "王科员", "绩效-口令-2026"
NOTE = "支出数与决算不符，请核对后重新报送"


def xlperf(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run([sys.executable, "-m", "xlperf", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})})
    assert result.returncode in (0, 1), result.stdout + result.stderr  # 1: intake with a rejected return
    return result.stdout


@pytest.fixture(scope="module")
def rejected_return(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo's rejected return (made once for both databases)."""
    return next(p for p in make_returns(tmp_path_factory.mktemp("returns")) if REJECTED_UNIT in p.name)


@pytest.fixture
def returned(db: LedgerDb, tmp_path: Path, rejected_return: Path) -> Path:
    """A round with the demo's rejected return taken in, and a staff account (the commands IT
    staff type before starting the desk); the work folder."""
    ret = rejected_return
    xlperf("round", "--db", db.url, "new", ROUND, "--form", "self_evaluation", "--year", str(demo_year()),
           "--roster", str(SAMPLES_DIR / "roster.csv"), cwd=tmp_path)
    assert "退回" in xlperf("round", "--db", db.url, "intake", ROUND, str(ret), cwd=tmp_path)
    assert xlperf("user", "add", CLERK, "--role", "staff", "--db", db.url, cwd=tmp_path,
                  env={"XLPERF_USER_PASSWORD": PASSWORD}).startswith(f"已添加账户：{CLERK}（")
    return tmp_path


def presented_certificate(port: int) -> bytes:
    """The certificate the desk presents on 127.0.0.1:port (verified against nothing but itself)."""
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
            context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return der


def test_server_mode_over_tls_with_two_workers(db: LedgerDb, returned: Path, browser) -> None:  # noqa: F811
    cert, key = make_certificate(returned)
    process, url = serve(["--db", db.url, "--host", "0.0.0.0", "--workers", "2", "--ssl-certfile", str(cert),
                          "--ssl-keyfile", str(key)], returned)
    try:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        base = f"https://127.0.0.1:{port}"
        # TLS with the test's certificate: it verifies against that certificate as the only CA.
        trusted = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw, \
                trusted.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert presented_certificate(port) == ssl.PEM_cert_to_DER_cert(cert.read_text(encoding="ascii"))
        # Two worker processes serve the one listening socket.
        workers = psutil.Process(process.pid).children()
        assert len([w for w in workers if "spawn_main" in " ".join(w.cmdline())]) == 2, \
            [w.cmdline() for w in workers]

        driver = browser
        wait = WebDriverWait(driver, 60)
        driver.get(base + "/rounds")
        assert driver.current_url.startswith(base + "/login")  # no session: the login page
        driver.find_element(By.NAME, "name").send_keys(CLERK)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), "报送任务"))
        assert driver.current_url == base + "/rounds"

        # A decision: the return sent back with a note, shown in its log and status.
        driver.find_element(By.LINK_TEXT, ROUND).click()
        wait.until(ec.text_to_be_present_in_element((By.TAG_NAME, "h1"), ROUND))
        driver.find_element(By.CSS_SELECTOR, f'#roster-table tr[data-unit="{REJECTED_UNIT}"] a').click()
        driver.find_element(By.NAME, "note").send_keys(NOTE)
        driver.find_element(By.CSS_SELECTOR, '#decide button[value="return"]').click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "event-log"), NOTE))
        assert driver.find_element(By.ID, "status").text == "退回"
        assert CLERK in driver.find_element(By.ID, "event-log").text  # the decision names who made it

        # Sign out: back at the login page, and the desk asks again.
        driver.find_element(By.XPATH, '//form[@action="/logout"]//button').click()
        wait.until(lambda d: d.current_url.startswith(base + "/login"))
        driver.get(base + "/rounds")
        assert driver.current_url.startswith(base + "/login")
        assert driver.find_elements(By.NAME, "password")
    finally:
        stop(process)
