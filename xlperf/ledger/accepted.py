"""The accepted returns of a round: what the ledger counts as passed, with their values.

Accepted is the one definition the status, the summary and 结果应用 use
(:func:`xlperf.ledger.current.rolled_up`, applied by :func:`xlperf.ledger.summary.round_records`):
a current return that passed the checks (通过, 通过（有提示）) or that staff accepted; never one
returned (退回, by the checks or staff) or voided. A chained round's templates are prefilled from
them (:mod:`xlperf.ledger.chain`); the checks across a chain may ask the same.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from xlperf.findings import REJECTED, CheckedReturn
from xlperf.ledger.models import Round
from xlperf.ledger.summary import round_records

__all__ = ["accepted_returns"]


def accepted_returns(session: Session, rnd: Round) -> list[CheckedReturn]:
    """The accepted current returns of ``rnd`` (submission order), each with its stored values and
    scores (nothing read or checked again); ``status`` says 通过 or 通过（有提示）, ``file`` is the
    name it was received under."""
    return [r for r in round_records(session, rnd, values=True) if r.status != REJECTED]
