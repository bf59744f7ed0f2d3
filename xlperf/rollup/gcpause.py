"""Pause Python's cycle collector while a batch builds millions of small objects.

Building the roll-up's tables and workbook allocates millions of tuples, dicts and strings that
hold no reference cycles (reference counting frees them). Each allocation burst triggers the
cycle collector, whose full collections rescan every container object alive, again and again,
and find nothing: ~13% of the workbook write for 10,000 returns. The collector is switched off
for the duration and back on after (only if it was on), also when an exception escapes.

The switch is the whole process's, so it is thrown only by a batch that owns its process: the
commands that roll up (``xlperf rollup``, ``xlperf round rollup``) and the benchmarks that
measured the gain, around the stages that pay. Library code a server also runs (the tables, the
workbook, a round's status or roll-up for the desk) never throws it: in the desk it would stop
collection for every request being served meanwhile.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["cycle_collection_paused"]


@contextmanager
def cycle_collection_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
