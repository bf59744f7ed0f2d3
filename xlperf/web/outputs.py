"""What the desk hands out for a round: the per-unit templates as one zip, the summary workbook,
both built as background jobs (see jobs.py) that the page follows; and one unit's templates at
once. A round that follows another (``round new --from-round``) hands out the templates prefilled
from the earlier round's accepted returns, and its page lists the units and projects that get
none (无已通过的申报), as ``round templates`` does (:mod:`xlperf.ledger.roundtemplates`)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from xlperf.form.registry import form_title
from xlperf.form.signkeys import SigningKeyError, load_key
from xlperf.ledger import Ledger, LedgerError, round_rollup
from xlperf.ledger.models import Round
from xlperf.ledger.results import write_round_results
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.ledger.roundtemplates import round_plan, round_templates
from xlperf.web.auth import action
from xlperf.web.jobs import Build, Job, JobBoard
from xlperf.web.paths import to
from xlperf.web.render import page
from xlperf.web.state import attachment, ledger_of, round_by_id
from xlperf.web.users import User

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _round(request: Request) -> Round:
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, int(request.path_params["round_id"]))
        session.expunge(rnd)
    return rnd


def templates_page(request: Request) -> Response:
    rnd = _round(request)
    with ledger_of(request).session() as session:
        units = units_of(session, rnd.id)
        try:
            planned = round_plan(session, session.merge(rnd, load=False))
        except LedgerError as exc:  # its chain no longer maps (the form was changed since)
            raise HTTPException(409, str(exc)) from None
        chain = None
        if planned is not None:
            source, plan = planned
            counts = Counter(unit.code for unit, _ in plan.issue)
            chain = {"earlier": source.earlier.name, "earlier_form": form_title(source.earlier.form),
                     "declaring": source.declaring.name if source.declaring is not None else "",
                     "files": len(plan.issue),
                     "units": [(u.code, u.name, counts[u.code]) for u in roster_of(rnd, units).units if counts[u.code]],
                     "left_out": [(u.code, u.name, project, why) for u, project, why in plan.left_out]}
    try:
        signed = load_key() is not None
        key_problem = ""
    except SigningKeyError as exc:
        signed, key_problem = False, str(exc)
    return page(request, "templates.html", rnd=rnd, units=len(units), signed=signed, key_problem=key_problem,
                chain=chain)


def unit_templates(request: Request) -> Response:
    """One unit's templates, at once: the file itself, or a zip when it has several."""
    rnd = _round(request)
    code = str(request.path_params["code"])
    try:
        key = load_key()
    except SigningKeyError as exc:
        raise HTTPException(409, f"签名密钥无法使用：{exc}") from None
    with tempfile.TemporaryDirectory(prefix="xlperf-unit-templates-") as tmp:
        with ledger_of(request).session() as session:
            if code not in {u.code for u in units_of(session, rnd.id)}:
                raise HTTPException(404, "名单中没有这个单位。")
            try:
                issued = round_templates(session, session.merge(rnd, load=False), Path(tmp), key=key, unit=code)
            except LedgerError as exc:
                raise HTTPException(409, str(exc)) from None
        if not issued.files:
            raise HTTPException(404, "该单位没有模板：" + "；".join(why for _, _, why in issued.left_out))
        if len(issued.files) == 1:
            path = issued.files[0]
            return Response(path.read_bytes(), media_type=XLSX, headers=attachment(path.name))
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in issued.files:
                archive.write(path, path.name)
        return Response(buffer.getvalue(), media_type="application/zip",
                        headers=attachment(f"{rnd.name}_{code}_模板.zip"))


def _templates_build(ledger: Ledger, rnd: Round) -> Build:
    try:
        key = load_key()
    except SigningKeyError as exc:
        raise HTTPException(409, f"签名密钥无法使用：{exc}") from None

    def build(output: Path, progress: Callable[[int, int], None]) -> None:
        with tempfile.TemporaryDirectory(prefix="xlperf-templates-") as tmp:
            with ledger.session() as session:
                issued = round_templates(session, session.merge(rnd, load=False), Path(tmp), key=key,
                                         progress=progress)
            with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as archive:
                for path in issued.files:
                    archive.write(path, path.relative_to(tmp).as_posix())

    return build


def summary_page(request: Request) -> Response:
    return page(request, "summary.html", rnd=_round(request))


def _summary_build(ledger: Ledger, rnd: Round) -> Build:
    def build(output: Path, progress: Callable[[int, int], None]) -> None:
        with ledger.session() as session:
            round_rollup(session, session.merge(rnd, load=False), output, progress)

    return build


def _results_build(ledger: Ledger, rnd: Round) -> Build:
    def build(output: Path, progress: Callable[[int, int], None]) -> None:
        progress(0, 1)
        with ledger.session() as session:
            write_round_results(session, session.merge(rnd, load=False), output)
        progress(1, 1)

    return build


# kind -> (what it builds, suffix, download name, media type)
KINDS: dict[str, tuple[Callable[[Ledger, Round], Build], str, str, str]] = {
    "summary": (_summary_build, ".xlsx", "{name}_汇总.xlsx", XLSX),
    "results": (_results_build, ".xlsx", "{name}_结果应用.xlsx", XLSX),
    "templates": (_templates_build, ".zip", "{name}_模板.zip", "application/zip"),
}


def jobs_of(request: Request) -> JobBoard:
    board: JobBoard = request.app.state.jobs
    return board


def _kind(request: Request) -> str:
    kind = str(request.path_params["output"])
    if kind not in KINDS:
        raise HTTPException(404, "没有这个页面。")
    return kind


async def _start(request: Request, form: FormData, user: User) -> Response:
    """Start a build. Auditors may too: it only reads the ledger and writes a file that only
    signed-in users of this desk can fetch; the summary and templates are what an audit reads."""
    kind = _kind(request)
    rnd = _round(request)
    make, suffix, name, _ = KINDS[kind]
    job = jobs_of(request).start(kind, rnd.id, name.format(name=rnd.name), suffix, make(ledger_of(request), rnd))
    return _status(request, job)


start_job = action(_start, staff_only=False)


def job_status(request: Request) -> Response:
    kind = _kind(request)
    job = jobs_of(request).get(kind, int(request.path_params["round_id"]), str(request.path_params["job_id"]))
    return _status(request, job)


def _status(request: Request, job: Job) -> Response:
    done, total = job.done, job.total
    base = to(request, f"/rounds/{job.round_id}/{job.kind}/jobs/{job.id}")
    if "application/json" in request.headers.get("accept", ""):
        return JSONResponse({"id": job.id, "state": job.state, "done": done, "total": total, "error": job.error,
                             "status_url": base, "file_url": f"{base}/file" if job.state == "done" else None})
    return page(request, "_job.html", job=job, done=done, total=total, status_url=base)


def job_file(request: Request) -> Response:
    kind = _kind(request)
    board = jobs_of(request)
    job = board.get(kind, int(request.path_params["round_id"]), str(request.path_params["job_id"]))
    if job.state != "done" or not board.output(job).is_file():
        raise HTTPException(404, "文件尚未生成完毕或已过期，请重新生成。")
    return FileResponse(board.output(job), media_type=KINDS[kind][3], headers=attachment(job.file_name))
