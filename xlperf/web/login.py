"""Sign in (server mode), sign out, and change one's own password (server mode)."""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xlperf.web.auth import action, check_csrf, safe_next
from xlperf.web.paths import to
from xlperf.web.render import error_page, page
from xlperf.web.session import SESSION_FIELD, client_address, sign_in, sign_out
from xlperf.web.throttle import LoginThrottle, login_keys
from xlperf.web.users import MIN_PASSWORD, User, UserError, authenticate, set_password

NO_ACCOUNT = "本机模式没有账户和密码：用启动 xlperf serve 时显示的链接访问即可。"


async def login_form(request: Request) -> Response:
    if request.app.state.config.local:
        return RedirectResponse(to(request, "/"), status_code=303)
    return page(request, "login.html", next=safe_next(request, request.query_params.get("next")), error="")


async def login(request: Request) -> Response:
    if request.app.state.config.local:
        return RedirectResponse(to(request, "/"), status_code=303)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form)
    target = safe_next(request, form.get("next"))
    name = str(form.get("name", ""))
    throttle: LoginThrottle = request.app.state.login_throttle
    address = client_address(request)
    keys = login_keys(name, address or None)
    wait = throttle.wait(keys)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        return page(request, "login.html", status_code=429, next=target,
                    error=f"登录失败次数过多，请 {minutes} 分钟后再试。")
    # The password hash is slow on purpose: computed off the event loop, so other pages stay responsive.
    # A locked name's attempts above are not logged: the throttle bounds how many failures a
    # guesser can add to the audit log.
    user = await run_in_threadpool(authenticate, request.app.state.ledger, name, str(form.get("password", "")),
                                   address)
    if user is None:
        throttle.failed(keys)
        return page(request, "login.html", status_code=401, next=target, error="用户名或密码不正确。")
    throttle.succeeded(keys[0][0])
    sign_in(request, user)
    return RedirectResponse(target, status_code=303)


login.csrf_checked = True  # type: ignore[attr-defined]


async def logout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form)
    sign_out(request)
    if request.app.state.config.local:
        return error_page(request, 200, "已退出。如需再次使用，请用启动 xlperf serve 时显示的链接打开。")
    return RedirectResponse(to(request, "/login"), status_code=303)


logout.csrf_checked = True  # type: ignore[attr-defined]


async def password_form(request: Request) -> Response:
    if request.app.state.config.local:
        raise HTTPException(404, NO_ACCOUNT)
    return page(request, "password.html", error="", done="", min_length=MIN_PASSWORD)


async def change_password_action(request: Request, form: FormData, user: User) -> Response:
    """A new password for the signed-in account: its other sessions end, this one stays."""
    if request.app.state.config.local or user.id is None:
        raise HTTPException(404, NO_ACCOUNT)
    new, again = str(form.get("new", "")), str(form.get("again", ""))

    def answer(status: int, error: str = "", done: str = "") -> Response:
        return page(request, "password.html", status_code=status, error=error, done=done, min_length=MIN_PASSWORD)

    # The current password is asked for (a browser left signed in must not be enough), and
    # guessing it here counts against the same limits as the sign-in form.
    throttle: LoginThrottle = request.app.state.login_throttle
    keys = login_keys(user.name, client_address(request) or None)
    if throttle.wait(keys) > 0:
        return answer(429, "密码错误次数过多，请稍后再试。")
    if new != again:
        return answer(400, "两次输入的新密码不一致。")
    ledger = request.app.state.ledger
    if await run_in_threadpool(authenticate, ledger, user.name, str(form.get("current", "")),
                               client_address(request)) is None:
        throttle.failed(keys)
        return answer(403, "当前密码不正确，密码未修改。")
    try:
        ended = await run_in_threadpool(set_password, ledger, user.name, new, user.name,
                                        request.session.get(SESSION_FIELD))
    except UserError as exc:
        return answer(400, f"{exc}。")
    others = f"其他 {ended} 个登录会话已退出。" if ended else ""
    return answer(200, done=f"密码已修改。{others}")


change_password = action(change_password_action, staff_only=False, max_files=0)
