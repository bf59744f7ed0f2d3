"""Checking files for the ledger: the roll-up's record plus what the ledger keeps besides.

A worker process under the per-file limits (:func:`check_stream` for an intake,
:func:`check_many` for a revalidation; :mod:`xlperf.workers`) checks a file of a round
with :func:`xlperf.checks.checker.check_file` and the round's roster (:class:`RoundCheck`), and
sends back a :class:`LedgerRecord`: the roll-up's slim record, plus the values, scores and notes
as JSON (encoded in the worker, so the main process only writes rows). A file the workers could
not check comes back as a plain :class:`ReturnRecord` with one error finding, and is recorded as
such. :func:`checkable_name` and :func:`materialised` give the checker files under the names
units gave them.
"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
from collections.abc import Hashable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from xlperf.checks.checker import check_file
from xlperf.checks.failure import check_failed
from xlperf.form.registry import Known, builtin_forms, builtin_layout, pinned
from xlperf.form.signkeys import FROM_ENV, SigningKeyError, key_from_env
from xlperf.ledger.codec import checked_to_json, record_to_json
from xlperf.ledger.models import Round
from xlperf.ledger.roundcache import round_cached, round_version
from xlperf.ledger.roundform import round_form
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.ledger.store import FileStore
from xlperf.read.roster import Roster
from xlperf.rollup.collect import Progress, collect_returns, exceeded_record, file_stat
from xlperf.rollup.extract import record_of
from xlperf.rollup.records import ReturnRecord, failed_record
from xlperf.workers.limits import Limits
from xlperf.workers.pool import WorkerPool
from xlperf.workers.run import run_limited

__all__ = ["MAX_NAME_BYTES", "LedgerRecord", "RoundCheck", "RoundNotReady", "require_round_rules", "check_many", "check_stream", "checkable_name",
           "ledger_check", "materialised", "round_check", "warm", "workers"]


_IN_JSON_ONLY = ("indicators", "notes")


@dataclass
class LedgerRecord(ReturnRecord):
    """A worker's record for the ledger: ``indicators`` and ``notes`` are left empty, they are in
    ``record_json`` (what the ledger keeps and the round's roll-up reads)."""

    checked_json: str = "{}"
    record_json: str = "{}"


def ledger_check(path: Path, roster: Roster | None = None, key: bytes | None = None) -> ReturnRecord:
    """Check one file into a :class:`LedgerRecord`; never raises (a crash of the worker itself is
    found by the pool, see :func:`check_stream`). ``roster``: the round's, for the checks that
    need one (a file named after another unit of the roster), as ``xlperf check --roster``.
    ``key``: the signing key; None: the environment's (:data:`xlperf.form.signkeys.FROM_ENV`,
    which is not passed itself: a sentinel does not survive pickling to a worker)."""
    size, mtime_ns = file_stat(path)
    try:
        checked = check_file(path, key=FROM_ENV if key is None else key, roster=roster)
        record = record_of(checked, size, mtime_ns)
        # The indicators and notes travel only inside record_json: the main process records
        # them as text and never looks into them (unpickling them cost it a tenth of a millisecond a file).
        return LedgerRecord(**{k: getattr(record, k) for k in record.__dataclass_fields__ if k not in _IN_JSON_ONLY},
                            checked_json=checked_to_json(checked), record_json=record_to_json(record))
    except MemoryError:
        raise  # over the memory limit: the worker's limits say so (FILE_TOO_COMPLEX)
    except Exception as exc:  # noqa: BLE001 - one file must never stop or vanish from a batch; fail closed
        failed = check_failed(path, exc)
        return failed_record(path, size, mtime_ns, failed.code, failed.message)


@dataclass(frozen=True)
class RoundCheck:
    """What a worker does with a file of a round: :func:`ledger_check` with the round's roster.
    A value compared by the round alone, not a closure: the desk's kept workers of a round are
    found again by it without comparing ten thousand roster units per request."""

    round_id: int
    version: tuple[Hashable, ...] = ()
    """The round as it was when this was made (:func:`xlperf.ledger.roundcache.round_version`): workers
    kept for a round whose roster or form has changed since are not found again."""
    roster: Roster | None = field(default=None, compare=False)
    key: bytes | None = None
    """The signing key (None: the worker's environment's), read where the round's rules were checked (:func:`require_round_rules`)
    and handed to the workers: a fork server started before the key was set has no key in its
    environment. Compared, so that kept workers of an older key are not used."""
    form: Known | None = field(default=None, compare=False)
    """The spec the round keeps (:mod:`xlperf.ledger.roundform`; its hash is in ``version``):
    the worker checks with it, whatever the forms folder holds."""

    def __call__(self, path: Path) -> ReturnRecord:
        with pinned(self.form):
            return ledger_check(path, self.roster, self.key)


class RoundNotReady(Exception):
    """This process lacks what a round's rules need (Chinese message saying what to set)."""


def require_round_rules(rnd: Round) -> None:
    """Raise :class:`RoundNotReady` unless every rule of ``rnd`` can be enforced here. Every
    route into a round (folder intake, a desk upload, the mailbox watcher) calls it before it
    takes a file: a round that requires signatures needs the signing key, without which the
    checker only notes that a signature was not verified and an unsigned return would pass."""
    if not rnd.signatures_required:
        return
    try:
        key = key_from_env()
    except SigningKeyError as exc:
        raise RoundNotReady(f"签名密钥配置有误：{exc}") from None
    if key is None:
        raise RoundNotReady(f"报送任务“{rnd.name}”要求签名：请先设置 XLPERF_SIGNING_KEY 或 XLPERF_KEY_FILE，"
                            "以便核验每份报表的签名；未设置时不收取此任务的报表")


def round_check(session: Session, rnd: Round) -> RoundCheck:
    """The work of checking a file of ``rnd``, with its roster (read once per process while the
    round is unchanged: :func:`xlperf.ledger.roundcache.round_version`) and, when the round requires
    signatures, the signing key."""
    version = round_version(session, rnd.id)
    work = round_cached("check", session, rnd, lambda: RoundCheck(rnd.id, version, roster_of(rnd, units_of(session, rnd.id)),
                                                           form=round_form(rnd)))
    return (RoundCheck(work.round_id, work.version, work.roster, key=key_from_env(), form=work.form)
            if rnd.signatures_required else work)


def check_many(paths: Sequence[Path], jobs: int | None = None, progress: Progress | None = None,
               work: RoundCheck | None = None, scheduler: Any = None) -> list[ReturnRecord]:
    """Records of ``paths`` in order (every core by default; one process for a handful of files).
    ``scheduler``: check on that Dask cluster instead (``tcp://HOST:PORT`` or a client; the
    files' bytes travel with the tasks, see :mod:`xlperf.rollup.distributed`), same records."""
    if scheduler is not None:
        from xlperf.rollup.distributed import collect_on_cluster

        return collect_on_cluster(paths, scheduler, progress=progress, check=work or ledger_check)
    if len(paths) < 8:
        jobs = 1
    return collect_returns(paths, jobs=jobs, progress=progress, check=work or ledger_check)


def check_stream(paths: Iterable[Path], jobs: int | None = None,
                 fork_lock: AbstractContextManager[Any] | None = None,
                 pool: WorkerPool | None = None, work: RoundCheck | None = None) -> Iterator[tuple[int, ReturnRecord]]:
    """``(index, record)`` of every path of ``paths`` (a lazy iterable is taken as the workers
    have room), as they finish: an intake's files checked the way ``xlperf check`` and the
    roll-up check them, every file in a worker process under the per-file limits
    (:func:`xlperf.workers.run.run_limited`: wall time, memory), so a file that hangs or
    bloats a reader ends as ``FILE_TOO_COMPLEX`` and one that kills its worker as
    ``WORKER_CRASHED``, and the intake goes on. Even a single uploaded file is checked in a
    worker: the limits hold for every intake (folder, upload, mailbox). ``fork_lock``: see
    :func:`run_limited` (the intake records in a thread of its own while files are checked);
    ``pool``: workers kept between intakes (:class:`xlperf.workers.pool.WorkerPool`)."""
    warm()
    limits = Limits.from_env()
    return run_limited(paths, work or ledger_check, functools.partial(exceeded_record, limits=limits), limits,
                       jobs, fork_lock=fork_lock, pool=pool)


def warm() -> None:
    """Load the built-in forms and their layouts once, in this process, before workers are
    forked: each worker then starts with them in its (copy-on-write) memory instead of loading
    them again, a tenth of a second of CPU per worker on the first file of each form."""
    try:
        for form_id in builtin_forms():
            builtin_layout(form_id)
    except Exception:  # noqa: BLE001 - only a head start: a broken form is reported by the check itself
        pass


def workers(pool: WorkerPool, count: int, work: RoundCheck) -> None:
    """Start ``count`` checking workers of ``work`` into ``pool`` ahead of need (the desk at
    start-up: the first upload then does not wait for a worker to start and load the forms)."""
    pool.prestart(work, Limits.from_env(), count)


MAX_NAME_BYTES = 200
"""A file name's length in bytes as written for the checker: file systems allow 255, and a
Chinese character takes three."""


def checkable_name(name: str) -> str:
    """``name`` (as a unit gave it: a mail attachment, a zip member, an upload) as a file name
    the checker can be given: its last part, without NUL, shortened to :data:`MAX_NAME_BYTES`
    keeping its extension (the checker tells formats apart by it); ``file`` when nothing is left."""
    base = Path(name.replace("\x00", "")).name
    if base in ("", ".", ".."):
        return "file"
    if len(base.encode()) <= MAX_NAME_BYTES:
        return base
    stem, suffix = os.path.splitext(base)
    if len(suffix.encode()) > 16:
        stem, suffix = base, ""
    kept = stem.encode()[:MAX_NAME_BYTES - len(suffix.encode())].decode("utf-8", "ignore")
    return (kept or "file") + suffix


@contextmanager
def materialised(store: FileStore, files: Sequence[tuple[str, str]]) -> Iterator[list[Path]]:
    """Stored files ``(sha256, original name)`` under their original names in a temporary folder
    (the checker names the file in its findings and tells formats apart by the name's ending)."""
    with tempfile.TemporaryDirectory(prefix="xlperf-ledger-") as tmp:
        paths = []
        for n, (sha, name) in enumerate(files):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            target = folder / checkable_name(name)
            try:
                os.link(store.path(sha), target)  # no copy: same file system, read only
            except OSError:
                shutil.copyfile(store.path(sha), target)
            paths.append(target)
        yield paths
