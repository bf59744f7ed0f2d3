"""The ledger's record of a round, through the commands a clerk types (click's runner), on SQLite
and on a real PostgreSQL server: resubmissions and what changed, repeats, held files, decisions
and the event log, the roll-up from the ledger, revalidation after a rule change."""

from __future__ import annotations

import json
from pathlib import Path

import openpyxl
import pytest
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from sqlalchemy import select, text
from startmethod import forked_workers

from xlperf.form.registry import known_forms
from xlperf.ledger import find_round
from xlperf.ledger.models import Event, Submission


@pytest.fixture
def rnd(db: LedgerDb, tmp_path: Path) -> str:
    roster = write_roster(tmp_path)
    db.run("new", "2024自评", "--form", FORM, "--year", str(YEAR), "--roster", str(roster), "--deadline", "2020-01-31")
    return "2024自评"


def status_rows(db: LedgerDb, rnd: str) -> dict[str, dict]:
    doc = json.loads(db.run("status", rnd, "--json").output)
    return {row["code"]: row for row in doc["rows"]}


def test_resubmission_chain_field_diff_and_superseded_excluded_from_rollup(db: LedgerDb, rnd: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    make_return(inbox / "东城_第一版.xlsx", "东城区科技局", age=300, **{**CLEAN, "released": 5.55, "spent_city": 6.2})
    make_return(inbox / "西山_自评.xlsx", "西山县中小企业局", age=200, **CLEAN)
    result = db.run("intake", rnd, str(inbox), ok=(1,))  # 1: a return was rejected
    assert "退回" in result.output
    rows = status_rows(db, rnd)
    assert rows["3001"]["status"] == "退回" and rows["3002"]["status"] == "通过（有提示）"
    assert rows["3003"]["status"] == rows["3004"]["status"] == "未报送"
    first = rows["3001"]["submission"]

    second = make_return(tmp_path / "again" / "东城_第二版.xlsx", "东城区科技局", **{**CLEAN, "spent_city": 38.6})
    db.run("intake", rnd, str(second))
    rows = status_rows(db, rnd)
    assert rows["3001"]["status"] == "通过（有提示）" and rows["3001"]["versions"] == 2
    assert rows["3001"]["submission"] != first

    history = db.run("history", rnd, "东城区科技局").output
    assert "[已被取代]" in history and "[当前有效]" in history
    assert "与上一版相比改动 2 处" in history
    assert "预算下达资金：5.55 → 40" in history  # label as printed on the form, old, new
    assert "6.2 → 38.6" in history
    assert db.run("history", rnd, "3001").output == history  # by code or by name

    summary = tmp_path / "汇总.xlsx"
    db.run("rollup", rnd, "-o", str(summary))
    wb = openpyxl.load_workbook(summary, read_only=True)
    files = [r[1] for r in wb["清单"].iter_rows(min_row=2, values_only=True) if r[1]]
    assert sorted(files) == ["东城_第二版.xlsx", "西山_自评.xlsx"]  # the superseded one is not rolled up
    missing = [r[1] for r in wb["未报送"].iter_rows(min_row=2, values_only=True) if r[1]]
    assert sorted(missing) == ["北湖县工信局", "南城区商务局"]


def test_repeat_held_ignored_and_known(db: LedgerDb, rnd: str, tmp_path: Path) -> None:
    inbox = tmp_path / "inbox"
    original = make_return(inbox / "东城.xlsx", "东城区科技局", age=100, **CLEAN)
    make_return(inbox / "陌生单位.xlsx", "不在名单的局", age=90, **CLEAN)
    make_return(inbox / "申报表.xlsx", "南城区商务局", form="target_declaration", age=80)
    make_return(inbox / "去年的.xlsx", "北湖县工信局", age=70, year=YEAR - 1, **CLEAN)
    (inbox / "说明.docx").write_bytes(b"PK not really")
    out = db.run("intake", rnd, str(inbox), ok=(1,)).output
    assert "不在本任务的名单中" in out and "表单不符" in out and "年度不符" in out and "不是报表" in out

    copy = tmp_path / "mail" / "东城_再发一次.xlsx"
    copy.parent.mkdir()
    copy.write_bytes(original.read_bytes())
    out = db.run("intake", rnd, str(copy)).output
    assert "重复文件" in out and "未重复审核" in out
    out = db.run("intake", rnd, str(inbox), ok=(0, 1)).output  # the same folder again: nothing new
    assert "此前已登记 5" in out and "新登记 0" in out

    ledger = db.open()
    with ledger.session() as session:
        subs = session.scalars(select(Submission).order_by(Submission.id)).all()
        states = {s.original_name: s.state for s in subs}
        assert states == {"东城.xlsx": "current", "陌生单位.xlsx": "held", "申报表.xlsx": "held",
                          "去年的.xlsx": "held", "说明.docx": "ignored", "东城_再发一次.xlsx": "repeat"}
        repeat = next(s for s in subs if s.state == "repeat")
        assert repeat.repeat_of == next(s.id for s in subs if s.original_name == "东城.xlsx")
        checked = session.scalars(select(Event.submission_id).where(Event.kind == "checked")).all()
        assert repeat.id not in checked and len(checked) == 4  # the repeat and the .docx: not checked
        # Every file is kept, unchanged, under its digest.
        for sub in subs:
            assert ledger.store.path(sub.sha256).is_file()
        assert ledger.store.read(repeat.sha256) == original.read_bytes()
    ledger.close()
    doc = json.loads(db.run("status", rnd, "--json").output)
    assert (doc["held"], doc["ignored"], doc["repeats"]) == (3, 1, 1)
    assert doc["counts"]["通过（有提示）"] == 1 and doc["counts"]["未报送"] == 3
    assert all(r["overdue"] == (r["status"] == "未报送") for r in doc["rows"])  # deadline 2020 has passed


def test_decisions_and_event_log(db: LedgerDb, rnd: str, tmp_path: Path) -> None:
    make_return(tmp_path / "in" / "东城.xlsx", "东城区科技局", **CLEAN)
    make_return(tmp_path / "in" / "西山.xlsx", "西山县中小企业局", **{**CLEAN, "released": 5.55, "spent_city": 6.2})
    db.run("intake", rnd, str(tmp_path / "in"), ok=(1,))
    rows = status_rows(db, rnd)
    good, bad = rows["3001"]["submission"], rows["3002"]["submission"]

    refused = db.run("accept", rnd, str(bad), "--note", "x", ok=(2,))
    assert "不能通过" in refused.output
    assert "须写明原因" in db.run("return", rnd, str(good), ok=(2,)).output
    assert "没有编号" in db.run("void", rnd, "9999", ok=(2,)).output

    db.run("accept", rnd, str(good), "--note", "提示已核实")
    assert status_rows(db, rnd)["3001"]["status"] == "通过"
    db.run("return", rnd, str(good), "--note", "附件缺少盖章页")
    row = status_rows(db, rnd)["3001"]
    assert row["status"] == "退回" and row["note"] == "附件缺少盖章页"
    db.run("void", rnd, str(bad), "--note", "误报")
    assert status_rows(db, rnd)["3002"]["status"] == "已作废"

    summary = tmp_path / "s.xlsx"
    db.run("rollup", rnd, "-o", str(summary))
    wb = openpyxl.load_workbook(summary, read_only=True)
    inventory = {r[1]: r for r in wb["清单"].iter_rows(min_row=2, values_only=True) if r[1]}
    assert list(inventory) == ["东城.xlsx"]  # voided: not rolled up; returned: rejected
    assert inventory["东城.xlsx"][8] == "退回"
    codes = [r[5] for r in wb["问题清单"].iter_rows(min_row=2, values_only=True)]
    assert "STAFF_RETURNED" in codes

    ledger = db.open()
    with ledger.session() as session:
        events = [(e.kind, e.submission_id, e.note) for e in session.scalars(select(Event).order_by(Event.id))]
        assert ("accepted", good, "提示已核实") in events and ("returned", good, "附件缺少盖章页") in events
        assert ("voided", bad, "误报") in events
        kinds = [k for k, s, _ in events if s == good]
        assert kinds == ["received", "checked", "accepted", "returned"]
        assert events[0][0] == "created"
    # Append-only, enforced by the database itself.
    for statement in ("UPDATE events SET note = 'x'", "DELETE FROM events"):
        with pytest.raises(Exception, match="append-only"), ledger.engine.begin() as conn:
            conn.execute(text(statement))
    with ledger.session() as session:
        assert session.scalar(select(Event.note).where(Event.kind == "voided")) == "误报"
    ledger.close()


def test_round_commands_refuse_bad_input(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path)
    assert "没有名为" in db.run("status", "无此任务", ok=(2,)).output
    assert "未知的表单" in db.run("new", "x", "--form", "nope", "--year", "2024", "--roster", str(roster), ok=(2,)).output
    bad = write_roster(tmp_path / "bad", "单位代码,单位名称,主管部门\n1,甲,部门\n1,乙,部门\n")
    assert "单位名单有误" in db.run("new", "x", "--form", FORM, "--year", "2024", "--roster", str(bad), ok=(2,)).output
    db.run("new", "x", "--form", FORM, "--year", "2024", "--roster", str(roster))
    assert "已存在" in db.run("new", "x", "--form", FORM, "--year", "2024", "--roster", str(roster), ok=(2,)).output
    out = db.run("list").output
    kept = known_forms()[FORM].digest[:12]  # the round keeps its form: title, version, short hash
    assert out.startswith(f"x  财政支出项目绩效自评表（版本 1.0，规格 {kept}）  2024") and "未报送 4" in out
    assert "名单中没有单位" in db.run("history", "x", "不存在的局", ok=(2,)).output


def test_revalidate_after_a_rule_change(db: LedgerDb, rnd: str, tmp_path: Path, lo_recalc,  # type: ignore[no-untyped-def]
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # 平台运营 achieved 1.1 against a target of 1: 10% above, fine while the form asks for an
    # explanation from 30% above.
    filled = make_return(tmp_path / "filled" / "东城.xlsx", "东城区科技局", ind_1_actual=1.1, ind_2_actual=1, **CLEAN)
    recalculated = lo_recalc([filled], tmp_path / "calc")[filled]  # as the unit's Excel saved it
    db.run("intake", rnd, str(recalculated))
    assert status_rows(db, rnd)["3001"]["status"] == "通过"

    # The bureau tightens a rule of its form: an indicator 5% above its target must now be
    # explained. The rule lives in the spec (the indicator table's missed_target overshoot), so
    # the round is revalidated with a copy of its form that says so.
    spec = known_forms()[FORM].text
    builtin = tmp_path / "builtin.yaml"
    builtin.write_text(spec, encoding="utf-8")
    marker = "missed_target: {op: op, target: target, actual: actual, reason: reason}"
    assert spec.count(marker) == 1
    tightened = tmp_path / "tightened.yaml"
    tightened.write_text(spec.replace(marker, marker[:-1] + ", overshoot: 0.05}"), encoding="utf-8")
    out = db.run("revalidate", rnd, "--form", str(tightened)).output
    assert "通过 → 通过（有提示）" in out and "已重新审核 1 份，结果变化 1 份" in out
    assert status_rows(db, rnd)["3001"]["status"] == "通过（有提示）"
    ledger = db.open()
    with ledger.session() as session:
        rnd_row = find_round(session, rnd)
        sub = session.scalars(select(Submission).where(Submission.round_id == rnd_row.id)).one()
        results = session.execute(text("SELECT status FROM results WHERE submission_id = :s ORDER BY id"),
                                  {"s": sub.id}).scalars().all()
        assert results == ["accepted", "accepted_with_warnings"]  # the old result is kept
        assert session.scalar(select(Event.note).where(Event.kind == "revalidated")) == "通过 → 通过（有提示）"
    ledger.close()
    assert "结果变化 1 份" in db.run("revalidate", rnd, "--form", str(builtin)).output


def test_round_requiring_signatures(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path)
    db.run("new", "签名", "--form", FORM, "--year", str(YEAR), "--roster", str(roster), "--require-signature")
    unsigned = make_return(tmp_path / "in" / "东城.xlsx", "东城区科技局", **CLEAN)
    assert "要求签名" in db.run("intake", "签名", str(unsigned), ok=(2,)).output
    out = db.run("intake", "签名", str(unsigned), ok=(1,), env={"XLPERF_SIGNING_KEY": "a-test-signing-key-of-32-bytes!!"}).output
    assert "暂存待处理" in out and "没有签名" in out
    assert status_rows(db, "签名")["3001"]["status"] == "未报送"


def test_intake_files_from_bytes(db: LedgerDb, rnd: str, tmp_path: Path) -> None:
    """What upload and mailbox intake call: files as bytes, any name; a broken zip is recorded,
    not checked, with a reason the unit can act on."""
    from xlperf.intake import intake_files

    data = make_return(tmp_path / "x.xlsx", "南城区商务局", **CLEAN).read_bytes()
    ledger = db.open()
    with ledger.session() as session:
        round_row = find_round(session, rnd)
    result = intake_files(ledger, round_row, [("南城 自评（定稿）.xlsx", data), ("附件.zip", b"PK\x03\x04broken")],
                          source="upload", sender="clerk@example.gov.cn")
    kinds = [(o.name, o.kind) for o in result.outcomes]
    assert kinds == [("南城 自评（定稿）.xlsx", "current"), ("附件.zip", "ignored")]
    assert result.outcomes[1].reason.startswith("压缩包“附件.zip”已损坏或不完整")
    again = intake_files(ledger, round_row, [("南城 自评（定稿）.xlsx", data)], source="mail", sender="nancheng@example.gov.cn")
    assert again.outcomes[0].kind == "repeat" and again.outcomes[0].repeat_of == result.outcomes[0].submission_id
    with ledger.session() as session:
        sub = session.get(Submission, result.outcomes[0].submission_id)
        assert sub is not None and (sub.source, sub.sender, sub.size) == ("upload", "clerk@example.gov.cn", len(data))
    ledger.close()
    assert status_rows(db, rnd)["3003"]["status"] == "通过（有提示）"


def _misbehave(path: Path, **options: object) -> object:
    """Hang on 慢.xlsx, allocate 2 GiB on 大.xlsx, die on 崩.xlsx; check anything else."""
    import os
    import time

    from xlperf.checks.check_return import check_file

    if path.name == "慢.xlsx":
        time.sleep(600)
    if path.name == "大.xlsx":
        hog = bytearray(2 << 30)
        return len(hog)
    if path.name == "崩.xlsx":
        os._exit(3)
    return check_file(path, **options)  # type: ignore[arg-type]


def test_intake_checks_every_file_under_the_limits(db: LedgerDb, rnd: str, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A file that hangs, bloats or kills its reader ends as one finding and the intake goes on:
    the same per-file limits as ``xlperf check`` (upload and mailbox intake take this path too)."""
    from xlperf.checks import check_files as checking
    from xlperf.intake import intake_files

    forked_workers(monkeypatch)  # the workers see the patch
    monkeypatch.setattr(checking, "check_file", _misbehave)
    monkeypatch.setenv("XLPERF_FILE_SECONDS", "3")
    monkeypatch.setenv("XLPERF_FILE_MEMORY_MB", "512")
    good = make_return(tmp_path / "x.xlsx", "南城区商务局", **CLEAN).read_bytes()
    ledger = db.open()
    with ledger.session() as session:
        round_row = find_round(session, rnd)
    files: list[tuple[str, bytes | Path]] = [
        ("慢.xlsx", b"slow"), ("南城.xlsx", good), ("大.xlsx", b"big"), ("崩.xlsx", b"crash")]
    result = intake_files(ledger, round_row, files, source="upload", jobs=2)
    ledger.close()
    assert [o.name for o in result.outcomes] == [name for name, _ in files]  # every file, in order
    codes = {row["file"]: row["code"] for row in _first_errors(db, rnd)}
    assert codes == {"慢.xlsx": "FILE_TOO_COMPLEX", "大.xlsx": "FILE_TOO_COMPLEX", "崩.xlsx": "WORKER_CRASHED"}
    assert status_rows(db, rnd)["3003"]["status"] == "通过（有提示）"


def _first_errors(db: LedgerDb, rnd: str) -> list[dict[str, str]]:
    """The first error finding of each rejected submission of the round, by original name."""
    from xlperf.ledger.models import FindingRow, Result

    ledger = db.open()
    with ledger.session() as session:
        rows = session.execute(
            select(Submission.original_name, FindingRow.code)
            .join(Result, Result.id == Submission.result_id)
            .join(FindingRow, FindingRow.result_id == Result.id)
            .where(FindingRow.severity == "error").order_by(FindingRow.id)).all()
    ledger.close()
    first: dict[str, str] = {}
    for name, code in rows:
        first.setdefault(name, code)
    return [{"file": name, "code": code} for name, code in first.items()]


def test_status_rows_per_project_and_per_unit_count_versions_and_take_the_newest(db: LedgerDb, tmp_path: Path) -> None:
    """A roster listing projects for one unit and none for another: one row per project (a return
    counts for the project it names), one row for the unit; versions and the current return each."""
    roster = write_roster(tmp_path, "单位代码,单位名称,主管部门,联系人,邮箱,项目名称\n"
                                    "3001,东城区科技局,市科学技术局,张明,d@example.gov.cn,科技创新券\n"
                                    "3001,东城区科技局,市科学技术局,张明,d@example.gov.cn,孵化器补助\n"
                                    "3002,西山县中小企业局,市工业和信息化局,李华,x@example.gov.cn,\n")
    db.run("new", "项目", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    inbox = tmp_path / "inbox"
    make_return(inbox / "东城_创新券_1.xlsx", "东城区科技局", age=400, project_name="科技创新券",
                **{**CLEAN, "spent_city": 6.2})
    make_return(inbox / "东城_创新券_2.xlsx", "东城区科技局", age=300, project_name="科技创新券", **CLEAN)
    make_return(inbox / "西山_1.xlsx", "西山县中小企业局", age=200, **{**CLEAN, "spent_city": 6.2})
    make_return(inbox / "西山_2.xlsx", "西山县中小企业局", age=100, **CLEAN)
    db.run("intake", "项目", str(inbox), ok=(0, 1))
    doc = json.loads(db.run("status", "项目", "--json").output)
    rows = {(r["code"], r["project"]): r for r in doc["rows"]}
    assert set(rows) == {("3001", "科技创新券"), ("3001", "孵化器补助"), ("3002", "")}
    with db.open().session() as session:
        newest = {s.original_name: s.id for s in session.scalars(select(Submission))}
    assert rows[("3001", "科技创新券")]["versions"] == 2
    assert rows[("3001", "科技创新券")]["submission"] == newest["东城_创新券_2.xlsx"]
    assert rows[("3001", "科技创新券")]["status"] == "通过（有提示）"
    assert rows[("3001", "孵化器补助")]["status"] == "未报送" and rows[("3001", "孵化器补助")]["versions"] == 0
    assert rows[("3002", "")]["versions"] == 2 and rows[("3002", "")]["submission"] == newest["西山_2.xlsx"]
    assert rows[("3002", "")]["status"] == "通过（有提示）"
    assert doc["counts"]["未报送"] == 1


def test_a_recording_failure_stops_the_intake_in_order_and_a_rerun_finishes(db: LedgerDb, rnd: str, tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches are recorded by a thread of their own while later files are checked: an error
    there reaches the command, the batches before it stay recorded, none after it is recorded
    out of order, and the intake run again records the rest."""
    from xlperf.intake import files as intake_module
    from xlperf.intake import intake_paths

    inbox = tmp_path / "inbox"
    units = ("东城区科技局", "西山县中小企业局", "南城区商务局", "北湖县工信局")
    for i in range(7):
        make_return(inbox / f"{i}.xlsx", units[i % 4], age=100 - i, project_name=f"项目{i}", **CLEAN)
    real = intake_module.receive
    batches: list[list[str]] = []

    def fail_on_the_second(session, view, items, actor=""):  # type: ignore[no-untyped-def]
        batches.append([item.name for item in items])
        if len(batches) == 2:
            raise RuntimeError("磁盘已满")
        return real(session, view, items, actor=actor)

    monkeypatch.setattr(intake_module, "receive", fail_on_the_second)
    ledger = db.open()
    with ledger.session() as session:
        round_row = find_round(session, rnd)
    with pytest.raises(RuntimeError, match="磁盘已满"):
        intake_paths(ledger, round_row, [inbox], batch=2, jobs=2)
    with ledger.session() as session:
        recorded = sorted(session.scalars(select(Submission.original_name)))
    ledger.close()
    assert batches == [["0.xlsx", "1.xlsx"], ["2.xlsx", "3.xlsx"]]  # oldest first; nothing after the failure
    assert recorded == ["0.xlsx", "1.xlsx"]

    monkeypatch.setattr(intake_module, "receive", real)
    out = db.run("intake", rnd, str(inbox)).output
    assert "此前已登记 2" in out and "新登记 5" in out
    assert status_rows(db, rnd)["3004"]["status"] == "通过（有提示）"


def test_uploaded_files_of_the_same_name_are_each_checked_as_themselves(db: LedgerDb, rnd: str, tmp_path: Path) -> None:
    """Files given as bytes are checked under the name the unit gave them: two of one name in a
    batch do not overwrite each other, and a name that is no file name is no path either."""
    from xlperf.intake import intake_files

    east = make_return(tmp_path / "1.xlsx", "东城区科技局", **CLEAN).read_bytes()
    west = make_return(tmp_path / "2.xlsx", "西山县中小企业局", **CLEAN).read_bytes()
    south = make_return(tmp_path / "3.xlsx", "南城区商务局", **CLEAN).read_bytes()
    ledger = db.open()
    with ledger.session() as session:
        round_row = find_round(session, rnd)
    files: list[tuple[str, bytes | Path]] = [("自评表.xlsx", east), ("自评表.xlsx", west), ("../../南城.xlsx", south)]
    result = intake_files(ledger, round_row, files, source="upload")
    ledger.close()
    assert [(o.name, o.kind, o.unit) for o in result.outcomes] == [
        ("自评表.xlsx", "current", "东城区科技局"), ("自评表.xlsx", "current", "西山县中小企业局"),
        ("../../南城.xlsx", "current", "南城区商务局")]
    rows = status_rows(db, rnd)
    assert rows["3001"]["status"] == rows["3002"]["status"] == rows["3003"]["status"] == "通过（有提示）"


def test_a_file_named_after_another_roster_unit_is_flagged_at_intake_and_revalidation(db: LedgerDb, rnd: str,
                                                                                       tmp_path: Path) -> None:
    """The round's roster reaches the checks, as ``xlperf check --roster`` gives it: a unit's
    return sent under another unit's name is counted for the unit inside, with a warning."""
    inbox = tmp_path / "inbox"
    make_return(inbox / "自评表_西山县中小企业局.xlsx", "东城区科技局", **CLEAN)
    make_return(inbox / "自评表_南城区商务局.xlsx", "南城区商务局", **CLEAN)
    db.run("intake", rnd, str(inbox))

    def flagged() -> dict[str, list[str]]:
        from xlperf.ledger.models import FindingRow, Result

        ledger = db.open()
        with ledger.session() as session:
            rows = session.execute(select(Submission.original_name, FindingRow.message)
                                   .join(Result, Result.id == Submission.result_id)
                                   .join(FindingRow, FindingRow.result_id == Result.id)
                                   .where(FindingRow.code == "FILE_NAME_UNIT_MISMATCH")).all()
        ledger.close()
        found: dict[str, list[str]] = {}
        for name, message in rows:
            found.setdefault(name, []).append(message)
        return found

    first = flagged()
    assert list(first) == ["自评表_西山县中小企业局.xlsx"]
    assert "西山县中小企业局" in first["自评表_西山县中小企业局.xlsx"][0] and "东城区科技局" in first["自评表_西山县中小企业局.xlsx"][0]
    assert status_rows(db, rnd)["3001"]["status"] == "通过（有提示）"  # counted for the unit inside
    db.run("revalidate", rnd)
    assert list(flagged()) == ["自评表_西山县中小企业局.xlsx"]


def test_what_is_kept_of_a_round_is_read_once_and_never_taken_for_another_round(tmp_path: Path) -> None:
    """A round's units are read once per process while it is unchanged (an upload of a few files
    to a 10,000-unit round no longer reads them per request); a ledger made again at the same
    path, with another roster, is not served the old round's units (a roster changed in place:
    tests/test_round_caches.py)."""
    from xlperf.ledger import create_round, open_ledger, round_view
    from xlperf.ledger.round_checks import round_check
    from xlperf.read.roster import read_roster

    def ledger_with(units: str):  # type: ignore[no-untyped-def]
        roster = tmp_path / "roster.csv"
        roster.write_text("单位代码,单位名称,主管部门\n" + units, encoding="utf-8")
        ledger = open_ledger(str(tmp_path / "l.db"))
        with ledger.session() as session, session.begin():
            create_round(session, "r", FORM, YEAR, read_roster(roster))
        return ledger

    first = ledger_with("1,东城区科技局,市科技局\n")
    with first.session() as session:
        rnd = find_round(session, "r")
        view = round_view(session, rnd)
        assert round_view(session, rnd) is view and round_check(session, rnd) is round_check(session, rnd)
    first.close()
    assert list(view.by_name) == ["东城区科技局"]
    for path in tmp_path.glob("l.db*"):
        path.unlink()
    second = ledger_with("1,西山县中小企业局,市工信局\n")
    with second.session() as session:
        rnd = find_round(session, "r")
        assert list(round_view(session, rnd).by_name) == ["西山县中小企业局"]
        roster = round_check(session, rnd).roster
        assert roster is not None and [u.name for u in roster.units] == ["西山县中小企业局"]
    second.close()


def test_a_name_too_long_for_a_file_system_is_still_checked_and_revalidated(db: LedgerDb, rnd: str,
                                                                            tmp_path: Path) -> None:
    """A mailed zip may name a member with hundreds of characters (a file system takes 255
    bytes): the file is checked under a shortened name, keeping its extension, recorded under
    the name the unit gave, and checked again by revalidation."""
    from xlperf.intake import intake_files

    long_name = "东城区科技局" * 30 + "自评表.xlsx"  # 570 bytes in UTF-8
    data = make_return(tmp_path / "x.xlsx", "东城区科技局", **CLEAN).read_bytes()
    ledger = db.open()
    with ledger.session() as session:
        round_row = find_round(session, rnd)
    result = intake_files(ledger, round_row, [(long_name, data)], source="mail")
    ledger.close()
    assert [(o.name, o.kind, o.unit) for o in result.outcomes] == [(long_name, "current", "东城区科技局")]
    assert status_rows(db, rnd)["3001"]["status"] == "通过（有提示）"
    assert "已重新审核 1 份，结果变化 0 份" in db.run("revalidate", rnd).output


def test_a_fifo_and_a_broken_link_in_the_folder_are_recorded_with_their_reasons_never_read(
        db: LedgerDb, rnd: str, tmp_path: Path) -> None:
    """Reading a FIFO named like a return blocks for ever; each such entry ends as one
    not-a-return row with its own reason (not a repeat of the other: nothing of either was
    read), the returns beside them are taken in, and the folder taken in again is all known."""
    import os
    import subprocess
    import sys

    import hostile_corpus as corpus

    inbox = tmp_path / "inbox"
    make_return(inbox / "东城.xlsx", "东城区科技局", **CLEAN)
    corpus.fifo(inbox)
    (inbox / "断链.xlsx").symlink_to(tmp_path / "不存在.xlsx")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    env.pop("XLPERF_SIGNING_KEY", None)
    command = [sys.executable, "-m", "xlperf", "round", *db.args(), "intake", rnd, str(inbox)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)  # a hang fails here
    assert done.returncode == 0, done.stderr
    lines = {line.split()[1]: line for line in done.stdout.splitlines() if line.startswith(("未审核", "已登记", "重复"))}
    assert "命名管道" in lines["管道.xlsx"] and lines["管道.xlsx"].startswith("未审核")
    assert "无法读取文件" in lines["断链.xlsx"] and lines["断链.xlsx"].startswith("未审核")
    assert lines["东城.xlsx"].startswith("已登记")
    again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert "此前已登记 3" in again.stdout, again.stdout
