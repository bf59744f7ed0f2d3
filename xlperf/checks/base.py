"""The frame every check runs in: the return, its form's layout, and the recomputed scores.

A check is a small function ``(ctx) -> None`` that calls ``ctx.flag(...)`` for each problem;
it is registered with a stable code in a ``CHECKS`` tuple of its module; the code's severity and
Chinese title come from :mod:`xlperf.findings.catalogue` (a code not listed there fails at import;
no check chooses a severity). The runner sets ``ctx.current`` before each call so that ``flag``
fills in the code, and the place (sheet, cell, label) from the field key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from xlperf.findings import Finding, Severity
from xlperf.findings.catalogue import code as catalogued
from xlperf.findings.catalogue import finding
from xlperf.form.evaluate import Result
from xlperf.form.layout import FormLayout
from xlperf.model.declarations import Declarations
from xlperf.read import Return, Value
from xlperf.read.roster import Roster


@dataclass(frozen=True)
class Check:
    code: str
    run: Callable[[Context], None]

    def __post_init__(self) -> None:
        catalogued(self.code)  # UnknownCode: every code a check reports is in the catalogue

    @property
    def severity(self) -> Severity:
        return catalogued(self.code).severity

    @property
    def title(self) -> str:
        return catalogued(self.code).title


@dataclass
class Context:
    ret: Return
    layout: FormLayout
    inputs: dict[str, Value]
    """Input values by key, as read (typed by field type; text stays text)."""
    recomputed: dict[str, Result]
    """Every computed cell recomputed in Python from ``inputs``."""
    findings: list[Finding] = field(default_factory=list)
    current: Check | None = None
    signing_key: bytes | None = None
    """The finance bureau's signing key (:mod:`xlperf.form.signature`); None: signatures are not verified."""
    declarations: Declarations | None = None
    """Accepted declarations to compare targets with (``check --against``); None: no comparison."""
    roster: Roster | None = None
    """The units expected to report (``check --roster``): a file named after another unit is flagged."""
    allow_unsigned: bool = False
    """With a key: an unsigned return is a warning, not an error (``check --allow-unsigned``)."""

    def place(self, key: str) -> tuple[str, str, str]:
        """(sheet, A1 cell, Chinese label) of a field key, from the layout."""
        from xlsxwriter.utility import xl_rowcol_to_cell

        if key not in self.layout.cells:
            return "", "", key
        sheet, placed = self.layout.cells[key]
        return sheet, xl_rowcol_to_cell(placed.row, placed.col), placed.label

    def flag(self, key: str | None, message: str, *, expected: Any = None, found: Any = None,
             code: str | None = None, sheet: str = "", cell: str = "") -> None:
        """Record a finding at a field (or at a sheet/cell when no field fits): of the current
        check's code, or of ``code``; its severity is the catalogue's for that code."""
        name = code or (self.current.code if self.current else "")
        assert name, "a finding outside a check needs its code"
        if key:
            sheet, cell, label = self.place(key)
        else:
            label = ""
        self.findings.append(finding(
            name, message, sheet=sheet, cell=cell, field=key or "", label=label,
            expected=None if expected is None else _show(expected),
            found=None if found is None else _show(found),
        ))


def _show(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
