"""Field roles: the spec says which field is the unit, the project, the year …; code asks for them."""

from __future__ import annotations

from pathlib import Path

import pytest

from xlperf.form.placing import layout_form
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.roles import BUDGET, DEPT, PROJECT, ROLES, UNIT, YEAR
from xlperf.form.specload import load_spec
from xlperf.form.yamlsrc import SpecError
from xlperf.model.projects import AMOUNT_UNITS, amount_in_wan, project_of, projects_of, wan_factor

ROLE_SPEC = """\
form: mini
version: "1"
title: 测试表
sheets:
  - name: 表
    columns: [10, 10, 10, 10]
    sections:
      - grid:
          - [年度, {field: y, type: year, role: year}, 单位, {field: u, role: unit}]
          - [项目, {field: p, role: project}, 金额, {field: b, type: amount, role: budget}]
"""


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mini.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_roles_are_read_from_the_spec_whatever_the_key(tmp_path: Path) -> None:
    layout = layout_form(load_spec(_spec(tmp_path, ROLE_SPEC)))
    assert [layout.role_key(r) for r in (YEAR, UNIT, PROJECT, BUDGET, DEPT)] == ["y", "u", "p", "b", None]
    project = project_of(layout, {"y": 2024.0, "u": " 甲局 ", "p": "平台", "b": 12.5})
    assert (project.unit, project.project, project.year, project.budget) == ("甲局", "平台", 2024, 12.5)


@pytest.mark.parametrize(("old", "new", "line", "words"), [
    ("role: unit}]", "role: owner}]", 9, "未知的字段角色 'owner'"),
    ("role: project}", "role: unit}", 10, "已用于字段 'u'"),
])
def test_bad_roles_are_refused_with_line_and_key(tmp_path: Path, old: str, new: str, line: int, words: str) -> None:
    text = ROLE_SPEC.replace(old, new)
    assert text != ROLE_SPEC
    with pytest.raises(SpecError) as info:
        load_spec(_spec(tmp_path, text))
    assert info.value.key == "role" and words in str(info.value)
    assert info.value.where is not None and info.value.where.line == line


def test_every_builtin_form_names_its_unit_year_and_project_on_each_project_sheet() -> None:
    for form in builtin_forms():
        layout = builtin_layout(form)
        for prefix in layout.project_prefixes():
            for role in (UNIT, YEAR, PROJECT, BUDGET):
                key = layout.role_key(role, prefix)
                assert key is not None and key.startswith(prefix), (form, prefix, role)
    assert set(ROLES) >= {UNIT, YEAR, PROJECT, BUDGET, DEPT}


def test_target_table_has_one_project_per_sheet() -> None:
    layout = builtin_layout("target_table")
    values = {"p1_project_name": "甲", "p2_project_name": "乙", "p2_year_budget": 790_000.0}
    projects = projects_of(layout, values)
    assert [(p.prefix, p.project) for p in projects] == [("p1_", "甲"), ("p2_", "乙"), ("p3_", "")]
    assert projects[1].budget == 79  # 元 → 万元


def test_one_amount_unit_table_includes_qian_yuan() -> None:
    assert set(AMOUNT_UNITS) == {"元", "千元", "万元", "亿元"}
    assert amount_in_wan(250.0, "千元") == 25
    assert [wan_factor(u) for u in ("元", "千元", "万元", "亿元", "两")] == [0.0001, 0.1, 1.0, 10000.0, 1.0]
