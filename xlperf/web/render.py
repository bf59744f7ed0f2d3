"""Pages from the package's Jinja2 templates (autoescaped), with what every page shows."""

from __future__ import annotations

import functools
from typing import Any

import jinja2
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse

from xlperf.web.session import csrf_token, current_user

TITLE = "xlperf 绩效报表收报台"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("xlperf.web", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.globals["site_title"] = TITLE
    return env


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def page(conn: HTTPConnection, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A full page (or an htmx fragment) with the signed-in user and the session's CSRF token."""
    html = render(name, request=conn, user=current_user(conn), csrf=csrf_token(conn),
                  local=conn.app.state.config.local if hasattr(conn.app, "state") else True, **context)
    return HTMLResponse(html, status_code=status_code)


def error_page(conn: HTTPConnection, status: int, message: str) -> HTMLResponse:
    html = render("error.html", request=conn, user=None, csrf="", local=True, status=status, message=message)
    return HTMLResponse(html, status_code=status)
