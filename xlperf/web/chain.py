"""The chain page of a project: 目标申报, 运行监控, 自评 side by side (:mod:`xlperf.ledger.chainview`),
reached from the status table, a submission's page and the year-over-year page."""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response

from xlperf.ledger.chainview import project_chain
from xlperf.web.render import page
from xlperf.web.state import ledger_of, round_by_id

__all__ = ["chain_link", "chain_page"]


def chain_link(base: str, round_id: int, code: str, unit: str, project: str) -> str:
    """The chain page of a project of round ``round_id`` (``base``: the desk's root path)."""
    return f"{base}/rounds/{round_id}/chain?{urlencode({'code': code, 'unit': unit, 'project': project})}"


def chain_page(request: Request) -> Response:
    round_id = int(request.path_params["round_id"])
    code, unit, project = (request.query_params.get(k, "") for k in ("code", "unit", "project"))
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, round_id)
        session.expunge(rnd)
        chain = project_chain(session, rnd, code, unit, project)
    return page(request, "chain.html", rnd=rnd, code=code, unit=unit, project=project, chain=chain)
