"""Prefilled values of a template, checked against the fields they land in."""

from __future__ import annotations

import datetime as dt
from typing import Any

from xlperf.excel.options import TemplateError, TemplateOptions
from xlperf.form.layout import FormLayout
from xlperf.form.roles import UNIT, YEAR
from xlperf.form.rulekind import Value
from xlperf.form.spec import Field

__all__ = ["prefill_values"]


def prefill_values(layout: FormLayout, options: TemplateOptions) -> dict[str, Value | dt.datetime]:
    """Prefill values by key, checked against the fields they land in."""
    raw: dict[str, Any] = dict(options.values or {})
    fields = {f.key: f for f in layout.inputs()}
    for role, value in ((YEAR, options.year), (UNIT, options.unit)):
        if value is None:
            continue
        for candidate in layout.role_keys(role):  # on every project sheet
            raw.setdefault(candidate, value)
    values: dict[str, Value | dt.datetime] = {}
    for key, value in raw.items():
        if key not in fields:
            if not options.lock_prefilled:
                continue  # an annotated return may carry keys of formula cells: they recompute
            raise TemplateError(f"预填值中的键 '{key}' 不是表单 {layout.spec.form_id} 的输入字段")
        if options.lock_prefilled:
            values[key] = _coerce(fields[key], value)
        elif isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            values[key] = dt.datetime(value.year, value.month, value.day)
        elif value is not None and value != "":
            values[key] = value  # a return's values as typed, right or wrong, for annotation
    return values


def _coerce(fld: Field, value: Any) -> Value | dt.datetime:
    if value is None or value == "":
        return None
    if fld.type in ("amount", "number", "percent", "integer", "year"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            try:
                value = float(str(value).replace(",", ""))
            except ValueError:
                raise TemplateError(f"{fld.label}（{fld.key}）应为数字，得到 {value!r}") from None
        return value
    if fld.type == "value" and isinstance(value, int | float) and not isinstance(value, bool):
        return value  # a numeric target stays a number: the completion formula divides by it
    if fld.type == "date":
        try:
            return dt.datetime.fromisoformat(str(value))
        except ValueError:
            raise TemplateError(f"{fld.label}（{fld.key}）应为日期 YYYY-MM-DD，得到 {value!r}") from None
    if fld.type == "choice" and fld.strict_choices and str(value) not in fld.choices:
        raise TemplateError(f"{fld.label}（{fld.key}）应为 {'/'.join(fld.choices)} 之一，得到 {value!r}")
    return str(value)
