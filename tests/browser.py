"""The browser harness: ``xlperf serve`` in a subprocess on a loopback port it chose, and Debian's
Chromium driven by Selenium through Debian's chromedriver (nothing is downloaded: SE_OFFLINE)."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from ledger_support import LedgerDb
from required import missing

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "output" / "screenshots"
WINDOW = (1366, 768)
START_TIMEOUT_S = 60
"""How long ``xlperf serve`` may take to print its URL (a busy 2-core machine: a few seconds)."""


@dataclass
class Desk:
    url: str
    """The start URL printed by ``xlperf serve`` (with the token in local mode)."""
    base: str
    workdir: Path
    db: str
    process: subprocess.Popen[str]


def chromium_paths() -> tuple[str, str]:
    """Debian's chromium and chromedriver on PATH, or :func:`required.missing`."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        missing("Chromium (chromium and chromedriver on PATH)", "apt-get install chromium chromium-driver")
    return chromium, driver


def serve(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[subprocess.Popen[str], str]:
    """``xlperf serve ARGS --port 0`` in a subprocess: the desk binds a port the system chose and
    prints its URL (the socket is bound before the URL is printed, so it is listening then).
    Returns the process and the URL, read with a time limit."""
    process = subprocess.Popen([sys.executable, "-m", "xlperf", "serve", *args, "--port", "0"], cwd=cwd,
                               env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        line = read_line(process, lambda text: text.strip().startswith(("http://", "https://")), START_TIMEOUT_S)
    except BaseException:
        stop(process)
        raise
    return process, line.strip()


def read_line(process: subprocess.Popen[str], wanted: Callable[[str], bool], timeout: float) -> str:
    """The first line of ``process``'s stdout that is ``wanted``, within ``timeout`` seconds (a
    reader thread: a pipe read has no time limit of its own); the output so far when it fails."""
    assert process.stdout is not None
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for text in process.stdout:
            lines.put(text)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    end = time.monotonic() + timeout
    while True:
        try:
            text = lines.get(timeout=max(0.0, end - time.monotonic()))
        except queue.Empty:
            raise AssertionError(f"no such line within {timeout} s:\n" + "".join(seen)) from None
        if text is None:
            raise AssertionError(f"the process ended (exit {process.wait()}) without it:\n" + "".join(seen))
        seen.append(text)
        if wanted(text):
            return text


def stop(process: subprocess.Popen[str]) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def serving(db: str, workdir: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Desk]:
    """``xlperf serve`` on the ledger ``db`` on a loopback port it chose (:func:`serve`; ``env``:
    more variables, e.g. ``XLPERF_STORE``), stopped on exit."""
    process, url = serve(["--db", db, *extra], workdir, env)
    try:
        yield Desk(url, url.split("/?")[0], workdir, db, process)
    finally:
        stop(process)


@pytest.fixture()
def desk(tmp_path: Path, db: LedgerDb) -> Iterator[Desk]:
    """``xlperf serve`` in local mode on a port of its own choosing, with a new ledger: SQLite or
    PostgreSQL (conftest's ``db``: every browser test runs on both)."""
    with serving(db.url, tmp_path) as served:
        yield served


@pytest.fixture()
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium at 1366×768 with a new profile, downloads into ``browser.download_dir``."""
    chromium, chromedriver = chromium_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium", "pip install -e '.[test]'")
    os.environ["SE_OFFLINE"] = "true"
    profile = Path(tempfile.mkdtemp(prefix="xlperf-chromium-"))
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--lang=zh-CN"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # The server-mode test's desk presents a certificate made for the test (the test checks it
    # against that certificate itself); plain http pages are unaffected.
    options.accept_insecure_certs = True
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(chromedriver), options=options)
    driver.download_dir = downloads  # type: ignore[attr-defined]
    try:
        # The page area itself at 1366×768, as on a common office laptop screen.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": WINDOW[0], "height": WINDOW[1], "deviceScaleFactor": 1, "mobile": False})
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def screenshot(driver: object, name: str) -> Path:
    """The visible viewport (1366×768 window) as output/screenshots/NAME.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path


def console_problems(driver: object) -> list[str]:
    """Errors the page logged (a script refused by the CSP, a failed request, a script error)."""
    return [entry["message"] for entry in driver.get_log("browser")  # type: ignore[attr-defined]
            if entry["level"] in ("SEVERE", "WARNING")]
