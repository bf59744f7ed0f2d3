"""A round's templates from the ledger (``round templates``, ``round issue``, the desk's 下发模板).

A round that follows another (``round new --from-round``, :mod:`xlperf.ledger.chain`): one
template per unit and project with an accepted return in the round followed, prefilled from the
accepted declaration (:func:`xlperf.cycle.issue.chained_templates`: project, budget, indicators
and targets placed by :func:`xlperf.model.placement.place` and locked), the others listed. The
accepted returns are the ledger's stored check results (:mod:`xlperf.ledger.accepted`: values as
read at intake or the last revalidation; no file is read again). Any other round: one template
per roster unit (or project), the unit prefilled (:func:`xlperf.cycle.issue.roster_templates`).
Signed when ``key`` is given.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy.orm import Session

from xlperf.cycle.issue import (
    Chained,
    Issued,
    Passed,
    chained_templates,
    plan_chained,
    roster_templates,
)
from xlperf.excel.template import DEFAULT_PASSWORD
from xlperf.form.registry import builtin_layout
from xlperf.ledger.accepted import accepted_returns
from xlperf.ledger.chain import NO_DECLARATION, ChainSource, chain_of
from xlperf.ledger.db import LedgerError
from xlperf.ledger.models import FOLLOWS_RECTIFY, Round
from xlperf.ledger.rectify_forms import rectify_templates
from xlperf.ledger.roundform import round_pinned
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.model.declarations import Declaration, declarations_of
from xlperf.read.roster import Roster, normalise_name

__all__ = ["passed_projects", "round_plan", "round_templates"]


def _projects(session: Session, rnd: Round, *, header_only: bool) -> list[Declaration]:
    """Every project of ``rnd``'s accepted returns, read with the round's own spec."""
    records = accepted_returns(session, rnd)
    with round_pinned(rnd):
        return [d for r in records for d in declarations_of(r, header_only=header_only)]


def passed_projects(session: Session, source: ChainSource) -> list[Passed]:
    """The projects with an accepted return in the round followed, each with the declaration
    that gives its template's content (None: no accepted declaration in the declaring round)."""
    own = source.declaring is not None and source.declaring.id == source.earlier.id
    gate = _projects(session, source.earlier, header_only=not own)
    if source.declaring is None or own:
        return [(d, d) for d in gate]
    declared = {(normalise_name(d.unit), normalise_name(d.project)): d
                for d in _projects(session, source.declaring, header_only=False)}
    return [(d, declared.get((normalise_name(d.unit), normalise_name(d.project)))) for d in gate]


def round_plan(session: Session, rnd: Round) -> tuple[ChainSource, Chained] | None:
    """What a chained round issues (who gets which template, who none), nothing written; None
    for a round that follows no other."""
    source = chain_of(session, rnd)
    if source is None:
        return None
    roster = roster_of(rnd, units_of(session, rnd.id))
    return source, plan_chained(roster, passed_projects(session, source), missing=source.missing,
                                undeclared=NO_DECLARATION)


def round_templates(session: Session, rnd: Round, outdir: Path, *, key: bytes | None = None,
                    password: str = DEFAULT_PASSWORD, unit: str | None = None,
                    progress: Callable[[int, int], None] | None = None) -> Issued:
    """Write ``rnd``'s templates into ``outdir`` (see above); ``unit`` (a roster code): that unit's only.
    A round that requires signed returns refuses to issue unsigned templates (LedgerError): every
    return filled in one would be held."""
    if rnd.signatures_required and key is None:
        raise LedgerError(f"报送任务“{rnd.name}”要求报表带财政局签名，但未配置签名密钥（XLPERF_SIGNING_KEY 或 XLPERF_KEY_FILE）："
                          "不带签名的模板填好交回后都会被暂存，未生成模板")
    if rnd.follows_kind == FOLLOWS_RECTIFY:
        # A 整改 round's templates are its prefilled 整改 forms: the 下发模板 page, round templates
        # and round issue all hand them out through here.
        return rectify_templates(session, rnd, outdir, password=password, key=key, unit=unit, progress=progress)
    planned = round_plan(session, rnd)
    if planned is None:
        roster = roster_of(rnd, units_of(session, rnd.id))
        if unit is not None:
            roster = Roster(roster.path, tuple(u for u in roster.units if u.code == unit))
        with round_pinned(rnd):
            return roster_templates(builtin_layout(rnd.form), roster, outdir, year=rnd.year, password=password,
                                    key=key, progress=progress)
    plan = planned[1] if unit is None else planned[1].only(unit)
    done, total = 0, len(plan.issue) + 1
    if progress is not None:
        progress(done, total)
    with round_pinned(rnd):
        issued = chained_templates(builtin_layout(rnd.form), plan, outdir, year=rnd.year, password=password,
                                   key=key)
    if progress is not None:
        progress(total, total)
    return issued
