"""The ledger of collection rounds (报送任务): every file received, its checks, staff decisions,
replies and an append-only event log, in SQLite (default) or PostgreSQL via SQLAlchemy, with
Alembic migrations shipped here and run when a ledger is opened.

Modules: :mod:`~xlperf.ledger.db` (open, URL, SQLite settings, migrations, locks),
:mod:`~xlperf.ledger.models` (tables), :mod:`~xlperf.ledger.store` (content-addressed files),
:mod:`~xlperf.ledger.codec` (JSON of values and records), :mod:`~xlperf.ledger.rounds` (rounds,
units, events), :mod:`~xlperf.ledger.checking` (checking files into records),
:mod:`~xlperf.ledger.receive` (recording what arrived), :mod:`~xlperf.ledger.status`,
:mod:`~xlperf.ledger.history`, :mod:`~xlperf.ledger.decisions`, :mod:`~xlperf.ledger.revalidate`,
:mod:`~xlperf.ledger.summary` (roll-up from the ledger), :mod:`~xlperf.ledger.mail`.
"""

from xlperf.ledger.accounts import Account
from xlperf.ledger.db import DB_ENV, STORE_ENV, Ledger, LedgerError, database_url, open_ledger
from xlperf.ledger.decisions import decide
from xlperf.ledger.history import find_unit, unit_history
from xlperf.ledger.models import ACCEPT, RETURN, VOID
from xlperf.ledger.receive import Incoming, Outcome, receive, round_view
from xlperf.ledger.revalidate import revalidate
from xlperf.ledger.rounds import create_round, find_round, list_rounds
from xlperf.ledger.status import round_status
from xlperf.ledger.store import FileStore, sha256_of
from xlperf.ledger.summary import round_records, round_rollup

__all__ = [
    "ACCEPT", "Account", "DB_ENV", "RETURN", "STORE_ENV", "VOID", "FileStore", "Incoming", "Ledger", "LedgerError",
    "Outcome", "create_round", "database_url", "decide", "find_round", "find_unit", "list_rounds",
    "open_ledger", "receive", "revalidate", "round_records", "round_rollup", "round_status",
    "round_view", "sha256_of", "unit_history",
]
