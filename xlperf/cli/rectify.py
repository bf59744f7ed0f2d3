"""整改 rounds on the command line (thin; the work is in xlperf.ledger.rectify*): ``round new NAME
--rectify EARLIER`` (called by ``round new``), ``round rectify-forms NAME -o DIR`` (the prefilled
整改 forms); ``round status`` adds the items of a 整改 round (:func:`status_lines`). Registered on
the ``round`` group here, imported by the package's __init__."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import click

from xlperf.cli.forms import form_argument
from xlperf.cli.round import _actor, _ledger, report_created, round_group
from xlperf.cli.storage import writing

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from xlperf.ledger.models import Round
    from xlperf.ledger.rectify_status import RectifyStatus

__all__ = ["new_rectify_round", "rectify_forms_command", "status_data"]


def new_rectify_round(ctx: click.Context, name: str, earlier_name: str, select: str, form_id: str | None,
                      year: int | None, deadline: dt.date | None) -> None:
    """``round new NAME --rectify EARLIER``: the 整改 round of EARLIER, its roster derived from
    EARLIER's units (no --roster)."""
    from xlperf.ledger import LedgerError, find_round
    from xlperf.ledger.rectify import SELECTIONS, open_rectify_round, parse_selection
    from xlperf.ledger.roundform import form_label

    try:
        selection = parse_selection(select)
    except LedgerError as exc:
        raise click.BadParameter(str(exc), param_hint="--select") from None
    form = form_argument(form_id) if form_id is not None else None
    with _ledger(ctx) as ledger:
        with ledger.session() as session, session.begin():
            earlier = find_round(session, earlier_name)
            rnd, targets = open_rectify_round(session, name, earlier, selection, form=form, year=year,
                                              deadline=deadline, actor=_actor())
            lines = [f"已新建整改任务“{rnd.name}”（承接“{earlier.name}”，{form_label(rnd)}，{rnd.year} 年）："
                     f"{'或'.join(SELECTIONS[s] for s in selection)}的项目 {len(targets)} 个，"
                     f"{len({t.unit.code for t in targets})} 个单位，问题 {sum(len(t.problems) for t in targets)} 项"
                     + (f"，截止 {rnd.deadline}" if rnd.deadline else "")]
        lines += [f"  {t.unit.code}  {t.unit.name}  {t.project or '（未填项目名称）'}  {'、'.join(t.why)}：问题 "
                  f"{len(t.problems)} 项" for t in targets]
        lines.append(f"下一步：xlperf round rectify-forms {rnd.name} -o 整改表/  生成预填的整改表发给各单位")
    report_created(lines)


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


def status_data(session: Session, rnd: Round) -> RectifyStatus | None:
    """The 整改 section of ``round status`` (None for another round)."""
    from xlperf.ledger.rectify_status import rectify_status

    return rectify_status(session, rnd)


round_group.add_command(rectify_forms_command)
