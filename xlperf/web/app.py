"""The desk as one ASGI application: middleware, routes, error pages."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from xlperf.ledger import Ledger
from xlperf.web import login
from xlperf.web.auth import AuthGate
from xlperf.web.config import DeskConfig
from xlperf.web.render import error_page, page
from xlperf.web.security import BodyLimit, SecurityHeaders

SESSION_COOKIE = "xlperf_desk"
# A working day; a clerk signs in again the next morning.
SESSION_HOURS = 10


async def home(request: Request) -> Response:
    return page(request, "home.html")


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return error_page(request, exc.status_code, str(exc.detail))


def routes() -> list[Route | Mount]:
    return [
        Route("/", home),
        Route("/login", login.login_form, methods=["GET"]),
        Route("/login", login.login, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("xlperf.web", "static")]), name="static"),
    ]


def create_app(config: DeskConfig, ledger: Ledger) -> Starlette:
    """The desk on ``ledger`` (opened, so migrated)."""
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SessionMiddleware, secret_key=config.secret, session_cookie=SESSION_COOKIE,
                   max_age=SESSION_HOURS * 3600, same_site="strict", https_only=config.secure_cookies),
        Middleware(AuthGate, config=config),
        Middleware(BodyLimit, limit=config.max_upload),
    ]
    app = Starlette(routes=routes(), middleware=middleware,
                    exception_handlers={HTTPException: _http_error})
    app.state.config = config
    app.state.ledger = ledger
    return app
