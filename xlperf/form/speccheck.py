"""Authoring help (``xlperf form check``): every problem of a spec, then what its template holds.

:func:`check_spec` loads a spec as :func:`xlperf.form.specload.load_spec` does, but goes on after
a problem where it can: a section, a consistency rule or a form-level setting that is wrong is
reported and left out, and the rest is still read (so one run lists the problems of every
section, not only the first). Unresolved references are all listed. A spec without problems is
laid out as the template will be (placement problems are reported the same way), and
:func:`summary` describes it: sheets, input fields, computed cells with their formulas, rules,
the roles and form-level settings it has and lacks.

Each problem is said in Chinese and English (:func:`english`): the messages are Chinese, most
with the English in brackets; for the others the English names the kind of problem and the key.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.form import specfacts
from xlperf.form.formulas import template_formulas
from xlperf.form.layout import FormLayout
from xlperf.form.placing import layout_form
from xlperf.form.roles import ROLES
from xlperf.form.spec import (
    Consistency,
    FormSpec,
    ScorecardSection,
    Section,
    TableSection,
    TitleSection,
)
from xlperf.form.specload import _Builder
from xlperf.form.specprogress import PROGRESS_KEYS
from xlperf.form.yamlsrc import SpecError, Where, load_yaml

__all__ = ["SpecCheck", "check_spec", "english", "problem_lines", "summary"]

_BRACKETED = re.compile(r"\(([A-Za-z][A-Za-z ,'/_-]*)\)")
_PHRASES = (
    # specific phrases first: the first found names the problem
    ("不认识的键", "unknown key"), ("缺少必填项", "missing key"), ("不存在的键", "missing reference"),
    ("引用了不存在的列", "refers to a column that does not exist"), ("重复", "duplicate"),
    ("键只能用", "a key is lower-case letters, digits and _, starting with a letter"),
    ("表单编号只能用", "a form id is lower-case letters, digits and _"),
    ("至少需要一个工作表", "at least one sheet is needed"),
    ("每个等级应为", "each grade band is [lower bound, name]"), ("等级下限应从高到低", "grade bands go from high to low"),
    ("应为 error 或 warning", "must be error or warning"), ("须含 {n}", "a repeated sheet's name contains {n}"),
    ("每个分区应为", "a section is title, subtitle, note, grid, table or scorecard"),
    ("行列表", "a grid is a list of rows"), ("单元格列表", "a grid row is a list of cells"),
    ("字段需要 label", "a field needs a label"), ("单元格需要", "a cell needs label, note, header, field or calc"),
    ("未知的字段类型", "unknown field type"), ("只有 type: choice", "only a choice field has choices"),
    ("未知的字段角色", "unknown role"), ("已用于字段", "a role is given to one field only"),
    ("应为键列表", "expected a list of keys"), ("未知的计算类型", "unknown calc kind"),
    ("分组应给出固定列", "a group gives the values of the fixed columns"), ("未知的列角色", "unknown column role"),
    ("评分表必须有", "a scorecard needs label, weight and score columns"), ("之和", "weights do not add up"),
    ("分值应大于 0", "a weight must be above 0"), ("[[说明, 分值]", "parts are [[text, weight], ...]"),
    ("规则需要目标值", "the rule needs a target"), ("应为 number 或 percent", "must be number or percent"),
    ("超出表格宽度", "the row is wider than the sheet"), ("rowspan 超出", "rowspan goes past the section"),
    ("各列共", "the columns do not fill the sheet's width"),
    ("最后两列须为", "a scorecard's last two columns are weight and score"),
    ("须有 l1_score", "a scorecard with an l1 column needs an l1_score column"),
    ("需要评分表有 value", "the rule needs the scorecard's value column"),
    ("0 到 1 之间的比率", "a ratio between 0 and 1"), ("prefill_from 应写", "give table or goals, one of them"),
    ("带 groups 的指标表", "must name a grouped indicator table"),
    ("level2 应为", "a mapping of declared 二级 to this table's 二级"), ("评分行键的列表", "a list of score row keys"),
    ("evidence_input 和目标值", "goals are score rows with evidence_input and a target"),
    ("未知的指标体系", "unknown indicator framework"), ("level 应为 1", "level is 1 or 2"),
    ("选项应为", "a choice list is a name, a list, or {indicator_levels, level}"),
    ("应为文本", "expected text"), ("应为数字", "expected a number"), ("应为映射", "expected a mapping"),
    ("应为 true/false", "expected true or false"), ("YAML 语法错误", "YAML syntax error"),
    ("未知的", "unknown name"),
)


def english(error: SpecError) -> str:
    """The problem in English: the message's own bracketed English, else the kind of problem."""
    found = _BRACKETED.findall(error.message)
    what = "; ".join(found) or next((en for zh, en in _PHRASES if zh in error.message), "invalid value")
    place = f"{error.where.file} line {error.where.line}" if error.where else "the spec"
    return f"{what} at key '{error.key}' ({place})"


@dataclass
class SpecCheck:
    path: Path
    problems: list[SpecError] = field(default_factory=list)
    spec: FormSpec | None = None
    layout: FormLayout | None = None


class _Collecting(_Builder):
    """The spec builder, recording a problem and going on where a part can be left out."""

    def __init__(self, path: Path, problems: list[SpecError]) -> None:
        super().__init__(path)
        self.problems = problems
        self.sections_failed = False

    def section(self, raw: Any, where: Where) -> Section:
        try:
            return super().section(raw, where)
        except SpecError as exc:
            self.problems.append(exc)
            self.sections_failed = True
            return TitleSection("", "note", where)

    def _reference(self, exc: SpecError) -> SpecError:
        if not self.sections_failed:
            return exc
        # a key of a section left out above is missing too: say so rather than drop the problem
        return SpecError(exc.where, exc.key, exc.message + MAYBE_LEFT_OUT)

    def consistency(self, raw: Any, where: Where) -> list[Consistency]:
        try:
            return super().consistency(raw, where)
        except SpecError as exc:
            self.problems.append(self._reference(exc))
            return []

    def check_references(self) -> None:
        for full, where, what in self.references:
            if full not in self.keys:
                self.problems.append(self._reference(
                    SpecError(where, full, f"{what} 引用了不存在的键 (missing reference)")))


MAYBE_LEFT_OUT = "（也可能是定义它的分区有上面列出的问题而未能读入）"


def check_spec(path: Path) -> SpecCheck:
    """Every problem of the spec at ``path`` that can be found in one pass, and its layout when
    there is none."""
    out = SpecCheck(path)
    try:
        spec = _Collecting(path, out.problems).form(load_yaml(path))
    except SpecError as exc:
        out.problems.append(exc)
        return out
    if out.problems:
        return out
    out.spec = spec
    try:
        out.layout = layout_form(spec)
    except SpecError as exc:
        out.problems.append(exc)
    return out


def problem_lines(result: SpecCheck) -> Iterator[str]:
    for error in sorted(result.problems, key=lambda e: e.where.line if e.where else 0):
        place = f"{error.where}" if error.where else result.path.name
        yield f"{place}  {error.key}：{error.message}"
        yield f"    {english(error)}"


def summary(layout: FormLayout) -> Iterator[str]:
    """What the template of ``layout`` will hold, in Chinese (keys and rule names as in the spec)."""
    spec = layout.spec
    yield f"表单 {spec.form_id}（版本 {spec.version}）：{spec.title}；金额单位 {spec.amount_unit}"
    inputs = layout.inputs()
    yield f"工作表 {len(layout.sheets)} 张："
    for sheet in layout.sheets:
        mine = [k for k, (name, placed) in layout.cells.items() if name == sheet.name and placed.field is not None]
        yield f"  {sheet.name}：{len(mine)} 个填报项"
    yield f"填报项 {len(inputs)} 个（键、名称、类型，* 为必填）："
    for fld in inputs:
        extra = f"，选项 {'/'.join(fld.choices)}" if fld.choices else ""
        role = f"，角色 {fld.role}" if fld.role else ""
        yield f"  {fld.key}{'*' if fld.required else ''}  {fld.label}（{fld.type}{role}{extra}）"
    formulas = template_formulas(layout)
    yield f"计算单元格（合计、执行率、得分）{len(formulas)} 个及其公式："
    for key, (formula, _) in formulas.items():
        where, placed = layout.cells[key]
        yield f"  {key}  {placed.label or key}  {where}!{xl_rowcol_to_cell(placed.row, placed.col)}  {formula}"
    yield from _rules(layout)
    yield from _roles(layout)


def _rules(layout: FormLayout) -> Iterator[str]:
    spec = layout.spec
    cards = [s for s in spec.scorecards() if isinstance(s, ScorecardSection)]
    rows = [(block, row) for card in cards for block in card.blocks for row in block.rows]
    in_cards = {row.score_key for _, row in rows}
    calcs = [c for c in layout.calcs if c.weight is not None and c.key not in in_cards]
    tables = [t for sheet in spec.sheets for t in sheet.sections if isinstance(t, TableSection) and t.points]
    points = sum(c.total_weight for c in cards) + sum(c.weight or 0 for c in calcs) + sum(t.points or 0 for t in tables)
    yield f"评分规则 {len(rows) + len(calcs) + len(tables)} 条（总分 {points:g}）："
    for block, row in rows:
        yield f"  {block.label} / {row.label}（{row.key}）：{row.kind}，分值 {row.weight:g}"
    for calc in calcs:
        yield f"  {calc.label}（{calc.key}）：{calc.kind}，分值 {calc.weight:g}"
    for table in tables:
        weight = table.scoring_column("weight")
        yield (f"  {table.title or table.key}（{table.key}）：单位自设 {table.rows} 行，每行 row_score，"
               f"“{weight}”列的权重合计应为 {table.points:g}")
    if any(c.kind == "grade" for c in layout.calcs):
        bands = "，".join(f"≥{low:g} {name}" for low, name in spec.grade_bands)
        yield f"  等次：{bands}，其余 {spec.grade_else}"
    yield f"审核公式 {len(spec.consistency)} 条："
    for rule in spec.consistency:
        yield f"  {rule.code}（{rule.severity}）：{rule.left} 不应大于 {rule.right}（{rule.message}）"


def _roles(layout: FormLayout) -> Iterator[str]:
    spec = layout.spec
    found = [r for r in ROLES if layout.role_keys(r)]
    yield "字段角色：已有 " + ("、".join(f"{r}={'/'.join(layout.role_keys(r))}" for r in found) or "无")
    missing = [r for r in ROLES if r not in found]
    yield "字段角色：没有 " + ("、".join(missing) or "无") + "（没有的角色，相应的预填和核对不做）"
    settings = {
        "file_stem": spec.file_stem or None, "declares_targets": "是" if spec.declares_targets else None,
        "amounts": ", ".join(f"{n}={k}" for n, k in spec.amounts) or None,
        "execution_rate": spec.execution_rate.calc if spec.execution_rate else None,
        "prefill_from": (spec.prefill_from.table or ",".join(spec.prefill_from.goals)) if spec.prefill_from else None,
    }
    assert tuple(settings) == specfacts.FACT_KEYS
    progress = {
        "period": f"1-{spec.period_months}月" if spec.period_months else None,
        "time_progress": f"{spec.time_progress.actual} / {spec.time_progress.budget} ≥ {spec.time_progress.share:.4g}"
        if spec.time_progress else None,
        "explain_when": "；".join(f"{r.table}.{r.column} 为 {'/'.join(r.values)} 时须填 {', '.join(r.fields)}"
                                 for r in spec.explain_when) or None,
        "tracked_items": (f"{spec.tracked_items.table}：{spec.tracked_items.done} 为 {spec.tracked_items.closed} "
                          f"即完成，{spec.tracked_items.due} 为完成时限") if spec.tracked_items else None,
    }
    assert tuple(progress) == PROGRESS_KEYS
    settings |= progress
    yield "表单级设置：已有 " + ("、".join(f"{k}: {v}" for k, v in settings.items() if v) or "无")
    yield "表单级设置：没有 " + ("、".join(k for k, v in settings.items() if not v) or "无") + \
        "（含义及没有时的做法见 README“表单级设置”）"
