"""Checking files for the ledger: the roll-up's record plus what the ledger keeps besides.

A worker (the roll-up's process pool, :func:`xlperf.rollup.collect.collect_returns`, with its
crash isolation) checks a file with :func:`xlperf.checks.checker.check_file` and sends back a
:class:`LedgerRecord`: the roll-up's slim record, plus the values, scores and notes as JSON
(encoded in the worker, so the main process only writes rows). A file the pool could not check
comes back as a plain :class:`ReturnRecord` with one error finding, and is recorded as such.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError, Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xlperf.checks.checker import check_file
from xlperf.ledger.codec import checked_to_json, record_to_json
from xlperf.ledger.store import FileStore
from xlperf.rollup.collect import Progress, collect_returns, file_stat
from xlperf.rollup.extract import record_of
from xlperf.rollup.records import ReturnRecord, failed_record

__all__ = ["Checker", "LedgerRecord", "Pending", "check_many", "ledger_check", "materialised"]


@dataclass
class LedgerRecord(ReturnRecord):
    checked_json: str = "{}"
    record_json: str = "{}"


def ledger_check(path: Path) -> ReturnRecord:
    """Check one file into a :class:`LedgerRecord`; never raises (a crash of the worker itself is
    found by the pool, see :class:`Checker`)."""
    size, mtime_ns = file_stat(path)
    try:
        checked = check_file(path)
        record = record_of(checked, size, mtime_ns)
        return LedgerRecord(**{k: getattr(record, k) for k in record.__dataclass_fields__},
                            checked_json=checked_to_json(checked), record_json=record_to_json(record))
    except Exception as exc:  # noqa: BLE001 - one file must never stop or vanish from a batch
        return failed_record(path, size, mtime_ns, "CHECK_FAILED",
                             f"文件“{path.name}”审核时出错（{type(exc).__name__}: {exc}）：请重新保存后报送，或联系财政局")


def _check_chunk(paths: Sequence[str]) -> list[ReturnRecord]:
    return [ledger_check(Path(p)) for p in paths]


def check_many(paths: Sequence[Path], jobs: int | None = None,
               progress: Progress | None = None) -> list[ReturnRecord]:
    """Records of ``paths`` in order (every core by default; one process for a handful of files)."""
    if len(paths) < 8:
        jobs = 1
    return collect_returns(paths, jobs=jobs, progress=progress, check=ledger_check)


class Pending:
    """Files being checked by a :class:`Checker`; :meth:`result` waits for their records."""

    def __init__(self, paths: Sequence[Path], futures: list[Future[list[ReturnRecord]]] | None,
                 records: list[ReturnRecord] | None, checker: Checker) -> None:
        self.paths, self._futures, self._records, self._checker = list(paths), futures, records, checker

    def result(self) -> list[ReturnRecord]:
        if self._records is None:
            try:
                self._records = [r for f in self._futures or () for r in f.result()]
            except (BrokenProcessPool, CancelledError):
                # A file killed its worker: check these again the roll-up's way, which isolates
                # the file that did it (WORKER_CRASHED) and checks the others normally.
                self._checker.reset()
                self._records = collect_returns(self.paths, jobs=self._checker.jobs, check=ledger_check)
        return self._records


class Checker:
    """One process pool for a whole intake (starting workers and warming their caches costs
    seconds on a busy machine: once, not per batch); :meth:`submit` returns at once, so the
    caller records the previous batch while this one is checked."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def submit(self, paths: Sequence[Path]) -> Pending:
        if self.jobs == 1 or len(paths) < 4:
            return Pending(paths, None, [ledger_check(p) for p in paths], self)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.jobs)
        size = max(1, -(-len(paths) // (self.jobs * 4)))
        futures = [self._pool.submit(_check_chunk, [str(p) for p in paths[i:i + size]])
                   for i in range(0, len(paths), size)]
        return Pending(paths, futures, None, self)

    def reset(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.reset()


@contextmanager
def materialised(store: FileStore, files: Sequence[tuple[str, str]]) -> Iterator[list[Path]]:
    """Stored files ``(sha256, original name)`` under their original names in a temporary folder
    (the checker names the file in its findings and tells formats apart by the name's ending)."""
    with tempfile.TemporaryDirectory(prefix="xlperf-ledger-") as tmp:
        paths = []
        for n, (sha, name) in enumerate(files):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            target = folder / (Path(name).name or "file")
            try:
                os.link(store.path(sha), target)  # no copy: same file system, read only
            except OSError:
                shutil.copyfile(store.path(sha), target)
            paths.append(target)
        yield paths
