"""A gate for the kill-midway tests: ``python -m xlperf ...`` run with :func:`gated_env` has the
ledger's checker stopping at the file whose name contains NAME until the test opens the
FIFO. So the test kills a process at a known point (every file before the gate taken, the gated
one not), instead of guessing a moment by the clock: no machine is too fast or too slow for it.

:func:`gated_env` puts a ``sitecustomize`` on the path that installs the gate in every Python
process of that environment (checking workers may come from a fork server, a fresh interpreter). The test side is :func:`wait_at_gate`.
"""

from __future__ import annotations

import errno
import os
import subprocess
import time
from pathlib import Path
from typing import Any


def install(fifo: str, name: str) -> None:
    import xlperf.checks.check_files as checking

    real = checking.check_file
    if getattr(real, "gated", False):
        return

    def gated(path: Path, *args: Any, **kwargs: Any) -> Any:
        if name in Path(path).name:
            with open(fifo, "rb") as gate:  # blocks until the test opens the other end
                gate.read()
        return real(path, *args, **kwargs)

    gated.gated = True  # type: ignore[attr-defined]
    checking.check_file = gated  # type: ignore[assignment]


GATE_ENV = "XLPERF_TEST_GATE"


def gated_env(env: dict[str, str], fifo: Path, name: str) -> dict[str, str]:
    """``env`` for ``python -m xlperf ...`` with the gate in every process (fork-server workers too)."""
    site = fifo.parent / "gate-site"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text("import gate\ngate.install_from_env()\n", encoding="utf-8")
    tests = str(Path(__file__).resolve().parent)
    path = os.pathsep.join([str(site), tests, env.get("PYTHONPATH", "")])
    return {**env, "PYTHONPATH": path, GATE_ENV: f"{fifo}{os.pathsep}{name}"}


def install_from_env() -> None:
    spec = os.environ.get(GATE_ENV)
    if spec:
        fifo, name = spec.rsplit(os.pathsep, 1)
        install(fifo, name)


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
