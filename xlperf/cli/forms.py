"""``xlperf --forms DIR`` and ``xlperf forms``: the forms a bureau adds (:mod:`xlperf.form.registry`)."""

from __future__ import annotations

from pathlib import Path

import click

from xlperf.form.registry import BUILTIN, FORMS_ENV, known_forms, problems, use_folders

__all__ = ["forms_command", "forms_option", "warn_problems"]


def _use(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> tuple[Path, ...]:
    if not ctx.resilient_parsing:
        use_folders(value)
    return value


forms_option = click.option(
    "--forms", "forms_folders", multiple=True, expose_value=False, is_eager=True, callback=_use,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help=f"本局的表单规格文件夹（可多次给出；也可用环境变量 {FORMS_ENV}，多个文件夹用路径分隔符连接）："
         "其中的表单与内置表单一起用于所有命令，表单编号与内置表单相同时替换内置表单。")


def warn_problems() -> None:
    """Every bureau spec that could not be used, on standard error (file, line, key, why)."""
    for problem in problems():
        click.echo(f"表单规格有误，未载入：{problem}", err=True)


@click.command("forms", help="列出表单：内置表单和本局表单文件夹中的表单（来源、版本、名称）。")
def forms_command() -> None:
    for form_id, form in known_forms().items():
        source = BUILTIN if form.source == BUILTIN else str(form.source)
        click.echo(f"{form_id:<20} {form.spec.version:<6} {form.spec.title}  [{source}]")
        if form.replaces:
            click.echo(f"{'':<20} 替换了内置表单 {form.replaces}")
    if problems():
        click.echo("未载入（规格有误）：")
        for problem in problems():
            click.echo(f"  {problem}")
