"""One submission: its validation report (the HTML report's content, from report.view), the
downloads (original, annotated workbook, JSON), the unit's version history with field changes,
the staff decisions and the submission's events."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xlperf import __version__
from xlperf.ledger import ACCEPT, RETURN, VOID, LedgerError, decide, unit_history
from xlperf.ledger.decisions import ACTION_LABELS
from xlperf.ledger.models import CURRENT, SOURCE_LABELS, STATE_LABELS, Event, Submission, Unit
from xlperf.ledger.oplog import fields
from xlperf.ledger.roundform import round_pinned
from xlperf.ledger.stored_results import submission_checked
from xlperf.report import ANNOTATED_SUFFIX, annotated_bytes, json_bytes
from xlperf.report.view import BLANK, RECOMPUTED_NOTE, build_view
from xlperf.web.auth import action
from xlperf.web.chain import chain_link
from xlperf.web.dashboard import EVENT_LABELS, STATUS_CLASSES
from xlperf.web.paths import root, to
from xlperf.web.render import error_page, page
from xlperf.web.requestlog import log
from xlperf.web.state import attachment, ledger_of, round_by_id, submission_of
from xlperf.web.users import User

DECISIONS = ((ACCEPT, "通过（有提示也接收）"), (RETURN, "退回（须写明原因）"), (VOID, "作废"))
DOWNLOADS = ("original", "annotated", "json")


def _ids(request: Request) -> tuple[int, int]:
    return int(request.path_params["round_id"]), int(request.path_params["submission_id"])


def submission_page(request: Request) -> Response:
    round_id, submission_id = _ids(request)
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, round_id)
        sub = submission_of(session, rnd, submission_id)
        checked = submission_checked(session, sub)
        unit = session.get(Unit, sub.unit_id) if sub.unit_id else None
        history = unit_history(session, rnd, unit) if unit is not None else []
        events = session.scalars(select(Event).where(Event.submission_id == sub.id).order_by(Event.id)).all()
    with round_pinned(rnd):  # the round's own spec: labels and cells of the form it checked with
        view = build_view(checked, f"{Path(sub.original_name).stem}{ANNOTATED_SUFFIX}") if checked else None
    # The unit's history says the status with the staff's decision; a file held outside the
    # roster has no history, and shows what its check said.
    status = next((v.status for v in history if v.submission.id == sub.id),
                  view.status_label if view else "未审核")
    return page(request, "submission.html", rnd=rnd, sub=sub, v=view, status=status,
                status_class=STATUS_CLASSES.get(status, "held"), state=STATE_LABELS.get(sub.state, sub.state), state_labels=STATE_LABELS, action_labels=ACTION_LABELS,
                source=SOURCE_LABELS.get(sub.source, sub.source), unit=unit, history=history, events=events,
                event_labels=EVENT_LABELS, can_decide=sub.state == CURRENT, decisions=DECISIONS,
                recomputed=RECOMPUTED_NOTE, blank=BLANK, version=__version__, flash=request.query_params.get("msg", ""),
                flash_error=request.query_params.get("err", ""), chains=_chains(request, rnd.id, sub, unit))


def _chains(request: Request, round_id: int, sub: Submission, unit: Unit | None) -> list[tuple[str, str]]:
    """The chain page of each project the return answers (its roster code and name)."""
    names = [str(p) for p in json.loads(sub.projects or "[]") if str(p).strip()]
    code, name = (unit.code, unit.name) if unit is not None else ("", sub.unit_name)
    return [(p, chain_link(root(request), round_id, code, name, p)) for p in names]


def download(request: Request) -> Response:
    round_id, submission_id = _ids(request)
    kind = request.path_params["kind"]
    if kind not in DOWNLOADS:
        raise HTTPException(404, "没有这种下载。")
    ledger = ledger_of(request)
    with ledger.session() as session:
        rnd = round_by_id(session, round_id)
        sub = submission_of(session, rnd, submission_id)
        checked = submission_checked(session, sub) if kind != "original" else None
    stem = Path(sub.original_name).stem or f"submission-{sub.id}"
    if kind == "original":
        if not ledger.store.has(sub.sha256):
            raise HTTPException(404, "存档中找不到该文件。")
        return Response(ledger.store.read(sub.sha256), media_type="application/octet-stream",
                        headers=attachment(sub.original_name))
    if checked is None:
        raise HTTPException(404, "该文件未经审核，没有审核结果可下载。")
    if kind == "json":
        return Response(json_bytes(checked), media_type="application/json; charset=utf-8",
                        headers=attachment(f"{stem}.json"))
    with round_pinned(rnd):
        workbook = annotated_bytes(checked)
    if workbook is None:
        raise HTTPException(404, "表单未知，无法生成批注工作簿。")
    return Response(workbook, media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers=attachment(f"{stem}{ANNOTATED_SUFFIX}"))


async def decide_action(request: Request, form: FormData, user: User) -> Response:
    round_id, submission_id = _ids(request)
    what = str(form.get("action", ""))
    note = str(form.get("note", "")).strip()
    target = to(request, f"/rounds/{round_id}/submissions/{submission_id}")
    if what not in (ACCEPT, RETURN, VOID):
        raise HTTPException(400, "未知的操作。")
    try:
        with ledger_of(request).session() as session, session.begin():
            rnd = round_by_id(session, round_id)
            submission_of(session, rnd, submission_id)
            decide(session, rnd, submission_id, what, note, actor=user.name)
            round_name = rnd.name
    except LedgerError as exc:
        return error_page(request, 409, str(exc))
    log.info("%s：%s%s", user.name, ACTION_LABELS[what], f"（{note}）" if note else "",
             extra=fields(round_name, submission_id))
    return RedirectResponse(f"{target}#events", status_code=303)


decide_endpoint = action(decide_action)
