"""``round new`` and the desk's 新建报送任务 (issue 21 items 11 and 14): one rule for round names,
"已新建" only after the commit, and roster cells with line breaks (Alt+Enter in Excel)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest
from deskclient import csrf, ledger_at, signed_in_local
from ledger_support import FORM, ROSTER, YEAR, LedgerDb, write_roster
from openpyxl.styles import Alignment

from xlperf.ledger.rounds import MAX_ROUND_NAME

REPO = Path(__file__).resolve().parent.parent
BAD_NAMES = {
    "": "任务名称不能为空",
    "   ": "任务名称不能为空",
    "2026年\n项目支出自评": "任务名称只能是一行文字",
    "2026年\t自评": "任务名称只能是一行文字",
    "2026年\u200b自评": "任务名称只能是一行文字",
    "评" * 3000: f"任务名称过长（3000 个字符）：不得超过 {MAX_ROUND_NAME} 个字符",
}


def rounds(db: LedgerDb) -> list[str]:
    """The names ``round list`` shows."""
    return [line.split("  ")[0] for line in db.run("list").output.splitlines() if "  " in line]


@pytest.mark.parametrize("name", list(BAD_NAMES), ids=["empty", "blank", "two-lines", "tab", "zero-width", "3000"])
def test_round_new_refuses_names_that_are_not_one_short_line(db: LedgerDb, tmp_path: Path, name: str) -> None:
    roster = write_roster(tmp_path / "r")
    result = db.run("new", name, "--form", FORM, "--year", str(YEAR), "--roster", str(roster), ok=(2,))
    assert BAD_NAMES[name] in result.output and "NAME" in result.output
    assert rounds(db) == []


def test_round_new_takes_a_name_of_the_longest_length_and_trims_it(db: LedgerDb, tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "r")
    longest = "评" * MAX_ROUND_NAME
    db.run("new", f"  {longest} ", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    assert rounds(db) == [longest]


def test_the_desk_refuses_the_same_names(tmp_path: Path) -> None:
    ledger = ledger_at(tmp_path)
    client = signed_in_local(ledger)
    roster = write_roster(tmp_path / "r")
    for name, message in BAD_NAMES.items():
        response = client.post("/rounds", data={"csrf_token": csrf(client), "name": name, "form": FORM,
                                                "year": str(YEAR)},
                               files={"roster": (roster.name, roster.read_bytes(), "text/csv")})
        assert response.status_code == 400 and message in response.text, name
    assert f'maxlength="{MAX_ROUND_NAME}"' in client.get("/rounds/new").text
    assert "还没有报送任务" in client.get("/rounds").text


def _round_new(db: LedgerDb, name: str, roster: Path, stdout: int | None) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "xlperf", "round", *db.args(), "new", name, "--form", FORM,
                             "--year", str(YEAR), "--roster", str(roster)],
                            stdout=stdout, stderr=subprocess.PIPE, env=env)


def test_with_stdout_closed_before_it_writes_the_round_is_created_and_reported(db: LedgerDb, tmp_path: Path) -> None:
    """The reader of the pipe is gone before ``round new`` writes anything (``| head -1`` at its
    worst): the round is committed, and reported on standard error, without a traceback."""
    roster = write_roster(tmp_path / "r")
    read, write = os.pipe()
    os.close(read)
    proc = _round_new(db, "2026年自评", roster, write)
    os.close(write)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err.decode()
    assert err.decode().startswith("已新建报送任务“2026年自评”") and "Traceback" not in err.decode()
    assert rounds(db) == ["2026年自评"]


def test_piped_to_head_the_first_line_is_always_a_round_that_exists(db: LedgerDb, tmp_path: Path) -> None:
    """As the issue ran it: ``round new … | head -1``, six times with six names."""
    roster = write_roster(tmp_path / "r")
    for i in range(6):
        read, write = os.pipe()
        head = subprocess.Popen(["head", "-1"], stdin=read, stdout=subprocess.PIPE)
        proc = _round_new(db, f"任务{i}", roster, write)
        os.close(read)
        os.close(write)
        shown, _ = head.communicate(timeout=120)
        _, err = proc.communicate(timeout=120)
        assert shown.decode().startswith(f"已新建报送任务“任务{i}”"), (shown.decode(), err.decode())
        assert proc.returncode == 0 and "Traceback" not in err.decode()
    assert rounds(db) == [f"任务{i}" for i in range(6)]
    read, write = os.pipe()
    head = subprocess.Popen(["head", "-1"], stdin=read, stdout=subprocess.PIPE)
    again = _round_new(db, "任务0", roster, write)  # not created (the name is taken): nothing printed
    os.close(read)
    os.close(write)
    shown, _ = head.communicate(timeout=120)
    _, err = again.communicate(timeout=120)
    assert shown == b"" and again.returncode == 2 and "报送任务“任务0”已存在" in err.decode()
    assert rounds(db) == [f"任务{i}" for i in range(6)]


def _xlsx_roster(path: Path, rows: list[list[str]]) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [["单位代码", "单位名称", "主管部门", "联系人", "邮箱"], *rows]:
        sheet.append(row)
    for cells in sheet.iter_rows():
        for cell in cells:
            cell.alignment = Alignment(wrap_text=True)  # as Alt+Enter leaves it
    book.save(path)
    return path


def test_two_contacts_on_two_lines_become_one_line(db: LedgerDb, tmp_path: Path) -> None:
    rows = [line.split(",") for line in ROSTER.splitlines()[1:]]
    rows[0][3] = "张明\n李华"
    rows[1][3] = "\n王芳 \r\n\n"
    roster = _xlsx_roster(tmp_path / "名单.xlsx", rows)
    db.run("new", "2026年自评", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    ledger = db.open()
    from sqlalchemy import select

    from xlperf.ledger.models import Unit
    with ledger.session() as session:
        contacts = session.scalars(select(Unit.contact).order_by(Unit.id)).all()
    ledger.close()
    assert contacts == ["张明、李华", "王芳", "王芳", "赵强"]


def test_a_name_on_two_lines_is_refused_with_its_row_and_column(db: LedgerDb, tmp_path: Path) -> None:
    rows = [line.split(",") for line in ROSTER.splitlines()[1:]]
    rows[1][1] = "西山县\n中小企业局"
    rows[2][2] = "市商务局\r\n市财政局"
    rows[3][0] = "3004\n3005"
    roster = _xlsx_roster(tmp_path / "名单.xlsx", rows)
    result = db.run("new", "2026年自评", "--form", FORM, "--year", str(YEAR), "--roster", str(roster), ok=(2,))
    assert "名单.xlsx 第 3 行 B 列（单位名称）“西山县 ⏎ 中小企业局”含换行或控制字符" in result.output
    assert "名单.xlsx 第 4 行 C 列（主管部门）“市商务局 ⏎ 市财政局”含换行或控制字符" in result.output
    assert "名单.xlsx 第 5 行 A 列（单位代码）“3004 ⏎ 3005”含换行或控制字符" in result.output
    assert "多个单位或项目请各占一行" in result.output
    assert rounds(db) == []


def test_the_desk_refuses_the_same_roster_with_the_row_and_column(tmp_path: Path) -> None:
    rows = [line.split(",") for line in ROSTER.splitlines()[1:]]
    rows[1][1] = "西山县\n中小企业局"
    roster = _xlsx_roster(tmp_path / "名单.xlsx", rows)
    client = signed_in_local(ledger_at(tmp_path))
    response = client.post("/rounds", data={"csrf_token": csrf(client), "name": "2026年自评", "form": FORM,
                                            "year": str(YEAR)},
                           files={"roster": (roster.name, roster.read_bytes(), "application/octet-stream")})
    assert response.status_code == 400
    problems = response.text.split('id="roster-problems"')[1].split("</ul>")[0]
    assert "名单.xlsx 第 3 行 B 列（单位名称）“西山县 ⏎ 中小企业局”含换行或控制字符" in problems
    assert "还没有报送任务" in client.get("/rounds").text
