"""Accounts of the web desk's server mode (the ``users`` table): name, role, password hash.

Only storage: what a password hash is and how it is checked belongs to the desk
(:mod:`xlperf.web.users`). The events table names people by ``Account.name``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xlperf.ledger.models import Base

__all__ = ["Account"]


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
