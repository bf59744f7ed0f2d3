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
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from xlperf.checks.checker import check_file
from xlperf.ledger.codec import checked_to_json, record_to_json
from xlperf.ledger.store import FileStore
from xlperf.rollup.collect import Progress, collect_returns, file_stat
from xlperf.rollup.records import ReturnRecord
from xlperf.rollup.tables import record_of

__all__ = ["LedgerRecord", "check_many", "ledger_check", "materialised"]


@dataclass
class LedgerRecord(ReturnRecord):
    checked_json: str = "{}"
    record_json: str = "{}"


def ledger_check(path: Path) -> ReturnRecord:
    """Check one file into a :class:`LedgerRecord`; never raises (the pool turns a crash into a finding)."""
    size, mtime_ns = file_stat(path)
    checked = check_file(path)
    record = record_of(checked, size, mtime_ns)
    return LedgerRecord(**{k: getattr(record, k) for k in record.__dataclass_fields__},
                        checked_json=checked_to_json(checked), record_json=record_to_json(record))


def check_many(paths: Sequence[Path], jobs: int | None = None,
               progress: Progress | None = None) -> list[ReturnRecord]:
    """Records of ``paths`` in order (every core by default; one process for a handful of files)."""
    if len(paths) < 8:
        jobs = 1
    return collect_returns(paths, jobs=jobs, progress=progress, check=ledger_check)


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
