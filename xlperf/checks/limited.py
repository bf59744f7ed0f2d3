"""Check files under enforced limits: wall time and memory per file, in worker processes.

Readers are written to refuse hostile input early, but a file may still find a path nobody
foresaw (a pattern that backtracks, a C or Rust library that loops or allocates without end).
So every file of a batch is checked in a worker process that the kernel holds to the memory
limit (``RLIMIT_AS``) and the parent holds to the time limit (the worker is killed when its
file takes longer). A file that exceeds a limit, or whose worker dies, ends as one finding
:data:`FILE_TOO_COMPLEX` on that file (:data:`WORKER_CRASHED` when its worker died); a fresh worker takes the dead one's place and the batch
goes on. Workers are reused from file to file, so a small batch costs one fork per worker, not
one per file; each worker also dies with its parent (``PR_SET_PDEATHSIG`` on Linux) and has a
CPU-time limit per file as a backstop, so none keeps spinning after the batch is gone.

:func:`run_limited` is the mechanism (any picklable ``work(path)``); :func:`check_files_limited`
checks returns with it (``xlperf check``, later intake), and the roll-up runs its own work
function (:mod:`xlperf.rollup.collect`) through the same mechanism.

Limits: :class:`Limits` (defaults 30 s and 1 GiB), from the environment
(``XLPERF_FILE_SECONDS``, ``XLPERF_FILE_MEMORY_MB``) or the commands' options.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import gc
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any, TypeVar

from xlperf.checks.checker import check_file
from xlperf.findings import Checked, Finding
from xlperf.findings.text import shown_name
from xlperf.form.signkeys import FROM_ENV

try:
    import resource
except ImportError:  # Windows: no rlimits; the time limit still holds
    resource = None  # type: ignore[assignment]

__all__ = ["FILE_TOO_COMPLEX", "WORKER_CRASHED", "LimitError", "Limits", "WorkerPool", "check_files_limited",
           "exceeded_finding", "in_order", "run_limited"]

FILE_TOO_COMPLEX = "FILE_TOO_COMPLEX"
"""A file whose check exceeded the time or memory limit."""
WORKER_CRASHED = "WORKER_CRASHED"
"""A file whose worker process died while checking it."""
DEFAULT_SECONDS = 30.0
DEFAULT_MEMORY_MB = 1024
SECONDS_ENV = "XLPERF_FILE_SECONDS"
MEMORY_ENV = "XLPERF_FILE_MEMORY_MB"

T = TypeVar("T")
Work = Callable[[Path], T]


class LimitError(ValueError):
    """A limit given in the environment or an option that is no positive number (Chinese)."""


@dataclass(frozen=True)
class Limits:
    """What checking one file may cost."""

    seconds: float = DEFAULT_SECONDS
    """Wall time from the moment a worker takes the file."""
    memory_mb: int = DEFAULT_MEMORY_MB
    """Address space a file's check may add to the worker's size at its start (``RLIMIT_AS``), in
    MiB: a worker forked from a large parent is not starved by what it inherits."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, seconds: float | None = None,
                 memory_mb: int | None = None) -> Limits:
        """Given values first, then ``XLPERF_FILE_SECONDS`` / ``XLPERF_FILE_MEMORY_MB``, then defaults."""
        env = os.environ if env is None else env
        return cls(seconds=seconds if seconds is not None else _positive(env, SECONDS_ENV, float, DEFAULT_SECONDS),
                   memory_mb=memory_mb if memory_mb is not None else _positive(env, MEMORY_ENV, int, DEFAULT_MEMORY_MB))


def _positive(env: Mapping[str, str], name: str, kind: type[Any], default: Any) -> Any:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        value = 0
    if not value > 0:
        raise LimitError(f"环境变量 {name}={raw!r} 无效：应为正数")
    return value


def exceeded_finding(path: Path, why: str, limits: Limits, detail: str = "") -> Finding:
    """The finding of a file that ``why`` stopped: "time" or "memory" (:data:`FILE_TOO_COMPLEX`),
    "crash" (:data:`WORKER_CRASHED`: the worker died, e.g. a native library over the memory limit),
    "error" (``FILE_UNREADABLE``: the work raised ``detail``, which it should never do)."""
    name = shown_name(path)
    if why == "error":
        return Finding("FILE_UNREADABLE", "error", f"文件“{name}”无法审核（{detail}）：请重新保存后报送，或联系财政局")
    if why == "crash":
        return Finding(WORKER_CRASHED, "error", f"审核进程在处理文件“{name}”时异常退出（文件可能损坏、过大或结构异常复杂，"
                       f"内存上限 {limits.memory_mb:g} MB）：请用 Excel 或 WPS 打开后另存为 .xlsx 再报送")
    cause = (f"审核用时超过上限 {limits.seconds:g} 秒" if why == "time"
             else f"审核所需内存超过上限 {limits.memory_mb:g} MB")
    return Finding(FILE_TOO_COMPLEX, "error", f"文件“{name}”结构异常复杂，{cause}，已停止审核（可能是损坏或恶意构造的文件）："
                   "请用 Excel 或 WPS 打开后另存为 .xlsx 再报送")


# -- the mechanism --------------------------------------------------------------------------------
QUEUE_DEPTH = 2
"""Files handed to a worker at once: the next is waiting when one finishes, so a worker never
idles while the parent is busy; the time limit runs from the moment the worker starts a file."""


class _Worker:
    """One worker process, the end of its pipe, and the files handed to it (the first in work)."""

    def __init__(self, ctx: Any, work: Work[Any], limits: Limits) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_serve, args=(child, work, limits), daemon=True)
        self.process.start()
        child.close()
        self.tasks: deque[int] = deque()
        self.started = 0.0
        """When the worker started the first of ``tasks``."""

    def give(self, index: int, path: Path) -> None:
        self.tasks.append(index)
        if len(self.tasks) == 1:
            self.started = time.monotonic()
        # A worker that died since its last result (on the file it had queued) has no pipe left:
        # the file stays in its tasks and goes back to the queue when its death is seen.
        with contextlib.suppress(OSError):
            self.conn.send((index, os.fspath(path)))

    def finished(self) -> None:
        """The first task is done; the worker goes on with the next at once."""
        self.tasks.popleft()
        self.started = time.monotonic()

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.join()
        self.conn.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.kill()
        self.conn.close()


class WorkerPool:
    """Idle workers kept from one :func:`run_limited` call to the next, for a long-running process
    that checks a few files at a time (the desk: each upload request checks a handful). A worker
    forked per call costs more than its files: the fork of a large process, then the first file
    touching half of what it inherited. A call takes idle workers of the same work and limits
    before it forks new ones, and gives back those that are idle at its end (at most ``size`` of
    each kind are kept); a worker that was killed (a limit, a crash) is never given back. Safe to
    share between threads: a worker belongs to one call at a time.

    The pool's workers are started by multiprocessing's fork server where there is one (Linux,
    macOS): a small single-threaded process that imports ``preload`` once and forks each worker.
    A worker forked from the desk's server itself would inherit its open files and database
    connections for as long as it lives (a PostgreSQL connection the server closed would stay
    open), and could inherit a lock that another of the server's threads held at the fork."""

    def __init__(self, size: int | None = None, preload: Sequence[str] = ()) -> None:
        self.size = max(1, size or os.cpu_count() or 1)
        self._idle: dict[tuple[Any, Limits], list[_Worker]] = {}
        self._lock = threading.Lock()
        if "forkserver" in multiprocessing.get_all_start_methods():
            self.context: Any = multiprocessing.get_context("forkserver")
            if preload:
                self.context.set_forkserver_preload(list(preload))
        else:
            self.context = _context()

    def take(self, key: tuple[Any, Limits]) -> _Worker | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                worker = idle.pop() if idle else None
            if worker is None or worker.process.is_alive():
                return worker
            worker.kill()  # died while idle (killed from outside): reaped, not used

    def prestart(self, work: Work[Any], limits: Limits, count: int) -> None:
        """Start ``count`` idle workers of ``work`` and ``limits`` (fewer if some are kept already)."""
        key = (work, limits)
        with self._lock:
            count = min(count, self.size) - len(self._idle.get(key, []))
        for _ in range(count):
            worker = _Worker(self.context, work, limits)
            if not self.give_back(key, worker):
                worker.stop()

    def give_back(self, key: tuple[Any, Limits], worker: _Worker) -> bool:
        """Keep ``worker`` (idle) for a later call; False when enough of its kind are kept (stop
        it then). At most ``size`` are kept in all: the workers of the kind given back least
        recently make room (the desk's workers of a round nobody uploads to any more)."""
        evicted = []
        with self._lock:
            idle = self._idle.pop(key, [])
            self._idle[key] = idle  # the most recent kind last
            if len(idle) >= self.size:
                return False
            idle.append(worker)
            while sum(len(kept) for kept in self._idle.values()) > self.size:
                oldest = next(k for k, kept in self._idle.items() if kept)
                evicted.append(self._idle[oldest].pop(0))
            for empty in [k for k, kept in self._idle.items() if not kept]:
                del self._idle[empty]
        for old in evicted:
            old.stop()
        return True

    def idle(self) -> list[int]:
        """The process ids of the workers kept idle now."""
        with self._lock:
            return [w.process.pid for workers in self._idle.values() for w in workers if w.process.pid]

    def close(self) -> None:
        """Stop every idle worker (they also die with this process)."""
        with self._lock:
            idle = [w for workers in self._idle.values() for w in workers]
            self._idle.clear()
        for worker in idle:
            worker.stop()


_MEMORY_ERROR = "__memory__"


class _Failed:
    """What a worker sends back when the work raised: the exception as text."""

    def __init__(self, detail: str) -> None:
        self.detail = detail


def _serve(conn: Connection, work: Work[Any], limits: Limits) -> None:
    """A worker's loop: take a path, send back ``(index, result)``; exit on None."""
    _die_with_parent()
    # What the worker inherits from its parent is never collected here: without this, the
    # worker's first collections walk every inherited object, copying each page they touch
    # (tens of milliseconds in a worker forked from the desk's server).
    gc.freeze()
    if resource is not None:
        limit = _address_space() + limits.memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the parent, which ends us
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        index, raw = task
        _cpu_backstop(limits)
        try:
            result: Any = work(Path(raw))
        except MemoryError:
            result = _MEMORY_ERROR
        except Exception as exc:  # noqa: BLE001 - the worker lives on for the next file
            result = _Failed(f"{type(exc).__name__}: {exc}")
        try:
            conn.send((index, result))
        except MemoryError:
            conn.send((index, _MEMORY_ERROR))
        except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
            conn.send((index, _Failed(f"{type(exc).__name__}: {exc}")))


def _cpu_backstop(limits: Limits) -> None:
    """A worker whose parent is gone unnoticed stops on CPU time: this file may use four times
    its wall-time limit and a minute more. Set afresh for each file (the soft limit, which a
    process may raise again): a worker lives for a whole intake, or longer in a pool, and what
    it spent on earlier files must not count against this one."""
    if resource is None:
        return
    with contextlib.suppress(ValueError, OSError):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(usage.ru_utime + usage.ru_stime + limits.seconds * 4) + 60
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _address_space() -> int:
    """This process's virtual size in bytes (0 where /proc does not say)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def _context() -> Any:
    # fork: a worker starts in milliseconds with the parent's modules already imported.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def run_limited(paths: Iterable[Path], work: Work[T], on_exceeded: Callable[[Path, str, str], T],
                limits: Limits | None = None, jobs: int | None = None,
                fork_lock: AbstractContextManager[Any] | None = None,
                pool: WorkerPool | None = None) -> Iterator[tuple[int, T]]:
    """``(index, work(path))`` for every path (``index``: its place in ``paths``), as they
    finish, each under ``limits``.

    ``work`` runs in up to ``jobs`` worker processes (default: every core, at most one per
    file); a file that exceeds a limit or kills its worker yields ``on_exceeded(path, why, detail)``
    (why: "time", "memory" or "crash"; "error" with the exception as ``detail`` when ``work``
    raised) and, unless the worker survived, a fresh worker takes over. Every index is yielded
    exactly once.

    ``paths`` may be a lazy iterable: a path is taken from it only when a worker has room for
    it, so the caller can prepare files (read, hash, store) while the workers check the earlier
    ones. ``fork_lock``: held around every fork, for a caller with a second thread that holds it
    while inside a library with locks of its own (a database driver): a child forked while that
    thread held such a lock would inherit it held for ever. ``pool``: idle workers to use first,
    and to give the idle ones back to at the end (:class:`WorkerPool`)."""
    limits = limits or Limits.from_env()
    if isinstance(paths, Sequence):
        if not paths:
            return
        jobs = min(jobs or os.cpu_count() or 1, len(paths))
    jobs = max(1, jobs or os.cpu_count() or 1)
    ctx = pool.context if pool is not None else _context()
    source = enumerate(paths)
    given: dict[int, Path] = {}
    """Paths handed out and not yet finished, by index."""
    pending: deque[int] = deque()
    """Indexes given back by a lost worker: they go out again before new paths."""
    workers: list[_Worker] = []
    exhausted = False

    def take() -> int | None:
        nonlocal exhausted
        if pending:
            return pending.popleft()
        if exhausted:
            return None
        try:
            index, path = next(source)
        except StopIteration:
            exhausted = True
            return None
        given[index] = path
        return index

    def feed(worker: _Worker) -> None:
        while len(worker.tasks) < QUEUE_DEPTH and (index := take()) is not None:
            worker.give(index, given[index])

    key = (work, limits)

    def fork() -> _Worker:
        kept = pool.take(key) if pool is not None else None
        if kept is not None:
            return kept
        with fork_lock or contextlib.nullcontext():
            return _Worker(ctx, work, limits)

    try:
        while len(workers) < jobs:
            if not exhausted and not pending:
                first = take()  # no worker for a batch that turns out to be empty
                if first is None:
                    break
                pending.appendleft(first)
            workers.append(fork())
            feed(workers[-1])
        while any(w.tasks for w in workers):
            busy = [w for w in workers if w.tasks]
            timeout = max(0.0, min(w.started + limits.seconds for w in busy) - time.monotonic())
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout=timeout)
            for i, worker in enumerate(workers):
                if not worker.tasks:
                    continue
                index = worker.tasks[0]
                path = given[index]
                outcome: tuple[int, T] | None = None
                lost = False  # the worker is dead or must be killed
                if worker.conn in ready:
                    try:
                        got, result = worker.conn.recv()
                    except (EOFError, OSError):
                        outcome, lost = (index, on_exceeded(path, "crash", "")), True
                    except Exception as exc:  # noqa: BLE001 - a result that cannot be unpickled
                        outcome = (index, on_exceeded(path, "error", f"{type(exc).__name__}: {exc}"))
                        worker.finished()
                    else:
                        if isinstance(result, _Failed):
                            result = on_exceeded(path, "error", result.detail)
                        elif isinstance(result, str) and result == _MEMORY_ERROR:
                            result = on_exceeded(path, "memory", "")
                        outcome = (got, result)
                        worker.finished()
                elif worker.process.sentinel in ready:
                    outcome, lost = (index, on_exceeded(path, "crash", "")), True
                elif time.monotonic() - worker.started >= limits.seconds:
                    outcome, lost = (index, on_exceeded(path, "time", "")), True
                if outcome is None:
                    continue
                if lost:  # its other files go back to the front of the queue; a fresh worker takes over
                    worker.tasks.popleft()
                    pending.extendleft(reversed(worker.tasks))
                    worker.kill()
                    worker = workers[i] = fork()
                del given[outcome[0]]
                yield outcome
                for each in workers:  # also the idle ones, when a lost worker's files came back
                    feed(each)
    finally:
        for worker in workers:
            if worker.tasks:
                worker.kill()
            elif pool is None or not pool.give_back(key, worker):
                worker.stop()


def in_order(results: Iterable[tuple[int, T]]) -> Iterator[T]:
    """The results of :func:`run_limited` in input order (held back until their turn)."""
    held: dict[int, T] = {}
    turn = 0
    for index, result in results:
        held[index] = result
        while turn in held:
            yield held.pop(turn)
            turn += 1


# -- returns --------------------------------------------------------------------------------------
def check_files_limited(paths: Sequence[Path], limits: Limits | None = None, *, key: Any = FROM_ENV,
                        against: Any = None, jobs: int | None = None, roster: Any = None,
                        allow_unsigned: bool = False) -> Iterator[Checked]:
    """:func:`xlperf.checks.checker.check_file` of every path, under ``limits``, in input order.

    ``key`` and ``against`` as for ``check_file``. A file that exceeds a limit is a
    :class:`Checked` with one error :data:`FILE_TOO_COMPLEX`."""
    limits = limits or Limits.from_env()
    work = functools.partial(check_file, key=key, against=against, roster=roster, allow_unsigned=allow_unsigned)
    return in_order(run_limited(paths, work, functools.partial(_too_complex, limits=limits), limits, jobs))


def _too_complex(path: Path, why: str, detail: str, limits: Limits) -> Checked:
    return Checked(file=path, findings=[exceeded_finding(path, why, limits, detail)])
