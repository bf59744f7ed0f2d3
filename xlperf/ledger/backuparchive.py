"""Reading a backup archive (:mod:`~xlperf.ledger.backupfile`) with every part checked: the
manifest against the SHA-256 in the zip's comment, each member against the manifest (size,
SHA-256, and the zip's own CRC). Whatever does not match is an :class:`ArchiveError` that names
the part that is bad, in Chinese; nothing outside the manifest is read."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xlperf.ledger.backupfile import (
    COMMENT_PREFIX,
    FORMAT,
    MANIFEST,
    SHA256,
    VERSION,
    file_member,
    table_member,
)
from xlperf.ledger.db import LedgerError
from xlperf.ledger.store import sha256_of

__all__ = ["ArchiveError", "BackupArchive"]

_TABLE = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError)


class ArchiveError(LedgerError):
    """A damaged, incomplete or foreign backup archive (the message names the bad part)."""


class BackupArchive:
    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except OSError as exc:
            raise ArchiveError(f"无法读取备份文件 {path}（{exc.strerror or exc}）") from None
        except (zipfile.BadZipFile, EOFError):
            raise ArchiveError(f"备份文件 {path} 不是完整的 zip 文件：可能不完整（被截断、未复制完）或已损坏，拒绝恢复") from None
        self._infos = {info.filename: info for info in self.zip.infolist()}
        manifest = self._manifest()
        self.revision: str = manifest["revision"]
        self.database: str = str(manifest.get("database", ""))
        self.tables: list[dict[str, Any]] = manifest["tables"]
        self.files: list[dict[str, Any]] = manifest["files"]
        self._check_members()

    def close(self) -> None:
        self.zip.close()

    def damaged(self, member: str, what: str = "") -> ArchiveError:
        return ArchiveError(f"备份文件 {self.path} 已损坏：其中的 {member}{what}与清单记录的 SHA-256 不符，拒绝恢复。"
                            "请换用另一份备份")

    def _bad_manifest(self) -> ArchiveError:
        return ArchiveError(f"备份文件 {self.path} 已损坏：其中的清单 {MANIFEST} 与 zip 注释中记录的 SHA-256 不符，拒绝恢复。"
                            "请换用另一份备份")

    def _manifest(self) -> dict[str, Any]:
        if MANIFEST not in self._infos:
            # A cut-off archive can still open as a zip: the last workbook inside it, whose own
            # directory is then the last one found.
            raise ArchiveError(f"备份文件 {self.path} 中没有清单 {MANIFEST}：不是 xlperf 备份文件，或文件不完整"
                               "（被截断、未复制完），拒绝恢复")
        try:
            data = self.zip.read(MANIFEST)
        except _READ_ERRORS:
            raise self._bad_manifest() from None
        if self.zip.comment.decode("ascii", "replace") != COMMENT_PREFIX + sha256_of(data):
            raise self._bad_manifest()
        try:
            manifest = json.loads(data)
        except ValueError:
            raise self._bad_manifest() from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise ArchiveError(f"{self.path} 不是 xlperf 备份文件（清单格式不符），拒绝恢复")
        if not isinstance(manifest.get("version"), int) or manifest["version"] > VERSION:
            raise ArchiveError(f"备份文件 {self.path} 由较新版本的 xlperf 制作（备份格式 {manifest.get('version')}），"
                               "请用该版本或更新的 xlperf 恢复")
        if not (isinstance(manifest.get("revision"), str) and _valid_tables(manifest.get("tables"))
                and _valid_files(manifest.get("files"))):
            raise ArchiveError(f"备份文件 {self.path} 的清单 {MANIFEST} 内容不完整，拒绝恢复")
        return manifest

    def _check_members(self) -> None:
        listed = {MANIFEST} | {t["member"] for t in self.tables} | {file_member(f["sha256"]) for f in self.files}
        for name in self._infos:
            if name not in listed:
                raise ArchiveError(f"备份文件 {self.path} 中有清单未列出的 {name}，拒绝恢复")
        for name in sorted(listed - self._infos.keys()):
            raise ArchiveError(f"备份文件 {self.path} 不完整：缺少清单所列的 {name}，拒绝恢复")

    def file_data(self, sha256: str, size: int) -> bytes:
        """A stored file's bytes, checked."""
        member = file_member(sha256)
        info = self._infos[member]
        if info.file_size != size:
            raise self.damaged(member, "（原文件）")
        try:
            with self.zip.open(info) as part:
                data = part.read(size + 1)  # to the end: the zip's CRC is checked there
        except _READ_ERRORS:
            raise self.damaged(member, "（原文件）") from None
        if len(data) != size or sha256_of(data) != sha256:
            raise self.damaged(member, "（原文件）")
        return data

    def table_lines(self, table: dict[str, Any]) -> Iterator[bytes]:
        """The lines of a table's member as stored; checked only once read to the end (see
        :meth:`check_table`)."""
        member = table["member"]
        try:
            with self.zip.open(self._infos[member]) as part:
                yield from part
        except _READ_ERRORS:
            raise self.damaged(member, f"（表 {table['name']} 的数据）") from None

    def check_table(self, table: dict[str, Any]) -> None:
        """Read a table's member through and compare it with the manifest."""
        digest, size, rows = hashlib.sha256(), 0, 0
        for line in self.table_lines(table):
            digest.update(line)
            size += len(line)
            rows += 1
        if (size, rows, digest.hexdigest()) != (table["size"], table["rows"], table["sha256"]):
            raise self.damaged(table["member"], f"（表 {table['name']} 的数据）")


def _valid_tables(tables: Any) -> bool:
    return isinstance(tables, list) and all(
        isinstance(t, dict) and isinstance(t.get("name"), str) and _TABLE.fullmatch(t["name"])
        and t.get("member") == table_member(t["name"]) and isinstance(t.get("columns"), list)
        and all(isinstance(c, str) for c in t["columns"]) and isinstance(t.get("rows"), int)
        and isinstance(t.get("size"), int) and isinstance(t.get("sha256"), str) for t in tables)


def _valid_files(files: Any) -> bool:
    return isinstance(files, list) and all(
        isinstance(f, dict) and isinstance(f.get("sha256"), str) and SHA256.fullmatch(f["sha256"])
        and isinstance(f.get("size"), int) and f["size"] >= 0 for f in files)
