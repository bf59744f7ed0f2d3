"""WRONG_TYPE: a number or date field holding text; what was typed, shown so it can be seen.

The message quotes what the cell holds with its invisible parts made visible (a space as ␠, a
line break as ↵, a tab as ⇥) and names full-width characters (４．６８), because those are
usually the whole problem: " 4.68 " looks like 4.68. A correction is suggested only when it is
certain: spaces around a number, full-width digits, a unit after it (40万元), thousands
separators in their places (1,234.5). ``4,68`` (a decimal comma? a slip?) or ``4 68`` get none.

A wrong-typed value feeds no figure and no other check (:mod:`xlperf.checks.taint`): the
checker takes the keys :func:`wrong_typed_keys` returns out of the recomputation.

A date typed as text that is certainly a date (``2022.1.1`` as seed 000 writes them,
``2022年1月1日``, ``2022/1/1``, ``20220101``) is read as that date (:func:`text_dates`, before any
check runs, so the date checks see it) with ``DATE_AS_TEXT`` (warning) at the cell; text that is
not a date (``2022.13.1``, ``明年``) stays ``WRONG_TYPE``.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterator, Mapping
from decimal import Decimal, InvalidOperation

from xlperf.checks.base import Check, Context
from xlperf.checks.fields import DATE_FORMAT_HINT, NUMERIC_TYPES, amount_unit, input_fields
from xlperf.form.layout import FormLayout, per_layout
from xlperf.form.spec import Field
from xlperf.form.yamlsrc import Where
from xlperf.model.scoredrows import numeric_text_cells, numeric_text_keys
from xlperf.model.values import (
    as_number,
    is_blank,
    show,
    show_amount,
    show_percent,
    unusable_number,
)

_UNIT_SUFFIX = re.compile(r"(万元|元|%)$")
# A number typed with a unit: what to multiply it by for the form's amount unit.
_UNIT_FACTORS = {("万元", "元"): 10_000.0, ("元", "万元"): 0.0001}
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_GROUPED_NUMBER = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DATE_TEXT = re.compile(r"^(\d{4})\s*[./\-年]\s*(\d{1,2})\s*[./\-月]\s*(\d{1,2})\s*日?$")
_DATE_DIGITS = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_SHOWN_AS = {" ": "␠", "\u00a0": "␠", "\u3000": "␠", "\t": "⇥", "\n": "↵", "\r": ""}
MAX_SHOWN = 60
_NOWHERE = Where("", 0)


def _problem(fld: Field, value: object) -> str | None:
    """What is wrong with the type of ``value`` in ``fld``: "date", "number", "integer" or None."""
    if is_blank(value) or fld.key.endswith("_score"):  # typed scores: scores.SCORE_NOT_NUMBER
        return None
    if isinstance(value, str):  # the common case answered first: text is never a date nor a number here
        return "date" if fld.type == "date" else "number" if fld.type in NUMERIC_TYPES else None
    if unusable_number(value):
        return None  # fields.NUMBER_INVALID
    if fld.type == "date":
        return None if isinstance(value, dt.date) else "date"
    if fld.type not in NUMERIC_TYPES:
        return None
    number = as_number(value)
    if number is None:
        return "number"
    if fld.type in ("integer", "year") and not number.is_integer():
        return "integer"
    return None


def wrong_typed_keys(layout: FormLayout, inputs: Mapping[str, object]) -> set[str]:
    """Keys of the inputs WRONG_TYPE flags: they must feed no figure and no other check."""
    return {fld.key for fld in _typed_fields(layout)
            if (value := inputs.get(fld.key)) is not None and _problem(fld, value)} | numeric_text_keys(layout, inputs)


@per_layout
def _typed_fields(layout: FormLayout) -> tuple[Field, ...]:
    """The input fields whose values WRONG_TYPE looks at (numbers and dates), listed once per form."""
    return tuple(f for f in layout.inputs() if f.type in NUMERIC_TYPES or f.type == "date")


def text_dates(layout: FormLayout, inputs: Mapping[str, object]) -> dict[str, dt.date]:
    """Date fields holding text that is certainly a date, with the date meant."""
    found = {}
    for fld in _typed_fields(layout):
        value = inputs.get(fld.key)
        if fld.type == "date" and isinstance(value, str) and (meant := date_meant(value)) is not None:
            found[fld.key] = meant
    return found


# -- showing what was typed -------------------------------------------------------------------
def visible(text: str) -> str:
    """``text`` in quotes with spaces, tabs and line breaks made visible."""
    shown = "".join(_SHOWN_AS.get(ch, ch) for ch in text[:MAX_SHOWN])
    return f"“{shown}{'…' if len(text) > MAX_SHOWN else ''}”"


def _full_width(text: str) -> list[str]:
    return list(dict.fromkeys(ch for ch in text if unicodedata.east_asian_width(ch) == "F"
                              and unicodedata.normalize("NFKC", ch) != ch))


def typed(value: object) -> str:
    """What a cell holds, as a clerk should see it in a message, with what is odd about it."""
    if not isinstance(value, str):
        return f"“{show(value)}”"
    notes = []
    blank = tuple(_SHOWN_AS)
    if value.startswith(blank) or value.endswith(blank):
        notes.append("前后有空格")
    if any(ch in _SHOWN_AS for ch in value.strip()):
        notes.append("中间有空格或换行")
    if "\u3000" in value:
        notes.append("含全角空格")
    wide = [ch for ch in _full_width(value) if ch != "\u3000"]
    if wide:
        notes.append("含全角字符 " + " ".join(wide) + "，应为半角")
    if any(ch in _SHOWN_AS for ch in value):
        notes.append("␠ 表示空格")
    return visible(value) + (f"（{'；'.join(notes)}）" if notes else "")


# -- what was meant, when certain -------------------------------------------------------------
def number_meant(text: str, fld: Field, unit: str) -> float | None:
    """The number a clerk certainly meant by text typed in a number cell (" 4.68 ", "４．６８",
    "1,000", "40万元", "95%"); None when it is not certain ("4,68", "4 68", "约5")."""
    t = unicodedata.normalize("NFKC", text).strip()
    m = _UNIT_SUFFIX.search(t)
    suffix = m.group(1) if m else ""
    t = t[: len(t) - len(suffix)].strip()
    if _GROUPED_NUMBER.fullmatch(t):
        t = t.replace(",", "")
    elif not _PLAIN_NUMBER.fullmatch(t):
        return None
    try:
        number = float(Decimal(t))
    except (InvalidOperation, ValueError):
        return None
    if suffix == "%":
        return number / 100 if fld.type == "percent" else None
    if suffix and fld.type == "amount":
        number *= _UNIT_FACTORS.get((suffix, unit), 1.0)
    return number


def date_meant(value: object) -> dt.date | None:
    """The date a clerk meant by "2019.1.1", "2019/01/01", "2019年1月1日" or 20190101."""
    text = unicodedata.normalize("NFKC", show(value)).strip()
    m = _DATE_TEXT.match(text) or _DATE_DIGITS.match(text)
    if not m:
        return None
    try:
        return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def _number_advice(fld: Field, value: object, unit: str) -> str:
    meant = number_meant(value, fld, unit) if isinstance(value, str) else None
    if fld.type == "percent":
        base = "请直接输入数值，如 95%（单元格按百分比显示），不要输入文字或空格"
        return base + (f"；应为 {show_percent(meant)}" if meant is not None else "")
    if fld.type in ("integer", "year"):
        base = "请输入整数" + ("（四位年度，如 2024）" if fld.type == "year" else "")
    elif fld.type == "amount":
        base = f"请输入数值金额（单位{unit}，不要带单位、文字或空格）"
    else:
        base = "请输入数值，不要带单位、文字或空格"
    if meant is None:
        return base
    shown = show_amount(meant, unit) if fld.type == "amount" else show(meant)
    return f"{base}；应为 {shown}"


def _fields(ctx: Context) -> Iterator[tuple[Field, object, str]]:
    for fld in input_fields(ctx, *NUMERIC_TYPES, "date"):
        value = ctx.inputs.get(fld.key)
        problem = _problem(fld, value)
        if problem:
            yield fld, value, problem


def wrong_type(ctx: Context) -> None:
    unit = amount_unit(ctx.layout)
    for fld, value, problem in _fields(ctx):
        if problem == "date":
            meant = date_meant(value)
            advice = f"应改为 {meant.isoformat()}（{DATE_FORMAT_HINT}）" if meant else DATE_FORMAT_HINT
            ctx.flag(fld.key, f"“{fld.label}”填写的{typed(value)}不是日期：{advice}",
                     expected="日期（年-月-日）", found=value)
        elif problem == "number":
            ctx.flag(fld.key, f"“{fld.label}”应填数字，现填的是文字{typed(value)}：{_number_advice(fld, value, unit)}"
                              "。此项改正前，与它有关的合计、执行率和得分都无法计算",
                     expected="数字", found=value)
        else:
            ctx.flag(fld.key, f"“{fld.label}”应为整数，现填 {show(value)}：{_number_advice(fld, None, unit)}",
                     expected="整数", found=value)


def numeric_row_text(ctx: Context) -> None:
    """Text in the 指标值 or 完成值 of a row whose 指标性质 is an operator (a real return typed
    完成 as the 完成值 of 成本控制数 ≤ 30 万元): the row score needs the number."""
    for key, row in numeric_text_cells(ctx.layout, ctx.inputs).items():
        value = ctx.inputs.get(key)
        label = ctx.place(key)[2]
        meant = number_meant(str(value), Field(key, label, "number", _NOWHERE), amount_unit(ctx.layout))
        hint = f"；应为 {show(meant)}" if meant is not None else ""
        ctx.flag(key, f"“{label}”应填数字（本行{row.table.label('op')}为“{show(row.op)}”，是定量指标），"
                      f"现填的是文字{typed(value)}：请直接填写数值{hint}，计量单位填在“{row.table.label('unit')}”列；"
                      f"定性指标请把{row.table.label('op')}改为“定性”。此项改正前，本行得分和总分都无法计算",
                 expected="数字", found=value)


def date_as_text(ctx: Context) -> None:
    for fld in input_fields(ctx, "date"):
        typed_text, meant = ctx.ret.values.get(fld.key), ctx.inputs.get(fld.key)
        if isinstance(typed_text, str) and isinstance(meant, dt.date):
            ctx.flag(fld.key, f"“{fld.label}”的日期是按文字填写的{typed(typed_text)}，已按 {meant.isoformat()} 读取；"
                              f"{DATE_FORMAT_HINT}（按文字填写的日期不能参与计算和排序）",
                     expected=meant.isoformat(), found=typed_text)


CHECKS: tuple[Check, ...] = (
    Check("WRONG_TYPE", wrong_type),
    Check("WRONG_TYPE", numeric_row_text),
    Check("DATE_AS_TEXT", date_as_text),
)
