"""JSON for what the ledger keeps of a check: values, scores, findings, the roll-up record.

Cell values are numbers, text, dates and (scores) Decimals; plain JSON would turn a date into
text and a Decimal into a float, and a history or a re-rendered report would then show
something the unit never typed. Dates and Decimals are tagged (``{"$d": "2024-01-31"}``,
``{"$n": "96.35"}``) so that they come back as they were.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlperf.findings import Checked, Finding
from xlperf.rollup.records import IndicatorRow, ProjectRow, ReturnRecord

__all__ = ["checked_from_json", "checked_to_json", "decode", "dumps", "encode", "loads",
           "record_from_json", "record_to_json"]


def encode(value: Any) -> Any:
    """A value as JSON data: dates and Decimals tagged, containers recursed."""
    if isinstance(value, Decimal):
        return {"$n": str(value)}
    if isinstance(value, dt.datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None  # not JSON
    if isinstance(value, dict):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def decode(value: Any) -> Any:
    """The inverse of :func:`encode` (lists stay lists)."""
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, text), = value.items()
            if tag == "$n":
                return Decimal(text)
            if tag == "$d":
                return dt.date.fromisoformat(text)
            if tag == "$t":
                return dt.datetime.fromisoformat(text)
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def _tag(value: Any) -> Any:
    """json's hook for what it cannot write itself: dates and Decimals (tagged), the rest as text."""
    if isinstance(value, (Decimal, dt.date)):
        return encode(value)
    return str(value)


def dumps(value: Any) -> str:
    # The C encoder with a hook for dates and Decimals is ~10x faster than walking the values
    # first; a NaN or infinity (not JSON) makes it fail, and then the walk replaces them.
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_tag)
    except ValueError:
        return json.dumps(encode(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                          default=_tag)


def loads(text: str | None) -> Any:
    return decode(json.loads(text)) if text else None


def checked_to_json(checked: Checked) -> str:
    """Values, scores and notes of ``checked`` (findings are rows of their own in the ledger)."""
    return dumps({"values": checked.values, "scores": checked.scores, "notes": checked.notes})


def checked_from_json(text: str, *, file: Path, form: str | None, form_version: str | None,
                      unit: str | None, year: int | None, findings: list[Finding]) -> Checked:
    """A :class:`Checked` as it was when recorded: what reports and mail render, without re-checking."""
    data = loads(text) or {}
    return Checked(file=file, form=form, form_version=form_version, unit=unit, year=year,
                   values=dict(data.get("values") or {}), scores=dict(data.get("scores") or {}),
                   findings=list(findings), notes=list(data.get("notes") or []))


def record_to_json(record: ReturnRecord) -> str:
    """What the round's roll-up needs of a return beyond its findings: projects and indicators."""
    return dumps({"projects": [list(p) for p in record.projects],
                  "indicators": [list(i) for i in record.indicators],
                  "total_score": record.total_score, "grade": record.grade})


def record_from_json(text: str | None, *, file: Path, size: int, mtime_ns: int, status: str,
                     form: str | None, form_version: str | None, unit: str | None, year: int | None,
                     findings: tuple[Finding, ...], notes: tuple[str, ...]) -> ReturnRecord:
    data = loads(text) or {}
    return ReturnRecord(
        file=file, size=size, mtime_ns=mtime_ns, status=status, form=form, form_version=form_version,
        unit=unit, year=year, total_score=data.get("total_score"), grade=data.get("grade"),
        projects=tuple(_project(p) for p in data.get("projects") or ()),
        indicators=tuple(IndicatorRow(*i) for i in data.get("indicators") or ()),
        findings=findings, notes=notes)


def _project(stored: list[Any]) -> ProjectRow:
    row = ProjectRow(*stored)
    if len(stored) == OLD_PROJECT_FIELDS and row.rate is not None:
        # Stored before the spec named the execution rate's amounts: it was spent over budget.
        row = row._replace(rate_numerator=row.spent, rate_denominator=row.budget)
    return row


OLD_PROJECT_FIELDS = 9
"""A project row's fields as stored before 调整后预算 and the execution rate's amounts."""
