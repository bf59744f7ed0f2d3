"""``xlperf backup``: a consistent copy of a ledger and its file store in one zip file, made while
the desk, a watcher or an intake keep working (layout: :mod:`~xlperf.ledger.backupfile`).

Consistency. The database is read from one snapshot: on SQLite a copy made with SQLite's online
backup API (one step, under a read lock that a WAL database's writers do not wait for); on
PostgreSQL one read-only REPEATABLE READ transaction (the snapshot pg_dump itself reads). The
files are copied after it. Stored files are content-addressed and never changed nor deleted, and
a row naming a file is committed only after the file is in place (:mod:`~xlperf.ledger.store`),
so every file the snapshot names is in the store when the copy reaches it; a file stored after
the snapshot is carried too, which is harmless. A file the snapshot names that is missing, or a
stored file whose content does not match its name, stops the backup with its name: a backup that
could not be restored is worse than none (``xlperf verify`` finds them all).

Why not pg_dump: its output restores only into PostgreSQL (and wants a pg_dump as new as the
server, which an application server may not have, and PostgreSQL-compatible servers ship their
own); the rows written here restore into SQLite or any PostgreSQL the ledger runs on, with the
schema made by xlperf's own migrations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
import tempfile
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.engine import make_url

import xlperf
from xlperf.ledger.backupfile import (
    COMMENT_PREFIX,
    FORMAT,
    MANIFEST,
    VERSION,
    dumped_rows,
    file_member,
    ledger_tables,
    referenced_files,
    row_text,
    store_files,
    table_member,
)
from xlperf.ledger.db import BUSY_TIMEOUT_MS, Ledger, LedgerError, revision_of
from xlperf.ledger.storage_errors import database_place
from xlperf.ledger.store import FileStore, sha256_of

__all__ = ["BackupSummary", "make_backup"]

_REFERRING = frozenset({"files", "submissions", "mail_messages"})


@dataclass
class BackupSummary:
    output: Path
    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    file_bytes: int = 0
    seconds: float = 0.0


def make_backup(ledger: Ledger, output: Path) -> BackupSummary:
    """Write the backup of ``ledger`` to ``output`` (through a temporary file beside it, renamed
    into place when complete: a failed backup never leaves a partial archive under the name)."""
    started = time.monotonic()
    output = output.resolve()
    output.parent.mkdir(parents=True, exist_ok=True)
    temporary = output.with_name(f".{output.name}.{os.getpid()}.part")
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
            with _snapshot(ledger, output.parent) as conn:
                revision = revision_of(conn)
                if revision is None:
                    raise LedgerError(f"{database_place(ledger.url)} 不是 xlperf 台账（没有台账结构），无法备份")
                summary = BackupSummary(output, revision)
                tables, referenced = _dump(conn, archive, summary)
            files = _copy_files(archive, ledger.store, referenced, summary)
            manifest = {"format": FORMAT, "version": VERSION, "xlperf": xlperf.__version__,
                        "made_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                        "database": make_url(ledger.url).get_backend_name(), "source": database_place(ledger.url),
                        "store": str(ledger.store.root), "revision": revision, "tables": tables, "files": files}
            data = json.dumps(manifest, ensure_ascii=False, indent=1).encode("utf-8")
            archive.writestr(MANIFEST, data)
            archive.comment = (COMMENT_PREFIX + sha256_of(data)).encode("ascii")
        os.replace(temporary, output)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    summary.seconds = time.monotonic() - started
    return summary


@contextmanager
def _snapshot(ledger: Ledger, scratch: Path) -> Iterator[Connection]:
    """A connection that reads one consistent state of the ledger's database."""
    url = make_url(ledger.url)
    if url.get_backend_name() != "sqlite":
        with ledger.engine.connect() as conn:
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                conn.execute(text("SET TRANSACTION READ ONLY"))
                yield conn
        return
    with tempfile.TemporaryDirectory(dir=scratch, prefix=".xlperf-backup-") as folder:
        copy = Path(folder) / "snapshot.db"
        source = sqlite3.connect(str(url.database), timeout=BUSY_TIMEOUT_MS / 1000)
        try:
            target = sqlite3.connect(copy)
            try:
                source.backup(target)  # all pages in one step: one consistent state
            finally:
                target.close()
        finally:
            source.close()
        engine = create_engine(f"sqlite:///{copy}")
        try:
            with engine.connect() as conn:
                yield conn
        finally:
            engine.dispose()


def _dump(conn: Connection, archive: zipfile.ZipFile,
          summary: BackupSummary) -> tuple[list[dict[str, Any]], set[str]]:
    """Every table's rows into the archive; returns the manifest's tables and the files named."""
    tables: list[dict[str, Any]] = []
    referenced: set[str] = set()
    for table in ledger_tables(conn):
        columns = [c.name for c in table.columns]
        digest, size, count = hashlib.sha256(), 0, 0
        with archive.open(table_member(table.name), "w", force_zip64=True) as out:
            for row in dumped_rows(conn, table):
                if table.name in _REFERRING:
                    referenced.update(referenced_files(table.name, dict(zip(columns, row, strict=True))))
                line = row_text(row)
                out.write(line)
                digest.update(line)
                size += len(line)
                count += 1
        summary.rows[table.name] = count
        tables.append({"name": table.name, "columns": columns, "rows": count, "member": table_member(table.name),
                       "sha256": digest.hexdigest(), "size": size})
    return tables, referenced


def _copy_files(archive: zipfile.ZipFile, store: FileStore, referenced: set[str],
                summary: BackupSummary) -> list[dict[str, Any]]:
    present = store_files(store.root)
    missing = sorted(referenced - present.keys())
    if missing:
        raise LedgerError(f"台账记录的原文件在存档中找不到：{store.path(missing[0])}"
                          + (f" 等 {len(missing)} 个" if len(missing) > 1 else "")
                          + "，备份未完成。请运行 xlperf verify 查看全部问题")
    files = []
    for sha, path in present.items():
        data = path.read_bytes()
        if sha256_of(data) != sha:
            raise LedgerError(f"原文件已损坏（内容与文件名的 SHA-256 不符）：{path}，备份未完成。"
                              "请运行 xlperf verify 查看全部问题，并从较早的备份中取回该文件")
        info = zipfile.ZipInfo(file_member(sha), date_time=time.gmtime(path.stat().st_mtime)[:6])
        info.compress_type = zipfile.ZIP_STORED
        archive.writestr(info, data)
        files.append({"sha256": sha, "size": len(data)})
        summary.files += 1
        summary.file_bytes += len(data)
    return files
