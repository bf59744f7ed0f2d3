"""``xlperf restore``: a backup archive into an empty database and an empty file store.

Nothing is written before the archive is known good: every table's rows and every stored file
are checked against the manifest first (the files as they are put into the store; all of them
are removed again if one is bad). The database is then filled in one transaction: the schema
made by xlperf's migrations at the backup's revision, the rows inserted (parents first; a
submission's links to later submissions set once those are in), the values the database counts
itself (``rounds.roster_version``, kept by triggers on ``units``) and PostgreSQL's id sequences
set to what the backup says, and the schema migrated to this xlperf's newest. A failure at any
point leaves the database as it was (empty) and the store empty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Integer, MetaData, Table, bindparam, inspect, select, text

from xlperf.ledger.backuparchive import ArchiveError, BackupArchive
from xlperf.ledger.backupfile import decode_row, referenced_files
from xlperf.ledger.db import (
    HEAD,
    Ledger,
    LedgerError,
    known_revision,
    open_ledger,
    revision_of,
    upgrade,
)
from xlperf.ledger.storage_errors import database_place
from xlperf.ledger.store import FileStore

__all__ = ["RestoreSummary", "restore_backup"]

BATCH = 1000
_COUNTED_BY_TRIGGERS = {"rounds": ("roster_version",)}
"""Columns the database itself changes when other tables are written (migration
0004_roster_version): set back to the backup's values once every row is in."""


@dataclass
class RestoreSummary:
    url: str
    store: Path
    revision: str
    rows: dict[str, int] = field(default_factory=dict)
    files: int = 0
    file_bytes: int = 0
    seconds: float = 0.0


def restore_backup(path: Path, url: str | None, store: Path | None) -> RestoreSummary:
    started = time.monotonic()
    archive = BackupArchive(path)
    try:
        if not known_revision(archive.revision):
            raise ArchiveError(f"备份文件 {path} 来自较新版本的 xlperf（台账结构 {archive.revision}，本版本为 {HEAD}）："
                               "请先安装该版本或更新的 xlperf 再恢复")
        ledger = open_ledger(url, store, migrate=False)
        try:
            summary = RestoreSummary(ledger.url, ledger.store.root, archive.revision)
            _restore(archive, ledger, summary)
        finally:
            ledger.close()
    finally:
        archive.close()
    summary.seconds = time.monotonic() - started
    return summary


def _restore(archive: BackupArchive, ledger: Ledger, summary: RestoreSummary) -> None:
    with ledger.engine.connect() as conn:
        make_schema = _require_empty_database(conn, ledger, archive)
    root = ledger.store.root
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise LedgerError(f"原文件存档文件夹 {root} 不是空的：恢复只写入空的（或尚不存在的）文件夹，以免混入其他台账的文件。"
                          "请用 --store 换一个位置")
    for table in archive.tables:
        archive.check_table(table)
    root_existed = root.exists()
    placed: list[Path] = []
    try:
        for entry in archive.files:
            data = archive.file_data(entry["sha256"], entry["size"])
            ledger.store.put(data, entry["sha256"])
            placed.append(ledger.store.path(entry["sha256"]))
            summary.file_bytes += len(data)
        summary.files = len(placed)
        with ledger.engine.begin() as conn:
            if make_schema:
                upgrade(conn, archive.revision)
            named = _load(conn, archive, summary)
            present = {f["sha256"] for f in archive.files}
            missing = sorted(named - present)
            if missing:
                raise ArchiveError(f"备份文件 {archive.path} 不完整：台账记录的原文件 {missing[0]} 不在备份中"
                                   + (f"（共 {len(missing)} 个）" if len(missing) > 1 else "") + "，拒绝恢复")
            upgrade(conn)
    except BaseException:
        _remove(placed, ledger.store, root if not root_existed else None)
        raise


def _require_empty_database(conn: Connection, ledger: Ledger, archive: BackupArchive) -> bool:
    """Refuse a database that holds any row of a ledger; True: its schema is still to be made."""
    names = set(inspect(conn).get_table_names())
    for name in sorted(names & ({t["name"] for t in archive.tables} | {"alembic_version"})):
        if name != "alembic_version" and conn.execute(text(f'SELECT 1 FROM "{name}" LIMIT 1')).first() is not None:
            raise LedgerError(f"目标数据库 {database_place(ledger.url)} 不是空的（表 {name} 已有数据）：恢复只写入空的数据库，"
                              "以免覆盖现有台账。请新建一个空数据库（或换一个 SQLite 文件名）后再恢复")
    revision = revision_of(conn)
    if revision is not None and revision != archive.revision:
        raise LedgerError(f"目标数据库 {database_place(ledger.url)} 已建有台账结构（{revision}），与备份的台账结构（{archive.revision}）"
                          "不同：请新建一个空数据库后再恢复")
    if revision is None and names & {t["name"] for t in archive.tables}:
        raise LedgerError(f"目标数据库 {database_place(ledger.url)} 已有与台账同名的表（{', '.join(sorted(names))}）："
                          "请新建一个空数据库后再恢复")
    return revision is None


def _load(conn: Connection, archive: BackupArchive, summary: RestoreSummary) -> set[str]:
    """Insert every table's rows; returns the stored files they name."""
    metadata = MetaData()
    metadata.reflect(conn)
    entries = {t["name"]: t for t in archive.tables}
    for name in entries.keys() - metadata.tables.keys():
        raise ArchiveError(f"备份文件 {archive.path} 中的表 {name} 不属于台账结构 {archive.revision}，拒绝恢复")
    named: set[str] = set()
    counted: dict[str, list[dict[str, Any]]] = {}
    for table in metadata.sorted_tables:
        entry = entries.get(table.name)
        if entry is None:
            continue
        if set(entry["columns"]) != set(table.columns.keys()):
            raise ArchiveError(f"备份文件 {archive.path} 中表 {table.name} 的列与台账结构 {archive.revision} 不符，拒绝恢复")
        summary.rows[table.name] = _load_table(conn, archive, table, entry, named, counted)
    for name, rows in counted.items():
        if rows:
            _update(conn, metadata.tables[name], rows, _COUNTED_BY_TRIGGERS[name])
    if conn.dialect.name == "postgresql":
        _advance_sequences(conn, metadata)
    return named


def _load_table(conn: Connection, archive: BackupArchive, table: Table, entry: dict[str, Any],
                named: set[str], counted: dict[str, list[dict[str, Any]]]) -> int:
    columns = entry["columns"]
    # Links to rows of the same table (a submission superseded by a later one): set afterwards.
    own = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
    kept = _COUNTED_BY_TRIGGERS.get(table.name, ())
    links: list[dict[str, Any]] = []
    batch: list[dict[str, Any]] = []
    rows = 0
    for line in archive.table_lines(entry):
        try:
            row = decode_row(table, columns, line)
        except (ValueError, TypeError):
            raise archive.damaged(entry["member"], f"（表 {table.name} 的数据）") from None
        named.update(referenced_files(table.name, row))
        if own and any(row[c] is not None for c in own):
            links.append({c: row[c] for c in (*_key(table), *own)})
            row.update(dict.fromkeys(own))
        if kept:
            counted.setdefault(table.name, []).append({c: row[c] for c in (*_key(table), *kept)})
        batch.append(row)
        rows += 1
        if len(batch) >= BATCH:
            conn.execute(table.insert(), batch)
            batch = []
    if batch:
        conn.execute(table.insert(), batch)
    if links:
        _update(conn, table, links, tuple(own))
    return rows


def _key(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.primary_key.columns)


def _update(conn: Connection, table: Table, rows: list[dict[str, Any]], columns: tuple[str, ...]) -> None:
    """Set ``columns`` of the rows named by their keys (bound under other names than the columns')."""
    key = _key(table)
    statement = table.update().where(*(table.c[k] == bindparam(f"key_{k}") for k in key)) \
        .values({c: bindparam(f"value_{c}") for c in columns})
    params = [{**{f"key_{k}": r[k] for k in key}, **{f"value_{c}": r[c] for c in columns}} for r in rows]
    for start in range(0, len(params), BATCH):
        conn.execute(statement, params[start:start + BATCH])


def _advance_sequences(conn: Connection, metadata: MetaData) -> None:
    """Rows were inserted with their ids: PostgreSQL's id sequences continue after the largest."""
    for table in metadata.sorted_tables:
        key = list(table.primary_key.columns)
        if len(key) != 1 or not isinstance(key[0].type, Integer):
            continue
        sequence = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                                {"t": f'"{table.name}"', "c": key[0].name}).scalar()
        if sequence:
            largest = conn.execute(select(key[0]).order_by(key[0].desc()).limit(1)).scalar()
            conn.execute(text("SELECT setval(CAST(:s AS regclass), CAST(:v AS BIGINT), CAST(:called AS BOOLEAN))"),
                         {"s": sequence, "v": largest or 1, "called": largest is not None})


def _remove(placed: list[Path], store: FileStore, root: Path | None) -> None:
    """Take out the files a failed restore put into the (empty) store, and the folders it made."""
    for path in placed:
        path.unlink(missing_ok=True)
    for folder in sorted({p.parent for p in placed}):
        try:
            folder.rmdir()
        except OSError:
            pass
    if root is not None:
        try:
            root.rmdir()
        except OSError:
            pass
