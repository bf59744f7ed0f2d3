"""结果应用 of a round: the consequence and budget factor of each grade (the round's settings,
kept in ``rounds.results_rules``), the rows and totals (:mod:`xlperf.rollup.results`), the
workbook, and one project's results year by year.

Defaults (common local rules; every one editable per round, ``xlperf round consequence`` or the
desk's 结果应用 page): 优 → 优先保障 ×1.0, 良 → 保持 ×1.0, 中 → 压减 10% ×0.9, 差 → 取消或暂停安排
×0. 优先保障 keeps the budget (×1.0): priority is a promise of the money, not more of it; a bureau
that adds to its best projects sets a factor above 1. A grade of the form with no default (a
bureau's own grade bands) is 未设置 ×1.0 until set.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from pathlib import Path

from sqlalchemy.orm import Session

from xlperf.form.spec import FormSpec
from xlperf.ledger.db import LedgerError, lock_round
from xlperf.ledger.models import Round
from xlperf.ledger.roundform import round_spec
from xlperf.ledger.rounds import log_event, roster_of, same_form_rounds, units_of
from xlperf.ledger.summary import last_year, round_records
from xlperf.read.roster import normalise_name
from xlperf.rollup.results import (
    Consequence,
    Past,
    Results,
    accepted_entries,
    entry_keys,
    grade_totals,
    project_keys,
    result_rows,
    score_of,
)
from xlperf.rollup.resultsbook import write_results

__all__ = ["DEFAULTS", "consequences", "form_grades", "parse_factor", "project_years",
           "round_results", "set_consequences", "write_round_results"]

DEFAULTS: dict[str, tuple[str, Decimal]] = {
    "优": ("优先保障", Decimal("1.0")), "良": ("保持", Decimal("1.0")),
    "中": ("压减 10%", Decimal("0.9")), "差": ("取消或暂停安排", Decimal("0")),
}
UNSET = ("未设置", Decimal("1.0"))
MAX_FACTOR = Decimal(10)
MAX_ACTION = 60
"""Characters of an action: a few words a budget sheet's cell shows ("压减 10%，列入重点监控")."""


def scored_spec(rnd: Round) -> FormSpec:
    """The round's form, when it is scored; LedgerError when it has no total score and grade."""
    spec = round_spec(rnd)
    if spec is None or not any(spec.scorecards()):
        title = spec.title if spec is not None else rnd.form
        raise LedgerError(f"报送任务“{rnd.name}”的表单“{title}”不评分（没有总分和等次）：结果应用只用于评分的表单，"
                          "如绩效自评表")
    return spec


def form_grades(spec: FormSpec) -> tuple[str, ...]:
    """The form's grades, best first (its grade bands, then the grade below them all)."""
    return tuple(dict.fromkeys([*(g for _, g in spec.grade_bands), spec.grade_else]))


def consequences(rnd: Round) -> list[Consequence]:
    """What each grade of the round's form leads to: the round's settings, else the defaults."""
    stored = _stored(rnd)
    return [Consequence(g, *(stored.get(g) or DEFAULTS.get(g) or UNSET)) for g in form_grades(scored_spec(rnd))]


def _stored(rnd: Round) -> dict[str, tuple[str, Decimal]]:
    if not rnd.results_rules:
        return {}
    return {item["grade"]: (item["action"], Decimal(item["factor"])) for item in json.loads(rnd.results_rules)}


def parse_factor(text: str) -> Decimal:
    """A budget factor as typed ("0.9", "90%"), or LedgerError saying what is wrong."""
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    percent = raw.endswith("%")
    try:
        factor = Decimal(raw[:-1].strip() if percent else raw)
    except InvalidOperation:
        factor = Decimal("NaN")
    if percent and factor.is_finite():
        factor /= 100
    if not factor.is_finite() or not 0 <= factor <= MAX_FACTOR:
        raise LedgerError(f"预算系数“{text}”无效：应为 0 到 {MAX_FACTOR} 之间的数（如 0.9 或 90%，0 即不再安排）")
    return factor.normalize() if factor != 0 else Decimal(0)


def check_action(text: str) -> str:
    action = str(text).strip()
    if not action:
        raise LedgerError("应用结果不能为空（如“压减 10%”）")
    if len(action) > MAX_ACTION or any(unicodedata.category(c).startswith("C") for c in action):
        raise LedgerError(f"应用结果应为一行文字，不超过 {MAX_ACTION} 个字符")
    return action


def set_consequences(session: Session, rnd: Round, changes: Mapping[str, tuple[str, str]] | None,
                     actor: str = "") -> list[str]:
    """Set the action and factor of the grades in ``changes`` (grade → (action, factor text));
    None: back to the defaults. The caller commits; the event in the round's history lists what
    changed, one line each (also returned)."""
    lock_round(session, rnd.id)
    before = consequences(rnd)
    grades = [c.grade for c in before]
    if changes is None:
        rnd.results_rules = ""
    else:
        unknown = [g for g in changes if g not in grades]
        if unknown:
            raise LedgerError(f"等次“{'、'.join(unknown)}”不是本任务表单的等次（{'、'.join(grades)}）")
        new = {c.grade: (c.action, c.factor) for c in before}
        for grade, (action, factor) in changes.items():
            new[grade] = (check_action(action), parse_factor(factor))
        rnd.results_rules = json.dumps([{"grade": g, "action": a, "factor": str(f)} for g, (a, f) in new.items()],
                                       ensure_ascii=False)
    after = consequences(rnd)
    lines = [f"{b.grade}：{b.action} ×{b.factor} → {a.action} ×{a.factor}"
             for b, a in zip(before, after, strict=True) if (b.action, b.factor) != (a.action, a.factor)]
    if lines:
        log_event(session, rnd.id, "results_rules_changed", actor=actor, note="结果应用：" + "；".join(lines))
    return lines


def round_results(session: Session, rnd: Round) -> Results:
    """结果应用 of ``rnd`` from the ledger (nothing read or checked again)."""
    spec = scored_spec(rnd)
    rules = consequences(rnd)
    records = round_records(session, rnd)
    roster = roster_of(rnd, units_of(session, rnd.id))
    previous = last_year(session, rnd)
    rows = result_rows(records, roster, rules, previous[1] if previous else None)
    return Results(rnd.name, rnd.year, spec.title, tuple(rules), tuple(rows), tuple(grade_totals(rows, rules)),
                        previous[0].name if previous else None)


def write_round_results(session: Session, rnd: Round, output: Path) -> Results:
    results = round_results(session, rnd)
    session.commit()  # end the read: on SQLite it holds the write lock while the workbook is written
    write_results(results, output)
    return results


def project_years(session: Session, rnd: Round, code: str, unit: str, project: str) -> list[Past]:
    """The project (by its unit's roster code or name, and its name) in every round of ``rnd``'s
    form, year by year: the rounds where it has a return that counts."""
    keys = project_keys(code, unit, project)
    years = []
    for other in same_form_rounds(session, rnd):
        roster = roster_of(other, units_of(session, other.id))
        for e in accepted_entries(round_records(session, other, project=normalise_name(project)), roster):
            if set(entry_keys(e)) & set(keys):
                p = e.project
                years.append(Past(other.year, other.name, score_of(e.record), e.record.grade, p.budget, p.spent, p.rate))
                break
    return years


def grade_lines(results: Results) -> Sequence[str]:
    """The totals per grade as ``round results`` prints them."""
    return [f"{t.grade}：{t.count} 个项目，预算 {_money(t.budget)} 万元"
            + (f"，{t.action}（×{t.factor}），建议下年预算 {_money(t.suggested)} 万元" if t.factor is not None else "")
            for t in results.totals]


def _money(value: float | Decimal) -> str:
    return f"{Decimal(repr(value)) if isinstance(value, float) else value:,.2f}"
