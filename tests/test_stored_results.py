"""A checked return's one JSON form: it round-trips, and a result stored by the xlperf before it loads.

Results stored before version 2 (``checked_json`` + ``record_json`` + columns + finding rows, as
xlperf wrote them up to commit 3f3a7b8) are rewritten by migration ``0005_checked_return``. The
old rows here are written by that xlperf's own codec (tests/old_codec_3f3a7b8.py), from a real
return checked by today's checks, into a ledger at revision 0004_current; the ledger opened by
today's xlperf must give back the same return: through the report path
(:func:`xlperf.ledger.stored_results.checked_of`) and the round's roll-up
(:func:`xlperf.ledger.summary.round_records`).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import old_codec_3f3a7b8 as old
import pytest
from alembic import command
from alembic.config import Config
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return
from sqlalchemy import create_engine, select, text

from xlperf.checks.check_files import check_one
from xlperf.findings import CheckedReturn, Finding
from xlperf.findings.checked_return import VERSION
from xlperf.ledger.db import HEAD, MIGRATIONS, database_url
from xlperf.ledger.models import Result, Round, Submission
from xlperf.ledger.stored_results import checked_of
from xlperf.ledger.summary import round_records
from xlperf.model.return_summary import summarised
from xlperf.model.summary_rows import indicators_of, projects_of

UNIT = "东城区科技局"


@pytest.fixture
def checked(tmp_path: Path) -> CheckedReturn:
    """A real return of the round's form, checked and summarised as a worker does it."""
    path = make_return(tmp_path / "东城_自评.xlsx", UNIT, **CLEAN)
    ret = summarised(check_one(path))
    assert ret.values and ret.projects and ret.indicators and ret.total_score is not None
    assert any(isinstance(v, dt.date) for v in ret.values.values())  # a date must come back a date
    return ret


def test_the_json_round_trips_types_and_summary(checked: CheckedReturn) -> None:
    text_ = checked.encode().to_json()
    assert text_.startswith(f'{{"version":{VERSION},"summary":')
    back = CheckedReturn.from_json(text_, file=checked.file, findings=checked.findings)
    assert (back.form, back.form_version, back.unit, back.year) == (checked.form, checked.form_version, UNIT, YEAR)
    assert back.values == checked.values and back.scores == checked.scores and back.notes == checked.notes
    assert projects_of(back) == checked.projects and indicators_of(back) == checked.indicators
    summary = CheckedReturn.from_json(text_, file=checked.file, summary_only=True)
    assert summary.values == {} and summary.total_score == checked.total_score and summary.grade == checked.grade
    assert projects_of(summary) == checked.projects


def test_nan_and_decimal_values_and_the_old_digest(checked: CheckedReturn) -> None:
    """The digest is of what xlperf before version 2 stored as checked_json, byte for byte:
    digests recorded then still tell an echo of the same values."""
    import hashlib

    odd = CheckedReturn(file=Path("x.xlsx"), values={"a": float("nan"), "d": Decimal("96.35")},
                        scores={"total_score": Decimal("96.35")})
    back = CheckedReturn.from_json(odd.to_json(), file=odd.file)
    assert back.values == {"a": None, "d": Decimal("96.35")} and back.total_score == Decimal("96.35")
    old_text = old.checked_to_json(checked)
    assert checked.content_digest() == hashlib.sha256(old_text.encode("utf-8")).hexdigest()
    assert CheckedReturn(file=Path("empty.xlsx")).content_digest() == ""


def test_a_result_stored_by_the_xlperf_before_loads(db: LedgerDb, checked: CheckedReturn) -> None:
    engine = create_engine(database_url(db.url))
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # What that xlperf's worker made: values, scores, notes; the record with its float total.
    record = SimpleNamespace(projects=checked.projects, indicators=checked.indicators,
                             total_score=float(checked.total_score or 0), grade=checked.grade)
    warning = Finding("TEXT_CHECK", "warning", "说明", sheet="自评表", cell="B2")
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0004_current")
        conn.execute(text("INSERT INTO rounds (name, form, year, template_versions, signatures_required, roster_file, "
                          "created_at, created_by, roster_version) VALUES ('r', :form, :year, '[]', false, '', "
                          "'2024-01-01', '', 0)"), {"form": FORM, "year": YEAR})
        conn.execute(text("INSERT INTO files (sha256, size, stored_at) VALUES ('ab', 10, '2024-03-01 09:00:00')"))
        conn.execute(text(
            "INSERT INTO submissions (round_id, sha256, size, original_name, source, sender, received_at, state, "
            "reason, decision_note, unit_name, project_key, projects, form, year, content_digest) VALUES "
            "(1, 'ab', 10, '东城_自评.xlsx', 'folder', '', '2024-03-01 09:00:00', 'current', '', '', :unit, '', "
            "'[]', :form, :year, '')"), {"unit": UNIT, "form": FORM, "year": YEAR})
        conn.execute(text(
            "INSERT INTO results (submission_id, checked_at, status, total_score, grade, errors, warnings, "
            "xlperf_version, form_version, checked_json, record_json) VALUES (1, '2024-03-01 09:00:00', "
            "'accepted_with_warnings', :total, :grade, 0, 1, '0.1', :fv, :checked, :record)"),
            {"total": record.total_score, "grade": checked.grade, "fv": checked.form_version,
             "checked": old.checked_to_json(checked), "record": old.record_to_json(record)})
        conn.execute(text("UPDATE submissions SET result_id = 1"))
        conn.execute(text("INSERT INTO findings (result_id, code, severity, sheet, cell, field, label, message) "
                          "VALUES (1, :code, 'warning', :sheet, :cell, '', '', :message)"),
                     {"code": warning.code, "sheet": warning.sheet, "cell": warning.cell, "message": warning.message})
    engine.dispose()
    ledger = db.open()  # migrates to today's head
    try:
        with ledger.session() as session:
            assert session.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD
            sub = session.scalars(select(Submission)).one()
            result = session.get(Result, sub.result_id)
            assert result is not None and result.checked_json.startswith('{"version":2,')
            back = checked_of(session, sub, result)
            assert (back.form, back.form_version, back.unit, back.year) == (FORM, checked.form_version, UNIT, YEAR)
            assert back.values == checked.values and back.scores == checked.scores and back.notes == checked.notes
            assert back.findings == [warning] and back.status == "accepted_with_warnings"
            assert projects_of(back) == checked.projects and indicators_of(back) == checked.indicators
            rnd = session.scalars(select(Round)).one()
            [rolled] = round_records(session, rnd)
            assert projects_of(rolled) == checked.projects and indicators_of(rolled) == checked.indicators
            assert rolled.total_score == Decimal(str(record.total_score)) and rolled.grade == checked.grade
            assert rolled.findings == [warning] and rolled.status == "accepted_with_warnings"
    finally:
        ledger.close()
    # and back down: the two columns as that xlperf wrote them
    engine = create_engine(database_url(db.url))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005_round_form")  # this migration's own down (the one before it is not ours)
        stored, rec = conn.execute(text("SELECT checked_json, record_json FROM results")).one()
    engine.dispose()
    assert stored == old.checked_to_json(checked)
    assert old.loads(rec) == old.loads(old.record_to_json(record))
