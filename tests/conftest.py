"""Shared fixtures."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from ledger_support import LedgerDb
from servers import DOVECOT, Dovecot, SmtpStart, Store, free_port

from xlperf.excel.gnumeric import gnumeric_convert, ssconvert_path
from xlperf.excel.recalc import recalculate, soffice_path


@pytest.fixture(scope="session")
def lo_recalc() -> Callable[[Sequence[Path], Path], dict[Path, Path]]:
    """:func:`xlperf.excel.recalc.recalculate`; skips without LibreOffice, except on CI where it fails."""
    if soffice_path() is None:
        message = "LibreOffice (soffice) is not on PATH; the engine tests need it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return recalculate


@pytest.fixture(scope="session")
def gn_convert() -> Callable[..., dict[Path, Path]]:
    """:func:`xlperf.excel.gnumeric.gnumeric_convert`; skips without Gnumeric, except on CI where it fails."""
    if ssconvert_path() is None:
        message = "Gnumeric (ssconvert) is not on PATH; the second-engine tests need it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return gnumeric_convert


@pytest.fixture
def smtp_server() -> Iterator[SmtpStart]:
    """start(handler=None, **aiosmtpd options) → (controller, handler); stopped after the test."""
    started: list[Controller] = []

    def start(handler: Store | None = None, **kwargs: Any) -> tuple[Controller, Store]:
        handler = handler or Store()
        controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
        controller.start()
        started.append(controller)
        return controller, handler

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture
def dovecot() -> Iterator[Callable[..., Dovecot]]:
    """start(users, cert=None) → a running :class:`servers.Dovecot`; stopped and removed after
    the test. Skips without Dovecot, except on CI where it fails."""
    if shutil.which(DOVECOT) is None and not os.path.exists(DOVECOT):
        message = "Dovecot (dovecot-imapd) is not installed; the mailbox tests need it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    started: list[Dovecot] = []

    def start(users: dict[str, str], cert: tuple[Path, Path] | None = None) -> Dovecot:
        server = Dovecot(users, cert)
        started.append(server)
        server.start()
        return server

    yield start
    for server in started:
        server.cleanup()
# ------------------------------------------------------------------ the ledger's databases

PG_VARS = ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LedgerDb]:
    """A fresh, empty ledger: an SQLite file, or a schema of its own on the PostgreSQL server
    that PGHOST/PGPORT/PGUSER/PGPASSWORD/PGDATABASE name (``pg_virtualenv -- pytest`` starts one).
    Without those the PostgreSQL case is skipped, except on CI (CI=true), where it fails."""
    if request.param == "sqlite":
        yield LedgerDb("sqlite", str(tmp_path / "ledger.db"), tmp_path / "ledger.db.files")
        return
    missing = [name for name in PG_VARS if not os.environ.get(name)]
    if missing:
        message = f"no PostgreSQL server configured ({', '.join(missing)} not set): run under pg_virtualenv"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import URL

    schema = f"t_{uuid.uuid4().hex[:16]}"
    env = os.environ
    url = URL.create("postgresql+psycopg", username=env["PGUSER"], password=env["PGPASSWORD"],
                     database=env["PGDATABASE"],
                     query={"host": env["PGHOST"], "port": env["PGPORT"], "options": f"-csearch_path={schema}"})
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield LedgerDb("postgresql", url.render_as_string(hide_password=False), tmp_path / "store")
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
