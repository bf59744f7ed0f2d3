"""Every finding code the toolkit can report: code, severity, Chinese title and what to do.

One table, so that a code means one thing everywhere (the checks, the reader's refusals, the
roll-up's own findings, the spec's consistency rules) and the README can list them all. A check
registers against it (:class:`xlperf.checks.base.Check` looks its code up here, so a check with a
code missing from this table fails when its module is imported); the reader and the roll-up use
the same codes. A spec's ``consistency`` rules carry their own code: those codes are listed here
too, and the severity a spec declares must be the one listed (a test keeps the two in step).
Severities are set here only: every finding is made by :func:`finding`, which looks its code up.

The README's table is rendered from here: ``python -m xlperf.findings.catalogue --write README.md``
rewrites it; ``python -m xlperf.findings.catalogue`` prints it.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlperf.findings import SEVERITY_LABELS, Finding, Severity

__all__ = ["CATALOGUE", "Code", "SEVERITY_LABELS", "UnknownCode", "code", "finding", "markdown_table",
           "update_readme"]

@dataclass(frozen=True)
class Code:
    code: str
    severity: Severity
    title: str
    """Short Chinese name of the problem."""
    todo: str
    """What the unit (or the bureau) should do about it, in Chinese."""
    source: str
    """Where it comes from: 读取 (reading the file), 审核 (a check), 审核公式 (a spec's consistency
    rule), 汇总 (the roll-up), 财政局 (a staff decision in a round)."""


class UnknownCode(KeyError):
    """A code used that the catalogue does not list."""


_R, _C, _S, _U, _D = "读取", "审核", "审核公式", "汇总", "财政局"
READING = _R
"""The source of the readers' findings (a file that cannot be read as a return): about the file, not its content."""

_TABLE: tuple[tuple[str, Severity, str, str, str], ...] = (
    # -- reading the file (xlperf.read) -------------------------------------------------------
    ("FILE_EMPTY", "error", "空文件", "重新从 Excel 另存或导出后报送", _R),
    ("FILE_TOO_LARGE", "error", "文件过大", "删除多余的图片或工作表后重新报送", _R),
    ("FILE_FOREIGN", "error", "不是电子表格", "报送用财政局下发的模板填好的 Excel 文件", _R),
    ("FILE_TRUNCATED", "error", "文件不完整", "文件在传输中被截断：重新复制或下载后报送", _R),
    ("FILE_CORRUPT", "error", "文件已损坏", "用 Excel 打开并另存后重新报送", _R),
    ("FILE_ENCRYPTED", "error", "文件设置了打开密码", "取消打开密码后重新报送", _R),
    ("ZIP_BOMB", "error", "文件解压后异常庞大", "文件可能是恶意构造的：用模板重新填报", _R),
    ("TOO_MANY_FILES", "error", "压缩包中文件过多", "分成几次报送，每次的文件数不超过上限（拒收说明中写明）", _R),
    ("FILE_MISSING", "error", "文件不存在", "文件不存在或是失效的快捷方式：重新复制原文件后报送", _R),
    ("FILE_NOT_REGULAR", "error", "不是普通文件", "报送 Excel 文件本身（不是管道、设备或快捷方式）", _R),
    ("FILE_TOO_COMPLEX", "error", "文件结构异常复杂", "文件超出审核的时间或内存限制，可能已损坏或被恶意构造：用模板重新填报", _R),
    ("NOT_XLPERF", "error", "不是模板生成的报表", "使用财政局下发的模板填报", _R),
    ("UNKNOWN_FORM", "error", "未知的表单", "使用财政局下发的模板填报", _R),
    ("RECOMPUTE_FAILED", "error", "无法重算得分", "核对评分表中的数值，或联系财政局", _C),
    ("CHECK_FAILED", "error", "审核程序出错，未能完成审核", "不是报表本身的问题，无需重新报送：财政局查看该文件后答复", _C),
    # -- fields (xlperf.checks.fields, dates, text) ----------------------------------------------
    ("REQUIRED_MISSING", "error", "必填项未填", "填写该项", _C),
    ("WRONG_TYPE", "error", "数据类型错误", "按单元格要求填写数字、日期或年份", _C),
    ("DATE_AS_TEXT", "warning", "日期按文字填写", "按“年-月-日”输入日期（如 2022-01-01）；已按所写日期读取", _C),
    ("NUMBER_INVALID", "error", "数值无效或过大", "填写正确的数值（文件可能被其他工具改动过）", _C),
    ("CHOICE_INVALID", "error", "不是可选项", "从下拉列表中选择", _C),
    ("OUT_OF_RANGE", "error", "数值超出范围", "核对数值是否在允许范围内", _C),
    ("TOO_MANY_DECIMALS", "warning", "金额小数位过多", "金额保留两位小数", _C),
    ("AMOUNT_UNIT_SUSPECT", "warning", "金额单位可疑", "核对金额是否按表头的单位（如万元）填写", _C),
    ("ROW_INCOMPLETE", "warning", "表格行未填完整", "补全该行，或清除不用的行", _C),
    ("DATE_OUTSIDE_YEAR", "warning", "日期不在预算年度内", "核对日期和年度", _C),
    ("HTML_IN_TEXT", "warning", "文本含网页代码", "删除复制进来的网页代码，只保留文字", _C),
    ("TEXT_UNENCODABLE", "warning", "文本含无法识别的字符", "重新输入该单元格的文字（无法识别的字符已显示为 �）", _C),
    ("FORMULA_TEXT", "warning", "文本像公式", "去掉开头的等号等符号，按文字填写", _C),
    # -- consistency (xlperf.checks.consistency, and the specs' rules) ----------------------------
    ("CONSISTENCY", "error", "审核公式不通过", "核对所涉两项，改正填错的一项（各规则以自己的代码报告）", _C),
    ("PARTS_NOT_SUM", "error", "合计与分项不符", "恢复模板中的合计公式，并核对各分项金额", _C),
    ("LOW_EXECUTION_NO_REASON", "warning", "执行率偏低未说明", "说明执行率偏低的原因", _C),
    ("SPENT_OVER_RELEASED", "error", "实际支出超过预算下达资金", "核对实际支出和预算下达资金", _S),
    ("RELEASED_OVER_BUDGET", "warning", "预算下达资金超过预算资金", "核对预算下达资金和预算资金", _S),
    ("START_AFTER_END", "error", "开始日期晚于结束日期", "核对项目起止日期", _S),
    ("PREV_EXEC_OVER_BUDGET", "warning", "上年执行数超过上年预算", "核对上年预算额和执行数", _S),
    ("YEAR_BUDGET_OVER_TOTAL", "warning", "当年预算超过总预算", "核对项目当年预算和总预算", _S),
    # -- progress forms (xlperf.checks.progress, and the monitoring spec's rules) ------------------
    ("TIME_PROGRESS_BEHIND", "warning", "执行进度低于时间进度", "说明执行偏慢的原因，或核对执行数", _C),
    ("REQUIRED_BY_CHOICE", "error", "所选情况须说明而未填写", "按表中所选（如完成目标可能性为有可能、不可能）填写原因分析和建议举措", _C),
    ("EXEC_OVER_BUDGET", "error", "执行数超过年初预算数", "核对执行数和年初预算数", _S),
    ("FORECAST_OVER_BUDGET", "warning", "全年预计执行数超过年初预算数", "核对预计执行数；年中追加预算的请说明", _S),
    # -- indicators (xlperf.checks.indicators) -----------------------------------------------------
    ("TARGET_MISSING", "error", "指标缺少目标值", "填写目标值，不设此指标的删除该行", _C),
    ("NAME_MISSING", "warning", "目标值缺少指标名称", "填写三级指标名称，或清除该行", _C),
    ("TARGET_NO_OPERATOR", "warning", "定量目标缺少符号", "在符号列选择比较符号（如 ≥）", _C),
    ("TARGET_NO_UNIT", "warning", "定量目标缺少计量单位", "选择或填写计量单位", _C),
    ("RATE_WITH_QUALITATIVE_TARGET", "warning", "比率类指标使用定性目标", "改为带符号和单位的数值", _C),
    ("DEVIATION_NO_REASON", "warning", "偏离目标未说明原因", "说明偏差原因和改进措施", _C),
    ("ACTUAL_MISSING", "warning", "缺少实际完成值", "填写实际完成值", _C),
    ("WRONG_LEVEL1", "warning", "指标归入了错误的一级指标", "改选一级、二级指标", _C),
    ("LEVEL1_BLANK", "warning", "一级指标为空", "选择一级指标", _C),
    ("LEVEL2_BLANK", "warning", "二级指标为空", "选择二级指标", _C),
    ("LEVEL2_MISMATCH", "warning", "二级指标与一级指标不匹配", "改选所属一级下的二级指标", _C),
    ("OUTPUT_EMPTY", "error", "产出指标为空", "至少填写一项产出指标", _C),
    # -- scores (xlperf.checks.scores) -------------------------------------------------------------
    ("SCORE_NOT_NUMBER", "error", "得分不是数字", "得分填写数字", _C),
    ("SCORE_OVER_WEIGHT", "error", "得分超过分值", "得分不超过该项分值", _C),
    ("SCORE_NEGATIVE", "error", "得分为负数", "得分不小于 0", _C),
    ("QUAL_SCORE_OUT_OF_BAND", "error", "定性得分不在等级区间内", "按所选等级的分数区间打分", _C),
    ("WEIGHTS_NOT_SUM", "error", "权重合计与分值不符", "调整各项指标的权重，使其合计等于该部分的分值", _C),
    ("SCORE_MISMATCH", "error", "得分与重算结果不符", "恢复模板中的公式，或按评分规则改正得分", _C),
    ("TOTAL_MISMATCH", "error", "总分与重算结果不符", "恢复模板中的总分公式", _C),
    ("GRADE_MISMATCH", "error", "等次与总分不符", "按总分选择等次", _C),
    ("CACHE_MISSING", "warning", "文件未计算公式", "用 Excel 打开、保存后重新报送", _C),
    ("LOW_EXECUTION_HIGH_SCORES", "warning", "执行率低而产出得分高", "核对产出得分是否与执行情况相符", _C),
    ("UNMET_TARGETS_HIGH_SCORE", "warning", "指标未完成而完成率得分高", "核对完成率得分", _C),
    # -- tampering and signatures (xlperf.checks.tamper, signature) --------------------------------
    ("FORMULA_OVERWRITTEN", "error", "公式被数值覆盖", "恢复模板中的公式（或用模板重新填报）", _C),
    ("FORMULA_ALTERED", "error", "公式被改动", "恢复模板中的公式（或用模板重新填报）", _C),
    ("WEIGHT_ALTERED", "error", "分值被改动", "恢复模板中的分值", _C),
    ("LOCKED_CELL_ALTERED", "error", "固定文字被改动", "恢复模板中的文字", _C),
    ("STRUCTURE_CHANGED", "error", "报表结构被改动", "用财政局下发的模板重新填报", _C),
    ("FORM_VERSION_MISMATCH", "error", "模板版本不符", "使用当前版本的模板重新填报", _C),
    ("PROTECTION_REMOVED", "warning", "工作表保护被撤销", "用模板重新填报，勿撤销保护", _C),
    ("FORMULAS_UNVERIFIED", "warning", "无法核对公式", "以 .xlsx 格式报送", _C),
    ("SIGNATURE_MISMATCH", "error", "模板签名不符", "使用财政局下发的模板重新填报", _C),
    ("SIGNATURE_MISSING", "error", "模板没有签名", "使用财政局下发的已签名模板", _C),
    ("SIGNATURE_NOT_REQUIRED", "warning", "模板没有签名（本次允许）", "财政局允许使用未签名的模板：核实模板来源即可", _C),
    ("ANNOTATED_COPY", "error", "批注工作簿不是报表", "在您报送的原文件中修改后重新报送，不要报送财政局发回的批注工作簿", _C),
    ("TEMPLATE_UNFILLED", "error", "空白模板未填写", "填写模板后重新报送", _C),
    ("FILE_NAME_UNIT_MISMATCH", "warning", "文件名与填报单位不符", "核实报表属于哪个单位，按本单位名称命名文件", _C),
    # -- against declarations (xlperf.checks.crossform) ------------------------------------------
    ("TARGET_CHANGED", "error", "目标值与申报表不符", "改回申报的目标，确需调整的先调整申报表", _C),
    ("BUDGET_CHANGED", "warning", "预算与申报表不符", "核对年初预算：应与申报表一致，年中调整的在调整后预算或说明中注明", _C),
    ("DECLARATION_NOT_FOUND", "warning", "未找到申报表", "核对单位名称、项目名称和年度是否与申报表一致", _C),
    # -- the roll-up (xlperf.rollup) ------------------------------------------------------------------
    ("UNIT_NOT_IN_ROSTER", "warning", "单位不在名单中", "核对单位名称，或将该单位补入名单", _U),
    ("WORKER_CRASHED", "error", "审核进程异常退出", "检查该文件（可能损坏或过大）后重新报送", _U),
    # -- staff decisions in a collection round (xlperf.ledger.decisions) ------------------------------
    ("STAFF_RETURNED", "error", "财政局退回", "按退回理由修改后重新报送", _D),
    ("STAFF_VOIDED", "error", "财政局已作废", "该报表不再计入：如有疑问请联系财政局", _D),
)

CATALOGUE: dict[str, Code] = {row[0]: Code(*row) for row in _TABLE}
assert len(CATALOGUE) == len(_TABLE), "a code is listed twice"


def code(name: str) -> Code:
    """The catalogue entry of ``name``; :class:`UnknownCode` when it is not listed."""
    try:
        return CATALOGUE[name]
    except KeyError:
        raise UnknownCode(f"finding code {name!r} is not in xlperf.findings.catalogue") from None


def finding(name: str, message: str, **where: Any) -> Finding:
    """A finding of code ``name`` with its catalogued severity (``where``: sheet, cell, field, label,
    expected, found). Every finding a module makes goes through here: no caller chooses a
    severity, so a code is an error or a warning everywhere alike."""
    return Finding(name, code(name).severity, message, **where)


# -- the README's table ---------------------------------------------------------------------------
BEGIN = "<!-- finding codes: generated by `python -m xlperf.findings.catalogue --write README.md` -->"
END = "<!-- end of finding codes -->"


def markdown_table() -> str:
    """The catalogue as a markdown table (the README's section between BEGIN and END)."""
    lines = ["| 代码 | 类别 | 来源 | 问题 | 怎么办 |", "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{c.code}` | {SEVERITY_LABELS[c.severity]} | {c.source} | {c.title} | {c.todo} |"
              for c in CATALOGUE.values()]
    return "\n".join(lines)


def with_table(text: str) -> str:
    """``text`` (a README) with its generated table replaced by the current one."""
    head, sep, rest = text.partition(BEGIN)
    if not sep or END not in rest:
        raise ValueError(f"README has no generated section ({BEGIN} … {END})")
    return f"{head}{BEGIN}\n{markdown_table()}\n{END}{rest.split(END, 1)[1]}"


def update_readme(path: Path) -> bool:
    """Rewrite the table in the README at ``path``; True when it changed."""
    old = path.read_text(encoding="utf-8")
    new = with_table(old)
    if new != old:
        path.write_text(new, encoding="utf-8")
    return new != old


def main(argv: list[str]) -> int:
    if argv[:1] == ["--write"] and len(argv) == 2:
        changed = update_readme(Path(argv[1]))
        print(f"{argv[1]}: {'updated' if changed else 'up to date'}")
        return 0
    print(markdown_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
