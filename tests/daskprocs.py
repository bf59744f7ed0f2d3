"""A Dask cluster as users start one: ``dask scheduler`` and ``dask worker`` as separate
processes (Dask's own command line, ``python -m dask`` being the same entry point as the
``dask`` script), on loopback. The scheduler binds port 0 itself and reports its address in
its ``--scheduler-file``: no port is picked here and rebound there.

Workers get ``tests/`` on their PYTHONPATH, so a test may send a check of its own (a
module-level function of a test module) to the cluster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 120


class DaskProcesses:
    """``dask scheduler --port 0`` and ``dask worker --nworkers N --nthreads 1`` on 127.0.0.1;
    :attr:`address` is the scheduler's ``tcp://127.0.0.1:PORT``."""

    def __init__(self, workers: int = 2, env: dict[str, str] | None = None) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="xlperf-dask-"))
        self.file = self.folder / "scheduler.json"
        self.workers = workers
        self.env = {**os.environ, **(env or {}),
                    "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
        self.processes: list[subprocess.Popen[bytes]] = []
        self.address = ""

    def _start(self, *args: str, log: str) -> None:
        with open(self.folder / log, "wb") as out:
            self.processes.append(subprocess.Popen([sys.executable, "-m", "dask", *args], cwd=self.folder,
                                                   env=self.env, stdout=out, stderr=subprocess.STDOUT))

    def start(self) -> DaskProcesses:
        self._start("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--scheduler-file", str(self.file), log="scheduler.log")
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.file.exists() or not self.file.read_text(encoding="utf-8").strip():
            self._alive_or_fail(deadline)
            time.sleep(0.1)
        self.address = str(json.loads(self.file.read_text(encoding="utf-8"))["address"])
        self._start("worker", self.address, "--nworkers", str(self.workers), "--nthreads", "1",
                    "--no-dashboard", "--host", "127.0.0.1", "--memory-limit", "0", log="worker.log")
        with self.client() as client:
            client.wait_for_workers(self.workers, timeout=START_TIMEOUT_S)
        return self

    def client(self) -> Any:
        """A client of its own, not the default one (as ``xlperf`` makes it)."""
        from distributed import Client

        return Client(self.address, set_as_default=False, timeout=START_TIMEOUT_S)

    def _alive_or_fail(self, deadline: float) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(f"a Dask process exited ({process.args}):\n{self.logs()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the Dask scheduler did not start:\n{self.logs()}")

    def logs(self) -> str:
        return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in sorted(self.folder.glob("*.log")))

    def stop(self) -> None:
        for process in reversed(self.processes):  # workers first: they would wait for the scheduler
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.processes.clear()
