"""What checking a return finds (:class:`Finding`), and the outcome of one return
(:class:`CheckedReturn`, :mod:`xlperf.findings.checked_return`): plain data, no logic of checks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from xlperf.findings.checked_return import (
    ACCEPTED,
    ACCEPTED_WITH_WARNINGS,
    IGNORED,
    REJECTED,
    CheckedReturn,
)

__all__ = ["ACCEPTED", "ACCEPTED_WITH_WARNINGS", "IGNORED", "REJECTED", "SEVERITY_LABELS", "STATUS_LABELS",
           "CheckedReturn", "Finding", "Severity", "stored_finding"]

Severity = Literal["error", "warning"]
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
