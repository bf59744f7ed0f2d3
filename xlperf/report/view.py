"""What a report shows about one checked return, shared by the HTML page and the annotated copy.

Presentation only: the order of findings, Chinese labels, the score line, what to do next.
Whether anything is wrong was decided by the checks; nothing here judges a value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from xlperf.findings import (
    ACCEPTED,
    ACCEPTED_WITH_WARNINGS,
    REJECTED,
    SEVERITY_LABELS,
    STATUS_LABELS,
    CheckedReturn,
    Finding,
)
from xlperf.findings.text import shown_name
from xlperf.form.registry import builtin_forms, builtin_layout

TITLE = "绩效报表审核报告"
RECOMPUTED_NOTE = "按填报内容重算"
BLANK = "—"
# Colours (text, background) of the review outcome: Excel's own good / neutral / bad styles,
# so the page and the annotated workbook look alike.
STATUS_COLOURS = {
    ACCEPTED: ("#006100", "#C6EFCE"),
    ACCEPTED_WITH_WARNINGS: ("#7F6000", "#FFEB9C"),
    REJECTED: ("#9C0006", "#FFC7CE"),
}
SEVERITY_COLOURS = {"error": STATUS_COLOURS[REJECTED], "warning": STATUS_COLOURS[ACCEPTED_WITH_WARNINGS]}

_A1 = re.compile(r"^\$?([A-Za-z]{1,3})\$?([0-9]+)$")


@dataclass(frozen=True)
class Row:
    """One finding as a line of the findings table."""

    number: int
    finding: Finding
    severity: str
    sheet: str
    cell: str
    field: str
    expected: str
    found: str

    @property
    def is_error(self) -> bool:
        return self.finding.severity == "error"


@dataclass(frozen=True)
class View:
    file_name: str
    unit: str
    form_title: str
    form_version: str
    year: str
    status: str
    status_label: str
    status_colour: tuple[str, str]
    total: str
    grade: str
    scored: bool
    """Whether total and grade were recomputed from the return (and are shown as such)."""
    errors: int
    warnings: int
    rows: list[Row]
    notes: list[str]
    known_form: bool
    how_to_fix: list[str]


def sheet_order(checked: CheckedReturn) -> list[str]:
    """The form's sheets in the order of its template (empty for an unknown form)."""
    if checked.form not in builtin_forms():
        return []
    return [s.name for s in builtin_layout(str(checked.form)).sheets]


def single_cell(ref: str) -> str | None:
    """``ref`` as a plain A1 cell ("$b$5" → "B5"); None when it is no single cell."""
    m = _A1.match(ref.strip())
    return f"{m.group(1).upper()}{m.group(2)}" if m else None


def cell_position(cell: str) -> tuple[int, int]:
    """(row, column) of an A1 reference, for sorting; odd references sort last."""
    m = _A1.match(cell.strip())
    if not m:
        return (1 << 30, 1 << 30)
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ord(ch) - 64
    return (int(m.group(2)), col)


def ordered(checked: CheckedReturn) -> list[Finding]:
    """Errors first, then warnings; within each, file-level findings, then by sheet and cell.

    Sorting is stable, so findings at the same cell keep the order the checks gave them.
    """
    sheets = sheet_order(checked)

    def key(f: Finding) -> tuple[int, int, str, tuple[int, int]]:
        if not f.sheet:
            place = -1
        elif f.sheet in sheets:
            place = sheets.index(f.sheet)
        else:
            place = len(sheets)  # a sheet the form does not have: after the form's own
        return (0 if f.severity == "error" else 1, place, f.sheet, cell_position(f.cell))

    return sorted(checked.findings, key=key)


def form_title(checked: CheckedReturn) -> str:
    forms = builtin_forms()
    if checked.form in forms:
        return forms[str(checked.form)].title
    if checked.form:
        return f"{checked.form}（非本系统表单）"
    return "未能识别"


def _score_texts(checked: CheckedReturn) -> tuple[str, str]:
    if checked.form not in builtin_forms():
        return "无法计算", BLANK
    if "total_score" not in builtin_layout(str(checked.form)).cells:
        return "本表不评分", BLANK
    total = checked.total_score
    if total is None:
        return "无法计算（请先改正上表中的错误）", BLANK
    return f"{total:.2f}", checked.grade or BLANK


def _how_to_fix(checked: CheckedReturn, known_form: bool, annotated_name: str | None) -> list[str]:
    if not known_form:
        return [
            "本文件未能作为绩效报表读取，原因见上表。",
            "请使用财政局下发的 .xlsx 模板填报，用 Excel 或 WPS 正常保存为 .xlsx 文件（不要设置打开密码，"
            "不要另存为 .xls、.et 等其他格式，不要压缩），然后重新报送。",
        ]
    if checked.status == ACCEPTED:
        return ["本表审核通过，无需修改。"]
    steps = []
    if checked.status == REJECTED:
        steps.append("本表未通过审核，请修改后重新报送：打开财政局下发给您的模板（即您报送的这份文件），"
                     "按上表逐项修改所列工作表和单元格中的内容，“错误”项必须改正。")
    else:
        steps.append("本表已通过审核，但有需要核实的“提示”项：如数据确有误，请在您报送的文件中改正后重新报送；"
                     "如数据无误，请在相应说明栏（如偏差原因分析及改进措施）写明原因。")
    steps.append("请保留模板原样：不要撤销工作表保护，不要增删行、列或工作表，不要改动带公式的单元格"
                 "（得分、合计和等次会自动计算），修改后保存为 .xlsx 文件报送。")
    if annotated_name:
        steps.append(f"附件“{annotated_name}”按您填报的内容重新生成，问题单元格已标成红色并附批注"
                     "（鼠标移到单元格上即可查看），第一张工作表“审核意见”列出了全部问题。"
                     "该附件仅供对照，请在原文件中修改后报送。")
    return steps


def show(value: object) -> str:
    """A value as printed in a report cell: blank when absent."""
    if value is None or value == "":
        return BLANK
    return str(value)


def build_view(checked: CheckedReturn, annotated_name: str | None = None) -> View:
    """Everything a report prints about ``checked``, in print order."""
    known = checked.form in builtin_forms()
    version = checked.form_version or (builtin_forms()[str(checked.form)].version if known else "")
    rows = [
        Row(number=i, finding=f, severity=SEVERITY_LABELS.get(f.severity, f.severity),
            sheet=f.sheet or "（整个文件）", cell=show(f.cell), field=show(f.label or f.field),
            expected=show(f.expected), found=show(f.found))
        for i, f in enumerate(ordered(checked), 1)
    ]
    total, grade = _score_texts(checked)
    return View(
        file_name=shown_name(checked.file), unit=show(checked.unit), form_title=form_title(checked),
        form_version=version or "", year=show(checked.year), status=checked.status,
        status_label=STATUS_LABELS[checked.status], status_colour=STATUS_COLOURS[checked.status],
        total=total, grade=grade, scored=checked.total_score is not None, errors=len(checked.errors), warnings=len(checked.warnings),
        rows=rows, notes=list(checked.notes), known_form=known,
        how_to_fix=_how_to_fix(checked, known, annotated_name),
    )
