"""The one way files are checked: :func:`check_files`, under the per-file limits, with a context.

``xlperf check``, the roll-up (also on a Dask cluster, whose hosts call it), every intake route
(folder, upload, mail), ``round revalidate`` and the desk all check through :func:`check_files`.
Each file is checked by :func:`xlperf.checks.check_return.check_file` in a worker process under
the limits (:func:`xlperf.workers.run.run_limited`: wall time, memory; on a Dask worker, its
host process: :func:`xlperf.workers.host.run_hosted`), so a file that hangs
or bloats a reader ends as ``FILE_TOO_COMPLEX``, one that kills its worker as ``WORKER_CRASHED``,
and a check that raises as ``CHECK_FAILED`` (fail closed, :mod:`xlperf.checks.failure`); every
file gives exactly one :class:`~xlperf.findings.CheckedReturn`.

What the check knows besides the file is a :class:`CheckContext` (the round's form, roster,
signing key, declarations); what a worker sends back is chosen by ``keep``: everything (reports),
the roll-up's slim summary, or the summary with the JSON the ledger stores, encoded in the worker.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from xlperf.checks.check_return import check_file
from xlperf.checks.exceeded import exceeded_finding
from xlperf.checks.failure import check_failed
from xlperf.findings import CheckedReturn
from xlperf.form.registry import BUILTIN_PRELOAD, Known, pinned
from xlperf.form.signkeys import FROM_ENV
from xlperf.model.declarations import Declarations
from xlperf.model.return_summary import summarised
from xlperf.read.roster import Roster
from xlperf.workers.host import run_hosted
from xlperf.workers.limits import Limits
from xlperf.workers.pool import WorkerPool
from xlperf.workers.run import run_limited

__all__ = ["ALL", "STORED", "SUMMARY", "CheckContext", "CheckWork", "Keep", "check_files", "check_one",
           "file_stat"]

Keep = Literal["all", "summary", "stored"]
ALL: Keep = "all"
"""The whole :class:`CheckedReturn` (values, scores: reports render them)."""
SUMMARY: Keep = "summary"
"""Its slim form with the roll-up's summary (:meth:`CheckedReturn.slim`): ten thousand fit."""
STORED: Keep = "stored"
"""The slim form with the JSON the ledger stores, encoded in the worker (the main process only
writes rows)."""


@dataclass(frozen=True)
class CheckContext:
    """What checking a file knows besides the file: a round's, or a command's options.

    Frozen and compared by what it stands for (``version`` and ``key``, not the roster's ten
    thousand units): the desk's kept workers of a round are found again by it. Add a field here
    to give the checks more of the round (e.g. its stored form spec)."""

    form: Known | None = field(default=None, compare=False)
    """The spec a round keeps (:mod:`xlperf.ledger.roundform`; its hash is in ``version``): the
    worker checks with it, whatever the forms folder holds (None: the forms xlperf knows)."""
    roster: Roster | None = field(default=None, compare=False)
    """Units expected to report: a file named after another unit is flagged."""
    key: bytes | None = None
    """The signing key; None with ``key_from_env``: the worker's environment's
    (:data:`xlperf.form.signkeys.FROM_ENV`, not carried itself: a sentinel does not survive
    pickling to a worker); None without: signatures are not verified."""
    key_from_env: bool = True
    declarations: Declarations | None = field(default=None, compare=False)
    """Accepted declarations that targets are compared with (``check --against``)."""
    allow_unsigned: bool = False
    version: tuple[Hashable, ...] = ()
    """What the roster and declarations are (the ledger: round id and
    :func:`xlperf.ledger.roundcache.round_version`): two contexts with other rosters differ here."""

    @classmethod
    def with_key(cls, key: Any, **kwargs: Any) -> CheckContext:
        """A context with ``key`` as ``check_file`` takes it (bytes, text, None or FROM_ENV)."""
        if key is FROM_ENV:
            return cls(**kwargs)
        if isinstance(key, str):
            key = key.encode("utf-8")
        return cls(key=key or None, key_from_env=False, **kwargs)


@dataclass(frozen=True)
class CheckWork:
    """What a worker does with one file (picklable, compared: the pool's key)."""

    context: CheckContext = CheckContext()
    keep: Keep = ALL

    def __call__(self, path: Path) -> CheckedReturn:
        return check_one(path, self.context, self.keep)


def check_one(path: Path, context: CheckContext = CheckContext(), keep: Keep = ALL) -> CheckedReturn:
    """Check one file in this process; never raises (but MemoryError, which the limits report)."""
    size, mtime_ns = file_stat(path)
    try:
        key = FROM_ENV if context.key is None and context.key_from_env else context.key
        with pinned(context.form):
            checked = check_file(path, key=key, against=context.declarations, roster=context.roster,
                                 allow_unsigned=context.allow_unsigned)
            if keep != ALL:
                checked = summarised(checked)
        checked.size, checked.mtime_ns = size, mtime_ns
        if keep == ALL:
            return checked
        if keep == STORED:
            checked.encode()
        return checked.slim()
    except MemoryError:
        raise  # over the memory limit: the worker's limits say so (FILE_TOO_COMPLEX)
    except Exception as exc:  # noqa: BLE001 - one file must never stop or vanish from a batch; fail closed
        return CheckedReturn(file=path, size=size, mtime_ns=mtime_ns, findings=[check_failed(path, exc)])


def check_files(paths: Iterable[Path], context: CheckContext = CheckContext(), *, keep: Keep = ALL,
                limits: Limits | None = None, jobs: int | None = None, pool: WorkerPool | None = None,
                work: Callable[[Path], CheckedReturn] | None = None,
                hosted: bool = False) -> Iterator[tuple[int, CheckedReturn]]:
    """``(index, checked)`` for every path of ``paths`` (its place there), as they finish, each
    checked in a worker process under ``limits`` (default: the environment's) with ``context``.
    ``paths`` may be lazy: a path is taken when a worker has room (an intake hashes and stores
    the next file meanwhile). ``jobs``: worker processes (default every core, at most one per
    file); ``pool``: workers kept between calls.
    :func:`xlperf.workers.run.in_order` gives the returns in input order. ``work``: what a
    worker does with a file instead of :func:`check_one` (tests make a worker fail with it; a
    picklable callable that never raises), ``context`` and ``keep`` are then its own business.
    ``hosted``: on a Dask worker, a daemon process that may not start workers itself: the
    files go to this thread's host process (:func:`xlperf.workers.host.run_hosted`), one at a
    time, in order."""
    limits = limits or Limits.from_env()
    work = work or CheckWork(context, keep)
    stopped = functools.partial(_stopped, limits=limits)
    if hosted:
        return enumerate(run_hosted(list(paths), work, stopped, limits, preload=[BUILTIN_PRELOAD]))
    return run_limited(paths, work, stopped, limits, jobs, pool=pool,
                       preload=[BUILTIN_PRELOAD])


def _stopped(path: Path, why: str, detail: str, limits: Limits) -> CheckedReturn:
    """The return of a file the limits stopped (``on_exceeded`` of :func:`run_limited`)."""
    size, mtime_ns = file_stat(path)
    return CheckedReturn(file=path, size=size, mtime_ns=mtime_ns, findings=[exceeded_finding(path, why, limits, detail)])


def file_stat(path: Path) -> tuple[int, int]:
    """Size and modification time (ns) of ``path``; zeros when it cannot be read."""
    try:
        stat = path.stat()
        return stat.st_size, stat.st_mtime_ns
    except OSError:
        return 0, 0
