"""A gate for the kill-midway tests: ``python -m gate FIFO NAME ARGS...`` runs ``xlperf ARGS``
with the ledger's checker stopping at the file whose name contains NAME until the test opens the
FIFO. So the test kills a process at a known point (every file before the gate taken, the gated
one not), instead of guessing a moment by the clock: no machine is too fast or too slow for it.

The test side is :func:`wait_at_gate`.
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def install(fifo: str, name: str) -> None:
    import xlperf.ledger.checking as checking

    real = checking.check_file

    def gated(path: Path, *args: Any, **kwargs: Any) -> Any:
        if name in Path(path).name:
            with open(fifo, "rb") as gate:  # blocks until the test opens the other end
                gate.read()
        return real(path, *args, **kwargs)

    checking.check_file = gated  # type: ignore[assignment]


def wait_at_gate(fifo: Path, process: subprocess.Popen[Any], timeout: float = 300) -> int:
    """Block until ``process`` (or a worker of it) waits at the gate; returns the FIFO's write end
    (close it after killing the process). ``timeout`` only bounds a process that never gets there."""
    end = time.monotonic() + timeout
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)  # succeeds once a reader has it open
        except OSError as exc:
            if exc.errno != errno.ENXIO:
                raise
        if process.poll() is not None:
            raise AssertionError(f"the process ended (exit {process.returncode}) before reaching the gate")
        if time.monotonic() > end:
            raise AssertionError(f"the process did not reach the gate within {timeout} s")
        time.sleep(0.02)


def main() -> None:
    fifo, name, *args = sys.argv[1:]
    install(fifo, name)
    from xlperf.cli import main as xlperf

    xlperf(args=args, prog_name="xlperf")


if __name__ == "__main__":
    main()
