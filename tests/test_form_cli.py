"""Authoring help (issue 22): ``xlperf form new`` copies a spec to start from, ``xlperf form
check`` lists every problem of a spec (file, line, key, Chinese and English) or what its
template will hold."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from xlperf.cli import main
from xlperf.cli.formcmd import COPY_TITLE
from xlperf.form.registry import builtin_forms
from xlperf.form.specload import load_spec

EDITS = (("label: 实际完成率, weight: 8", "label: 实际完成率, weight: 10"),
         ("label: 完成及时率, weight: 7", "label: 完成及时率, weight: 5"),
         ("{label: 项目属性, span: 2}", "{label: 项目类型, span: 2}"))


def _new(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["form", "new", *args], catch_exceptions=False)
    return result.exit_code, result.output


def test_a_copy_starts_from_the_original_under_the_new_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out = _new(tmp_path, "my_self_evaluation", "--from", "self_evaluation")
    assert code == 0, out
    path = tmp_path / "my_self_evaluation.yaml"
    spec = load_spec(path)
    assert (spec.form_id, spec.title) == ("my_self_evaluation", "财政支出项目绩效自评表" + COPY_TITLE)
    original = builtin_forms()["self_evaluation"]
    source = original.source.read_text(encoding="utf-8")  # everything but id and title as the original's
    assert path.read_text(encoding="utf-8") == "# 复制自 self_evaluation.yaml（xlperf form new）\n" + source.replace(
        "form: self_evaluation\n", "form: my_self_evaluation\n").replace(
        "\ntitle: 财政支出项目绩效自评表\n", f"\ntitle: 财政支出项目绩效自评表{COPY_TITLE}\n")
    assert (spec.file_stem, spec.amounts, spec.execution_rate, spec.prefill_from) == (
        original.file_stem, original.amounts, original.execution_rate, original.prefill_from)
    before = path.read_text(encoding="utf-8")
    code, out = _new(tmp_path, "my_self_evaluation", "--from", "self_evaluation")
    assert (code, path.read_text(encoding="utf-8")) == (1, before)  # never overwritten
    assert "已存在" in out
    code, out = _new(tmp_path, "other", "--from", "no_such_form")
    assert code == 2 and "未知的表单 'no_such_form'" in out
    code, out = _new(tmp_path, "Bad-Id", "--from", "self_evaluation")
    assert code == 2 and not (tmp_path / "Bad-Id.yaml").exists()


def test_check_says_what_the_template_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _new(tmp_path, "my_self_evaluation", "--from", "self_evaluation")[0] == 0
    path = tmp_path / "my_self_evaluation.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in EDITS:
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["form", "check", str(path)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"表单规格 {path} 没有问题 / no problems. 模板将包含 / the template will hold:"
    assert lines[2:5] == ["工作表 2 张：", "  自评表：129 个填报项", "  评分表：35 个填报项"]
    assert "  project_type  项目类型（choice，选项 年度项目/延续项目/一次性项目）" in lines
    assert "  exec_rate  预算执行率  自评表!G16  " \
           "=IF(AND(COUNT($G$15)=1,COUNT($G$9)=1),IF(N($G$9)>0,ROUND(N($G$15)/N($G$9),4),\"\"),\"\")" in lines
    assert "  产出 / 实际完成率（completion_rate）：judged，分值 10" in lines
    assert "  产出 / 完成及时率（timeliness）：judged，分值 5" in lines
    assert "  SPENT_OVER_RELEASED（error）：spent_total 不应大于 released（实际支出资金超过预算下达资金）" in lines
    assert lines[-4:] == [
        "字段角色：已有 unit=unit_name、unit_code=dept_code、dept=dept_name、project=project_name、year=year、"
        "budget=budget_city、notes=other_notes",
        "字段角色：没有 无（没有的角色，相应的预填和核对不做）",
        "表单级设置：已有 file_stem: 自评表、amounts: budget=budget_total, released=released, spent=spent_total、"
        "execution_rate: exec_rate、prefill_from: ind",
        "表单级设置：没有 declares_targets、period、time_progress、explain_when、tracked_items（含义及没有时的做法见 README“表单级设置”）",
    ]


def test_check_lists_every_problem_with_line_and_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert _new(tmp_path, "bad", "--from", "self_evaluation")[0] == 0
    path = tmp_path / "bad.yaml"
    text = path.read_text(encoding="utf-8")
    for old, new in (("label: 实际完成率, weight: 8", "label: 实际完成率, weight: 10"),  # 产出 adds up to 32
                     ("{field: impl_unit, span: 8}", "{field: impl_unit, spam: 8}"),
                     ("execution_rate: {calc: exec_rate,", "execution_rate: {calc: exec_rat,"),
                     ("left: spent_total, right: released", "left: spent_totl, right: released")):
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(main, ["form", "check", str(path)], catch_exceptions=False)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"表单规格 {path} 有 5 个问题 / 5 problem(s):",
        "bad.yaml:9  calc：execution_rate.calc 应为 kind: completion 的计算单元格，'exec_rat' 不是 (must name a completion calc)",
        "    must name a completion calc at key 'calc' (bad.yaml line 9)",
        "bad.yaml:28  left：consistency.left 引用了不存在的键 'spent_totl' (missing reference)"
        "（也可能是定义它的分区有上面列出的问题而未能读入）",
        "    missing reference at key 'left' (bad.yaml line 28)",
        "bad.yaml:32  left：consistency.left 引用了不存在的键 'start_date' (missing reference)"
        "（也可能是定义它的分区有上面列出的问题而未能读入）",
        "    missing reference at key 'left' (bad.yaml line 32)",
        "bad.yaml:49  spam：cell 不认识的键 (unknown key); 可用: field, label, type, choices, strict, required, hint, "
        "min, max, role, span, rowspan",
        "    unknown key at key 'spam' (bad.yaml line 49)",
        "bad.yaml:154  weight：一级指标 产出 分值 30 与其下各行之和 32 不符 (weights do not add up)",
        "    weights do not add up at key 'weight' (bad.yaml line 154)",
    ]


def test_every_spec_problem_is_said_in_english_too() -> None:
    # Each message the spec loader and the layout raise (read from their source) gets an English
    # line naming its kind of problem, not the catch-all.
    import re

    from xlperf.form.speccheck import english
    from xlperf.form.yamlsrc import SpecError, Where

    messages = []
    for path in sorted((Path(__file__).resolve().parent.parent / "xlperf" / "form").glob("*.py")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for i, line in enumerate(lines):
            if "fail(" in line or "SpecError(" in line:
                call = " ".join(lines[i:i + 2])  # a message may go on in a second literal
                if re.search(r'"[^"]*[\u4e00-\u9fff]', call):
                    messages.append(" ".join(re.findall(r'f?"([^"]*)"', call)))
    assert len(messages) >= 70
    generic = [m for m in messages if english(SpecError(Where("x.yaml", 1), "k", m)).startswith(
        ("invalid value", "unknown name"))]
    assert generic == []
