"""The round dashboard: counts by status, progress, grade and score charts, the roster table
(filter, search, sort, pages) and the latest events. Everything shown comes from
:func:`xlperf.ledger.round_status`; nothing here decides a status."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from xlperf.ledger import round_status
from xlperf.ledger.models import HELD, IGNORED, Event, Round, Submission
from xlperf.ledger.rectify_status import rectify_status
from xlperf.ledger.roundcache import round_version
from xlperf.ledger.roundform import form_label
from xlperf.ledger.status import MISSING, STATUS_ORDER, RoundStatus, StatusRow
from xlperf.rollup.tables import GRADE_ORDER, SCORE_BUCKETS
from xlperf.web.charts import bar_chart, stacked_bar
from xlperf.web.paths import root
from xlperf.web.render import page
from xlperf.web.state import ledger_of, round_by_id

PAGE_SIZE = 50
STATUS_CACHE_ROUNDS = 8
HELD_SHOWN = 100
OVERDUE = "overdue"
# One colour per status, in STATUS_ORDER: 未报送, 退回, 通过（有提示）, 通过, 已作废.
STATUS_COLOURS = ("#9aa5b1", "#c0392b", "#d4a017", "#2e8b57", "#52606d")
STATUS_CLASSES = dict(zip(STATUS_ORDER, ("missing", "rejected", "accepted_with_warnings", "accepted", "voided"),
                          strict=True))
EVENT_LABELS = {"created": "新建任务", "received": "收到", "repeat": "重复文件", "held": "暂存待处理",
                "ignored": "非报表", "checked": "审核", "superseded": "被取代", "accepted": "通过",
                "returned": "退回", "voided": "作废", "revalidated": "重新审核", "mailed": "已发邮件", "reminded": "已催报",
                "mail_taken": "收到邮件", "mail_held": "邮件暂存",
                "mail_failed": "邮件发送失败", "mail_uncertain": "邮件待确认",
                "mail_confirmed": "邮件已确认送达", "mail_resend": "邮件重新发送", "roster_changed": "更换名单",
                "results_rules_changed": "修改结果应用设置"}
_NO_VALUE = float("-inf")

SORTS: dict[str, Callable[[StatusRow], Any]] = {
    "code": lambda r: r.code,
    "unit": lambda r: r.unit,
    "project": lambda r: r.project,
    "status": lambda r: STATUS_ORDER.index(r.status) if r.status in STATUS_ORDER else len(STATUS_ORDER),
    "total": lambda r: _NO_VALUE if r.total_score is None else r.total_score,
    "grade": lambda r: GRADE_ORDER.index(r.grade) if r.grade in GRADE_ORDER else len(GRADE_ORDER),
    "received": lambda r: r.received_at.isoformat() if r.received_at else "",
    "versions": lambda r: r.versions,
}


def _query(request: Request) -> dict[str, str]:
    q = request.query_params
    sort = q.get("sort", "")
    return {"q": q.get("q", "").strip(), "status": q.get("status", ""),
            "sort": sort if sort in SORTS else "", "dir": "desc" if q.get("dir") == "desc" else "asc",
            "page": q.get("page", "1")}


def _filtered(rows: list[StatusRow], query: dict[str, str]) -> list[StatusRow]:
    status = query["status"]
    if status == OVERDUE:
        rows = [r for r in rows if r.overdue]
    elif status in STATUS_ORDER:
        rows = [r for r in rows if r.status == status]
    text = query["q"].casefold()
    if text:
        rows = [r for r in rows if text in f"{r.code}\t{r.unit}\t{r.dept}\t{r.project}".casefold()]
    if query["sort"]:
        rows = sorted(rows, key=SORTS[query["sort"]], reverse=query["dir"] == "desc")
    return rows


def _link(base: str, round_id: int, query: dict[str, str], change: dict[str, str], fragment: bool = False) -> str:
    params = {k: v for k, v in {**query, **change}.items() if v and not (k == "page" and v == "1")}
    path = f"{base}/rounds/{round_id}/rows" if fragment else f"{base}/rounds/{round_id}"
    return path + (f"?{urlencode(params)}" if params else "")


def _table(base: str, round_id: int, rows: list[StatusRow], query: dict[str, str]) -> dict[str, Any]:
    """The roster table's page of rows and its links (``base``: the desk's root path)."""
    shown = _filtered(rows, query)
    pages = max(1, -(-len(shown) // PAGE_SIZE))
    number = min(max(int(query["page"]) if query["page"].isdigit() else 1, 1), pages)
    start = (number - 1) * PAGE_SIZE

    def link(**change: str) -> dict[str, str]:
        return {"href": _link(base, round_id, query, change), "hx": _link(base, round_id, query, change, fragment=True)}

    sorts = {key: link(sort=key, dir="desc" if query["sort"] == key and query["dir"] == "asc" else "asc", page="1")
             for key in SORTS}
    return {"rows": shown[start:start + PAGE_SIZE], "matched": len(shown), "page": number, "pages": pages,
            "prev": link(page=str(number - 1)) if number > 1 else None,
            "next": link(page=str(number + 1)) if number < pages else None,
            "sorts": sorts, "query": query, "classes": STATUS_CLASSES, "missing": MISSING, "round_id": round_id}


def _charts(rows: list[StatusRow], counts: dict[str, int]) -> dict[str, Any]:
    passed = [r for r in rows if r.status in STATUS_ORDER[2:4]]
    grades = Counter(r.grade for r in passed if r.grade)
    grade_items = [(g, grades.get(g, 0)) for g in GRADE_ORDER] + sorted(
        (g, n) for g, n in grades.items() if g not in GRADE_ORDER)
    buckets = Counter(next(label for low, label in SCORE_BUCKETS if r.total_score >= low)
                      for r in passed if r.total_score is not None)
    score_items = [(label, buckets.get(label, 0)) for _, label in SCORE_BUCKETS]
    return {
        "progress": stacked_bar([(s, counts[s], c) for s, c in zip(STATUS_ORDER, STATUS_COLOURS, strict=True)]),
        "status": bar_chart("各状态行数", [(s, counts[s]) for s in STATUS_ORDER], STATUS_COLOURS),
        "grades": bar_chart("等次分布（已通过）", grade_items),
        "scores": bar_chart("得分分布（已通过）", score_items),
    }


def _status(request: Request, session: Session, rnd: Round) -> RoundStatus:
    """The round's status, computed again only when the round changed (every change to its
    returns appends an event; its roster and form are told by :func:`round_version`) or the day
    did (what is overdue): filtering, sorting and paging a 10,000-unit round
    then only re-draws the table. Kept per running desk, for the rounds last looked at."""
    cache: dict[int, tuple[tuple[Any, ...], RoundStatus]] = request.app.state.status_cache
    today = dt.date.today()
    # A roster or form changed without an event (any later command) is a change too.
    key = (session.scalar(select(func.max(Event.id)).where(Event.round_id == rnd.id)), today,
           round_version(session, rnd.id))
    hit = cache.get(rnd.id)
    if hit is not None and hit[0] == key:
        return hit[1]
    status = round_status(session, rnd, today)
    if len(cache) >= STATUS_CACHE_ROUNDS:
        cache.pop(next(iter(cache)))
    cache[rnd.id] = (key, status)
    return status


def dashboard(request: Request) -> Response:
    round_id = int(request.path_params["round_id"])
    query = _query(request)
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, round_id)
        status = _status(request, session, rnd)
        events = session.scalars(select(Event).where(Event.round_id == rnd.id)
                                 .order_by(Event.id.desc()).limit(15)).all()
        held = session.scalars(select(Submission).where(Submission.round_id == rnd.id,
                                                        Submission.state.in_((HELD, IGNORED)))
                               .order_by(Submission.id.desc()).limit(HELD_SHOWN)).all()
        rectify = rectify_status(session, rnd)  # a 整改 round: its items' summary (the 整改情况 tab lists them)
    counts = status.counts()
    total = len(status.rows)
    done = counts[STATUS_ORDER[2]] + counts[STATUS_ORDER[3]]
    return page(request, "dashboard.html", rnd=rnd, form_title=form_label(rnd),
                counts=counts, order=STATUS_ORDER, classes=STATUS_CLASSES, total=total, done=done,
                percent=f"{done / total:.0%}" if total else "—", progress=status.progress(),
                overdue=sum(r.overdue for r in status.rows), held=status.held, ignored=status.ignored,
                repeats=status.repeats, charts=_charts(status.rows, counts), t=_table(root(request), rnd.id, status.rows, query),
                events=events, event_labels=EVENT_LABELS, overdue_key=OVERDUE, held_files=held,
                held_shown=HELD_SHOWN, rectify=rectify)


def roster_rows(request: Request) -> Response:
    """The roster table alone (htmx swaps it in when a filter, sort or page changes)."""
    round_id = int(request.path_params["round_id"])
    with ledger_of(request).session() as session:
        rnd = round_by_id(session, round_id)
        status = _status(request, session, rnd)
    return page(request, "_roster_table.html", t=_table(root(request), rnd.id, status.rows, _query(request)))
