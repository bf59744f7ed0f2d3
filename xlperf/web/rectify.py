"""整改 in the desk: the items a 整改 round follows, per unit and project, open, closed and
overdue (:func:`xlperf.ledger.rectify_status.rectify_status`; nothing here decides a state)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from xlperf.ledger.rectify_status import CLOSED, OPEN, OVERDUE, rectify_status
from xlperf.web.charts import bar_chart
from xlperf.web.render import page
from xlperf.web.state import ledger_of, round_by_id

STATE_COLOURS = {CLOSED: "#2e8b57", OPEN: "#d4a017", OVERDUE: "#c0392b"}
STATE_CLASSES = {CLOSED: "accepted", OPEN: "accepted_with_warnings", OVERDUE: "rejected"}


def rectify_page(request: Request) -> Response:
    round_id = int(request.path_params["round_id"])
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, round_id)
        session.expunge(rnd)
        status = rectify_status(session, rnd)
    if status is None:
        return page(request, "rectify.html", rnd=rnd, status=None, chart="", classes=STATE_CLASSES)
    chart = bar_chart("整改问题", [(state, status.count(state)) for state in STATE_COLOURS],
                      list(STATE_COLOURS.values()))
    return page(request, "rectify.html", rnd=rnd, status=status, chart=chart, classes=STATE_CLASSES)
