"""Sign in (server mode) and sign out."""

from __future__ import annotations

import math

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xlperf.web.auth import check_csrf, safe_next
from xlperf.web.render import error_page, page
from xlperf.web.session import client_address, sign_in, sign_out
from xlperf.web.throttle import LoginThrottle, login_keys
from xlperf.web.users import authenticate


async def login_form(request: Request) -> Response:
    if request.app.state.config.local:
        return RedirectResponse("/", status_code=303)
    return page(request, "login.html", next=safe_next(request.query_params.get("next")), error="")


async def login(request: Request) -> Response:
    if request.app.state.config.local:
        return RedirectResponse("/", status_code=303)
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form)
    target = safe_next(form.get("next"))
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
    return RedirectResponse("/login", status_code=303)


logout.csrf_checked = True  # type: ignore[attr-defined]
