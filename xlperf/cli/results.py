"""``xlperf round results`` and ``xlperf round consequence``: 结果应用 of a round (thin commands;
the work is in xlperf.ledger.results). Registered on the ``round`` group here, imported by the
package's __init__."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from xlperf.cli.round import _actor, _ledger, round_group
from xlperf.cli.storage import writing

__all__ = ["consequence_command", "results_command"]


@click.command("results", help="结果应用：本任务已通过的每个项目的总分、等次、预算与执行情况，按等次给出应用结果（默认 优→优先保障、"
               "良→保持、中→压减 10%、差→取消或暂停安排，可用 xlperf round consequence 修改）和建议下年预算（本年预算 × 预算系数），"
               "并与台账中上一年度同一表单的报送任务对比，标出等次下降的项目。-o 写出给预算科的工作簿：每个主管部门一张工作表、"
               "按等次合计、等次分布图。")
@click.argument("name")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="结果应用工作簿（.xlsx）。")
@click.option("--json", "as_json", is_flag=True, help="以 JSON 输出每个项目。")
@click.pass_context
def results_command(ctx: click.Context, name: str, output: Path | None, as_json: bool) -> None:
    from xlperf.ledger import find_round
    from xlperf.ledger.results import grade_lines, round_results, write_round_results

    with _ledger(ctx) as ledger, ledger.session() as session:
        rnd = find_round(session, name)
        if output is None:
            results = round_results(session, rnd)
        else:
            with writing(output, "结果应用工作簿"):
                results = write_round_results(session, rnd, output)
    if as_json:
        click.echo(json.dumps(_as_dict(results), ensure_ascii=False, indent=1))
        return
    compared = f"与上年“{results.previous}”对比等次" if results.previous else "台账中没有上一年度同一表单的报送任务，未对比等次"
    click.echo(f"结果应用：“{results.round_name}”（{results.year} 年，{results.form_title}），"
               f"{len(results.rows)} 个项目；{compared}")
    for line in grade_lines(results):
        click.echo(line)
    for row in results.fallen:
        assert row.last is not None
        click.echo(f"等次下降：{row.unit} {row.project}：{row.last.year} 年 {row.last.grade} → 本年 {row.grade}")
    if output is not None:
        click.echo(f"结果应用工作簿：{output}")


def _as_dict(results: Any) -> dict[str, Any]:
    def number(value: Any) -> float | None:
        return None if value is None else float(value)

    return {
        "round": results.round_name, "year": results.year, "previous_round": results.previous,
        "consequences": [{"grade": c.grade, "action": c.action, "factor": float(c.factor)}
                         for c in results.consequences],
        "projects": [{"dept": r.dept, "unit_code": r.unit_code, "unit": r.unit, "project": r.project,
                      "score": r.score, "grade": r.grade, "budget": r.budget, "spent": r.spent, "rate": r.rate,
                      "action": r.consequence.action if r.consequence else None,
                      "factor": number(r.consequence.factor if r.consequence else None),
                      "suggested_budget": number(r.suggested),
                      "last_score": r.last.score if r.last else None, "last_grade": r.last.grade if r.last else None,
                      "grade_fell": r.fell} for r in results.rows],
        "totals": [{"grade": t.grade, "projects": t.count, "budget": t.budget, "suggested_budget": float(t.suggested)}
                   for t in results.totals],
    }


@click.command("consequence", help="结果应用的设置：GRADE 等次对应的应用结果 ACTION 和预算系数 FACTOR（建议下年预算 = 本年预算 × 系数，"
               "如 0.9 或 90%）。只写 NAME 时列出当前设置；--reset 恢复默认（优 优先保障 ×1，良 保持 ×1，中 压减 10% ×0.9，"
               "差 取消或暂停安排 ×0）。修改记入任务日志。")
@click.argument("name")
@click.argument("grade", required=False)
@click.argument("action", required=False)
@click.argument("factor", required=False)
@click.option("--reset", is_flag=True, help="恢复默认设置。")
@click.pass_context
def consequence_command(ctx: click.Context, name: str, grade: str | None, action: str | None, factor: str | None,
                        reset: bool) -> None:
    from xlperf.ledger import find_round
    from xlperf.ledger.results import consequences, set_consequences

    if reset and grade is not None:
        raise click.UsageError("--reset 与 GRADE ACTION FACTOR 不能同时使用")
    if grade is not None and (action is None or factor is None):
        raise click.UsageError("请同时写出 GRADE ACTION FACTOR，如：xlperf round consequence 任务名 中 \"压减 20%\" 0.8")
    with _ledger(ctx) as ledger, ledger.session() as session:
        if reset or grade is not None:
            with session.begin():
                rnd = find_round(session, name)
                changes = None if reset or grade is None else {grade: (action or "", factor or "")}
                lines = set_consequences(session, rnd, changes, actor=_actor())
            click.echo("已修改：" + "；".join(lines) if lines else "设置未变。")
        rnd = find_round(session, name)
        for c in consequences(rnd):
            click.echo(f"{c.grade}  {c.action}  ×{c.factor}")


round_group.add_command(results_command)
round_group.add_command(consequence_command)
