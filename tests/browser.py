"""The browser harness: ``xlperf serve`` in a subprocess on a free loopback port, and Debian's
Chromium driven by Selenium through Debian's chromedriver (nothing is downloaded: SE_OFFLINE)."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = ROOT / "output" / "screenshots"
WINDOW = (1366, 768)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Desk:
    url: str
    """The start URL printed by ``xlperf serve`` (with the token)."""
    base: str
    workdir: Path
    db: str
    process: subprocess.Popen[str]


def _missing(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(reason)
    pytest.skip(reason)


@contextlib.contextmanager
def serving(db: str, workdir: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Desk]:
    """``xlperf serve`` on a free loopback port on the ledger ``db`` (``env``: more variables, e.g.
    ``XLPERF_STORE``), stopped on exit."""
    port = free_port()
    environ = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    process = subprocess.Popen([sys.executable, "-m", "xlperf", "serve", "--db", db, "--port", str(port), *extra],
                               cwd=workdir, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True)
    try:
        url = _start_url(process)
        _wait_listening(port)
        yield Desk(url, f"http://127.0.0.1:{port}", workdir, db, process)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture()
def desk(tmp_path: Path) -> Iterator[Desk]:
    """``xlperf serve`` on a free loopback port with a new SQLite ledger in ``tmp_path``."""
    with serving(f"sqlite:///{tmp_path / 'xlperf.db'}", tmp_path) as served:
        yield served


def _start_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if "?token=" in line:
            return line.strip()
    raise AssertionError("xlperf serve printed no start URL:\n" + "".join(seen))


def _wait_listening(port: int, timeout: float = 20) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"xlperf serve is not listening on {port}")


@pytest.fixture()
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Headless Chromium at 1366×768 with a new profile, downloads into ``browser.download_dir``."""
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        _missing("Debian's chromium and chromium-driver are needed for the browser tests")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        _missing("selenium is not installed (pip install -e .[test])")
    os.environ["SE_OFFLINE"] = "true"
    profile = Path(tempfile.mkdtemp(prefix="xlperf-chromium-"))
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}",
                f"--window-size={WINDOW[0]},{WINDOW[1]}", "--lang=zh-CN"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
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
