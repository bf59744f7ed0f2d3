"""What a request handler needs of the running desk: the ledger, a round by its id, a file name."""

from __future__ import annotations

import re
from pathlib import Path, PurePath
from urllib.parse import quote

from sqlalchemy.orm import Session
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection

from xlperf.ledger import Ledger
from xlperf.ledger.models import Round, Submission
from xlperf.ledger.storage_errors import database_place, storage_problem

_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*]')


def ledger_of(conn: HTTPConnection) -> Ledger:
    ledger: Ledger = conn.app.state.ledger
    return ledger


def storage_trouble(ledger: Ledger, exc: BaseException) -> str | None:
    """What a full or read-only store stopped, and where (Chinese), when that is what ``exc`` is."""
    problem = storage_problem(exc, {Path(ledger.store.root).resolve(): "原文件存档"}, database_place(ledger.url))
    return problem.message() if problem is not None else None


def round_by_id(session: Session, round_id: int) -> Round:
    rnd = session.get(Round, round_id)
    if rnd is None:
        raise HTTPException(404, f"没有编号为 {round_id} 的报送任务。")
    return rnd


def submission_of(session: Session, rnd: Round, submission_id: int) -> Submission:
    sub = session.get(Submission, submission_id)
    if sub is None or sub.round_id != rnd.id:
        raise HTTPException(404, f"报送任务“{rnd.name}”中没有编号为 {submission_id} 的报送。")
    return sub


def base_name(name: str | None, fallback: str = "file") -> str:
    """The last part of an uploaded file's name (browsers may send a path), with no character
    that a file system or a header would take for a separator."""
    text = PurePath((name or "").replace("\\", "/")).name
    text = _UNSAFE.sub("_", text).strip(" .")
    return text or fallback


def attachment(name: str) -> dict[str, str]:
    """Content-Disposition for a download named ``name`` (RFC 6266: ASCII fallback + UTF-8)."""
    safe = base_name(name)
    ascii_name = safe.encode("ascii", "replace").decode().replace("?", "_")
    return {"content-disposition": f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(safe)}"}
