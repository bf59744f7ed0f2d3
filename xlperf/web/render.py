"""Pages from the package's Jinja2 templates (autoescaped), with what every page shows."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

import jinja2
from starlette.requests import HTTPConnection
from starlette.responses import HTMLResponse

from xlperf.ledger.models import FOLLOWS_RECTIFY, SOURCE_LABELS, Event, local
from xlperf.web.paths import root
from xlperf.web.session import csrf_token, current_user

TITLE = "xlperf 绩效报表收报台"


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("xlperf.web", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True,
                             undefined=jinja2.StrictUndefined)
    env.globals["site_title"] = TITLE
    env.globals["FOLLOWS_RECTIFY"] = FOLLOWS_RECTIFY  # a 整改 round's pages have the 整改 tab
    env.filters["when"] = when
    env.filters["event_note"] = event_note
    return env


def event_note(event: Event) -> str:
    """An event's note as people read it. Ledgers written before issue 21 noted where a file came
    from by its id ("folder 演示收件箱"); shown in words, as new ledgers write it ("文件夹 演示收件箱")."""
    if event.kind == "received":
        source, _, sender = event.note.partition(" ")
        if source in SOURCE_LABELS:
            return f"{SOURCE_LABELS[source]} {sender}".strip()
    return event.note


def when(value: dt.datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored (UTC) time as this computer's local time, or — when there is none."""
    return local(value).strftime(fmt) if value is not None else "—"


def render(name: str, **context: Any) -> str:
    return environment().get_template(name).render(**context)


def page(conn: HTTPConnection, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A full page (or an htmx fragment) with the signed-in user and the session's CSRF token."""
    html = render(name, request=conn, user=current_user(conn), csrf=csrf_token(conn),
                  local=conn.app.state.config.local if hasattr(conn.app, "state") else True, root=root(conn),
                  **context)
    return HTMLResponse(html, status_code=status_code)


def error_page(conn: HTTPConnection, status: int, message: str, request_id: str = "") -> HTMLResponse:
    """A page saying what went wrong; ``request_id`` names a server error in the server's log."""
    html = render("error.html", request=conn, user=None, csrf="", local=True, status=status, message=message,
                  root=root(conn), request_id=request_id)
    return HTMLResponse(html, status_code=status)
