"""The ledger of collection rounds (报送任务): every file received, its checks, staff decisions,
replies and an append-only event log, in SQLite (default) or PostgreSQL via SQLAlchemy, with
Alembic migrations shipped here and run when a ledger is opened.

Modules: :mod:`~xlperf.ledger.db` (open, URL, SQLite settings, migrations, locks),
:mod:`~xlperf.ledger.models` (tables), :mod:`~xlperf.ledger.store` (content-addressed files),
:mod:`~xlperf.ledger.stored_results` (a stored result as its checked return), :mod:`~xlperf.ledger.rounds` (rounds,
units, events), :mod:`~xlperf.ledger.round_checks` (a round's context and rules for checking its files),
:mod:`~xlperf.ledger.receive` (recording what arrived), :mod:`~xlperf.ledger.receipts` (what a
round has by digest or name), :mod:`~xlperf.ledger.current` (which return of a unit is current:
the one definition status, summary and revalidation read), :mod:`~xlperf.ledger.status`,
:mod:`~xlperf.ledger.history`, :mod:`~xlperf.ledger.decisions`, :mod:`~xlperf.ledger.revalidate`,
:mod:`~xlperf.ledger.summary` (roll-up from the ledger), :mod:`~xlperf.ledger.mail`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from xlperf.ledger.accounts import Account, AuditEntry, DeskSession
from xlperf.ledger.db import DB_ENV, STORE_ENV, Ledger, LedgerError, database_url, open_ledger
from xlperf.ledger.decisions import decide
from xlperf.ledger.models import ACCEPT, RETURN, VOID
from xlperf.ledger.receive import Incoming, Outcome, receive, round_view
from xlperf.ledger.revalidate import revalidate
from xlperf.ledger.rounds import create_round, find_round, list_rounds
from xlperf.ledger.status import round_status
from xlperf.ledger.store import FileStore, sha256_of

if TYPE_CHECKING:
    from xlperf.ledger.history import find_unit, unit_history
    from xlperf.ledger.summary import round_records, round_rollup

__all__ = [
    "ACCEPT", "Account", "AuditEntry", "DB_ENV", "DeskSession", "RETURN", "STORE_ENV", "VOID", "FileStore", "Incoming", "Ledger", "LedgerError",
    "Outcome", "create_round", "database_url", "decide", "find_round", "find_unit", "list_rounds",
    "open_ledger", "receive", "revalidate", "round_records", "round_rollup", "round_status",
    "round_view", "sha256_of", "unit_history",
]

_LAZY = {"find_unit": "history", "unit_history": "history", "round_records": "summary", "round_rollup": "summary"}
"""Names whose modules are imported when first used: the history needs the form layouts, the
roll-up pandas and xlsxwriter, a second or more of start-up that other commands (an intake above
all) should not pay. The other modules are imported at once: several hold a function of their
own name, which a lazily imported submodule would shadow on this package."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
