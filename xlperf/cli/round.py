"""``xlperf round ...``: collection rounds on the ledger (thin commands; the work is in
xlperf.ledger and xlperf.intake). Exit codes: 0 done; 1 something to act on (a return
rejected or held at intake, a mail not sent); 2 usage (unknown round, bad roster, bad option)."""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xlperf.cli.forms import form_argument
from xlperf.cli.mailopts import finish_mail_run, mail_settings
from xlperf.cli.rosteropt import roster_option
from xlperf.cli.storage import storage_error, writing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from xlperf.ledger import Ledger

__all__ = ["round_group"]


def _actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no user name (a container): the record says so
        return ""


@contextmanager
def _ledger(ctx: click.Context) -> Iterator[Ledger]:
    # Imported here: SQLAlchemy and Alembic cost a few hundred ms, which other commands need not pay.
    from xlperf.ledger import LedgerError, open_ledger

    db, store = ctx.obj["db"], ctx.obj["store"]
    try:
        ledger = open_ledger(db, store)
    except LedgerError as exc:
        raise storage_error(exc, db=db) or click.UsageError(str(exc)) from None
    try:
        yield ledger
    except LedgerError as exc:
        raise storage_error(exc, ledger) or click.UsageError(str(exc)) from None
    except (click.ClickException, click.exceptions.Exit, click.Abort):
        raise
    except Exception as exc:
        error = storage_error(exc, ledger)
        if error is None:
            raise
        raise error from None
    finally:
        ledger.close()


@click.group("round", help="报送任务：一轮收集（名单、截止日期），收到的每份报表记入台账（默认当前文件夹的 SQLite 文件 xlperf.db，"
             "也可用 --db 或环境变量 XLPERF_DB 指定任意 SQLAlchemy 数据库地址，如 PostgreSQL），原文件按内容存档。")
@click.option("--db", envvar="XLPERF_DB", metavar="URL",
              help="台账数据库：SQLite 文件路径或 SQLAlchemy 地址（postgresql+psycopg://…）；默认 ./xlperf.db。")
@click.option("--store", envvar="XLPERF_STORE", type=click.Path(file_okay=False, path_type=Path),
              help="原文件存档文件夹；默认为 SQLite 文件旁的 <数据库>.files。")
@click.pass_context
def round_group(ctx: click.Context, db: str | None, store: Path | None) -> None:
    base = ctx.obj if isinstance(ctx.obj, dict) else {}
    ctx.obj = {**base, "db": db, "store": store}


@round_group.command("new", help="新建报送任务：NAME 为任务名称。")
@click.argument("name")
@click.option("--form", "form_id", help="表单编号（见 xlperf forms）或表单规格 YAML 文件；任务保存该规格的全文，"
              "此后本任务的审核一律用它，表单文件夹以后的变化不影响本任务（更换：xlperf round revalidate --form）。")
@click.option("--year", type=click.IntRange(1990, 2200), help="年度（--rectify 时默认为被评价任务的年度）。")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="单位名单（.xlsx 或 .csv；--rectify 时不需要：取被评价任务中要整改的单位）。")
@click.option("--deadline", type=click.DateTime(["%Y-%m-%d"]), help="截止日期 YYYY-MM-DD。")
@click.option("--template-version", "versions", multiple=True, help="只接受这些模板版本（可重复）；默认不限。")
@click.option("--require-signature", is_flag=True, help="要求报表带财政局签名（须配置签名密钥）。")
@click.option("--from-round", "earlier_name", metavar="EARLIER",
              help="承接前一环节的报送任务（如 目标申报 → 运行监控 → 自评）：模板由该任务已通过的报表预填，"
                   "报表自动与之比对。")
@click.option("--rectify", "rectify_name", metavar="EARLIER",
              help="新建 EARLIER 的整改任务：等次为中、差或被退回并附有意见的项目，各自的问题逐项跟踪到整改完成"
                   "（表单默认为整改表单，名单取自 EARLIER）。")
@click.option("--select", "select", default="grade,returned", show_default=True,
              help="--rectify 的范围：grade（等次为中或差）、returned（被退回并附有意见），用逗号连接。")
@click.pass_context
def new_command(ctx: click.Context, name: str, form_id: str | None, year: int | None, roster: Path | None,
                deadline: dt.datetime | None, versions: tuple[str, ...], require_signature: bool,
                earlier_name: str | None, rectify_name: str | None, select: str) -> None:
    from xlperf.ledger import LedgerError, create_round
    from xlperf.ledger.chain import chain_source
    from xlperf.ledger.models import FOLLOWS_CHAIN
    from xlperf.ledger.rounds import find_round, round_name

    try:
        name = round_name(name)
    except LedgerError as exc:
        raise click.BadParameter(str(exc), param_hint="NAME") from None
    if rectify_name is not None:
        from xlperf.cli.rectify_new import rectify_round

        if earlier_name is not None or roster is not None:
            raise click.UsageError("--rectify 不与 --from-round、--roster 同用：整改任务的名单取自被评价的任务")
        with _ledger(ctx) as ledger:
            lines = rectify_round(ledger, name, rectify_name, select, form_id, year,
                                  deadline.date() if deadline else None, _actor())
        report_created(lines)
        return
    missing = [opt for opt, value in (("--form", form_id), ("--year", year), ("--roster", roster)) if value is None]
    if missing:
        raise click.UsageError(f"缺少选项 {'、'.join(missing)}")
    assert form_id is not None and year is not None and roster is not None
    form = form_argument(form_id)
    units = roster_option(roster)
    with _ledger(ctx) as ledger:
        with ledger.session() as session, session.begin():
            earlier = find_round(session, earlier_name) if earlier_name is not None else None
            if earlier is not None:  # forms that do not map onto each other: refused, no round made
                chain_source(session, form.spec, earlier)
            rnd = create_round(session, name, form, year, units, deadline=deadline.date() if deadline else None,
                               template_versions=versions, signatures_required=require_signature, actor=_actor(),
                               follows=earlier, follows_kind=FOLLOWS_CHAIN)
        # Reported only now that it is committed: a reader that stops early (| head -1) can
        # no longer undo the round after being told it exists.
        report_created([f"已新建报送任务“{rnd.name}”：{form.spec.title}（版本 {form.spec.version}），{year} 年，"
                        f"名单 {len(units.units)} 个单位" + (f"，截止 {rnd.deadline}" if rnd.deadline else ""),
                        f"台账：{ledger.shown_url}；原文件存档：{ledger.store.root}"])


def report_created(lines: list[str]) -> None:
    """Print what was done; when standard output is closed (a pipe whose reader has gone), say it
    on standard error instead: what was created is reported somewhere, and no traceback."""
    try:
        for line in lines:
            click.echo(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Nothing more can go to the closed pipe, not even Python's final flush.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        click.echo(lines[0] + "（标准输出已关闭，改在此处报告）", err=True)


@round_group.command("roster", help="更换本任务的单位名单（按单位代码对应：更新、新增、移出）；"
                                     "之后用 xlperf round revalidate 按新名单重新判断已收到的报表。")
@click.argument("name")
@click.option("--roster", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="新的单位名单（.xlsx 或 .csv）。")
@click.pass_context
def roster_command(ctx: click.Context, name: str, roster: Path) -> None:
    from xlperf.ledger import find_round
    from xlperf.ledger.rounds import replace_roster

    units = roster_option(roster)
    with _ledger(ctx) as ledger, ledger.session() as session:
        with session.begin():
            rnd = find_round(session, name)
            lines = replace_roster(session, rnd, units, actor=_actor())
        for line in lines:
            click.echo(line)
        click.echo(f"报送任务“{name}”的名单已更换：{len(units.units)} 个单位，变化 {len(lines)} 处。"
                   + ("请运行 xlperf round revalidate 按新名单重新判断已收到的报表。" if lines else ""))


@round_group.command("list", help="列出全部报送任务。")
@click.pass_context
def list_command(ctx: click.Context) -> None:
    from xlperf.ledger import list_rounds, round_status
    from xlperf.ledger.roundform import form_label

    with _ledger(ctx) as ledger, ledger.session() as session:
        rounds = list_rounds(session)
        if not rounds:
            click.echo("还没有报送任务（xlperf round new 新建）。")
        for rnd in rounds:
            status = round_status(session, rnd)
            deadline = f"  截止 {rnd.deadline}" if rnd.deadline else ""
            click.echo(f"{rnd.name}  {form_label(rnd)}  {rnd.year}{deadline}  {status.progress()}")


@round_group.command("intake", help="收报表：PATH 为文件或文件夹（递归），每个文件存档、审核并记入台账。"
                     "内容相同的文件记为重复、不再审核；同一单位同一项目较新的报表取代较早的。")
@click.argument("name")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--sender", default="", help="报送人（如报送单位或经办人），记入台账；同一文件由另一报送人送来时记为重复文件。")
@click.option("--jobs", type=click.IntRange(1, 512), help="并行进程数（默认为 CPU 核数）。")
@click.option("--batch", type=click.IntRange(1, 100_000), default=256, show_default=True,
              help="每批登记的文件数（每批一个事务：中断时已完成的批次都已保存）。")
@click.pass_context
def intake_command(ctx: click.Context, name: str, paths: tuple[Path, ...], sender: str, jobs: int | None,
                   batch: int) -> None:
    from xlperf.intake import intake_paths
    from xlperf.ledger import find_round
    from xlperf.ledger.models import CURRENT, HELD
    from xlperf.ledger.round_checks import RoundNotReady, require_round_rules

    with _ledger(ctx) as ledger:
        with ledger.session() as session:
            rnd = find_round(session, name)
        try:
            require_round_rules(rnd)
        except RoundNotReady as exc:
            raise click.UsageError(str(exc)) from None
        result = intake_paths(ledger, rnd, paths, sender=sender, actor=_actor(), jobs=jobs, batch=batch)
    for outcome in result.outcomes:
        if outcome.kind != "known":  # a folder taken in again: counted below, not listed file by file
            click.echo(outcome.line())
    counts = [f"{label} {result.count(kind)}" for kind, label in
              (("current", "新登记"), ("held", "暂存待处理"), ("repeat", "重复"), ("ignored", "非报表"),
               ("known", "此前已登记"))]
    click.echo(f"共 {len(result.outcomes)} 个文件：" + "，".join(counts))
    act = any(o.kind == HELD or (o.kind == CURRENT and o.status == "退回") for o in result.outcomes)
    sys.exit(1 if act else 0)


@round_group.command("status", help="报送情况：名单中每个单位（及项目）一行：未报送 / 退回 / 通过（有提示）/ 通过 / 已作废。")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出。")
@click.pass_context
def status_command(ctx: click.Context, name: str, as_json: bool) -> None:
    from xlperf.ledger import find_round, round_status
    from xlperf.ledger.rectify_status import rectify_status

    with _ledger(ctx) as ledger, ledger.session() as session:
        rnd = find_round(session, name)
        status = round_status(session, rnd)
        rectify = rectify_status(session, rnd)  # a 整改 round: its items, open and closed
    if as_json:
        click.echo(json.dumps({**status.to_dict(), **({"rectify": rectify.to_dict()} if rectify else {})},
                              ensure_ascii=False, indent=1))
        return
    for line in [*status.lines(), *(rectify.lines() if rectify else [])]:
        click.echo(line)


@round_group.command("history", help="单位的报送历史：每一版的结果，以及相邻两版之间逐项的改动（项目、原值、新值）。UNIT 为单位代码或名称。")
@click.argument("name")
@click.argument("unit")
@click.pass_context
def history_command(ctx: click.Context, name: str, unit: str) -> None:
    from xlperf.ledger import find_round, find_unit, unit_history

    with _ledger(ctx) as ledger, ledger.session() as session:
        rnd = find_round(session, name)
        found = find_unit(session, rnd, unit)
        versions = unit_history(session, rnd, found)
    click.echo(f"{found.code}  {found.name}：共 {len(versions)} 个文件")
    for version in versions:
        for line in version.lines():
            click.echo(line)


def _decision_command(action: str, verb: str) -> click.Command:
    @click.command(action if action != "accept" else "accept",
                   help=f"{verb}一份报送：SUBMISSION 为报送编号（见 status / history），--note 写明说明，记入台账和日志。")
    @click.argument("name")
    @click.argument("submission", type=int)
    @click.option("--note", default="", help="说明（退回时必填，会写进发给单位的邮件）。")
    @click.pass_context
    def command(ctx: click.Context, name: str, submission: int, note: str) -> None:
        from xlperf.ledger import decide, find_round
        from xlperf.ledger.status import effective_status

        with _ledger(ctx) as ledger, ledger.session() as session, session.begin():
            rnd = find_round(session, name)
            sub = decide(session, rnd, submission, action, note, actor=_actor())
            click.echo(f"#{sub.id}（{sub.original_name}，{sub.unit_name}）已{verb}：现为 "
                       f"{effective_status(None if sub.result_id is None else _status(session, sub.result_id), action)}")
    return command


def _status(session: Session, result_id: int) -> str | None:
    from xlperf.ledger.models import Result

    result = session.get(Result, result_id)
    return result.status if result else None


round_group.add_command(_decision_command("accept", "通过"), "accept")
round_group.add_command(_decision_command("return", "退回"), "return")
round_group.add_command(_decision_command("void", "作废"), "void")


@round_group.command("revalidate", help="重新审核：表单、规则或名单修改后，用存档的原文件重新审核每份当前有效的报送，"
                                         "并重新按本任务的规则（名单、表单、年度、签名）判断是否暂存，列出结果有变化的。")
@click.argument("name")
@click.option("--jobs", type=click.IntRange(1, 512), help="并行进程数（默认为 CPU 核数）。")
@click.option("--held", is_flag=True, help="暂存待处理的文件也重新审核：现已符合规则的计为当前有效。")
@click.option("--scheduler", metavar="tcp://主机:端口",
              help="在 Dask 分布式集群上重新审核（调度器地址，同 xlperf rollup --scheduler）；默认在本机多进程审核。")
@click.option("--form", "spec_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="先把本任务的表单规格换成此文件（同一表单编号），记入任务记录（新旧规格的哈希），再重新审核。")
@click.pass_context
def revalidate_command(ctx: click.Context, name: str, jobs: int | None, held: bool, scheduler: str | None,
                       spec_file: Path | None) -> None:
    from xlperf.ledger import find_round, revalidate
    from xlperf.ledger.roundform import change_form, form_label
    from xlperf.rollup.distributed import ClusterError

    with _ledger(ctx) as ledger:
        if spec_file is not None:
            form = form_argument(str(spec_file))
            with ledger.session() as session, session.begin():
                if change_form(session, find_round(session, name), form, actor=_actor()):
                    click.echo(f"表单规格已更换：{form.source}")
        with ledger.session() as session:
            rnd = find_round(session, name)
            if spec_file is not None:
                click.echo(f"本任务的表单：{form_label(rnd)}")
        try:
            count, changes = revalidate(ledger, rnd, actor=_actor(), jobs=jobs, held=held, scheduler=scheduler)
        except ClusterError as exc:
            raise click.ClickException(str(exc)) from None
    for change in changes:
        click.echo(change.line())
    click.echo(f"已重新审核 {count} 份，结果变化 {len(changes)} 份。")


@round_group.command("rollup", help="汇总本任务：每个单位和项目当前有效的报送（直接用台账中的审核结果，不重读文件），未报送取自名单。")
@click.argument("name")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="汇总工作簿（.xlsx）。")
@click.pass_context
def rollup_command(ctx: click.Context, name: str, output: Path) -> None:
    from xlperf.ledger import find_round, round_rollup
    from xlperf.rollup.gcpause import cycle_collection_paused

    with _ledger(ctx) as ledger, ledger.session() as session:
        rnd = find_round(session, name)
        with writing(output, "汇总工作簿"), cycle_collection_paused():  # this command's process only
            result = round_rollup(session, rnd, output)
    click.echo(f"汇总工作簿：{result.output}")
    click.echo(result.paragraph)


@round_group.command("mail", help="把本任务各单位当前报送的审核结果用邮件发回（选项同 xlperf mail）；发送记录存入台账，"
                     "同一单位同样的结果不会重复发送。")
@click.argument("name")
@click.option("--smtp", metavar="主机:端口", help="邮件服务器，如 smtp.example.gov.cn:465。")
@click.option("--tls", type=click.Choice(["starttls", "ssl", "none"]), help="加密方式。")
@click.option("--from", "sender", metavar="地址", help="发件人。")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="配置文件（INI，[smtp] 节）。")
@click.option("--dry-run", type=click.Path(file_okay=False, path_type=Path), help="不发送：写成 .eml 文件放到此文件夹。")
@click.option("--only-failed", is_flag=True, help="只发给有报表退回或通过（有提示）的单位。")
@click.option("--resend", is_flag=True, help="已发送过的也重新发送。")
@click.option("--rate", type=click.IntRange(1, 600), default=30, show_default=True, help="每分钟最多发送的邮件数。")
@click.pass_context
def mail_command(ctx: click.Context, name: str, smtp: str | None, tls: str | None, sender: str | None,
                 config_file: Path | None, dry_run: Path | None, only_failed: bool, resend: bool, rate: int) -> None:
    from xlperf.ledger import find_round
    from xlperf.ledger.mail import round_mail

    from_header, config = mail_settings(smtp, tls, sender, config_file, dry_run)
    clock = ctx.obj.get("clock")
    with _ledger(ctx) as ledger:
        with ledger.session() as session:
            rnd = find_round(session, name)
        result = round_mail(ledger, rnd, sender=from_header, smtp=config, dry_run=dry_run, only_failed=only_failed,
                            resend=resend, rate=rate, clock=clock, actor=_actor(),
                            progress=lambda unit: click.echo(unit.line()))
    finish_mail_run(result)
