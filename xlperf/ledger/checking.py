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
from xlperf.form.placing import builtin_layout
from xlperf.form.specload import builtin_forms
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
    except MemoryError:
        raise  # over the memory limit: the worker's limits say so (FILE_TOO_COMPLEX)
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
    """A batch of files checked by a :class:`Checker`; :meth:`result` gives their records."""

    def __init__(self, paths: Sequence[Path], records: list[ReturnRecord]) -> None:
        self.paths, self._records = list(paths), records

    def result(self) -> list[ReturnRecord]:
        return self._records


class Checker:
    """Checks an intake's batches the way ``xlperf check`` and the roll-up do: every file in a
    worker process under the per-file limits (:mod:`xlperf.checks.limited`: wall time, memory),
    so a file that hangs or bloats a reader ends as ``FILE_TOO_COMPLEX`` and one that kills its
    worker as ``WORKER_CRASHED``, and the intake goes on. Even a single uploaded file is checked
    in a worker: the limits hold for every intake (folder, upload, mailbox).

    Why no overlap of checking with recording: forking workers from a second thread while this
    one is inside SQLAlchemy could hand a worker a lock it never gets back; the limits matter
    more than the fraction of a second recording a batch takes."""

    def __init__(self, jobs: int | None = None) -> None:
        self.jobs = max(1, jobs or os.cpu_count() or 1)
        _warm()

    def submit(self, paths: Sequence[Path]) -> Pending:
        return Pending(paths, collect_returns(paths, jobs=self.jobs, check=ledger_check) if paths else [])

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def _warm() -> None:
    """Load the built-in forms and their layouts once, in this process, before workers are
    forked: each worker then starts with them in its (copy-on-write) memory instead of loading
    them again, a tenth of a second of CPU per worker on the first file of each form."""
    try:
        for form_id in builtin_forms():
            builtin_layout(form_id)
    except Exception:  # noqa: BLE001 - only a head start: a broken form is reported by the check itself
        pass


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
