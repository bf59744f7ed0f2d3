"""What the desk hands out for a round: the per-unit templates as one zip, the summary workbook."""

from __future__ import annotations

import io
import tempfile
import zipfile
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from xlperf.cycle.issue import roster_templates
from xlperf.form.layout import builtin_layout
from xlperf.form.signkeys import SigningKeyError, load_key
from xlperf.ledger import round_rollup
from xlperf.ledger.models import Round
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.web.render import page
from xlperf.web.state import attachment, ledger_of, round_by_id

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _round(request: Request) -> Round:
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, int(request.path_params["round_id"]))
        session.expunge(rnd)
    return rnd


def templates_page(request: Request) -> Response:
    rnd = _round(request)
    with ledger_of(request).session() as session:
        units = len(units_of(session, rnd.id))
    try:
        signed = load_key() is not None
        key_problem = ""
    except SigningKeyError as exc:
        signed, key_problem = False, str(exc)
    return page(request, "templates.html", rnd=rnd, units=units, signed=signed, key_problem=key_problem)


def _templates_zip(request: Request, rnd: Round) -> bytes:
    try:
        key = load_key()
    except SigningKeyError as exc:
        raise HTTPException(409, f"签名密钥无法使用：{exc}") from None
    with ledger_of(request).session() as session:
        roster = roster_of(rnd, units_of(session, rnd.id))
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="xlperf-templates-") as tmp:
        issued = roster_templates(builtin_layout(rnd.form), roster, Path(tmp), year=rnd.year, key=key)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in issued.files:
                archive.write(path, path.relative_to(tmp).as_posix())
    return buffer.getvalue()


async def templates_zip(request: Request) -> Response:
    rnd = _round(request)
    data = await run_in_threadpool(_templates_zip, request, rnd)
    return Response(data, media_type="application/zip", headers=attachment(f"{rnd.name}_模板.zip"))


def summary_page(request: Request) -> Response:
    return page(request, "summary.html", rnd=_round(request))


def _summary(request: Request, rnd: Round) -> bytes:
    with tempfile.TemporaryDirectory(prefix="xlperf-summary-") as tmp, ledger_of(request).session() as session:
        result = round_rollup(session, session.merge(rnd, load=False), Path(tmp) / "summary.xlsx")
        return result.output.read_bytes()


async def summary_xlsx(request: Request) -> Response:
    rnd = _round(request)
    data = await run_in_threadpool(_summary, request, rnd)
    return Response(data, media_type=XLSX, headers=attachment(f"{rnd.name}_汇总.xlsx"))
