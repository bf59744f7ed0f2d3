"""Issue templates to units: one per roster unit (or project), or prefilled from declarations.

- :func:`roster_templates` (``xlperf template FORM --roster ROSTER -o DIR``): one template per
  roster unit; where the roster lists projects (its optional 项目名称 column), one per project,
  except on forms with one sheet per project (spec ``repeat``: ``p1_`` … ``p3_``), where a unit's
  projects fill the sheets in roster order, three to a file (a fourth project starts a second
  file). Prefilled and locked: the unit's name (and the meta ``unit`` row), its 主管部门 where the
  form has a field with role ``dept``, its code where the form has one with role ``unit_code``
  (the built-in self-evaluation's 代码 beside 主管部门 is the only code field of the four built-in
  forms: the roster's 单位代码 goes there),
  the project name, and the year when given.
- :func:`prefilled_templates` (``template FORM --from-returns DIR``, FORM a later form: one whose
  spec does not say ``declares_targets``):
  one template per accepted declaration (:class:`~xlperf.cycle.declared.DeclarationIndex`; a
  return of a form with one sheet per project gives one per filled project sheet), its content placed by
  :func:`~xlperf.model.placement.place`; a roster, when given, adds the code and a missing 主管部门.
- :func:`plan_chained` and :func:`chained_templates` (a round that follows another in the ledger,
  :mod:`xlperf.ledger.roundtemplates`): per roster unit, one template per project with an
  accepted return in the earlier round, prefilled by the same :func:`_write_prefilled` and locked,
  for the new round's year; the units and projects without one are listed (无已通过的申报).

File names say form (its spec's ``file_stem``, else its title) and unit (and project): ``自评表_东湖区科技局.xlsx``,
``自评表_东湖区科技局_科技创新服务.xlsx``; characters Windows refuses in names are replaced by
``_``; a name already written in the same run gets the unit code (or a number) appended. Each
template is signed when a key is given (:func:`xlperf.excel.signed.write_signed_template`). One
Chinese line per file, and a line for everything left out (an indicator with no row, a
declaration not used, and why).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.cycle.declared import NOT_DECLARATION, DeclarationIndex
from xlperf.excel.signed import write_signed_template
from xlperf.excel.template import DEFAULT_PASSWORD, TemplateOptions
from xlperf.form.layout import FormLayout
from xlperf.form.roles import DEPT, PROJECT, UNIT_CODE, YEAR
from xlperf.model.declarations import Declaration
from xlperf.model.placement import place
from xlperf.read import read_return
from xlperf.read.roster import Roster, RosterUnit, normalise_name

__all__ = ["Chained", "Issued", "Passed", "chained_templates", "plan_chained", "file_stem", "prefilled_templates", "roster_templates"]

MAX_NAME = 120
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


@dataclass
class Issued:
    """What one run wrote: the files, and Chinese lines to print (one per file, and remarks)."""

    files: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    unit_files: dict[str, list[Path]] = field(default_factory=dict)
    """The prefilled files by roster unit code (a unit's mail attaches them)."""
    left_out: list[tuple[RosterUnit, str, str]] = field(default_factory=list)
    """Roster units (or projects) given no template: (unit, project or "", why in Chinese)."""
    _names: set[str] = field(default_factory=set)

    def target(self, outdir: Path, parts: Sequence[str], suffix: str) -> Path:
        """A file name from ``parts`` not yet written in this run (``suffix``, then a number, added)."""
        base = _safe("_".join(p for p in parts if p))
        candidates = [base, *([f"{base}_{_safe(suffix)}"] if suffix else []), *(f"{base}_{n}" for n in range(2, 10_000))]
        name = next(c for c in candidates if c.casefold() not in self._names)
        self._names.add(name.casefold())
        return outdir / f"{name}.xlsx"


def file_stem(layout: FormLayout) -> str:
    """The short form name that starts file names (spec ``file_stem``; without it, the title)."""
    return layout.spec.stem


def _safe(name: str) -> str:
    name = _UNSAFE.sub("_", "".join(name.split())).strip(". ")
    return name[:MAX_NAME] or "模板"


def _prefixes(layout: FormLayout) -> list[str]:
    """The project sheets' prefixes; [] on a form without project sheets."""
    return [p for p in layout.project_prefixes() if p]


def _unit_values(layout: FormLayout, unit: RosterUnit, prefixes: Sequence[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for prefix in prefixes or [""]:
        for role, value in ((UNIT_CODE, unit.code), (DEPT, unit.dept)):
            if (key := layout.role_key(role, prefix)) is not None and value:
                values[key] = value
    return values


def _signed(key: bytes | None) -> str:
    return "，已签名" if key is not None else ""


def roster_templates(layout: FormLayout, roster: Roster, outdir: Path, *, year: int | None = None,
                     password: str = DEFAULT_PASSWORD, key: bytes | None = None,
                     progress: Callable[[int, int], None] | None = None) -> Issued:
    """One template per roster unit (or project), unit fields prefilled and locked;
    ``progress`` hears (units done, units in all) after each unit."""
    out = Issued()
    stem = file_stem(layout)
    prefixes = _prefixes(layout)
    for done, unit in enumerate(roster.units, 1):
        projects: list[str] = list(getattr(unit, "projects", ()) or ())
        if not projects:
            batches: list[list[str]] = [[]]
        elif prefixes:
            batches = [projects[i:i + len(prefixes)] for i in range(0, len(projects), len(prefixes))]
        else:
            batches = [[p] for p in projects]
        for i, batch in enumerate(batches, 1):
            values = _unit_values(layout, unit, prefixes)
            for prefix, project in zip(prefixes or [""], batch, strict=False):
                if (project_key := layout.role_key(PROJECT, prefix)) is not None:
                    values[project_key] = project
            if prefixes:
                parts = [stem, unit.name] + ([str(i)] if len(batches) > 1 else [])
            else:
                parts = [stem, unit.name, *batch]
            path = out.target(outdir, parts, unit.code)
            write_signed_template(layout, path, TemplateOptions(password=password, year=year, unit=unit.name,
                                                                values=values), key, read_back=read_return)
            out.files.append(path)
            out.unit_files.setdefault(unit.code, []).append(path)
            about = f"，项目：{'、'.join(batch)}" if batch else ""
            out.lines.append(f"已生成 {path.name}（{unit.name}{about}{_signed(key)}）")
        if progress is not None:
            progress(done, len(roster.units))
    return out


def _note_cell(layout: FormLayout, key: str | None) -> tuple[str, str] | None:
    if key is None or key not in layout.cells:
        return None
    sheet, row, col = layout.address(key)
    return sheet, xl_rowcol_to_cell(row, col)


def _write_prefilled(out: Issued, layout: FormLayout, decl: Declaration, outdir: Path, *,
                     unit: RosterUnit | None, password: str, key: bytes | None, year: int | None = None) -> Path:
    """One template prefilled from ``decl`` (placed by :func:`place`), locked and signed; the
    roster's code and a missing 主管部门 from ``unit``; ``year`` (a chained round's) instead of the
    declared one. Its line, and a line for each indicator left out, go to ``out``."""
    placement = place(layout, decl)
    values: dict[str, Any] = dict(placement.values)
    for cell_key, value in (_unit_values(layout, unit, []) if unit is not None else {}).items():
        values.setdefault(cell_key, value)
    year = year if year is not None else decl.year
    if (year_key := layout.role_key(YEAR)) is not None and year is not None:
        values[year_key] = year
    cell = _note_cell(layout, placement.note_key)
    comment = placement.comment
    annotations = {cell: comment} if cell and comment else None
    path = out.target(outdir, [file_stem(layout), decl.unit, decl.project], str(year or ""))
    write_signed_template(layout, path, TemplateOptions(
        password=password, year=year, unit=decl.unit, values=values,
        number_formats=placement.number_formats, annotations=annotations), key, read_back=read_return)
    out.files.append(path)
    if unit is not None:
        out.unit_files.setdefault(unit.code, []).append(path)
    placed = len(placement.rows) + len(placement.goals)
    out.lines.append(f"已生成 {path.name}（{decl.unit}，{decl.project}，{year or '—'} 年，"
                     f"据 {decl.file.name} 预填指标 {placed} 项{_signed(key)}）")
    for indicator, why in placement.unplaced:
        where = "，已在“其他”栏批注请单位说明其完成情况" if annotations else ""
        out.lines.append(f"    未放入：{indicator.title} {indicator.text}（{why}）{where}")
    if placement.unused:
        names = "、".join(i.name for i in placement.unused)
        out.lines.append(f"    其余 {len(placement.unused)} 项指标不在本表的绩效目标行中：{names}")
    out.lines += [f"    {note}" for note in placement.notes]
    return path


def prefilled_templates(layout: FormLayout, index: DeclarationIndex, outdir: Path, *,
                        year: int | None = None, roster: Roster | None = None,
                        password: str = DEFAULT_PASSWORD, key: bytes | None = None) -> Issued:
    """One template per accepted declaration of ``index`` (of ``year`` when given), prefilled and locked."""
    out = Issued()
    for decl in index.declarations:
        if year is not None and decl.year != year:
            continue
        unit = roster.find(decl.unit) if roster is not None else None
        _write_prefilled(out, layout, decl, outdir, unit=unit, password=password, key=key)
    others = [path for path, why in index.skipped if why == NOT_DECLARATION]
    out.lines += [f"未使用 {path.name}：{why}" for path, why in index.skipped if why != NOT_DECLARATION]
    if others:
        out.lines.append(f"另有 {len(others)} 份其他表单的文件（不是绩效目标申报表），未使用")
    if roster is not None:
        done = {d.unit for d in index.declarations if year is None or d.year == year}
        missing = [u.name for u in roster.units if not any(roster.find(d) is u for d in done)]
        if missing:
            out.lines.append(f"名单中没有已通过审核申报表的单位（{len(missing)} 个）：{'、'.join(missing)}")
    return out


Passed = tuple[Declaration, Declaration | None]
"""A project with an accepted return in the round followed: (that return's project, the
declaration giving the template's content; None when there is none to give)."""


@dataclass(frozen=True)
class Chained:
    """What a chained round issues: the templates to write, and who gets none."""

    issue: list[tuple[RosterUnit, Declaration]]
    """(roster unit, the declaration its template is prefilled from), in roster order."""
    left_out: list[tuple[RosterUnit, str, str]]
    """(roster unit, project or "", why in Chinese), in roster order."""

    def only(self, code: str) -> Chained:
        """What unit ``code`` is issued (its own templates)."""
        return Chained([i for i in self.issue if i[0].code == code], [x for x in self.left_out if x[0].code == code])


def plan_chained(roster: Roster, passed: Sequence[Passed], *, missing: str, undeclared: str) -> Chained:
    """For each roster unit, one template per project it has in ``passed`` (where the roster lists
    its projects: one per listed project); a listed project, or a unit, with nothing in ``passed``
    is left out with ``missing``, one whose declaration is None with ``undeclared``."""
    by_unit: dict[str, list[Passed]] = {}
    for pair in passed:
        owner = roster.find(pair[0].unit)
        if owner is not None:
            by_unit.setdefault(owner.code, []).append(pair)
    plan = Chained([], [])
    for unit in roster.units:
        mine = by_unit.get(unit.code, [])
        wanted: list[tuple[str, Passed | None]]
        if unit.projects:
            found = {normalise_name(g.project): (g, c) for g, c in reversed(mine)}
            wanted = [(p, found.get(normalise_name(p))) for p in unit.projects]
        else:
            wanted = [(g.project, (g, c)) for g, c in mine] or [("", None)]
        for project, item in wanted:
            if item is None or item[1] is None:
                plan.left_out.append((unit, project, missing if item is None else undeclared))
            else:
                plan.issue.append((unit, item[1]))
    return plan


def chained_templates(layout: FormLayout, plan: Chained, outdir: Path, *, year: int,
                      password: str = DEFAULT_PASSWORD, key: bytes | None = None) -> Issued:
    """A chained round's templates (:func:`plan_chained`), prefilled and locked, for ``year``: one
    line per file, then one per unit or project left out."""
    out = Issued()
    for unit, decl in plan.issue:
        _write_prefilled(out, layout, decl, outdir, unit=unit, password=password, key=key, year=year)
    for unit, project, why in plan.left_out:
        out.left_out.append((unit, project, why))
        out.lines.append(f"未生成：{unit.name}" + (f"，项目“{project}”" if project else "") + f"：{why}")
    return out
