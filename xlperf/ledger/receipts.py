"""What a round has received already, looked up without loading it all: by content digest (a
repeat), and by name, size and file time (a folder taken in again)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.ledger.models import Submission

__all__ = ["known_digests", "known_receipts", "receipts_by_name"]


def known_receipts(session: Session, round_id: int, shas: Sequence[str]) -> dict[str, list[Submission]]:
    """Earlier submissions of the round by content digest (only the digests asked about)."""
    found: dict[str, list[Submission]] = {}
    for start in range(0, len(shas), 500):
        rows = session.scalars(select(Submission).where(Submission.round_id == round_id,
                                                        Submission.sha256.in_(shas[start:start + 500]))
                               .order_by(Submission.id))
        for sub in rows:
            found.setdefault(sub.sha256, []).append(sub)
    return found


def known_digests(session: Session, round_id: int, shas: Sequence[str]) -> set[str]:
    """Which of ``shas`` the round already has (a light query: no objects)."""
    found: set[str] = set()
    for start in range(0, len(shas), 500):
        found.update(session.scalars(select(Submission.sha256).where(
            Submission.round_id == round_id, Submission.sha256.in_(shas[start:start + 500]))))
    return found


def receipts_by_name(session: Session, round_id: int, source: str,
                     sender: str) -> dict[tuple[str, int, dt.datetime | None], tuple[str, int]]:
    """Every receipt of the round from ``source`` and ``sender``: by (name, size, file time),
    their (digest, submission id). One query for the whole round (ten thousand rows take a few
    milliseconds), so a folder taken in again skips its known files without reading them or
    asking the database once per file or batch."""
    found: dict[tuple[str, int, dt.datetime | None], tuple[str, int]] = {}
    rows = session.execute(select(Submission.original_name, Submission.size, Submission.file_mtime,
                                  Submission.sha256, Submission.id)
                           .where(Submission.round_id == round_id, Submission.source == source,
                                  Submission.sender == sender))
    for name, size, mtime, sha, sid in rows:
        found.setdefault((name, size, mtime), (sha, sid))
    return found
