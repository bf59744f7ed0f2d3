"""Rounds that follow rounds (``round new NAME --form F --from-round EARLIER``): which forms map
onto each other, and where a chained round's templates take their content from.

**The rules** (:func:`chain_source`; checked before the round is made, a refusal makes none):

1. F's spec has ``prefill_from`` and EARLIER's form declares targets (``declares_targets``:
   目标申报 → 运行监控, 目标申报 → 自评): EARLIER's accepted declarations fill the templates.
2. F's spec has ``prefill_from`` and EARLIER's form does not declare targets, but a round that
   EARLIER follows (``--from-round``, walked back) does (目标申报 → 运行监控 → 自评): a project gets
   a template when it has an accepted return in EARLIER (the monitoring passed), and its content
   (header, budget, indicators and targets) comes from that project's accepted declaration in the
   declaring round. Why not from the monitoring return, which carries the same targets: the
   approved targets are one fact, kept where they were declared and approved; the monitoring form
   holds a copy, in its own shape (its indicator table has no operator or unit column, so ≥12次 is
   one text there), and reading that copy back would lose what the self-evaluation locks in cells
   of their own, and would trust a second copy over the first.
3. F is EARLIER's own form (a second round of the same form, e.g. a re-collection or next year's
   declaration): the header of each accepted return (unit, project, 主管部门, budget) is prefilled;
   the indicators are the unit's to fill again.
4. Anything else is refused, naming both forms by title (a form that takes nothing from EARLIER
   would issue blank templates under the name of a chain).

**Who gets a template.** A project with an accepted return (:mod:`xlperf.ledger.accepted`) in
EARLIER; every other roster unit or project is listed with :attr:`ChainSource.missing`:
无已通过的申报 when EARLIER declares targets, else 无已通过的 + EARLIER's form as files name it
(无已通过的绩效监控表). Under rule 2 a project whose declaration is no longer accepted (staff
returned it after the monitoring passed) is listed 无已通过的申报 too.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from xlperf.form.spec import FormSpec
from xlperf.ledger.db import LedgerError
from xlperf.ledger.models import FOLLOWS_CHAIN, Round
from xlperf.ledger.roundform import round_spec

__all__ = ["NO_DECLARATION", "ChainSource", "chain_of", "chain_source"]

NO_DECLARATION = "无已通过的申报"


@dataclass(frozen=True)
class ChainSource:
    """Where a chained round's templates come from."""

    earlier: Round
    """The round followed: a project needs an accepted return here."""
    declaring: Round | None
    """The round whose accepted declarations give the content (EARLIER itself under rule 1);
    None under rule 3 (the header of EARLIER's own returns)."""
    missing: str
    """What a roster unit or project without an accepted return in EARLIER is listed with."""


def _title(spec: FormSpec | None, rnd: Round) -> str:
    return spec.title if spec is not None else rnd.form


def _followed(session: Session, rnd: Round) -> Round | None:
    if rnd.follows_id is None or rnd.follows_kind != FOLLOWS_CHAIN:
        return None
    return session.get(Round, rnd.follows_id)


def _declaring_ancestor(session: Session, earlier: Round) -> Round | None:
    """The nearest round up EARLIER's chain (EARLIER excluded) whose form declares targets."""
    seen = {earlier.id}
    rnd = _followed(session, earlier)
    while rnd is not None and rnd.id not in seen:
        spec = round_spec(rnd)
        if spec is not None and spec.declares_targets:
            return rnd
        seen.add(rnd.id)
        rnd = _followed(session, rnd)
    return None


def missing_words(spec: FormSpec | None) -> str:
    """无已通过的申报 for a declaration form; else 无已通过的 + the form's short name."""
    if spec is None or spec.declares_targets:
        return NO_DECLARATION
    return f"无已通过的{spec.stem}"


def chain_source(session: Session, later: FormSpec, earlier: Round) -> ChainSource:
    """Where a round of ``later``'s form following ``earlier`` takes its templates from (the
    rules above); LedgerError, naming both forms by title, when they do not map onto each other."""
    spec = round_spec(earlier)
    words = missing_words(spec)
    if later.prefill_from is not None:
        if spec is not None and spec.declares_targets:
            return ChainSource(earlier, earlier, words)
        ancestor = _declaring_ancestor(session, earlier)
        if ancestor is not None:
            return ChainSource(earlier, ancestor, words)
    if later.form_id == earlier.form:
        return ChainSource(earlier, None, words)
    earlier_title = _title(spec, earlier)
    if later.prefill_from is None:
        why = (f"“{later.title}”的表单规格没有写明从前一环节的哪些栏目预填（prefill_from），"
               f"也不是与“{earlier_title}”同一张表")
    else:
        why = (f"“{earlier_title}”不申报绩效目标，报送任务“{earlier.name}”承接的任务中也没有申报绩效目标的表，"
               f"“{later.title}”的绩效目标无从预填")
    raise LedgerError(f"“{later.title}”不能承接“{earlier_title}”：{why}。未新建报送任务。")


def chain_of(session: Session, rnd: Round) -> ChainSource | None:
    """The source of ``rnd``'s templates when it follows a round (``--from-round``), else None."""
    earlier = _followed(session, rnd)
    if earlier is None:
        return None
    later = round_spec(rnd)
    if later is None:
        raise LedgerError(f"报送任务“{rnd.name}”的表单“{rnd.form}”无法载入")
    return chain_source(session, later, earlier)
