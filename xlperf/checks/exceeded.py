"""Checking returns under the per-file limits, and what a file the limits stopped becomes.

Every file of a batch is checked in a worker process under the per-file limits
(:func:`xlperf.workers.run.run_limited`: wall time and memory, see :mod:`xlperf.workers`). A
file that exceeds a limit, or whose worker dies, ends as one finding :data:`FILE_TOO_COMPLEX` on
that file (:data:`WORKER_CRASHED` when its worker died; :data:`~xlperf.checks.failure.CHECK_FAILED`
when the work raised): :func:`exceeded_finding`. The one function that checks returns through
that mechanism is :func:`xlperf.checks.check_files.check_files`.
"""

from __future__ import annotations

from pathlib import Path

from xlperf.checks.failure import check_failed
from xlperf.findings import Finding
from xlperf.findings.catalogue import finding
from xlperf.findings.text import shown_name
from xlperf.workers.limits import Limits

__all__ = ["FILE_TOO_COMPLEX", "WORKER_CRASHED", "exceeded_finding"]

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
