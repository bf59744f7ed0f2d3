"""Issue 22's done-when test: a copy of each built-in spec under a new id and title, in the
bureau's forms folder, goes through template, fill, LibreOffice recalculation, check, roll-up,
round intake, cycle prefill and ``check --against`` with exactly the results of the original
(over every built-in form of issue 22, issue 23's project_self_evaluation and performance_monitoring, and
issue 24's 整改 form rectification). Nothing about a form may hang on its id.

In two tests: template, fill, recalculation, check and round intake; then the roll-up, the
cycle's prefill and ``--against``, which hold since the form facts moved from code keyed by id
into the specs (``amounts``, ``declares_targets``, ``prefill_from``: issue 22)."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from ledger_support import values_of, write_roster

from xlperf.checks.check_return import check_file
from xlperf.cli import main
from xlperf.cycle.declared import DeclarationIndex
from xlperf.cycle.issue import prefilled_templates
from xlperf.excel.fill import fill_workbook
from xlperf.excel.template import TemplateOptions, write_template
from xlperf.findings import CheckedReturn
from xlperf.form.registry import builtin_forms, builtin_layout, use_folders
from xlperf.form.specload import FORMS_DIR
from xlperf.read import read_return
from xlperf.rollup import collect_records

FORMS = ("target_declaration", "target_table", "self_evaluation", "evaluation_report", "project_self_evaluation",
         "performance_monitoring", "rectification")
UNIT = "东城区科技局"


def copy_of(form_id: str) -> str:
    return f"bureau_{form_id}"


@pytest.fixture(scope="module")
def bureau(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("本局表单")
    for form_id in FORMS:
        text = (FORMS_DIR / f"{form_id}.yaml").read_text(encoding="utf-8")
        title = builtin_forms()[form_id].title
        copied = text.replace(f"form: {form_id}", f"form: {copy_of(form_id)}", 1).replace(
            f"title: {title}", f"title: 本局{title}", 1)
        assert copied.count(copy_of(form_id)) == 1 and f"本局{title}" in copied
        (folder / f"{form_id}.yaml").write_text(copied, encoding="utf-8")
    use_folders((folder,))  # in this process and, handed over, in every worker
    assert set(builtin_forms()) == {*FORMS, *map(copy_of, FORMS)}
    yield folder
    use_folders(())


def same(form_id: str, checked: CheckedReturn) -> dict[str, Any]:
    """What a check found, without the form's id and title (which differ by construction)."""
    assert checked.form == form_id, (checked.form, [f.code for f in checked.findings])
    return {"status": checked.status, "unit": checked.unit, "year": checked.year, "scores": checked.scores,
            "values": {k: str(v) for k, v in checked.values.items()},
            "findings": sorted((f.code, f.severity, f.sheet or "", f.cell or "", f.field or "") for f in checked.findings)}


def record_facts(record: Any) -> dict[str, Any]:
    facts = dataclasses.asdict(record)
    for name in ("file", "form", "form_title", "size", "mtime_ns"):
        facts.pop(name, None)
    return json.loads(json.dumps(facts, default=str, ensure_ascii=False))


class Differences(list[str]):
    def compare(self, stage: str, original: Any, copy: Any) -> None:
        if original != copy:
            self.append(f"{stage}:\n  original {original}\n  copy     {copy}")


@pytest.fixture(scope="module")
def returns(bureau: Path, tmp_path_factory: pytest.TempPathFactory,
            lo_recalc: Callable[..., dict[Path, Path]]) -> dict[str, Path]:
    """Each form and its copy: a template filled with the sample's values as a unit types them,
    recalculated by LibreOffice (one run for all of them)."""
    filled = tmp_path_factory.mktemp("filled")
    for form_id in FORMS:
        for fid in (form_id, copy_of(form_id)):
            write_template(builtin_layout(fid), filled / f"{fid}.xlsx",
                           TemplateOptions(values=values_of(UNIT, form_id), lock_prefilled=False))
    recalculated = lo_recalc(sorted(filled.glob("*.xlsx")), tmp_path_factory.mktemp("recalculated"))
    return {path.stem: out for path, out in recalculated.items()}


def test_a_copy_is_checked_and_taken_in_by_a_round_exactly_as_the_original(
        bureau: Path, returns: dict[str, Path], tmp_path: Path) -> None:
    differences = Differences()
    compare = differences.compare
    checked = {fid: check_file(path) for fid, path in returns.items()}
    for form_id in FORMS:
        compare(f"check {form_id}", same(form_id, checked[form_id]), same(copy_of(form_id), checked[copy_of(form_id)]))
    assert {c.status for c in checked.values()} == {"accepted", "accepted_with_warnings"}
    roster = write_roster(tmp_path / "roster")
    db = ["--db", str(tmp_path / "ledger.db"), "--store", str(tmp_path / "store")]
    runner = CliRunner()
    for form_id in FORMS:
        rows = []
        for fid in (form_id, copy_of(form_id)):
            name = f"任务_{fid}"
            year = str(checked[fid].year)
            for argv in (["new", name, "--form", fid, "--year", year, "--roster", str(roster)],
                         ["intake", name, str(returns[fid])]):
                result = runner.invoke(main, ["--forms", str(bureau), "round", *db, *argv])
                assert result.exit_code in (0, 1), result.output
            status = json.loads(runner.invoke(main, ["--forms", str(bureau), "round", *db, "status", name, "--json"]).output)
            rows.append([{k: v for k, v in row.items() if k not in ("submission", "form", "received_at")} for row in status["rows"]])
        compare(f"round intake {form_id}", *rows)
    assert differences == [], "\n".join(differences)


def test_a_copy_is_rolled_up_prefilled_and_checked_against_exactly_as_the_original(
        returns: dict[str, Path], tmp_path: Path) -> None:
    differences = Differences()
    compare = differences.compare
    records = dict(zip(returns, collect_records(list(returns.values()), jobs=1), strict=True))
    for form_id in FORMS:
        compare(f"rollup {form_id}", record_facts(records[form_id]), record_facts(records[copy_of(form_id)]))
    # cycle prefill from the declaration, and the prefilled forms checked --against it
    indexes = {fid: DeclarationIndex.build([returns[fid]]) for fid in ("target_declaration", copy_of("target_declaration"))}
    for later in ("self_evaluation", "evaluation_report", "performance_monitoring", "project_self_evaluation"):
        prefilled: list[dict[str, Any]] = []
        against: list[dict[str, Any]] = []
        for fid, decl in ((later, "target_declaration"), (copy_of(later), copy_of("target_declaration"))):
            issued = prefilled_templates(builtin_layout(fid), indexes[decl], tmp_path / "prefilled" / fid)
            values = [read_return(p).values for p in issued.files]
            prefilled.append({"files": len(issued.files), "values": [{k: str(v) for k, v in v.items()} for v in values]})
            for template in issued.files:
                locked = {k for k, v in read_return(template).values.items() if v not in (None, "")}
                inputs = {k: v for k, v in values_of(UNIT, later).items() if k not in locked}
                done = fill_workbook(template, inputs, tmp_path / "against" / fid / template.name)
                against.append(same(fid, check_file(done, against=indexes[decl])))
        compare(f"cycle prefill {later}", *prefilled)
        compare(f"check --against {later}", against[: len(against) // 2], against[len(against) // 2:])
    assert differences == [], "\n".join(differences)
