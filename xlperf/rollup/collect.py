"""Check many files in parallel; every input yields exactly one :class:`ReturnRecord`.

Files go to worker processes through :func:`xlperf.workers.run.run_limited`, the mechanism
``xlperf check`` uses too: each file is checked under the per-file limits (wall time, memory),
and a worker sends back the slim record of :func:`xlperf.rollup.extract.record_of`, not the whole
``Checked``, so memory stays flat however large the inbox.

Nothing is lost:

- an exception while checking a file becomes a rejected record of that file
  (``CHECK_FAILED``, as on every path: :mod:`xlperf.checks.failure`);
- a file that exceeds a limit is rejected (``FILE_TOO_COMPLEX``); one whose worker dies (killed,
  a crash in a C library) is rejected (``WORKER_CRASHED``); a fresh worker takes over and the
  other files are checked normally.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from xlperf.checks.checker import check_file
from xlperf.checks.failure import check_failed
from xlperf.checks.limited import exceeded_finding
from xlperf.form.registry import BUILTIN_PRELOAD
from xlperf.form.signkeys import FROM_ENV
from xlperf.read.roster import Roster
from xlperf.rollup.extract import record_of
from xlperf.rollup.records import ReturnRecord, failed_record
from xlperf.workers.limits import Limits
from xlperf.workers.run import run_limited

__all__ = ["check_one", "collect_returns", "exceeded_record", "file_stat"]

Progress = Callable[[int], None]
"""Called with the number of files just finished."""


def check_one(path: Path, key: Any = FROM_ENV, roster: Roster | None = None) -> ReturnRecord:
    """Check one file into its record (``key``, ``roster``: as :func:`check_file` takes them);
    never raises (but MemoryError, which the limits report)."""
    size, mtime_ns = file_stat(path)
    try:
        checked = (check_file(path, roster=roster) if key is FROM_ENV  # the default stays the default
                   else check_file(path, key, roster=roster))
        return record_of(checked, size, mtime_ns)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - one file must never stop or vanish from a batch
        return _failed(path, exc)


Check = Callable[[Path], ReturnRecord]
"""What a worker does with one file (a module-level function, so that it can be pickled); it
must never raise. Default :func:`check_one`; the ledger's also keeps what a roll-up drops."""


def collect_returns(paths: Sequence[Path], jobs: int | None = None, progress: Progress | None = None,
                    limits: Limits | None = None, check: Check = check_one,
                    roster: Roster | None = None) -> list[ReturnRecord]:
    """Check ``paths`` with ``jobs`` processes (default: every core), each file under ``limits``
    (default :meth:`Limits.from_env`); records in input order. ``roster``: for :func:`check_one`
    (the units expected: a file named after another unit is flagged)."""
    limits = limits or Limits.from_env()
    if roster is not None and check is check_one:
        check = functools.partial(check_one, roster=roster)
    results: list[ReturnRecord | None] = [None] * len(paths)
    report = progress or (lambda n: None)
    for index, record in run_limited(paths, check, functools.partial(exceeded_record, limits=limits), limits, jobs,
                                     preload=[BUILTIN_PRELOAD]):
        results[index] = record
        report(1)
    missing = [i for i, r in enumerate(results) if r is None]
    assert not missing, f"files without an outcome: {missing}"
    return [r for r in results if r is not None]


def file_stat(path: Path) -> tuple[int, int]:
    """Size and modification time (ns) of ``path``; zeros when it cannot be read."""
    try:
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns
    except OSError:
        return 0, 0


def _failed(path: Path, exc: BaseException) -> ReturnRecord:
    """The record of a file whose check raised (xlperf's fault: fail closed, traceback logged)."""
    finding = check_failed(path, exc)
    return failed_record(path, *file_stat(path), finding.code, finding.message)


def exceeded_record(path: Path, why: str, detail: str, limits: Limits) -> ReturnRecord:
    """The record of a file the limits stopped (``on_exceeded`` of :func:`run_limited`)."""
    finding = exceeded_finding(path, why, limits, detail)
    return failed_record(path, *file_stat(path), finding.code, finding.message)
