"""``xlperf backup``, ``xlperf restore`` and ``xlperf verify``: the ledger kept safe (thin
commands; the work is in xlperf.ledger.backup, .restore and .verify). Exit codes: 0 done; 1 a
problem found (verify), a backup that could not be made or an archive refused; 2 usage or a
full or read-only disk."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from xlperf.cli.commands import main
from xlperf.cli.storage import storage_error

_DB_HELP = "台账数据库：SQLite 文件路径或 SQLAlchemy 地址（postgresql+psycopg://…）；也可用环境变量 XLPERF_DB；默认 ./xlperf.db。"
_STORE_HELP = "原文件存档文件夹；也可用环境变量 XLPERF_STORE；默认为 SQLite 文件旁的 <数据库>.files，服务器数据库为 ./xlperf.files。"


def _ledger_options(command: Callable[..., None]) -> Callable[..., None]:
    command = click.option("--store", envvar="XLPERF_STORE", type=click.Path(file_okay=False, path_type=Path),
                           help=_STORE_HELP)(command)
    return click.option("--db", envvar="XLPERF_DB", metavar="URL", help=_DB_HELP)(command)


def _errors(what: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """A refused archive or ledger said in words (exit 1); a full or read-only disk (exit 2)."""

    def wrap(command: Callable[..., None]) -> Callable[..., None]:
        @functools.wraps(command)
        def run(*args: Any, **kwargs: Any) -> None:
            from xlperf.ledger import LedgerError

            try:
                command(*args, **kwargs)
            except LedgerError as exc:
                raise click.ClickException(str(exc)) from None
            except (click.ClickException, click.exceptions.Exit, click.Abort):
                raise
            except Exception as exc:
                output = kwargs.get("output")
                error = storage_error(exc, db=kwargs.get("db"), output=(output, what) if output else None)
                if error is None:
                    raise
                raise error from None
        return run
    return wrap


def _existing(db: str | None) -> None:
    """An SQLite ledger that is not there is said so (opening it would make an empty one)."""
    from xlperf.ledger import LedgerError, database_url

    url = database_url(db)
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise LedgerError(f"台账不存在：{url.removeprefix('sqlite:///')}（请用 --db 指定台账）")


def _place(url: str) -> str:
    """Where a ledger is, as people look for it (an SQLite file's path; a URL without password)."""
    from xlperf.ledger.storage_errors import database_place

    return database_place(url)


def _size(count: int) -> str:
    return f"{count / 1_000_000:.1f} MB"


def _counts(rows: dict[str, int]) -> str:
    labels = (("rounds", "任务"), ("units", "单位"), ("submissions", "报送"), ("results", "审核结果"),
              ("events", "日志"), ("mail_messages", "邮件"), ("users", "账户"))
    return "，".join(f"{label} {rows[name]}" for name, label in labels if name in rows)


@main.command("backup", help="备份台账：数据库的一致快照（SQLite 用在线备份，PostgreSQL 用只读事务快照）和原文件存档，"
              "连同每个文件 SHA-256 的清单，写成一个 zip 文件。收报台、邮箱值守和收报表运行时也可备份。")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="备份文件（.zip）；已有同名文件时完成后替换。")
@_ledger_options
@_errors("备份文件")
def backup_command(output: Path, db: str | None, store: Path | None) -> None:
    from xlperf.ledger import open_ledger
    from xlperf.ledger.backup import make_backup

    _existing(db)
    ledger = open_ledger(db, store, migrate=False)  # a backup takes the ledger as it is
    try:
        summary = make_backup(ledger, output)
    finally:
        ledger.close()
    click.echo(f"已备份台账 {_place(ledger.url)}（台账结构 {summary.revision}）：{_counts(summary.rows)}")
    click.echo(f"原文件 {summary.files} 个，共 {_size(summary.file_bytes)}（存档：{ledger.store.root}）")
    click.echo(f"备份文件：{summary.output}（{_size(summary.output.stat().st_size)}，用时 {summary.seconds:.1f} 秒）")


@main.command("restore", help="恢复台账：把 xlperf backup 的备份文件 ARCHIVE 恢复到空的数据库和空的原文件存档文件夹。"
              "先核对清单中每个文件的 SHA-256，有损坏或缺失即拒绝并指出是哪个文件；恢复后台账结构升级到本版本。"
              "SQLite 的备份可恢复到 PostgreSQL，反之亦然。")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@_ledger_options
@_errors("台账")
def restore_command(archive: Path, db: str | None, store: Path | None) -> None:
    from xlperf.ledger.restore import restore_backup

    summary = restore_backup(archive, db, store)
    click.echo(f"已恢复到台账 {_place(summary.url)}：{_counts(summary.rows)}")
    click.echo(f"原文件 {summary.files} 个，共 {_size(summary.file_bytes)}，已逐一核对 SHA-256（存档：{summary.store}）")
    click.echo(f"用时 {summary.seconds:.1f} 秒。可用 xlperf verify 检查恢复后的台账。")


@main.command("verify", help="检查台账：原文件存档中每个文件都在且内容与其 SHA-256 相符，台账中每一行所指的原文件都在，"
              "台账结构是本版本的最新结构。发现问题时逐条列出（指明文件）并以退出码 1 结束。")
@_ledger_options
@_errors("台账")
def verify_command(db: str | None, store: Path | None) -> None:
    from xlperf.ledger import open_ledger
    from xlperf.ledger.verify import verify_ledger

    _existing(db)
    ledger = open_ledger(db, store, migrate=False)  # checked as it is, never changed
    try:
        found = verify_ledger(ledger)
    finally:
        ledger.close()
    for problem in found.problems:
        click.echo(problem)
    checked = (f"已检查台账 {_place(ledger.url)}：原文件 {found.files} 个（{_size(found.file_bytes)}），"
               f"台账记录所指的原文件 {found.named} 个")
    if found.problems:
        click.echo(f"{checked}；发现 {len(found.problems)} 个问题。")
        raise click.exceptions.Exit(1)
    click.echo(f"{checked}；台账完好，台账结构为最新（{found.revision}）。")
