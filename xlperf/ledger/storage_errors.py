"""A full or read-only store, told in words: what could not be written, and where.

Writing the ledger, the file store or an output can fail because the disk (or the user's quota)
is full (ENOSPC, EDQUOT; SQLite's SQLITE_FULL; PostgreSQL's disk_full) or because the file
system is mounted read-only (EROFS; SQLite's SQLITE_READONLY). Nothing is half-written then:
files go to a temporary name first, rows are committed only after their files. What the person
needs is to know what is full or read-only and where, not a traceback: :func:`storage_problem`
finds such a cause in an exception's chain, and the command line (exit 2) and the desk (a 507
page) show :meth:`StorageProblem.message`.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["FULL", "READ_ONLY", "StorageProblem", "database_place", "storage_problem"]

FULL, READ_ONLY = "full", "read_only"
_ERRNOS = {errno.ENOSPC: FULL, errno.EDQUOT: FULL, errno.EROFS: READ_ONLY}
_SQLITE_FULL, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CANTOPEN = 13, 8, 10, 14
_PG_STATES = {"53100": FULL, "25006": READ_ONLY}
"""disk_full; read_only_sql_transaction (a standby, or default_transaction_read_only)."""


@dataclass(frozen=True)
class StorageProblem:
    kind: str
    """FULL or READ_ONLY"""
    what: str
    """What could not be written: 台账数据库, 原文件存档, a file."""
    where: str

    def message(self) -> str:
        if self.kind == FULL:
            return (f"存储空间已满：无法写入{self.what}（{self.where}）。已保存的内容完好，这次未写完的没有保存；"
                    "请腾出磁盘空间或换一个位置后重试。")
        return (f"存储为只读：无法写入{self.what}（{self.where}）。已保存的内容完好；请换到可写的位置，"
                "或请管理员把该存储改为可写后重试。只读的台账仍可查看报送情况（xlperf round status）。")


def storage_problem(exc: BaseException, places: Mapping[Path, str] | None = None,
                    database: str = "", unnamed: Path | None = None) -> StorageProblem | None:
    """The full or read-only store behind ``exc`` (or its causes), if that is what it is.

    ``places``: folders or files and what they are (the file store: 原文件存档), to name what a
    failed path belongs to; ``database``: where the ledger's database is, for the database's own
    errors, which name no file; ``unnamed``: the file being written when a system error names
    none (a full disk's write does not)."""
    for cause in _chain(exc):
        if isinstance(cause, OSError) and cause.errno in _ERRNOS:
            named = str(cause.filename or unnamed or "")
            what, where = _what(named, places or {})
            return StorageProblem(_ERRNOS[cause.errno], what, where)
        kind = _database_kind(cause, database)
        if kind is not None:
            return StorageProblem(kind, "台账数据库", database or "数据库")
    return None


def database_place(url: str | None) -> str:
    """Where a ledger's database is, as people look for it: an SQLite file's path, a server's
    URL without its password."""
    from sqlalchemy.engine import make_url

    from xlperf.ledger.db import database_url

    parsed = make_url(database_url(url))
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        return str(parsed.database)
    return parsed.render_as_string(hide_password=True)


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        cause = todo.pop()
        if cause is None or id(cause) in seen:
            continue
        seen.add(id(cause))
        yield cause
        todo += [getattr(cause, "orig", None), cause.__cause__, cause.__context__]


def _database_kind(exc: BaseException, database: str) -> str | None:
    code = getattr(exc, "sqlite_errorcode", None)
    if isinstance(code, int):
        if code & 0xFF in (_SQLITE_IOERR, _SQLITE_CANTOPEN):
            # SQLite reports a full or read-only disk under its shared-memory or journal files as
            # an I/O error, without the system's errno: ask the file system itself.
            return _file_system_state(database)
        return {_SQLITE_FULL: FULL, _SQLITE_READONLY: READ_ONLY}.get(code & 0xFF)
    state = getattr(exc, "sqlstate", None)
    return _PG_STATES.get(state) if isinstance(state, str) else None


def _file_system_state(database: str) -> str | None:
    """FULL or READ_ONLY when the file system holding the SQLite file ``database`` is so now."""
    if not database or "://" in database:
        return None
    folder = Path(database).parent
    try:
        if hasattr(os, "statvfs") and os.statvfs(folder).f_flag & os.ST_RDONLY:  # (Windows has no statvfs)
            return READ_ONLY
        return FULL if shutil.disk_usage(folder).free == 0 else None
    except OSError:
        return None


def _what(path: str, places: Mapping[Path, str]) -> tuple[str, str]:
    """What a failed path is, and where to say it is (a known place by its root, not the
    temporary file inside it)."""
    if not path:
        return "文件", "未知位置"
    target = Path(os.path.abspath(path))
    for place, label in places.items():
        if target == place or place in target.parents:
            return label, str(place)
    if target.name.endswith((".db", ".db-wal", ".db-shm", ".db-journal")):
        return "台账数据库", str(target)
    return "文件", str(target)
