"""Who may reach the desk: local token, server-mode accounts, CSRF, limits, headers."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from deskclient import (
    PASSWORD,
    csrf,
    csrf_of,
    local_client,
    server_client,
    sign_in,
    signed_in_local,
)
from ledger_support import LedgerDb
from starlette.routing import Route

from xlperf.cli import main
from xlperf.ledger import Account
from xlperf.web import AUDITOR, STAFF, UserError, add_user, create_app
from xlperf.web.config import DeskConfig, is_loopback
from xlperf.web.users import authenticate


@pytest.fixture()
def ledger(db: LedgerDb):  # type: ignore[no-untyped-def]
    """The desk's ledger on SQLite and on PostgreSQL (conftest's ``db``: every test runs on both)."""
    ledger = db.open()
    yield ledger
    ledger.close()


def test_local_mode_refuses_without_token_and_with_a_wrong_one(ledger) -> None:  # type: ignore[no-untyped-def]
    client, cfg = local_client(ledger)
    assert client.get("/").status_code == 401
    assert "访问令牌" in client.get("/").text
    assert client.get("/?token=" + "x" * len(cfg.token or "")).status_code == 403
    assert client.get("/").status_code == 401


def test_token_becomes_a_strict_httponly_session_and_leaves_the_url(ledger) -> None:  # type: ignore[no-untyped-def]
    client, cfg = local_client(ledger)
    response = client.get(f"/?token={cfg.token}&page=2")
    assert response.status_code == 303
    assert response.headers["location"] == "/?page=2"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    page = client.get("/rounds")
    assert page.status_code == 200 and "本机:" in page.text


def test_every_response_forbids_external_requests(ledger) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger)
    for path in ("/rounds", "/static/htmx.min.js", "/static/desk.css", "/no-such-page"):
        response = client.get(path)
        assert response.headers["content-security-policy"].startswith("default-src 'self'"), path
        assert response.headers["x-content-type-options"] == "nosniff"
    html = client.get("/rounds").text
    assert "http://" not in html and "https://" not in html


def test_htmx_and_its_licence_ship_in_the_package() -> None:
    static = Path(__file__).resolve().parent.parent / "xlperf" / "web" / "static"
    assert "htmx" in (static / "htmx.min.js").read_text(encoding="utf-8")[:2000]
    assert "Zero-Clause BSD" in (static / "htmx.LICENSE").read_text(encoding="utf-8")


def test_server_mode_asks_for_login_and_sets_a_secure_cookie(ledger) -> None:  # type: ignore[no-untyped-def]
    client = server_client(ledger)
    response = client.get("/rounds?x=1")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    add_user(ledger, "李会计", STAFF, PASSWORD)
    token = csrf_of(client.get("/login").text)
    wrong = client.post("/login", data={"name": "李会计", "password": "wrong-password", "csrf_token": token})
    assert wrong.status_code == 401 and "不正确" in wrong.text
    right = client.post("/login", data={"name": "李会计", "password": PASSWORD, "csrf_token": token,
                                        "next": "https://evil.example/"})
    assert right.status_code == 303 and right.headers["location"] == "/"
    assert "secure" in right.headers["set-cookie"].lower()
    assert "李会计" in client.get("/rounds").text


def test_login_and_logout_need_the_csrf_token(ledger) -> None:  # type: ignore[no-untyped-def]
    client = server_client(ledger)
    add_user(ledger, "王出纳", STAFF, PASSWORD)
    client.get("/login")
    assert client.post("/login", data={"name": "王出纳", "password": PASSWORD}).status_code == 403
    sign_in(server_client(ledger), ledger, "赵审计", AUDITOR)
    local = signed_in_local(ledger)
    assert local.post("/logout", data={}).status_code == 403
    assert local.get("/rounds").status_code == 200
    assert local.post("/logout", data={"csrf_token": csrf(local)}).status_code == 200
    assert local.get("/rounds").status_code == 401


def _post_routes(app) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.path for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]


def test_every_post_route_checks_csrf(ledger) -> None:  # type: ignore[no-untyped-def]
    app = create_app(DeskConfig.for_host(ledger.url, "127.0.0.1", 1), ledger)
    posts = [r for r in app.routes if isinstance(r, Route) and "POST" in (r.methods or ())]
    assert posts
    unchecked = [r.path for r in posts if not getattr(r.endpoint, "csrf_checked", False)]
    assert unchecked == []


def test_request_bodies_over_the_limit_are_refused(ledger) -> None:  # type: ignore[no-untyped-def]
    client = signed_in_local(ledger, max_upload=4096)
    token = csrf(client)
    response = client.post("/logout", data={"csrf_token": token}, files={"f": ("a.xlsx", b"x" * 10_000)})
    assert response.status_code == 413 and "上传内容过大" in response.text
    assert client.get("/rounds").status_code == 200


def test_passwords_are_stored_as_argon2id_hashes(ledger) -> None:  # type: ignore[no-untyped-def]
    add_user(ledger, "张科长", STAFF, PASSWORD)
    with ledger.session() as session:
        stored = session.query(Account).one().password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert authenticate(ledger, "张科长", PASSWORD) is not None
    assert authenticate(ledger, "张科长", PASSWORD + "x") is None
    assert authenticate(ledger, "无此人", PASSWORD) is None
    with pytest.raises(UserError):
        add_user(ledger, "张科长", STAFF, PASSWORD)
    with pytest.raises(UserError):
        add_user(ledger, "短", STAFF, "short")
    with pytest.raises(UserError):
        add_user(ledger, "某人", "admin", PASSWORD)


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10") and not is_loopback("desk.example")


def test_user_add_and_server_mode_without_accounts(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'desk.db'}"
    runner = CliRunner()
    refused = runner.invoke(main, ["serve", "--db", db, "--host", "0.0.0.0", "--port", "1"])
    assert refused.exit_code == 1 and "xlperf user add" in refused.output
    added = runner.invoke(main, ["user", "add", "钱审计", "--role", "auditor", "--db", db],
                          env={"XLPERF_USER_PASSWORD": PASSWORD})
    assert added.exit_code == 0, added.output
    prompted = runner.invoke(main, ["user", "add", "孙会计", "--role", "staff", "--db", db],
                             input=f"{PASSWORD}\n{PASSWORD}\n", env={"XLPERF_USER_PASSWORD": ""})
    assert prompted.exit_code == 0, prompted.output
    again = runner.invoke(main, ["user", "add", "孙会计", "--role", "staff", "--db", db],
                          env={"XLPERF_USER_PASSWORD": PASSWORD})
    assert again.exit_code == 1 and "已存在" in again.output


def test_repeated_failed_sign_ins_lock_the_name_and_the_address_for_a_while(ledger) -> None:  # type: ignore[no-untyped-def]
    """Guessing passwords: after five failures the name waits fifteen minutes, even with the
    right password, and then works again; an address that fails twenty times, whatever the
    names, waits too."""
    from xlperf.web.throttle import ADDRESS_FAILURES, FAILURES, WINDOW_SECONDS, LoginThrottle

    now = [1000.0]
    client = server_client(ledger)
    client.app.state.login_throttle = LoginThrottle(clock=lambda: now[0])  # type: ignore[attr-defined]
    add_user(ledger, "李会计", STAFF, PASSWORD)
    add_user(ledger, "王出纳", STAFF, PASSWORD)

    def post(name: str, password: str):  # type: ignore[no-untyped-def]
        token = csrf_of(client.get("/login").text)  # anew: a sign-in starts a new session
        return client.post("/login", data={"name": name, "password": password, "csrf_token": token})

    def attempt(name: str, password: str) -> int:
        return int(post(name, password).status_code)

    assert [attempt("李会计", f"guess-{i}") for i in range(FAILURES)] == [401] * FAILURES
    locked = post("李会计", PASSWORD)
    assert locked.status_code == 429 and "登录失败次数过多" in locked.text and "15 分钟" in locked.text
    assert attempt("王出纳", PASSWORD) == 303  # another name from the same address: not locked
    now[0] += WINDOW_SECONDS - 1
    assert attempt("李会计", PASSWORD) == 429
    now[0] += 2
    assert attempt("李会计", PASSWORD) == 303
    guesses = [attempt(f"用户{i}", "guess") for i in range(ADDRESS_FAILURES)]
    assert guesses == [401] * ADDRESS_FAILURES
    assert attempt("王出纳", PASSWORD) == 429  # the address is locked now, whatever the name


def test_a_successful_sign_in_clears_the_name_s_failures(ledger) -> None:  # type: ignore[no-untyped-def]
    from xlperf.web.throttle import FAILURES

    client = server_client(ledger)
    add_user(ledger, "李会计", STAFF, PASSWORD)
    for _ in range(2):
        token = csrf_of(client.get("/login").text)
        for i in range(FAILURES - 1):
            assert client.post("/login", data={"name": "李会计", "password": f"x{i}", "csrf_token": token}).status_code == 401
        assert client.post("/login", data={"name": "李会计", "password": PASSWORD, "csrf_token": token}).status_code == 303
