"""Opening a ledger: the database URL, SQLite's settings, the schema migrations, the file store.

``open_ledger(url)`` takes any SQLAlchemy URL (``postgresql+psycopg://...``), a plain file path
(an SQLite file), or None: ``XLPERF_DB``, else ``xlperf.db`` in the current folder. It brings
the schema up to date with the Alembic migrations shipped in this package (no alembic.ini), so
a new or an older database just works.

SQLite is set up for several processes at once: WAL (readers never wait for a writer), a busy
timeout (a writer waits for another instead of failing), foreign keys on, and every transaction
begun with ``BEGIN IMMEDIATE``, so that a transaction that reads and then writes holds the write
lock from the start: two intakes are serialised per transaction instead of one failing with
"database is locked" when both try to upgrade a read lock. On PostgreSQL the round's row is
locked (SELECT ... FOR UPDATE) by each writing transaction (see :func:`lock_round`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

from xlperf.ledger.models import Round
from xlperf.ledger.store import FileStore

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["DB_ENV", "DEFAULT_DB", "STORE_ENV", "Ledger", "LedgerError", "database_url", "lock_round",
           "open_ledger", "revision_of", "upgrade"]

DB_ENV = "XLPERF_DB"
STORE_ENV = "XLPERF_STORE"
DEFAULT_DB = "xlperf.db"
BUSY_TIMEOUT_MS = 60_000
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
HEAD = "0008_rectify"
"""The newest migration (a test checks it is Alembic's head): an up-to-date ledger is opened
without importing Alembic at all, which saves a command a good part of its start-up."""
_MIGRATION_LOCK = 0x786C7066  # "xlpf": PostgreSQL advisory lock held while migrating


class LedgerError(Exception):
    """A ledger that cannot be opened or an operation that cannot be done (Chinese message)."""


@dataclass
class Ledger:
    engine: Engine
    sessions: sessionmaker[Session]
    store: FileStore
    url: str
    read_only: bool = False
    """An SQLite ledger on read-only storage, opened for reading (see :func:`open_ledger`)."""

    @property
    def shown_url(self) -> str:
        """The URL without its password."""
        return _shown(self.url)

    def session(self) -> Session:
        return self.sessions()

    def close(self) -> None:
        self.engine.dispose()


def database_url(value: str | None = None) -> str:
    """The SQLAlchemy URL of ``value`` (URL or SQLite file path), ``XLPERF_DB`` or the default."""
    value = value or os.environ.get(DB_ENV) or DEFAULT_DB
    if "://" in value:
        return value
    return "sqlite:///" + str(Path(value).expanduser().resolve())


def default_store(url: str) -> Path:
    """The file store next to an SQLite file (``x.db.files``); for a server, ``XLPERF_STORE`` or
    ``xlperf.files`` in the current folder."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return Path(str(parsed.database) + ".files")
    return Path("xlperf.files").resolve()


def open_ledger(url: str | None = None, store: Path | None = None, migrate: bool = True) -> Ledger:
    """Open (creating and migrating as needed) the ledger at ``url`` with its file store."""
    url = database_url(url)
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    sqlite = parsed.get_backend_name() == "sqlite"
    file = Path(str(parsed.database)) if sqlite and parsed.database not in (None, "", ":memory:") else None
    read_only = file is not None and _on_read_only_storage(file)
    engine_url: Any = url
    if sqlite:
        if file is not None and not read_only:
            file.parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_MS / 1000}
        if file is not None and read_only:
            engine_url = _read_only_url(file)
    try:
        engine = create_engine(engine_url, **kwargs)
    except Exception as exc:  # noqa: BLE001 - e.g. an unknown dialect or a missing driver
        raise LedgerError(f"无法打开数据库 {_shown(url)}（{type(exc).__name__}: {exc}）") from None
    if sqlite:
        _sqlite_settings(engine, read_only)
    try:
        if read_only:
            _check_current(engine, url)
        elif migrate:
            _migrate(engine)
    except LedgerError:
        engine.dispose()
        raise
    except Exception as exc:
        engine.dispose()
        raise LedgerError(f"无法打开或升级数据库 {_shown(url)}（{type(exc).__name__}: {exc}）") from exc
    root = store or (Path(os.environ[STORE_ENV]) if os.environ.get(STORE_ENV) else default_store(url))
    return Ledger(engine, sessionmaker(engine, expire_on_commit=False), FileStore(root), url, read_only)


def _on_read_only_storage(file: Path) -> bool:
    """An SQLite ledger that can only be read: on read-only media (a mount, a DVD), or a file or
    folder this user may not write (the folder: SQLite writes its journals next to the file)."""
    if not file.is_file():
        return False
    try:
        if hasattr(os, "statvfs") and os.statvfs(file.parent).f_flag & os.ST_RDONLY:  # not on Windows
            return True
    except OSError:
        return False
    return not (os.access(file, os.W_OK) and os.access(file.parent, os.W_OK))


def _read_only_url(file: Path) -> URL:
    """Open ``file`` read-only. With a write-ahead log beside it (a writer did not finish
    checkpointing), the log holds the newest transactions and SQLite reads it (mode=ro); without
    one, SQLite could not create the shared-memory file a WAL database needs, and the file is
    opened as immutable, which is what it is on read-only storage."""
    immutable = not Path(f"{file}-wal").exists()
    query = {"mode": "ro", "uri": "true", **({"immutable": "1"} if immutable else {})}
    return URL.create("sqlite", database=f"file:{file}", query=query)


def revision_of(conn: Connection) -> str | None:
    """The schema's migration revision (None: no ledger schema there)."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _check_current(engine: Engine, url: str) -> None:
    """A read-only ledger cannot be migrated: it must be of the newest schema already."""
    with engine.connect() as conn:
        version = revision_of(conn)
    if version != HEAD:
        raise LedgerError(f"台账 {_shown(url)} 在只读存储上，且是较早版本的台账（{version or '空'}），无法就地升级："
                          "请复制到可写的位置后打开")


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _sqlite_settings(engine: Engine, read_only: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, _record: Any) -> None:
        # The driver's own transaction handling is switched off: we begin them ourselves below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not read_only:  # a read-only ledger is read as it is
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoints, much faster
        cursor.close()

    @event.listens_for(engine, "begin")
    def begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock, which a read-only ledger cannot give.
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _migrate(engine: Engine) -> None:
    """Upgrade to the newest schema; concurrent openers wait for each other (one migrates)."""
    with engine.connect() as conn:  # cheap check first: nothing to do on an up-to-date ledger
        if revision_of(conn) == HEAD:
            return
    with engine.begin() as conn:
        upgrade(conn)


def upgrade(conn: Connection, revision: str = "head") -> None:
    """Migrate the schema on ``conn`` (in the caller's transaction) up to ``revision``; concurrent
    migrations of a PostgreSQL database wait for each other."""
    from alembic import command

    config = _config()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
    config.attributes["connection"] = conn
    command.upgrade(config, revision)


def known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of the migrations shipped with this xlperf."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    try:
        return ScriptDirectory.from_config(_config()).get_revision(revision) is not None
    except CommandError:
        return False


def lock_round(session: Session, round_id: int) -> None:
    """Serialise writers of one round: row lock on PostgreSQL; on SQLite BEGIN IMMEDIATE already
    holds the database's write lock (FOR UPDATE is left out there by SQLAlchemy)."""
    session.execute(select(Round.id).where(Round.id == round_id).with_for_update())
