"""What checking a return finds, and the outcome of one return: plain data, no logic of checks."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from xlperf.findings.text import scrub

Severity = Literal["error", "warning"]
ACCEPTED = "accepted"
ACCEPTED_WITH_WARNINGS = "accepted_with_warnings"
REJECTED = "rejected"
SEVERITY_LABELS: dict[str, str] = {"error": "错误", "warning": "提示"}
"""How a severity is shown to people (reports, mails, the console, the roll-up)."""
STATUS_LABELS = {ACCEPTED: "通过", ACCEPTED_WITH_WARNINGS: "通过（有提示）", REJECTED: "退回"}


@dataclass(frozen=True)
class Finding:
    """One problem: where it is (sheet, cell, field), what is wrong and what to do (message)."""

    code: str
    severity: Severity
    message: str
    sheet: str = ""
    cell: str = ""
    field: str = ""
    label: str = ""
    expected: str | None = None
    found: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code, "severity": self.severity, "sheet": self.sheet, "cell": self.cell,
            "field": self.field, "label": self.label, "message": self.message,
            "expected": self.expected, "found": self.found,
        }


def stored_finding(code: str, severity: str, message: str, sheet: str = "", cell: str = "", field: str = "",
                   label: str = "", expected: str | None = None, found: str | None = None) -> Finding:
    """A finding read back from where it was stored, with the severity it was given then (a later
    catalogue may rate its code differently: a revalidation checks the file again). New findings
    are made by :func:`xlperf.findings.catalogue.finding`."""
    return Finding(code, "error" if severity == "error" else "warning", message, sheet, cell, field, label,
                   expected, found)


@dataclass
class Checked:
    """The outcome of checking one input file (readable or not)."""

    file: Path
    form: str | None = None
    form_version: str | None = None
    unit: str | None = None
    year: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Decimal | str | None] = field(default_factory=dict)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def status(self) -> str:
        if self.errors:
            return REJECTED
        return ACCEPTED_WITH_WARNINGS if self.warnings else ACCEPTED

    @property
    def total_score(self) -> Decimal | None:
        total = self.scores.get("total_score")
        return total if isinstance(total, Decimal) else None

    @property
    def grade(self) -> str | None:
        grade = self.scores.get("grade")
        return grade if isinstance(grade, str) and grade else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": scrub(str(self.file)), "form": self.form, "form_version": self.form_version,
            "unit": self.unit, "year": self.year, "valid": self.valid, "status": self.status,
            "total_score": _jsonable(self.total_score), "grade": self.grade,
            "values": {k: _jsonable(v) for k, v in self.values.items()},
            "scores": {k: _jsonable(v) for k, v in self.scores.items()},
            "findings": [f.to_dict() for f in self.findings],
            "notes": list(self.notes),
        }


def _jsonable(value: Any) -> Any:
    """A value as standard JSON holds it: NaN and infinity (a crafted file's) become null; the
    check ``NUMBER_INVALID`` says so on the cell."""
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
