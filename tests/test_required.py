"""The one guard for required components (tests/required.py, conftest.py): with
``XLPERF_REQUIRE_ALL=1`` a missing LibreOffice, Gnumeric, Dovecot, Chromium, nginx, systemd-analyze or PostgreSQL fails
the test naming it, whatever ``CI`` says; without it the test is skipped and the reason says what
to install; a skip written anywhere else fails too. Shown by running pytest on a small test file
with this suite's fixtures (``-p conftest``), the programs hidden from PATH."""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from servers import refused_port

TESTS = Path(__file__).resolve().parent
HIDDEN = ("soffice", "libreoffice", "ssconvert", "dovecot", "chromium", "chromedriver", "nginx", "systemd-analyze")
PG_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")

NEEDS = '''
import pytest
from browser import browser  # noqa: F401

def test_libreoffice(lo_recalc): pass
def test_gnumeric(gn_convert): pass
def test_dovecot(dovecot): pass
def test_chromium(browser): pass  # noqa: F811
def test_postgresql(db): pass
def test_nginx():
    from nginx import nginx_path
    nginx_path()
def test_systemd_analyze():
    from test_deploy_service import systemd_analyze
    systemd_analyze()
def test_a_skip_written_anywhere():
    pytest.skip("not today")
'''

MISSING = {
    "test_libreoffice": "LibreOffice (soffice on PATH) is missing: apt-get install libreoffice-calc-nogui",
    "test_gnumeric": "Gnumeric (ssconvert on PATH) is missing: apt-get install gnumeric",
    "test_dovecot": "Dovecot (dovecot on PATH) is missing: apt-get install dovecot-imapd",
    "test_chromium": "Chromium (chromium and chromedriver on PATH) is missing: apt-get install chromium chromium-driver",
    "test_postgresql[postgresql]": "PostgreSQL (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE not set) is missing: "
                                   "apt-get install postgresql, then run the tests under pg_virtualenv -- pytest",
    "test_nginx": "nginx is missing: apt-get install nginx",
    "test_systemd_analyze": "systemd-analyze is missing: apt-get install systemd",
    "test_a_skip_written_anywhere": "not today",
}


def path_without(names: tuple[str, ...], folder: Path) -> str:
    """A PATH of one folder linking every program of this PATH but ``names``."""
    folder.mkdir()
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not os.path.isdir(directory):
            continue
        for entry in os.scandir(directory):
            link = folder / entry.name
            if entry.name not in names and not link.exists():
                link.symlink_to(entry.path)
    return str(folder)


def run_inner(tmp_path: Path, env: dict[str, str], name: str, only: str = "") -> tuple[int, dict[str, tuple[str, str]]]:
    """pytest on :data:`NEEDS` (``only``: its tests whose names contain it) → (exit code, test id →
    (outcome, message))."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "test_needs.py").write_text(NEEDS, encoding="utf-8")
    report = folder / "report.xml"
    base = {k: v for k, v in os.environ.items() if k not in (*PG_VARS, "CI", "XLPERF_REQUIRE_ALL")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "conftest", "-p", "no:cacheprovider", "-c", os.devnull,
                          "--rootdir", str(folder), f"--junitxml={report}", "-q", str(folder / "test_needs.py"),
                          *(["-k", only] if only else [])],
                         cwd=folder, env={**base, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent)]), **env},
                         capture_output=True, text=True, timeout=240)
    outcomes = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome, message = child.tag, child.get("message", "")
        outcomes[case.get("name", "")] = (outcome, message)
    return run.returncode, outcomes


@pytest.fixture(scope="module")
def hidden_path(tmp_path_factory: pytest.TempPathFactory) -> str:
    return path_without(HIDDEN, tmp_path_factory.mktemp("path") / "bin")


@pytest.mark.parametrize("ci", ["true", "1", None], ids=["CI=true", "CI=1", "no CI"])
def test_every_missing_component_fails_under_require_all(tmp_path: Path, hidden_path: str, ci: str | None) -> None:
    env = {"PATH": hidden_path, "XLPERF_REQUIRE_ALL": "1", **({"CI": ci} if ci is not None else {})}
    code, outcomes = run_inner(tmp_path, env, "required")
    assert code == 1
    assert outcomes["test_postgresql[sqlite]"] == ("passed", "")
    for test, reason in MISSING.items():
        outcome, message = outcomes[test]
        assert outcome in ("failure", "error"), (test, outcome, message)
        assert reason in message, (test, message)


@pytest.mark.parametrize("ci", ["true"], ids=["CI=true"])
def test_without_the_switch_missing_components_skip_naming_what_to_install(tmp_path: Path, hidden_path: str,
                                                                          ci: str) -> None:
    """CI alone changes nothing: only XLPERF_REQUIRE_ALL=1 makes a missing component fail."""
    code, outcomes = run_inner(tmp_path, {"PATH": hidden_path, "CI": ci}, "optional")
    assert code == 0
    assert {test: outcomes[test] for test in MISSING} == {test: ("skipped", reason) for test, reason in MISSING.items()}


def test_a_postgresql_server_that_does_not_answer_fails_even_without_the_switch(tmp_path: Path) -> None:
    with refused_port() as port:
        env = {"PGHOST": "127.0.0.1", "PGPORT": str(port), "PGUSER": "x", "PGPASSWORD": "x", "PGDATABASE": "x"}
        # Only the ledger's cases: every component but PostgreSQL is here, and starting them
        # (a browser, Dovecot) would show nothing more.
        code, outcomes = run_inner(tmp_path, env, "stopped", only="test_postgresql")
    assert code == 1
    assert set(outcomes) == {"test_postgresql[sqlite]", "test_postgresql[postgresql]"}
    outcome, message = outcomes["test_postgresql[postgresql]"]
    assert outcome == "error" and message.startswith(f"failed on setup with \"Failed: PostgreSQL at 127.0.0.1:{port} "
                                                     "does not answer (is it stopped?)"), message
