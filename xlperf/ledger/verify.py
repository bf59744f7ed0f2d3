"""``xlperf verify``: is a live ledger whole? Every file in the store is present under its content's
SHA-256, every row that names a file (a ``files`` row, a submission, a mail message's
attachments) finds it there, and the schema is at this xlperf's newest migration.

Read only: nothing is migrated or repaired (a ledger command migrates; a damaged or missing file
comes back from a backup, see README). The rows are read with plain SQL on columns every
revision has, so that an older ledger is still checked and told it needs upgrading. Run while
others write: the rows are read first, then the store, and a row is committed only after its
file is in place, so a file stored meanwhile is never reported missing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, text

from xlperf.ledger.backupfile import SHA256, store_files
from xlperf.ledger.db import HEAD, Ledger, known_revision, revision_of
from xlperf.ledger.storage_errors import database_place

__all__ = ["Verification", "verify_ledger"]

_SHOWN_USES = 3


@dataclass
class Verification:
    revision: str | None
    problems: list[str] = field(default_factory=list)
    files: int = 0
    """Stored files checked."""
    file_bytes: int = 0
    named: int = 0
    """Distinct files the rows name."""


def verify_ledger(ledger: Ledger) -> Verification:
    with ledger.engine.connect() as conn:
        revision = revision_of(conn)
        found = Verification(revision)
        if revision is None:
            found.problems.append(f"{database_place(ledger.url)} 没有台账结构：不是 xlperf 台账，或是空数据库")
            return found
        if revision != HEAD:
            found.problems.append(
                f"台账结构为旧版本 {revision}（本版本 xlperf 为 {HEAD}）：运行任一台账命令（如 xlperf round list）即自动升级"
                if known_revision(revision) else
                f"台账结构 {revision} 比本版本 xlperf（{HEAD}）新：请用制作它的新版本 xlperf")
        uses = _uses(conn)
    found.named = len(uses)
    present = store_files(ledger.store.root)
    for sha, path in present.items():
        actual, size = _digest(path)
        found.files += 1
        found.file_bytes += size
        if actual != sha:
            found.problems.append(f"原文件已损坏：{path}（内容的 SHA-256 与文件名不符）{_used_by(uses.get(sha, []))}")
    for sha in sorted(uses.keys() - present.keys()):
        found.problems.append(f"原文件缺失：{ledger.store.path(sha)}{_used_by(uses[sha])}")
    return found


def _uses(conn: Connection) -> dict[str, list[str]]:
    """SHA-256 -> what names the file, as staff know it (a submission, a mail's attachment)."""
    uses: dict[str, list[str]] = {sha: [] for sha in conn.execute(text("SELECT sha256 FROM files")).scalars()}
    rounds: dict[int, str] = dict(conn.execute(text("SELECT id, name FROM rounds")).tuples().all())
    for sub_id, sha, name, round_id in conn.execute(
            text("SELECT id, sha256, original_name, round_id FROM submissions ORDER BY id")):
        uses.setdefault(sha, []).append(f"报送 #{sub_id}「{name}」（任务“{rounds.get(round_id, round_id)}”）")
    for mail_id, subject, files, round_id in conn.execute(
            text("SELECT id, subject, files, round_id FROM mail_messages ORDER BY id")):
        try:
            entries = json.loads(files or "[]")
        except ValueError:
            entries = []
        for entry in entries if isinstance(entries, list) else ():
            sha = entry.get("sha256") if isinstance(entry, dict) else None
            if isinstance(sha, str) and SHA256.fullmatch(sha):
                uses.setdefault(sha, []).append(f"邮件 #{mail_id}「{subject}」的附件「{entry.get('name', '')}」"
                                 f"（任务“{rounds.get(round_id, round_id)}”）")
    return uses


def _used_by(uses: list[str]) -> str:
    if not uses:
        return ""
    shown = "；".join(dict.fromkeys(uses[:_SHOWN_USES]))
    more = f" 等 {len(uses)} 处" if len(uses) > _SHOWN_USES else ""
    return f"，用于：{shown}{more}"


def _digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
