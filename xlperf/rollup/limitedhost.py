"""Checking under the per-file limits for a process that may not start worker processes itself.

A Dask worker is a daemon process, and a daemon process may not start multiprocessing's child
processes: so the limited workers of :mod:`xlperf.checks.limited` cannot be started from it.
A *host* can: an ordinary process (``python -m xlperf.rollup.limitedhost``) that the Dask
worker starts once with :mod:`subprocess` and keeps, which checks each batch it is sent with
:func:`xlperf.checks.check_files.check_files` (one limited worker at a time, forked from the
host after it loaded the forms) and sends the records back. So a file that hangs or bloats a
reader on the cluster ends as ``FILE_TOO_COMPLEX`` as it would on this machine, and one that
kills its worker as ``WORKER_CRASHED``; the Dask worker itself never runs a reader.

Requests and answers are pickles over the host's stdin and a private copy of its stdout (what
the checks might print goes to stderr). A host that dies is started again for the next batch.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Any

from xlperf.checks.check_files import CheckContext, Keep
from xlperf.checks.limited import Limits
from xlperf.findings import CheckedReturn
from xlperf.form.registry import Setting, adopt
from xlperf.rollup.collect import collect_returns

__all__ = ["HostError", "check_hosted"]


class HostError(RuntimeError):
    """The host died twice on one batch (the caller files its files as crashed)."""


class _Host:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None

    def check(self, request: tuple[Any, ...]) -> list[CheckedReturn]:
        for attempt in range(2):
            process = self._running()
            try:
                assert process.stdin is not None and process.stdout is not None
                pickle.dump(request, process.stdin)
                process.stdin.flush()
                records: list[CheckedReturn] = pickle.load(process.stdout)
                return records
            except (EOFError, OSError, pickle.UnpicklingError):
                self.stop()
                if attempt:
                    raise HostError("审核进程异常退出") from None
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
"""A host per thread of the Dask worker: a worker with several threads checks batches at once."""


def check_hosted(paths: Sequence[Path], context: CheckContext, limits: Limits, keep: Keep,
                 check: Callable[[Path], CheckedReturn] | None = None,
                 forms: Setting | None = None) -> list[CheckedReturn]:
    """The returns of ``paths`` (in order), checked by this thread's host under ``limits`` with
    ``context``, as :func:`xlperf.checks.check_files.check_files` gives them (``keep``;
    ``check``: its ``work``, tests); ``forms``: the bureau's forms of the machine that sent the
    batch (:func:`xlperf.form.registry.setting`)."""
    host = getattr(_hosts, "host", None)
    if host is None:
        host = _hosts.host = _Host()
    return host.check((list(paths), context, limits, keep, check, forms))


def _serve(requests: IO[bytes], answers: IO[bytes]) -> None:
    while True:
        try:
            paths, context, limits, keep, check, forms = pickle.load(requests)
        except EOFError:
            return
        if forms is not None:
            adopt(forms)
        pickle.dump(collect_returns(paths, jobs=1, limits=limits, context=context, keep=keep, check=check),
                    answers)
        answers.flush()


def main() -> None:
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # a stray print must not corrupt an answer
    from xlperf.form.registry import builtin_forms, builtin_layout
    for form_id in builtin_forms():  # loaded once here: every worker forked from the host has them
        builtin_layout(form_id)
    _serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
