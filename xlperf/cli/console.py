"""Terminal lines for checked returns (Chinese): one line per return, its findings under it."""

from __future__ import annotations

import codecs
import io
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from xlperf.findings import SEVERITY_LABELS, STATUS_LABELS, CheckedReturn, Finding
from xlperf.findings.text import shown_name
from xlperf.form.registry import form_title
from xlperf.read.inbox import SPREADSHEET_SUFFIXES


def return_line(checked: CheckedReturn) -> str:
    total = f"{checked.total_score:.2f}" if checked.total_score is not None else "—"
    parts = [
        f"[{STATUS_LABELS[checked.status]}]", shown_name(checked.file),
        f"单位：{checked.unit or '—'}", f"表单：{form_title(checked.form)}",
        f"年度：{checked.year or '—'}", f"得分：{total}", f"等次：{checked.grade or '—'}",
        f"错误 {len(checked.errors)}", f"提示 {len(checked.warnings)}",
    ]
    return "  ".join(parts)


def finding_line(finding: Finding) -> str:
    place = "!".join(p for p in (finding.sheet, finding.cell) if p)
    where = f"{place} " if place else ""
    label = f"{finding.label}：" if finding.label and finding.label not in finding.message else ""
    return f"    {SEVERITY_LABELS[finding.severity]} {finding.code} {where}{label}{finding.message}"


def ignored_line(path: Path, reason: str) -> str:
    """A file of the inbox that is not checked, and why."""
    return f"[未审核]  {shown_name(path)}  {reason}"


def no_returns_message(others: Sequence[tuple[Path, str]]) -> str:
    """Usage error text when a batch finds no spreadsheet: what it found instead, if anything."""
    text = f"没有找到报表文件（{'/'.join(SPREADSHEET_SUFFIXES)}）"
    if others:
        shown = "；".join(f"{shown_name(p)}：{r}" for p, r in others[:5])
        more = f" 等 {len(others)} 个" if len(others) > 5 else ""
        text += f"。找到的其他文件{more}：{shown}"
    return text


def summary_line(results: Iterable[CheckedReturn]) -> str:
    results = list(results)
    counts = {status: sum(1 for r in results if r.status == status) for status in STATUS_LABELS}
    shown = "，".join(f"{STATUS_LABELS[s]} {n} 份" for s, n in counts.items())
    return f"共审核 {len(results)} 份报表：{shown}。"


def tolerant_console() -> None:
    """Have this process's output print what its console cannot show as "?" instead of stopping
    with an error. A Windows console is often GBK (code page 936), and a return's text may hold
    what GBK has no code for (an emoji, a rare character): ``PYTHONIOENCODING=gbk`` makes
    standard output strict, so one such name in a batch's lines would end the command half way.
    Standard error replaces already (backslashes). A UTF console can show every character and
    stays strict (text we failed to clean, such as a lone surrogate, is our error to see)."""
    stream = sys.stdout
    if isinstance(stream, io.TextIOWrapper) and stream.errors == "strict" \
            and not codecs.lookup(stream.encoding).name.startswith("utf"):
        stream.reconfigure(errors="replace")
