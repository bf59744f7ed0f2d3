"""The desk as one ASGI application: middleware, routes, error pages."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import AsyncIterator
from http import HTTPStatus
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from xlperf.ledger import Ledger, LedgerError, open_ledger, oplog, round_checks, workerpreload
from xlperf.ledger.models import Round
from xlperf.web import (
    audit,
    dashboard,
    login,
    mail,
    outputs,
    rectify,
    results,
    rounds,
    submission,
    upload,
)
from xlperf.web.auth import AuthGate
from xlperf.web.chain import chain_page
from xlperf.web.config import DeskConfig
from xlperf.web.jobs import JobBoard
from xlperf.web.proxy import Sessions
from xlperf.web.render import error_page
from xlperf.web.requestlog import RequestIds, log_failure
from xlperf.web.security import BodyLimit, SecurityHeaders
from xlperf.web.session import SESSION_HOURS
from xlperf.web.state import storage_trouble
from xlperf.web.throttle import LoginThrottle
from xlperf.workers.pool import WorkerPool

SESSION_COOKIE = "xlperf_desk"
SERVER_ERROR = "服务器内部错误，操作未完成。请稍后重试；如仍出现，请把下面的错误编号告诉信息技术人员，以便在服务器日志中查到这次错误。"


STATUS_TEXT = {400: "请求无效。", 401: "请先登录。", 403: "没有权限执行此操作。", 404: "没有这个页面。",
               405: "此页面不接受这种请求（例如应从表单提交）。", 413: "上传内容过大。"}
"""What a person reads for an HTTP error that no handler explained (Starlette's "Not Found" …)."""


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = str(exc.detail)
    if detail == HTTPStatus(exc.status_code).phrase:  # Starlette's own English words
        detail = STATUS_TEXT.get(exc.status_code, f"请求未能完成（状态码 {exc.status_code}）。")
    return error_page(request, exc.status_code, detail)


async def _storage_error(request: Request, exc: Exception) -> Response:
    """A full or read-only store: 507 (Insufficient Storage) with what and where; anything else
    stays the server error it is."""
    problem = storage_trouble(request.app.state.ledger, exc)
    if problem is None:
        raise exc
    return error_page(request, 507, problem)


async def _server_error(request: Request, exc: Exception) -> Response:
    """What escaped every handler, the sign-in check's ledger lookup included: a full or
    read-only store is still 507 and said in words; anything else a 500 page with the id under
    which its traceback is in the server's log."""
    problem = storage_trouble(request.app.state.ledger, exc)
    if problem is not None:
        return error_page(request, 507, problem)
    return error_page(request, 500, SERVER_ERROR, request_id=log_failure(request, exc))


def routes() -> list[Route | Mount]:
    sub = "/rounds/{round_id:int}/submissions/{submission_id:int}"
    return [
        Route("/", rounds.home),
        Route("/login", login.login_form, methods=["GET"]),
        Route("/login", login.login, methods=["POST"]),
        Route("/logout", login.logout, methods=["POST"]),
        Route("/audit", audit.audit_page),
        Route("/account/password", login.password_form, methods=["GET"]),
        Route("/account/password", login.change_password, methods=["POST"]),
        Route("/rounds", rounds.rounds_page, methods=["GET"]),
        Route("/rounds", rounds.create_round_endpoint, methods=["POST"]),
        Route("/rounds/new", rounds.new_round_page),
        Route("/rounds/{round_id:int}", dashboard.dashboard),
        Route("/rounds/{round_id:int}/rows", dashboard.roster_rows),
        Route("/rounds/{round_id:int}/upload", upload.upload_page, methods=["GET"]),
        Route("/rounds/{round_id:int}/upload", upload.upload_endpoint, methods=["POST"]),
        Route(sub, submission.submission_page),
        Route(sub + "/download/{kind}", submission.download),
        Route(sub + "/decide", submission.decide_endpoint, methods=["POST"]),
        Route("/rounds/{round_id:int}/templates", outputs.templates_page),
        Route("/rounds/{round_id:int}/templates/unit/{code}", outputs.unit_templates),
        Route("/rounds/{round_id:int}/summary", outputs.summary_page),
        Route("/rounds/{round_id:int}/results", results.results_page),
        Route("/rounds/{round_id:int}/results/settings", results.save_settings, methods=["POST"]),
        Route("/rounds/{round_id:int}/results/project", results.project_page),
        Route("/rounds/{round_id:int}/rectify", rectify.rectify_page),
        Route("/rounds/{round_id:int}/chain", chain_page),
        Route("/rounds/{round_id:int}/{output}/jobs", outputs.start_job, methods=["POST"]),
        Route("/rounds/{round_id:int}/{output}/jobs/{job_id}", outputs.job_status),
        Route("/rounds/{round_id:int}/{output}/jobs/{job_id}/file", outputs.job_file),
        Route("/rounds/{round_id:int}/mail", mail.mail_page),
        Route("/rounds/{round_id:int}/mail/send", mail.send_endpoint, methods=["POST"]),
        Route("/rounds/{round_id:int}/mail/remind", mail.remind_endpoint, methods=["POST"]),
        Route("/rounds/{round_id:int}/mail/replies/{reply_id:int}", mail.settle_endpoint, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("xlperf.web", "static")]), name="static"),
    ]


class Desk(Starlette):
    """Starlette with a request id outside its error handling (see :mod:`xlperf.web.requestlog`)."""

    def build_middleware_stack(self) -> ASGIApp:
        return RequestIds(super().build_middleware_stack())


def create_app(config: DeskConfig, ledger: Ledger) -> Starlette:
    """The desk on ``ledger`` (opened, so migrated)."""
    middleware = [
        Middleware(SecurityHeaders),
        # The cookie is the desk's only (path: its root path), not every application's on the proxy's host.
        Middleware(Sessions, secure=config.secure_cookies, secret_key=config.secret, session_cookie=SESSION_COOKIE,
                   max_age=SESSION_HOURS * 3600, path=config.root_path or "/"),
        Middleware(AuthGate, config=config),
        Middleware(BodyLimit, limit=config.max_upload),
    ]
    app = Desk(routes=routes(), middleware=middleware,
                    exception_handlers={HTTPException: _http_error, OSError: _storage_error,
                                        DBAPIError: _storage_error, LedgerError: _storage_error,
                                        Exception: _server_error},
                    lifespan=_lifespan)
    app.state.config = config
    app.state.ledger = ledger
    app.state.status_cache = {}
    app.state.jobs = JobBoard(Path(config.jobs_dir) if config.jobs_dir else None)
    app.state.login_throttle = LoginThrottle()
    # Uploads are checked by workers kept from one request to the next (a fork per request of
    # a few files cost more than checking them), started by a fork server that has imported the
    # checks once.
    app.state.checkers = WorkerPool(preload=[workerpreload.__name__])
    return app


@contextlib.asynccontextmanager
async def _lifespan(app: Starlette) -> AsyncIterator[None]:
    # Workers for the newest round start in the background: serving begins at once, and an
    # upload that comes before they are ready (or to another round) starts its own.
    threading.Thread(target=_start_workers, args=(app,), name="xlperf-desk-workers", daemon=True).start()
    yield
    app.state.checkers.close()


def app_from_environment() -> Starlette:
    """The app of one worker process of ``xlperf serve --workers N`` (see DeskConfig.to_environment)."""
    config = DeskConfig.from_environment()
    oplog.configure(config.log_level, config.log_file)  # a worker process starts with no logging set up
    return create_app(config, open_ledger(config.db_url))


def _start_workers(app: Starlette) -> None:
    ledger: Ledger = app.state.ledger
    with ledger.session() as session:
        newest = session.scalar(select(Round).order_by(Round.id.desc()).limit(1))
        if newest is None:
            return
        work = round_checks.round_check(session, newest)
    round_checks.workers(app.state.checkers, app.state.checkers.size, work)
