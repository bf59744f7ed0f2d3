"""A target or actual value as written in an indicator row: operator, number and unit, or text.

``≥95%``, ``不少于12次``, ``12台``, ``95%以上`` and a number cell holding 0.95 all parse; a value
that is not an operator, a number and a known unit (``2019年全年``, ``规范``) is qualitative text.
Operators come from :mod:`xlperf.form.operators`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection
from dataclasses import dataclass
from functools import lru_cache

from xlperf.form.operators import OPERATORS, SUFFIXES, WRITTEN
from xlperf.model.values import compact, display, is_blank
from xlperf.read import Value

__all__ = ["EXTRA_UNITS", "NOTHING_DONE", "NOT_DONE_PHRASES", "Parsed", "normalise_op", "parse_value", "says_not_done",
           "says_nothing_done"]

EXTRA_UNITS = (
    "个百分点", "百分点", "万人次", "万人", "万户", "万亩", "万元", "亿元", "元", "台", "套", "台套",
    "户", "所", "篇", "本", "批", "件", "座", "处", "辆", "张", "册", "人天", "家次", "课时", "学时",
    "小时", "分钟", "周", "季度", "亩", "公顷", "平方米", "米", "公里", "千米", "吨", "千瓦", "个",
    "家", "人", "人次", "项", "次", "场", "天", "日", "月", "年", "期", "份", "条", "类",
)
"""Units recognised inside a value (12台, 95个百分点) besides the table's unit choices. Only a
known unit makes ``12xx`` numeric, so that text like ``2019年全年`` stays qualitative."""

NOTHING_DONE = ("无", "否", "没有", "0")
"""An actual value that is, as a whole, one of these says nothing was done (against a number it
counts as 0, so ≤ 5次投诉 with 无 is met)."""
NOT_DONE_PHRASES = ("未完成", "未开展", "未实施", "未达成", "未达到", "未达标", "没有开展", "没有完成", "尚未")
"""An actual value containing one of these says the target was not reached (``部分未完成``
too); there is no amount in it to compare. The one list every check reads: the indicator
table's deviations and the completion score's plausibility must agree on what a miss is."""


def says_nothing_done(text: str) -> bool:
    return compact(text) in NOTHING_DONE


def says_not_done(text: str) -> bool:
    """Whether an actual written as ``text`` says its target was not reached."""
    words = compact(text)
    return words in NOTHING_DONE or any(phrase in words for phrase in NOT_DONE_PHRASES)


_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|[+-]?\.\d+")
_SCALE = {"%": 100.0, "‰": 1000.0}
_SEPARATORS = "(（[【,，;；:：/、"

@dataclass(frozen=True)
class Parsed:
    """A target or actual value: operator, number and unit, or a qualitative text."""

    op: str | None
    """Operator written inside the value, normalised to full width (≥ ＞ ＝ ≤ ＜)."""
    number: float | None
    """The number (a percentage as a fraction: 95% → 0.95); None for qualitative text."""
    unit: str
    """Unit written inside the value ('' when none)."""
    text: str
    """The value as shown to the clerk."""

    @property
    def quantitative(self) -> bool:
        return self.number is not None



def normalise_op(value: Value) -> str | None:
    """An operator cell's value as one of ≥ ＞ ＝ ≤ ＜, or None (blank or not an operator)."""
    if not isinstance(value, str):
        return None
    text = compact(value)
    if text in OPERATORS:
        return text
    return next((op for word, op in WRITTEN if text == word), None)


def parse_value(value: Value, units: Collection[str] = (), lenient: bool = False) -> Parsed | None:
    """Parse a target or actual value; None when blank.

    ``units`` are the units recognised after a number besides ``%``/``‰`` and EXTRA_UNITS.
    ``lenient`` (for actuals) accepts a number followed by a remark: ``5.09%（按…计算）``.
    """
    if type(value) is str and isinstance(units, frozenset | tuple):
        # Texts repeat from return to return (targets of a template); Parsed is immutable.
        return _parse_text(value, units, lenient)
    return _parse(value, units, lenient)


@lru_cache(maxsize=8192)
def _parse_text(value: str, units: Collection[str], lenient: bool) -> Parsed | None:
    return _parse(value, units, lenient)


def _parse(value: Value, units: Collection[str], lenient: bool) -> Parsed | None:
    if is_blank(value):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            number: float | None = float(value)
        except OverflowError:
            number = None
        if number is not None and not math.isfinite(number):
            number = None
        return Parsed(None, number, "", display(value))
    text = display(value)
    if isinstance(value, dt.date):
        return Parsed(None, None, "", text)
    rest = compact(text)
    op = None
    for word, normal in WRITTEN:
        if rest.startswith(word):
            op, rest = normal, rest[len(word):]
            break
    for word, normal in SUFFIXES:
        if rest.endswith(word) and len(rest) > len(word):
            op, rest = op or normal, rest[: -len(word)]
            break
    match = _NUMBER.match(rest)
    if match is None:
        return Parsed(None, None, "", text)
    tail = rest[match.end():]
    unit = next((u for u in _longest_first(frozenset(units)) if tail.startswith(u)), "")
    tail = tail[len(unit):]
    if tail and not (lenient and tail[0] in _SEPARATORS):
        return Parsed(None, None, "", text)
    number = float(match.group().replace(",", "")) / _SCALE.get(unit, 1.0)
    return Parsed(op, number, unit, text)


@lru_cache(maxsize=32)
def _longest_first(units: frozenset[str]) -> tuple[str, ...]:
    # Longest first, so that 万元 wins over 元 and 人次 over 人.
    return tuple(sorted({*_SCALE, *units, *EXTRA_UNITS}, key=len, reverse=True))
