"""Every request gets an id; a request that fails is logged once, with its traceback and that id,
and the 500 page shows the id, so that what a person reports can be found in the log.

Starlette's ServerErrorMiddleware sends the 500 page and then raises the error again for the
server to log; uvicorn would then log the same traceback a second time, without the id.
:class:`RequestIds` wraps the whole application (outside that middleware): it gives the request
its id and drops an error that has already been answered and logged here.
"""

from __future__ import annotations

import logging
import secrets

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from xlperf.ledger.oplog import fields
from xlperf.web.paths import route_path

log = logging.getLogger("xlperf.desk")
_ID = "xlperf.request_id"
_LOGGED = "xlperf.error_logged"


def request_id(conn: HTTPConnection) -> str:
    return str(conn.scope.get(_ID, ""))


def where(conn: HTTPConnection) -> dict[str, object]:
    """The log fields of a request into a round (its round and submission ids from the route)."""
    params = conn.scope.get("path_params") or {}
    # The round's number as the URL has it ("#3"): a failed request may not have read its name.
    round_id = params.get("round_id")
    return fields(f"#{round_id}" if round_id is not None else None, params.get("submission_id"))


def log_failure(conn: HTTPConnection, exc: BaseException) -> str:
    """Log ``exc`` with its traceback and the request's id (once); returns the id."""
    rid = request_id(conn)
    log.error("请求出错（编号 %s）：%s %s", rid, conn.scope.get("method", ""), route_path(conn),
              exc_info=(type(exc), exc, exc.__traceback__), extra=where(conn))
    conn.scope[_LOGGED] = True
    return rid


class RequestIds:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Eight hex digits: short enough to read out on the telephone, unique enough in one day's log.
        scope[_ID] = secrets.token_hex(4)
        try:
            await self.app(scope, receive, send)
        except Exception:
            if scope.get(_LOGGED):
                return  # answered with the 500 page and logged by log_failure
            raise
