"""README's first command: the demo writes templates, fictional returns and their reports."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
from click.testing import CliRunner
from test_rollup import rows

from xlperf.checks.check_return import check_file
from xlperf.cli import main
from xlperf.cli.chain_demo import SPOT_CHECK_NOTE
from xlperf.cli.demo import DEMO_RETURNS, SAMPLES_DIR
from xlperf.cycle import DeclarationIndex
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.signkeys import load_key
from xlperf.read.roster import read_roster


def test_demo_writes_templates_returns_and_reports(tmp_path: Path, lo_recalc: object) -> None:
    result = CliRunner().invoke(main, ["demo", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for form_id in builtin_forms():
        assert (tmp_path / "templates" / f"{form_id}.xlsx").is_file()
    assert "LibreOffice" in result.output
    for demo in DEMO_RETURNS:
        assert (tmp_path / "returns" / demo.file).is_file()
        stem = Path(demo.file).stem
        assert (tmp_path / "reports" / f"{stem}.html").is_file()
        assert json.loads((tmp_path / "reports" / f"{stem}.json").read_text(encoding="utf-8"))["form"] == demo.form
    # A clean return was saved with computed results, as a unit's Excel would.
    layout = builtin_layout("evaluation_report")
    wb = openpyxl.load_workbook(tmp_path / "returns" / "评价报告_湘潭县科工局.xlsx", data_only=True)
    sheet, row, col = layout.address("total_score")
    assert wb[sheet].cell(row + 1, col + 1).value == 100
    # The seed 004 mistake (差 typed over 96.35) is caught and printed.
    xishan = json.loads((tmp_path / "reports" / "自评表_西山县中小企业局.json").read_text(encoding="utf-8"))
    assert "GRADE_MISMATCH" in {f["code"] for f in xishan["findings"]}
    assert "GRADE_MISMATCH" in result.output
    # The yearly cycle: signed per-unit declaration templates, declarations checked and rolled up,
    # self-evaluations prefilled from the accepted ones, filled, checked against them, rolled up.
    cycle = tmp_path / "cycle"
    assert len(list((cycle / "申报模板").glob("*.xlsx"))) == len(read_roster(SAMPLES_DIR / "roster.csv").units)
    assert sorted(p.name for p in (cycle / "自评模板").glob("*.xlsx")) == [
        "自评表_东湖区科技局_科技成果转化服务平台运营.xlsx", "自评表_西山县中小企业局_中小企业公共服务平台运营.xlsx"]
    assert (cycle / "申报汇总.xlsx").is_file() and (cycle / "自评汇总.xlsx").is_file()
    assert "未使用 目标申报表_南城区商务局.xlsx" in result.output  # rejected: start after end
    key = load_key(cycle / "演示签名密钥.key")
    index = DeclarationIndex.build([cycle / "申报表"], key=key)
    donghu = check_file(cycle / "自评表" / "自评表_东湖区科技局.xlsx", key=key, against=index)
    assert not donghu.errors and donghu.unit == "东湖区科技局"
    prefilled = openpyxl.load_workbook(cycle / "自评模板" / "自评表_东湖区科技局_科技成果转化服务平台运营.xlsx")
    (sheet_name, ref), = prefilled.defined_names["xp_ind_1_target"].destinations
    target = prefilled[sheet_name][ref.replace("$", "")]
    assert target.value == 12 and target.protection.locked
    recalculated = openpyxl.load_workbook(cycle / "自评表" / "自评表_东湖区科技局.xlsx", data_only=True)
    sheet, row, col = builtin_layout("self_evaluation").address("total_score")
    assert recalculated[sheet].cell(row + 1, col + 1).value == float(donghu.total_score or 0)
    xishan_cycle = check_file(cycle / "自评表" / "自评表_西山县中小企业局.xlsx", key=key, against=index)
    assert {"TARGET_CHANGED", "SIGNATURE_MISMATCH"} <= {f.code for f in xishan_cycle.errors}
    assert "TARGET_CHANGED" in result.output and "申报为 ≥40场，本表为 ≥30场" in result.output
    # Mid-year monitoring between them: templates prefilled from the accepted declarations; one
    # unit behind the time progress, with 有可能 unexplained; rolled up.
    assert sorted(p.name for p in (cycle / "监控模板").glob("*.xlsx")) == [
        "绩效监控表_东湖区科技局_科技成果转化服务平台运营.xlsx", "绩效监控表_西山县中小企业局_中小企业公共服务平台运营.xlsx"]
    monitored = {unit: check_file(cycle / "监控表" / f"绩效监控表_{unit}.xlsx", key=key, against=index)
                 for unit in ("东湖区科技局", "西山县中小企业局")}
    assert monitored["东湖区科技局"].findings == []
    assert sorted(f.code for f in monitored["西山县中小企业局"].findings) == [
        "REQUIRED_BY_CHOICE", "REQUIRED_BY_CHOICE", "TIME_PROGRESS_BEHIND"]
    assert "REQUIRED_BY_CHOICE" in result.output and (cycle / "监控汇总.xlsx").is_file()
    # Then the 一体化 self-evaluation, prefilled from the same declarations: the units set the
    # weights (90) and report their results; checked against the declarations, rolled up.
    assessed = {unit: check_file(cycle / "一体化自评表" / f"项目自评表_{unit}.xlsx", key=key, against=index)
                for unit in ("东湖区科技局", "西山县中小企业局")}
    assert {u: (c.errors, c.grade) for u, c in assessed.items()} == {"东湖区科技局": ([], "优"), "西山县中小企业局": ([], "优")}
    assert (cycle / "一体化自评汇总.xlsx").is_file()
    # The roll-up and the mails of the first round: every return listed; the roster's units with
    # no return, and the one whose return was rejected, each with its reason.
    assert f"汇总工作簿：{tmp_path / 'summary.xlsx'}" in result.output
    summary = openpyxl.load_workbook(tmp_path / "summary.xlsx")
    assert len(rows(summary, "清单")) == len(list((tmp_path / "returns").iterdir())) == len(DEMO_RETURNS)
    missing = {r["单位名称"]: r["情况"] for r in rows(summary, "未报送")}
    assert missing["东湖区教育局"] == missing["西山县农业农村局"] == "未收到报表"
    assert missing["西山县中小企业局"].startswith("报表被退回")  # seed 004: 差 typed over 96.35
    emls = sorted((tmp_path / "mail").glob("*.eml"))
    # One mail to each unit of the roster that sent a return (the six demo returns' units).
    assert [p.name for p in emls] == ["101001_东湖区科技局.eml", "101002_西山县中小企业局.eml", "101003_南城区商务局.eml",
                                      "101004_北湖县工信局.eml", "101005_市中小企业办.eml",
                                      "101006_湘潭县科技和工业信息化局.eml"]
    from email import policy
    from email.parser import BytesParser

    roster = {u.name for u in read_roster(SAMPLES_DIR / "roster.csv").units}
    for path in emls:
        message = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        assert message["To"] and message.get_body(("html",)) is not None
        assert any(name in str(message["Subject"]) for name in roster)
    # The collection round on the default SQLite ledger output/xlperf.db: the corrected return of
    # 西山县中小企业局 supersedes its first one and passes; the status table is printed.
    assert (tmp_path / "xlperf.db").is_file() and (tmp_path / "round_summary.xlsx").is_file()
    assert "西山县中小企业局：通过（有提示）（取代 #2）" in result.output
    assert "101002  西山县中小企业局  通过（有提示）  #7" in result.output
    assert "共 8 行：未报送 5，退回 1，通过（有提示） 2" in result.output
    listed = CliRunner().invoke(main, ["round", "--db", str(tmp_path / "xlperf.db"), "list"])
    assert listed.exit_code == 0 and "演示自评" in listed.output
    # A second round on the 一体化 form takes in the cycle's 部门预算项目支出绩效自评表 returns.
    assert "演示一体化自评" in listed.output
    assert "101001  东湖区科技局  通过  #8  99.6 优" in result.output
    assert "101002  西山县中小企业局  通过  #9  91.7 优" in result.output
    assert "共 8 行：未报送 6，退回 0，通过（有提示） 0，通过 2，已作废 0；已通过 2/8（25%）" in result.output
    # The year on the ledger: the cycle's declarations, monitoring returns and self-evaluations in
    # a chain of rounds (each --from-round the one before); 西山县中小企业局's lowered target is
    # found with no --against and sent back, its corrected return replaces it; then 结果应用.
    for stage in ("演示目标申报", "演示运行监控", "演示年度自评"):
        assert stage in listed.output
    chain = result.output[result.output.index("台账上的年度链条"):]
    assert ("已登记  自评表_西山县中小企业局.xlsx  #16  西山县中小企业局：退回\n"
            "    错误 TARGET_CHANGED 自评表!F21 绩效目标第1行目标值：指标“企业培训”的目标与申报表不符：申报为 ≥40场，本表为 ≥30场") in chain
    assert "已登记  自评表_西山县中小企业局_改回申报目标.xlsx  #17  西山县中小企业局：通过（有提示）（取代 #16）" in chain
    assert "结果应用（2 个项目）" in chain and (tmp_path / "结果应用.xlsx").is_file()
    assert "优：2 个项目，预算 75.00 万元，优先保障（×1.0），建议下年预算 75.00 万元" in chain  # 45 + 30 declared
    # 整改: the bureau's spot check sends 西山's corrected return back with a note; the 整改 round
    # follows that one project: the note and the return's one warning (a completion score to
    # explain) are its 2 problems; the unit's form closes the first, the second is past its 完成时限.
    assert f"财政局抽查复核西山县中小企业局的自评表，退回并附意见：{SPOT_CHECK_NOTE}" in chain
    assert "等次为中、差或被退回的项目 1 个，问题 2 项" in chain
    assert "101002  西山县中小企业局  中小企业公共服务平台运营  通过  问题 2 项：已完成 1 项，未完成 1 项（其中逾期 1 项）" in chain
    assert "    2. 【逾期】实际完成率得分：" in chain
    assert "整改未完成：共 2 项问题，已完成 1 项，未完成 1 项，其中逾期 1 项" in chain
    assert len(list((tmp_path / "整改" / "整改表").glob("*.xlsx"))) == 1
    # It ends by saying how to open the round in the desk, naming the ledger it filled.
    last = result.output.strip().splitlines()[-2]
    assert f"xlperf serve --db {tmp_path / 'xlperf.db'}" in last
