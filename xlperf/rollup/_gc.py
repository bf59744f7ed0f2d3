"""Pause Python's cycle collector while the roll-up builds millions of small objects.

Building the tables and the workbook allocates millions of tuples, dicts and strings that hold
no reference cycles (reference counting frees them). Each allocation burst triggers the cycle
collector, whose full collections rescan every container object alive, again and again, and
find nothing: ~13% of the workbook write for 10,000 returns. The collector is switched off for
the duration and back on after (only if it was on), also when an exception escapes.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
