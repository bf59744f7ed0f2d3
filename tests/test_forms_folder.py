"""A bureau's forms folder (``XLPERF_FORMS``, ``xlperf --forms DIR``): its specs join the built-in
ones for every command, one with a built-in id replaces that form, one that does not load is
reported with file, line and key while the others work, and worker processes -- also those of a
fork server started before the folder was given -- check with the same forms as their parent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from ledger_support import CLEAN, FORM, values_of

from xlperf.checks.check_files import STORED, CheckContext, CheckWork
from xlperf.cli import main
from xlperf.excel.template import TemplateOptions, write_template
from xlperf.form.placing import layout_form
from xlperf.form.registry import use_folders
from xlperf.form.specload import FORMS_DIR, load_spec
from xlperf.workers.limits import Limits
from xlperf.workers.pool import WorkerPool
from xlperf.workers.run import in_order, run_limited

NEW_ID = "bureau_self_evaluation"
NEW_TITLE = "本局项目支出绩效自评表"
BROKEN = """form: broken_form
version: "1"
title: 写错的表
sheets:
  - name: 表
    columns: [10]
    sectons: []
"""


@pytest.fixture
def forms(tmp_path: Path) -> Iterator[Path]:
    """A folder with a copy of FORM under a new id and title, another edition of target_table
    under its own id, and a spec with a misspelt key (line 7)."""
    folder = tmp_path / "本局表单"
    folder.mkdir()
    text = (FORMS_DIR / f"{FORM}.yaml").read_text(encoding="utf-8")
    (folder / "自评表.yaml").write_text(text.replace(f"form: {FORM}", f"form: {NEW_ID}", 1)
                                        .replace("title: 财政支出项目绩效自评表", f"title: {NEW_TITLE}", 1), encoding="utf-8")
    table = (FORMS_DIR / "target_table.yaml").read_text(encoding="utf-8")
    (folder / "目标表.yaml").write_text(table.replace('version: "1.0"', 'version: "2026"', 1), encoding="utf-8")
    (folder / "坏.yaml").write_text(BROKEN, encoding="utf-8")
    yield folder
    use_folders(())  # what --forms set in this process


def bureau_return(folder: Path, path: Path, unit: str = "东城区科技局") -> Path:
    """A return of the bureau's form, filled as a unit fills its template (the sample's values)."""
    layout = layout_form(load_spec(folder / "自评表.yaml"))
    write_template(layout, path, TemplateOptions(values=values_of(unit, FORM, **CLEAN), lock_prefilled=False))
    return path


def test_forms_lists_sources_replacements_and_specs_that_did_not_load(forms: Path) -> None:
    result = CliRunner().invoke(main, ["--forms", str(forms), "forms"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "evaluation_report       1.0    项目支出绩效评价报告  [内置]",
        "performance_monitoring  1.0    项目支出绩效监控表  [内置]",
        "project_self_evaluation 1.0    部门预算项目支出绩效自评表  [内置]",
        "rectification           1.0    绩效问题整改情况表  [内置]",
        "self_evaluation         1.0    财政支出项目绩效自评表  [内置]",
        "target_declaration      1.0    项目支出绩效目标申报表  [内置]",
        f"target_table            2026   财政项目支出绩效目标表  [{forms / '目标表.yaml'}]",
        "                        替换了内置表单 “财政项目支出绩效目标表”（版本 1.0）",
        f"{NEW_ID:<23} 1.0    {NEW_TITLE}  [{forms / '自评表.yaml'}]",
        "未载入（规格有误）：",
        f"  {forms / '坏.yaml'}:7: sectons: sheet 不认识的键 (unknown key); 可用: name, columns, sections, landscape, "
        "repeat, repeat_rows, pages",
    ]
    plain = CliRunner().invoke(main, ["forms"])  # without the folder: the built-in forms
    assert [line.split()[0] for line in plain.output.splitlines()] == [
        "evaluation_report", "performance_monitoring", "project_self_evaluation", "rectification", "self_evaluation",
        "target_declaration", "target_table"]


def test_template_check_and_rollup_know_the_bureaus_form(forms: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    blank = tmp_path / "blank.xlsx"
    made = runner.invoke(main, ["template", NEW_ID, "-o", str(blank)], env={"XLPERF_FORMS": str(forms)})
    assert made.exit_code == 0, made.output
    assert openpyxl.load_workbook(blank)["_xlperf"]["B1"].value == NEW_ID
    filled = bureau_return(forms, tmp_path / "in" / "东城.xlsx")
    checked = runner.invoke(main, ["--forms", str(forms), "check", str(filled), "--json"])
    assert checked.exit_code == 0, checked.output
    [doc] = json.loads(checked.stdout)["returns"]
    assert (doc["form"], doc["unit"]) == (NEW_ID, "东城区科技局")
    assert "UNKNOWN_FORM" not in {f["code"] for f in doc["findings"]}
    # The broken spec is said on standard error, with file, line and key; the command still ran.
    assert f"表单规格有误，未载入：{forms / '坏.yaml'}:7: sectons:" in checked.stderr
    unknown = runner.invoke(main, ["check", str(filled), "--json"])  # without the folder
    assert {f["code"] for f in json.loads(unknown.stdout)["returns"][0]["findings"]} == {"UNKNOWN_FORM"}
    summary = tmp_path / "汇总.xlsx"
    rolled = runner.invoke(main, ["rollup", str(tmp_path / "in"), "-o", str(summary)], env={"XLPERF_FORMS": str(forms)})
    assert rolled.exit_code == 0, rolled.output
    rows = list(openpyxl.load_workbook(summary, read_only=True)["清单"].iter_rows(min_row=2, values_only=True))
    assert [r[1] for r in rows if r[1]] == ["东城.xlsx"]
    assert "UNKNOWN_FORM" not in json.dumps(rows, ensure_ascii=False, default=str)


def test_a_fork_servers_workers_check_with_the_parents_forms(forms: Path, tmp_path: Path) -> None:
    """The desk's workers come from multiprocessing's fork server, a process started once that
    never sees a folder given later (``--forms``, or XLPERF_FORMS set after it started)."""
    filled = bureau_return(forms, tmp_path / "东城.xlsx")
    pool = WorkerPool(size=1)
    try:
        assert pool.context.get_start_method() == "forkserver"
        limits = Limits.from_env()
        work = CheckWork(CheckContext(), STORED)
        pool.prestart(work, limits, 1)  # the fork server runs now, before the folder is given
        use_folders((forms,))
        [record] = list(in_order(run_limited([filled], work, lambda p, why, detail: why, limits, pool=pool)))
    finally:
        pool.close()
    assert (record.form, record.unit) == (NEW_ID, "东城区科技局")
    assert "UNKNOWN_FORM" not in {f.code for f in record.findings}


def test_dask_workers_on_other_machines_check_with_the_senders_forms(forms: Path, tmp_path: Path,
                                                                    dask_cluster: Any) -> None:
    """``dask worker`` processes started before (and without) the folder: the spec texts travel
    with each batch, so a worker on another machine needs no copy of the folder."""
    from xlperf.rollup.distributed import collect_on_cluster

    filled = bureau_return(forms, tmp_path / "东城.xlsx")
    use_folders((forms,))
    [record] = collect_on_cluster([filled], dask_cluster.address)
    assert (record.form, record.unit, record.status) == (NEW_ID, "东城区科技局", "accepted_with_warnings")
