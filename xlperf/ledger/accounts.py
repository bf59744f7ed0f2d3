"""Accounts of the web desk's server mode (the ``users`` table), the desk's sessions
(``desk_sessions``) and the account audit log (``audit_log``).

Only storage: what a password hash is and how it is checked belongs to the desk
(:mod:`xlperf.web.users`). The events table names people by ``Account.name``.

Sessions live here, server-side, rather than only in the signed cookie: a cookie cannot be taken
back, a row can. Signing out deletes the row, removing or disabling an account or changing its
password deletes the account's rows, and every request looks its row up, so any of these ends
the session at once, in every worker process. The cookie holds a random token; the table holds
only its SHA-256, so whoever reads the database cannot act as a signed-in user.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from xlperf.ledger.models import Base

__all__ = ["Account", "AuditEntry", "DeskSession", "audit", "end_session", "end_sessions_of", "find_session",
           "start_session"]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Account(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    """staff (acts) / auditor (reads)"""
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    """A disabled account cannot sign in and has no session (migration 0004)."""


class DeskSession(Base):
    """A signed-in browser. Local mode's sessions have no account (``user_id`` None)."""

    __tablename__ = "desk_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    """Who, as the pages and the event log name them (an account's name; 本机:… in local mode)."""
    role: Mapped[str] = mapped_column(String(20))
    """The role of a local-mode session (an account's session takes the account's role, read anew)."""
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class AuditEntry(Base):
    """Sign-ins, failed sign-ins, sign-outs and account changes. Append-only, like ``events``."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=_now, index=True)
    kind: Mapped[str] = mapped_column(String(30))
    """sign_in, sign_in_failed, sign_in_locked, sign_out, user_added, user_removed, password_changed,
    user_disabled, user_enabled (labels: xlperf.web.audit)"""
    account: Mapped[str] = mapped_column(String(200), default="")
    """The account concerned (as typed, for a failed sign-in)."""
    actor: Mapped[str] = mapped_column(String(200), default="")
    """Who did it: the account itself, or the command line's operating-system user."""
    address: Mapped[str] = mapped_column(String(100), default="")
    """The browser's address, for what came through the desk."""
    note: Mapped[str] = mapped_column(Text, default="")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, token: str, name: str, role: str, user_id: int | None,
                  lifetime: dt.timedelta) -> None:
    """Record a new session (expired rows go at the same time: the table stays small)."""
    now = _now()
    session.execute(delete(DeskSession).where(DeskSession.expires_at <= now))
    session.add(DeskSession(token_sha256=_digest(token), name=name, role=role, user_id=user_id,
                            created_at=now, expires_at=now + lifetime))


def find_session(session: Session, token: str) -> tuple[DeskSession, Account | None] | None:
    """The live session of ``token`` and its account; None when it ended, expired, or its account
    is gone or disabled."""
    row = session.execute(select(DeskSession, Account).outerjoin(Account, Account.id == DeskSession.user_id)
                          .where(DeskSession.token_sha256 == _digest(token),
                                 DeskSession.expires_at > _now())).first()
    if row is None:
        return None
    desk_session, account = row
    if desk_session.user_id is not None and (account is None or account.disabled):
        return None
    return desk_session, account


def end_session(session: Session, token: str) -> None:
    session.execute(delete(DeskSession).where(DeskSession.token_sha256 == _digest(token)))


def end_sessions_of(session: Session, user_id: int, keep_token: str | None = None) -> int:
    """End every session of an account (but ``keep_token``'s); how many ended."""
    query = delete(DeskSession).where(DeskSession.user_id == user_id)
    if keep_token:
        query = query.where(DeskSession.token_sha256 != _digest(keep_token))
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]


def audit(session: Session, kind: str, account: str, *, actor: str = "", address: str = "", note: str = "") -> None:
    session.add(AuditEntry(kind=kind, account=account, actor=actor, address=address, note=note))
