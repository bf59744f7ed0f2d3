"""``xlperf round watch`` and ``xlperf round remind``: the mailbox intake and reminders (thin
commands; the work is in xlperf.intake). Registered on the ``round`` group by commands.py.

Credentials never come from options: the IMAP account from XLPERF_IMAP_USER /
XLPERF_IMAP_PASSWORD or the config file's [imap] section, the SMTP account for replies from
XLPERF_SMTP_USER / XLPERF_SMTP_PASSWORD or its [smtp] section (the file must be private)."""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import sys
from pathlib import Path
from types import FrameType

import click

from xlperf.cli.deploy import log_options
from xlperf.cli.mailopts import mail_settings
from xlperf.cli.round import _actor, _ledger

__all__ = ["messages_command", "remind_command", "watch_command"]

TLS = click.Choice(["ssl", "starttls", "none"])


@click.command("watch", help="监视收件邮箱：单位把报表作为附件发到财政局邮箱，逐封登记入台账（附件存档并审核，压缩包自动解开），"
               "把邮件移入“已处理”文件夹，并在原邮件的会话中自动回复审核结果（【退回】/【通过（有提示）】/【通过】）。"
               "发件人须在名单中（一个单位可列多个邮箱，用分号隔开）；名单外的发件人、没有附件的邮件只登记、暂存待人工处理，不回复。"
               "收件账号只从环境变量 XLPERF_IMAP_USER / XLPERF_IMAP_PASSWORD 或配置文件 [imap] 节读取；"
               "回复用的发件账号同 xlperf mail（XLPERF_SMTP_USER / XLPERF_SMTP_PASSWORD 或 [smtp] 节）。")
@click.argument("name")
@click.option("--imap", metavar="主机[:端口]", help="收件（IMAP）服务器，如 imap.example.gov.cn:993；也可写在配置文件 [imap] 节。")
@click.option("--tls", type=TLS, help="收件服务器加密方式：ssl（默认，端口 993）、starttls（端口 143）；none 只用于本机测试。")
@click.option("--folder", help="监视的文件夹，默认 INBOX。")
@click.option("--once", is_flag=True, help="只处理一遍当前的邮件后退出（可由计划任务定时运行；连接中断或有回复发送失败时退出码为 1）。")
@click.option("--interval", type=click.FloatRange(1, 86400), default=60, show_default=True,
              help="两遍之间的间隔秒数。")
@click.option("--no-reply", "no_reply", is_flag=True, help="只登记，不自动回复。")
@click.option("--smtp", metavar="主机:端口", help="回复用的邮件服务器，如 smtp.example.gov.cn:465；也可写在配置文件 [smtp] 节。")
@click.option("--smtp-tls", type=TLS, help="回复用的邮件服务器的加密方式（默认按端口：465 为 ssl，其余 starttls）。")
@click.option("--from", "sender", metavar="地址", help="回复的发件人，如 \"绩效科 <jixiao@example.gov.cn>\"。")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="配置文件（INI，[imap] 和 [smtp] 节；含密码时须 chmod 600）。")
@click.option("--rate", type=click.IntRange(1, 600), default=30, show_default=True, help="每分钟最多发送的回复数。")
@click.option("--max-messages", type=click.IntRange(1, 100000),
              help="每遍最多处理的邮件数（默认 200）：邮件过多（如邮件轰炸）时分几遍处理，回复不被拖延；其余的下一遍接着处理。")
@log_options
@click.pass_context
def watch_command(ctx: click.Context, name: str, imap: str | None, tls: str | None, folder: str | None, once: bool,
                  interval: float, no_reply: bool, smtp: str | None, smtp_tls: str | None, sender: str | None,
                  config_file: Path | None, rate: int, max_messages: int | None, log_level: str,
                  log_file: str | None) -> None:
    from xlperf.ledger.oplog import operator_log

    with operator_log(log_level, log_file) as log:
        _watch(ctx, name, imap, tls, folder, once, interval, no_reply, smtp, smtp_tls, sender, config_file, rate,
               max_messages, log)


def _watch(ctx: click.Context, name: str, imap: str | None, tls: str | None, folder: str | None, once: bool,
           interval: float, no_reply: bool, smtp: str | None, smtp_tls: str | None, sender: str | None,
           config_file: Path | None, rate: int, max_messages: int | None, log: logging.Logger) -> None:
    from xlperf.intake.imapconf import imap_config, read_imap_section
    from xlperf.intake.mailbox import MailboxError
    from xlperf.intake.watch import MAX_MESSAGES, Watcher
    from xlperf.ledger import find_round
    from xlperf.ledger.oplog import fields
    from xlperf.ledger.round_checks import RoundNotReady
    from xlperf.mail import ConfigError, sender_address, smtp_config
    from xlperf.mail.config import KEYS, SECTION, read_section

    try:
        imap_settings = read_imap_section(config_file) if config_file else {}
        smtp_settings = read_section(config_file, SECTION, KEYS, required=False) if config_file else {}
        imap_cfg = imap_config(imap, tls, folder, imap_settings, os.environ)
        smtp_cfg = None if no_reply else smtp_config(smtp, smtp_tls, smtp_settings, os.environ)
        from_header = sender_address(sender, smtp_settings, dry_run=no_reply)
    except ConfigError as exc:
        raise click.UsageError(str(exc)) from None
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)  # finish the message at hand, then stop

    def event(line: str, failed: bool, submissions: tuple[int, ...]) -> None:
        log.log(logging.WARNING if failed else logging.INFO, line,
                extra=fields(name, ",".join(str(s) for s in submissions)))

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        with _ledger(ctx) as ledger:
            with ledger.session() as session:
                rnd = find_round(session, name)
            try:
                watcher = Watcher(ledger, rnd, imap_cfg, smtp=smtp_cfg, sender=from_header, reply=not no_reply,
                                  rate=rate, clock=ctx.obj.get("clock"), actor=_actor(), log_event=event,
                                  max_messages=max_messages or MAX_MESSAGES)
            except RoundNotReady as exc:
                raise click.UsageError(str(exc)) from None
            if not once:
                log.info(f"开始监视（每 {interval:g} 秒一遍；Ctrl+C 结束）", extra=fields(name))
            try:
                last = watcher.run(once=once, interval=interval, stop=lambda: bool(stopping))
            except MailboxError as exc:
                raise click.UsageError(str(exc)) from None
            except KeyboardInterrupt:
                log.info("已停止", extra=fields(name))
                return
    finally:
        signal.signal(signal.SIGTERM, previous)
    if once:
        failed = sum(1 for r in last.replies if not r.ok)
        click.echo(f"本遍：登记 {last.taken} 封，暂存待处理 {last.held} 封，回复 {len(last.replies) - failed} 封"
                   + (f"，回复失败 {failed} 封（下一遍重试）" if failed else "")
                   + (f"；还有 {last.left} 封待处理（超过每遍上限），请再运行一遍" if last.left else ""))
    # --once from a scheduler: 1 when the pass could not finish (the server dropped the connection)
    # or a reply failed, so that the scheduler's own alerting notices.
    sys.exit(1 if once and (last.error or any(not r.ok for r in last.replies)) else 0)


@click.command("remind", help="催报：给状态为“未报送”或“退回”的单位发邮件，写明截止日期和尚缺的报表；"
               "记入台账，同一单位在间隔天数内不重复催报。邮件服务器选项同 xlperf mail。")
@click.argument("name")
@click.option("--smtp", metavar="主机:端口", help="邮件服务器，如 smtp.example.gov.cn:465。")
@click.option("--tls", type=TLS, help="加密方式。")
@click.option("--from", "sender", metavar="地址", help="发件人。")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="配置文件（INI，[smtp] 节）。")
@click.option("--dry-run", type=click.Path(file_okay=False, path_type=Path), help="不发送：写成 .eml 文件放到此文件夹，不记入台账。")
@click.option("--every", type=click.FloatRange(0, 365), default=3, show_default=True,
              help="同一单位两次催报至少间隔的天数。")
@click.option("--rate", type=click.IntRange(1, 600), default=30, show_default=True, help="每分钟最多发送的邮件数。")
@click.pass_context
def remind_command(ctx: click.Context, name: str, smtp: str | None, tls: str | None, sender: str | None,
                   config_file: Path | None, dry_run: Path | None, every: float, rate: int) -> None:
    from xlperf.intake.remind import round_remind
    from xlperf.ledger import find_round

    from_header, config = mail_settings(smtp, tls, sender, config_file, dry_run)
    with _ledger(ctx) as ledger:
        with ledger.session() as session:
            rnd = find_round(session, name)
        run = round_remind(ledger, rnd, sender=from_header, smtp=config, dry_run=dry_run,
                           every=dt.timedelta(days=every), rate=rate, clock=ctx.obj.get("clock"), actor=_actor(),
                           progress=lambda item: click.echo(item.line()))
    if run.aborted:
        click.echo(f"发送中止：{run.aborted}")
    click.echo(run.summary())
    sys.exit(1 if run.failed else 0)


@click.command("messages", help="列出本任务从邮箱收到的邮件：发件人、主题、附件、登记或暂存的原因，以及自动回复的结果"
               "（含发送失败和“不确定”的回复）。")
@click.argument("name")
@click.option("--held", is_flag=True, help="只列出暂存待人工处理的邮件（名单外的发件人、没有附件、自动回复和退信等）。")
@click.pass_context
def messages_command(ctx: click.Context, name: str, held: bool) -> None:
    from xlperf.intake.outbox import message_rows
    from xlperf.ledger import find_round

    with _ledger(ctx) as ledger:
        with ledger.session() as session:
            rnd = find_round(session, name)
        rows = message_rows(ledger, rnd, held_only=held)
    for row in rows:
        click.echo(row.line())
    click.echo(f"共 {len(rows)} 封" + ("暂存待处理的邮件" if held else "邮件"))

