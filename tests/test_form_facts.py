"""Every fact about a form is in its spec (issue 22): no form id in the code, and a copy of a
built-in spec under another id behaves exactly as the original.

The copies are loaded by the registry itself (a bureau's forms folder, ``XLPERF_FORMS``, holding
the four renamed copies) in a fresh process, so that no cache of the test process sees them. Each copy is written as a template, filled with the demo's seed values,
checked, rolled up, and (for the later forms) prefilled from and checked against the renamed
declarations: every result must equal the original's.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from xlperf.form.registry import builtin_forms
from xlperf.form.specload import FORMS_DIR, load_spec
from xlperf.form.yamlsrc import SpecError

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "xlperf"
ALLOWED = ("form/specs/", "cli/demo.py", "cli/cycle_demo.py", "cli/monitoring_demo.py", "cli/selfeval_demo.py", "cli/chain_demo.py",
           "samples/")
"""Where a built-in form id may appear: the specs themselves and the demo."""


def test_no_builtin_form_id_in_the_code() -> None:
    ids = sorted(builtin_forms())
    assert ids == ["evaluation_report", "performance_monitoring", "project_self_evaluation", "rectification",
                   "self_evaluation",
                   "target_declaration",
                   "target_table"]
    pattern = re.compile(r"\b(" + "|".join(ids) + r")\b")
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        rel = path.relative_to(PACKAGE).as_posix()
        if not path.is_file() or "__pycache__" in rel or rel.startswith(ALLOWED):
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary data (templates, images)
        for n, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                found.append(f"xlperf/{rel}:{n}: {line.strip()}")
    assert found == []


def _copy(spec_text: str, form_id: str) -> str:
    """A spec's text under ``my_<id>`` with another title (what a bureau's copy changes)."""
    text = re.sub(rf"^form: {form_id}$", f"form: my_{form_id}", spec_text, count=1, flags=re.M)
    return re.sub(r"^title: (.*)$", r"title: \1（本地版）", text, count=1, flags=re.M)


SCRIPT = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from xlperf.checks.check_return import check_file
    from xlperf.cli.demo import sample_values
    from xlperf.cycle import DeclarationIndex, file_stem, place
    from xlperf.excel.fill import fill_workbook
    from xlperf.excel.template import write_template
    from xlperf.form.registry import builtin_layout
    from xlperf.model.return_summary import summarised

    out = Path(sys.argv[2])
    result = {}
    for prefix in ("", "my_"):
        forms = {}
        decl_dir = out / (prefix + "declarations")
        for form in ("target_declaration", "target_table", "self_evaluation", "evaluation_report"):
            layout = builtin_layout(prefix + form)
            template = write_template(layout, out / prefix / f"{form}.xlsx")
            values = sample_values(form)
            if form == "self_evaluation":
                values["fund_usage"] = "已支出"  # 执行率 11.7%: too short an explanation
            where = decl_dir if layout.spec.declares_targets else out / prefix / "later"
            checked = check_file(fill_workbook(template, values, where / f"{form}.xlsx"), key=None)
            record = summarised(checked)
            forms[form] = {
                "stem": file_stem(layout), "declares": layout.spec.declares_targets,
                "status": checked.status, "total": str(checked.total_score), "grade": checked.grade,
                "findings": sorted([f.code, f.severity, f.sheet, f.cell, f.message] for f in checked.findings),
                "projects": [list(p) for p in record.projects],
                "indicators": [[str(x) for x in i] for i in record.indicators],
            }
        index = DeclarationIndex.build([decl_dir], key=None)
        forms["declarations"] = sorted([d.unit, d.project, d.prefix, str(d.budget), len(d.indicators)]
                                       for d in index.declarations)
        for form in ("self_evaluation", "evaluation_report"):
            layout = builtin_layout(prefix + form)
            placed = [place(layout, d) for d in index.declarations]
            forms[form]["placed"] = [sorted((k, str(v)) for k, v in p.values.items()) for p in placed]
            forms[form]["unplaced"] = [[r for _, r in p.unplaced] for p in placed]
            checked = check_file(out / prefix / "later" / f"{form}.xlsx", key=None, against=index)
            forms[form]["against"] = sorted([f.code, f.sheet, f.cell, f.message] for f in checked.findings)
        result[prefix or "original"] = forms
    print(json.dumps(result, ensure_ascii=False))
''')


def test_renamed_copies_behave_as_the_originals(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    forms.mkdir()
    for spec in builtin_forms().values():
        text = spec.source.read_text(encoding="utf-8")
        (forms / f"my_{spec.source.name}").write_text(_copy(text, spec.form_id), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLPERF_FORMS": str(forms)}
    run = subprocess.run([sys.executable, "-c", SCRIPT, str(forms), str(tmp_path / "out")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=280, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    original, copy = result["original"], result["my_"]
    # the facts the code used to look up by id hold for the copies
    assert {f: original[f]["stem"] for f in ("target_declaration", "target_table", "self_evaluation",
                                              "evaluation_report")} == {
        "target_declaration": "目标申报表", "target_table": "绩效目标表", "self_evaluation": "自评表",
        "evaluation_report": "评价报告"}
    assert [f for f in original if f != "declarations" and original[f]["declares"]] == [
        "target_declaration", "target_table"]
    se = original["self_evaluation"]
    assert se["projects"][0][5:8] == [40.0, 5.55, 4.68]  # budget, released, spent (万元)
    assert se["projects"][0][8:] == [0.117, None, 4.68, 40.0]  # rate, adjusted budget, its parts
    assert "LOW_EXECUTION_NO_REASON" in {f[0] for f in se["findings"]}
    assert "LOW_EXECUTION_HIGH_SCORES" in {f[0] for f in se["findings"]}
    assert len(original["declarations"]) == 3  # seed 000's project, seed 003's two
    assert any(p for p in se["placed"]) and any(p for p in original["evaluation_report"]["placed"])
    # and every result of a copy is the original's
    for form in original:
        for what in original[form] if isinstance(original[form], dict) else [None]:
            mine = copy[form][what] if what else copy[form]
            theirs = original[form][what] if what else original[form]
            assert mine == theirs, (form, what)


def _spec_with(tmp_path: Path, form_id: str, old: str, new: str) -> Path:
    source = FORMS_DIR / f"{form_id}.yaml"
    text = source.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / f"{form_id}.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


@pytest.mark.parametrize(("form_id", "old", "new", "line", "key", "says"), [
    ("self_evaluation", "amounts: {budget: budget_total,", "amounts: {budgett: budget_total,", 7, "budgett",
     "不认识的键"),
    ("self_evaluation", "amounts: {budget: budget_total,", "amounts: {budget: budget_totl,", 7, "budget",
     "不存在的键 'budget_totl'"),
    ("self_evaluation", "execution_rate: {calc: exec_rate,", "execution_rate: {calc: budget_total,", 8, "calc",
     "completion"),
    ("self_evaluation", "amounts: {budget: budget_total, released: released, spent: spent_total}",
     "amounts: {budget: budget_total, released: released}", 8, "calc", "不在 amounts 中"),
    ("self_evaluation", "execution_rate: {calc: exec_rate, explanation: fund_usage}",
     "execution_rate: {calc: exec_rate, explanation: fund_use}", 8, "explanation", "不存在的键 'fund_use'"),
    ("self_evaluation", "  table: ind\n", "  table: contact\n", 10, "table", "应为本表中的指标表"),
    ("evaluation_report", "goals: [goal1, goal2, goal3]", "goals: [goal1, budget_completion]", 9, "goals",
     "budget_completion"),
    ("target_table", "declares_targets: true", "declares_targets: 是", 7, "declares_targets", "true/false"),
    ("target_table", "amounts: {budget: year_budget}", "amounts: {budget: p1_year_budgett}", 8, "budget",
     "不存在的键"),
    ("rectification", "due: due, done: done", "due: result, done: done", 11, "due", "type: date 的输入列"),
    ("rectification", "closed: 已完成", "closed: 完成了", 11, "closed", "已完成/未完成"),
])
def test_a_wrong_form_fact_is_reported_with_line_and_key(tmp_path: Path, form_id: str, old: str, new: str,
                                                         line: int, key: str, says: str) -> None:
    path = _spec_with(tmp_path, form_id, old, new)
    with pytest.raises(SpecError) as caught:
        load_spec(path)
    assert (caught.value.where.file if caught.value.where else None, caught.value.key) == (path.name, key)
    assert caught.value.where is not None and caught.value.where.line == line
    assert says in caught.value.message


def test_a_repeated_sheets_amount_is_read_per_project_sheet() -> None:
    spec = builtin_forms()["target_table"]
    assert spec.amount_key("budget", "p2_") == "p2_year_budget"
    assert spec.amount_key("spent", "p2_") is None


ADJUSTED = textwrap.dedent('''
    import json, sys
    from pathlib import Path
    from xlperf.checks.check_return import check_file
    from xlperf.cli.demo import sample_values
    from xlperf.excel.fill import fill_workbook
    from xlperf.excel.template import write_template
    from xlperf.form.registry import builtin_layout
    from xlperf.model.return_summary import summarised
    from xlperf.rollup.tables import build_tables

    out = Path(sys.argv[2])
    template = write_template(builtin_layout("adjusted_self_evaluation"), out / "template.xlsx")
    records = []
    for n, (other, spent) in enumerate(((20.0, 4.68), (30.0, 15.0))):
        values = {**sample_values("self_evaluation"), "budget_other": other, "spent_city": spent, "released": 30.0,
                  "project_name": f"项目{n}"}
        records.append(summarised(check_file(fill_workbook(template, values, out / f"{n}.xlsx"), key=None)))
    tables = build_tables(records)
    print(json.dumps({"projects": [list(p) for r in records for p in r.projects],
                      "columns": list(tables.projects.columns),
                      "adjusted": tables.projects["调整后预算（万元）"].tolist(),
                      "rates": tables.stats.exec_rates.values.tolist()}, ensure_ascii=False))
''')


def test_the_execution_rate_measured_on_the_adjusted_budget(tmp_path: Path) -> None:
    # A bureau whose form measures the rate on the adjusted budget says so in the spec only: the
    # adjusted budget among the amounts, the rate calc's target on it (预算资金（其他） stands in
    # for the adjusted budget field such a form adds).
    forms = tmp_path / "forms"
    forms.mkdir()
    text = _copy((FORMS_DIR / "self_evaluation.yaml").read_text(encoding="utf-8"), "self_evaluation")
    for old, new in (("form: my_self_evaluation", "form: adjusted_self_evaluation"),
                     ("amounts: {budget: budget_total,", "amounts: {budget: budget_total, adjusted_budget: budget_other,"),
                     ("{calc: exec_rate, kind: completion, actual: spent_total, target: budget_total,",
                      "{calc: exec_rate, kind: completion, actual: spent_total, target: budget_other,")):
        assert text.count(old) == 1
        text = text.replace(old, new)
    (forms / "adjusted_self_evaluation.yaml").write_text(text, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLPERF_FORMS": str(forms)}
    run = subprocess.run([sys.executable, "-c", ADJUSTED, str(forms), str(tmp_path)], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=280, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    # budget, released, spent, rate, adjusted budget, the rate's numerator and denominator (万元)
    assert [p[5:] for p in result["projects"]] == [[60.0, 30.0, 4.68, 0.234, 20.0, 4.68, 20.0],
                                                   [70.0, 30.0, 15.0, 0.5, 30.0, 15.0, 30.0]]
    columns = result["columns"]
    assert columns[columns.index("预算（万元）") + 1] == "调整后预算（万元）"
    assert sorted(result["adjusted"]) == [20.0, 30.0]
    # 按主管部门: spent over the adjusted budget, added up (19.68 / 50), not over 预算 (130)
    assert result["rates"] == [["晋中市中小企业局", 2, 50.0, 19.68, 0.3936]]


def test_a_project_stored_before_the_rate_amounts_keeps_its_execution_rate() -> None:
    # A ledger's results written before ProjectRow held the rate's amounts (nine fields, kept so
    # by migration 0005_checked_return): the rate then was always spent over budget (the one form
    # with a rate), so the statistics still add them up.
    from xlperf.findings import CheckedReturn
    from xlperf.model.summary_rows import projects_of

    stored = CheckedReturn(file=Path("a.xlsx"), projects=(
        ("", "甲单位", "市财政局", "项目", 2024, 40.0, 5.55, 4.68, 0.117),
        ("", "乙单位", "市财政局", "项目", 2024, 10.0, None, None, None))).to_json()
    record = CheckedReturn.from_json(stored, file=Path("a.xlsx"))
    assert [p[8:] for p in projects_of(record)] == [(0.117, None, 4.68, 40.0), (None, None, None, None)]
