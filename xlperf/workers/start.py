"""How worker processes are started: never forked from the process that asks for them.

A process that checks files for a round holds a database engine (its connections, and locks of
the driver's) and often threads (the intake's recording thread, the desk's request threads, the
watcher's). A child forked from it would inherit the connections for as long as it lives and a
lock another thread held at the fork held for ever. So workers are started by multiprocessing's
*fork server* where there is one (Linux, macOS): a fresh single-threaded interpreter, started
with ``exec`` the first time a worker is needed, that imports the work's module once and forks
each worker from itself. Where there is none (Windows), each worker is a fresh interpreter
(*spawn*); Python 3.14 makes the fork server the default on Linux for the same reason.

``XLPERF_START_METHOD=spawn`` (or ``forkserver``) chooses the method; ``fork`` is not offered.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Iterable, Mapping
from multiprocessing.context import BaseContext

from xlperf.workers.limits import LimitError

__all__ = ["METHODS", "START_ENV", "start_context", "start_method"]

START_ENV = "XLPERF_START_METHOD"
METHODS = ("forkserver", "spawn")
"""The start methods offered, the default first (where the platform has it)."""

_preload: dict[str, None] = {"__main__": None}
"""Modules the fork server imports when it starts (multiprocessing's default is ``__main__``),
in the order asked; asked for after the server started, they are imported by each worker."""
_lock = threading.Lock()


def start_method(env: Mapping[str, str] | None = None) -> str:
    """The start method of this process's workers: :data:`START_ENV`, else the first of
    :data:`METHODS` the platform has."""
    env = os.environ if env is None else env
    offered = [m for m in METHODS if m in multiprocessing.get_all_start_methods()]
    raw = env.get(START_ENV, "").strip()
    if not raw:
        return offered[0]
    if raw not in offered:
        raise LimitError(f"环境变量 {START_ENV}={raw!r} 无效：应为 {' 或 '.join(offered)}")
    return raw


def start_context(preload: Iterable[str] = ()) -> BaseContext:
    """The multiprocessing context workers are started with (:func:`start_method`); ``preload``:
    modules the fork server imports before it forks the first worker (the work's own, a module
    that loads the forms), so that each worker starts with them."""
    method = start_method()
    context = multiprocessing.get_context(method)
    if method == "forkserver":
        with _lock:
            _preload.update(dict.fromkeys(preload))
            context.set_forkserver_preload(list(_preload))
    return context
