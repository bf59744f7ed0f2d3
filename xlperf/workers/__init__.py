"""Worker processes that run a work on files under per-file limits (wall time, memory).

Below the checks, and importing nothing of xlperf: the checks, the roll-up, the ledger's intake,
the watcher, the desk and the Dask scale-out all run their work through it.

- :mod:`~xlperf.workers.limits`: :class:`Limits`, what one file may cost (options, environment);
- :mod:`~xlperf.workers.start`: how workers are started: a fork server or spawn, never forked
  from the process that asks (which may hold a database engine and threads);
- :mod:`~xlperf.workers.pool`: one worker process (rlimits, its serve loop) and
  :class:`WorkerPool`, idle workers kept between calls;
- :mod:`~xlperf.workers.run`: :func:`run_limited`, many files over workers, each under the limits;
- :mod:`~xlperf.workers.host`: a host process for a daemon (a Dask worker) that may not start
  workers itself.
"""

from xlperf.workers.limits import LimitError, Limits
from xlperf.workers.pool import Work, WorkerPool
from xlperf.workers.run import in_order, run_limited

__all__ = ["LimitError", "Limits", "Work", "WorkerPool", "in_order", "run_limited"]
