"""Shared fixtures."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

# Hypothesis' pytest plugin imports this module only when it prints the session's summary, and
# pytest compiles it then (assertion rewriting). Seen on CPython 3.11.7: after test_required.py
# and test_storage_errors.py in one session, that late compile failed with "SystemError: AST
# constructor recursion depth mismatch" and ended the run without a summary. Imported here, it
# is compiled at start-up like every other plugin module.
import hypothesis.internal.observability  # noqa: F401
import pytest
from aiosmtpd.controller import Controller
from ledger_support import LedgerDb
from required import REQUIRE_ENV, importable, missing, require_all
from servers import Dovecot, LoopbackController, SmtpStart, Store, dovecot_path

from xlperf.excel.gnumeric import gnumeric_convert, ssconvert_path
from xlperf.excel.recalc import recalculate, soffice_path

# ------------------------------------------------------------------ the one guard (tests/required.py)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Under ``XLPERF_REQUIRE_ALL=1`` a skipped test is a failed one, whatever skipped it."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and require_all() and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped, but {REQUIRE_ENV}=1 requires every test to run: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Iterator[None]:
    """The same for a module skipped as a whole when collected."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and require_all():
        report.outcome = "failed"
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.longrepr = f"skipped, but {REQUIRE_ENV}=1 requires every test to run: {reason}"


SLOW_FIXTURES = {"lo_recalc": 900, "gn_convert": 900, "browser": 900, "dask_cluster": 900, "desk": 600}
"""Time limits (s) of tests that use these fixtures, directly or through others: a module's first
LibreOffice or cluster start counts in its first test's setup, on a busy 2-core machine. Other
tests have setup.cfg's ``timeout``; a test's own ``@pytest.mark.timeout`` wins."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        limits = [SLOW_FIXTURES[name] for name in getattr(item, "fixturenames", ()) if name in SLOW_FIXTURES]
        if limits:
            item.add_marker(pytest.mark.timeout(max(limits)))


@pytest.fixture(scope="session")
def lo_recalc() -> Callable[[Sequence[Path], Path], dict[Path, Path]]:
    """:func:`xlperf.excel.recalc.recalculate`; without LibreOffice see :func:`required.missing`."""
    if soffice_path() is None:
        missing("LibreOffice (soffice on PATH)", "apt-get install libreoffice-calc-nogui")
    return recalculate


@pytest.fixture(scope="session")
def gn_convert() -> Callable[..., dict[Path, Path]]:
    """:func:`xlperf.excel.gnumeric.gnumeric_convert`; without Gnumeric see :func:`required.missing`."""
    if ssconvert_path() is None:
        missing("Gnumeric (ssconvert on PATH)", "apt-get install gnumeric")
    return gnumeric_convert


@pytest.fixture
def smtp_server() -> Iterator[SmtpStart]:
    """start(handler=None, **aiosmtpd options) → (controller, handler); stopped after the test."""
    started: list[Controller] = []

    def start(handler: Store | None = None, **kwargs: Any) -> tuple[Controller, Store]:
        handler = handler or Store()
        controller = LoopbackController(handler, **kwargs)
        controller.start()
        started.append(controller)
        return controller, handler

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def dovecot() -> Iterator[Callable[..., Dovecot]]:
    """start(users, cert=None) → a running :class:`servers.Dovecot`; stopped and removed after
    the test. Without Dovecot see :func:`required.missing`."""
    if dovecot_path() is None:
        missing("Dovecot (dovecot on PATH)", "apt-get install dovecot-imapd")
    started: list[Dovecot] = []

    def start(users: dict[str, str], cert: tuple[Path, Path] | None = None) -> Dovecot:
        server = Dovecot(users, cert)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.cleanup()
@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[Any]:
    """``dask scheduler`` and ``dask worker --nworkers 2`` as separate processes on loopback
    (:class:`daskprocs.DaskProcesses`), for the whole session; without Dask see :func:`required.missing`."""
    importable("distributed", "Dask distributed", "pip install -e '.[test]'")
    from daskprocs import DaskProcesses

    cluster = DaskProcesses(workers=2).start()
    try:
        yield cluster
    finally:
        cluster.stop()


# ------------------------------------------------------------------ the ledger's databases

PG_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerDb]:
    """A fresh, empty ledger: an SQLite file, or a schema of its own on the PostgreSQL server
    that PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE name (``pg_virtualenv -- pytest`` starts one).
    Without those, see :func:`required.missing`; with them and no server answering, it fails."""
    if request.param == "sqlite":
        yield LedgerDb("sqlite", str(tmp_path / "ledger.db"), tmp_path / "ledger.db.files")
        return
    unset = [name for name in PG_VARS if not os.environ.get(name)]
    if unset:
        missing(f"PostgreSQL ({', '.join(unset)} not set)",
                "apt-get install postgresql, then run the tests under pg_virtualenv -- pytest")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import URL
    from sqlalchemy.exc import OperationalError

    schema = f"t_{uuid.uuid4().hex[:16]}"
    env = os.environ
    url = URL.create("postgresql+psycopg", username=env["PGUSER"], password=env["PGPASSWORD"],
                     database=env["PGDATABASE"],
                     query={"host": env["PGHOST"], "port": env["PGPORT"], "options": f"-csearch_path={schema}",
                            "application_name": schema})
    admin = create_engine(url)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as exc:  # configured, but stopped: never a skip
        pytest.fail(f"PostgreSQL at {env['PGHOST']}:{env['PGPORT']} does not answer (is it stopped?): {exc.orig}",
                    pytrace=False)
    try:
        yield LedgerDb("postgresql", url.render_as_string(hide_password=False), tmp_path / "store")
    finally:
        with admin.begin() as conn:
            # What the test left connected (a desk's worker process, a background build finishing)
            # would deadlock the DROP: every connection of this test carries the schema's name.
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE application_name = :name AND pid <> pg_backend_pid()"), {"name": schema})
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
