"""The bureau's own files sent back as returns: the annotated copy of a return, a blank template.

A clerk who forwards our reply with a question attaches what we sent: the annotated copy
(``…_批注.xlsx``, :mod:`xlperf.report.annotate`) holds the unit's values again, and the blank
template reads as a return of total 0. Neither is a new version of the unit's return:

- ``ANNOTATED_COPY`` (error): the workbook says it is an annotated copy (its ``_xlperf`` sheet's
  ``copy`` row), or carries the annotated copy's first sheet "审核意见" that no form has (copies
  made before the row was written);
- ``TEMPLATE_UNFILLED`` (error): no input holds a value except those a template is issued with:
  the fields of the roles a template is prefilled with (unit, code, department, project, year,
  budget) and the values its signature says were locked.

The ledger holds a return with either finding, and the reply says why.
"""

from __future__ import annotations

import json

from xlperf.checks.base import Check, Context
from xlperf.excel.options import SUMMARY_SHEET
from xlperf.form import roles
from xlperf.form.metasheet import ANNOTATED, COPY
from xlperf.form.signature import SIGNED_ROW

ISSUED_ROLES = (roles.UNIT, roles.UNIT_CODE, roles.DEPT, roles.PROJECT, roles.YEAR, roles.BUDGET)
"""Roles whose fields a template may be issued with filled in (per unit, from declarations)."""


def annotated_copy(ctx: Context) -> None:
    marked = ctx.ret.meta.get(COPY) == ANNOTATED
    summary_sheet = SUMMARY_SHEET in ctx.ret.sheets and all(s.name != SUMMARY_SHEET for s in ctx.layout.sheets)
    if marked or summary_sheet:
        ctx.flag(None, "此文件是财政局发回的批注工作簿（首页为“审核意见”），不是报表：请在您报送的原文件中修改后重新报送")


def _issued_keys(ctx: Context) -> set[str]:
    keys = {key for role in ISSUED_ROLES for key in ctx.layout.role_keys(role)}
    try:
        signed = json.loads(ctx.ret.meta.get(SIGNED_ROW) or "{}")
    except ValueError:  # an altered signature row: SIGNATURE_MISMATCH says so
        signed = {}
    if isinstance(signed, dict) and isinstance(signed.get("values"), dict):
        keys |= {str(k) for k in signed["values"]}
    return keys


def template_unfilled(ctx: Context) -> None:
    issued = _issued_keys(ctx)
    filled = any(not (value is None or isinstance(value, str) and not value.strip())
                 for key, value in ctx.inputs.items() if key not in issued)
    if not filled:
        ctx.flag(None, "此文件是未填写的空白模板：请填写后报送")


CHECKS = (
    Check("ANNOTATED_COPY", annotated_copy),
    Check("TEMPLATE_UNFILLED", template_unfilled),
)
