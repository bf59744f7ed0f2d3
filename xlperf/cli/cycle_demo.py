"""The yearly cycle on the demo's fictional units (``xlperf demo``), under ``<outdir>``:

1. a demo signing key (``演示签名密钥.key``: fixed, for the demo only) and one signed
   target_declaration template per roster unit (``申报模板/``);
2. three units declare (``申报表/``): two clean, one with its start after its end (rejected, so
   not used later); the declarations are checked and rolled up (``申报汇总.xlsx``);
3. mid-year monitoring (:mod:`xlperf.cli.monitoring_demo`): monitoring templates prefilled from
   the accepted declarations, filled in July, checked against the declarations, rolled up;
4. self-evaluation templates are prefilled from the accepted declarations (``自评模板/``);
5. the units fill them as a clerk would (openpyxl, only the unit's inputs); one unit removes the
   sheet protection and lowers a declared target, the mistake this cycle exists to catch;
   LibreOffice recalculates them when available (``自评表/``);
6. the self-evaluations are checked against the declarations with the key, and rolled up
   (``自评汇总.xlsx``).

The roll-up checks its files itself (:func:`xlperf.rollup.rollup` has no key argument): the key
reaches it through ``XLPERF_SIGNING_KEY``, set for the duration of the call only.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import openpyxl

from xlperf.checks.check_files import CheckContext, check_files
from xlperf.checks.check_return import find_returns
from xlperf.cli.console import finding_line, return_line
from xlperf.cli.monitoring_demo import FORM as MONITORING_FORM
from xlperf.cli.monitoring_demo import run_monitoring
from xlperf.cli.selfeval_demo import FORM as SELF_EVALUATION_FORM
from xlperf.cli.selfeval_demo import run_self_evaluation
from xlperf.cycle.declared import DeclarationIndex
from xlperf.cycle.issue import prefilled_templates, roster_templates
from xlperf.excel.fill import fill_workbook
from xlperf.excel.recalc import recalculate_or_copy
from xlperf.form.metasheet import NAME_PREFIX
from xlperf.form.registry import builtin_layout
from xlperf.form.roles import PROJECT
from xlperf.form.roles import YEAR as YEAR_ROLE
from xlperf.form.signkeys import KEY_ENV, load_key
from xlperf.read import read_return
from xlperf.read.roster import Roster
from xlperf.rollup import rollup
from xlperf.workers.run import in_order

__all__ = ["DEMO_KEY", "run_cycle"]

DEMO_KEY = "xlperf-demo-signing-key-not-a-secret-0001"
"""The demo's signing key: printed in the docs, so never a real one."""
YEAR = 2024

_PERIOD = {"start_date": f"{YEAR}-01-01", "end_date": f"{YEAR}-12-31"}
_PLAN = {"plan_1_start": f"{YEAR}-01-01", "plan_1_end": f"{YEAR}-12-31", "plan_2_start": f"{YEAR}-03-01",
         "plan_2_end": f"{YEAR}-11-30", "fill_date": f"{YEAR - 1}-11-20"}
PROJECTS = {"东湖区科技局": "科技成果转化服务平台运营", "西山县中小企业局": "中小企业公共服务平台运营",
            "南城区商务局": "电子商务进农村综合示范"}
"""The project each unit declares (typed into the field with role ``project``)."""
DECLARATIONS: dict[str, dict[str, Any]] = {
    "东湖区科技局": {"fund_total": 45},
    "西山县中小企业局": {
        "fund_total": 30,
        "ind_1_name": "企业培训", "ind_1_target": 40, "ind_1_unit": "场",
        "ind_2_name": "线上服务企业", "ind_2_target": 200, "ind_2_unit": "家",
        "ind_3_target": 0.9,
    },
    # Start after end: rejected, so no self-evaluation is prefilled from it.
    "南城区商务局": {"fund_total": 60, "start_date": f"{YEAR}-12-31",
                   "end_date": f"{YEAR}-01-01"},
}
"""Each declaring unit's changes to the target_declaration sample."""
ACTUALS: dict[str, dict[str, Any]] = {
    "东湖区科技局": {"spent_city": 43.2, "released": 45, "ind_1_actual": 13, "ind_2_actual": 128, "ind_17_actual": 0.97},
    "西山县中小企业局": {"spent_city": 29.1, "released": 30, "ind_1_actual": 32, "ind_2_actual": 210, "ind_17_actual": 0.93,
                  "ind_1_reason": "下半年两场培训因场地改造顺延至次年一季度。"},
}
"""What each unit types into its prefilled self-evaluation, beyond the sample's narrative and scores."""
TAMPERED = {"西山县中小企业局": ("ind_1_target", 30)}
"""A unit that unprotects its sheet and lowers a declared target to match what it achieved."""


def run_cycle(outdir: Path, roster: Roster, sample: Mapping[str, Mapping[str, Any]], recalc: bool = True) -> Iterator[str]:
    """Run the cycle into ``outdir``; ``sample`` gives the sample values of each form."""
    outdir.mkdir(parents=True, exist_ok=True)
    key_file = outdir / "演示签名密钥.key"
    key_file.write_text(DEMO_KEY + "\n", encoding="utf-8")
    key = load_key(key_file)
    yield f"年度循环演示（{YEAR} 年）：申报 → 审核 → 汇总 → 年中绩效监控 → 一体化自评 → 预填自评表 → 填报 → 对照申报审核 → 汇总"
    issued = roster_templates(builtin_layout("target_declaration"), roster, outdir / "申报模板", year=YEAR, key=key)
    yield f"申报模板 {len(issued.files)} 份（每个单位一份，单位已锁定并签名，演示密钥 {key_file.name}）：{outdir / '申报模板'}"

    declarations = outdir / "申报表"
    for unit, changes in DECLARATIONS.items():
        template = next(p for p in issued.files if read_return(p).meta.get("unit") == unit)
        project = {_role_key("target_declaration", PROJECT): PROJECTS[unit]}
        values = {**sample["target_declaration"], **_PERIOD, **_PLAN, **project, **changes}
        fill_workbook(template, _unit_inputs(template, values), declarations / f"目标申报表_{unit}.xlsx")
    index = DeclarationIndex.build([declarations], key=key)
    for checked in index.checked:
        yield return_line(checked)
        yield from (finding_line(f) for f in checked.errors)
    yield from _rollup(declarations, outdir / "申报汇总.xlsx", roster)
    yield from run_monitoring(outdir, index, roster, sample[MONITORING_FORM], year=YEAR, key=key, recalc=recalc,
                              unit_inputs=_unit_inputs, rollup_lines=lambda folder, out: _rollup(folder, out, roster))
    yield from run_self_evaluation(outdir, index, roster, sample[SELF_EVALUATION_FORM], year=YEAR, key=key,
                                   recalc=recalc, unit_inputs=_unit_inputs,
                                   rollup_lines=lambda folder, out: _rollup(folder, out, roster))

    prefilled = prefilled_templates(builtin_layout("self_evaluation"), index, outdir / "自评模板", year=YEAR,
                                    roster=roster, key=key)
    yield f"由审核通过的申报表预填自评表 {len(prefilled.files)} 份（项目、预算、指标和目标值已锁定）：{outdir / '自评模板'}"
    yield from (f"    {line.strip()}" for line in prefilled.lines if line.strip().startswith(("未使用", "未放入")))

    returns = outdir / "自评表"
    yield from _fill_self_evaluations(prefilled.files, sample["self_evaluation"], returns, recalc)
    context = CheckContext.with_key(key, declarations=index)
    for checked in in_order(check_files(sorted(returns.glob("*.xlsx")), context)):
        yield return_line(checked)
        yield from (finding_line(f) for f in checked.errors)
    yield from _rollup(returns, outdir / "自评汇总.xlsx", roster)


def _role_key(form: str, role: str) -> str:
    key = builtin_layout(form).role_key(role)
    assert key is not None, (form, role)
    return key


def _unit_inputs(template: Path, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` without the cells the template prefilled (locked: the unit cannot type there)."""
    locked = {k for k, v in read_return(template).values.items() if v not in (None, "")}
    return {k: v for k, v in values.items() if k not in locked}


def _fill_self_evaluations(templates: list[Path], sample: Mapping[str, Any], returns: Path,
                           recalc: bool) -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="xlperf-cycle-") as tmp:
        filled = []
        for template in templates:
            unit = read_return(template).meta.get("unit", "")
            values = {k: v for k, v in sample.items() if not k.startswith("ind_")}
            year = {_role_key("self_evaluation", YEAR_ROLE): YEAR}
            values.update({**_PERIOD, **year, "fill_date": f"{YEAR + 1}-02-20", **ACTUALS.get(unit, {})})
            path = fill_workbook(template, _unit_inputs(template, values), Path(tmp) / f"自评表_{unit}.xlsx")
            if unit in TAMPERED:
                _unprotect_and_set(path, *TAMPERED[unit])
            filled.append(path)
        failed = recalculate_or_copy(filled, returns, recalc)
        yield (f"各单位填报的自评表（已由 LibreOffice 重算）：{returns}" if failed is None
               else f"各单位填报的自评表（{failed}，审核时将重算）：{returns}")


def _unprotect_and_set(path: Path, key: str, value: Any) -> None:
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets:
        ws.protection.sheet = False
    (sheet, ref), = wb.defined_names[NAME_PREFIX + key].destinations
    wb[sheet][ref.replace("$", "")].value = value
    wb.save(path)


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            del os.environ[name]
        else:
            os.environ[name] = old


def _rollup(folder: Path, output: Path, roster: Roster) -> Iterator[str]:
    with _environment(KEY_ENV, DEMO_KEY):
        result = rollup(find_returns([folder]), output, roster=roster)
    yield f"汇总工作簿：{result.output}"
    yield result.paragraph
