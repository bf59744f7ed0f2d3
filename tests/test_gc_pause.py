"""No process-wide switch in the desk: the cycle collector stays on in the server's process while
it recomputes a round's status or builds a round's roll-up (work it does while serving others);
the roll-up commands, which own their process, still pause it around the stages that pay
(:mod:`xlperf.rollup.gcpause`)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from deskclient import signed_in_local
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster

import xlperf.ledger.status as status_mod
import xlperf.rollup.tables as tables_mod
from xlperf.cli import main
from xlperf.ledger import find_round, round_rollup


@pytest.fixture()
def desk_db(tmp_path: Path) -> LedgerDb:
    db = LedgerDb("sqlite", str(tmp_path / "desk.db"), tmp_path / "desk.db.files")
    db.run("new", "自评", "--form", FORM, "--year", str(YEAR), "--roster", str(write_roster(tmp_path / "roster")))
    db.run("intake", "自评", str(make_return(tmp_path / "in" / "东城.xlsx", "东城区科技局", **CLEAN)))
    return db


def _recording(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> list[bool]:
    """``module.name`` wrapped to record whether the collector was on each time it ran."""
    seen: list[bool] = []
    original = getattr(module, name)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapped)
    return seen


def test_the_desk_keeps_the_collector_on_through_a_dashboard_recompute(
        desk_db: LedgerDb, monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _recording(monkeypatch, status_mod, "_row")
    ledger = desk_db.open()
    client = signed_in_local(ledger)
    with ledger.session() as session:
        round_id = find_round(session, "自评").id
    assert gc.isenabled()
    page = client.get(f"/rounds/{round_id}")
    assert page.status_code == 200 and 'data-status="通过（有提示）"' in page.text
    assert seen == [True] * 4  # one row per roster unit, each computed with the collector on
    assert gc.isenabled()
    client.app.state.checkers.close()
    ledger.close()


def test_a_round_rollup_as_the_desk_builds_it_keeps_the_collector_on(
        desk_db: LedgerDb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = _recording(monkeypatch, tables_mod, "_build_tables")
    ledger = desk_db.open()
    with ledger.session() as session:
        result = round_rollup(session, find_round(session, "自评"), tmp_path / "round.xlsx")
    ledger.close()
    assert result.output.exists() and seen == [True] and gc.isenabled()


def test_the_rollup_commands_pause_the_collector_in_their_own_process(
        desk_db: LedgerDb, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen = _recording(monkeypatch, tables_mod, "_build_tables")
    desk_db.run("rollup", "自评", "-o", str(tmp_path / "round.xlsx"))
    inbox = make_return(tmp_path / "inbox" / "西山.xlsx", "西山县中小企业局", **CLEAN).parent
    result = CliRunner().invoke(main, ["rollup", str(inbox), "-o", str(tmp_path / "summary.xlsx"), "--jobs", "1"])
    assert result.exit_code == 0, result.output
    assert seen == [False, False] and gc.isenabled()  # paused while building, back on after
