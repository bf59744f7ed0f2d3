"""``xlperf --forms DIR`` and ``xlperf forms``: the forms a bureau adds (:mod:`xlperf.form.registry`)."""

from __future__ import annotations

from pathlib import Path

import click

from xlperf.form.registry import (
    BUILTIN,
    FORMS_ENV,
    SPEC_SUFFIXES,
    Known,
    known_forms,
    problems,
    spec_of_text,
    use_folders,
)
from xlperf.form.yamlsrc import SpecError

__all__ = ["form_argument", "forms_command", "forms_option", "warn_problems"]


def _use(ctx: click.Context, param: click.Parameter, value: tuple[Path, ...]) -> tuple[Path, ...]:
    if not ctx.resilient_parsing:
        use_folders(value)
    return value


forms_option = click.option(
    "--forms", "forms_folders", multiple=True, expose_value=False, is_eager=True, callback=_use,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help=f"本局的表单规格文件夹（可多次给出；也可用环境变量 {FORMS_ENV}，多个文件夹用路径分隔符连接）："
         "其中的表单与内置表单一起用于所有命令，表单编号与内置表单相同时替换内置表单。")


def form_argument(value: str) -> Known:
    """``--form ID|SPEC.yaml`` of the round commands: a form xlperf knows, or a spec file (read now)."""
    if value.endswith(SPEC_SUFFIXES):
        path = Path(value)
        try:
            return spec_of_text(path.read_text(encoding="utf-8"), path.name, source=str(path.resolve()))
        except (OSError, UnicodeDecodeError) as exc:
            raise click.BadParameter(f"无法读取表单规格 {value}：{exc}", param_hint="--form") from None
        except SpecError as exc:
            raise click.BadParameter(f"表单规格有误：{exc}", param_hint="--form") from None
    forms = known_forms()
    if value not in forms:
        raise click.BadParameter(f"未知的表单 '{value}'；可用：{', '.join(forms)}（或给出表单规格 .yaml 文件）",
                                 param_hint="--form")
    return forms[value]


def warn_problems() -> None:
    """Every bureau spec that could not be used, on standard error (file, line, key, why)."""
    for problem in problems():
        click.echo(f"表单规格有误，未载入：{problem}", err=True)


@click.command("forms", help="列出表单：内置表单和本局表单文件夹中的表单（来源、版本、名称）。")
def forms_command() -> None:
    listed = known_forms()
    width = max(map(len, listed), default=0)  # ids line up however long the longest is
    for form_id, form in listed.items():
        source = BUILTIN if form.source == BUILTIN else str(form.source)
        click.echo(f"{form_id:<{width}} {form.spec.version:<6} {form.spec.title}  [{source}]")
        if form.replaces:
            click.echo(f"{'':<{width}} 替换了内置表单 {form.replaces}")
    if problems():
        click.echo("未载入（规格有误）：")
        for problem in problems():
            click.echo(f"  {problem}")
