"""Uploading returns: many files in one go; the page's script sends them a few at a time and shows
each file's outcome as its request finishes. Every file goes through the intake function the CLI
and the mailbox use (:func:`xlperf.intake.intake_files`): the same zips unpacked and recorded, the
same rule for files that are not returns, guard, limits, checks, recording and the round's rules
(a round that requires signatures takes nothing while the desk has no signing key).

Each result names the uploaded file it belongs to (``given``: its place in the request), so the
page fills that file's row whatever a zip gave (its members follow it, an empty one says so)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from xlperf.intake import Intake, intake_files
from xlperf.intake.archive import MAX_FILES as MAX_MEMBERS
from xlperf.ledger import Outcome
from xlperf.ledger.oplog import fields
from xlperf.ledger.receive import KIND_LABELS
from xlperf.ledger.round_checks import RoundNotReady
from xlperf.web.auth import action
from xlperf.web.paths import root
from xlperf.web.render import page
from xlperf.web.requestlog import log
from xlperf.web.state import base_name, ledger_of, round_by_id
from xlperf.web.users import User

MAX_FILES = 64
"""Files in one request; the page sends smaller batches (see desk.js) so outcomes appear early."""


def upload_page(request: Request) -> Response:
    round_id = int(request.path_params["round_id"])
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, round_id)
    return page(request, "upload.html", rnd=rnd, max_mb=request.app.state.config.max_upload // (1024 * 1024),
                results=None)


def _row(base: str, round_id: int, outcome: Outcome, given: int) -> dict[str, Any]:
    return {"name": outcome.name, "kind": outcome.kind, "label": KIND_LABELS.get(outcome.kind, outcome.kind),
            "status": outcome.status, "unit": outcome.unit, "line": outcome.line(), "given": given,
            "url": f"{base}/rounds/{round_id}/submissions/{outcome.submission_id}" if outcome.submission_id else ""}


def _rows(base: str, round_id: int, intake: Intake) -> list[dict[str, Any]]:
    """One row per file recorded, each with the place of the uploaded file it came from (a zip's
    members follow the zip, which comes out of the request in the order given)."""
    rows, given = [], -1
    for outcome, got in zip(intake.outcomes, intake.files, strict=True):
        if not got.within:
            given += 1
        rows.append(_row(base, round_id, outcome, max(given, 0)))
    return rows


def _refused(name: str, why: str, given: int) -> dict[str, Any]:
    return {"name": name, "kind": "refused", "label": "未收取", "status": "", "unit": "", "line": why, "url": "",
            "given": given}


async def upload_action(request: Request, form: FormData, user: User) -> Response:
    round_id = int(request.path_params["round_id"])
    ledger = ledger_of(request)
    with ledger.session() as session:
        rnd = round_by_id(session, round_id)
        session.expunge(rnd)
    files: list[tuple[str, bytes | Path]] = []
    for upload in form.getlist("files"):
        if isinstance(upload, UploadFile):
            files.append((base_name(upload.filename), await upload.read()))
    # Checking is CPU work: off the event loop, so other pages stay responsive meanwhile.
    # One checking process a request, taken from the desk's kept workers (forking one per
    # request cost more than the few files of a request); the desk uses every core by serving
    # requests in several server processes and two requests in flight.
    try:
        intake = await run_in_threadpool(intake_files, ledger, rnd, files, source="upload", sender=user.name,
                                         actor=user.name, jobs=1, pool=request.app.state.checkers,
                                         cap=MAX_MEMBERS)
    except RoundNotReady as exc:
        rows = [_refused(name, str(exc), i) for i, (name, _) in enumerate(files)]
        status = 409
    else:
        rows = _rows(root(request), round_id, intake) + [_refused("压缩包中略过的文件", note, len(files) - 1)
                                                         for note in intake.notes]
        status = 200
        for outcome in intake.outcomes:
            log.info("网页上传（%s）：%s", user.name, outcome.line(), extra=fields(rnd.name, outcome.submission_id))
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"results": rows}, status_code=status)
    return page(request, "upload.html", rnd=rnd, max_mb=request.app.state.config.max_upload // (1024 * 1024),
                results=rows)


upload_endpoint = action(upload_action, max_files=MAX_FILES)
