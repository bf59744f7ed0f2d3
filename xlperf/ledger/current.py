"""Which return of a unit is current: the one definition that recording, status, the summary
workbook and revalidation read.

**The same return.** A return is identified by its unit and the roster row it answers:

- a unit whose roster lists projects answers one row per listed project, so a return replaces
  the unit's current return of the same projects (a file of several projects is matched to its
  rows project by project by the status and the roll-up); a return with 项目名称 blank answers
  none of its rows and is held (:func:`xlperf.ledger.receive.held_reason`), and one current
  with a blank name (recorded before this rule) is replaced by the unit's next return;
- a unit whose roster lists no projects has one row, so any newer return of it (project blank,
  the same, or changed) replaces its current one.

Where that points at more than one live (not voided) current return (a unit whose roster
listed projects, then a new roster that lists none, ``round roster``), the newcomer is held for
staff (:data:`AMBIGUOUS`): nothing is guessed; staff void the wrong one and run ``round
revalidate --held``. Voided returns are replaced by any newcomer of their row.

**Which is newer.** Never arrival order: the file's own evidence, in this order: when the
workbook says it was saved (``docProps/core.xml``), the Date of the message that brought it, the
modification time of a file taken from a folder. The first of them that both versions have and
that differs decides. A newcomer that is older than the current return, or whose order nothing
decides, is held for staff with the reason (:func:`order_reason`).

**Counted.** :func:`current_returns` is the query of the current returns with their results:
the status shows them, the summary workbook reads them, and :func:`rolled_up` says which of
them enter its totals (never a return that is 退回 or 已作废).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, Unpack

from sqlalchemy import Select, select

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, STATUS_LABELS
from xlperf.ledger.models import ACCEPT, CURRENT, RETURN, VOID, Result, Submission, local
from xlperf.read.roster import normalise_name

__all__ = ["AMBIGUOUS", "MISSING", "RETURNED", "VOIDED", "current_returns", "effective_status",
           "order_reason", "replaced", "rolled_up", "same_return"]

MISSING = "未报送"
RETURNED = STATUS_LABELS[REJECTED]
VOIDED = "已作废"
AMBIGUOUS = "无法判断此文件取代哪一份报表：该单位已有 {n} 份当前有效的报表（{ids}），请财政局核对后处理"


def effective_status(check_status: str | None, decision: str | None) -> str:
    """The status label of a current return: the staff's decision, else the check's."""
    if decision == VOID:
        return VOIDED
    if decision == RETURN:
        return RETURNED
    if decision == ACCEPT and check_status != REJECTED:
        return STATUS_LABELS[ACCEPTED]
    return STATUS_LABELS.get(check_status or REJECTED, RETURNED)


def rolled_up(check_status: str | None, decision: str | None) -> bool:
    """Whether a current return enters the summary's totals: accepted, by the checks or staff."""
    return effective_status(check_status, decision) in (STATUS_LABELS[ACCEPTED], STATUS_LABELS[ACCEPTED_WITH_WARNINGS])


def current_returns(round_id: int) -> Select[Unpack[tuple[Any, ...]]]:
    """The current returns of a round with their latest result, in submission order: (id, unit
    id, project key, received, decision, decision note, check status, total score, grade)."""
    return (select(Submission.id, Submission.unit_id, Submission.project_key, Submission.received_at,
                   Submission.decision, Submission.decision_note, Result.status, Result.total_score, Result.grade)
            .outerjoin(Result, Result.id == Submission.result_id)
            .where(Submission.round_id == round_id, Submission.state == CURRENT)
            .order_by(Submission.id))


def same_return(old_key: str, new_key: str, listed: Sequence[str]) -> bool:
    """Whether a return of projects ``new_key`` replaces one of ``old_key`` of the same unit,
    whose roster lists ``listed`` (normalised) projects."""
    return old_key == new_key or not listed or not old_key or not new_key


def replaced(new: Submission, current: Sequence[Submission], listed_json: str) -> tuple[list[Submission], str]:
    """(the current returns ``new`` replaces, why it is held instead: "" when it is not)."""
    listed = [normalise_name(p) for p in json.loads(listed_json or "[]")]
    # by identity: two files of one batch have no ids yet
    mine = [old for old in current if old is not new and same_return(old.project_key, new.project_key, listed)]
    live = [old for old in mine if old.decision != VOID]
    if len(live) > 1:
        return [], AMBIGUOUS.format(n=len(live), ids="、".join(_named(o) for o in live))
    for old in live:
        reason = order_reason(new, old)
        if reason:
            return [], reason
    return mine, ""


_EVIDENCE = (("saved_at", "保存于"), ("sent_at", "邮件发于"), ("file_mtime", "文件修改于"))


def order_reason(new: Submission, old: Submission) -> str:
    """"" when ``new`` is shown newer than ``old`` by their own evidence; else why not (Chinese)."""
    for attr, verb in _EVIDENCE:
        if attr == "file_mtime" and not (new.source == old.source == "folder"):
            continue  # an upload's or attachment's time is when it arrived, not when it was saved
        mine, theirs = getattr(new, attr), getattr(old, attr)
        if mine is None or theirs is None or mine == theirs:
            continue
        if mine > theirs:
            return ""
        return (f"此文件{verb} {_shown(mine, attr)}，早于已收到的 {_named(old)}"
                f"（{verb} {_shown(theirs, attr)}）：较早的版本不取代较新的，未计入；如确应以此文件为准，请财政局核对后处理")
    return (f"无法判断此文件与已收到的 {_named(old)}哪一份较新（文件的保存时间、邮件日期都无法区分）："
            "未取代，请财政局核对后处理")


def _named(sub: Submission) -> str:
    """#17“name”; a file of the same batch has no number yet."""
    return f"#{sub.id}“{sub.original_name}”" if sub.id is not None else f"“{sub.original_name}”"


def _shown(when: dt.datetime, attr: str) -> str:
    # file_mtime is kept in the computer's own time; the others in UTC
    return f"{when if attr == 'file_mtime' else local(when):%Y-%m-%d %H:%M:%S}"


