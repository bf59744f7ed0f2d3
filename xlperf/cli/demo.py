"""The demo on bundled sample data: templates, filled returns of fictional units, their checks."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlperf.cli.samples import SAMPLES_DIR as SAMPLES_DIR
from xlperf.cli.samples import sample_values as sample_values
from xlperf.excel.fill import fill_workbook
from xlperf.excel.recalc import recalculate_or_copy
from xlperf.excel.template import write_template
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.roles import UNIT


@dataclass(frozen=True)
class DemoReturn:
    """A fictional unit's return: a sample with some values changed (its typical mistakes)."""

    file: str
    form: str
    unit: str
    changes: dict[str, Any] = field(default_factory=dict)
    """New values by key; None blanks a field."""

    def values(self) -> dict[str, Any]:
        values = sample_values(self.form)
        values.update({k: self.unit for k in builtin_layout(self.form).role_keys(UNIT) if k in values})
        values.update(self.changes)
        return {k: v for k, v in values.items() if v is not None}


DEMO_RETURNS = (
    DemoReturn("自评表_东湖区科技局.xlsx", "self_evaluation", "东湖区科技局",
               {"spent_city": 38.6, "released": 40, "fund_usage": "预算40万元全部下达，支出38.6万元，执行率96.5%。",
                }),
    # Seed 004 as filed: total 96.35 but 差 typed over the grade formula, HTML pasted into the narrative.
    DemoReturn("自评表_西山县中小企业局.xlsx", "self_evaluation", "西山县中小企业局",
               {"grade": "差", "narrative": "<p>2019年，中心围绕促进民营经济发展“五大工程”开展服务。</p>"}),
    DemoReturn("自评表_南城区商务局.xlsx", "self_evaluation", "南城区商务局",
               {"spent_city": 6.2, "budget_other": "五万", "satisfaction_score": 12,
                "ind_2_reason": None, "end_date": "2018-12-31"}),
    # Seed 000: 满意度 filed under 产出指标, 二级 left blank.
    DemoReturn("目标申报表_北湖县工信局.xlsx", "target_declaration", "北湖县工信局",
               {"ind_1_level2": None, "ind_2_level2": None, "ind_3_level1": "产出指标", "ind_3_level2": None}),
    DemoReturn("绩效目标表_市中小企业办.xlsx", "target_table", "市中小企业办",
               {"p2_ind_7_level1": "投入与管理", "p2_ind_7_level2": "实施管理", "p2_ind_7_name": "信息公开实现率",
                "p2_ind_7_target": "规范"}),
    DemoReturn("评价报告_湘潭县科工局.xlsx", "evaluation_report", "湘潭县科技和工业信息化局"),
)


def run_demo(outdir: Path, recalc: bool = True) -> Iterator[str]:
    """Templates; fictional units' returns checked with reports, rolled up and mailed (as .eml);
    then the yearly cycle."""
    templates = outdir / "templates"
    for form_id in builtin_forms():
        path = write_template(builtin_layout(form_id), templates / f"{form_id}.xlsx")
        yield f"模板：{path}"
    returns = outdir / "returns"
    yield from _fill_returns(templates, returns, recalc)
    yield from _check_returns(returns, outdir / "reports")
    yield from _rollup_returns(returns, outdir / "summary.xlsx")
    yield from _mail_reports(outdir / "reports", outdir / "mail")
    yield from _collection_round(outdir, returns, recalc)
    yield from _yearly_cycle(outdir / "cycle", recalc)
    yield from _integrated_round(outdir, outdir / "cycle")
    yield from _chain_rounds(outdir, outdir / "cycle")
    yield from _desk_hint(outdir)


def _desk_hint(outdir: Path) -> Iterator[str]:
    """How to open the demo round in the web desk: the last thing the demo prints."""
    yield f"在网页收报台中查看演示报送任务：xlperf serve --db {outdir / 'xlperf.db'}"
    yield "（启动后用浏览器打开它显示的带访问令牌的本机链接）"


def _fill_returns(templates: Path, returns: Path, recalc: bool) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="xlperf-demo-") as tmp:
        filled = [
            fill_workbook(templates / f"{r.form}.xlsx", r.values(), Path(tmp) / r.file)
            for r in DEMO_RETURNS
        ]
        # As a unit's Excel would save them: with computed results.
        failed = recalculate_or_copy(filled, returns, recalc)
        yield (f"填报样例（已由 LibreOffice 重算）：{returns}" if failed is None
               else f"填报样例（{failed}，文件中没有公式计算结果，审核时将重算）：{returns}")


def _check_returns(returns: Path, reports: Path) -> Iterator[str]:
    from xlperf.checks.check_files import check_files
    from xlperf.checks.check_return import find_returns
    from xlperf.cli.console import finding_line, return_line, summary_line
    from xlperf.report import write_batch_reports
    from xlperf.workers.run import in_order

    results = list(in_order(check_files(find_returns([returns]))))
    write_batch_reports(results, reports)
    for checked in results:
        yield return_line(checked)
        yield from (finding_line(f) for f in checked.findings)
    yield summary_line(results)
    yield f"审核报告：{reports}"


def _rollup_returns(returns: Path, output: Path) -> Iterator[str]:
    from xlperf.checks.check_return import find_returns
    from xlperf.read.roster import read_roster
    from xlperf.rollup import rollup

    result = rollup(find_returns([returns]), output, roster=read_roster(SAMPLES_DIR / "roster.csv"))
    yield f"汇总工作簿：{result.output}"
    yield result.paragraph


DEMO_SENDER = "市财政局绩效管理科 <jixiao@czj.example.gov.cn>"


def _mail_reports(reports: Path, outbox: Path) -> Iterator[str]:
    """Each unit's mail as an .eml file (xlperf mail --dry-run): nothing is sent."""
    from xlperf.mail import run_mail
    from xlperf.read.roster import read_roster

    result = run_mail(reports, read_roster(SAMPLES_DIR / "roster.csv"), sender=DEMO_SENDER,
                      dry_run=outbox, resend=True)
    yield from (r.line() for r in result.results)
    yield f"邮件（.eml，未发送）：{outbox}"


def _collection_round(outdir: Path, returns: Path, recalc: bool) -> Iterator[str]:
    """A round on the default SQLite ledger ``outdir/xlperf.db``: new, intake, status, a corrected
    return sent again (it supersedes the first), roll-up from the ledger; then the status table."""
    import datetime as dt

    from xlperf.intake import intake_paths
    from xlperf.ledger import create_round, open_ledger, round_rollup, round_status
    from xlperf.read.roster import read_roster

    ledger = open_ledger(str(outdir / "xlperf.db"))
    # A new round per run (the ledger keeps every earlier one; nothing is ever deleted).
    name = f"演示自评 {dt.datetime.now():%Y-%m-%d %H:%M:%S}"
    year = int(sample_values("self_evaluation")["year"])
    try:
        with ledger.session() as session, session.begin():
            rnd = create_round(session, name, "self_evaluation", year, read_roster(SAMPLES_DIR / "roster.csv"),
                               deadline=dt.date.today() + dt.timedelta(days=14), actor="demo")
        yield f"报送任务“{name}”：台账 {ledger.shown_url}，原文件存档 {ledger.store.root}"
        first = intake_paths(ledger, rnd, [returns], sender="演示收件箱", actor="demo", jobs=1)
        yield from (o.line() for o in first.outcomes)
        # 西山县中小企业局 corrects its return (grade no longer typed over, no HTML) and sends it again.
        wrong = next(r for r in DEMO_RETURNS if r.unit == "西山县中小企业局")
        sample = sample_values(wrong.form)
        inputs = {f.key for f in builtin_layout(wrong.form).inputs()}  # the grade is a formula: not typed
        restored = {k: sample[k] for k in wrong.changes if k in sample}
        fixed = {k: v for k, v in {**wrong.values(), **restored}.items() if k in inputs}
        resubmitted = outdir / "resubmitted"
        with tempfile.TemporaryDirectory(prefix="xlperf-demo-") as tmp:
            filled = fill_workbook(outdir / "templates" / f"{wrong.form}.xlsx", fixed,
                                   Path(tmp) / "自评表_西山县中小企业局_修改后.xlsx")
            recalculate_or_copy([filled], resubmitted, recalc)
        corrected = resubmitted / filled.name
        second = intake_paths(ledger, rnd, [corrected], sender="演示收件箱", actor="demo", jobs=1)
        yield from (o.line() for o in second.outcomes)
        with ledger.session() as session:
            summary = round_rollup(session, rnd, outdir / "round_summary.xlsx")
            yield f"报送任务汇总工作簿（取自台账，未重读文件）：{summary.output}"
            yield from round_status(session, rnd).lines()
    finally:
        ledger.close()


def _integrated_round(outdir: Path, cycle: Path) -> Iterator[str]:
    """A second round on the demo's ledger, on the 一体化 form: the cycle's 部门预算项目支出绩效自评表
    returns taken in, then the status table."""
    import datetime as dt

    from xlperf.cli.cycle_demo import YEAR
    from xlperf.cli.selfeval_demo import FORM, RETURNS_FOLDER
    from xlperf.intake import intake_paths
    from xlperf.ledger import create_round, open_ledger, round_status
    from xlperf.read.roster import read_roster

    ledger = open_ledger(str(outdir / "xlperf.db"))
    name = f"演示一体化自评 {dt.datetime.now():%Y-%m-%d %H:%M:%S}"
    try:
        with ledger.session() as session, session.begin():
            rnd = create_round(session, name, FORM, YEAR, read_roster(SAMPLES_DIR / "roster.csv"),
                               deadline=dt.date.today() + dt.timedelta(days=14), actor="demo")
        yield f"报送任务“{name}”（部门预算项目支出绩效自评表）：收取年度循环中各单位填报的一体化自评表"
        taken = intake_paths(ledger, rnd, [cycle / RETURNS_FOLDER], sender="演示收件箱", actor="demo", jobs=1)
        yield from (o.line() for o in taken.outcomes)
        with ledger.session() as session:
            yield from round_status(session, rnd).lines()
    finally:
        ledger.close()


def _chain_rounds(outdir: Path, cycle: Path) -> Iterator[str]:
    """The cycle's returns in a chain of rounds on the demo's ledger, then 结果应用 (xlperf.cli.chain_demo)."""
    from xlperf.cli.chain_demo import run_chain
    from xlperf.read.roster import read_roster

    yield from run_chain(outdir, cycle, read_roster(SAMPLES_DIR / "roster.csv"))


def _yearly_cycle(outdir: Path, recalc: bool) -> Iterator[str]:
    """Declare, check, roll up, prefill self-evaluations, fill, check against, roll up (xlperf.cli.cycle_demo)."""
    from xlperf.cli.cycle_demo import run_cycle
    from xlperf.read.roster import read_roster

    samples = {form_id: sample_values(form_id) for form_id in builtin_forms()}
    yield from run_cycle(outdir, read_roster(SAMPLES_DIR / "roster.csv"), samples, recalc)
