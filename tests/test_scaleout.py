"""Scale-out as users run it: ``xlperf round revalidate --scheduler tcp://…`` against a scheduler
and workers started with Dask's own command line (conftest's ``dask_cluster``), on SQLite and on
PostgreSQL. (``xlperf rollup --scheduler`` is tested with the roll-up, test_rollup.py.)"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from sqlalchemy import select

from xlperf.ledger.models import Result, Submission

ROUND = "2024自评"
RESULT_COLUMNS = ("status", "total_score", "grade", "errors", "warnings", "form_version", "checked_json")


@pytest.fixture
def rnd(db: LedgerDb, tmp_path: Path) -> str:
    db.run("new", ROUND, "--form", FORM, "--year", str(YEAR), "--roster", str(write_roster(tmp_path)))
    inbox = tmp_path / "inbox"
    make_return(inbox / "东城_自评.xlsx", "东城区科技局", age=300, **CLEAN)
    make_return(inbox / "西山_自评.xlsx", "西山县中小企业局", age=200, **{**CLEAN, "released": 5.55, "spent_city": 6.2})
    make_return(inbox / "南城_自评.xlsx", "南城区商务局", age=100, **{**CLEAN, "completion_rate_score": 9})
    db.run("intake", ROUND, str(inbox), ok=(1,))  # 1: 西山's return is rejected
    return ROUND


def latest_results(db: LedgerDb) -> dict[str, tuple[Any, ...]]:
    """Each current submission's newest result (file name → the columns a check writes)."""
    ledger = db.open()
    try:
        with ledger.session() as session:
            rows = session.execute(select(Submission.original_name, Result).join(
                Result, Result.id == Submission.result_id)).all()
            return {name: tuple(getattr(result, c) for c in RESULT_COLUMNS) for name, result in rows}
    finally:
        ledger.close()


def result_count(db: LedgerDb) -> int:
    ledger = db.open()
    try:
        with ledger.session() as session:
            return len(session.scalars(select(Result.id)).all())
    finally:
        ledger.close()


def test_round_revalidate_on_a_cluster_records_what_the_local_pool_records(db: LedgerDb, rnd: str,
                                                                            dask_cluster: Any) -> None:
    intake = latest_results(db)
    assert sorted(intake) == ["东城_自评.xlsx", "南城_自评.xlsx", "西山_自评.xlsx"]
    assert intake["西山_自评.xlsx"][0] == "rejected"

    from distributed import get_task_stream

    with dask_cluster.client() as client, get_task_stream(client=client) as tasks:  # what the scheduler ran
        out = db.run("revalidate", rnd, "--scheduler", dask_cluster.address).output
    assert out == "已重新审核 3 份，结果变化 0 份。\n"
    batches = [t for t in tasks.data if str(t["key"]).startswith("_check_batch")]
    assert len(batches) == 1  # three files: one batch, run on the cluster
    assert result_count(db) == 6
    on_cluster = latest_results(db)

    assert db.run("revalidate", rnd).output == "已重新审核 3 份，结果变化 0 份。\n"
    assert result_count(db) == 9
    assert latest_results(db) == on_cluster == intake


def test_round_revalidate_names_a_scheduler_that_does_not_answer(db: LedgerDb, rnd: str,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from servers import refused_port

    from xlperf.rollup import distributed

    # Dask retries a refused connection until the client's timeout: 2 s shows the same refusal as
    # the 30 s a bureau's slow network is given, without CI waiting 30 s per database for it.
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT_S", 2)
    with refused_port() as port:
        out = db.run("revalidate", rnd, "--scheduler", f"tcp://127.0.0.1:{port}", ok=(1,)).output
    assert out.startswith(f"Error: 无法连接 Dask 调度器 tcp://127.0.0.1:{port}（")
    assert result_count(db) == 3  # nothing recorded
