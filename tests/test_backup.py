"""Backups that restore (issue 25): ``xlperf backup`` while an intake and a desk upload are writing,
``xlperf restore`` into another folder and from SQLite into PostgreSQL with the round's rows,
status, history and roll-up as they were, ``xlperf verify`` naming a damaged or a missing stored
file, and a damaged archive refused with the bad part named. The commands run as a user runs
them (``python -m xlperf`` in their own processes) where processes matter."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from deskclient import csrf, signed_in_local
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from sqlalchemy import create_engine, func, select, text
from test_watch import client_message

from xlperf.cli import main
from xlperf.intake.mailtake import take_message
from xlperf.intake.mime import parse_message
from xlperf.ledger import find_round
from xlperf.ledger.accounts import DeskSession
from xlperf.ledger.db import HEAD
from xlperf.ledger.models import Base, Submission
from xlperf.ledger.rounds import roster_of, units_of

ROUND = "2025年项目支出绩效自评"
REJECTED = {**CLEAN, "released": 5.55, "spent_city": 6.2}
CODES = ("3001", "3002", "3003", "3004")
STRANGER = "陌生人 <someone@elsewhere.example>"
LATER = 8
"""Returns of the intake that runs during the backup."""


def xlperf(*args: str, ok: tuple[int, ...] = (0,), timeout: float = 240) -> subprocess.CompletedProcess[str]:
    """``python -m xlperf ARGS`` in its own process, as a user runs it."""
    env = {k: v for k, v in os.environ.items() if k not in ("XLPERF_DB", "XLPERF_STORE", "XLPERF_SIGNING_KEY")}
    done = subprocess.run([sys.executable, "-m", "xlperf", *args], capture_output=True, text=True, env=env,
                          timeout=timeout, check=False)
    assert done.returncode in ok, (done.returncode, done.stdout, done.stderr)
    return done


def fill(db: LedgerDb, folder: Path) -> None:
    """A round as a bureau has it mid-year: returns taken in from a folder (one superseded by its
    corrected version, one rejected, a file that is not a return, one from a unit not in the
    roster), one sent back by staff with a note, and a mail from a stranger held with its
    attachment (in the store, named only by the mail's row)."""
    roster = write_roster(folder / "roster")
    db.run("new", ROUND, "--form", FORM, "--year", str(YEAR), "--roster", str(roster), "--deadline", "2026-03-31")
    inbox = folder / "inbox"
    make_return(inbox / "东城_初稿.xlsx", "东城区科技局", age=300, **REJECTED)
    make_return(inbox / "东城_定稿.xlsx", "东城区科技局", age=100, **CLEAN)
    make_return(inbox / "西山.xlsx", "西山县中小企业局", age=200, **REJECTED)
    make_return(inbox / "外单位.xlsx", "不在名单的单位", age=200, **CLEAN)
    (inbox / "说明.txt").write_text("报送说明", encoding="utf-8")
    db.run("intake", ROUND, str(inbox), ok=(1,))
    db.run("return", ROUND, str(submission_id(db, "西山.xlsx")), "--note", "请补充佐证材料")
    raw = client_message(STRANGER, "材料", [("材料.xlsx", (inbox / "东城_初稿.xlsx").read_bytes()[:-7])],
                         message_id="m1@elsewhere.example")
    ledger = db.open()
    try:
        with ledger.session() as session:
            rnd = find_round(session, ROUND)
            session.expunge(rnd)
            units = units_of(session, rnd.id)
        take_message(ledger, rnd, roster_of(rnd, units), parse_message(raw), reply=False)
    finally:
        ledger.close()


def submission_id(db: LedgerDb, name: str) -> int:
    ledger = db.open()
    try:
        with ledger.session() as session:
            return session.scalars(select(Submission.id).where(Submission.original_name == name)).one()
    finally:
        ledger.close()


def table_rows(db: LedgerDb) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table (sessions apart), as the ORM reads them."""
    ledger = db.open()
    try:
        with ledger.session() as session:
            out = {}
            for mapper in Base.registry.mappers:
                cls = mapper.class_
                if cls is DeskSession:
                    continue
                columns = [getattr(cls, c.key) for c in mapper.column_attrs]
                out[cls.__tablename__] = [tuple(r) for r in session.execute(
                    select(*columns).order_by(*mapper.primary_key))]
            return out
    finally:
        ledger.close()


def record_of(db: LedgerDb, folder: Path) -> dict[str, Any]:
    """What staff see of the round: the list, the status, every unit's history, the roll-up's
    text and every cell of its workbook; and every row of the ledger."""
    def run(*args: str) -> str:
        return db.run(*args).output

    folder.mkdir(parents=True, exist_ok=True)
    rollup = folder / "汇总.xlsx"
    said = [line for line in run("rollup", ROUND, "-o", str(rollup)).splitlines() if not line.startswith("汇总工作簿：")]
    book = openpyxl.load_workbook(rollup)
    cells = {ws.title: [tuple(c.value for c in row) for row in ws.iter_rows()] for ws in book.worksheets}
    return {"list": run("list"), "status": run("status", ROUND), "json": run("status", ROUND, "--json"),
            "history": [run("history", ROUND, code) for code in CODES], "rollup": said, "cells": cells,
            "rows": table_rows(db)}


def count(db: LedgerDb) -> int:
    ledger = db.open()
    try:
        with ledger.session() as session:
            return session.scalar(select(func.count()).select_from(Submission)) or 0
    finally:
        ledger.close()


class Writers:
    """Watches the submissions a round's writers commit, and holds the write lock every writer of
    the round takes (SQLite's database lock; PostgreSQL's row lock on the round), so that writers
    wait while readers and backups do not. One connection of its own, cheap to ask often (a
    ledger session would also wait for the lock on SQLite)."""

    def __init__(self, db: LedgerDb) -> None:
        self.db = db
        if db.kind == "sqlite":
            self.sqlite = sqlite3.connect(db.url, timeout=60, isolation_level=None)
        else:
            self.engine = create_engine(db.url)
            self.conn = self.engine.connect()

    def submissions(self) -> int:
        if self.db.kind == "sqlite":
            return int(self.sqlite.execute("SELECT count(*) FROM submissions").fetchone()[0])
        if self.conn.in_transaction() and not self.held:
            self.conn.rollback()  # a fresh snapshot for every look
        return int(self.conn.execute(text("SELECT count(*) FROM submissions")).scalar_one())

    held = False

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self.db.kind == "sqlite":
            self.sqlite.execute("BEGIN IMMEDIATE")
        else:
            self.conn.rollback()
            self.conn.execute(text("SELECT id FROM rounds FOR UPDATE"))
        self.held = True
        try:
            yield
        finally:
            self.held = False
            if self.db.kind == "sqlite":
                self.sqlite.execute("ROLLBACK")
            else:
                self.conn.rollback()

    def close(self) -> None:
        if self.db.kind == "sqlite":
            self.sqlite.close()
        else:
            self.conn.close()
            self.engine.dispose()


def restored_sqlite(folder: Path) -> LedgerDb:
    return LedgerDb("sqlite", str(folder / "台账.db"), folder / "台账.db.files")


@pytest.mark.timeout(900)
def test_a_backup_taken_during_an_intake_and_an_upload_restores_whole(db: LedgerDb, tmp_path: Path) -> None:
    fill(db, tmp_path)
    later = tmp_path / "later"
    for i in range(LATER):
        make_return(later / f"南城_{i}.xlsx", "南城区商务局", age=100 - i, **{**CLEAN, "spent_city": 30 + i})
    upload = make_return(tmp_path / "upload" / "北湖.xlsx", "北湖县工信局", **CLEAN)
    before = count(db)
    writers = Writers(db)
    intake = subprocess.Popen([sys.executable, "-m", "xlperf", "round", *db.args(), "intake", ROUND, str(later),
                               "--batch", "1", "--jobs", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ledger = db.open()
        uploaded: list[Any] = []
        try:
            client = signed_in_local(ledger)  # signed in before the lock: pages read the ledger
            files = [("files", (upload.name, upload.read_bytes(), "application/octet-stream"))]
            token = csrf(client)
            uploader = threading.Thread(target=lambda: uploaded.append(client.post(
                "/rounds/1/upload", files=files, data={"csrf_token": token}, headers={"accept": "application/json"})))
            deadline = time.monotonic() + 240
            while writers.submissions() == before:  # the intake has committed its first return
                assert intake.poll() is None and time.monotonic() < deadline, intake.communicate()
                time.sleep(0.005)
            with writers.hold():
                taken = writers.submissions() - before
                assert 1 <= taken < LATER and intake.poll() is None  # mid-intake, and it goes on
                uploader.start()  # it waits for the lock to record the file: in progress during the backup
                xlperf("backup", "-o", str(tmp_path / "load.zip"), *db.args())
            uploader.join(240)
        finally:
            ledger.close()
        assert [r.status_code for r in uploaded] == [200]
        assert intake.wait(240) in (0, 1), intake.communicate()  # 1: a return sent back
    finally:
        writers.close()
        if intake.poll() is None:
            intake.kill()
    assert count(db) == before + LATER + 1

    # The quiet state restored into another folder (from PostgreSQL: into SQLite) is the same round.
    done = xlperf("backup", "-o", str(tmp_path / "final.zip"), *db.args())
    assert done.stdout.splitlines()[0].startswith("已备份台账 ")
    copy = restored_sqlite(tmp_path / "copy")
    said = xlperf("restore", str(tmp_path / "final.zip"), "--db", copy.url).stdout  # the store: beside the file
    assert said.splitlines()[-1].startswith("用时 ")
    assert record_of(copy, tmp_path / "copy") == record_of(db, tmp_path)
    assert "台账完好" in xlperf("verify", "--db", copy.url).stdout

    # The backup taken under load holds exactly what was committed when it was taken, and every
    # file its rows name.
    snapshot = restored_sqlite(tmp_path / "snapshot")
    xlperf("restore", str(tmp_path / "load.zip"), "--db", snapshot.url)
    assert "台账完好" in xlperf("verify", "--db", snapshot.url).stdout
    original, restored = table_rows(db)["submissions"], table_rows(snapshot)["submissions"]
    assert len(restored) == before + taken
    assert [r[:5] for r in restored] == [r[:5] for r in original[:before + taken]]  # id, round, sha256, size, name


def test_a_sqlite_backup_restores_into_another_folder_and_into_postgresql(db: LedgerDb, tmp_path: Path) -> None:
    source = LedgerDb("sqlite", str(tmp_path / "source" / "ledger.db"), tmp_path / "source" / "ledger.db.files")
    fill(source, tmp_path)
    archive = tmp_path / "备份.zip"
    said = xlperf("backup", "-o", str(archive), *source.args()).stdout.splitlines()
    rows = table_rows(source)
    counts = (f"任务 {len(rows['rounds'])}，单位 4，报送 5，审核结果 {len(rows['results'])}，日志 {len(rows['events'])}，"
              f"邮件 1，账户 0")
    assert said[0] == f"已备份台账 {source.url}（台账结构 {HEAD}）：{counts}"
    assert said[1].startswith("原文件 6 个，共 0.") and said[1].endswith(f"（存档：{source.store}）")

    done = xlperf("restore", str(archive), *db.args()).stdout.splitlines()
    assert done[0].startswith("已恢复到台账 ") and done[0].endswith(f"：{counts}")
    assert done[1].startswith("原文件 6 个，") and done[1].endswith(f"已逐一核对 SHA-256（存档：{db.store}）")
    assert record_of(db, tmp_path / "restored") == record_of(source, tmp_path)
    verified = xlperf("verify", *db.args()).stdout.splitlines()
    assert verified[-1].endswith(f"；台账完好，台账结构为最新（{HEAD}）。")

    # The restored ledger goes on: new rows get the next ids (PostgreSQL's sequences were set).
    make_return(tmp_path / "new" / "南城.xlsx", "南城区商务局", **CLEAN)
    db.run("intake", ROUND, str(tmp_path / "new" / "南城.xlsx"))
    assert submission_id(db, "南城.xlsx") == 6

    # Never over a ledger: a database with rows, or a store with files, is refused.
    again = xlperf("restore", str(archive), *db.args(), ok=(1,))
    assert "目标数据库" in again.stderr and "不是空的（表 decisions 已有数据）：恢复只写入空的数据库" in again.stderr
    other = tmp_path / "other.db"
    refused = xlperf("restore", str(archive), "--db", str(other), "--store", str(db.store), ok=(1,))
    assert f"原文件存档文件夹 {db.store} 不是空的" in refused.stderr


def test_verify_names_a_damaged_and_a_missing_stored_file(db: LedgerDb, tmp_path: Path) -> None:
    fill(db, tmp_path)
    assert xlperf("verify", *db.args()).returncode == 0
    ledger = db.open()
    try:
        with ledger.session() as session:
            final = session.scalars(select(Submission).where(Submission.original_name == "东城_定稿.xlsx")).one()
        damaged = ledger.store.path(final.sha256)
        in_files = {row[0] for row in table_rows(db)["files"]}
        held = [p for p in ledger.store.root.glob("??/*") if p.parent.name + p.name not in in_files]
    finally:
        ledger.close()
    assert len(held) == 1  # the held mail's attachment: in no files row
    os.chmod(damaged, 0o644)
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    held[0].unlink()

    found = xlperf("verify", *db.args(), ok=(1,)).stdout.splitlines()
    assert found[:2] == [
        f"原文件已损坏：{damaged}（内容的 SHA-256 与文件名不符），用于：报送 #{final.id}「东城_定稿.xlsx」（任务“{ROUND}”）",
        f"原文件缺失：{held[0]}，用于：邮件 #1「材料」的附件「材料.xlsx」（任务“{ROUND}”）"]
    assert found[2].endswith("；发现 2 个问题。")
    refused = xlperf("backup", "-o", str(tmp_path / "b.zip"), *db.args(), ok=(1,))
    assert f"台账记录的原文件在存档中找不到：{held[0]}，备份未完成" in refused.stderr
    assert not (tmp_path / "b.zip").exists()


def _rewritten(archive: Path, out: Path, member: str | None = None, extra: str | None = None) -> Path:
    """A copy of ``archive`` with one byte of ``member`` changed (the zip's CRC made anew: only the
    manifest's SHA-256 can tell), or with an ``extra`` member."""
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == member:
                data = data[:-1] + bytes([data[-1] ^ 1])
            dst.writestr(info, data)
        if extra:
            dst.writestr(extra, b"x")
        dst.comment = src.comment
    return out


def test_a_damaged_archive_is_refused_naming_the_bad_part(tmp_path: Path) -> None:
    source = LedgerDb("sqlite", str(tmp_path / "source" / "ledger.db"), tmp_path / "source" / "ledger.db.files")
    fill(source, tmp_path)
    archive = tmp_path / "备份.zip"
    assert CliRunner().invoke(main, ["backup", "-o", str(archive), *source.args()]).exit_code == 0
    [final_sha] = [r[2] for r in table_rows(source)["submissions"] if r[4] == "东城_定稿.xlsx"]
    with zipfile.ZipFile(archive) as zf:
        names = zf.namelist()
        stored = next(n for n in names if n.replace("/", "").endswith(final_sha))  # a workbook: a zip itself
        info = zf.getinfo(stored)
    target = restored_sqlite(tmp_path / "target")

    def refused(bad: Path, part: str) -> None:
        result = CliRunner().invoke(main, ["restore", str(bad), "--db", target.url])
        assert result.exit_code == 1, result.output
        assert f"备份文件 {bad} " in result.output and part in result.output, result.output
        assert not target.store.exists()

    refused(_rewritten(archive, tmp_path / "a.zip", stored), f"已损坏：其中的 {stored}（原文件）与清单记录的 SHA-256 不符，拒绝恢复")
    refused(_rewritten(archive, tmp_path / "b.zip", "database/submissions.jsonl"),
            "已损坏：其中的 database/submissions.jsonl（表 submissions 的数据）与清单记录的 SHA-256 不符")
    refused(_rewritten(archive, tmp_path / "c.zip", "xlperf-backup.json"), "已损坏：其中的清单 xlperf-backup.json 与 zip 注释中记录的 SHA-256 不符")
    refused(_rewritten(archive, tmp_path / "d.zip", extra="files/../../evil"), "中有清单未列出的 files/../../evil，拒绝恢复")
    flipped = tmp_path / "e.zip"  # a byte of a stored file flipped on disk: the zip's CRC tells
    data = bytearray(archive.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + 10] ^= 0xFF
    flipped.write_bytes(bytes(data))
    refused(flipped, f"已损坏：其中的 {stored}（原文件）")
    cut = tmp_path / "f.zip"
    cut.write_bytes(archive.read_bytes()[:start + info.compress_size])  # cut after a workbook: opens as it
    refused(cut, "中没有清单 xlperf-backup.json：不是 xlperf 备份文件，或文件不完整（被截断、未复制完），拒绝恢复")
    cut.write_bytes(archive.read_bytes()[:100])
    refused(cut, "不是完整的 zip 文件")

    # Nothing was left behind: the good archive restores into the same place.
    result = CliRunner().invoke(main, ["restore", str(archive), "--db", target.url])
    assert result.exit_code == 0, result.output
    assert table_rows(target) == table_rows(source)
