"""``xlperf round templates`` and ``xlperf round issue``: a round's templates written to a folder,
or mailed to each unit once (thin commands; the work is in xlperf.ledger.roundtemplates and
xlperf.ledger.issuemail). Registered on the ``round`` group here, imported by the package's __init__."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from xlperf.cli.commands import _output_error, _signing_key
from xlperf.cli.mailopts import mail_settings
from xlperf.cli.round import _actor, _ledger, round_group

__all__ = ["issue_command", "templates_command"]

KEY_FILE = click.option("--key-file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                        help="签名密钥文件（默认取环境变量 XLPERF_SIGNING_KEY 或 XLPERF_KEY_FILE）；有密钥时模板带签名。")


@click.command("templates", help="生成本任务的填报模板：承接前一任务的（round new --from-round），为前一任务中已通过的"
               "每个单位和项目各生成一份，项目、预算、绩效指标和目标值已预填并锁定，没有已通过报表的单位和项目逐一列出；"
               "其他任务为名单中每个单位（或项目）各生成一份。每个文件一行。")
@click.argument("name")
@click.option("-o", "--outdir", required=True, type=click.Path(file_okay=False, path_type=Path), help="模板写入的文件夹。")
@KEY_FILE
@click.pass_context
def templates_command(ctx: click.Context, name: str, outdir: Path, key_file: Path | None) -> None:
    from xlperf.ledger import find_round
    from xlperf.ledger.roundtemplates import round_templates

    key = _signing_key(key_file)
    with _ledger(ctx) as ledger, ledger.session() as session:
        rnd = find_round(session, name)
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            issued = round_templates(session, rnd, outdir, key=key)
        except OSError as exc:
            raise _output_error("模板", exc, outdir) from None
    for line in issued.lines:
        click.echo(line)
    click.echo(f"共生成 {len(issued.files)} 份模板" + (f"，{len(issued.left_out)} 个单位或项目未生成" if issued.left_out else ""))


@click.command("issue", help="下发模板：把本任务的模板（同 xlperf round templates）用邮件发给名单中的每个单位，写明截止日期、"
               "回复的邮箱和填报要求；记入台账，同一单位只发一次（两个进程同时运行或中途中断也不重发；再发请加 --resend）。"
               "邮件服务器选项同 xlperf round mail。")
@click.argument("name")
@click.option("--smtp", metavar="主机:端口", help="邮件服务器，如 smtp.example.gov.cn:465。")
@click.option("--tls", type=click.Choice(["starttls", "ssl", "none"]), help="加密方式。")
@click.option("--from", "sender", metavar="地址", help="发件人（单位回复到此邮箱）。")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="配置文件（INI，[smtp] 节）。")
@click.option("--dry-run", type=click.Path(file_okay=False, path_type=Path), help="不发送：写成 .eml 文件放到此文件夹，不记入台账。")
@click.option("--resend", is_flag=True, help="已发送过的也重新发送。")
@click.option("--rate", type=click.IntRange(1, 600), default=30, show_default=True, help="每分钟最多发送的邮件数。")
@KEY_FILE
@click.pass_context
def issue_command(ctx: click.Context, name: str, smtp: str | None, tls: str | None, sender: str | None,
                  config_file: Path | None, dry_run: Path | None, resend: bool, rate: int, key_file: Path | None) -> None:
    from xlperf.ledger import find_round
    from xlperf.ledger.issuemail import round_issue

    from_header, config = mail_settings(smtp, tls, sender, config_file, dry_run)
    key = _signing_key(key_file)
    with _ledger(ctx) as ledger:
        with ledger.session() as session:
            rnd = find_round(session, name)
        run = round_issue(ledger, rnd, sender=from_header, smtp=config, dry_run=dry_run, resend=resend, key=key,
                          rate=rate, clock=ctx.obj.get("clock"), actor=_actor(),
                          progress=lambda item: click.echo(item.line()))
    if run.aborted:
        click.echo(f"发送中止：{run.aborted}")
    click.echo(run.summary())
    sys.exit(1 if run.failed else 0)


round_group.add_command(templates_command)
round_group.add_command(issue_command)
