"""What people read is Chinese (issue 21 item 16, desk and demo side): the desk's 操作记录, the
demo's output without LibreOffice, form titles instead of form ids."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from deskclient import ledger_at, signed_in_local
from ledger_support import CLEAN, FORM, YEAR, make_return, write_roster
from sqlalchemy import select

from xlperf.cli import main
from xlperf.form.specload import FORMS_DIR
from xlperf.ledger import open_ledger
from xlperf.ledger.models import Event, Submission
from xlperf.ledger.rounds import log_event

REPO = Path(__file__).resolve().parent.parent
ALLOWED = re.compile(r"\S*/\S*|\S+@\S+|\b[A-Z][A-Z0-9_]{2,}\b|\S+\.(xlsx|eml|key|db)\b|xlperf serve --db|"
                     r"LibreOffice|soffice|apt-get install libreoffice-calc|\bExcel\b|\bWPS\b|\bxlperf\b")
"""What may be written in Latin letters in Chinese output: paths, addresses, file names, finding
codes (documented, for staff), program and product names, a command to type."""


def english_words(text: str) -> list[str]:
    return [f"{word} | {line}" for line in text.splitlines() for word in re.findall(r"[A-Za-z]{3,}", ALLOWED.sub("", line))]


def test_the_demo_without_libreoffice_says_so_in_chinese(tmp_path: Path) -> None:
    python_only = str(Path(sys.executable).parent)
    assert not any((Path(python_only) / exe).exists() for exe in ("soffice", "libreoffice"))
    done = subprocess.run([sys.executable, "-m", "xlperf", "demo", "-o", str(tmp_path / "out")], cwd=tmp_path,
                          env={**os.environ, "PATH": python_only, "PYTHONPATH": str(REPO)},
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr
    assert ("填报样例（重算工作簿需要 LibreOffice，但找不到其程序 soffice；请安装 LibreOffice，如 apt-get install "
            "libreoffice-calc，文件中没有公式计算结果，审核时将重算）") in done.stdout
    assert "表单不符：本任务收“财政支出项目绩效自评表”，此文件是“项目支出绩效目标申报表”" in done.stdout
    assert english_words(done.stdout) == []
    assert done.stdout.splitlines()[-2].startswith("在网页收报台中查看演示报送任务：xlperf serve --db ")


def test_the_desk_s_event_log_names_where_a_file_came_from_in_words(tmp_path: Path) -> None:
    roster = write_roster(tmp_path / "r")
    db = str(tmp_path / "xlperf.db")
    runner = CliRunner()
    assert runner.invoke(main, ["round", "--db", db, "new", "自评", "--form", FORM, "--year", str(YEAR),
                                "--roster", str(roster)]).exit_code == 0
    inbox = tmp_path / "演示收件箱"
    make_return(inbox / "东城.xlsx", "东城区科技局", **CLEAN)
    assert runner.invoke(main, ["round", "--db", db, "intake", "自评", str(inbox), "--sender", "演示收件箱"]).exit_code == 0
    ledger = open_ledger(db)
    with ledger.session() as session, session.begin():
        sub = session.scalars(select(Submission)).one()
        # As a ledger written before issue 21 holds it.
        log_event(session, sub.round_id, "received", submission_id=sub.id, actor="旧版", note="folder 旧收件箱")
        log_event(session, sub.round_id, "some_future_kind", submission_id=sub.id, actor="旧版", note="")
    with ledger.session() as session:
        created = session.scalars(select(Event.note).where(Event.kind == "created")).one()
    # The round keeps its form (issue 22): the note names the spec's version and the SHA-256 of
    # its text, here the built-in spec file's.
    spec_hash = hashlib.sha256((FORMS_DIR / f"{FORM}.yaml").read_bytes()).hexdigest()
    assert created == f"表单“财政支出项目绩效自评表”版本 1.0（规格 {spec_hash}），年度 {YEAR}，名单 4 个单位"
    client = signed_in_local(ledger_at(tmp_path))
    page = client.get(f"/rounds/{sub.round_id}/submissions/{sub.id}").text
    log = page.split('id="event-log"')[1].split("</table>")[0]
    notes = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td><td>([^<]*)</td><td[^>]*>([^<]*)</td></tr>", log)
    # (审核's note, the check's counts, is the checks' business)
    assert [(kind, note) for kind, _, note in notes if kind != "审核"] == [
        ("收到", "文件夹 演示收件箱"), ("收到", "文件夹 旧收件箱"), ("其他事项", "")]
    assert [kind for kind, _, _ in notes] == ["收到", "审核", "收到", "其他事项"]
    dashboard = client.get(f"/rounds/{sub.round_id}").text.split('id="events"')[1].split("</table>")[0]
    assert "文件夹 演示收件箱" in dashboard and "folder" not in dashboard
    assert "新建任务" in dashboard and "self_evaluation" not in dashboard
    form = client.get("/rounds/new").text.split('name="form"')[1].split("</select>")[0]
    assert "财政支出项目绩效自评表</option>" in form and "（self_evaluation）" not in form


def test_the_desk_s_own_http_errors_are_chinese(tmp_path: Path) -> None:
    client = signed_in_local(ledger_at(tmp_path))
    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and "没有这个页面。" in missing.text and "Not Found" not in missing.text
    wrong_method = client.delete("/rounds")
    assert wrong_method.status_code == 405 and "此页面不接受这种请求" in wrong_method.text
    assert "Method Not Allowed" not in wrong_method.text
