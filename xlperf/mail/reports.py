"""The reports a mail carries: read from a report folder, as ``xlperf check --report-dir`` wrote
them, or taken as rendered in memory (:func:`xlperf.report.render_reports`, the ledger's way).

Each return has ``<stem>.json`` (``CheckedReturn.to_dict()``), ``<stem>.html`` and, when its form was
known, ``<stem>_批注.xlsx``. The JSON is the source of everything a mail says; the HTML page and
the annotated workbook are sent as they are.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, STATUS_LABELS
from xlperf.form.registry import builtin_forms
from xlperf.read.roster import RosterUnit
from xlperf.report import ANNOTATED_SUFFIX, Rendered

OUTCOME_LABELS = STATUS_LABELS
"""What a unit is told about a return: the same words as the report page, the desk, the CLI and
the summary (one return is never 需修改 in a subject and 通过（有提示） in its report)."""
_RANK = {ACCEPTED: 0, ACCEPTED_WITH_WARNINGS: 1, REJECTED: 2}
REPORT_KEYS = frozenset({"file", "status", "findings"})
"""Keys that make a JSON file in the folder a report (anything else there is left alone)."""


@dataclass(frozen=True)
class Report:
    """One checked return's reports; ``digest`` (SHA-256 of the JSON) identifies its content."""

    stem: str
    data: dict[str, Any]
    digest: str
    html: str | None = None
    """The report page, if there is one."""
    workbook: bytes | None = None
    """The annotated workbook, if there is one."""

    @classmethod
    def of(cls, rendered: Rendered) -> Report:
        """The report of a return rendered in memory."""
        data = json.loads(rendered.json.decode("utf-8"))
        return cls(rendered.stem, data, hashlib.sha256(rendered.json).hexdigest(),
                   rendered.html.decode("utf-8"), rendered.workbook)

    @property
    def json_name(self) -> str:
        return f"{self.stem}.json"

    @property
    def workbook_name(self) -> str:
        return f"{self.stem}{ANNOTATED_SUFFIX}"

    @property
    def status(self) -> str:
        return str(self.data["status"])

    @property
    def outcome(self) -> str:
        return OUTCOME_LABELS[self.status]

    @property
    def file_name(self) -> str:
        """The return's file name as the unit sent it."""
        return Path(str(self.data.get("file") or self.stem)).name

    @property
    def unit(self) -> str:
        return str(self.data.get("unit") or "").strip()

    @property
    def form(self) -> str | None:
        form = self.data.get("form")
        return form if isinstance(form, str) and form in builtin_forms() else None

    @property
    def form_title(self) -> str:
        return builtin_forms()[self.form].title if self.form else "绩效报表"

    @property
    def year(self) -> int | None:
        year = self.data.get("year")
        return year if isinstance(year, int) and not isinstance(year, bool) else None

    @property
    def findings(self) -> list[dict[str, Any]]:
        return [f for f in self.data.get("findings") or [] if isinstance(f, dict)]

    def count(self, severity: str) -> int:
        return sum(1 for f in self.findings if f.get("severity") == severity)


@dataclass(frozen=True)
class UnitReports:
    """A roster unit and its reports: what one message tells."""

    unit: RosterUnit
    reports: list[Report]


def worst_status(reports: list[Report]) -> str:
    """The status that decides a unit's mail: rejected before needs-work before accepted."""
    return max((r.status for r in reports), key=_RANK.__getitem__)


def load_reports(report_dir: Path) -> tuple[list[Report], list[str]]:
    """The reports of ``report_dir`` (not its subfolders), sorted by name, and the problems.

    A JSON file that is not a report (no file/status/findings) is ignored; one that cannot be
    read, or has a status this version does not know, is a problem (Chinese, naming the file).
    """
    reports: list[Report] = []
    problems: list[str] = []
    for path in sorted(report_dir.glob("*.json")):
        try:
            raw = path.read_bytes()
            data = json.loads(raw.decode("utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(f"{path.name}：无法读取审核结果（{type(exc).__name__}），请重新运行 xlperf check --report-dir")
            continue
        if not isinstance(data, dict) or not REPORT_KEYS <= data.keys():
            continue
        if data["status"] not in OUTCOME_LABELS:
            problems.append(f"{path.name}：审核结果“{data['status']}”无法识别，请用本版本重新运行 xlperf check --report-dir")
            continue
        html, workbook = path.with_suffix(".html"), path.with_name(path.stem + ANNOTATED_SUFFIX)
        try:
            page = html.read_text(encoding="utf-8") if html.is_file() else None
            annotated = workbook.read_bytes() if workbook.is_file() else None
        except (OSError, ValueError) as exc:
            problems.append(f"{path.stem}：报告文件无法读取（{type(exc).__name__}），请重新运行 xlperf check --report-dir")
            continue
        reports.append(Report(path.stem, data, hashlib.sha256(raw).hexdigest(), page, annotated))
    return reports, problems
