"""Sessions end when they should (issue 21 item 10): on 退出, when the account is removed or
disabled, and when its password changes; sign-ins and account changes are in the account log.

Over HTTP to the desk's application (httpx through Starlette's TestClient), on SQLite and
PostgreSQL, with the accounts changed by the ``xlperf user`` commands as IT staff would.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from deskclient import PASSWORD, csrf, csrf_of
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from sqlalchemy import select, text
from starlette.testclient import TestClient

from xlperf.cli import main
from xlperf.ledger import AuditEntry, DeskSession, Ledger
from xlperf.ledger.models import Submission
from xlperf.web import STAFF, DeskConfig, add_user, create_app
from xlperf.web.app import SESSION_COOKIE

BASE = "https://desk.example"
ROUND = "2026年项目支出绩效自评"


@pytest.fixture()
def desk(db: LedgerDb, tmp_path: Path):  # type: ignore[no-untyped-def]
    """(ledger, app, submission path) on a round holding one return of 东城区科技局."""
    db.run("new", ROUND, "--form", FORM, "--year", str(YEAR), "--roster", str(write_roster(tmp_path / "r")))
    db.run("intake", ROUND, str(make_return(tmp_path / "in" / "东城.xlsx", "东城区科技局", **CLEAN)))
    ledger = db.open()
    with ledger.session() as session:
        sub = session.scalars(select(Submission)).one()
    app = create_app(DeskConfig.for_host(ledger.url, "0.0.0.0", 8750), ledger)
    yield ledger, app, f"/rounds/{sub.round_id}/submissions/{sub.id}"
    ledger.close()


def browser(app) -> TestClient:  # type: ignore[no-untyped-def]
    return TestClient(app, base_url=BASE, follow_redirects=False)


def signed_in(app, name: str, password: str = PASSWORD) -> TestClient:  # type: ignore[no-untyped-def]
    client = browser(app)
    token = csrf_of(client.get("/login").text)
    response = client.post("/login", data={"name": name, "password": password, "csrf_token": token})
    assert response.status_code == 303, response.text
    return client


def replay(app, cookie: str) -> TestClient:  # type: ignore[no-untyped-def]
    """Another browser holding a copy of a cookie (a stolen or kept one)."""
    client = browser(app)
    client.cookies.set(SESSION_COOKIE, cookie, domain="desk.example")
    return client


def void(client: TestClient, path: str, token: str) -> int:
    return client.post(path + "/decide", data={"csrf_token": token, "action": "void", "note": "误报"}).status_code


def decision(ledger: Ledger) -> str | None:
    with ledger.session() as session:
        return session.scalars(select(Submission.decision)).one()


def user_cli(ledger: Ledger, *args: str, password: str = "") -> str:
    result = CliRunner().invoke(main, ["user", *args, "--db", ledger.url],
                                env={"XLPERF_USER_PASSWORD": password or None})
    assert result.exit_code == 0, result.output
    return result.output


def test_after_sign_out_the_old_cookie_cannot_act_or_read(desk) -> None:  # type: ignore[no-untyped-def]
    ledger, app, path = desk
    add_user(ledger, "李会计", STAFF, PASSWORD)
    client = signed_in(app, "李会计")
    token = csrf(client)
    kept = client.cookies[SESSION_COOKIE]
    assert replay(app, kept).get(path).status_code == 200  # the copy works while the session lives
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    thief = replay(app, kept)
    refused = thief.post(path + "/decide", data={"csrf_token": token, "action": "void", "note": "误报"})
    assert refused.status_code == 401 and "请先登录" in refused.text
    assert decision(ledger) is None
    assert thief.get(path).status_code == 303  # to the login form
    with ledger.session() as session:
        assert session.scalars(select(DeskSession)).all() == []


def test_a_removed_account_stops_at_once_even_when_deleted_in_the_table(desk) -> None:  # type: ignore[no-untyped-def]
    ledger, app, path = desk
    add_user(ledger, "王出纳", STAFF, PASSWORD)
    add_user(ledger, "钱科长", STAFF, PASSWORD)
    wang, qian = signed_in(app, "王出纳"), signed_in(app, "钱科长")
    wang_token, qian_token = csrf(wang), csrf(qian)
    assert "已删除账户：王出纳，已结束其 1 个登录会话" in user_cli(ledger, "remove", "王出纳")
    assert void(wang, path, wang_token) == 401
    # A database administrator deleting the row by hand: the session goes with it too.
    with ledger.engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # even without the cascade
        conn.execute(text("DELETE FROM users WHERE name = '钱科长'"))
    assert void(qian, path, qian_token) == 401
    assert decision(ledger) is None


def test_a_password_change_ends_every_session_of_the_account(desk) -> None:  # type: ignore[no-untyped-def]
    ledger, app, path = desk
    add_user(ledger, "赵会计", STAFF, PASSWORD)
    add_user(ledger, "孙会计", STAFF, PASSWORD)
    office, home, other = signed_in(app, "赵会计"), signed_in(app, "赵会计"), signed_in(app, "孙会计")
    tokens = [csrf(c) for c in (office, home, other)]
    assert "赵会计  经办人员  可用" in user_cli(ledger, "list") and "登录会话 2 个" in user_cli(ledger, "list")
    out = user_cli(ledger, "passwd", "赵会计", password="新的口令-2027")
    assert out.strip() == "已修改账户 赵会计 的密码，已结束其 2 个登录会话"
    assert void(office, path, tokens[0]) == 401 and void(home, path, tokens[1]) == 401
    assert decision(ledger) is None
    assert void(other, path, tokens[2]) == 303  # another account's session is untouched
    assert decision(ledger) == "void"
    login = browser(app)
    old = login.post("/login", data={"name": "赵会计", "password": PASSWORD, "csrf_token": csrf_of(login.get("/login").text)})
    assert old.status_code == 401
    signed_in(app, "赵会计", "新的口令-2027")


def test_a_disabled_account_cannot_act_or_sign_in_until_enabled(desk) -> None:  # type: ignore[no-untyped-def]
    ledger, app, path = desk
    add_user(ledger, "周会计", STAFF, PASSWORD)
    client = signed_in(app, "周会计")
    token = csrf(client)
    assert user_cli(ledger, "disable", "周会计").strip() == "已停用账户：周会计，已结束其 1 个登录会话"
    assert void(client, path, token) == 401
    login = browser(app)
    refused = login.post("/login", data={"name": "周会计", "password": PASSWORD,
                                         "csrf_token": csrf_of(login.get("/login").text)})
    assert refused.status_code == 401
    assert "周会计  经办人员  已停用" in user_cli(ledger, "list")
    assert user_cli(ledger, "enable", "周会计").strip() == "已启用账户：周会计"
    again = signed_in(app, "周会计")
    assert void(again, path, csrf(again)) == 303 and decision(ledger) == "void"


def test_user_commands_refuse_unknown_accounts_and_short_passwords(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'desk.db'}"
    runner = CliRunner()
    assert runner.invoke(main, ["user", "list", "--db", db]).output.strip() == "还没有账户（xlperf user add 添加）。"
    for command in (["remove", "无此人"], ["disable", "无此人"], ["enable", "无此人"]):
        result = runner.invoke(main, ["user", *command, "--db", db])
        assert result.exit_code == 1 and "没有名为 '无此人' 的账户（还没有任何账户）" in result.output
    assert runner.invoke(main, ["user", "add", "吴会计", "--role", "staff", "--db", db],
                         env={"XLPERF_USER_PASSWORD": PASSWORD}).exit_code == 0
    short = runner.invoke(main, ["user", "passwd", "吴会计", "--db", db], env={"XLPERF_USER_PASSWORD": "short"})
    assert short.exit_code == 1 and "密码至少 8 个字符" in short.output
    prompted = runner.invoke(main, ["user", "passwd", "吴会计", "--db", db], input="另一个口令123\n另一个口令123\n",
                             env={"XLPERF_USER_PASSWORD": None})
    assert prompted.exit_code == 0 and "已修改账户 吴会计 的密码" in prompted.output


def test_the_account_log_shows_sign_ins_failures_sign_outs_and_changes(desk) -> None:  # type: ignore[no-untyped-def]
    ledger, app, _ = desk
    user_cli(ledger, "add", "郑会计", "--role", "staff", password=PASSWORD)
    user_cli(ledger, "add", "冯审计", "--role", "auditor", password=PASSWORD)
    wrong = browser(app)
    assert wrong.post("/login", data={"name": "郑会计", "password": "猜一猜-guess",
                                      "csrf_token": csrf_of(wrong.get("/login").text)}).status_code == 401
    client = signed_in(app, "郑会计")
    assert client.post("/logout", data={"csrf_token": csrf(client)}).status_code == 303
    user_cli(ledger, "disable", "郑会计")
    auditor = signed_in(app, "冯审计")
    page = auditor.get("/audit")
    assert page.status_code == 200
    rows = page.text.split('id="audit"')[1].split("<tbody>")[1].split("</tr>")
    cells = [[c.split(">", 1)[1].split("</td")[0] for c in row.split("<td")[1:]] for row in rows if "<td" in row]
    events = [(kind, account, note) for _, kind, account, _, _, note in cells]
    assert events == [("登录", "冯审计", ""), ("停用账户", "郑会计", ""), ("退出", "郑会计", ""),
                      ("登录", "郑会计", ""), ("登录失败", "郑会计", "密码不正确"),
                      ("添加账户", "冯审计", "审计（只读）"), ("添加账户", "郑会计", "经办人员")]
    assert cells[-1][3].startswith("命令行") and cells[0][4] == "testclient"
    with ledger.session() as session:
        assert len(session.scalars(select(AuditEntry)).all()) == 7
    with pytest.raises(Exception, match="append-only"), ledger.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log"))
    assert browser(app).get("/audit").headers["location"] == "/login?next=%2Faudit"  # not without signing in


def test_changing_one_s_password_on_the_desk_ends_the_other_sessions_only(desk) -> None:  # type: ignore[no-untyped-def]
    ledger, app, path = desk
    add_user(ledger, "陈会计", STAFF, PASSWORD)
    here, elsewhere = signed_in(app, "陈会计"), signed_in(app, "陈会计")
    elsewhere_token = csrf(elsewhere)
    form = here.get("/account/password")
    assert form.status_code == 200 and 'href="/account/password"' in form.text
    token = csrf_of(form.text)
    wrong = here.post("/account/password", data={"csrf_token": token, "current": "不对的口令-123",
                                                 "new": "新的口令-2027", "again": "新的口令-2027"})
    assert wrong.status_code == 403 and "当前密码不正确，密码未修改。" in wrong.text
    mismatch = here.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                    "new": "新的口令-2027", "again": "新的口令-2028"})
    assert mismatch.status_code == 400 and "两次输入的新密码不一致。" in mismatch.text
    done = here.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                "new": "新的口令-2027", "again": "新的口令-2027"})
    assert done.status_code == 200 and "密码已修改。其他 1 个登录会话已退出。" in done.text
    assert void(elsewhere, path, elsewhere_token) == 401 and decision(ledger) is None
    assert void(here, path, csrf(here)) == 303 and decision(ledger) == "void"
    signed_in(app, "陈会计", "新的口令-2027")
    with ledger.session() as session:
        kinds = session.scalars(select(AuditEntry.kind).where(AuditEntry.kind == "password_changed")).all()
    assert kinds == ["password_changed"]
