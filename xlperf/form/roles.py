"""Field roles: what a field means to the code (this is the unit's name, the project, the year …).

A field in a spec may carry ``role: unit`` etc.; code that needs "the unit's name" asks the layout
for the field of that role (:meth:`xlperf.form.layout.FormLayout.role_key`) instead of naming a
key. On a repeated project sheet (spec ``repeat``) every copy of the field has the role, its key
prefixed ``p1_``, ``p2_`` … (:data:`REPEAT_PREFIX`); a role appears at most once per sheet copy.
"""

from __future__ import annotations

import re

UNIT = "unit"
"""The reporting unit's name (填报单位)."""
UNIT_CODE = "unit_code"
"""A code identifying the unit (代码): the roster's 单位代码 goes there."""
DEPT = "dept"
"""The unit's 主管部门."""
PROJECT = "project"
"""The project's name."""
YEAR = "year"
"""The budget year (年度)."""
BUDGET = "budget"
"""The project's budget: read from a declaration, prefilled into later forms."""
NOTES = "notes"
"""Free text for anything the form has no place for (其他)."""

ROLES = (UNIT, UNIT_CODE, DEPT, PROJECT, YEAR, BUDGET, NOTES)
"""Every role a spec may give a field."""
PREFILLED = (YEAR, UNIT)
"""Roles a template may prefill on every project sheet (TemplateOptions year / unit): a value
there does not mean the unit is using that sheet."""

REPEAT_PREFIX = re.compile(r"^p\d+_")
"""Keys on a repeated sheet (one per project) carry this prefix (spec: ``repeat``)."""


def prefix_of(key: str) -> str:
    """The project-sheet prefix of a key (``p2_``), or "" on a form without repeated sheets."""
    m = REPEAT_PREFIX.match(key)
    return m.group(0) if m else ""
