"""The mid-year step of the demo's yearly cycle (:mod:`xlperf.cli.cycle_demo`), under ``<outdir>``:

1. monitoring templates (项目支出绩效监控表) prefilled from the accepted declarations
   (``监控模板/``): project, budget, indicators and targets locked;
2. the units fill them in July as a clerk would (only the unit's inputs): 1-6月 execution, the
   full-year forecast, each indicator's progress and 完成目标可能性; one unit lags the time progress
   and judges a target 有可能 without the analysis and measures the form requires
   (``监控表/``, recalculated by LibreOffice when available);
3. they are checked against the declarations with the key and rolled up (``监控汇总.xlsx``).
"""

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

__all__ = ["FORM", "MONITORED", "run_monitoring"]

FORM = "performance_monitoring"
MONITORED: dict[str, dict[str, Any]] = {
    "东湖区科技局": {
        "exec_general": 24.6, "forecast_general": 45,
        "ind_1_progress": "已开展7次", "ind_1_likelihood": "确定能",
        "ind_2_progress": "已服务企业68家", "ind_2_likelihood": "确定能",
        "ind_3_progress": "上半年抽样调查满意度96%", "ind_3_likelihood": "确定能",
    },
    # Behind the time progress, and 有可能 without the analysis and measures the form requires.
    "西山县中小企业局": {
        "exec_general": 9.5, "forecast_general": 30,
        "ind_1_progress": "已开展12场", "ind_1_likelihood": "有可能",
        "ind_2_progress": "已服务企业90家", "ind_2_likelihood": "确定能",
        "ind_3_progress": "尚未调查", "ind_3_likelihood": "确定能",
    },
}
"""What each unit types into its prefilled monitoring template, beyond the sample's footer."""


def run_monitoring(outdir: Path, index: DeclarationIndex, roster: Roster, sample: Mapping[str, Any], *, year: int,
                   key: bytes | None, recalc: bool, unit_inputs: Callable[[Path, Mapping[str, Any]], dict[str, Any]],
                   rollup_lines: Callable[[Path, Path], Iterator[str]]) -> Iterator[str]:
    """Prefill, fill, check against the declarations, roll up; ``unit_inputs`` keeps a clerk's
    values off the template's locked cells, ``rollup_lines`` rolls a folder up (the cycle's own)."""
    prefilled = prefilled_templates(builtin_layout(FORM), index, outdir / "监控模板", year=year, roster=roster, key=key)
    yield f"由审核通过的申报表预填绩效监控表 {len(prefilled.files)} 份（项目、预算、指标和指标值已锁定）：{outdir / '监控模板'}"
    yield from (f"    {line.strip()}" for line in prefilled.lines if line.strip().startswith(("未使用", "未放入")))
    returns = outdir / "监控表"
    with tempfile.TemporaryDirectory(prefix="xlperf-monitoring-") as tmp:
        filled = []
        for template in prefilled.files:
            unit = read_return(template).meta.get("unit", "")
            values = {k: v for k, v in sample.items() if not k.startswith("ind_")}
            values.update({"impl_unit": unit, "fill_date": f"{year}-07-08", **MONITORED.get(unit, {})})
            filled.append(fill_workbook(template, unit_inputs(template, values), Path(tmp) / f"绩效监控表_{unit}.xlsx"))
        failed = recalculate_or_copy(filled, returns, recalc)
    yield (f"各单位填报的绩效监控表（已由 LibreOffice 重算）：{returns}" if failed is None
           else f"各单位填报的绩效监控表（{failed}，审核时将重算）：{returns}")
    context = CheckContext.with_key(key, declarations=index)
    for checked in in_order(check_files(sorted(returns.glob("*.xlsx")), context)):
        yield return_line(checked)
        yield from (finding_line(f) for f in checked.findings)
    yield from rollup_lines(returns, outdir / "监控汇总.xlsx")
