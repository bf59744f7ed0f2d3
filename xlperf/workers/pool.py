"""Worker processes that run a work on files one after another under the per-file limits, and
the pool that keeps idle ones between calls.

A :class:`Worker` is one process, started by :func:`xlperf.workers.start.start_context` (a fork
server, or a fresh interpreter: never forked from the process that asks for it), that takes a
path, runs the work on it and sends back the result; the kernel holds it to the memory limit
(``RLIMIT_AS``), a CPU-time backstop is set for each file, and it ends when the process that
started it ends (even in the middle of a file), and with its own parent. It runs in the
environment and working folder of the process that started it, as a forked one would.
The scheduling of many files over workers is :func:`xlperf.workers.run.run_limited`'s.

Where there are no rlimits (Windows: no :mod:`resource`), the memory limit is a watchdog: the
worker says where its ceiling lies (its size at its start plus the limit), and the parent,
which watches it anyway for the time limit, kills it when its size passes the ceiling
(:meth:`Worker.over_memory`), with the same finding as a ``MemoryError`` under ``RLIMIT_AS``.
The size is psutil's ``vms``: the address space on Linux (what ``RLIMIT_AS`` bounds), the
committed private memory on Windows. Being a look every :data:`WATCH_SECONDS`, it lets a file
overshoot by what it allocates in that time, where the kernel refuses the first byte over. The
CPU-time backstop becomes a thread of the worker's that looks at its CPU time
(:func:`_watch_cpu`).
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

import psutil

from xlperf.workers.limits import Limits
from xlperf.workers.start import start_context

try:
    import resource
except ImportError:  # Windows: no rlimits; the parent watches the memory, a thread the CPU time
    resource = None  # type: ignore[assignment]

__all__ = ["MEMORY_ERROR", "QUEUE_DEPTH", "WATCH_SECONDS", "Failed", "Work", "Worker", "WorkerPool", "hand_over", "handed", "preload_of"]

log = logging.getLogger("xlperf.checks")
"""The operator's logger for a check that failed (the same as the checker's, see README)."""
T = TypeVar("T")
Work = Callable[[Path], T]


def preload_of(work: Any) -> list[str]:
    """The module that defines ``work`` (a function, a ``functools.partial`` of one, an instance
    of a class): what a fork server imports so that its workers need not."""
    target = getattr(work, "func", work)
    module = getattr(target, "__module__", None) or type(target).__module__
    return [module] if module and module not in ("__main__", "builtins") else []


_handovers: list[tuple[Callable[[], Any], Callable[[Any], None]]] = []


def hand_over(current: Callable[[], Any], adopt: Callable[[Any], None]) -> None:
    """Have every worker started from now on call ``adopt(current())`` -- ``current`` called in
    the process that starts it -- before its first file: state of this process that a worker
    started afresh would not have (the bureau's forms, :mod:`xlperf.form.registry`). Both are
    module-level functions (pickled by name). A kept worker given another value than ``current()``
    gives now is not reused."""
    if (current, adopt) not in _handovers:
        _handovers.append((current, adopt))


def handed() -> tuple[tuple[Callable[[Any], None], Any], ...]:
    """What a worker started now is handed: ``(adopt, value)`` of every :func:`hand_over`."""
    return tuple((adopt, current()) for current, adopt in _handovers)


QUEUE_DEPTH = 2
"""Files handed to a worker at once: the next is waiting when one finishes, so a worker never
idles while the parent is busy; the time limit runs from the moment the worker starts a file."""
WATCH_SECONDS = 0.05
"""How often the parent looks at a busy worker's size where no rlimit holds it (no :mod:`resource`)."""


class Worker:
    """One worker process, the end of its pipe, and the files handed to it (the first in work)."""

    def __init__(self, ctx: Any, work: Work[Any], limits: Limits) -> None:
        self.conn, child = ctx.Pipe()
        # The worker ends when this process does, whoever its parent (a fork server outlives us
        # while a worker runs): it watches a pipe whose only writing end is held here.
        watched, self._alive = ctx.Pipe(duplex=False)
        # This process's environment and folder as they are now: a fork server's are as they
        # were when it started (a signing key set since, a relative path given since).
        self.handed = handed()
        # Where no rlimit holds the worker: the size at which the parent kills it, in bytes,
        # written by the worker once it has started (0 until then).
        self.ceiling = ctx.RawValue("q", 0) if resource is None else None
        self.process = ctx.Process(target=_serve, args=(child, watched, work, limits, dict(os.environ), os.getcwd(),
                                                        self.handed, self.ceiling), daemon=True)
        self.process.start()
        child.close()
        watched.close()
        self._watched: psutil.Process | None = None
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

    @property
    def watched(self) -> bool:
        """Whether the parent holds this worker to the memory limit (no rlimit does)."""
        return self.ceiling is not None

    def over_memory(self) -> bool:
        """Whether the worker has grown past its ceiling (only where no rlimit holds it)."""
        if self.ceiling is None or not self.ceiling.value or self.process.pid is None:
            return False
        try:
            if self._watched is None:
                self._watched = psutil.Process(self.process.pid)
            return bool(self._watched.memory_info().vms > self.ceiling.value)
        except psutil.Error:  # gone: its sentinel says so
            return False

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.join()
        self.conn.close()
        self._alive.close()

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.kill()
        self.conn.close()
        self._alive.close()


class WorkerPool:
    """Idle workers kept from one :func:`run_limited` call to the next, for a long-running process
    that checks a few files at a time (the desk: each upload request checks a handful). A worker
    started per call costs more than its files (the start, then the first file loading the
    forms). A call takes idle workers of the same work and limits
    before it starts new ones, and gives back those that are idle at its end (at most ``size``
    are kept in all); a worker that was killed (a limit, a crash) is never given back. Safe to
    share between threads: a worker belongs to one call at a time.

    The pool's workers are started as every worker is (:mod:`xlperf.workers.start`), with
    ``preload`` imported by the fork server once (a module that loads the forms)."""

    def __init__(self, size: int | None = None, preload: Sequence[str] = ()) -> None:
        self.size = max(1, size or os.cpu_count() or 1)
        self._idle: dict[tuple[Any, Limits], list[Worker]] = {}
        self._lock = threading.Lock()
        self._closed = False
        self.context: Any = start_context(preload)

    def take(self, key: tuple[Any, Limits]) -> Worker | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                worker = idle.pop() if idle else None
            if worker is None or (worker.process.is_alive() and worker.handed == handed()):
                return worker
            worker.kill()  # died while idle (killed from outside), or handed other state (forms): not used

    def prestart(self, work: Work[Any], limits: Limits, count: int) -> None:
        """Start ``count`` idle workers of ``work`` and ``limits`` (fewer if some are kept already)."""
        key = (work, limits)
        with self._lock:
            count = min(count, self.size) - len(self._idle.get(key, []))
        for _ in range(count):
            worker = Worker(self.context, work, limits)
            if not self.give_back(key, worker):
                worker.stop()

    def give_back(self, key: tuple[Any, Limits], worker: Worker) -> bool:
        """Keep ``worker`` (idle) for a later call; False when enough of its kind are kept (stop
        it then). At most ``size`` are kept in all: the workers of the kind given back least
        recently make room (the desk's workers of a round nobody uploads to any more)."""
        evicted = []
        with self._lock:
            if self._closed:  # a worker started as the server stopped: not kept
                return False
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
            self._closed = True
            idle = [w for workers in self._idle.values() for w in workers]
            self._idle.clear()
        for worker in idle:
            worker.stop()


MEMORY_ERROR = "__memory__"


class Failed:
    """What a worker sends back when the work raised: the exception as text."""

    def __init__(self, detail: str) -> None:
        self.detail = detail


def _serve(conn: Connection, watched: Connection, work: Work[Any], limits: Limits, environ: Mapping[str, str],
           folder: str, given: Sequence[tuple[Callable[[Any], None], Any]] = (), ceiling: Any = None) -> None:
    """A worker's loop: take a path, send back ``(index, result)``; exit on None. ``given``: what
    the parent hands over (:func:`hand_over`); ``ceiling``: a shared value to say the size the
    parent holds this worker to, where no rlimit does."""
    _die_with_parent()
    threading.Thread(target=_exit_when_closed, args=(watched,), name="xlperf-worker-watch", daemon=True).start()
    os.environ.clear()
    os.environ.update(environ)
    with contextlib.suppress(OSError):
        os.chdir(folder)
    for adopt, value in given:
        adopt(value)
    # What the worker inherits from the fork server is never collected here: without this, the
    # worker's first collections walk every inherited object, copying each page they touch.
    gc.freeze()
    if resource is not None:
        limit = _address_space() + limits.memory_mb * 1024 * 1024
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    else:
        me = psutil.Process()
        looked = threading.Event()
        threading.Thread(target=_watch_cpu, args=(me, looked), name="xlperf-worker-cpu", daemon=True).start()
        looked.wait(10)  # the thread's stack and its memory (an arena of its own) not counted against a file
        if ceiling is not None:
            ceiling.value = me.memory_info().vms + limits.memory_mb * 1024 * 1024
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
            result = MEMORY_ERROR
        except Exception as exc:  # noqa: BLE001 - the worker lives on for the next file
            log.error("checking %s failed in xlperf (worker %d)", raw, os.getpid(), exc_info=exc)
            result = Failed(f"{type(exc).__name__}: {exc}")
        try:
            conn.send((index, result))
        except MemoryError:
            conn.send((index, MEMORY_ERROR))
        except Exception as exc:  # noqa: BLE001 - e.g. a result that cannot be pickled
            log.error("the result of %s could not be sent (worker %d)", raw, os.getpid(), exc_info=exc)
            conn.send((index, Failed(f"{type(exc).__name__}: {exc}")))


def _cpu_backstop(limits: Limits) -> None:
    """A worker whose parent is gone unnoticed stops on CPU time: this file may use four times
    its wall-time limit and a minute more. Set afresh for each file (the soft limit, which a
    process may raise again): a worker lives for a whole intake, or longer in a pool, and what
    it spent on earlier files must not count against this one."""
    if resource is None:  # _watch_cpu holds the worker to it
        used = psutil.Process().cpu_times()
        _file_cpu[:] = [used.user + used.system + limits.seconds * 4 + 60]
        return
    with contextlib.suppress(ValueError, OSError):
        usage = resource.getrusage(resource.RUSAGE_SELF)
        _, hard = resource.getrlimit(resource.RLIMIT_CPU)
        soft = int(usage.ru_utime + usage.ru_stime + limits.seconds * 4) + 60
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


_file_cpu: list[float] = []
"""Where no rlimit holds the worker: the CPU seconds at which it ends itself (set per file)."""


def _watch_cpu(me: psutil.Process, looked: threading.Event, interval: float = 1.0) -> None:
    """The CPU-time backstop where there are no rlimits: end this worker when its CPU time
    passes the ceiling :func:`_cpu_backstop` set for its file. A thread, so it looks only when
    the interpreter lets it run (not inside a C call that holds the GIL, as ``RLIMIT_CPU`` would).
    ``looked`` is set after its first look."""
    while True:
        used = me.cpu_times()
        looked.set()
        if _file_cpu and used.user + used.system > _file_cpu[-1]:
            log.error("worker %d ended: CPU time over %.0f s on one file", os.getpid(), _file_cpu[-1])
            os._exit(1)
        time.sleep(interval)


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


def _exit_when_closed(watched: Connection) -> None:
    """End this worker when the process it works for is gone (its end of ``watched`` closed),
    even in the middle of a file."""
    with contextlib.suppress(EOFError, OSError):
        watched.recv()
    os._exit(1)


def _die_with_parent() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
