"""Caches of what is read of a round, kept in this process and keyed by what it depends on.

The desk's upload of a few files to a 10,000-unit round read the units twice per request
(250–340 ms) before this; what is derived from a round's units and settings is now read once
and kept until the round changes. "Changes" is decided by :func:`round_version`: the round's
identity (database, id, name, creation time: a ledger deleted and made again at the same path
does not meet the old round's entry), its settings that the checks and the hold rules read (form,
year, accepted template versions, signatures, roster file), the hash of the spec it keeps (or of
its form's spec as xlperf knows it now, for a round that keeps none), and its
roster version (``rounds.roster_version``, counted up by the database on every change to the
round's units, whoever makes it). A roster or form changed by a later command is therefore seen
by the next upload, mail, status or check; nothing relies on rounds never changing.

Kept a few rounds at a time.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.form.registry import known_forms
from xlperf.ledger.models import Round

__all__ = ["form_digest", "round_cached", "round_version"]

T = TypeVar("T")
ROUNDS_KEPT = 8

_cache: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_lock = threading.Lock()


def round_version(session: Session, round_id: int) -> tuple[Hashable, ...]:
    """What a value derived from round ``round_id`` depends on, read from the database now (a
    Round object a caller kept may be older): equal tuples, the same units and settings."""
    row = session.execute(select(Round.name, Round.created_at, Round.form, Round.form_hash, Round.year,
                                 Round.template_versions, Round.signatures_required, Round.roster_file,
                                 Round.roster_version)
                          .where(Round.id == round_id)).one_or_none()
    if row is None:
        return (round_id,)
    return (round_id, *row, "" if row.form_hash else form_digest(row.form))


def form_digest(form_id: str) -> str:
    """SHA-256 of the spec xlperf knows as ``form_id`` now ("" for none): for a round that keeps no
    spec of its own (:mod:`xlperf.ledger.roundform`), a spec edited or replaced makes a new digest."""
    forms = known_forms()
    return forms[form_id].digest if form_id in forms else ""


def round_cached(kind: str, session: Session, rnd: Round, make: Callable[[], T],
                 depends: tuple[Hashable, ...] = ()) -> T:
    """``make()`` the first time ``kind`` is asked of ``rnd`` as it is now (:func:`round_version`)
    and of what else it ``depends`` on as it is now (another round's accepted returns:
    :func:`xlperf.ledger.chaincheck.declarations_version`); what it made, after that."""
    key = (kind, str(session.get_bind().engine.url), *round_version(session, rnd.id), *depends)
    with _lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    value = make()
    with _lock:
        _cache[key] = value
        while len(_cache) > ROUNDS_KEPT * 2:  # two kinds a round
            _cache.popitem(last=False)
    return value
