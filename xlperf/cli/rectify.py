"""``xlperf round rectify-forms NAME -o DIR``: the prefilled 整改 forms of a 整改 round (thin; the
work is in xlperf.ledger.rectify_forms). Registered on the ``round`` group here, imported by the
package's __init__; ``round new --rectify`` is :mod:`xlperf.cli.rectify_new`."""

from __future__ import annotations

from pathlib import Path

import click

from xlperf.cli.round import _ledger, round_group
from xlperf.cli.storage import writing

__all__ = ["rectify_forms_command"]


@click.command("rectify-forms", help="整改任务：为每个单位和项目生成预填的整改表（发现的问题逐行预填并锁定，"
               "附被评价任务中的得分和等次；配置了签名密钥时签名），写入 -o 文件夹。")
@click.argument("name")
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False, path_type=Path), help="输出文件夹。")
@click.option("--password", envvar="XLPERF_PASSWORD", default=None, help="工作表保护密码（默认 xlperf）。")
@click.pass_context
def rectify_forms_command(ctx: click.Context, name: str, output: Path, password: str | None) -> None:
    from xlperf.excel.template import DEFAULT_PASSWORD
    from xlperf.form.signkeys import SigningKeyError, load_key
    from xlperf.ledger import find_round
    from xlperf.ledger.rectify_forms import rectify_templates

    try:
        key = load_key()
    except SigningKeyError as exc:
        raise click.UsageError(str(exc)) from None
    with _ledger(ctx) as ledger, ledger.session() as session:
        rnd = find_round(session, name)
        with writing(output, "整改表文件夹"):
            issued = rectify_templates(session, rnd, output, password=password or DEFAULT_PASSWORD, key=key)
    for line in issued.lines:
        click.echo(line)
    click.echo(f"共 {len(issued.files)} 份整改表：{output}")


round_group.add_command(rectify_forms_command)
