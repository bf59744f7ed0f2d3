"""Check many files in parallel for a roll-up; every input yields exactly one return.

The files are checked by :func:`xlperf.checks.check_files.check_files`, the one way files are
checked (under the per-file limits; a file that exceeds one, kills its worker or makes a check
raise is a rejected return naming it). A worker sends back the return's slim form with the
roll-up's summary (:data:`~xlperf.checks.check_files.SUMMARY`), not its hundreds of values, so
memory stays flat however large the inbox.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from xlperf.checks.check_files import SUMMARY, CheckContext, Keep, check_files
from xlperf.findings import CheckedReturn
from xlperf.read.roster import Roster
from xlperf.workers.limits import Limits

__all__ = ["Progress", "collect_returns"]

Progress = Callable[[int], None]
"""Called with the number of files just finished."""


def collect_returns(paths: Sequence[Path], jobs: int | None = None, progress: Progress | None = None,
                    limits: Limits | None = None, roster: Roster | None = None,
                    context: CheckContext | None = None, keep: Keep = SUMMARY,
                    check: Callable[[Path], CheckedReturn] | None = None) -> list[CheckedReturn]:
    """Check ``paths`` with ``jobs`` processes (default: every core), each file under ``limits``;
    returns in input order. ``context``: what the check knows (default: ``roster`` and the
    environment's signing key); ``check``: ``work`` of :func:`check_files` (tests)."""
    results: list[CheckedReturn | None] = [None] * len(paths)
    report = progress or (lambda n: None)
    for index, checked in check_files(paths, context or CheckContext(roster=roster), keep=keep, limits=limits,
                                      jobs=jobs, work=check):
        results[index] = checked
        report(1)
    missing = [i for i, r in enumerate(results) if r is None]
    assert not missing, f"files without an outcome: {missing}"
    return [r for r in results if r is not None]
