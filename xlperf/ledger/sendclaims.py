"""The send loop's recorder for the ledger (:class:`xlperf.mail.outgo.Recorder`): ``round mail``,
``round remind`` and the watcher's replies claim their rows of ``replies`` before they send.

A claim is a row taken in one short transaction before anything is built or sent:

- a new message (``round mail``, reminders) inserts its row with ``claim`` = the send key; the
  unique index on (round_id, claim) lets only one of two runs at once insert it (the other gets
  an IntegrityError, on SQLite and PostgreSQL alike, and skips the message);
- a row that exists is taken by a conditional UPDATE from a state that may be sent (failed; due;
  a claim older than :data:`CLAIM_LEASE` whose run died before its SMTP transaction; with
  ``resend``, also sent, confirmed and uncertain), which succeeds for one run only;
- a reply to mail already has its row (recorded due by the intake): the same conditional UPDATE.

Then ``sending`` when the SMTP transaction begins (after the rate-limit wait), and ``sent``,
``failed`` or ``uncertain`` after it. A row still ``sending`` past the lease belonged to a run
that died mid-transaction: it becomes uncertain, never sent again automatically.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from xlperf.ledger.db import Ledger
from xlperf.ledger.models import (
    REPLY_CLAIMED,
    REPLY_CONFIRMED,
    REPLY_DUE,
    REPLY_FAILED,
    REPLY_SENDING,
    REPLY_SENT,
    REPLY_UNCERTAIN,
    Reply,
)
from xlperf.ledger.rounds import log_event
from xlperf.mail.outgo import ALREADY_SENT, BUSY, UNCERTAIN, Outgoing
from xlperf.mail.send import UNCERTAIN_NOTE, SendResult

__all__ = ["CLAIM_LEASE", "CONFIRM", "RESEND_ONE", "ClaimFacts", "LedgerRecorder", "settle_uncertain", "utc_now"]

CLAIM_LEASE = dt.timedelta(minutes=15)
"""A claim not yet sending after this long belonged to a run that died before its SMTP
transaction (building a message and the rate-limit wait take seconds)."""
RETAKE = (REPLY_FAILED, REPLY_DUE)
RESEND = (REPLY_SENT, REPLY_CONFIRMED, REPLY_UNCERTAIN)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@dataclass(frozen=True)
class ClaimFacts:
    """What the ledger records of one message besides the send key."""

    unit_id: int | None
    submissions: Sequence[int] = ()
    reply_id: int | None = None
    """The row to claim when it exists already (a reply to mail); None: insert one."""
    max_tries: int | None = None
    legacy_digest: str = ""
    """What a ``round mail`` of xlperf before claims recorded as the digest of the same news (rows
    without a claim): already sent there means already sent here, so upgrading mails nobody again."""


@dataclass
class LedgerRecorder:
    ledger: Ledger
    round_id: int
    kind: str
    facts: dict[str, ClaimFacts]
    """By send key."""
    actor: str = ""
    resend: bool = False
    now: Callable[[], dt.datetime] = utc_now
    """Naive UTC."""
    sent_event: str = "mailed"
    _rows: dict[str, int] = field(default_factory=dict)
    _before: dict[str, str] = field(default_factory=dict)
    _started: set[str] = field(default_factory=set)

    def peek(self, out: Outgoing) -> str | None:
        """What :meth:`claim` would answer, without taking anything (a dry run's preview)."""
        with self.ledger.session() as session:
            row = self._row(session, out.key, lock=False)
            if row is None:
                return self._legacy(session, out.key)
            return self._refusal(row)

    def claim(self, out: Outgoing) -> str | None:
        facts = self.facts[out.key]
        with self.ledger.session() as session:
            row = self._row(session, out.key, lock=True)
            if row is None:
                if facts.reply_id is not None:
                    return ALREADY_SENT  # gone meanwhile
                legacy = self._legacy(session, out.key)
                if legacy is not None:
                    return legacy
                row = Reply(round_id=self.round_id, unit_id=facts.unit_id, recipient=", ".join(out.recipients),
                            digest=out.key, claim=out.key, kind=self.kind, submissions=json.dumps(list(facts.submissions)),
                            outcome=REPLY_CLAIMED, at=self.now(), tries=0)
                session.add(row)
                try:
                    session.commit()
                except IntegrityError:  # another run inserted it first
                    session.rollback()
                    theirs = self._row(session, out.key, lock=False)
                    return (self._refusal(theirs) if theirs is not None else None) or BUSY
                self._rows[out.key], self._before[out.key] = row.id, REPLY_FAILED
                return None
            refusal = self._refusal(row)
            if refusal is not None:
                if row.outcome == REPLY_SENDING and refusal == UNCERTAIN:
                    self._uncertain(session, row, "发送时程序中断。" + UNCERTAIN_NOTE)
                    session.commit()
                return refusal
            before = row.outcome
            taken = session.execute(update(Reply).where(Reply.id == row.id, Reply.outcome == before)
                                    .values(outcome=REPLY_CLAIMED, at=self.now(), error=""))
            if not getattr(taken, "rowcount", 0):
                session.rollback()
                return BUSY
            self._rows[out.key], self._before[out.key] = row.id, before
            session.commit()
            return None

    def started(self, out: Outgoing, message: EmailMessage) -> None:
        first = out.key not in self._started
        self._started.add(out.key)
        with self.ledger.session() as session, session.begin():
            row = session.get(Reply, self._rows[out.key])
            assert row is not None
            row.outcome, row.at = REPLY_SENDING, self.now()
            row.subject, row.message_id = str(message["Subject"]), str(message["Message-ID"])
            row.recipient = ", ".join(out.recipients)
            if first:
                row.tries += 1

    def finished(self, out: Outgoing, message: EmailMessage | None, result: SendResult) -> None:
        with self.ledger.session() as session, session.begin():
            row = session.get(Reply, self._rows[out.key])
            assert row is not None
            if message is None:  # could not be built: a try of this message
                row.tries += 1
            row.at, row.error = self.now(), result.error
            if result.uncertain:
                self._uncertain(session, row, result.error)
                return
            row.outcome = REPLY_SENT if result.ok else REPLY_FAILED
            for sid in json.loads(row.submissions or "[]") or [None]:
                log_event(session, self.round_id, self.sent_event if result.ok else "mail_failed", submission_id=sid,
                          actor=self.actor, note=f"{row.recipient} {row.subject if result.ok else result.error}".strip())

    def released(self, out: Outgoing, error: str) -> None:
        """Nothing handed over (the server cannot be used): back as it was, no try used."""
        with self.ledger.session() as session, session.begin():
            row = session.get(Reply, self._rows[out.key])
            assert row is not None
            row.outcome, row.error = self._before[out.key], error
            if out.key in self._started:
                row.tries = max(0, row.tries - 1)

    def _row(self, session: Session, key: str, *, lock: bool) -> Reply | None:
        facts = self.facts[key]
        query = (select(Reply).where(Reply.id == facts.reply_id) if facts.reply_id is not None else
                 select(Reply).where(Reply.round_id == self.round_id, Reply.claim == key))
        if lock:
            # SQLite: BEGIN IMMEDIATE holds the write lock from here; PostgreSQL: the row lock.
            query = query.with_for_update()
        return session.scalar(query)

    def _legacy(self, session: Session, key: str) -> str | None:
        digest = self.facts[key].legacy_digest
        if not digest or self.resend:
            return None
        sent = session.scalar(select(Reply.id).where(Reply.round_id == self.round_id, Reply.claim.is_(None),
                                                     Reply.digest == digest, Reply.outcome == REPLY_SENT).limit(1))
        return ALREADY_SENT if sent is not None else None

    def _refusal(self, row: Reply) -> str | None:
        """None when ``row`` may be (re)sent by this run, else why not."""
        facts = self.facts.get(row.claim or "") or next((f for f in self.facts.values() if f.reply_id == row.id), None)
        stale = row.at is not None and row.at < self.now() - CLAIM_LEASE
        if row.outcome in RETAKE:
            if facts is not None and facts.max_tries is not None and row.tries >= facts.max_tries:
                return ALREADY_SENT
            return None
        if row.outcome == REPLY_CLAIMED:
            return None if stale else BUSY
        if row.outcome == REPLY_SENDING:
            return UNCERTAIN if stale else BUSY
        if self.resend and row.outcome in RESEND:
            return None
        return UNCERTAIN if row.outcome == REPLY_UNCERTAIN else ALREADY_SENT

    def _uncertain(self, session: Session, row: Reply, error: str) -> None:
        row.outcome, row.error = REPLY_UNCERTAIN, error
        for sid in json.loads(row.submissions or "[]") or [None]:
            log_event(session, self.round_id, "mail_uncertain", submission_id=sid,
                      actor=self.actor, note=f"{row.recipient} {row.subject}".strip())


CONFIRM, RESEND_ONE = "confirm", "resend"


def settle_uncertain(session: Session, round_id: int, reply_id: int, what: str, actor: str) -> Reply:
    """Staff's answer to an uncertain send: ``confirm`` (the unit has it: 已送达) or ``resend``
    (due again: the next send, or the watcher's next pass, sends it). Raises LookupError when
    the reply is not an uncertain one of this round."""
    row = session.scalar(select(Reply).where(Reply.id == reply_id, Reply.round_id == round_id).with_for_update())
    if row is None or row.outcome != REPLY_UNCERTAIN:
        raise LookupError("这封邮件不是待确认状态（可能已被他人处理）。")
    if what == CONFIRM:
        row.outcome, row.error = REPLY_CONFIRMED, ""
        kind, note = "mail_confirmed", f"{row.recipient} {row.subject}（工作人员确认已送达）"
    elif what == RESEND_ONE:
        row.outcome, row.error = REPLY_DUE, "工作人员要求重新发送"
        kind, note = "mail_resend", f"{row.recipient} {row.subject}（工作人员要求重新发送）"
    else:
        raise ValueError(what)
    row.at = utc_now()
    for sid in json.loads(row.submissions or "[]") or [None]:
        log_event(session, round_id, kind, submission_id=sid, actor=actor, note=note.strip())
    return row
