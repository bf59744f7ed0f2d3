"""Staff decisions on a submission: accept despite warnings, return (退回) with a reason, void (作废).

Each is a :class:`Decision` row and an event; the submission carries the latest one (what its
status shows). A decision is taken on the return that currently counts for its unit: deciding
on a superseded, repeated or held file would change nothing anyone sees, so it is refused with
the reason. Accepting a return the checks rejected (errors) is refused too: return it, or void
it, and let the unit send a corrected one.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from xlperf.findings import REJECTED, Finding
from xlperf.findings.catalogue import finding
from xlperf.ledger.db import LedgerError, lock_round
from xlperf.ledger.models import ACCEPT, CURRENT, RETURN, VOID, Decision, Result, Round, Submission
from xlperf.ledger.rounds import log_event

__all__ = ["ACTIONS", "STAFF_RETURNED", "STAFF_VOIDED", "decide", "staff_finding", "staff_note"]

STAFF_RETURNED = "STAFF_RETURNED"
"""A finding added (in mail and roll-up, not in the stored result) to a return staff sent back."""
STAFF_VOIDED = "STAFF_VOIDED"

ACTIONS = {ACCEPT: "accepted", RETURN: "returned", VOID: "voided"}
ACTION_LABELS = {ACCEPT: "通过", RETURN: "退回", VOID: "作废"}
STATE_LABELS = {"superseded": "已被更新的报表取代", "repeat": "是重复文件", "held": "暂存待处理（不属于本任务名单或表单）",
                "ignored": "不是报表"}


def decide(session: Session, rnd: Round, submission_id: int, action: str, note: str, actor: str = "") -> Submission:
    """Record ``action`` on submission ``submission_id`` of ``rnd``; the caller commits."""
    if action not in ACTIONS:
        raise ValueError(action)
    lock_round(session, rnd.id)
    sub = session.get(Submission, submission_id)
    if sub is None or sub.round_id != rnd.id:
        raise LedgerError(f"报送任务“{rnd.name}”中没有编号为 {submission_id} 的报送（编号见 xlperf round status / history）")
    if sub.state != CURRENT:
        raise LedgerError(f"#{sub.id}（{sub.original_name}）{STATE_LABELS.get(sub.state, sub.state)}，不能{ACTION_LABELS[action]}")
    if action == RETURN and not note.strip():
        raise LedgerError("退回须写明原因（--note），原因会写进发给单位的邮件")
    result = session.get(Result, sub.result_id) if sub.result_id else None
    if action == ACCEPT and result is not None and result.status == REJECTED:
        raise LedgerError(f"#{sub.id} 有 {result.errors} 处错误，不能通过：请退回或作废，让单位改正后重新报送")
    session.add(Decision(submission_id=sub.id, action=action, note=note, actor=actor))
    sub.decision, sub.decision_note = action, note
    log_event(session, rnd.id, ACTIONS[action], submission_id=sub.id, actor=actor, note=note)
    return sub


def staff_finding(decision: str | None, note: str) -> Finding | None:
    """What a unit (and the roll-up) is told of a return staff sent back or voided."""
    if decision == RETURN:
        return finding(STAFF_RETURNED, f"财政局退回：{note}")
    if decision == VOID:
        return finding(STAFF_VOIDED, f"财政局已将此报表作废：{note or '请重新报送'}")
    return None


def staff_note(decision: str | None, note: str) -> str | None:
    """The note on a return staff accepted despite its warnings."""
    if decision == ACCEPT:
        return f"财政局已审核通过{('：' + note) if note else ''}"
    return None
