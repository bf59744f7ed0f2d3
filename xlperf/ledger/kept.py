"""What is read of a round once and kept in this process: a round and its units never change
once created (no command edits them), so what is derived from them need not be read again
for every upload or mailed message. The desk's upload of a few files to a 10,000-unit round
read the units twice per request (250–340 ms) before this.

Kept per database and round (its id, name, creation time and roster file: a ledger deleted and
made again at the same path does not meet the old round's entry), a few rounds at a time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from xlperf.ledger.models import Round

__all__ = ["kept"]

T = TypeVar("T")
ROUNDS_KEPT = 8

_kept: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def kept(kind: str, session: Session, rnd: Round, make: Callable[[], T]) -> T:
    """``make()`` the first time ``kind`` is asked of ``rnd``; what it made, after that."""
    key = (kind, str(session.get_bind().engine.url), rnd.id, rnd.name, rnd.created_at, rnd.roster_file)
    with _lock:
        if key in _kept:
            _kept.move_to_end(key)
            return _kept[key]
    value = make()
    with _lock:
        _kept[key] = value
        while len(_kept) > ROUNDS_KEPT * 2:  # two kinds a round
            _kept.popitem(last=False)
    return value
