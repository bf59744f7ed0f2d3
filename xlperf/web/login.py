"""Sign in (server mode) and sign out."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xlperf.web.auth import check_csrf, safe_next
from xlperf.web.render import error_page, page
from xlperf.web.session import sign_in
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
    user = authenticate(request.app.state.ledger, str(form.get("name", "")), str(form.get("password", "")))
    if user is None:
        return page(request, "login.html", status_code=401, next=target, error="用户名或密码不正确。")
    sign_in(request, user)
    return RedirectResponse(target, status_code=303)


login.csrf_checked = True  # type: ignore[attr-defined]


async def logout(request: Request) -> Response:
    form = await request.form(max_files=0, max_fields=10)
    check_csrf(request, form)
    request.session.clear()
    if request.app.state.config.local:
        return error_page(request, 200, "已退出。如需再次使用，请用启动 xlperf serve 时显示的链接打开。")
    return RedirectResponse("/login", status_code=303)


logout.csrf_checked = True  # type: ignore[attr-defined]
