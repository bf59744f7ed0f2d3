"""Worker processes that check files one after another under the per-file limits.

A :class:`Worker` is one process (forked, or started by a fork server for a :class:`WorkerPool`)
that takes a path, runs the work on it and sends back the result; the kernel holds it to the
memory limit (``RLIMIT_AS``), a CPU-time backstop is set for each file, and it dies with its
parent. :class:`Limits` says what checking one file may cost. The scheduling of many files over
workers, and what a file that exceeds a limit becomes, are :mod:`xlperf.checks.limited`'s.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

from xlperf.form.registry import Setting, adopt
from xlperf.form.registry import setting as forms_setting

try:
    import resource
except ImportError:  # Windows: no rlimits; the time limit still holds
    resource = None  # type: ignore[assignment]

__all__ = ["MEMORY_ERROR", "QUEUE_DEPTH", "Failed", "LimitError", "Limits", "Work", "Worker", "WorkerPool",
           "start_context"]

DEFAULT_SECONDS = 30.0
DEFAULT_MEMORY_MB = 1024
SECONDS_ENV = "XLPERF_FILE_SECONDS"
MEMORY_ENV = "XLPERF_FILE_MEMORY_MB"

log = logging.getLogger("xlperf.checks")
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



QUEUE_DEPTH = 2
"""Files handed to a worker at once: the next is waiting when one finishes, so a worker never
idles while the parent is busy; the time limit runs from the moment the worker starts a file."""


class Worker:
    """One worker process, the end of its pipe, and the files handed to it (the first in work)."""

    def __init__(self, ctx: Any, work: Work[Any], limits: Limits) -> None:
        self.conn, child = ctx.Pipe()
        # The forms are handed over, not inherited: a fork server started before --forms or
        # XLPERF_FORMS took effect would otherwise check with other forms than this process.
        self.forms = forms_setting()
        self.process = ctx.Process(target=_serve, args=(child, work, limits, self.forms), daemon=True)
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
    before it starts new ones, and gives back those that are idle at its end (at most ``size``
    are kept in all); a worker that was killed (a limit, a crash) is never given back. Safe to
    share between threads: a worker belongs to one call at a time.

    The pool's workers are started by multiprocessing's fork server where there is one (Linux,
    macOS): a small single-threaded process that imports ``preload`` once and forks each worker.
    A worker forked from the desk's server itself would inherit its open files and database
    connections for as long as it lives (a PostgreSQL connection the server closed would stay
    open), and could inherit a lock that another of the server's threads held at the fork."""

    def __init__(self, size: int | None = None, preload: Sequence[str] = ()) -> None:
        self.size = max(1, size or os.cpu_count() or 1)
        self._idle: dict[tuple[Any, Limits], list[Worker]] = {}
        self._lock = threading.Lock()
        self._closed = False
        if "forkserver" in multiprocessing.get_all_start_methods():
            self.context: Any = multiprocessing.get_context("forkserver")
            if preload:
                self.context.set_forkserver_preload(list(preload))
        else:
            self.context = start_context()

    def take(self, key: tuple[Any, Limits]) -> Worker | None:
        while True:
            with self._lock:
                idle = self._idle.get(key)
                worker = idle.pop() if idle else None
            if worker is None or (worker.process.is_alive() and worker.forms == forms_setting()):
                return worker
            worker.kill()  # died while idle (killed from outside), or has other forms: not used

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


def _serve(conn: Connection, work: Work[Any], limits: Limits, forms: Setting) -> None:
    """A worker's loop: take a path, send back ``(index, result)``; exit on None. ``forms``: the
    parent's forms (:func:`xlperf.form.registry.setting`)."""
    _die_with_parent()
    adopt(forms)
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


def start_context() -> Any:
    # fork: a worker starts in milliseconds with the parent's modules already imported.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")

