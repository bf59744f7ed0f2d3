"""A full or a read-only store (issue 21 item 12), with real errors: a small tmpfs filled to the
last byte (ENOSPC), then remounted read-only (EROFS). The command line says what and where in
Chinese and exits 2; the desk answers 507; ``round status`` still reads a read-only ledger.

Mounting needs root (CAP_SYS_ADMIN): without it these tests are skipped, except on CI, where
they fail (the errors are not imitated)."""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from deskclient import csrf
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from required import missing
from sqlalchemy import select
from starlette.testclient import TestClient

from xlperf.cli import main
from xlperf.ledger import open_ledger
from xlperf.ledger.models import Submission
from xlperf.web import DeskConfig, create_app

ROUND = "2026年自评"


class Mount:
    def __init__(self, path: Path) -> None:
        self.path = path

    def fill(self) -> None:
        """Write a filler file until the file system refuses (ENOSPC)."""
        fd = os.open(self.path / "filler", os.O_WRONLY | os.O_CREAT)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
        finally:
            os.close(fd)

    def read_only(self) -> None:
        subprocess.run(["mount", "-o", "remount,ro", str(self.path)], check=True)


@pytest.fixture()
def mount(tmp_path: Path) -> Iterator[Mount]:
    if os.geteuid() != 0:
        missing("root (to mount a small tmpfs: these tests need real ENOSPC and EROFS)", "run the tests as root")
    path = tmp_path / "mnt"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(path)], check=True)
    try:
        yield Mount(path)
    finally:
        subprocess.run(["umount", "-l", str(path)], check=True)


@pytest.fixture()
def on_mount(db: LedgerDb, mount: Mount) -> LedgerDb:
    """The ledger's file store on the mount (the database elsewhere)."""
    return LedgerDb(db.kind, db.url, mount.path / "store")


def _round_with_one_return(db: LedgerDb, tmp_path: Path) -> None:
    db.run("new", ROUND, "--form", FORM, "--year", str(YEAR), "--roster", str(write_roster(tmp_path / "r")))
    db.run("intake", ROUND, str(make_return(tmp_path / "in1" / "东城.xlsx", "东城区科技局", **CLEAN)))


def _leftovers(store: Path) -> list[Path]:
    return [p for p in store.rglob(".tmp-*")]


def test_a_full_store_is_named_with_exit_2_and_nothing_half_written(on_mount: LedgerDb, mount: Mount,
                                                                    tmp_path: Path) -> None:
    _round_with_one_return(on_mount, tmp_path)
    before = on_mount.run("status", ROUND).output
    mount.fill()
    second = make_return(tmp_path / "in2" / "西山.xlsx", "西山县中小企业局", **CLEAN)
    result = on_mount.run("intake", ROUND, str(second), ok=(2,))
    assert result.output == (f"Error: 存储空间已满：无法写入原文件存档（{on_mount.store}）。已保存的内容完好，"
                             "这次未写完的没有保存；请腾出磁盘空间或换一个位置后重试。\n")
    assert _leftovers(on_mount.store) == []
    (mount.path / "filler").unlink()
    assert on_mount.run("status", ROUND).output == before
    on_mount.run("intake", ROUND, str(second))  # with room again, it is taken in
    assert "西山县中小企业局  通过" in on_mount.run("status", ROUND).output


def test_a_full_disk_under_an_sqlite_ledger_names_the_database(mount: Mount, tmp_path: Path) -> None:
    ledger_db = LedgerDb("sqlite", str(mount.path / "ledger.db"), tmp_path / "store")
    _round_with_one_return(ledger_db, tmp_path)
    mount.fill()
    second = make_return(tmp_path / "in2" / "西山.xlsx", "西山县中小企业局", **CLEAN)
    result = ledger_db.run("intake", ROUND, str(second), ok=(2,))
    assert result.output == (f"Error: 存储空间已满：无法写入台账数据库（{mount.path / 'ledger.db'}）。已保存的内容完好，"
                             "这次未写完的没有保存；请腾出磁盘空间或换一个位置后重试。\n")
    (mount.path / "filler").unlink()
    assert "西山县中小企业局  未报送" in ledger_db.run("status", ROUND).output


def test_a_read_only_ledger_shows_its_status_and_refuses_writes_by_name(mount: Mount, tmp_path: Path) -> None:
    ledger_db = LedgerDb("sqlite", str(mount.path / "ledger.db"), mount.path / "ledger.db.files")
    _round_with_one_return(ledger_db, tmp_path)
    before = ledger_db.run("status", ROUND).output
    assert not (mount.path / "ledger.db-wal").exists()  # closed cleanly: opened as immutable
    mount.read_only()
    assert ledger_db.run("status", ROUND).output == before
    assert ledger_db.run("status", ROUND, "--json").output.startswith("{")
    assert "东城区科技局" in ledger_db.run("history", ROUND, "东城区科技局").output
    second = make_return(tmp_path / "in2" / "西山.xlsx", "西山县中小企业局", **CLEAN)
    refused = ledger_db.run("intake", ROUND, str(second), ok=(2,))
    assert refused.output == (f"Error: 存储为只读：无法写入原文件存档（{ledger_db.store}）。已保存的内容完好；"
                              "请换到可写的位置，或请管理员把该存储改为可写后重试。只读的台账仍可查看报送情况"
                              "（xlperf round status）。\n")
    decided = ledger_db.run("void", ROUND, "1", "--note", "误报", ok=(2,))
    assert decided.output.startswith(f"Error: 存储为只读：无法写入台账数据库（{mount.path / 'ledger.db'}）。")
    created = ledger_db.run("new", "另一轮", "--form", FORM, "--year", str(YEAR),
                            "--roster", str(write_roster(tmp_path / "r2")), ok=(2,))
    assert created.output.startswith(f"Error: 存储为只读：无法写入台账数据库（{mount.path / 'ledger.db'}）。")
    assert ledger_db.run("status", ROUND).output == before


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_a_read_only_postgresql_ledger_is_named_too(db: LedgerDb, tmp_path: Path) -> None:
    """PostgreSQL refusing writes (a standby, default_transaction_read_only): its own error, 25006.
    (SQLite's read-only case is the read-only mount above.)"""
    _round_with_one_return(db, tmp_path)
    read_only = LedgerDb(db.kind, db.url.replace("-csearch_path", "-cdefault_transaction_read_only%3Don%20-csearch_path"),
                         db.store)
    assert read_only.run("status", ROUND).output == db.run("status", ROUND).output
    refused = read_only.run("void", ROUND, "1", "--note", "误报", ok=(2,))
    assert refused.output.startswith("Error: 存储为只读：无法写入台账数据库（postgresql+psycopg://")


def test_the_desk_answers_507_naming_the_full_or_read_only_store(mount: Mount, tmp_path: Path) -> None:
    ledger_db = LedgerDb("sqlite", str(mount.path / "ledger.db"), mount.path / "ledger.db.files")
    _round_with_one_return(ledger_db, tmp_path)
    ledger = open_ledger(ledger_db.url, ledger_db.store)
    with ledger.session() as session:
        sub = session.scalars(select(Submission)).one()
    config = DeskConfig.for_host(ledger.url, "127.0.0.1", 8750)
    # As a browser sees it: the page the server sends, not the exception the test client would re-raise.
    client = TestClient(create_app(config, ledger), follow_redirects=False, raise_server_exceptions=False)
    assert client.get(f"/?token={config.token}").status_code == 303
    token = csrf(client)
    mount.fill()
    second = make_return(tmp_path / "in2" / "西山.xlsx", "西山县中小企业局", **CLEAN)
    full = client.post(f"/rounds/{sub.round_id}/upload", data={"csrf_token": token},
                       files=[("files", (second.name, second.read_bytes(), "application/octet-stream"))])
    assert full.status_code == 507
    assert f"存储空间已满：无法写入原文件存档（{ledger_db.store}）" in full.text
    (mount.path / "filler").unlink()
    ledger.engine.dispose()  # its open database files would keep the mount from turning read-only
    mount.read_only()
    message = f"存储为只读：无法写入台账数据库（{mount.path / 'ledger.db'}）"
    page = client.get(f"/rounds/{sub.round_id}")
    assert page.status_code == 507 and message in page.text
    void = client.post(f"/rounds/{sub.round_id}/submissions/{sub.id}/decide",
                       data={"csrf_token": token, "action": "void", "note": "误报"})
    assert void.status_code == 507 and message in void.text
    ledger.close()


def test_the_cli_says_it_without_a_traceback_in_a_real_process(mount: Mount, tmp_path: Path) -> None:
    """As a clerk's terminal shows it: ``python -m xlperf``, standard error, exit 2."""
    ledger_db = LedgerDb("sqlite", str(mount.path / "ledger.db"), mount.path / "ledger.db.files")
    _round_with_one_return(ledger_db, tmp_path)
    mount.read_only()
    second = make_return(tmp_path / "in2" / "西山.xlsx", "西山县中小企业局", **CLEAN)
    done = subprocess.run(["python", "-m", "xlperf", "round", *ledger_db.args(), "intake", ROUND, str(second)],
                          capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    assert done.returncode == 2 and done.stdout == "" and "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: 存储为只读：无法写入原文件存档")


def test_user_commands_name_a_read_only_ledger(mount: Mount) -> None:
    db = str(mount.path / "desk.db")
    runner = CliRunner()
    subprocess.run(["python", "-m", "xlperf", "user", "add", "李会计", "--role", "staff", "--db", db], check=True,
                   env={**os.environ, "XLPERF_USER_PASSWORD": "绩效-口令-2026",
                        "PYTHONPATH": str(Path(__file__).resolve().parent.parent)})
    mount.read_only()
    listed = runner.invoke(main, ["user", "list", "--db", db])
    assert listed.exit_code == 0 and listed.output.startswith("李会计  经办人员  可用")
    removed = runner.invoke(main, ["user", "remove", "李会计", "--db", db])
    assert removed.exit_code == 2
    assert removed.output.startswith(f"Error: 存储为只读：无法写入台账数据库（{db}）。")


def test_a_summary_written_to_a_full_disk_is_named(mount: Mount, tmp_path: Path) -> None:
    ledger_db = LedgerDb("sqlite", str(tmp_path / "ledger.db"), tmp_path / "store")
    _round_with_one_return(ledger_db, tmp_path)
    mount.fill()
    output = mount.path / "汇总.xlsx"
    result = ledger_db.run("rollup", ROUND, "-o", str(output), ok=(2,))
    assert result.output == (f"Error: 存储空间已满：无法写入汇总工作簿（{output}）。已保存的内容完好，"
                             "这次未写完的没有保存；请腾出磁盘空间或换一个位置后重试。\n")


def test_a_read_only_ledger_with_a_write_ahead_log_shows_its_newest_rows(mount: Mount, tmp_path: Path) -> None:
    """A ledger copied while a writer had not checkpointed: its newest transaction is only in the
    -wal file. Opened read-only, that log is read, not ignored."""
    import shutil
    import sqlite3

    work = LedgerDb("sqlite", str(tmp_path / "work" / "ledger.db"), mount.path / "ledger.db.files")
    _round_with_one_return(work, tmp_path)
    writer = sqlite3.connect(work.url)
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("UPDATE submissions SET decision = 'void'")  # as `round void` would leave the row
    writer.commit()
    for suffix in ("", "-wal", "-shm"):
        shutil.copyfile(work.url + suffix, mount.path / f"ledger.db{suffix}")
    writer.close()
    copied = LedgerDb("sqlite", str(mount.path / "ledger.db"), mount.path / "ledger.db.files")
    mount.read_only()
    assert (mount.path / "ledger.db-wal").stat().st_size > 0
    assert "东城区科技局  已作废" in copied.run("status", ROUND).output
