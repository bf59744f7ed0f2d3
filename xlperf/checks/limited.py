"""Checking returns under the per-file limits, and what a file the limits stopped becomes.

Every file of a batch is checked in a worker process under the per-file limits
(:func:`xlperf.workers.run.run_limited`: wall time and memory, see :mod:`xlperf.workers`). A
file that exceeds a limit, or whose worker dies, ends as one finding :data:`FILE_TOO_COMPLEX` on
that file (:data:`WORKER_CRASHED` when its worker died; :data:`~xlperf.checks.failure.CHECK_FAILED`
when the work raised): :func:`exceeded_finding`. :func:`check_files_limited` checks returns so
(``xlperf check``); the roll-up runs its own work function (:mod:`xlperf.rollup.collect`) through
the same mechanism.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xlperf.checks.checker import check_file
from xlperf.checks.failure import check_failed
from xlperf.findings import Checked, Finding
from xlperf.findings.catalogue import finding
from xlperf.findings.text import shown_name
from xlperf.form.registry import BUILTIN_PRELOAD
from xlperf.form.signkeys import FROM_ENV
from xlperf.workers.limits import Limits
from xlperf.workers.run import in_order, run_limited

__all__ = ["FILE_TOO_COMPLEX", "WORKER_CRASHED", "check_files_limited", "exceeded_finding"]

FILE_TOO_COMPLEX = "FILE_TOO_COMPLEX"
"""A file whose check exceeded the time or memory limit."""
WORKER_CRASHED = "WORKER_CRASHED"
"""A file whose worker process died while checking it."""


def exceeded_finding(path: Path, why: str, limits: Limits, detail: str = "") -> Finding:
    """The finding of a file that ``why`` stopped: "time" or "memory" (:data:`FILE_TOO_COMPLEX`),
    "crash" (:data:`WORKER_CRASHED`: the worker died, e.g. a native library over the memory limit),
    "error" (:data:`~xlperf.checks.failure.CHECK_FAILED`: the work raised ``detail``, which it
    should never do; the worker logged its traceback)."""
    name = shown_name(path)
    if why == "error":
        return check_failed(path, detail=detail)
    if why == "crash":
        return finding(WORKER_CRASHED, f"审核进程在处理文件“{name}”时异常退出（文件可能损坏、过大或结构异常复杂，"
                       f"内存上限 {limits.memory_mb:g} MB）：请用 Excel 或 WPS 打开后另存为 .xlsx 再报送")
    cause = (f"审核用时超过上限 {limits.seconds:g} 秒" if why == "time"
             else f"审核所需内存超过上限 {limits.memory_mb:g} MB")
    return finding(FILE_TOO_COMPLEX, f"文件“{name}”结构异常复杂，{cause}，已停止审核（可能是损坏或恶意构造的文件）："
                   "请用 Excel 或 WPS 打开后另存为 .xlsx 再报送")


# -- returns --------------------------------------------------------------------------------------
def check_files_limited(paths: Sequence[Path], limits: Limits | None = None, *, key: Any = FROM_ENV,
                        against: Any = None, jobs: int | None = None, roster: Any = None,
                        allow_unsigned: bool = False) -> Iterator[Checked]:
    """:func:`xlperf.checks.checker.check_file` of every path, under ``limits``, in input order.

    ``key`` and ``against`` as for ``check_file``. A file that exceeds a limit is a
    :class:`Checked` with one error :data:`FILE_TOO_COMPLEX`."""
    limits = limits or Limits.from_env()
    work = functools.partial(check_file, key=key, against=against, roster=roster, allow_unsigned=allow_unsigned)
    return in_order(run_limited(paths, work, functools.partial(_too_complex, limits=limits), limits, jobs,
                                preload=[BUILTIN_PRELOAD]))


def _too_complex(path: Path, why: str, detail: str, limits: Limits) -> Checked:
    return Checked(file=path, findings=[exceeded_finding(path, why, limits, detail)])
