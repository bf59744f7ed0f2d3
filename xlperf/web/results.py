"""结果应用 in the desk: the round's projects with their grades, consequences and suggested
budgets, the settings (staff edit them; auditors read), the workbook (a job, see outputs.py),
and one project's results year by year."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from xlperf.ledger import LedgerError
from xlperf.ledger.results import consequences, project_years, round_results, set_consequences
from xlperf.rollup.results import ResultRow
from xlperf.web.auth import action
from xlperf.web.chain import chain_link
from xlperf.web.charts import bar_chart, column_chart
from xlperf.web.paths import root, to
from xlperf.web.render import page
from xlperf.web.session import current_user
from xlperf.web.state import ledger_of, round_by_id
from xlperf.web.users import User

GRADE_COLOURS = {"优": "#2e8b57", "良": "#4472c4", "中": "#d4a017", "差": "#c0392b"}
SCORE_TOP = 100.0


def project_link(base: str, round_id: int, row: ResultRow) -> str:
    """The year-over-year page of a project of the round (``base``: the desk's root path)."""
    query = urlencode({"code": row.unit_code, "unit": row.unit, "project": row.project})
    return f"{base}/rounds/{round_id}/results/project?{query}"


def _results_page(request: Request, error: str = "", status_code: int = 200, typed: dict[str, str] | None = None,
                  saved: bool = False) -> Response:
    round_id = int(request.path_params["round_id"])
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, round_id)
        session.expunge(rnd)
        try:
            results = round_results(session, rnd)
        except LedgerError as exc:
            return page(request, "results.html", rnd=rnd, results=None, problem=str(exc), error="", saved=False)
    user = current_user(request)
    chart = bar_chart("评价等次分布", [(t.grade, t.count) for t in results.totals],
                      [GRADE_COLOURS.get(t.grade, "#9aa5b1") for t in results.totals])
    links = [project_link(root(request), round_id, r) for r in results.rows]
    return page(request, "results.html", status_code=status_code, rnd=rnd, results=results, chart=chart,
                links=links, can_edit=user is not None and user.can_act, error=error, typed=typed or {},
                saved=saved, problem="")


def results_page(request: Request) -> Response:
    return _results_page(request, saved=request.query_params.get("saved") == "1")


async def _save_settings(request: Request, form: FormData, user: User) -> Response:
    round_id = int(request.path_params["round_id"])
    typed = {k: str(v) for k, v in form.items() if k.startswith(("action_", "factor_"))}
    try:
        with ledger_of(request).session() as session, session.begin():
            rnd = round_by_id(session, round_id)
            changes = {c.grade: (typed.get(f"action_{i}", ""), typed.get(f"factor_{i}", ""))
                       for i, c in enumerate(consequences(rnd))}
            set_consequences(session, rnd, changes, actor=user.name)
    except LedgerError as exc:
        return _results_page(request, error=str(exc), status_code=400, typed=typed)
    return RedirectResponse(to(request, f"/rounds/{round_id}/results?saved=1"), status_code=303)


save_settings = action(_save_settings)


def project_page(request: Request) -> Response:
    round_id = int(request.path_params["round_id"])
    code, unit, project = (request.query_params.get(k, "") for k in ("code", "unit", "project"))
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, round_id)
        session.expunge(rnd)
        years = project_years(session, rnd, code, unit, project)
    chart = column_chart(f"{project} 历年总分", [(f"{p.year} 年", p.score, f"{_score(p.score)} {p.grade or ''}".strip())
                                               for p in years], SCORE_TOP)
    rates = bar_chart("历年预算执行率（%）", [(f"{p.year} 年", round((p.rate or 0) * 100)) for p in years])
    return page(request, "results_project.html", rnd=rnd, unit=unit, code=code, project=project, years=years,
                chart=chart, rates=rates, chain_url=chain_link(root(request), round_id, code, unit, project))


def _score(score: float | None) -> str:
    return "—" if score is None else f"{score:.2f}"
