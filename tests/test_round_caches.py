"""What a process keeps of a round is keyed by what it depends on: its roster version (counted up
by the database on every change to its units) and its form. A roster changed in the database --
as a later command would change it, or any SQL statement -- is seen by the next upload (the
round's units by name, the checking workers' roster), the next status and the desk's dashboard."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deskclient import csrf, signed_in_local
from ledger_support import CLEAN, FORM, ROSTER, YEAR, LedgerDb, make_return, write_roster
from sqlalchemy import select, text

from xlperf.ledger import find_round, round_view
from xlperf.ledger.models import FindingRow, Round, Submission, Unit
from xlperf.ledger.round_checks import round_check
from xlperf.ledger.roundcache import round_version

XISHAN = "3002,西山县中小企业局,市工业和信息化局,李华,xishan@example.gov.cn"
WITHOUT_XISHAN = ROSTER.replace(XISHAN + "\n", "")


def _round(db: LedgerDb, tmp_path: Path, roster: str = WITHOUT_XISHAN) -> str:
    db.run("new", "自评", "--form", FORM, "--year", str(YEAR), "--roster",
           str(write_roster(tmp_path / "roster", roster)))
    return "自评"


def _version(db: LedgerDb) -> int:
    ledger = db.open()
    try:
        with ledger.session() as session:
            return find_round(session, "自评").roster_version
    finally:
        ledger.close()


def test_the_database_counts_every_change_to_a_rounds_units(db: LedgerDb, tmp_path: Path) -> None:
    """Triggers on both databases: an insert, an update and a delete of units, by plain SQL."""
    _round(db, tmp_path)
    created = _version(db)
    assert created > 0
    ledger = db.open()
    with ledger.engine.begin() as conn:
        round_id = conn.execute(select(Round.id)).scalar_one()
        conn.execute(text("UPDATE units SET name = '东城区科学技术局' WHERE code = '3001'"))
    assert _version(db) == created + 1
    with ledger.engine.begin() as conn:
        conn.execute(text("INSERT INTO units (round_id, code, name, dept, contact, email, \"row\", projects) "
                          "VALUES (:r, '3002', '西山县中小企业局', '', '', '', 9, '[]')"), {"r": round_id})
    assert _version(db) == created + 2
    with ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM units WHERE code IN ('3003', '3004')"))
    assert _version(db) > created + 2  # once per statement (PostgreSQL) or per row (SQLite)
    with ledger.session() as session:
        rnd = find_round(session, "自评")
        assert sorted(round_view(session, rnd).by_name) == ["东城区科学技术局", "西山县中小企业局"]
        roster = round_check(session, rnd).roster
        assert roster is not None and sorted(u.name for u in roster.units) == ["东城区科学技术局", "西山县中小企业局"]
    ledger.close()


def test_what_is_kept_of_a_round_is_made_again_after_its_roster_changed(db: LedgerDb, tmp_path: Path) -> None:
    _round(db, tmp_path)
    ledger = db.open()
    with ledger.session() as session:
        rnd = find_round(session, "自评")
        view, work = round_view(session, rnd), round_check(session, rnd)
        assert round_view(session, rnd) is view and round_check(session, rnd) is work  # kept while unchanged
        assert "西山县中小企业局" not in view.by_name
    with ledger.session() as session, session.begin():  # as a later command would
        session.add(Unit(round_id=rnd.id, code="3002", name="西山县中小企业局", dept="市工业和信息化局",
                         email="xishan@example.gov.cn", row=9))
    with ledger.session() as session:
        rnd = find_round(session, "自评")
        assert "西山县中小企业局" in round_view(session, rnd).by_name
        changed = round_check(session, rnd)
        assert changed != work and changed.version == round_version(session, rnd.id)
        assert changed.roster is not None and "西山县中小企业局" in [u.name for u in changed.roster.units]
    ledger.close()


def _upload(client, round_id: int, paths: list[Path]) -> list[dict]:  # type: ignore[no-untyped-def]
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    response = client.post(f"/rounds/{round_id}/upload", files=files, data={"csrf_token": csrf(client)},
                           headers={"accept": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()["results"]  # type: ignore[no-any-return]


def test_the_desk_sees_a_roster_changed_in_the_database(tmp_path: Path) -> None:
    """Upload, dashboard, roster change by another process, dashboard, upload: the desk's kept
    round view, its kept checking workers (their roster) and its status cache all follow."""
    db = LedgerDb("sqlite", str(tmp_path / "desk.db"), tmp_path / "desk.db.files")  # the desk's tests run on SQLite
    _round(db, tmp_path)
    ledger = db.open()
    client = signed_in_local(ledger)
    pool = client.app.state.checkers
    with ledger.session() as session:
        round_id = find_round(session, "自评").id
    inbox = tmp_path / "in"
    # 东城's return under 西山's name, and 西山's own: 西山 is not on the roster yet.
    first = _upload(client, round_id, [make_return(inbox / "1" / "自评表_西山县中小企业局.xlsx", "东城区科技局", **CLEAN),
                                       make_return(inbox / "1" / "西山_自评.xlsx", "西山县中小企业局", **CLEAN)])
    assert [(r["kind"], r["unit"]) for r in first] == [("current", "东城区科技局"), ("held", "西山县中小企业局")]
    page = client.get(f"/rounds/{round_id}")
    assert len(re.findall(r'data-status="', page.text)) == 3 and pool.idle()

    with ledger.session() as session, session.begin():  # as a later command would, in its own process
        session.add(Unit(round_id=round_id, code="3002", name="西山县中小企业局", dept="市工业和信息化局",
                         email="xishan@example.gov.cn", row=9))

    page = client.get(f"/rounds/{round_id}")
    assert len(re.findall(r'data-status="', page.text)) == 4
    second = _upload(client, round_id, [
        make_return(inbox / "2" / "自评表_西山县中小企业局.xlsx", "东城区科技局", **{**CLEAN, "spent_city": 38.7}),
        make_return(inbox / "2" / "西山_自评.xlsx", "西山县中小企业局", **{**CLEAN, "spent_city": 38.7})])
    assert [(r["kind"], r["unit"]) for r in second] == [("current", "东城区科技局"), ("current", "西山县中小企业局")]
    pool.close()
    with ledger.session() as session:
        named = session.scalars(select(Submission.id).where(Submission.original_name == "自评表_西山县中小企业局.xlsx")
                                .order_by(Submission.id)).all()
        mismatch = [session.scalars(select(FindingRow.code).join(Submission, Submission.result_id == FindingRow.result_id)
                                    .where(Submission.id == sid, FindingRow.code == "FILE_NAME_UNIT_MISMATCH")).all()
                    for sid in named]
    ledger.close()
    # the workers checked the second upload with the new roster: the file names a roster unit now
    assert mismatch == [[], ["FILE_NAME_UNIT_MISMATCH"]]


@pytest.mark.parametrize("change", ["roster", "form"])
def test_the_round_version_follows_the_roster_and_the_form(db: LedgerDb, tmp_path: Path, change: str) -> None:
    _round(db, tmp_path)
    ledger = db.open()
    with ledger.session() as session:
        before = round_version(session, find_round(session, "自评").id)
    with ledger.session() as session, session.begin():
        rnd = find_round(session, "自评")
        if change == "roster":
            session.execute(text("UPDATE units SET email = 'new@example.gov.cn' WHERE code = '3001'"))
        else:
            rnd.form = "target_declaration"
    with ledger.session() as session:
        assert round_version(session, find_round(session, "自评").id) != before
    ledger.close()
