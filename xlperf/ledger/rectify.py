"""整改 rounds (issue 24, "整改 tracked to the end"): ``round new NAME --rectify EARLIER`` opens
a round for the projects of EARLIER that need fixing, and keeps what each must fix.

**Which projects.** Those whose current return in EARLIER (the one its status shows; a voided
one never) counts (通过, as in the roll-up) and is graded 中 or 差 (:data:`WEAK_GRADES`, selection
``grade``: a return the checks rejected has no grade that stands), or was sent back by staff with
a note (退回, selection ``returned``); by default both.

**The roster.** Derived from EARLIER's: each selected unit with its code, name, 主管部门,
contact and addresses as EARLIER's roster has them, listing the selected projects (so the
status, the returns and the issued forms go project by project).

**The problems** of a project, one :class:`~xlperf.ledger.models.RectifyItem` each, in this
order: its grade when selected for it (评价等次为“中”（总分 74.50）…), the staff's notes when its
return was sent back (every 退回 decision on that return), then the findings of its return a
person reads (each finding's Chinese message, with sheet and cell; not those about the file
itself: :data:`NOT_PROBLEMS` and the readers' findings). They are kept when the round
is made: what the issued 整改 forms list row by row, whatever EARLIER records later. A form has
as many rows as its spec's table; problems beyond them share its last row.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.findings.catalogue import READING, code
from xlperf.form.registry import Known, known_forms
from xlperf.form.spec import FormSpec, TableSection
from xlperf.ledger.current import current_returns, rolled_up
from xlperf.ledger.db import LedgerError
from xlperf.ledger.models import (
    FOLLOWS_RECTIFY,
    RETURN,
    VOID,
    Decision,
    FindingRow,
    RectifyItem,
    Round,
    Submission,
    Unit,
)
from xlperf.ledger.rounds import create_round
from xlperf.read.roster import EMAIL_SEPARATORS, Roster, RosterUnit

__all__ = ["GRADE", "RETURNED", "SELECTIONS", "WEAK_GRADES", "Target", "open_rectify_round", "parse_selection",
           "rectify_form", "rectify_targets", "tracked_table"]

WEAK_GRADES = ("中", "差")
"""The grades a 整改 round takes up (the two lowest of the national four-grade scale)."""
GRADE, RETURNED = "grade", "returned"
SELECTIONS = {GRADE: "等次为中或差", RETURNED: "被财政局退回并附有意见"}
"""What ``--select`` may name, as people read it."""


@dataclass(frozen=True)
class Target:
    """A project of the earlier round to be fixed, with its problems (Chinese, one line each)."""

    unit: Unit
    project: str
    submission: int
    grade: str | None
    score: float | None
    problems: tuple[str, ...]
    why: tuple[str, ...]
    """Which selections took it (:data:`SELECTIONS` values)."""


def parse_selection(text: str) -> tuple[str, ...]:
    """``grade,returned`` → the selections named; LedgerError naming what is not one."""
    names = tuple(dict.fromkeys(p.strip() for p in text.replace("，", ",").split(",") if p.strip()))
    unknown = [n for n in names if n not in SELECTIONS]
    if unknown or not names:
        raise LedgerError(f"整改范围“{text}”无效：可选 " + "、".join(f"{k}（{v}）" for k, v in SELECTIONS.items())
                          + "，用逗号连接")
    return names


def rectify_form(form: Known | None = None) -> Known:
    """The 整改 form: ``form`` when given (it must track items, spec ``tracked_items``), else the one
    form xlperf knows that does (the built-in, or a bureau's copy replacing it)."""
    if form is not None:
        if form.spec.tracked_items is None:
            raise LedgerError(f"表单“{form.spec.title}”不是整改表单：规格中没有 tracked_items（逐项跟踪的问题表）")
        return form
    tracking = [k for k in known_forms().values() if k.spec.tracked_items is not None]
    if len(tracking) != 1:
        names = "、".join(k.spec.form_id for k in tracking) or "无"
        raise LedgerError(f"请用 --form 指明整改表单（逐项跟踪问题的表单：{names}）")
    return tracking[0]


NOT_PROBLEMS = frozenset({"CACHE_MISSING"})
"""Findings about how the file was saved, not about the project: nothing to rectify (the
readers' findings, source :data:`~xlperf.findings.catalogue.READING`, neither)."""


def _problem(row: FindingRow) -> bool:
    return row.code not in NOT_PROBLEMS and code(row.code).source != READING


def _finding_text(row: FindingRow) -> str:
    where = "!".join(p for p in (row.sheet, row.cell) if p)
    label = f"{row.label}：" if row.label and row.label not in row.message else ""  # as the console shows it
    return f"{label}{row.message}" + (f"（{where}）" if where else "")


def rectify_targets(session: Session, earlier: Round, selection: Iterable[str] = (GRADE, RETURNED)) -> list[Target]:
    """The projects of ``earlier`` to be fixed under ``selection``, in roster order."""
    chosen = set(selection)
    units = {u.id: u for u in session.scalars(select(Unit).where(Unit.round_id == earlier.id,
                                                                Unit.in_roster.is_(True)))}
    found: list[Target] = []
    query = current_returns(earlier.id).add_columns(Submission.projects, Submission.result_id)
    for sid, unit_id, _key, _at, decision, note, status, total, grade, projects, result_id in session.execute(query):
        unit = units.get(unit_id)
        if unit is None or decision == VOID:
            continue
        why, problems = [], []
        if GRADE in chosen and grade in WEAK_GRADES and rolled_up(status, decision):
            why.append(SELECTIONS[GRADE])
            shown = f"（总分 {total:.2f}）" if total is not None else ""
            problems.append(f"评价等次为“{grade}”{shown}：请针对扣分的指标分析原因并整改")
        if RETURNED in chosen and decision == RETURN and note.strip():
            why.append(SELECTIONS[RETURNED])
            notes = session.scalars(select(Decision.note).where(Decision.submission_id == sid,
                                                                Decision.action == RETURN).order_by(Decision.id))
            problems += [f"财政局退回意见：{n.strip()}" for n in dict.fromkeys(notes) if n.strip()]
        if not why:
            continue
        if result_id is not None:
            problems += [_finding_text(f) for f in session.scalars(
                select(FindingRow).where(FindingRow.result_id == result_id).order_by(FindingRow.id)) if _problem(f)]
        for project in json.loads(projects or "[]") or [""]:
            found.append(Target(unit, str(project), sid, grade, total, tuple(dict.fromkeys(problems)), tuple(why)))
    order = {uid: n for n, uid in enumerate(sorted(units))}
    return sorted(found, key=lambda t: (order[t.unit.id], t.submission))


def tracked_table(spec: FormSpec) -> TableSection:
    """The table of the 整改 form whose rows are the problems (spec ``tracked_items.table``)."""
    tracked = spec.tracked_items
    assert tracked is not None
    return next(s for sheet in spec.sheets for s in sheet.sections
                if isinstance(s, TableSection) and s.key == tracked.table)


def fitted(problems: Sequence[str], rows: int) -> list[str]:
    """``problems`` in ``rows`` rows: those beyond the last row join it, one line each."""
    if len(problems) <= rows:
        return list(problems)
    return [*problems[:rows - 1], "\n".join(problems[rows - 1:])]


def _roster(earlier: Round, targets: Sequence[Target]) -> Roster:
    units: dict[int, tuple[Unit, list[str]]] = {}
    for t in targets:
        entry = units.setdefault(t.unit.id, (t.unit, []))
        if t.project and t.project not in entry[1]:
            entry[1].append(t.project)
    emails = {uid: tuple(a for a in EMAIL_SEPARATORS.split(u.email or "") if a) for uid, (u, _) in units.items()}
    return Roster(Path(f"整改：{earlier.name}"), tuple(
        RosterUnit(code=u.code, name=u.name, dept=u.dept, contact=u.contact, email=emails[uid][0] if emails[uid] else "",
                   row=u.row, projects=tuple(projects), emails=emails[uid])
        for uid, (u, projects) in units.items()))


def open_rectify_round(session: Session, name: str, earlier: Round, selection: Sequence[str], *,
                       form: Known | None = None, year: int | None = None, deadline: dt.date | None = None,
                       actor: str = "") -> tuple[Round, list[Target]]:
    """The 整改 round of ``earlier`` (the caller commits) and the projects it follows;
    LedgerError, and no round, when ``earlier`` has nothing to fix under ``selection``."""
    if earlier.follows_kind == FOLLOWS_RECTIFY:
        raise LedgerError(f"报送任务“{earlier.name}”本身是整改任务：请对被评价的报送任务新建整改任务")
    tracking = rectify_form(form)
    targets = rectify_targets(session, earlier, selection)
    if not targets:
        what = "或".join(SELECTIONS[s] for s in selection)
        raise LedgerError(f"报送任务“{earlier.name}”没有需要整改的项目（当前有效的报表中没有{what}的）：未新建整改任务")
    rnd = create_round(session, name, tracking, year if year is not None else earlier.year, _roster(earlier, targets),
                       deadline=deadline, actor=actor, follows=earlier, follows_kind=FOLLOWS_RECTIFY)
    units = {u.code: u.id for u in session.scalars(select(Unit).where(Unit.round_id == rnd.id))}
    rows = tracked_table(tracking.spec).rows
    for t in targets:
        for n, problem in enumerate(fitted(t.problems, rows), 1):
            session.add(RectifyItem(round_id=rnd.id, unit_id=units[t.unit.code], project=t.project, n=n,
                                    problem=problem, source_id=t.submission))
    session.flush()
    return rnd, targets
