"""Rounds that follow rounds (issue 24): ``round new --from-round EARLIER`` links the new round to
EARLIER in the ledger, on SQLite and PostgreSQL; an unknown EARLIER makes no round."""

from __future__ import annotations

from pathlib import Path

from ledger_support import FORM, YEAR, LedgerDb, write_roster
from sqlalchemy import select

from xlperf.ledger.models import FOLLOWS_CHAIN, Round


def test_a_round_made_from_an_earlier_round_follows_it(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path)
    db.run("new", "目标申报", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    db.run("new", "运行监控", "--form", FORM, "--year", str(YEAR), "--roster", str(roster), "--from-round", "目标申报")
    refused = db.run("new", "自评", "--form", FORM, "--year", str(YEAR), "--roster", str(roster),
                     "--from-round", "没有这个任务", ok=(2,))
    assert "没有名为“没有这个任务”的报送任务" in refused.output
    ledger = db.open()
    try:
        with ledger.session() as session:
            rounds = {r.name: (r.id, r.follows_id, r.follows_kind) for r in session.scalars(select(Round))}
    finally:
        ledger.close()
    assert set(rounds) == {"目标申报", "运行监控"}
    assert rounds["目标申报"][1:] == (None, "")
    assert rounds["运行监控"][1:] == (rounds["目标申报"][0], FOLLOWS_CHAIN)
