"""``xlperf form check SPEC.yaml`` and ``xlperf form new NEW_ID --from ID``: help for whoever
adapts a form (a bureau's IT staff or its vendor, working from the printed form)."""

from __future__ import annotations

import re
from pathlib import Path

import click

from xlperf.cli.commands import main
from xlperf.form.registry import builtin_forms
from xlperf.form.speccheck import check_spec, problem_lines, summary
from xlperf.form.speckeys import KEY_RE

COPY_TITLE = "（副本：请改为本地表单的标题）"
"""Appended to a copied spec's title: a copy must not pass for the original on printed forms."""


@main.group("form", help="编写表单规格：检查规格、从已有表单复制一份。")
def form_group() -> None:
    pass


@form_group.command("check", help="检查表单规格 SPEC（YAML 文件）：列出全部问题（文件、行、键，中英文），"
                                  "没有问题时列出模板将包含的内容：工作表、填报项、计算公式、评分规则、字段角色和表单级设置。"
                                  "有问题时退出码为 1。")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def check_command(spec: Path) -> None:
    result = check_spec(spec)
    if result.problems:
        click.echo(f"表单规格 {spec} 有 {len(result.problems)} 个问题 / {len(result.problems)} problem(s):")
        for line in problem_lines(result):
            click.echo(line)
        raise click.exceptions.Exit(1)
    assert result.layout is not None
    click.echo(f"表单规格 {spec} 没有问题 / no problems. 模板将包含 / the template will hold:")
    for line in summary(result.layout):
        click.echo(line)


@form_group.command("new", help="复制一份已有表单的规格作为起点：NEW_ID 为新表单编号（小写字母、数字、下划线），"
                                "--from 为内置表单编号或规格文件。写出 NEW_ID.yaml（或 -o 指定的文件），标题后注明“副本”，请改为本地标题。")
@click.argument("new_id")
@click.option("--from", "source", required=True, help="复制哪个表单：内置表单编号（见 xlperf forms）或规格 YAML 文件。")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="输出文件（默认 NEW_ID.yaml）。")
def new_command(new_id: str, source: str, output: Path | None) -> None:
    if not KEY_RE.match(new_id):
        raise click.BadParameter("表单编号只能用小写字母、数字和下划线，并以字母开头", param_hint="NEW_ID")
    if source.endswith((".yaml", ".yml")):
        path = Path(source)
        if not path.is_file():
            raise click.BadParameter(f"找不到规格文件 {source}", param_hint="--from")
    elif source in builtin_forms():
        path = builtin_forms()[source].source
    else:
        raise click.BadParameter(f"未知的表单 '{source}'；可用：{', '.join(builtin_forms())}", param_hint="--from")
    target = output or Path(f"{new_id}.yaml")
    if target.exists():
        raise click.ClickException(f"{target} 已存在，未覆盖：请换一个文件名（-o）或先移走它")
    text = copied(path.read_text(encoding="utf-8"), new_id, path.name)
    try:
        with open(target, "x", encoding="utf-8") as f:
            f.write(text)
    except OSError as exc:
        raise click.ClickException(f"无法写入 {target}（{exc.strerror or exc}）") from None
    click.echo(f"已写出 {target}：表单编号 {new_id}，复制自 {path.name}。请修改标题（title）和需要改动的内容，"
               f"然后运行 xlperf form check {target}")


def copied(text: str, new_id: str, source_name: str) -> str:
    """A spec's text under ``new_id``, its title marked as a copy, everything else as written."""
    text, forms = re.subn(r"^form:.*$", f"form: {new_id}", text, count=1, flags=re.M)
    if not forms:
        raise click.ClickException(f"{source_name} 没有 form: 一行，不是表单规格")
    text = re.sub(r"^(title:[ \t]*)(.*?)[ \t]*$",
                  lambda m: m.group(0) if m.group(2).endswith(COPY_TITLE) else f"{m.group(1)}{m.group(2)}{COPY_TITLE}",
                  text, count=1, flags=re.M)
    return f"# 复制自 {source_name}（xlperf form new）\n{text}"
