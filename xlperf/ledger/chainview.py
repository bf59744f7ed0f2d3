"""One project along its chain of rounds (目标申报 → 运行监控 → 自评): each stage's figures side by
side, for the desk's chain page and ``round chain``.

A stage is a round of the chain (:func:`chain_rounds`, earliest first); its
figures are those of the project's accepted return in that round
(:mod:`xlperf.ledger.accepted`), read from the ledger as stored: budget, spent and 执行率 (万元,
as the roll-up reads them), total score and grade where the form scores, and each indicator's
target and actual. The same project is found by its unit's roster code or name and its name, as
on the year-over-year page (:func:`xlperf.rollup.results.project_keys`). Indicators line up across
the stages by name (normalised), in the order the first stage lists them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.ledger.accepted import accepted_returns
from xlperf.ledger.models import FOLLOWS_CHAIN, Round
from xlperf.ledger.roundform import round_spec
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.model.return_summary import TABLE_SOURCE
from xlperf.model.summary_rows import Cell, IndicatorRow, indicators_of
from xlperf.model.values import display, number_text
from xlperf.read.roster import normalise_name
from xlperf.rollup.results import accepted_entries, entry_keys, project_keys, score_of

__all__ = ["ProjectChain", "Stage", "chain_rounds", "project_chain"]

MAX_CHAIN = 50
"""Rounds followed at most each way (a chain is a handful; a loop made by hand in the database ends here)."""


def chain_rounds(session: Session, rnd: Round) -> list[Round]:
    """The chain ``rnd`` belongs to, earliest first: the rounds it follows (``--from-round``), ``rnd``,
    and the rounds that follow it (where several follow one round, the first made: a chain page
    shows one path)."""
    seen = {rnd.id}
    earlier: list[Round] = []
    here: Round | None = rnd
    while here is not None and here.follows_id is not None and here.follows_kind == FOLLOWS_CHAIN \
            and len(earlier) < MAX_CHAIN:
        here = session.get(Round, here.follows_id)
        if here is None or here.id in seen:
            break
        earlier.append(here)
        seen.add(here.id)
    later: list[Round] = []
    here = rnd
    while len(later) < MAX_CHAIN:
        here = session.scalar(select(Round).where(Round.follows_id == here.id, Round.follows_kind == FOLLOWS_CHAIN)
                              .order_by(Round.id).limit(1))
        if here is None or here.id in seen:
            break
        later.append(here)
        seen.add(here.id)
    return [*reversed(earlier), rnd, *later]


@dataclass(frozen=True)
class Stage:
    """The project in one round of the chain."""

    round_id: int
    round_name: str
    form_title: str
    year: int
    found: bool
    """Whether the project has an accepted return in this round (the figures are blank if not)."""
    file: str = ""
    budget: float | None = None
    spent: float | None = None
    rate: float | None = None
    score: float | None = None
    grade: str | None = None
    indicators: dict[str, tuple[str, str]] = field(default_factory=dict)
    """By normalised name: (target, actual) as the clerk reads them (≥12次, 95%)."""


@dataclass(frozen=True)
class ProjectChain:
    stages: list[Stage]
    indicators: list[tuple[str, str]]
    """(normalised name, name as first written) of every indicator of any stage, in order."""

    @property
    def scored(self) -> bool:
        return any(s.score is not None or s.grade for s in self.stages)


def project_chain(session: Session, rnd: Round, code: str, unit: str, project: str) -> ProjectChain:
    """The project (unit's roster ``code`` or ``unit`` name, and ``project``) in every round of the
    chain ``rnd`` ends."""
    keys = set(project_keys(code, unit, project))
    stages: list[Stage] = []
    names: dict[str, str] = {}
    for here in chain_rounds(session, rnd):
        spec = round_spec(here)
        title = spec.title if spec is not None else here.form
        roster = roster_of(here, units_of(session, here.id))
        entries = accepted_entries(accepted_returns(session, here, values=False, project=normalise_name(project)),
                                   roster)
        entry = next((e for e in entries if set(entry_keys(e)) & keys), None)
        if entry is None:
            stages.append(Stage(here.id, here.name, title, here.year, found=False))
            continue
        shown: dict[str, tuple[str, str]] = {}
        for row in indicators_of(entry.record):
            if row.source != TABLE_SOURCE or row.prefix != entry.project.prefix or not display(row.name):
                continue
            name = normalise_name(row.name)
            names.setdefault(name, display(row.name))
            shown.setdefault(name, (_value(row, row.target, with_op=True), _value(row, row.actual)))
        p = entry.project
        stages.append(Stage(here.id, here.name, title, here.year, found=True, file=str(entry.record.file.name),
                            budget=p.budget, spent=p.spent, rate=p.rate, score=score_of(entry.record),
                            grade=entry.record.grade, indicators=shown))
    return ProjectChain(stages, list(names.items()))


def _value(row: IndicatorRow, value: Cell, with_op: bool = False) -> str:
    """A target or actual as the clerk reads it: a number with the row's unit (95% rather than
    0.95) and, for a target, its operator; text as typed."""
    unit = display(row.unit)
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = value * 100 if unit == "%" else value
        return f"{display(row.op) if with_op else ''}{number_text(float(number), unit)}"
    return display(value)
