"""``xlperf round chain``: one project along its chain of rounds (目标申报 → 运行监控 → 自评), each
stage's figures, as the desk's chain page shows them (thin command; the work is in
xlperf.ledger.chainview). Registered on the ``round`` group here, imported by the package's __init__."""

from __future__ import annotations

import click

from xlperf.cli.round import _ledger, round_group

__all__ = ["chain_command"]


@round_group.command("chain", help="项目的绩效管理链条：NAME 所在链条（目标申报 → 运行监控 → 自评，round new --from-round 连成）"
                                   "各环节中该项目已通过的报表：预算、支出、执行率、总分、等次，每个指标的目标值 / 实际值。")
@click.argument("name")
@click.option("--unit", required=True, help="单位代码或单位名称。")
@click.option("--project", required=True, help="项目名称。")
@click.pass_context
def chain_command(ctx: click.Context, name: str, unit: str, project: str) -> None:
    from xlperf.ledger import find_round
    from xlperf.ledger.chainview import project_chain

    with _ledger(ctx) as ledger, ledger.session() as session:
        chain = project_chain(session, find_round(session, name), unit, unit, project)
    for stage in chain.stages:
        click.echo(f"{stage.round_name}（{stage.form_title}，{stage.year} 年）")
        if not stage.found:
            click.echo("  无已通过的报表")
            continue
        figures = [f"报表 {stage.file}", f"预算 {_money(stage.budget)}", f"支出 {_money(stage.spent)}",
                   f"执行率 {'—' if stage.rate is None else f'{stage.rate * 100:.2f}%'}"]
        if chain.scored:
            figures.append(f"总分 {'—' if stage.score is None else f'{stage.score:.2f}'} {stage.grade or '—'}")
        click.echo("  " + "，".join(figures))
        for key, shown in chain.indicators:
            target, actual = stage.indicators.get(key, ("", ""))
            if target or actual:
                click.echo(f"  {shown}：目标 {target or '—'}，实际 {actual or '—'}")


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} 万元"
