"""Command line: thin click commands over the package (用户界面以中文为主)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from xlperf.layout import layout_form
from xlperf.spec import builtin_forms, load_spec
from xlperf.template import DEFAULT_PASSWORD, TemplateError, TemplateOptions, write_template
from xlperf.yamlsrc import SpecError

PASSWORD_ENV = "XLPERF_PASSWORD"


@click.group(help="xlperf：预算绩效管理表格工具（模板生成、审核、汇总）。")
@click.version_option(package_name="xlperf")
def main() -> None:
    pass


@main.command("forms", help="列出内置表单。")
def forms_command() -> None:
    for form_id, spec in builtin_forms().items():
        click.echo(f"{form_id:<20} {spec.version:<6} {spec.title}")


@main.command("template", help="生成锁定的 Excel 填报模板。FORM 为表单编号（见 xlperf forms）或表单规格 YAML 文件。")
@click.argument("form")
@click.option("-o", "--output", "output", type=click.Path(path_type=Path),
              help="输出文件（默认 output/<表单编号>.xlsx）。")
@click.option("--year", type=click.IntRange(2000, 2100), help="预填并锁定年度。")
@click.option("--unit", help="预填并锁定填报单位名称。")
@click.option("--values", "values_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="预填值 JSON 文件：{字段键: 值}，预填的单元格将被锁定。")
@click.option("--password", envvar=PASSWORD_ENV, default=DEFAULT_PASSWORD, show_default=True,
              help=f"工作表保护密码（也可用环境变量 {PASSWORD_ENV}）。")
def template_command(form: str, output: Path | None, year: int | None, unit: str | None,
                     values_file: Path | None, password: str) -> None:
    try:
        spec = load_spec(Path(form)) if form.endswith((".yaml", ".yml")) else builtin_forms().get(form)
    except SpecError as exc:
        raise click.ClickException(f"表单规格有误：{exc}") from None
    if spec is None:
        raise click.UsageError(f"未知的表单 '{form}'；可用：{', '.join(builtin_forms())}")
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
        write_template(layout, path, TemplateOptions(password=password, year=year, unit=unit, values=values))
    except SpecError as exc:
        raise click.ClickException(f"表单规格有误：{exc}") from None
    except TemplateError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"已生成模板：{path}")


@main.command("demo", help="演示：生成四张模板和一份填好的样例报表到 output/。")
@click.option("-o", "--outdir", type=click.Path(file_okay=False, path_type=Path), default=Path("output"),
              show_default=True)
@click.option("--no-recalc", is_flag=True, help="不调用 LibreOffice 重算样例报表。")
def demo_command(outdir: Path, no_recalc: bool) -> None:
    from xlperf.demo import run_demo

    for line in run_demo(outdir, recalc=not no_recalc):
        click.echo(line)


def run() -> None:  # pragma: no cover - console entry for `python -m xlperf`
    os.environ.setdefault("PYTHONIOENCODING", "utf-8")
    sys.exit(main())
