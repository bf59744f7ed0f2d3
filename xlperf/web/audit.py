"""The account log page (账户日志): sign-ins, failed sign-ins, sign-outs, account changes.

Shown to everyone signed in to the desk (staff and auditors: reading it is an auditor's work);
nobody can change it, here or in the database (the table is append-only).
"""

from __future__ import annotations

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from xlperf.ledger import AuditEntry, Ledger
from xlperf.web.render import page

AUDIT_KINDS = {
    "sign_in": "登录",
    "sign_in_failed": "登录失败",
    "sign_out": "退出",
    "user_added": "添加账户",
    "user_removed": "删除账户",
    "password_changed": "修改密码",
    "user_disabled": "停用账户",
    "user_enabled": "启用账户",
}
SHOWN = 500
"""Newest entries on the page."""


def audit_lines(ledger: Ledger, limit: int = SHOWN) -> list[dict[str, object]]:
    with ledger.session() as session:
        entries = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).all()
    return [{"at": e.at, "kind": AUDIT_KINDS.get(e.kind, "其他"), "account": e.account, "actor": e.actor,
             "address": e.address, "note": e.note} for e in entries]


async def audit_page(request: Request) -> Response:
    lines = await run_in_threadpool(audit_lines, request.app.state.ledger)
    return page(request, "audit.html", lines=lines, shown=SHOWN)
