"""Every page of the desk over HTTP (Starlette's test client) on a real SQLite ledger: a round
created from the sample roster, the demo returns uploaded, decisions, downloads, permissions."""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from deskclient import PASSWORD, csrf, server_client, sign_in, signed_in_local
from deskdata import (
    CORRECTED_NAME,
    REJECTED_UNIT,
    corrected,
    demo_year,
    make_returns,
    rejected_demo,
)
from ledger_support import LedgerDb
from starlette.routing import Route
from starlette.testclient import TestClient

from xlperf.cli.demo import SAMPLES_DIR
from xlperf.ledger import round_rollup, round_status
from xlperf.ledger.models import Event, Reply, Round, Submission
from xlperf.web import AUDITOR, STAFF, add_user, create_app

ROSTER = SAMPLES_DIR / "roster.csv"


@pytest.fixture(scope="module")
def returns(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("returns")
    paths = make_returns(folder, (corrected(rejected_demo()),))
    return {p.name: p for p in paths}


@pytest.fixture()
def ledger(db: LedgerDb):  # type: ignore[no-untyped-def]
    """The desk's ledger on SQLite and on PostgreSQL (conftest's ``db``: every test runs on both)."""
    ledger = db.open()
    yield ledger
    ledger.close()


def _create(client, name: str = "2026年项目支出绩效自评", roster: Path = ROSTER, **extra: str):  # type: ignore[no-untyped-def]
    data = {"csrf_token": csrf(client), "name": name, "form": "self_evaluation", "year": str(demo_year()), **extra}
    return client.post("/rounds", data=data, files={"roster": (roster.name, roster.read_bytes(), "text/csv")})


def _upload(client, round_id: int, paths: list[Path]):  # type: ignore[no-untyped-def]
    files = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in paths]
    return client.post(f"/rounds/{round_id}/upload", files=files, data={"csrf_token": csrf(client)},
                       headers={"accept": "application/json"})


def _round_with_returns(client, returns: dict[str, Path]) -> int:  # type: ignore[no-untyped-def]
    created = _create(client)
    assert created.status_code == 303, created.text
    round_id = int(created.headers["location"].rsplit("/", 1)[1])
    demo = [p for name, p in returns.items() if name != CORRECTED_NAME]
    response = _upload(client, round_id, demo)
    assert response.status_code == 200, response.text
    return round_id


def _submission_of(ledger, unit: str) -> Submission:  # type: ignore[no-untyped-def]
    with ledger.session() as session:
        return session.query(Submission).filter(Submission.unit_name == unit,
                                                Submission.state == "current").one()


def test_create_round_shows_every_roster_unit_as_missing(ledger) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    response = _create(client, deadline="2026-03-31")
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert page.status_code == 200
    assert page.text.count('data-status="未报送"') == 8
    assert "东湖区教育局" in page.text and "截止 2026-03-31" in page.text
    assert "2026年项目支出绩效自评" in client.get("/rounds").text
    with ledger.session() as session:
        event = session.query(Event).one()
        assert event.kind == "created" and event.actor.startswith("本机:")


def test_roster_problems_are_shown_by_row_and_column(ledger, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "名单.csv"
    lines = ROSTER.read_text(encoding="utf-8").splitlines()
    lines[2] = "101002,,市工业和信息化局,李华,xishan@example.gov.cn"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    client = signed_in_local(ledger)
    response = _create(client, roster=bad)
    assert response.status_code == 400
    problems = re.findall(r"<li>(.*?)</li>", response.text.split('id="roster-problems"')[1].split("</ul>")[0])
    assert any("第 3 行" in p and "B 列" in p and "单位名称" in p for p in problems), problems
    with ledger.session() as session:
        assert session.query(Round).count() == 0


def test_upload_records_each_file_and_the_dashboard_counts_them(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    created = _create(client)
    round_id = int(created.headers["location"].rsplit("/", 1)[1])
    demo = [p for name, p in returns.items() if name != CORRECTED_NAME]
    results = _upload(client, round_id, demo).json()["results"]
    assert [r["name"] for r in results] == [p.name for p in demo]
    kinds = {r["name"]: r["kind"] for r in results}
    assert kinds["自评表_西山县中小企业局.xlsx"] == "current"
    assert kinds["目标申报表_北湖县工信局.xlsx"] == "held"  # another form than the round's
    with ledger.session() as session:
        rnd = session.get(Round, round_id)
        expected = round_status(session, rnd).counts()
        assert session.query(Submission).filter(Submission.source == "upload").count() == len(demo)
    page = client.get(f"/rounds/{round_id}").text
    for label, n in expected.items():
        assert f'<span class="n">{n}</span><span>{label}</span>' in page
    assert f'data-unit="{REJECTED_UNIT}" data-status="退回"' in page
    again = _upload(client, round_id, demo[:1]).json()["results"]
    assert again[0]["kind"] == "known"
    held = next(r for r in results if r["kind"] == "held")
    assert f'href="{held["url"]}"' in page.split('id="held"')[1]  # listed with its reason
    held_page = client.get(held["url"]).text
    assert "表单不符" in held_page and 'id="findings"' in held_page


def test_dashboard_filters_searches_sorts_and_pages(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = _round_with_returns(client, returns)
    rows = client.get(f"/rounds/{round_id}/rows", params={"status": "未报送"}).text
    assert 'data-status="未报送"' in rows and 'data-status="退回"' not in rows and "<html" not in rows
    found = client.get(f"/rounds/{round_id}/rows", params={"q": "西山县"}).text
    assert found.count("<tr class=") == 2  # 西山县中小企业局, 西山县农业农村局
    ordered = client.get(f"/rounds/{round_id}/rows", params={"sort": "code", "dir": "desc"}).text
    codes = re.findall(r"<td>(1010\d\d)</td>", ordered)
    assert codes == sorted(codes, reverse=True) and len(codes) == 8
    assert "第 1/1 页" not in ordered


def test_submission_page_shows_findings_with_sheet_and_cell_and_downloads(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = _round_with_returns(client, returns)
    sub = _submission_of(ledger, REJECTED_UNIT)
    base = f"/rounds/{round_id}/submissions/{sub.id}"
    page = client.get(base).text
    findings = page.split('id="findings"')[1].split("</table>")[0]
    rows = re.findall(r'<tr class="(error|warning)" data-code="([A-Z_]+)">\s*<td class="num">\d+</td><td>.*?</td>\s*'
                      r'<td>(.*?)</td><td class="mono">(.*?)</td>', findings, re.S)
    assert rows and any(sev == "error" and sheet and cell for sev, _, sheet, cell in rows)
    original = client.get(base + "/download/original")
    assert original.content == returns["自评表_西山县中小企业局.xlsx"].read_bytes()
    assert "filename*=UTF-8''" in original.headers["content-disposition"]
    report = json.loads(client.get(base + "/download/json").content)
    assert {f["code"] for f in report["findings"]} == {code for _, code, _, _ in rows}
    annotated = client.get(base + "/download/annotated")
    book = openpyxl.load_workbook(io.BytesIO(annotated.content))
    assert any(cell.comment for ws in book.worksheets for row in ws.iter_rows() for cell in row)


def test_downloads_refuse_path_traversal_and_unknown_kinds(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = _round_with_returns(client, returns)
    sub = _submission_of(ledger, REJECTED_UNIT)
    base = f"/rounds/{round_id}/submissions/{sub.id}/download"
    for path in (f"{base}/..%2F..%2F..%2Fetc%2Fpasswd", f"{base}/../../../xlperf.db", f"{base}/secret",
                 "/static/..%2F..%2Fxlperf.db", "/static/../web/app.py", f"/rounds/{round_id}/submissions/999/download/original"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"SQLite format" not in response.content and b"root:" not in response.content


def test_return_with_a_note_and_the_corrected_version_in_the_history(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = _round_with_returns(client, returns)
    sub = _submission_of(ledger, "东湖区科技局")
    base = f"/rounds/{round_id}/submissions/{sub.id}"
    no_note = client.post(base + "/decide", data={"csrf_token": csrf(client), "action": "return", "note": ""})
    assert no_note.status_code == 409 and "原因" in no_note.text
    done = client.post(base + "/decide", data={"csrf_token": csrf(client), "action": "return",
                                               "note": "支出数与决算不符，请核对后重报"})
    assert done.status_code == 303
    page = client.get(base).text
    assert "支出数与决算不符" in page.split('id="event-log"')[1] and 'id="status">退回<' in page
    rejected = _submission_of(ledger, REJECTED_UNIT)
    results = _upload(client, round_id, [returns[CORRECTED_NAME]]).json()["results"]
    assert results[0]["kind"] == "current"
    newer = _submission_of(ledger, REJECTED_UNIT)
    assert newer.id != rejected.id
    history = client.get(f"/rounds/{round_id}/submissions/{newer.id}").text.split('id="history"')[1]
    assert f"#{rejected.id}" in history and f"#{newer.id}" in history
    changes = history.split('class="changes"')[1]
    # The narrative with pasted HTML was corrected: shown as text (escaped), old and new.
    assert "项目实施情况" in changes and "&lt;p&gt;2019年" in changes and "<p>2019年" not in changes


def _build(client, round_id: int, output: str) -> bytes:  # type: ignore[no-untyped-def]
    """Start a build as the page does (htmx POST), poll its status as the page does, download."""
    started = client.post(f"/rounds/{round_id}/{output}/jobs", data={"csrf_token": csrf(client)},
                          headers={"hx-request": "true"})
    assert started.status_code == 200, started.text
    status_url = re.search(r'hx-get="([^"]+)"', started.text).group(1)  # type: ignore[union-attr]
    seen = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        status = client.get(status_url, headers={"accept": "application/json"}).json()
        seen.append((status["done"], status["total"]))
        if status["state"] != "running":
            break
        time.sleep(0.05)
    assert status["state"] == "done", status
    assert status["done"] == status["total"] > 0 and all(d <= t for d, t in seen)
    fragment = client.get(status_url).text
    assert 'data-state="done"' in fragment and "hx-trigger" not in fragment  # polling stops
    assert f'href="{status_url}/file"' in fragment
    download = client.get(status["file_url"])
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    return download.content


def test_summary_and_templates_are_built_in_the_background_and_downloaded(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = _round_with_returns(client, returns)
    assert f'hx-post="/rounds/{round_id}/summary/jobs"' in client.get(f"/rounds/{round_id}/summary").text
    book = openpyxl.load_workbook(io.BytesIO(_build(client, round_id, "summary")), read_only=True)
    text = "\n".join(str(v) for ws in book.worksheets for row in ws.iter_rows(values_only=True) for v in row if v)
    assert "东湖区科技局" in text and "东湖区教育局" in text  # a return, and a unit that sent none
    archive = zipfile.ZipFile(io.BytesIO(_build(client, round_id, "templates")))
    names = archive.namelist()
    assert len(names) == 8 and all(n.endswith(".xlsx") for n in names)
    assert any("西山县农业农村局" in n for n in names)


def test_summary_progress_counts_every_return_then_tables_and_writing(ledger, returns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = _round_with_returns(client, returns)
    steps: list[tuple[int, int]] = []
    with ledger.session() as session:
        rnd = session.get(Round, round_id)
        counted = sum(1 for r in round_status(session, rnd).rows if r.status != "未报送" and r.status != "已作废")
        round_rollup(session, rnd, tmp_path / "s.xlsx", lambda done, total: steps.append((done, total)))
    assert steps[-1] == (counted + 2, counted + 2) and steps[-2] == (counted + 1, counted + 2)
    assert [d for d, _ in steps] == sorted(d for d, _ in steps)


def test_jobs_unknown_ids_and_kinds_are_404_and_other_rounds_cannot_see_them(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = _round_with_returns(client, returns)
    assert client.get(f"/rounds/{round_id}/summary/jobs/nosuchjob").status_code == 404
    assert client.get(f"/rounds/{round_id}/summary/jobs/nosuchjob/file").status_code == 404
    assert client.get(f"/rounds/{round_id}/summary/jobs/..%2F..%2Fetc%2Fpasswd/file").status_code == 404
    bad = client.post(f"/rounds/{round_id}/original/jobs", data={"csrf_token": csrf(client)})
    assert bad.status_code == 404
    started = client.post(f"/rounds/{round_id}/summary/jobs", data={"csrf_token": csrf(client)},
                          headers={"accept": "application/json"}).json()
    other = int(_create(client, name="另一个任务").headers["location"].rsplit("/", 1)[1])
    assert client.get(started["status_url"].replace(f"/rounds/{round_id}/", f"/rounds/{other}/")).status_code == 404
    assert client.get(started["status_url"].replace("/summary/", "/templates/")).status_code == 404


def test_any_worker_process_answers_the_poll_and_the_download(ledger, returns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """``xlperf serve --workers N``: the job started by one worker's app is followed through another."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    first = signed_in_local(ledger, jobs_dir=str(jobs))
    round_id = _round_with_returns(first, returns)
    started = first.post(f"/rounds/{round_id}/summary/jobs", data={"csrf_token": csrf(first)},
                         headers={"accept": "application/json"}).json()
    other = TestClient(create_app(first.app.state.config, ledger), follow_redirects=False)
    other.cookies = first.cookies  # the same browser, whose next request another worker takes
    deadline = time.monotonic() + 120
    while other.get(started["status_url"], headers={"accept": "application/json"}).json()["state"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    download = other.get(started["status_url"] + "/file")
    assert download.status_code == 200
    assert "汇总" in openpyxl.load_workbook(io.BytesIO(download.content), read_only=True).sheetnames


def test_an_auditor_may_build_and_download_the_summary(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_local(ledger)
    round_id = _round_with_returns(staff, returns)
    auditor = sign_in(server_client(ledger), ledger, "审计员", AUDITOR)
    book = openpyxl.load_workbook(io.BytesIO(_build(auditor, round_id, "summary")), read_only=True)
    assert "汇总" in book.sheetnames
    refused = auditor.post(f"/rounds/{round_id}/summary/jobs", data={"csrf_token": "forged"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    # A session that did not sign in gets neither the status nor the file of a finished job.
    started = staff.post(f"/rounds/{round_id}/summary/jobs", data={"csrf_token": csrf(staff)},
                         headers={"accept": "application/json"}).json()
    stranger = server_client(ledger)
    for url in (started["status_url"], started["status_url"] + "/file"):
        response = stranger.get(url)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_zip_is_unpacked_and_each_member_recorded(ledger, returns, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = int(_create(client).headers["location"].rsplit("/", 1)[1])
    archive = tmp_path / "东湖区报表.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(returns["自评表_东湖区科技局.xlsx"], "材料/自评表_东湖区科技局.xlsx")
        zf.writestr("说明.txt", "请查收")
    results = _upload(client, round_id, [archive]).json()["results"]
    assert [(r["name"], r["kind"], r["given"]) for r in results] == [
        ("东湖区报表.zip", "ignored", 0), ("自评表_东湖区科技局.xlsx", "current", 0), ("说明.txt", "ignored", 0)]
    assert "已解压其中的 2 个文件" in results[0]["line"]
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.xlsx", b"\0" * (300 * 1024 * 1024))
    refused = _upload(client, round_id, [bomb]).json()["results"]
    assert [(r["name"], r["kind"]) for r in refused] == [("bomb.zip", "ignored")] and "zip 炸弹" in refused[0]["line"]


def test_mail_preview_lists_replies_and_reminders_and_sending_needs_a_server(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    round_id = _round_with_returns(client, returns)
    page = client.get(f"/rounds/{round_id}/mail").text
    replies = page.split('id="reply-previews"')[1].split("</section>")[0]
    reminders = page.split('id="reminder-previews"')[1].split("</section>")[0]
    assert replies.count('class="card mail-preview"') == 3 and "【退回】" in replies
    # 5 units sent nothing and 2 were sent back: 7 reminders.
    assert reminders.count('class="card mail-preview"') == 7 and "东湖区教育局" in reminders
    refused = client.post(f"/rounds/{round_id}/mail/send", data={"csrf_token": csrf(client)})
    assert refused.status_code == 409 and "邮件服务器" in refused.text
    with ledger.session() as session:
        assert session.query(Reply).count() == 0


def test_replies_and_reminders_are_sent_and_recorded(ledger, returns, smtp_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    controller, store = smtp_server()
    ini = tmp_path / "mail.ini"
    ini.write_text(f"[smtp]\nhost = 127.0.0.1\nport = {controller.port}\ntls = none\n"
                   "from = 绩效科 <jixiao@czj.example.gov.cn>\n", encoding="utf-8")
    client = signed_in_local(ledger, mail_config=str(ini))
    round_id = _round_with_returns(client, returns)
    sent = client.post(f"/rounds/{round_id}/mail/send", data={"csrf_token": csrf(client)})
    assert sent.status_code == 200 and 'id="mail-outcome"' in sent.text
    assert len(store.received) == 3
    again = client.post(f"/rounds/{round_id}/mail/send", data={"csrf_token": csrf(client)})
    assert again.status_code == 200 and len(store.received) == 3  # same results: not mailed twice
    reminded = client.post(f"/rounds/{round_id}/mail/remind", data={"csrf_token": csrf(client)})
    assert reminded.status_code == 200 and 'id="remind-outcome"' in reminded.text
    assert len(store.received) == 3 + 7
    page = client.get(f"/rounds/{round_id}/mail").text
    assert page.split('id="sent"')[1].count("已发送") == 10
    with ledger.session() as session:
        actors = {e.actor for e in session.query(Event).filter(Event.kind.in_(("mailed", "reminded")))}
        assert actors and all(a.startswith("本机:") for a in actors)


def _routes(app) -> list[Route]:  # type: ignore[no-untyped-def]
    return [r for r in app.routes if isinstance(r, Route)]


def _concrete(path: str, round_id: int, submission_id: int) -> str:
    return (path.replace("{round_id:int}", str(round_id)).replace("{submission_id:int}", str(submission_id))
            .replace("{kind}", "original").replace("{output}", "summary").replace("{job_id}", "nosuchjob")
            .replace("{reply_id:int}", "1").replace("{code}", "101001"))  # a unit of the sample roster


def test_auditor_reads_every_page_and_cannot_act(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_local(ledger)
    round_id = _round_with_returns(staff, returns)
    sub = _submission_of(ledger, REJECTED_UNIT)
    auditor = sign_in(server_client(ledger), ledger, "审计员", AUDITOR)
    token = csrf(auditor)
    for route in _routes(auditor.app):
        path = _concrete(route.path, round_id, sub.id)
        if "{job_id}" in route.path:  # a job of the auditor's own: test_an_auditor_may_build_...
            continue
        if "GET" in (route.methods or ()) and route.path not in ("/login",):
            assert auditor.get(path).status_code in (200, 303), path
        if "POST" in (route.methods or ()) and route.path not in ("/login", "/logout") and "/jobs" not in route.path:
            response = auditor.post(path, data={"csrf_token": token, "action": "void", "note": "x"})
            assert response.status_code == 403 and "只读" in response.text, path
    assert "上传并审核" not in auditor.get(f"/rounds/{round_id}/upload").text
    with ledger.session() as session:
        assert session.get(Submission, sub.id).decision is None


def test_no_token_no_login_and_no_csrf_are_refused(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    staff = signed_in_local(ledger)
    round_id = _round_with_returns(staff, returns)
    sub = _submission_of(ledger, REJECTED_UNIT)
    add_user(ledger, "办事员", STAFF, PASSWORD)
    stranger = server_client(ledger)
    for route in _routes(staff.app):
        path = _concrete(route.path, round_id, sub.id)
        if route.path in ("/login", "/logout"):
            continue
        if "GET" in (route.methods or ()):
            response = stranger.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
        if "POST" in (route.methods or ()):
            assert stranger.post(path, data={"action": "void", "note": "x"}).status_code == 401, path
            refused = staff.post(path, data={"action": "void", "note": "x"})
            assert refused.status_code == 403 and "CSRF" in refused.text, path
            forged = staff.post(path, data={"action": "void", "note": "x", "csrf_token": "forged"})
            assert forged.status_code == 403, path
    with ledger.session() as session:
        assert session.get(Submission, sub.id).decision is None
        assert session.query(Round).count() == 1


def test_uploads_are_checked_by_workers_the_desk_keeps(ledger, returns) -> None:  # type: ignore[no-untyped-def]
    """A worker process per upload request would cost more than the request's files: the desk
    keeps its checking workers, gives each request one of them, and takes it back afterwards."""
    client = signed_in_local(ledger)
    pool = client.app.state.checkers
    round_id = int(_create(client).headers["location"].rsplit("/", 1)[1])
    demo = [p for name, p in returns.items() if name != CORRECTED_NAME]
    assert pool.idle() == []
    first = _upload(client, round_id, demo[:1]).json()["results"]
    kept = pool.idle()
    assert first[0]["kind"] == "current" and len(kept) == 1  # its worker was given back
    second = _upload(client, round_id, demo[1:2]).json()["results"]
    assert (second[0]["name"], second[0]["kind"]) == ("自评表_西山县中小企业局.xlsx", "current")
    assert pool.idle() == kept  # and checked the next request


def test_the_desk_starts_its_checking_workers_with_the_server_and_stops_them(ledger) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    pool = client.app.state.checkers
    _create(client)  # workers are started for the newest round
    with client:  # the server's start-up and shut-down (lifespan)
        deadline = time.monotonic() + 60
        while len(pool.idle()) < pool.size and time.monotonic() < deadline:
            time.sleep(0.1)
        started = pool.idle()
        assert len(started) == pool.size
    assert pool.idle() == []
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in started) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in started if Path(f"/proc/{pid}").exists()]  # stopped, not left behind
