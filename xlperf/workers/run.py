"""Run a work on many files under enforced limits: wall time and memory per file, in worker processes.

Readers are written to refuse hostile input early, but a file may still find a path nobody
foresaw (a pattern that backtracks, a C or Rust library that loops or allocates without end).
So every file of a batch is handled in a worker process (:mod:`xlperf.workers.pool`) that the
kernel holds to the memory limit (``RLIMIT_AS``; where there is none, the parent looks at its
size every :data:`~xlperf.workers.pool.WATCH_SECONDS`) and the parent holds to the time limit
(the worker is killed when its file takes longer). A file that exceeds a limit, or whose worker dies,
ends as what the caller's ``on_exceeded`` makes of it; a fresh worker takes the dead one's place
and the batch goes on. Workers are reused from file to file, so a batch costs one start per
worker, not one per file; each worker also dies with its parent (``PR_SET_PDEATHSIG`` on Linux)
and has a CPU-time limit per file as a backstop, so none keeps spinning after the batch is gone.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from multiprocessing.connection import wait
from pathlib import Path
from typing import TypeVar

from xlperf.workers.limits import Limits
from xlperf.workers.pool import (
    MEMORY_ERROR,
    QUEUE_DEPTH,
    WATCH_SECONDS,
    Failed,
    Work,
    Worker,
    WorkerPool,
    preload_of,
)
from xlperf.workers.start import start_context

__all__ = ["in_order", "run_limited"]

T = TypeVar("T")


def run_limited(paths: Iterable[Path], work: Work[T], on_exceeded: Callable[[Path, str, str], T],
                limits: Limits | None = None, jobs: int | None = None,
                pool: WorkerPool | None = None, preload: Sequence[str] = ()) -> Iterator[tuple[int, T]]:
    """``(index, work(path))`` for every path (``index``: its place in ``paths``), as they
    finish, each under ``limits``.

    ``work`` runs in up to ``jobs`` worker processes (default: every core, at most one per
    file); a file that exceeds a limit or kills its worker yields ``on_exceeded(path, why, detail)``
    (why: "time", "memory" or "crash"; "error" with the exception as ``detail`` when ``work``
    raised) and, unless the worker survived, a fresh worker takes over. Every index is yielded
    exactly once.

    ``paths`` may be a lazy iterable: a path is taken from it only when a worker has room for
    it, so the caller can prepare files (read, hash, store) while the workers check the earlier
    ones. ``pool``: idle workers to use first, and to give the idle ones back to at the end
    (:class:`WorkerPool`). ``preload``: modules the fork server imports before it forks a
    worker, besides ``work``'s own (a module that loads the forms), when the server is not
    running yet."""
    limits = limits or Limits.from_env()
    if isinstance(paths, Sequence):
        if not paths:
            return
        jobs = min(jobs or os.cpu_count() or 1, len(paths))
    jobs = max(1, jobs or os.cpu_count() or 1)
    ctx = pool.context if pool is not None else start_context([*preload_of(work), *preload])
    source = enumerate(paths)
    given: dict[int, Path] = {}
    """Paths handed out and not yet finished, by index."""
    pending: deque[int] = deque()
    """Indexes given back by a lost worker: they go out again before new paths."""
    workers: list[Worker] = []
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

    def feed(worker: Worker) -> None:
        while len(worker.tasks) < QUEUE_DEPTH and (index := take()) is not None:
            worker.give(index, given[index])

    key = (work, limits)

    def start() -> Worker:
        kept = pool.take(key) if pool is not None else None
        if kept is not None:
            return kept
        return Worker(ctx, work, limits)

    try:
        while len(workers) < jobs:
            if not exhausted and not pending:
                first = take()  # no worker for a batch that turns out to be empty
                if first is None:
                    break
                pending.appendleft(first)
            workers.append(start())
            feed(workers[-1])
        while any(w.tasks for w in workers):
            busy = [w for w in workers if w.tasks]
            timeout = max(0.0, min(w.started + limits.seconds for w in busy) - time.monotonic())
            if any(w.watched for w in busy):
                timeout = min(timeout, WATCH_SECONDS)
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
                        if isinstance(result, Failed):
                            result = on_exceeded(path, "error", result.detail)
                        elif isinstance(result, str) and result == MEMORY_ERROR:
                            result = on_exceeded(path, "memory", "")
                        outcome = (got, result)
                        worker.finished()
                elif worker.process.sentinel in ready:
                    outcome, lost = (index, on_exceeded(path, "crash", "")), True
                elif time.monotonic() - worker.started >= limits.seconds:
                    outcome, lost = (index, on_exceeded(path, "time", "")), True
                elif worker.over_memory():
                    outcome, lost = (index, on_exceeded(path, "memory", "")), True
                if outcome is None:
                    continue
                if lost:  # its other files go back to the front of the queue; a fresh worker takes over
                    worker.tasks.popleft()
                    pending.extendleft(reversed(worker.tasks))
                    worker.kill()
                    worker = workers[i] = start()
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
