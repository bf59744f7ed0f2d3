"""What a unit's mail says: the subject, the plain-text body and the HTML body.

The plain text is written from the JSON findings (a text made by stripping the HTML page would
lose the table's structure); the HTML body is the report pages themselves, after a short letter.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, SEVERITY_LABELS
from xlperf.mail.reports import OUTCOME_LABELS, Report, worst_status
from xlperf.read.roster import RosterUnit
from xlperf.report.view import STATUS_COLOURS

ACTIONS = {
    REJECTED: "退回：报表有错误，不予接收。请对照问题清单和附件中的批注工作簿逐项修改后重新报送；"
              "如表格的公式或结构已被改动，请使用附件中的新模板（已预填单位和年度）重新填报。",
    ACCEPTED_WITH_WARNINGS: "通过（有提示）：报表有提示项。请逐条修改，或对无需修改的提示作出书面说明，再次报送。",
    ACCEPTED: "通过：报表已接收，无需处理。",
}
FOOTER = "本邮件由 xlperf 根据审核结果自动生成。如对审核结果有疑问，请回复本邮件或与财政局绩效管理部门联系。"
FONT = "font-family:Microsoft YaHei,PingFang SC,SimSun,sans-serif;"
_BODY = re.compile(r"<body[^>]*>(.*)</body>", re.DOTALL | re.IGNORECASE)


def subject(unit: RosterUnit, reports: Sequence[Report]) -> str:
    """``【退回】2019年度财政支出项目绩效自评表审核结果（单位）``; several returns: the worst
    outcome, ``绩效报表`` unless all are one form, and the count."""
    outcome = OUTCOME_LABELS[worst_status(list(reports))]
    years = sorted({r.year for r in reports if r.year is not None})
    year = "、".join(str(y) for y in years) + "年度" if years else ""
    titles = {r.form_title for r in reports}
    title = titles.pop() if len(titles) == 1 else "绩效报表"
    count = f"共{len(reports)}份，" if len(reports) > 1 else ""
    return f"【{outcome}】{year}{title}审核结果（{count}{unit.name}）"


def text_body(unit: RosterUnit, reports: Sequence[Report], attachments: Sequence[str],
              notes: Sequence[str]) -> str:
    lines = [f"{_salutation(unit)}：", "", f"您好！您单位报送的 {len(reports)} 份报表已审核，结果如下：", ""]
    for n, report in enumerate(reports, 1):
        lines.append(f"{n}. {report.file_name}（{_describe(report)}）：{report.outcome}，{_counts(report)}")
    lines += ["", *_actions(reports), *notes]
    for n, report in enumerate(reports, 1):
        lines += ["", f"======== {n}. {report.file_name} ========", *_report_lines(report)]
    if attachments:
        lines += ["", "附件：", *(f"- {name}" for name in attachments)]
    lines += ["", FOOTER]
    return "\n".join(lines) + "\n"


def html_body(unit: RosterUnit, reports: Sequence[Report], attachments: Sequence[str],
              notes: Sequence[str]) -> str:
    e = html.escape
    cell = "border:1px solid #999999;padding:6px;font-size:13px;"
    rows = []
    for report in reports:
        fg, bg = STATUS_COLOURS[report.status]
        rows.append(
            f'<tr><td style="{cell}">{e(report.file_name)}</td><td style="{cell}">{e(_describe(report))}</td>'
            f'<td style="{cell}font-weight:bold;color:{fg};background:{bg};">{e(report.outcome)}</td>'
            f'<td style="{cell}">{e(_counts(report))}</td></tr>')
    head = "".join(f'<th style="{cell}background:#D9E1F2;">{h}</th>' for h in ("文件", "表单", "审核结果", "问题"))
    paragraphs = "".join(f'<p style="margin:8px 0;">{e(line)}</p>' for line in [*_actions(reports), *notes])
    files = "".join(f"<li>{e(name)}</li>" for name in attachments)
    letter = (
        f'<div style="{FONT}font-size:14px;color:#222222;padding:16px;max-width:1000px;">'
        f"<p>{e(_salutation(unit))}：</p>"
        f"<p>您好！您单位报送的 {len(reports)} 份报表已审核，结果如下：</p>"
        f'<table cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;">'
        f"<tr>{head}</tr>{''.join(rows)}</table>{paragraphs}"
        + (f"<p>附件：</p><ul>{files}</ul>" if files else "")
        + "<p>各报表的审核报告附在下方。</p></div>"
    )
    pages = "".join(f'<hr style="border:0;border-top:2px solid #2F5597;margin:24px 0;">{_page(r)}'
                    for r in reports)
    footer = f'<p style="{FONT}font-size:12px;color:#777777;padding:16px;">{e(FOOTER)}</p>'
    return (f'<!DOCTYPE html>\n<html lang="zh-CN"><head><meta charset="utf-8"><title>{e(subject(unit, reports))}'
            f"</title></head><body style=\"margin:0;padding:0;background:#FFFFFF;\">{letter}{pages}{footer}</body></html>\n")


def _page(report: Report) -> str:
    """The body of the report page written by ``xlperf check`` (our own markup, escaped there);
    without the page, the findings as text."""
    if report.html is not None:
        match = _BODY.search(report.html)
        if match:
            return f'<div style="{FONT}">{match.group(1)}</div>'
    return f'<pre style="{FONT}white-space:pre-wrap;padding:16px;">{html.escape(chr(10).join(_report_lines(report)))}</pre>'


def _salutation(unit: RosterUnit) -> str:
    return f"{unit.name}（{unit.contact}）" if unit.contact else unit.name


def _describe(report: Report) -> str:
    return f"{report.form_title}，{report.year}年度" if report.year is not None else report.form_title


def _counts(report: Report) -> str:
    errors, warnings = report.count("error"), report.count("warning")
    return f"错误 {errors} 项、提示 {warnings} 项" if errors or warnings else "未发现问题"


def _actions(reports: Sequence[Report]) -> list[str]:
    present = {r.status for r in reports}
    return [text for status, text in ACTIONS.items() if status in present]


def _report_lines(report: Report) -> list[str]:
    data = report.data
    lines = [f"单位：{report.unit or '—'}", f"表单：{_describe(report)}", f"审核结果：{report.outcome}"]
    total = data.get("total_score")
    if isinstance(total, int | float) and not isinstance(total, bool):
        lines.append(f"综合得分：{total:.2f}，等次：{data.get('grade') or '—'}（按填报内容重算）")
    findings = report.findings
    lines.append("问题清单：" if findings else "问题清单：未发现问题。")
    for n, finding in enumerate(findings, 1):
        severity = SEVERITY_LABELS.get(str(finding.get("severity")), "提示")
        where = "!".join(str(finding[k]) for k in ("sheet", "cell") if finding.get(k))
        label = str(finding.get("label") or "")
        place = " ".join(p for p in (where, label) if p)
        lines.append(f"  {n}. [{severity}] {place + '：' if place else ''}{finding.get('message', '')}"
                     f"（代码 {finding.get('code', '')}）")
        values = [f"{name}：{finding[key]}" for key, name in (("expected", "应为"), ("found", "实为"))
                  if finding.get(key) not in (None, "")]
        if values:
            lines.append("     " + "；".join(values))
    notes = [str(n) for n in data.get("notes") or []]
    if notes:
        lines += ["说明：", *(f"  - {n}" for n in notes)]
    return lines
