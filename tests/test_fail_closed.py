"""Fail closed: a check that raises makes the return unacceptable (退回), with one code,
``CHECK_FAILED``, on every path a return takes -- ``xlperf check``, ``xlperf rollup``,
``xlperf round intake`` (mail goes through the same intake routine), a desk upload and
``xlperf round revalidate`` -- and the traceback is logged for the operator with the file's name.

The fault: the registry's ``SCORE_MISMATCH`` check replaced by one that raises. It reaches the
worker processes because these tests fork them from this process after the patch
(:func:`startmethod.forked_workers`; xlperf itself starts them from a fork server, which
imports the checks afresh).
The return is otherwise clean: without the fault every path accepts it with warnings, which is
what a return whose check crashed was before (通过（有提示）).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner
from deskclient import csrf, signed_in_local
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from sqlalchemy import select
from startmethod import forked_workers

import xlperf.checks.check_return as checker
from xlperf.checks import Check, Context
from xlperf.checks.check_return import check_file
from xlperf.checks.exceeded import exceeded_finding
from xlperf.cli import main
from xlperf.ledger import find_round
from xlperf.ledger.models import FindingRow, Result, Submission
from xlperf.rollup.collect import collect_returns
from xlperf.workers.limits import Limits

FAULTY = "SCORE_MISMATCH"
NEVER = "请重新保存后报送"


def _raise(ctx: Context) -> None:
    raise KeyError("an xlperf bug")


def make_faulty(monkeypatch: pytest.MonkeyPatch) -> None:
    """The SCORE_MISMATCH check raises (in this process and in workers forked from it)."""
    checks = tuple(Check(FAULTY, _raise) if c.code == FAULTY else c for c in checker.CHECKS)
    assert sum(c.code == FAULTY for c in checks) == 1
    monkeypatch.setattr(checker, "CHECKS", checks)
    forked_workers(monkeypatch)


@pytest.fixture()
def faulty(monkeypatch: pytest.MonkeyPatch) -> None:
    make_faulty(monkeypatch)


@pytest.fixture()
def clean(tmp_path: Path) -> Path:
    return make_return(tmp_path / "in" / "自评表_东城区科技局.xlsx", "东城区科技局", **CLEAN)


def _failed_message(name: str) -> str:
    return (f"审核程序出错，文件“{name}”的“得分与重算结果不符”这项检查未能完成，因此本报表暂不能通过。"
            "这不是报表本身的问题，无需重新报送：财政局将查看该文件后答复")


def test_a_return_whose_check_raised_passed_with_warnings_before(clean: Path) -> None:
    checked = check_file(clean, key=None)
    assert checked.status == "accepted_with_warnings"  # what the faulty case used to be too
    assert {f.code for f in checked.findings} == {"CACHE_MISSING", "UNMET_TARGETS_HIGH_SCORE"}


def test_check_file_rejects_and_logs_the_traceback(faulty: None, clean: Path,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="xlperf.checks"):
        checked = check_file(clean, key=None)
    assert checked.status == "rejected"
    failed = [f for f in checked.findings if f.code == "CHECK_FAILED"]
    assert [(f.severity, f.message) for f in failed] == [("error", _failed_message(clean.name))]
    record, = [r for r in caplog.records if r.name == "xlperf.checks"]
    assert str(clean) in record.getMessage() and FAULTY in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_xlperf_check_rejects(faulty: None, clean: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(clean.parent), "--json"],
                                env={"XLPERF_SIGNING_KEY": None, "XLPERF_KEY_FILE": None})
    assert result.exit_code == 1, result.output
    doc, = json.loads(result.output)["returns"]
    assert doc["status"] == "rejected"
    assert [(f["code"], f["severity"]) for f in doc["findings"] if f["severity"] == "error"] == [("CHECK_FAILED", "error")]
    assert NEVER not in result.output


def test_xlperf_rollup_rejects(faulty: None, clean: Path, tmp_path: Path) -> None:
    out = tmp_path / "summary.xlsx"
    result = CliRunner().invoke(main, ["rollup", str(clean.parent), "-o", str(out), "--jobs", "1"],
                                env={"XLPERF_SIGNING_KEY": None, "XLPERF_KEY_FILE": None})
    assert result.exit_code in (0, 1), result.output
    assert "退回 1 份" in result.output
    problems = openpyxl.load_workbook(out)["问题清单"]
    rows = [[c.value for c in row] for row in problems.iter_rows(min_row=2)]
    errors = [(r[4], r[5], r[6]) for r in rows if r[6] == "错误"]
    assert errors == [("退回", "CHECK_FAILED", "错误")]


def test_a_worker_whose_work_raised_is_the_same_code(clean: Path) -> None:
    """Work that raises in a worker process (the roll-up's path for anything check_file lets out)."""
    record, = collect_returns([clean], jobs=1, check=_raising_work)
    assert record.status == "rejected"
    assert [(f.code, f.severity) for f in record.findings] == [("CHECK_FAILED", "error")]
    finding = exceeded_finding(clean, "error", Limits(), "KeyError: 'x'")
    assert (finding.code, finding.severity) == ("CHECK_FAILED", "error") and NEVER not in finding.message


def _raising_work(path: Path) -> object:
    raise KeyError("an xlperf bug in the worker")


# -------------------------------------------------------------------- the ledger's paths


@pytest.fixture()
def rnd(db: LedgerDb, tmp_path: Path) -> str:
    db.run("new", "自评", "--form", FORM, "--year", str(YEAR), "--roster", str(write_roster(tmp_path / "roster")))
    return "自评"


def _findings(db: LedgerDb, rnd: str) -> tuple[str, list[tuple[str, str, str]]]:
    """The current submission's stored status and its error findings (code, severity, message)."""
    ledger = db.open()
    try:
        with ledger.session() as session:
            round_id = find_round(session, rnd).id
            sub = session.scalars(select(Submission).where(Submission.round_id == round_id,
                                                           Submission.state == "current")).one()
            result = session.get(Result, sub.result_id)
            assert result is not None
            rows = session.scalars(select(FindingRow).where(FindingRow.result_id == result.id,
                                                            FindingRow.severity == "error")).all()
            return result.status, [(r.code, r.severity, r.message) for r in rows]
    finally:
        ledger.close()


def test_round_intake_rejects(faulty: None, db: LedgerDb, rnd: str, clean: Path) -> None:
    out = db.run("intake", rnd, str(clean.parent), ok=(1,)).output  # exit 1: a return was rejected
    assert "东城区科技局：退回" in out
    assert _findings(db, rnd) == ("rejected", [("CHECK_FAILED", "error", _failed_message(clean.name))])
    status = json.loads(db.run("status", rnd, "--json").output)
    assert {r["code"]: r["status"] for r in status["rows"]}["3001"] == "退回"


def test_revalidate_rejects(db: LedgerDb, rnd: str, clean: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db.run("intake", rnd, str(clean.parent))
    assert _findings(db, rnd) == ("accepted_with_warnings", [])
    make_faulty(monkeypatch)
    out = db.run("revalidate", rnd).output
    assert "通过（有提示） → 退回" in out
    assert _findings(db, rnd) == ("rejected", [("CHECK_FAILED", "error", _failed_message(clean.name))])


def test_desk_upload_rejects(faulty: None, tmp_path: Path, clean: Path) -> None:
    db = LedgerDb("sqlite", str(tmp_path / "desk.db"), tmp_path / "desk.db.files")  # the desk's tests run on SQLite
    rnd = "自评"
    db.run("new", rnd, "--form", FORM, "--year", str(YEAR), "--roster", str(write_roster(tmp_path / "roster")))
    ledger = db.open()
    client = signed_in_local(ledger)
    assert client.app.state.checkers.context.get_start_method() == "fork"  # made after the patch
    with ledger.session() as session:
        round_id = find_round(session, rnd).id
    response = client.post(f"/rounds/{round_id}/upload", data={"csrf_token": csrf(client)},
                           files=[("files", (clean.name, clean.read_bytes(), "application/octet-stream"))],
                           headers={"accept": "application/json"})
    assert response.status_code == 200, response.text
    result, = response.json()["results"]
    assert (result["kind"], result["status"]) == ("current", "退回")
    client.app.state.checkers.close()
    ledger.close()
    assert _findings(db, rnd) == ("rejected", [("CHECK_FAILED", "error", _failed_message(clean.name))])
