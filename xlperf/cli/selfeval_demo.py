"""The after-year step of the demo's yearly cycle on the 一体化 form (:mod:`xlperf.cli.cycle_demo`),
under ``<outdir>``: 部门预算项目支出绩效自评表 templates prefilled from the accepted declarations
(``一体化自评模板/``), filled by the units with their results and the weights they set
(``一体化自评表/``, recalculated by LibreOffice when available), checked against the
declarations and rolled up (``一体化自评汇总.xlsx``)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from xlperf.checks.check_files import CheckContext, check_files
from xlperf.cli.console import finding_line, return_line
from xlperf.cycle.declared import DeclarationIndex
from xlperf.cycle.issue import prefilled_templates
from xlperf.excel.fill import fill_workbook
from xlperf.excel.recalc import recalculate_or_copy
from xlperf.form.registry import builtin_layout
from xlperf.read import read_return
from xlperf.read.roster import Roster
from xlperf.workers.run import in_order

__all__ = ["FORM", "RESULTS", "RETURNS_FOLDER", "run_self_evaluation"]

FORM = "project_self_evaluation"
RETURNS_FOLDER = "一体化自评表"
"""Where the units' filled returns are written, under the cycle's folder."""
_TEXTS = {
    "annual_target": "保障平台全年运营，按计划开展公益服务活动，服务辖区中小企业。",
    "target_done": "全年平台正常运营，公益服务活动和服务企业数量达到或接近年度目标，服务对象满意。",
    "implementation": "按季度组织公益服务活动，线上平台全年运行；资金按合同进度支付。",
    "conclusion": "项目自评得分见上表，年度目标基本完成。",
    "problems": "部分活动受场地影响顺延。", "measures": "提前落实场地，均衡安排全年活动。",
}
RESULTS: dict[str, dict[str, Any]] = {
    "东湖区科技局": {"adjusted_fiscal": 45, "spent_fiscal": 43.2,
                  "ind_1_actual": 13, "ind_1_weight": 40, "ind_2_actual": 128, "ind_2_weight": 30,
                  "ind_3_actual": 0.97, "ind_3_weight": 20},
    "西山县中小企业局": {"adjusted_fiscal": 30, "spent_fiscal": 29.1,
                   "ind_1_actual": 32, "ind_1_weight": 40, "ind_1_reason": "下半年两场培训因场地改造顺延至次年一季度。",
                   "ind_2_actual": 210, "ind_2_weight": 30, "ind_3_actual": 0.93, "ind_3_weight": 20},
}
"""What each unit types into its prefilled self-evaluation: amounts, results, the weights it sets (90 in all)."""


def run_self_evaluation(outdir: Path, index: DeclarationIndex, roster: Roster, sample: Mapping[str, Any], *,
                        year: int, key: bytes | None, recalc: bool,
                        unit_inputs: Callable[[Path, Mapping[str, Any]], dict[str, Any]],
                        rollup_lines: Callable[[Path, Path], Iterator[str]]) -> Iterator[str]:
    prefilled = prefilled_templates(builtin_layout(FORM), index, outdir / "一体化自评模板", year=year, roster=roster, key=key)
    yield (f"由审核通过的申报表预填部门预算项目支出绩效自评表（一体化）{len(prefilled.files)} 份"
           f"（项目、预算、指标和指标值已锁定，权重由单位填写）：{outdir / '一体化自评模板'}")
    returns = outdir / RETURNS_FOLDER
    with tempfile.TemporaryDirectory(prefix="xlperf-selfeval-") as tmp:
        filled = []
        for template in prefilled.files:
            unit = read_return(template).meta.get("unit", "")
            values = {k: v for k, v in sample.items() if not k.startswith("ind_") and k != "exec_reason"}
            values.update({**_TEXTS, **RESULTS.get(unit, {})})
            filled.append(fill_workbook(template, unit_inputs(template, values), Path(tmp) / f"项目自评表_{unit}.xlsx"))
        failed = recalculate_or_copy(filled, returns, recalc)
    yield (f"各单位填报的一体化自评表（已由 LibreOffice 重算）：{returns}" if failed is None
           else f"各单位填报的一体化自评表（{failed}，审核时将重算）：{returns}")
    context = CheckContext.with_key(key, declarations=index)
    for checked in in_order(check_files(sorted(returns.glob("*.xlsx")), context)):
        yield return_line(checked)
        yield from (finding_line(f) for f in checked.findings)
    yield from rollup_lines(returns, outdir / "一体化自评汇总.xlsx")
