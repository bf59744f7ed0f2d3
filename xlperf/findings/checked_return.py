"""A checked return: what checking one input file found, and its one JSON form.

:class:`CheckedReturn` is the outcome of one file everywhere after the check: ``xlperf check``'s
reports, the roll-up's records (slim: :meth:`CheckedReturn.slim`), the ledger's results and what
a reply or the desk renders. Only this module writes or reads its JSON (``tests/test_one_json.py``
holds every other module to that).

The JSON form (:data:`VERSION` 2) is one object::

    {"version": 2,
     "summary": {"form", "form_version", "unit", "year", "total_score", "grade",
                 "projects": [[...], ...], "indicators": [[...], ...]},
     "values": {...}, "scores": {...}, "notes": [...]}

Findings are not in it: the ledger keeps them as rows of their own, and :meth:`from_json` takes
them back. ``summary`` comes first, so that a roll-up of ten thousand stored returns reads it
alone (:meth:`from_json` with ``summary_only``) without parsing the values. The part after it,
``{"values", "scores", "notes"}``, is byte for byte what xlperf before version 2 stored as
``checked_json``: its digest (:meth:`content_digest`) tells an echo of the same values, and
matches digests recorded before. Version 1 (two columns, ``checked_json`` and ``record_json``)
is upgraded by :func:`from_version_1` (ledger migration ``0005_checked_return``).

Cell values are numbers, text, dates and (scores) Decimals; plain JSON would turn a date into
text and a Decimal into a float. Dates and Decimals are tagged (``{"$d": "2024-01-31"}``,
``{"$n": "96.35"}``) so that they come back as they were.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from xlperf.findings.text import scrub

__all__ = ["ACCEPTED", "ACCEPTED_WITH_WARNINGS", "IGNORED", "REJECTED", "VERSION", "CheckedReturn",
           "from_version_1", "to_version_1"]

ACCEPTED = "accepted"
ACCEPTED_WITH_WARNINGS = "accepted_with_warnings"
REJECTED = "rejected"
IGNORED = "ignored"
"""A file found in an inbox that is not a spreadsheet: listed, never checked (the roll-up's 清单)."""
VERSION = 2
_HEAD = '{"version":2,"summary":'
_SUMMARY_KEYS = ("total_score", "grade")
_decoder = json.JSONDecoder()


@dataclass(slots=True)  # pickled as its values alone: less through the workers' pipe
class CheckedReturn:
    """The outcome of checking one input file (readable or not).

    ``projects`` and ``indicators``: the roll-up's summary of the return, rows derived in the
    worker that checked it (:func:`xlperf.model.summary.summarised`; plain tuples here, read
    through :func:`xlperf.model.summary.projects_of` / ``indicators_of``)."""

    file: Path
    form: str | None = None
    form_version: str | None = None
    unit: str | None = None
    year: int | None = None
    values: dict[str, Any] = field(default_factory=dict)
    scores: dict[str, Any] = field(default_factory=dict)
    findings: list[Any] = field(default_factory=list)
    """:class:`xlperf.findings.Finding` s."""
    notes: list[str] = field(default_factory=list)
    projects: tuple[tuple[Any, ...], ...] = ()
    indicators: tuple[tuple[Any, ...], ...] = ()
    size: int = 0
    mtime_ns: int = 0
    ignored: bool = False
    """Not a spreadsheet, never checked (status :data:`IGNORED`; ``notes`` says why)."""
    decided: str | None = None
    """The status staff gave it over the checks' (the ledger's decision: accepted despite its
    warnings, sent back); not in the JSON (the decision is the ledger's)."""
    encoded: str | None = field(default=None, repr=False, compare=False)
    """The JSON as encoded where the return was checked (:meth:`encode`), kept when
    :meth:`slim` drops what it was made of."""

    @property
    def errors(self) -> list[Any]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Any]:
        return [f for f in self.findings if f.severity == "warning"]

    @property
    def valid(self) -> bool:
        return not self.errors

    @property
    def status(self) -> str:
        if self.ignored:
            return IGNORED
        if self.decided is not None:
            return self.decided
        if self.errors:
            return REJECTED
        return ACCEPTED_WITH_WARNINGS if self.warnings else ACCEPTED

    @property
    def total_score(self) -> Decimal | None:
        total = self.scores.get("total_score")
        if isinstance(total, float) and math.isfinite(total):
            return Decimal(str(total))
        return total if isinstance(total, Decimal) and total.is_finite() else None

    @property
    def grade(self) -> str | None:
        grade = self.scores.get("grade")
        return grade if isinstance(grade, str) and grade else None

    @property
    def mtime(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.mtime_ns / 1e9).replace(microsecond=0)

    # -- the one JSON form ------------------------------------------------------------------------
    def encode(self) -> CheckedReturn:
        """This return with its JSON made now (in the worker that checked it, so that the process
        recording it only writes it)."""
        core = _dumps({"values": self.values, "scores": self.scores, "notes": self.notes})
        summary = _dumps({"form": self.form, "form_version": self.form_version, "unit": self.unit,
                          "year": self.year, "total_score": self.total_score, "grade": self.grade,
                          "projects": self.projects, "indicators": self.indicators})
        self.encoded = f"{_HEAD}{summary},{core[1:]}"
        return self

    def to_json(self) -> str:
        """The JSON form (findings apart): the one encoded in the worker when there is one."""
        if self.encoded is None:
            self.encode()
        return self.encoded or ""

    def content_digest(self) -> str:
        """SHA-256 of the values, scores and notes as encoded (the same values give the same
        text); "" when nothing was read. Made from the JSON's tail (no string holds an unescaped
        quote, and the summary has no member called values, so the first ``,"values":`` starts it)."""
        text = self.to_json()
        start = text.find(',"values":')
        if start < 0 or text.startswith('{}', start + 10):
            return ""
        return hashlib.sha256(("{" + text[start + 1:]).encode("utf-8")).hexdigest()

    @classmethod
    def from_json(cls, text: str | None, *, file: Path, findings: list[Any] | tuple[Any, ...] = (),
                  size: int = 0, mtime_ns: int = 0, summary_only: bool = False) -> CheckedReturn:
        """The return as it was encoded. ``summary_only``: the summary and the total score and
        grade, not the values, scores and notes (a roll-up: it parses a tenth of the text)."""
        summary: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        if text and text.startswith(_HEAD):
            raw, end = _decoder.raw_decode(text, len(_HEAD))
            summary = _decode(raw)
            if not summary_only:
                rest = _decode(json.loads("{" + text[end + 1:]))
        elif text:  # version 2 written otherwise (spacing, order); version 1 is migrated (0005)
            data = json.loads(text)
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise ValueError(f"not a checked return's JSON of version {VERSION}: {text[:40]!r}")
            summary, rest = _decode(data.get("summary") or {}), _decode(data)
        scores = dict(rest.get("scores") or {}) if not summary_only else {
            k: summary.get(k) for k in _SUMMARY_KEYS if summary.get(k) is not None}
        return cls(file=file, form=summary.get("form"), form_version=summary.get("form_version"),
                   unit=summary.get("unit"), year=summary.get("year"), values=dict(rest.get("values") or {}),
                   scores=scores, findings=list(findings), notes=list(rest.get("notes") or []),
                   projects=tuple(tuple(p) for p in summary.get("projects") or ()),
                   indicators=tuple(tuple(i) for i in summary.get("indicators") or ()),
                   size=size, mtime_ns=mtime_ns)

    def slim(self) -> CheckedReturn:
        """What a roll-up keeps of ten thousand returns: no values, no scores but the total and
        grade. When encoded, the JSON is kept, and the indicators and notes travel only in it
        (the process that records it never looks into them)."""
        scores = {k: self.scores[k] for k in _SUMMARY_KEYS if k in self.scores}
        if isinstance(scores.get("total_score"), Decimal):  # a float pickles in a fifth of the bytes
            scores["total_score"] = float(scores["total_score"])
        if self.encoded is not None:
            return replace(self, values={}, scores=scores, indicators=(), notes=[], encoded=self.encoded)
        return replace(self, values={}, scores=scores)

    # -- the report's JSON (``xlperf check --json``, the JSON report) -------------------------------
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


def from_version_1(checked_json: str | None, record_json: str | None, *, form: str | None,
                   form_version: str | None, unit: str | None, year: int | None) -> str:
    """The JSON of a return stored by xlperf before version 2 (``checked_json``: values, scores,
    notes; ``record_json``: projects, indicators, total score and grade; identity in columns)."""
    record = json.loads(record_json) if record_json else {}
    total = record.get("total_score")
    summary = _dumps({"form": form, "form_version": form_version, "unit": unit, "year": year,
                      "total_score": Decimal(str(total)) if isinstance(total, int | float) else None,
                      "grade": record.get("grade"), "projects": record.get("projects") or [],
                      "indicators": record.get("indicators") or []})
    core = checked_json if checked_json and checked_json.startswith("{") and checked_json != "{}" else (
        '{"values":{},"scores":{},"notes":[]}')
    return f"{_HEAD}{summary},{core[1:]}"


def to_version_1(text: str) -> tuple[str, str]:
    """(``checked_json``, ``record_json``) as xlperf before version 2 stored them (a ledger
    migrated back)."""
    raw, end = _decoder.raw_decode(text, len(_HEAD))
    total = _decode(raw.get("total_score"))
    record = json.dumps({"projects": raw.get("projects") or [], "indicators": raw.get("indicators") or [],
                         "total_score": None if total is None else float(total), "grade": raw.get("grade")},
                        ensure_ascii=False, separators=(",", ":"))
    return "{" + text[end + 1:], record


def _encode(value: Any) -> Any:
    """A value as JSON data: dates and Decimals tagged, containers recursed."""
    if isinstance(value, Decimal):
        return {"$n": str(value)}
    if isinstance(value, dt.datetime):
        return {"$t": value.isoformat()}
    if isinstance(value, dt.date):
        return {"$d": value.isoformat()}
    if isinstance(value, float) and not math.isfinite(value):
        return None  # not JSON
    if isinstance(value, dict):
        return {str(k): _encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def _decode(value: Any) -> Any:
    """The inverse of :func:`_encode` (lists stay lists)."""
    if isinstance(value, dict):
        if len(value) == 1:
            (tag, text), = value.items()
            if tag == "$n":
                return Decimal(text)
            if tag == "$d":
                return dt.date.fromisoformat(text)
            if tag == "$t":
                return dt.datetime.fromisoformat(text)
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


def _tag(value: Any) -> Any:
    """json's hook for what it cannot write itself: dates and Decimals (tagged), the rest as text."""
    if isinstance(value, Decimal | dt.date):
        return _encode(value)
    return str(value)


def _dumps(value: Any) -> str:
    # The C encoder with a hook for dates and Decimals is ~10x faster than walking the values
    # first; a NaN or infinity (not JSON) makes it fail, and then the walk replaces them.
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=_tag)
    except ValueError:
        return json.dumps(_encode(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False,
                          default=_tag)


def _jsonable(value: Any) -> Any:
    """A value as standard JSON holds it: NaN and infinity (a crafted file's) become null; the
    check ``NUMBER_INVALID`` says so on the cell."""
    if isinstance(value, Decimal | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
