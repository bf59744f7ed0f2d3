"""Who may use the desk and what they may do.

Local mode: the token printed at start, once presented in a URL, becomes a signed session cookie
and the browser is redirected to the same page without it. Server mode: accounts (see users.py),
a login form, staff act and auditors read. Every state-changing request is a POST made through
:func:`action`, which checks the role and the session's CSRF token before the handler runs.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from xlperf.web.config import DeskConfig
from xlperf.web.paths import root, route_path, to
from xlperf.web.render import error_page
from xlperf.web.session import CSRF_FIELD, current_user, local_user, same, sign_in
from xlperf.web.users import User

CSRF_HEADER = "x-csrf-token"
PUBLIC_PREFIXES = ("/static/",)
LOGIN_PATH = "/login"
NO_TOKEN = "需要访问令牌：请用启动 xlperf serve 时显示的完整链接打开本页。"
BAD_TOKEN = "访问令牌不正确：请用启动 xlperf serve 时显示的完整链接打开本页。"
READ_ONLY = "当前账户为只读（审计），不能执行此操作。"
BAD_CSRF = "表单已过期或来源不明（缺少或不符的 CSRF 令牌），操作未执行。请刷新页面后重试。"

Handler = Callable[[Request, FormData, User], Awaitable[Response]]


def check_csrf(request: Request, form: FormData) -> None:
    expected = request.session.get(CSRF_FIELD)
    given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
    if not same(given, expected):
        raise HTTPException(403, BAD_CSRF)


def action(handler: Handler, *, staff_only: bool = True, max_files: int = 1) -> Callable[[Request], Awaitable[Response]]:
    """Wrap a POST handler: signed-in user, staff role (unless ``staff_only`` is False), CSRF.

    The route table marks wrapped handlers (``csrf_checked``) so a test can prove that every
    POST route goes through here.
    """

    @functools.wraps(handler)
    async def endpoint(request: Request) -> Response:
        user = current_user(request)
        if user is None:
            raise HTTPException(401, NO_TOKEN)
        # The role is checked before the body is read: an auditor's upload is not even parsed.
        if staff_only and not user.can_act:
            raise HTTPException(403, READ_ONLY)
        form = await request.form(max_files=max_files, max_fields=50)
        check_csrf(request, form)
        return await handler(request, form, user)

    endpoint.csrf_checked = True  # type: ignore[attr-defined]
    return endpoint


class AuthGate:
    """Everything but static files and the login form needs a signed-in user."""

    def __init__(self, app: ASGIApp, config: DeskConfig) -> None:
        self.app = app
        self.config = config

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        path = route_path(conn)
        if path.startswith(PUBLIC_PREFIXES) or (path == LOGIN_PATH and not self.config.local):
            await self.app(scope, receive, send)
            return
        token = conn.query_params.get("token")
        if self.config.local and token is not None:
            response = self._token_login(conn, token)
            await response(scope, receive, send)
            return
        if current_user(conn) is None:
            await self._refuse(conn)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _token_login(self, conn: HTTPConnection, token: str) -> Response:
        if not same(token, self.config.token):
            return error_page(conn, 403, BAD_TOKEN)
        sign_in(conn, local_user(), note="本机访问令牌")
        rest = [(k, v) for k, v in conn.query_params.multi_items() if k != "token"]
        target = conn.url.path + (f"?{urlencode(rest)}" if rest else "")
        return RedirectResponse(target, status_code=303)

    def _refuse(self, conn: HTTPConnection) -> Response:
        if self.config.local:
            return error_page(conn, 401, NO_TOKEN)
        if conn.scope.get("method") == "GET":
            query = urlencode({"next": conn.url.path + (f"?{conn.url.query}" if conn.url.query else "")})
            return RedirectResponse(f"{to(conn, LOGIN_PATH)}?{query}", status_code=303)
        return error_page(conn, 401, "请先登录。")


def safe_next(conn: HTTPConnection, target: Any) -> str:
    """Where to go after login: only a path of this desk, under its root path (no open redirect)."""
    base = root(conn) + "/"
    if isinstance(target, str) and target.startswith(base) and not target.startswith("//") and "\\" not in target:
        return target
    return base
