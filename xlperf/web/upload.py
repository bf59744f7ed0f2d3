"""Uploading returns: many files in one go; the page's script sends them a few at a time and shows
each file's outcome as its request finishes. Every file goes through the intake function the CLI
uses (:func:`xlperf.intake.intake_files`): the same guard, limits, checks and recording."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from xlperf.intake import intake_files
from xlperf.intake.archive import looks_like_zip, unpack_zip
from xlperf.ledger import Outcome
from xlperf.ledger.receive import KIND_LABELS
from xlperf.web.auth import action
from xlperf.web.render import page
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


def _row(round_id: int, outcome: Outcome) -> dict[str, Any]:
    return {"name": outcome.name, "kind": outcome.kind, "label": KIND_LABELS.get(outcome.kind, outcome.kind),
            "status": outcome.status, "unit": outcome.unit, "line": outcome.line(),
            "url": f"/rounds/{round_id}/submissions/{outcome.submission_id}" if outcome.submission_id else ""}


def _refused(name: str, why: str) -> dict[str, Any]:
    return {"name": name, "kind": "refused", "label": "未收取", "status": "", "unit": "", "line": why, "url": ""}


async def upload_action(request: Request, form: FormData, user: User) -> Response:
    round_id = int(request.path_params["round_id"])
    ledger = ledger_of(request)
    with ledger.session() as session:
        rnd = round_by_id(session, round_id)
        session.expunge(rnd)
    files: list[tuple[str, bytes | Path]] = []
    rows: list[dict[str, Any]] = []
    for upload in form.getlist("files"):
        if not isinstance(upload, UploadFile):
            continue
        name, data = base_name(upload.filename), await upload.read()
        if not looks_like_zip(name, data):
            files.append((name, data))
            continue
        # A zip is unpacked under the guard's limits, as a mailed one is; its members are returns.
        ledger.store.put(data)
        unpacked = unpack_zip(name, data)
        if unpacked.refused:
            rows.append(_refused(name, unpacked.refused))
        rows += [_refused(f"{name}/{path}", why) for path, why in unpacked.skipped]
        files += [(member.name, member.data) for member in unpacked.members]
    # Checking is CPU work: off the event loop, so other pages stay responsive meanwhile.
    # One checking process a request, taken from the desk's kept workers (forking one per
    # request cost more than the few files of a request); the desk uses every core by serving
    # requests in several server processes and two requests in flight.
    intake = await run_in_threadpool(intake_files, ledger, rnd, files, source="upload", sender=user.name,
                                     actor=user.name, jobs=1, pool=request.app.state.checkers)
    rows += [_row(round_id, o) for o in intake.outcomes]
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"results": rows})
    return page(request, "upload.html", rnd=rnd, max_mb=request.app.state.config.max_upload // (1024 * 1024),
                results=rows)


upload_endpoint = action(upload_action, max_files=MAX_FILES)
