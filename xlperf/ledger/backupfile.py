"""What a backup archive holds and how its rows are written: shared by :mod:`~xlperf.ledger.backup`
(making one), :mod:`~xlperf.ledger.restore` (reading one back) and :mod:`~xlperf.ledger.verify`.

The archive is one zip file:

- ``xlperf-backup.json``: the manifest: format and version, when and from what it was made, the
  schema's migration revision, every table (its columns, row count, member, SHA-256) and every
  stored file (SHA-256, size). The zip's comment holds the manifest's own SHA-256.
- ``database/<table>.jsonl``: each table's rows, one JSON list per line in the manifest's column
  order (times and dates as ISO text): database-neutral, so a backup of an SQLite ledger
  restores into PostgreSQL and back, the schema itself being made by xlperf's own migrations.
- ``files/ab/cdef…``: the file store as it is on disk (content-addressed, stored uncompressed:
  the workbooks are zips already).

Why a zip: it opens on any office computer without tools (an auditor can look inside), its
members can be read one at a time without unpacking the rest, each member carries a CRC besides
the manifest's SHA-256, and each can be compressed or not (the dump is, the workbooks are not).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Date, DateTime, MetaData, Table, select

FORMAT = "xlperf-backup"
VERSION = 1
MANIFEST = "xlperf-backup.json"
COMMENT_PREFIX = "xlperf-backup manifest sha256="
NOT_BACKED_UP = frozenset({"alembic_version", "desk_sessions"})
"""The revision is in the manifest; sign-ins are not part of the record (a restored desk asks
everyone to sign in again)."""
SHA256 = re.compile(r"[0-9a-f]{64}")

__all__ = ["COMMENT_PREFIX", "FORMAT", "MANIFEST", "NOT_BACKED_UP", "SHA256", "VERSION", "decode_row", "dumped_rows", "file_member",
           "ledger_tables", "referenced_files", "row_text", "store_files", "table_member"]


def file_member(sha256: str) -> str:
    return f"files/{sha256[:2]}/{sha256[2:]}"


def table_member(table: str) -> str:
    return f"database/{table}.jsonl"


def ledger_tables(conn: Connection) -> list[Table]:
    """The tables of the ledger on ``conn`` as the database has them (reflected, so that tables
    and columns of any revision are carried), parents before children."""
    metadata = MetaData()
    metadata.reflect(conn)
    return [t for t in metadata.sorted_tables if t.name not in NOT_BACKED_UP]


def dumped_rows(conn: Connection, table: Table) -> Iterator[tuple[Any, ...]]:
    """The rows of ``table`` in primary-key order, streamed (a server-side cursor on PostgreSQL)."""
    query = select(*table.columns).order_by(*table.primary_key.columns)
    yield from conn.execution_options(stream_results=True, yield_per=1000).execute(query)


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot write {type(value).__name__} to a backup")


def row_text(row: Iterable[Any]) -> bytes:
    return json.dumps(list(row), ensure_ascii=False, default=_plain).encode("utf-8") + b"\n"


def decode_row(table: Table, columns: list[str], line: bytes) -> dict[str, Any]:
    """A dumped line as the values to insert into ``table`` (times and dates typed again)."""
    values = json.loads(line)
    if not isinstance(values, list) or len(values) != len(columns):
        raise ValueError("a row does not have the manifest's columns")
    row = {}
    for name, value in zip(columns, values, strict=True):
        kind = table.columns[name].type
        if isinstance(value, str) and isinstance(kind, DateTime):
            value = dt.datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(kind, Date):
            value = dt.date.fromisoformat(value)
        row[name] = value
    return row


def referenced_files(table: str, row: dict[str, Any]) -> Iterator[str]:
    """The stored files a row names: a ``files`` row and a submission by their ``sha256``, a mail
    message by the attachments it lists (a held message's are in the store, not in ``files``)."""
    if table in ("files", "submissions") and isinstance(row.get("sha256"), str):
        yield row["sha256"]
    elif table == "mail_messages" and isinstance(row.get("files"), str):
        try:
            entries = json.loads(row["files"])
        except ValueError:
            return
        for entry in entries if isinstance(entries, list) else ():
            if isinstance(entry, dict) and isinstance(entry.get("sha256"), str):
                yield entry["sha256"]


def store_files(root: Path) -> dict[str, Path]:
    """SHA-256 -> path of every file under its content name in the store at ``root`` (temporary
    files of a writer at work are not)."""
    found = {}
    for folder in sorted(root.glob("??")) if root.is_dir() else ():
        for path in sorted(folder.iterdir()):
            sha = folder.name + path.name
            if SHA256.fullmatch(sha) and path.is_file():
                found[sha] = path
    return found
