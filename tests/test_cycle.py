"""The yearly cycle on real files (issue 6): per-unit signed templates from a roster, declarations
filled and checked, self-evaluations and evaluation reports prefilled from the accepted ones,
filled as a unit would, recalculated by LibreOffice (one call for the module), then tampered with
openpyxl the way a unit might (protection removed, then a unit, label, weight or target edited).
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from click.testing import CliRunner
from helpers import cell_of, sample
from openpyxl.workbook.workbook import Workbook

from xlperf.checks import crossform
from xlperf.checks import signature as signature_checks
from xlperf.checks.check_return import check_file
from xlperf.cli import main
from xlperf.cycle import DeclarationIndex, prefilled_templates, roster_templates
from xlperf.excel.fill import fill_workbook
from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, CheckedReturn
from xlperf.form.metasheet import NAME_PREFIX
from xlperf.form.registry import builtin_layout
from xlperf.form.signature import KEY_ID_ROW, SIGNATURE_ROW, SIGNED_ROW
from xlperf.form.signkeys import KEY_ENV, KEY_FILE_ENV, UNVERIFIED_NOTE, SigningKeyError, load_key
from xlperf.form.signkeys import main as signkeys_main
from xlperf.read import read_return
from xlperf.read.roster import read_roster

ROOT = Path(__file__).resolve().parent.parent
KEY = b"test-signing-key-0123456789abcdef"
OTHER_KEY = b"another-signing-key-9876543210fedcba"
SE, ER, TD, TT = "self_evaluation", "evaluation_report", "target_declaration", "target_table"
MINE = {c.code for c in signature_checks.CHECKS} | {c.code for c in crossform.CHECKS} | {signature_checks.SIGNATURE_NOT_REQUIRED}
UNIT, PROJECT = "东湖区科技局", "科技创新服务"
OFFICE = "市中小企业办"
ROSTER = ("单位代码,单位名称,主管部门,项目名称\n"
          f"101001,{UNIT},市科学技术局,{PROJECT}\n"
          f"101005,{OFFICE},市工业和信息化局,企业培育\n"
          f"101005,{OFFICE},市工业和信息化局,服务体系\n")

# The declaration of 东湖区科技局: the seed 000 sample with a third 数量 indicator that its
# self-evaluation group (2 rows) cannot hold.
DECLARED = {
    "unit_name": UNIT, "project_name": PROJECT, "dept_name": "市科学技术局",
    "ind_4_level1": "产出指标", "ind_4_level2": "数量指标", "ind_4_name": "技术培训", "ind_4_op": "≥",
    "ind_4_target": 6, "ind_4_unit": "场",
}


def codes(checked: CheckedReturn) -> set[tuple[str, str, str, str]]:
    return {(f.code, f.severity, f.sheet, f.cell) for f in checked.findings if f.code in MINE}


def at(code: str, severity: str, form: str, key: str) -> tuple[str, str, str, str]:
    return (code, severity, *cell_of(form, key))


def read_names(path: Path, keys: list[str]) -> dict[str, tuple[Any, bool]]:
    """(value, locked) of cells by their defined names ``xp_<key>``."""
    wb = openpyxl.load_workbook(path)
    out = {}
    for key in keys:
        (sheet, ref), = wb.defined_names[NAME_PREFIX + key].destinations
        cell = wb[sheet][ref.replace("$", "")]
        out[key] = (cell.value, bool(cell.protection.locked))
    return out


def self_evaluation_inputs(prefilled: Path) -> dict[str, Any]:
    """What the unit types into its prefilled self-evaluation: everything but what is locked."""
    locked = {k for k, v in read_return(prefilled).values.items() if v not in (None, "")}
    values = {k: v for k, v in sample(SE).items() if not k.startswith("ind_") and k not in locked}
    values.update({"start_date": "2022-01-01", "end_date": "2022-12-31", "released": 45, "spent_city": 44,
                   "ind_1_actual": 13, "ind_2_actual": 125, "ind_17_actual": 0.96})
    return values


def evaluation_inputs(prefilled: Path) -> dict[str, Any]:
    locked = {k for k, v in read_return(prefilled).values.items() if v not in (None, "")}
    values = {k: v for k, v in sample(ER).items() if k not in locked}
    values.update({"goal1_value": 12, "goal2_value": 120, "goal3_value": 0.95})
    return values


@pytest.fixture(scope="module")
def cycle(tmp_path_factory: pytest.TempPathFactory, lo_recalc: Callable[..., dict[Path, Path]]) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("cycle")
    roster_csv = root / "名单.csv"
    roster_csv.write_text(ROSTER, encoding="utf-8")
    roster = read_roster(roster_csv)
    td = roster_templates(builtin_layout(TD), roster, root / "td", key=KEY)
    tt = roster_templates(builtin_layout(TT), roster, root / "tt", key=KEY)
    decls = root / "declarations"
    declaration = fill_workbook(root / "td" / f"目标申报表_{UNIT}_{PROJECT}.xlsx",
                                {**{k: v for k, v in sample(TD).items() if k not in DECLARED}, **{
                                    k: v for k, v in DECLARED.items() if k not in ("unit_name", "project_name", "dept_name")}},
                                decls / "东湖区申报.xlsx")
    tt_values = {k: v for k, v in sample(TT).items()
                 if not k.startswith("p3_") and not k.endswith(("_unit_name", "_project_name"))}
    table = fill_workbook(root / "tt" / f"绩效目标表_{OFFICE}.xlsx", tt_values, decls / "中小企业办目标表.xlsx")
    # A rejected declaration of another project (blank required fields) is not used.
    rejected = fill_workbook(root / "td" / f"目标申报表_{UNIT}_{PROJECT}.xlsx", {"year": 2022}, decls / "草稿.xlsx")
    index = DeclarationIndex.build([decls], key=KEY)
    se = prefilled_templates(builtin_layout(SE), index, root / "se", key=KEY)
    er = prefilled_templates(builtin_layout(ER), index, root / "er", key=KEY)
    se_template = root / "se" / f"自评表_{UNIT}_{PROJECT}.xlsx"
    er_template = root / "er" / f"评价报告_{UNIT}_{PROJECT}.xlsx"
    filled = root / "filled"
    se_return = fill_workbook(se_template, self_evaluation_inputs(se_template), filled / "自评表.xlsx")
    er_return = fill_workbook(er_template, evaluation_inputs(er_template), filled / "评价报告.xlsx")
    recalculated = lo_recalc([se_return, er_return], root / "recalculated")
    return {
        "root": root, "roster": roster, "td": td, "tt": tt, "declaration": declaration, "table": table,
        "rejected": rejected, "decls": decls, "index": index, "se": se, "er": er,
        "se_template": se_template, "er_template": er_template,
        "se_return": recalculated[se_return], "er_return": recalculated[er_return],
    }


def tampered(cycle: dict[str, Any], name: str, edit: Callable[[Workbook], None], source: str = "se_return") -> Path:
    """A copy of a return with every sheet's protection removed, then edited with openpyxl."""
    wb = openpyxl.load_workbook(cycle[source])
    for ws in wb.worksheets:
        ws.protection.sheet = False
    edit(wb)
    path = cycle["root"] / "tampered" / f"{name}.xlsx"
    path.parent.mkdir(exist_ok=True)
    wb.save(path)
    return path


def set_key(wb: Workbook, key: str, value: Any) -> None:
    (sheet, ref), = wb.defined_names[NAME_PREFIX + key].destinations
    wb[sheet][ref.replace("$", "")].value = value


def set_meta(wb: Workbook, name: str, value: Any) -> None:
    for row in wb["_xlperf"].iter_rows(max_col=2):
        if row[0].value == name:
            row[1].value = value
            return
    raise KeyError(name)


# -- declarations and prefill ------------------------------------------------------------------
def test_declarations_are_checked_and_only_accepted_ones_used(cycle: dict[str, Any]) -> None:
    index: DeclarationIndex = cycle["index"]
    assert {(d.unit, d.project, d.year) for d in index.declarations} == {
        (UNIT, PROJECT, 2022), (OFFICE, "企业培育", 2020), (OFFICE, "服务体系", 2020)}
    assert [p.name for p, _ in index.skipped] == ["草稿.xlsx"]
    for path in (cycle["declaration"], cycle["table"]):
        assert check_file(path, key=KEY).status in (ACCEPTED, ACCEPTED_WITH_WARNINGS)


def test_prefilled_self_evaluation_carries_exactly_the_declared_targets_locked(cycle: dict[str, Any]) -> None:
    template = cycle["se_template"]
    expected = {
        "year": 2022, "unit_name": UNIT, "project_name": PROJECT, "dept_name": "市科学技术局", "budget_city": 45,
        "ind_1_name": "公益服务活动", "ind_1_op": "≥", "ind_1_target": 12, "ind_1_unit": "次",
        "ind_2_name": "服务企业", "ind_2_op": "≥", "ind_2_target": 120, "ind_2_unit": "家",
        "ind_17_name": "社会公众或服务对象满意度", "ind_17_op": "≥", "ind_17_target": 0.95, "ind_17_unit": "%",
    }
    layout = builtin_layout(SE)
    inputs = [f.key for f in layout.inputs()]
    found = read_names(template, inputs)
    assert {k: v for k, (v, _) in found.items() if v not in (None, "")} == expected
    assert all(found[k][1] for k in expected), "prefilled cells are locked"
    assert not any(found[k][1] for k in ("ind_1_actual", "ind_1_reason", "ind_17_actual", "spent_city", "released"))
    wb = openpyxl.load_workbook(template)
    sheet, a1 = cell_of(SE, "ind_17_target")
    assert wb[sheet][a1].number_format == "0%"
    # The third 数量 indicator has no free row: listed in the output and in a comment on 其他.
    line = next(x for x in cycle["se"].lines if "技术培训" in x)
    assert "未放入" in line and "已占满" in line
    sheet, a1 = cell_of(SE, "other_notes")
    assert "技术培训" in wb[sheet][a1].comment.text and found["other_notes"][1] is False


def test_target_table_projects_prefill_budget_in_wan_yuan_and_report_what_has_no_row(cycle: dict[str, Any]) -> None:
    template = cycle["root"] / "se" / f"自评表_{OFFICE}_企业培育.xlsx"
    found = read_names(template, ["budget_city", "project_name", "ind_1_name", "ind_1_target", "ind_1_unit",
                                  "ind_3_name", "ind_5_name", "ind_9_name", "ind_15_name"])
    assert found["budget_city"] == (79, True)  # 790,000 元
    assert found["project_name"] == ("企业培育", True)
    assert found["ind_1_name"][0] == "专精特新数量" and found["ind_1_target"][0] == 2500
    assert found["ind_3_name"][0] == "项目质量可控性" and found["ind_5_name"][0] == "实施时间"
    assert found["ind_9_name"][0] == "销售增长" and found["ind_15_name"][0] == "市区共享"  # 影响力 → 可持续影响
    unplaced = [x for x in cycle["se"].lines if "未放入" in x and "投入与管理" in x]
    assert len(unplaced) == 5  # 3 of 企业培育, 2 of 服务体系: none dropped silently
    assert (cycle["root"] / "se" / f"自评表_{OFFICE}_服务体系.xlsx").is_file()


def test_prefilled_evaluation_report_goal_rows(cycle: dict[str, Any]) -> None:
    found = read_names(cycle["er_template"], [f"goal{n}_{r}" for n in (1, 2, 3) for r in ("evidence", "target", "value")])
    assert found["goal1_evidence"] == ("公益服务活动（次）", True) and found["goal1_target"] == (12, True)
    assert found["goal2_evidence"] == ("服务企业（家）", True) and found["goal2_target"] == (120, True)
    assert found["goal3_evidence"] == ("社会公众或服务对象满意度", True) and found["goal3_target"] == (0.95, True)
    assert all(found[f"goal{n}_value"] == (None, False) for n in (1, 2, 3))
    assert any("其余 1 项指标" in x and "技术培训" in x for x in cycle["er"].lines)


# -- signatures --------------------------------------------------------------------------------
def test_untouched_returns_pass_the_signature_and_target_checks(cycle: dict[str, Any]) -> None:
    for name in ("se_return", "er_return"):
        checked = check_file(cycle[name], key=KEY, against=cycle["index"])
        assert codes(checked) == set(), checked.findings
        assert checked.status in (ACCEPTED, ACCEPTED_WITH_WARNINGS), [f.code for f in checked.errors]
        assert UNVERIFIED_NOTE not in checked.notes


def test_return_filed_on_another_units_template_fails(cycle: dict[str, Any]) -> None:
    def other_unit(wb: Workbook) -> None:
        set_key(wb, "unit_name", "西山县中小企业局")
        set_meta(wb, "unit", "西山县中小企业局")

    checked = check_file(tampered(cycle, "other_unit", other_unit), key=KEY)
    assert codes(checked) == {at("SIGNATURE_MISMATCH", "error", SE, "unit_name")}
    finding = next(f for f in checked.findings if f.code == "SIGNATURE_MISMATCH")
    assert (finding.expected, finding.found) == (UNIT, "西山县中小企业局")
    assert UNIT in finding.message and "西山县中小企业局" in finding.message


@pytest.mark.parametrize(("name", "key", "value"), [("label", None, "项目名"), ("weight", "approval_weight", 5),
                                                    ("budget", "budget_city", 50)])
def test_locked_label_weight_or_prefilled_value_edited_fails(cycle: dict[str, Any], name: str, key: str | None,
                                                             value: Any) -> None:
    layout = builtin_layout(SE)
    label = next(p for p in layout.sheets[0].cells if p.text == "项目名称")
    label_cell = (layout.sheets[0].name, openpyxl.utils.get_column_letter(label.col + 1) + str(label.row + 1))

    def edit(wb: Workbook) -> None:
        if key is None:
            wb[label_cell[0]][label_cell[1]].value = value
        else:
            set_key(wb, key, value)

    checked = check_file(tampered(cycle, name, edit), key=KEY)
    where = label_cell if key is None else cell_of(SE, key)
    assert codes(checked) == {("SIGNATURE_MISMATCH", "error", *where)}


def test_deleted_signature_and_another_key(cycle: dict[str, Any]) -> None:
    path = tampered(cycle, "unsigned", lambda wb: set_meta(wb, SIGNATURE_ROW, None))
    unsigned = check_file(path, key=KEY)
    assert codes(unsigned) == {("SIGNATURE_MISSING", "error", "自评表", "A1")}
    assert unsigned.status == REJECTED
    # blank unsigned templates handed out on purpose: a warning only
    allowed = check_file(path, key=KEY, allow_unsigned=True)
    assert codes(allowed) == {("SIGNATURE_NOT_REQUIRED", "warning", "自评表", "A1")}
    assert allowed.status == ACCEPTED_WITH_WARNINGS
    other = check_file(cycle["se_return"], key=OTHER_KEY)
    finding, = [f for f in other.findings if f.code in MINE]
    assert finding.code == "SIGNATURE_MISMATCH" and "密钥" in finding.message


def test_signature_rows_removed_and_unit_changed_is_rejected(cycle: dict[str, Any]) -> None:
    """Observed: a unit strips another unit's signed file of its signature and writes its own name."""
    def forged(wb: Workbook) -> None:
        ws = wb["_xlperf"]
        rows = [r for r in range(1, ws.max_row + 1) if ws.cell(r, 1).value in (SIGNATURE_ROW, KEY_ID_ROW, SIGNED_ROW)]
        assert len(rows) == 3
        for r in reversed(rows):
            ws.delete_rows(r)
        set_key(wb, "unit_name", "西山县中小企业局")
        set_meta(wb, "unit", "西山县中小企业局")

    checked = check_file(tampered(cycle, "forged", forged), key=KEY)
    assert codes(checked) == {("SIGNATURE_MISSING", "error", "自评表", "A1")}
    assert checked.status == REJECTED and checked.unit == "西山县中小企业局"


def test_file_renamed_after_another_roster_unit_is_a_warning_naming_both(cycle: dict[str, Any]) -> None:
    folder = cycle["root"] / "renamed"
    folder.mkdir(exist_ok=True)
    renamed = shutil.copy(cycle["se_return"], folder / f"自评表_{OFFICE}.xlsx")
    own = shutil.copy(cycle["se_return"], folder / f"自评表_{UNIT}_{PROJECT}.xlsx")
    checked = check_file(Path(renamed), key=KEY, roster=cycle["roster"])
    finding, = [f for f in checked.findings if f.code == "FILE_NAME_UNIT_MISMATCH"]
    assert (finding.severity, finding.field, finding.expected, finding.found) == ("warning", "unit_name", OFFICE, UNIT)
    assert OFFICE in finding.message and UNIT in finding.message
    assert not [f for f in check_file(Path(own), key=KEY, roster=cycle["roster"]).findings
                if f.code == "FILE_NAME_UNIT_MISMATCH"]
    assert not [f for f in check_file(Path(renamed), key=KEY).findings if f.code == "FILE_NAME_UNIT_MISMATCH"]
    roster_csv = cycle["root"] / "名单.csv"
    result = CliRunner().invoke(main, ["check", str(folder), "--roster", str(roster_csv)],
                                env={KEY_ENV: KEY.decode()})
    assert result.output.count("FILE_NAME_UNIT_MISMATCH") == 1, result.output


def test_no_key_a_clear_notice_and_no_false_error(cycle: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    path = tampered(cycle, "no_key", lambda wb: set_key(wb, "budget_city", 50))
    for checked in (check_file(path), check_file(cycle["se_return"], key=None)):
        assert codes(checked) == set()
        assert UNVERIFIED_NOTE in checked.notes
    result = CliRunner().invoke(main, ["check", str(cycle["se_return"])])
    assert result.exit_code == 0, result.output
    assert "未配置签名密钥，1 份带签名的报表未核验签名" in result.output
    assert "SIGNATURE" not in result.output


def test_key_from_environment_or_key_file(cycle: dict[str, Any], monkeypatch: pytest.MonkeyPatch,
                                          tmp_path: Path) -> None:
    path = tampered(cycle, "env_key", lambda wb: set_key(wb, "budget_city", 50))
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert {c for c, *_ in codes(check_file(path))} == {"SIGNATURE_MISMATCH"}
    monkeypatch.delenv(KEY_ENV)
    key_file = tmp_path / "bureau.key"
    key_file.write_bytes(KEY + b"\n")
    monkeypatch.setenv(KEY_FILE_ENV, str(key_file))
    assert {c for c, *_ in codes(check_file(path))} == {"SIGNATURE_MISMATCH"}
    assert load_key() == KEY
    monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "missing.key"))
    with pytest.raises(SigningKeyError):
        load_key()
    # A misconfigured key never passes silently: a note, and the command refuses to run.
    assert any("签名密钥配置有误" in n for n in check_file(path).notes)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 2 and "missing.key" in result.output
    short = tmp_path / "short.key"
    short.write_text("abc")
    with pytest.raises(SigningKeyError, match="太短"):
        load_key(short)


def test_key_file_is_written_private_and_an_exposed_one_is_warned_about(cycle: dict[str, Any], tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    key_file = tmp_path / "bureau.key"
    umask = os.umask(0o022)  # the usual umask, which leaves a redirected file readable by all
    try:
        done = subprocess.run([sys.executable, "-m", "xlperf.form.signkeys", "-o", str(key_file)], capture_output=True,
                              text=True, check=False, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        os.umask(umask)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600 and load_key(key_file)
    assert signkeys_main(["-o", str(key_file)]) == 1  # an existing key is never overwritten
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    clean = CliRunner().invoke(main, ["check", str(cycle["se_return"]), "--key-file", str(key_file)])
    assert "警告" not in clean.output
    key_file.chmod(0o644)
    for env in ({}, {KEY_FILE_ENV: str(key_file)}):
        args = ["check", str(cycle["se_return"])] + ([] if env else ["--key-file", str(key_file)])
        exposed = CliRunner().invoke(main, args, env=env)
        assert "0644" in exposed.output and "chmod 600" in exposed.output and str(key_file) in exposed.output


def test_template_without_key_carries_no_signature(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.delenv(KEY_FILE_ENV, raising=False)
    out = tmp_path / "t.xlsx"
    result = CliRunner().invoke(main, ["template", SE, "--unit", UNIT, "-o", str(out)])
    assert result.exit_code == 0 and "签名" not in result.output
    assert SIGNATURE_ROW not in read_return(out).meta
    key_file = tmp_path / "k.key"
    key_file.write_bytes(KEY)
    result = CliRunner().invoke(main, ["template", SE, "--unit", UNIT, "-o", str(out), "--key-file", str(key_file)])
    assert result.exit_code == 0 and "已签名" in result.output
    assert read_return(out).meta[SIGNATURE_ROW]
    assert codes(check_file(out, key=KEY)) == set()


# -- check --against ---------------------------------------------------------------------------
def test_edited_target_is_caught_against_the_declaration(cycle: dict[str, Any]) -> None:
    path = tampered(cycle, "target", lambda wb: set_key(wb, "ind_1_target", 10))
    checked = check_file(path, key=None, against=cycle["index"])
    assert codes(checked) == {at("TARGET_CHANGED", "error", SE, "ind_1_target")}
    finding = next(f for f in checked.findings if f.code == "TARGET_CHANGED")
    assert (finding.expected, finding.found) == ("≥12次", "≥10次")
    assert "公益服务活动" in finding.message and "≥12次" in finding.message and "≥10次" in finding.message
    # With the key, the edit of a locked cell also breaks the signature.
    signed = check_file(path, key=KEY, against=cycle["index"])
    assert at("SIGNATURE_MISMATCH", "error", SE, "ind_1_target") in codes(signed)


def test_operator_unit_and_renamed_indicator_are_caught(cycle: dict[str, Any]) -> None:
    def edit(wb: Workbook) -> None:
        set_key(wb, "ind_2_op", "≤")
        set_key(wb, "ind_17_unit", "分")
        set_key(wb, "ind_1_name", "公益活动")

    checked = check_file(tampered(cycle, "ops", edit), key=None, against=cycle["index"])
    assert codes(checked) == {at("TARGET_CHANGED", "error", SE, "ind_2_op"),
                              at("TARGET_CHANGED", "error", SE, "ind_17_unit"),
                              at("TARGET_CHANGED", "error", SE, "ind_1_name")}


def test_evaluation_report_goal_target_edited(cycle: dict[str, Any]) -> None:
    path = tampered(cycle, "goal", lambda wb: set_key(wb, "goal3_target", 0.9), source="er_return")
    checked = check_file(path, key=None, against=cycle["index"])
    assert codes(checked) == {at("TARGET_CHANGED", "error", ER, "goal3_target")}
    finding = next(f for f in checked.findings if f.code == "TARGET_CHANGED")
    assert (finding.expected, finding.found) == ("≥95%", "90%")


def test_hand_filled_self_evaluation_with_the_declared_targets_passes(cycle: dict[str, Any], tmp_path: Path) -> None:
    # A blank template filled by hand: same indicators, in other rows of their groups.
    values = {**self_evaluation_inputs(cycle["se_template"]), "year": 2022, "unit_name": UNIT, "project_name": PROJECT,
              "dept_name": "市科学技术局", "budget_city": 45,
              "ind_2_name": "公益服务活动", "ind_2_op": "≥", "ind_2_target": "12", "ind_2_unit": "次", "ind_2_actual": 13,
              "ind_1_name": "服务企业", "ind_1_op": ">=", "ind_1_target": 120, "ind_1_unit": "家", "ind_1_actual": 125,
              "ind_18_name": "社会公众或服务对象满意度", "ind_18_target": "≥95%", "ind_18_actual": 0.96}
    values = {k: v for k, v in values.items() if k not in ("ind_17_actual",)}
    path = fill_workbook(Path(__file__).resolve().parent.parent / "templates_xlsx" / f"{SE}.xlsx", values,
                         tmp_path / "手填.xlsx")
    checked = check_file(path, key=None, against=cycle["index"])
    assert codes(checked) == set(), checked.findings


def test_no_matching_declaration_is_a_warning(cycle: dict[str, Any]) -> None:
    path = tampered(cycle, "project", lambda wb: set_key(wb, "project_name", "另一个项目"))
    checked = check_file(path, key=None, against=cycle["index"])
    assert codes(checked) == {at("DECLARATION_NOT_FOUND", "warning", SE, "project_name")}
    assert PROJECT in next(f.message for f in checked.findings if f.code == "DECLARATION_NOT_FOUND")


def test_check_cli_against_and_key_file(cycle: dict[str, Any], tmp_path: Path) -> None:
    key_file = tmp_path / "k.key"
    key_file.write_bytes(KEY)
    path = tampered(cycle, "cli_target", lambda wb: set_key(wb, "ind_1_target", 10))
    result = CliRunner().invoke(main, ["check", str(path), "--against", str(cycle["decls"]), "--key-file", str(key_file)])
    assert result.exit_code == 1
    assert "TARGET_CHANGED" in result.output and "SIGNATURE_MISMATCH" in result.output
    assert "已对照" in result.output and "未核验" not in result.output
    clean = CliRunner().invoke(main, ["check", str(cycle["se_return"]), "--against", str(cycle["decls"]),
                                      "--key-file", str(key_file)])
    assert clean.exit_code == 0, clean.output


# -- templates per roster unit -----------------------------------------------------------------
def test_roster_templates_one_per_unit_and_project(cycle: dict[str, Any], tmp_path: Path) -> None:
    assert sorted(p.name for p in cycle["td"].files) == sorted([
        f"目标申报表_{UNIT}_{PROJECT}.xlsx", f"目标申报表_{OFFICE}_企业培育.xlsx", f"目标申报表_{OFFICE}_服务体系.xlsx"])
    assert [p.name for p in cycle["tt"].files] == [f"绩效目标表_{UNIT}.xlsx", f"绩效目标表_{OFFICE}.xlsx"]
    assert len(cycle["td"].lines) == 3 and all(x.startswith("已生成") for x in cycle["td"].lines)
    found = read_names(cycle["root"] / "tt" / f"绩效目标表_{OFFICE}.xlsx",
                       ["p1_unit_name", "p1_project_name", "p2_project_name", "p3_project_name", "p3_unit_name"])
    assert found == {"p1_unit_name": (OFFICE, True), "p1_project_name": ("企业培育", True),
                     "p2_project_name": ("服务体系", True), "p3_project_name": (None, False), "p3_unit_name": (OFFICE, True)}
    # self_evaluation has a code field: the roster's code goes there, with the 主管部门.
    roster_csv = cycle["root"] / "名单.csv"
    result = CliRunner().invoke(main, ["template", SE, "--roster", str(roster_csv), "-o", str(tmp_path), "--year", "2024"])
    assert result.exit_code == 0, result.output
    assert f"已生成 自评表_{UNIT}_{PROJECT}.xlsx" in result.output and "共生成 3 份模板" in result.output
    found = read_names(tmp_path / f"自评表_{UNIT}_{PROJECT}.xlsx", ["unit_name", "dept_code", "dept_name", "project_name", "year"])
    assert found == {"unit_name": (UNIT, True), "dept_code": ("101001", True), "dept_name": ("市科学技术局", True),
                     "project_name": (PROJECT, True), "year": (2024, True)}


def test_more_projects_than_sheets_start_another_file(tmp_path: Path) -> None:
    roster_csv = tmp_path / "r.csv"
    roster_csv.write_text("code,name,dept,project\n" + "".join(f"1,{UNIT},市科学技术局,项目{i}\n" for i in range(1, 5)),
                          encoding="utf-8")
    issued = roster_templates(builtin_layout(TT), read_roster(roster_csv), tmp_path / "out")
    assert [p.name for p in issued.files] == [f"绩效目标表_{UNIT}_1.xlsx", f"绩效目标表_{UNIT}_2.xlsx"]
    assert read_names(issued.files[1], ["p1_project_name"])["p1_project_name"] == ("项目4", True)


def test_from_returns_cli(cycle: dict[str, Any], tmp_path: Path) -> None:
    key_file = tmp_path / "k.key"
    key_file.write_bytes(KEY)
    result = CliRunner().invoke(main, ["template", SE, "--from-returns", str(cycle["decls"]), "-o", str(tmp_path / "se"),
                                       "--key-file", str(key_file), "--year", "2022"])
    assert result.exit_code == 0, result.output
    assert f"已生成 自评表_{UNIT}_{PROJECT}.xlsx" in result.output and "共生成 1 份模板" in result.output
    assert "未使用 草稿.xlsx" in result.output and "技术培训" in result.output
    bad = CliRunner().invoke(main, ["template", TD, "--from-returns", str(cycle["decls"]), "-o", str(tmp_path / "x")])
    assert bad.exit_code == 2


def test_edited_signature_rows_and_odd_values_never_raise(cycle: dict[str, Any]) -> None:
    broken = check_file(tampered(cycle, "meta", lambda wb: set_meta(wb, "signed", '{"values": {"1": 2}}')), key=KEY)
    finding, = [f for f in broken.findings if f.code in MINE]
    assert finding.code == "SIGNATURE_MISMATCH" and "签名信息被改动" in finding.message

    def odd(wb: Workbook) -> None:
        set_key(wb, "goal1_target", "十二")
        set_key(wb, "goal2_evidence", None)
        set_key(wb, "year", "二〇二二")

    checked = check_file(tampered(cycle, "odd", odd, source="er_return"), key=KEY, against=cycle["index"])
    assert "CHECK_FAILED" not in {f.code for f in checked.findings}
    # The year typed as text: the template's year (meta) still finds the declaration.
    # A target typed as text is WRONG_TYPE and feeds no other check (no TARGET_CHANGED from it).
    assert {f for f in codes(checked) if f[0] == "TARGET_CHANGED"} == {at("TARGET_CHANGED", "error", ER, "goal2_evidence")}
    assert ("WRONG_TYPE", "goal1_target") in {(f.code, f.field) for f in checked.findings}
    assert "SIGNATURE_MISMATCH" in {c for c, *_ in codes(checked)}


def test_other_forms_in_the_declarations_folder_are_counted_once(cycle: dict[str, Any], tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(cycle["decls"], folder)
    shutil.copy(cycle["se_return"], folder / "自评表.xlsx")
    shutil.copy(cycle["er_return"], folder / "评价报告.xlsx")
    index = DeclarationIndex.build([folder], key=KEY.decode())
    assert len(index.declarations) == 3
    issued = prefilled_templates(builtin_layout(SE), index, tmp_path / "out", year=2022, key=KEY)
    assert [p.name for p in issued.files] == [f"自评表_{UNIT}_{PROJECT}.xlsx"]
    assert "另有 2 份其他表单的文件（不是绩效目标申报表），未使用" in issued.lines


@pytest.mark.parametrize("fmt", ["xls", "ods"])
def test_signed_returns_saved_as_xls_or_ods_are_still_verified(cycle: dict[str, Any], fmt: str,
                                                                lo_recalc: Callable[..., dict[Path, Path]]) -> None:
    def other_unit(wb: Workbook) -> None:
        set_key(wb, "unit_name", "西山县中小企业局")
        set_meta(wb, "unit", "西山县中小企业局")

    untouched, edited = cycle["se_return"], tampered(cycle, f"other_unit_{fmt}", other_unit)
    saved = lo_recalc([untouched, edited], cycle["root"] / f"saved_as_{fmt}", fmt=fmt)
    clean = check_file(saved[untouched], key=KEY)
    assert {f.code for f in clean.findings} == {"FORMULAS_UNVERIFIED"}, clean.findings
    assert clean.status == ACCEPTED_WITH_WARNINGS
    wrong = check_file(saved[edited], key=KEY)
    mismatch = [f for f in wrong.findings if f.code == "SIGNATURE_MISMATCH"]
    assert [(f.expected, f.found) for f in mismatch] == [(UNIT, "西山县中小企业局")]
