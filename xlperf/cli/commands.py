"""Command line: thin click commands over the package (用户界面以中文为主)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from xlperf.cli.console import tolerant_console
from xlperf.cli.forms import forms_command, forms_option, warn_problems
from xlperf.cli.mailopts import finish_mail_run, mail_settings
from xlperf.cli.rosteropt import roster_option
from xlperf.excel.signed import write_signed_template
from xlperf.excel.template import DEFAULT_PASSWORD, TemplateError, TemplateOptions
from xlperf.findings.text import scrub
from xlperf.form.placing import layout_form
from xlperf.form.registry import builtin_forms
from xlperf.form.spec import FormSpec
from xlperf.form.specload import load_spec
from xlperf.form.yamlsrc import SpecError
from xlperf.read import read_return
from xlperf.workers.limits import LimitError, Limits
from xlperf.workers.start import start_method

PASSWORD_ENV = "XLPERF_PASSWORD"


class OutputError(click.ClickException):
    """An output that cannot be written (read-only folder, full disk): what and where, exit 2."""

    exit_code = 2


def _output_error(what: str, exc: OSError, where: Path | None = None) -> OutputError:
    place = exc.filename if exc.filename else where
    shown = scrub(str(place)) if place is not None else ""
    return OutputError(f"无法写入{what}：{shown}（{exc.strerror or exc}）：请检查该位置是否存在、可写、磁盘是否已满，或换一个输出位置")


class _Main(click.Group):
    """Every command: a full or read-only store is said in words with exit 2, not a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            from xlperf.cli.storage import storage_error

            error = storage_error(exc)
            if error is None:
                raise
            raise error from None


@click.group(cls=_Main, help="xlperf：预算绩效管理表格工具（模板生成、审核与报告、汇总、邮件、年度循环）。")
@click.version_option(package_name="xlperf")
@forms_option
@click.pass_context
def main(ctx: click.Context) -> None:
    tolerant_console()
    try:
        start_method()  # XLPERF_START_METHOD, refused before any command starts a worker
    except LimitError as exc:
        raise click.UsageError(str(exc)) from None
    if ctx.invoked_subcommand != "forms":  # forms lists them itself
        warn_problems()


main.add_command(forms_command)


@main.command("template", help="生成锁定的 Excel 填报模板。FORM 为表单编号（见 xlperf forms）或表单规格 YAML 文件。"
              "配置了签名密钥时模板带签名。")
@click.argument("form")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path),
              help="输出文件（默认 output/<表单编号>.xlsx）；与 --roster 或 --from-returns 同用时为输出文件夹（默认 output/<表单编号>）。")
@click.option("--year", type=click.IntRange(2000, 2100), help="预填并锁定年度（--from-returns 时只用该年度的申报表）。")
@click.option("--unit", help="预填并锁定填报单位名称。")
@click.option("--values", "values_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="预填值 JSON 文件：{字段键: 值}，预填的单元格将被锁定。")
@click.option("--roster", "roster_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="单位名单（.xlsx 或 .csv）：为每个单位（名单列有项目名称时为每个项目）各生成一份模板，单位、代码、项目预填并锁定。")
@click.option("--from-returns", "returns_dir", type=click.Path(exists=True, path_type=Path),
              help="绩效目标申报表所在文件夹：为每份审核通过的申报表（每个项目）生成后续表单（自评表、监控表、评价报告等）的模板，项目、预算和申报的指标目标预填并锁定。")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="签名密钥文件（也可用环境变量 XLPERF_SIGNING_KEY 或 XLPERF_KEY_FILE）。")
@click.option("--password", envvar=PASSWORD_ENV, default=DEFAULT_PASSWORD, show_default=True,
              help=f"工作表保护密码（也可用环境变量 {PASSWORD_ENV}）。")
def template_command(form: str, output: Path | None, year: int | None, unit: str | None,
                     values_file: Path | None, roster_file: Path | None, returns_dir: Path | None,
                     key_file: Path | None, password: str) -> None:
    try:
        spec = load_spec(Path(form)) if form.endswith((".yaml", ".yml")) else builtin_forms().get(form)
    except SpecError as exc:
        raise click.ClickException(f"表单规格有误：{exc}") from None
    if spec is None:
        raise click.UsageError(f"未知的表单 '{form}'；可用：{', '.join(builtin_forms())}")
    key = _signing_key(key_file)
    if roster_file or returns_dir:
        if unit or values_file:
            raise click.UsageError("--unit、--values 不能与 --roster、--from-returns 同时使用")
        outdir = output or Path("output") / spec.form_id
        try:
            _issue_templates(spec, outdir, year, roster_file, returns_dir, password, key)
        except OSError as exc:
            raise _output_error("模板", exc, outdir) from None
        return
    values = None
    if values_file:
        try:
            values = json.loads(values_file.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"{values_file}：不是有效的 JSON（{exc}）") from None
        if not isinstance(values, dict):
            raise click.ClickException(f"{values_file}：应为 {{字段键: 值}} 形式的 JSON 对象")
    path = output or Path("output") / f"{spec.form_id}.xlsx"
    try:
        layout = layout_form(spec)
        write_signed_template(layout, path, TemplateOptions(password=password, year=year, unit=unit, values=values), key,
                              read_back=read_return)
    except SpecError as exc:
        raise click.ClickException(f"表单规格有误：{exc}") from None
    except TemplateError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise _output_error("模板", exc, path) from None
    click.echo(f"已生成模板：{path}" + ("（已签名）" if key is not None else ""))


def _signing_key(key_file: Path | None) -> bytes | None:
    from xlperf.form.signkeys import SigningKeyError, key_file_exposed, key_file_in_use, load_key

    try:
        key = load_key(key_file)
    except SigningKeyError as exc:
        raise click.BadParameter(str(exc), param_hint="--key-file") from None
    in_use = key_file_in_use(key_file) if key is not None else None
    mode = key_file_exposed(in_use) if in_use is not None else None
    if in_use is not None and mode is not None:
        click.echo(f"警告：签名密钥文件“{in_use}”的权限为 {mode}，其他用户也能读取，可用它签发伪造的模板："
                   f"请执行 chmod 600 \"{in_use}\"", err=True)
    return key


def _issue_templates(spec: FormSpec, outdir: Path, year: int | None, roster_file: Path | None,
                     returns_dir: Path | None, password: str, key: bytes | None) -> None:
    from xlperf.cycle import (
        DeclarationIndex,
        prefilled_templates,
        roster_templates,
    )
    roster = roster_option(roster_file)
    try:
        layout = layout_form(spec)
    except SpecError as exc:
        raise click.ClickException(f"表单规格有误：{exc}") from None
    if returns_dir is not None:
        if spec.declares_targets:
            raise click.UsageError("--from-returns 用于由申报表预填后续表单（自评表、监控表、评价报告等），不能生成申报表本身")
        index = DeclarationIndex.build([returns_dir], key=key)
        issued = prefilled_templates(layout, index, outdir, year=year, roster=roster, password=password, key=key)
    else:
        assert roster is not None
        issued = roster_templates(layout, roster, outdir, year=year, password=password, key=key)
    for line in issued.lines:
        click.echo(line)
    if not issued.files:
        raise click.ClickException(f"没有生成模板：{returns_dir} 中没有审核通过的绩效目标申报表" if returns_dir
                                   else "没有生成模板：名单中没有单位")
    click.echo(f"共生成 {len(issued.files)} 份模板：{outdir}" + ("（已签名）" if key is not None else "（未配置签名密钥，未签名）"))


def _limit_options(command: Callable[..., None]) -> Callable[..., None]:
    """--file-seconds and --file-memory: the limits of :mod:`xlperf.workers.limits`."""
    command = click.option(
        "--file-memory", type=click.IntRange(64), metavar="MB",
        help="每份文件审核时可用的内存上限（MB，默认 1024，也可用环境变量 XLPERF_FILE_MEMORY_MB）；超出的文件判为 FILE_TOO_COMPLEX。",
    )(command)
    return click.option(
        "--file-seconds", type=click.FloatRange(min=0.1), metavar="秒",
        help="每份文件审核的时间上限（秒，默认 30，也可用环境变量 XLPERF_FILE_SECONDS）；超出的文件判为 FILE_TOO_COMPLEX，其余照常审核。",
    )(command)


def _limits(seconds: float | None, memory_mb: int | None) -> Limits:
    try:
        return Limits.from_env(seconds=seconds, memory_mb=memory_mb)
    except LimitError as exc:
        raise click.UsageError(str(exc)) from None


@main.command("check", help="审核报表：PATH 为文件或文件夹（递归查找 .xlsx/.xlsm/.xls/.ods）。"
              "无错误时退出码为 0，有错误为 1（--strict 时提示也算），用法错误为 2。")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出全部审核结果（到标准输出）。")
@click.option("--report-dir", type=click.Path(file_okay=False, path_type=Path),
              help="为每份报表写出 HTML 报告、批注工作簿和 JSON。")
@click.option("--strict", is_flag=True, help="提示（warning）也视为不通过。")
@click.option("--against", "against_dir", type=click.Path(exists=True, path_type=Path),
              help="绩效目标申报表所在文件夹：自评表、评价报告的目标须与同一单位、项目、年度审核通过的申报表一致。")
@click.option("--key-file", type=click.Path(dir_okay=False, path_type=Path),
              help="签名密钥文件（也可用环境变量 XLPERF_SIGNING_KEY 或 XLPERF_KEY_FILE），用于核验模板签名。")
@click.option("--allow-unsigned", is_flag=True,
              help="配置了签名密钥时，没有签名的报表只作提示而不是错误（确实下发过未签名的空白模板时使用）。")
@click.option("--roster", "roster_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="单位名单：文件名写的是名单中另一个单位时给出提示。")
@_limit_options
def check_command(paths: tuple[Path, ...], as_json: bool, report_dir: Path | None, strict: bool,
                  against_dir: Path | None, key_file: Path | None, allow_unsigned: bool,
                  roster_file: Path | None, file_seconds: float | None, file_memory: int | None) -> None:
    from xlperf.checks.check_files import CheckContext, check_files
    from xlperf.cli.console import (
        finding_line,
        ignored_line,
        no_returns_message,
        return_line,
        summary_line,
    )
    from xlperf.read.inbox import find_inputs
    from xlperf.workers.run import in_order

    files, others, _ = find_inputs(paths)
    if not files:
        raise click.UsageError(no_returns_message(others))
    limits = _limits(file_seconds, file_memory)
    key = _signing_key(key_file)
    roster = roster_option(roster_file)
    against = None
    if against_dir is not None:
        from xlperf.cycle import DeclarationIndex

        against = DeclarationIndex.build([against_dir], key=key, limits=limits)
    results = []
    with click.progressbar(length=len(files), label="审核中", file=sys.stderr,
                           hidden=len(files) < 2 or not sys.stderr.isatty()) as bar:
        context = CheckContext.with_key(key, roster=roster, declarations=against, allow_unsigned=allow_unsigned)
        for checked in in_order(check_files(files, context, limits=limits)):
            results.append(checked)
            bar.update(1)
    if report_dir is not None:
        from xlperf.report import write_batch_reports

        try:
            write_batch_reports(results, report_dir)
        except OSError as exc:
            raise _output_error("审核报告", exc, report_dir) from None
    if as_json:
        doc = {"returns": [r.to_dict() for r in results],
               "not_checked": [{"file": scrub(str(p)), "reason": reason} for p, reason in others],
               "summary": {"files": len(results), "valid": sum(r.valid for r in results),
                           "not_checked": len(others)}}
        click.echo(scrub(json.dumps(doc, ensure_ascii=False, indent=1, allow_nan=False)))
    else:
        for checked in results:
            click.echo(return_line(checked))
            for finding in checked.findings:
                click.echo(finding_line(finding))
        for path, reason in others:
            click.echo(ignored_line(path, reason))
        click.echo(summary_line(results))
        if others:
            click.echo(f"另有 {len(others)} 个文件不是报表，未审核（见上面的“未审核”行）。")
        from xlperf.form.signkeys import UNVERIFIED_NOTE

        unverified = sum(UNVERIFIED_NOTE in r.notes for r in results)
        if unverified:
            click.echo(f"注意：未配置签名密钥，{unverified} 份带签名的报表未核验签名（请设置 XLPERF_SIGNING_KEY、"
                       "XLPERF_KEY_FILE 或 --key-file）。")
        if against is not None:
            click.echo(f"已对照 {against_dir} 中 {len(against.declarations)} 个审核通过的申报项目核对目标值。")
        if report_dir is not None:
            click.echo(f"审核报告已写入：{report_dir}")
    failed = any(r.errors or (strict and r.warnings) for r in results)
    sys.exit(1 if failed else 0)


@main.command("rollup", help="汇总报表：INBOX 为文件或文件夹（递归查找），审核每份报表并写出一个汇总工作簿"
              "（汇总、指标明细、问题清单、未报送、重复报送、统计、清单）。成功时退出码为 0，用法错误（如单位名单有误）为 2。")
@click.argument("inbox", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="汇总工作簿（.xlsx）。")
@click.option("--roster", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="单位名单（.xlsx 或 .csv：单位代码、单位名称、主管部门、联系人、邮箱），用于列出未报送单位。")
@click.option("--form", "form_id", help="只汇总这一种表单（表单编号，见 xlperf forms）。")
@click.option("--jobs", type=click.IntRange(1, 512), help="并行进程数（默认为 CPU 核数）。")
@_limit_options
@click.option("--scheduler", metavar="tcp://主机:端口",
              help="在 Dask 分布式集群上审核（调度器地址）；报表内容随任务发送，各节点无需访问本机磁盘。默认在本机多进程审核。")
@click.option("--shared-folder", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="与 --scheduler 同用：此文件夹在各集群节点上以相同路径挂载，其中的报表按路径发送而不传内容。")
def rollup_command(inbox: tuple[Path, ...], output: Path, roster: Path | None, form_id: str | None,
                   jobs: int | None, file_seconds: float | None, file_memory: int | None, scheduler: str | None,
                   shared_folder: Path | None) -> None:
    from xlperf.cli.console import no_returns_message
    from xlperf.read.inbox import find_inputs
    from xlperf.rollup import rollup
    from xlperf.rollup.distributed import ClusterError

    if shared_folder is not None and scheduler is None:
        raise click.UsageError("--shared-folder 只能与 --scheduler 一起使用")
    if form_id is not None and form_id not in builtin_forms():
        raise click.BadParameter(f"未知的表单 '{form_id}'；可用：{', '.join(builtin_forms())}", param_hint="--form")
    units = roster_option(roster)
    target = output.resolve()

    def own_output(path: Path) -> bool:
        # The summary (and its temporary .~ file) may sit inside an inbox: never roll it up itself.
        if path.name == target.name:
            return path.resolve() == target
        return path.name.startswith(".~") and path.parent.resolve() == target.parent

    found = find_inputs(inbox)
    files = [p for p in found.returns if not own_output(p)]
    others = [(p, reason) for p, reason in found.others if not own_output(p)]
    if not files:
        raise click.UsageError(no_returns_message(others))
    limits = _limits(file_seconds, file_memory)
    with click.progressbar(length=len(files), label="汇总中", file=sys.stderr,
                           hidden=len(files) < 2 or not sys.stderr.isatty()) as bar:
        try:
            result = rollup(files, output, roster=units, form=form_id, jobs=jobs, progress=bar.update,
                            others=others, limits=limits, scheduler=scheduler, shared_folder=shared_folder)
        except ClusterError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            raise OutputError(f"无法写入汇总工作簿 {scrub(str(output))}（{exc.strerror or exc}）：请关闭已打开的该文件，"
                              "检查该位置是否可写，或换一个位置") from None
    click.echo(f"汇总工作簿：{result.output}")
    click.echo(result.paragraph)


@main.command("mail", help="把审核报告用邮件发回各单位：REPORT_DIR 为 xlperf check --report-dir 写出的文件夹。"
              "每个单位一封中文邮件（HTML 报告正文、纯文本、批注工作簿附件，退回的另附预填单位和年度的新模板）。"
              "发送记录保存在 REPORT_DIR/mail_log.jsonl，已发送且报告未变的不再发送（除非 --resend）。"
              "邮件服务器用户名和密码只从环境变量 XLPERF_SMTP_USER、XLPERF_SMTP_PASSWORD 或 --config 配置文件读取。"
              "全部发出或写出时退出码为 0，有发送失败为 1，用法错误为 2。")
@click.argument("report_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--roster", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="单位名单（.xlsx 或 .csv：单位代码、单位名称、主管部门、联系人、邮箱）。")
@click.option("--smtp", metavar="主机:端口", help="邮件服务器，如 smtp.example.gov.cn:465。")
@click.option("--tls", type=click.Choice(["starttls", "ssl", "none"]),
              help="加密方式：starttls（默认）、ssl（隐式 TLS，端口 465 时默认）、none（仅限本机测试）。")
@click.option("--from", "sender", metavar="地址", help="发件人，如 \"绩效科 <jixiao@example.gov.cn>\"。")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="配置文件（INI，[smtp] 节：host、port、tls、user、password、from、cafile）；含密码时须 chmod 600。")
@click.option("--dry-run", type=click.Path(file_okay=False, path_type=Path),
              help="不发送：把每封邮件写成 .eml 文件放到此文件夹。")
@click.option("--only-failed", is_flag=True, help="只发给有报表退回或通过（有提示）的单位（邮件仍包含该单位的全部报表）。")
@click.option("--resend", is_flag=True, help="已发送过的也重新发送。")
@click.option("--rate", type=click.IntRange(1, 600), default=30, show_default=True, help="每分钟最多发送的邮件数。")
@click.pass_context
def mail_command(ctx: click.Context, report_dir: Path, roster: Path, smtp: str | None, tls: str | None,
                 sender: str | None, config_file: Path | None, dry_run: Path | None, only_failed: bool,
                 resend: bool, rate: int) -> None:
    from xlperf.mail import (
        SendLogBusy,
        load_reports,
        run_mail,
    )
    units = roster_option(roster)
    if not load_reports(report_dir)[0]:
        raise click.UsageError(f"{report_dir} 中没有审核报告（.json）：请先运行 xlperf check 收件箱/ --report-dir {report_dir}")
    from_header, config = mail_settings(smtp, tls, sender, config_file, dry_run)
    # Tests hand in a clock (obj={"clock": ...}) so that rate limit and back-off do not sleep.
    clock = ctx.obj.get("clock") if isinstance(ctx.obj, dict) else None
    try:
        result = run_mail(report_dir, units, sender=from_header, smtp=config, dry_run=dry_run,
                          only_failed=only_failed, resend=resend, rate=rate, clock=clock,
                          progress=lambda unit: click.echo(unit.line()))
    except SendLogBusy as exc:
        raise OutputError(str(exc)) from None
    finish_mail_run(result)


@main.command("demo", help="演示：在 output/ 下生成模板、虚构单位的报表及审核报告、汇总工作簿、邮件（.eml）和年度循环。")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), default=Path("output"),
              show_default=True)
@click.option("--no-recalc", is_flag=True, help="不调用 LibreOffice 重算样例报表。")
def demo_command(outdir: Path, no_recalc: bool) -> None:
    from xlperf.cli.demo import run_demo

    for line in run_demo(outdir, recalc=not no_recalc):
        click.echo(line)


from xlperf.cli.round import round_group  # noqa: E402 - registered after the group exists

main.add_command(round_group)

from xlperf.cli.watch import messages_command, remind_command, watch_command  # noqa: E402

round_group.add_command(watch_command)
round_group.add_command(remind_command)
round_group.add_command(messages_command)
