"""Checks across the chain, automatic: the declarations a chained round's returns are checked
against, with no ``--against``.

A round made ``--from-round EARLIER`` (:mod:`xlperf.ledger.chain`) is checked against the accepted
declarations (:mod:`xlperf.ledger.accepted`) of the round its templates take their targets from
(:attr:`xlperf.ledger.chain.ChainSource.declaring`): EARLIER when its form declares targets, else
the nearest declaring round up EARLIER's chain. So for 目标申报 → 运行监控 → 自评 the self-evaluation
is compared with the 目标申报 round, not with the monitoring returns: the targets are what the
declaration approved; a monitoring return carries them only as its template was prefilled, and
the self-evaluation is scored against the approved targets, so comparing it with the monitoring
return would let a target changed there pass on unseen. The cross-form checks
(:mod:`xlperf.checks.crossform`) read declarations only; a round that follows none, or a second
round of its own form (no targets to compare), is checked as before.

:func:`xlperf.ledger.round_checks.round_check` puts the declarations in the round's check context,
so every route into the round applies them (folder intake, upload, mailbox, revalidation, Dask);
:func:`declarations_version` is what that cached context depends on besides the round itself.
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy.orm import Session

from xlperf.cycle.declared import DeclarationIndex
from xlperf.ledger.accepted import accepted_returns, accepted_version
from xlperf.ledger.chain import chain_of
from xlperf.ledger.models import Round
from xlperf.ledger.roundcache import round_version
from xlperf.model.declarations import Declaration, declarations_of

__all__ = ["declarations_version", "declaring_round", "round_declarations"]


def declaring_round(session: Session, rnd: Round) -> Round | None:
    """The round whose accepted declarations ``rnd``'s returns are checked against (None: none).
    A chain that no longer maps (a form replaced since) raises LedgerError, saying so: the
    round's returns are not taken in unchecked."""
    source = chain_of(session, rnd)
    return source.declaring if source is not None else None


def declarations_version(session: Session, rnd: Round) -> tuple[Hashable, ...]:
    """What :func:`round_declarations` of ``rnd`` depends on: which round declares, that round as it
    is (:func:`~xlperf.ledger.roundcache.round_version`) and its accepted returns
    (:func:`~xlperf.ledger.accepted.accepted_version`); () when no round declares for it."""
    root = declaring_round(session, rnd)
    if root is None:
        return ()
    return ("declared", *round_version(session, root.id), *accepted_version(session, root.id))


def round_declarations(session: Session, rnd: Round) -> DeclarationIndex | None:
    """The accepted declarations ``rnd``'s returns are checked against (None: no round declares
    for it). One per unit, project and year: the ledger keeps one current return of each; were
    two returns to declare the same project, the later received counts."""
    root = declaring_round(session, rnd)
    if root is None:
        return None
    newest: dict[tuple[str, str, int | None], Declaration] = {}
    for checked in accepted_returns(session, root):
        for decl in declarations_of(checked):
            newest[decl.identity] = decl
    return DeclarationIndex(declarations=list(newest.values()))
