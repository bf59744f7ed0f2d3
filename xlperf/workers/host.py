"""Running work under the per-file limits for a process that may not start worker processes itself.

A Dask worker is a daemon process, and a daemon process may not start multiprocessing's child
processes: so the limited workers of :func:`xlperf.workers.run.run_limited` cannot be started
from it. A *host* can: an ordinary process (``python -m xlperf.workers.host``) that the Dask
worker starts once with :mod:`subprocess` and keeps, which runs each batch it is sent through
:func:`run_limited` (one worker at a time, started as every worker is) and sends the results
back, in order. So a file that hangs or bloats a reader on the cluster ends as the caller's
``on_exceeded`` says, as it would on this machine; the Dask worker itself never runs the work.

Requests and answers are pickles over the host's stdin and a private copy of its stdout (what
the work might print goes to stderr). A host that dies is started again for the next batch.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from xlperf.workers.limits import Limits
from xlperf.workers.pool import Work, handed
from xlperf.workers.run import in_order, run_limited

__all__ = ["HostDied", "run_hosted"]

T = TypeVar("T")


class HostDied(RuntimeError):
    """The host died twice on one batch (the caller files its files as crashed)."""


class HostProcess:
    """One host process (started when first needed, again after it died) and its pipes."""

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def run(self, request: tuple[Any, ...]) -> list[Any]:
        for attempt in range(2):
            process = self._running()
            try:
                assert process.stdin is not None and process.stdout is not None
                pickle.dump(request, process.stdin)
                process.stdin.flush()
                results: list[Any] = pickle.load(process.stdout)
                return results
            except (EOFError, OSError, pickle.UnpicklingError):
                self.stop()
                if attempt:
                    raise HostDied("审核进程异常退出") from None
        raise AssertionError("unreachable")

    def _running(self) -> subprocess.Popen[bytes]:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE)
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


_hosts = threading.local()
"""A host per thread of the Dask worker: a worker with several threads runs batches at once."""


def run_hosted(paths: Sequence[Path], work: Work[T], on_exceeded: Callable[[Path, str, str], T],
               limits: Limits, preload: Sequence[str] = ()) -> list[T]:
    """``work(path)`` of every path (in order), run by this thread's host under ``limits``, as
    :func:`run_limited` runs it (``work`` and ``on_exceeded`` picklable: module-level functions,
    or partials of them). ``preload``: as for :func:`run_limited`. What this process hands its
    workers (:func:`xlperf.workers.pool.hand_over`: the forms) goes to the host's workers too."""
    host = getattr(_hosts, "host", None)
    if host is None:
        host = _hosts.host = HostProcess()
    return host.run((list(paths), work, on_exceeded, limits, tuple(preload), handed()))


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    while True:
        try:
            paths, work, on_exceeded, limits, preload, given = pickle.load(requests)
        except EOFError:
            return
        for adopt, value in given:  # what the sender hands over (its forms): on to the host's workers
            adopt(value)
        results = list(in_order(run_limited(paths, work, on_exceeded, limits, jobs=1, preload=preload)))
        pickle.dump(results, answers)
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt an answer
    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
