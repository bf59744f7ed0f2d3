"""The ledger's tables (SQLAlchemy 2 ORM). The schema itself is made by the Alembic migrations
in ``migrations/versions``; a test compares the two so that they cannot drift.

One round (报送任务) has its roster units, the submissions received (one row per file received,
also repeats and files that are not returns), each submission's check results (a new row per
check: revalidation keeps the old ones), their findings as rows, staff decisions, the replies
mailed, and the append-only event log. Files themselves are in the content-addressed store
(:mod:`xlperf.ledger.store`); ``files`` lists what the store holds.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from xlperf.findings import Finding, stored_finding

__all__ = ["Base", "Decision", "Event", "FindingRow", "MailMessage", "RectifyItem", "Reply", "Result", "Round",
           "StoredFile", "Submission", "Unit"]

# Submission states: what the ledger decided about a file when it arrived (staff decisions are
# separate, see Submission.decision).
CURRENT = "current"
"""The newest return of its unit and project: it counts."""
SUPERSEDED = "superseded"
"""A newer return of the same unit and project arrived; kept in the history."""
REPEAT = "repeat"
"""Same content as an earlier submission of the round: recorded, not checked again."""
HELD = "held"
"""Another form or year, a unit not in the roster, or not a readable return: kept for staff."""
IGNORED = "ignored"
"""Not a spreadsheet (a Word report, a zip): recorded with the reason, never checked."""
STATES = (CURRENT, SUPERSEDED, REPEAT, HELD, IGNORED)
STATE_LABELS = {CURRENT: "当前有效", SUPERSEDED: "已被取代", REPEAT: "重复文件", HELD: "暂存待处理", IGNORED: "未审核"}
SOURCE_LABELS = {"folder": "文件夹", "upload": "网页上传", "mail": "邮件"}
"""A submission's route as people read it (the id stays in the row)."""
"""How a submission's state is shown (history, the desk); "未审核" as ``xlperf check`` lists a file
that is not a return."""

# How a round follows an earlier one (Round.follows_kind).
FOLLOWS_CHAIN, FOLLOWS_RECTIFY = "chain", "rectify"

# Staff decisions.
ACCEPT, RETURN, VOID = "accept", "return", "void"


class Base(DeclarativeBase):
    pass


def _now() -> dt.datetime:
    """Times are stored in UTC without a zone (the same on SQLite and PostgreSQL)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def local(when: dt.datetime) -> dt.datetime:
    """A stored (UTC) time in the computer's own zone, for display."""
    return when.replace(tzinfo=dt.timezone.utc).astimezone().replace(tzinfo=None)


class Round(Base):
    __tablename__ = "rounds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    form: Mapped[str] = mapped_column(String(100))
    form_spec: Mapped[str] = mapped_column(Text, default="", server_default="")
    """The text of the form's spec as the round was made (or its form last changed): every check
    of the round uses it, whatever the forms folder holds later (migration 0005_round_form)."""
    form_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    """SHA-256 of ``form_spec``."""
    year: Mapped[int] = mapped_column(Integer)
    deadline: Mapped[dt.date | None] = mapped_column(Date)
    template_versions: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the accepted template (form spec) versions; empty: any."""
    signatures_required: Mapped[bool] = mapped_column(Boolean, default=False)
    roster_file: Mapped[str] = mapped_column(String(500), default="")
    roster_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Counted up by the database itself (triggers on ``units``, migration 0004_roster_version)
    whenever a unit of the round is added, changed or removed, by any command or statement: what
    is kept of a round in a process is keyed by it (:mod:`xlperf.ledger.roundcache`)."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    results_rules: Mapped[str] = mapped_column(Text, default="", server_default="")
    """JSON of the 结果应用 settings: the consequence and budget factor of each grade
    (:mod:`xlperf.ledger.results`); "" means the defaults (migration 0006_results_rules)."""
    follows_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    """The round this one follows (``rounds.id``), or None (migration 0007_round_chain)."""
    follows_kind: Mapped[str] = mapped_column(String(20), default="", server_default="")
    """How it follows: :data:`FOLLOWS_CHAIN` (``round new --from-round``: templates prefilled from
    the earlier round's accepted returns, returns checked against them) or :data:`FOLLOWS_RECTIFY`
    (``round new --rectify``: the 整改 round of the earlier one); "" when it follows none."""

    units: Mapped[list[Unit]] = relationship(back_populates="round", order_by="Unit.id")


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("round_id", "code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    code: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(300))
    dept: Mapped[str] = mapped_column(String(300), default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(300), default="")
    row: Mapped[int] = mapped_column(Integer, default=0)
    projects: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the unit's projects from the roster (empty: one row per unit in the status)."""
    in_roster: Mapped[bool] = mapped_column(Boolean, default=True)
    """False once a new roster of the round no longer lists it (``round roster``; migration
    0004): its row stays, as its returns name it, but it is no longer expected nor counted."""

    round: Mapped[Round] = relationship(back_populates="units")


class StoredFile(Base):
    __tablename__ = "files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    stored_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Submission(Base):
    """One file received in a round (from a folder, an upload or a mail)."""

    __tablename__ = "submissions"
    __table_args__ = (UniqueConstraint("round_id", "sha256", "original_name", "source", "sender",
                                       name="uq_submission_receipt"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    sha256: Mapped[str] = mapped_column(ForeignKey("files.sha256"), index=True)
    size: Mapped[int] = mapped_column(Integer)
    original_name: Mapped[str] = mapped_column(String(500))
    source: Mapped[str] = mapped_column(String(20))
    """folder / upload / mail"""
    sender: Mapped[str] = mapped_column(String(500), default="")
    """Who sent it: a mail address, a user name; for a folder, the folder."""
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    file_mtime: Mapped[dt.datetime | None] = mapped_column(DateTime)
    saved_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    """When the workbook says it was last saved (docProps/core.xml, UTC); migration 0004."""
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    """The Date of the message that brought it (UTC); None for a folder or an upload."""
    content_digest: Mapped[str] = mapped_column(String(64), default="")
    """SHA-256 of the values read from it: the same values under other bytes are a repeat."""
    state: Mapped[str] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    """Why it is held or ignored (Chinese)."""
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    unit_name: Mapped[str] = mapped_column(String(300), default="")
    """The unit as typed in the return."""
    project_key: Mapped[str] = mapped_column(Text, default="")
    """Normalised project names of the return joined by "|": with the unit, what a newer return replaces."""
    projects: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the project names as typed."""
    form: Mapped[str | None] = mapped_column(String(100))
    year: Mapped[int | None] = mapped_column(Integer)
    repeat_of: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    superseded_by: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    result_id: Mapped[int | None] = mapped_column(Integer)
    """The latest check result (results.id; no foreign key: results point back here)."""
    decision: Mapped[str | None] = mapped_column(String(20))
    """The latest staff decision: accept / return / void (see Decision for all of them)."""
    decision_note: Mapped[str] = mapped_column(Text, default="")


class Result(Base):
    """One check of a submission (the first at intake, more after revalidation)."""

    __tablename__ = "results"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    status: Mapped[str] = mapped_column(String(30))
    """accepted / accepted_with_warnings / rejected (xlperf.findings)."""
    total_score: Mapped[float | None] = mapped_column(Float)
    grade: Mapped[str | None] = mapped_column(String(20))
    errors: Mapped[int] = mapped_column(Integer, default=0)
    warnings: Mapped[int] = mapped_column(Integer, default=0)
    xlperf_version: Mapped[str] = mapped_column(String(30))
    form_version: Mapped[str | None] = mapped_column(String(30))
    checked_json: Mapped[str] = mapped_column(Text)
    """The :class:`xlperf.findings.CheckedReturn` as its JSON (findings apart: rows of their
    own); nothing but that type writes or reads it (migration 0005_checked_return)."""


class FindingRow(Base):
    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    result_id: Mapped[int] = mapped_column(ForeignKey("results.id"), index=True)
    code: Mapped[str] = mapped_column(String(60))
    severity: Mapped[str] = mapped_column(String(10))
    sheet: Mapped[str] = mapped_column(String(200), default="")
    cell: Mapped[str] = mapped_column(String(30), default="")
    field: Mapped[str] = mapped_column(String(200), default="")
    label: Mapped[str] = mapped_column(Text, default="")
    message: Mapped[str] = mapped_column(Text)
    expected: Mapped[str | None] = mapped_column(Text)
    found: Mapped[str | None] = mapped_column(Text)

    def finding(self) -> Finding:
        return stored_finding(self.code, self.severity, self.message, self.sheet, self.cell, self.field,
                              self.label, self.expected, self.found)


class Decision(Base):
    __tablename__ = "decisions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(Text, default="")
    actor: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)


class Reply(Base):
    """A message sent (or that failed) to a unit about its current submissions."""

    __tablename__ = "replies"
    # The claim: one row per round and message key (send_key: kind, exactly the recipients, what
    # it says), so that two runs at once cannot both send it (migration 0004_sendclaims).
    __table_args__ = (Index("ix_replies_claim", "round_id", "claim", unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(300))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    """SHA-256 of what the message reported (submissions, results, decisions): same digest, same news."""
    submissions: Mapped[str] = mapped_column(Text, default="[]")
    outcome: Mapped[str] = mapped_column(String(20))
    """sent / failed"""
    subject: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(String(300), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    kind: Mapped[str] = mapped_column(String(20), default="")
    """"" for ``round mail``; report / repeat (answers to a mail) or reminder (migration 0002)."""
    mail_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """The mail_messages row answered (no foreign key: SQLite cannot add one to a table)."""
    tries: Mapped[int] = mapped_column(Integer, default=0)
    claim: Mapped[str | None] = mapped_column(String(64))
    """The send key this row claims (unique in its round); None for replies to mail (their row,
    recorded due by the intake, is the claim)."""


# Reply outcomes besides sent / failed: replies to mail are recorded as due in the transaction
# that records the message; a run claims a reply (claimed), marks it sending when the SMTP
# transaction starts (after the rate-limit wait), then sent / failed / uncertain.
REPLY_DUE, REPLY_SENDING, REPLY_SENT, REPLY_FAILED = "due", "sending", "sent", "failed"
REPLY_CLAIMED = "claimed"
REPLY_UNCERTAIN = "uncertain"
"""Handed over and not confirmed (connection lost, answer after the timeout), or found still
sending after a crash: the server may have accepted it, so it is never sent again automatically
(a reply twice is worse than a clerk's look); shown for staff to confirm or resend."""
REPLY_CONFIRMED = "confirmed"
"""Uncertain, then confirmed by staff as received."""

# Mail message states.
MAIL_TAKEN = "taken"
"""Its attachments were taken in (submissions recorded)."""
MAIL_HELD = "held"
"""Kept for staff: no attachment, a sender not in the roster, an automatic message, too large."""


class MailMessage(Base):
    """A message taken from the mailbox (``round watch``), known in its round by Message-ID and
    content digest, so that a restart never takes it in twice while another message that reuses
    a Message-ID is still taken. Its attachments are in the file store; those taken
    in are submissions (``submissions``), a held message's are only stored (``files``)."""

    __tablename__ = "mail_messages"
    __table_args__ = (UniqueConstraint("round_id", "message_id", "digest", name="uq_mail_message_digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    message_id: Mapped[str] = mapped_column(String(300))
    digest: Mapped[str] = mapped_column(String(64), index=True)
    """SHA-256 of the message's bytes."""
    sender: Mapped[str] = mapped_column(String(300), default="")
    sender_name: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    thread: Mapped[str] = mapped_column(Text, default="")
    """The References a reply carries (its own References, then its Message-ID)."""
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    """Its Date header, as UTC."""
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    state: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    """Why it is held, and what could not be read (Chinese)."""
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"), index=True)
    """The sender's unit when its address is in the roster (the first, when several list it)."""
    submissions: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of the submission ids its attachments became."""
    files: Mapped[str] = mapped_column(Text, default="[]")
    """JSON list of {name, sha256, size, note} of every attachment and zip member, as stored."""


class RectifyItem(Base):
    """One problem a 整改 round follows (migration 0008_rectify): fixed when the round is made,
    row ``n`` of the unit's and project's 整改 form."""

    __tablename__ = "rectify_items"
    __table_args__ = (UniqueConstraint("round_id", "unit_id", "project", "n", name="uq_rectify_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("units.id"))
    project: Mapped[str] = mapped_column(Text, default="")
    """The project as the roster of the 整改 round lists it ("" for a unit without projects)."""
    n: Mapped[int] = mapped_column(Integer)
    problem: Mapped[str] = mapped_column(Text)
    """What the unit reads in the form's locked cell (Chinese)."""
    source_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    """The earlier round's return it was found in (its grade and score go in the form's header)."""


class Event(Base):
    """Append-only: the database refuses UPDATE and DELETE on this table (a trigger)."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    """created, received, repeat, held, ignored, checked, superseded, accepted, returned, voided,
    revalidated, mailed, mail_failed, mail_uncertain, mail_confirmed, mail_resend, roster_changed,
    results_rules_changed;
    from the mailbox: mail_taken, mail_held, reminded"""
    actor: Mapped[str] = mapped_column(String(200), default="")
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    note: Mapped[str] = mapped_column(Text, default="")
