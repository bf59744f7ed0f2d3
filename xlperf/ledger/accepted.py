"""The accepted returns of a round: what the ledger counts as passed, with their values.

Accepted is the one definition the status, the summary and 结果应用 use
(:func:`xlperf.ledger.current.rolled_up`, applied by :func:`xlperf.ledger.summary.round_records`):
a current return that passed the checks (通过, 通过（有提示）) or that staff accepted; never one
returned (退回, by the checks or staff) or voided. A chained round's templates are prefilled from
them (:mod:`xlperf.ledger.chain`), its returns are checked against them
(:mod:`xlperf.ledger.chaincheck`), and the chain page shows them (:mod:`xlperf.ledger.chainview`).

:func:`accepted_version` tells when that set may have changed, for the caches that keep what is
derived from it (:mod:`xlperf.ledger.roundcache`).
"""

from __future__ import annotations

from collections.abc import Hashable

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from xlperf.findings import REJECTED, CheckedReturn
from xlperf.ledger.models import ACCEPT, CURRENT, RETURN, VOID, Round, Submission

__all__ = ["accepted_returns", "accepted_version"]


def accepted_returns(session: Session, rnd: Round, *, values: bool = True, project: str = "") -> list[CheckedReturn]:
    """The accepted current returns of ``rnd`` (submission order), each with its stored values and
    scores (nothing read or checked again; ``values`` False: the summary only, as a roll-up reads);
    ``status`` says 通过 or 通过（有提示）, ``file`` is the name it was received under.
    ``project`` (normalised): only those that name it (and a few more whose names contain it)."""
    # Imported here: the summary brings the roll-up's pandas, which an intake's start-up (whose
    # check context asks for a chained round's declarations) should not pay.
    from xlperf.ledger.summary import round_records

    return [r for r in round_records(session, rnd, values=values, project=project) if r.status != REJECTED]


def accepted_version(session: Session, round_id: int) -> tuple[Hashable, ...]:
    """A fingerprint of what decides ``round_id``'s accepted returns, read in one query: which
    submissions are current (a newcomer replaces one: a new id), their latest checks (a
    revalidation: new result ids), the unit they are recorded under and the staff's decisions on
    them. Equal fingerprints, the same accepted returns."""
    current = Submission.round_id == round_id, Submission.state == CURRENT
    decided = [func.coalesce(func.sum(case((Submission.decision == d, Submission.id), else_=0)), 0)
               for d in (ACCEPT, RETURN, VOID)]
    row = session.execute(select(func.count(), func.coalesce(func.sum(Submission.id), 0),
                                 func.coalesce(func.sum(Submission.result_id), 0),
                                 func.coalesce(func.sum(func.length(Submission.unit_name)), 0), *decided)
                          .where(*current)).one()
    return (round_id, *(int(x) for x in row))
