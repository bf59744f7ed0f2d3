"""Check many files in parallel; every input yields exactly one :class:`ReturnRecord`.

Files go to a :class:`concurrent.futures.ProcessPoolExecutor` in chunks (one round trip per
chunk, not per file), at most a few chunks in flight per worker, so memory stays flat however
large the inbox. Each worker checks a file (:func:`xlperf.checks.checker.check_file`) and sends back the
slim record of :func:`xlperf.rollup.tables.record_of`, not the whole ``Checked``.

Nothing is lost:

- an exception while checking a file becomes a rejected record of that file
  (``ROLLUP_FAILED``), and the chunk goes on;
- a worker that dies (killed, out of memory, a crash in a C library) breaks the pool: the
  chunks in flight are re-run one file at a time in a fresh single-worker pool, so the file that
  kills a worker is found and rejected (``WORKER_CRASHED``) and the others are checked normally;
  the remaining chunks continue in a fresh pool.

With ``jobs=1``, or a single chunk, files are checked in this process (no pool to start).
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from xlperf.checks.checker import check_file
from xlperf.form.signkeys import FROM_ENV
from xlperf.rollup.records import ReturnRecord, failed_record
from xlperf.rollup.tables import record_of

__all__ = ["check_one", "collect_returns", "file_stat"]

Progress = Callable[[int], None]
"""Called with the number of files just finished."""

MAX_CHUNK = 64
IN_FLIGHT_PER_JOB = 3


def check_one(path: Path, key: Any = FROM_ENV) -> ReturnRecord:
    """Check one file into its record (``key``: as :func:`check_file` takes it); never raises."""
    size, mtime_ns = file_stat(path)
    try:
        return record_of(check_file(path, key), size, mtime_ns)
    except Exception as exc:  # noqa: BLE001 - one file must never stop or vanish from a batch
        return _failed(path, exc)


def _check_chunk(paths: Sequence[str]) -> list[ReturnRecord]:
    return [check_one(Path(p)) for p in paths]


def collect_returns(paths: Sequence[Path], jobs: int | None = None, progress: Progress | None = None,
            chunk_size: int | None = None) -> list[ReturnRecord]:
    """Check ``paths`` with ``jobs`` processes (default: every core); records in input order."""
    jobs = max(1, jobs or os.cpu_count() or 1)
    size = chunk_size or max(1, min(MAX_CHUNK, len(paths) // (jobs * 8) or 1))
    chunks = [list(range(i, min(i + size, len(paths)))) for i in range(0, len(paths), size)]
    results: list[ReturnRecord | None] = [None] * len(paths)
    report = progress or (lambda n: None)
    if jobs == 1 or len(chunks) <= 1:
        for i, path in enumerate(paths):
            results[i] = check_one(path)
            report(1)
    else:
        suspects = _run_pool(paths, chunks, min(jobs, len(chunks)), results, report)
        _run_isolated(paths, suspects, results, report)
    missing = [i for i, r in enumerate(results) if r is None]
    assert not missing, f"files without an outcome: {missing}"
    return [r for r in results if r is not None]


def _run_pool(paths: Sequence[Path], chunks: list[list[int]], jobs: int,
              results: list[ReturnRecord | None], report: Progress) -> list[int]:
    """Run chunks in a pool (a fresh one after a break); return the files of broken chunks."""
    queue = deque(chunks)
    suspects: list[int] = []
    while queue:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            in_flight: dict[Future[list[ReturnRecord]], list[int]] = {}
            broken = False
            while queue or in_flight:
                while queue and not broken and len(in_flight) < jobs * IN_FLIGHT_PER_JOB:
                    chunk = queue.popleft()
                    in_flight[pool.submit(_check_chunk, [str(paths[i]) for i in chunk])] = chunk
                if not in_flight:
                    break
                done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in done:
                    chunk = in_flight.pop(future)
                    try:
                        records = future.result()
                    except BrokenProcessPool:
                        broken = True
                        suspects += chunk
                        continue
                    except Exception as exc:  # noqa: BLE001 - e.g. a record that cannot be pickled
                        records = [_failed(paths[i], exc) for i in chunk]
                    for i, record in zip(chunk, records, strict=True):
                        results[i] = record
                    report(len(chunk))
    return suspects


def _run_isolated(paths: Sequence[Path], suspects: list[int], results: list[ReturnRecord | None],
                  report: Progress) -> None:
    """One file at a time in a single-worker pool: a break names the file that caused it."""
    pool: ProcessPoolExecutor | None = None
    try:
        for i in suspects:
            pool = pool or ProcessPoolExecutor(max_workers=1)
            try:
                results[i] = pool.submit(check_one, paths[i]).result()
            except BrokenProcessPool:
                pool.shutdown(wait=True)
                pool = None
                results[i] = _crashed(paths[i])
            except Exception as exc:  # noqa: BLE001
                results[i] = _failed(paths[i], exc)
            report(1)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


def file_stat(path: Path) -> tuple[int, int]:
    """Size and modification time (ns) of ``path``; zeros when it cannot be read."""
    try:
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns
    except OSError:
        return 0, 0


def _failed(path: Path, exc: BaseException) -> ReturnRecord:
    return failed_record(path, *file_stat(path), "ROLLUP_FAILED",
                         f"文件“{path.name}”汇总时出错（{type(exc).__name__}: {exc}）：请重新保存后报送，或联系财政局")


def _crashed(path: Path) -> ReturnRecord:
    return failed_record(path, *file_stat(path), "WORKER_CRASHED",
                         f"审核进程在处理文件“{path.name}”时异常退出（文件可能损坏或过大）：请检查该文件后重新报送")
