"""How the tests see and choose the way worker processes start.

xlperf never forks a worker from the process that asks for one (:mod:`xlperf.workers.start`): a
fork server or spawn. A test that patches a check in its own process and needs the workers to
run the patched code forks them from itself on purpose, with :func:`forked_workers`; only tests
do that.

:func:`probe_env` puts a probe into every Python process of a command run under it, which
records how each process came to be (started afresh, forked, and from what: its parent's threads
and database engines at the fork): :func:`started` reads it back.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import xlperf.workers.start as start

ROOT = Path(__file__).resolve().parent.parent


def forked_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers of this test are forked from the test's process, so that its patches reach them."""
    monkeypatch.setattr(start, "start_method", lambda env=None: "fork")


PROBE_ENV = "XLPERF_TEST_START_PROBE"
PROBE = '''\
import gc, json, os, sys, threading

_LOG = os.environ.get("XLPERF_TEST_START_PROBE")


def _write(entry):
    with open(_LOG, "a", encoding="utf-8") as out:
        out.write(json.dumps(entry) + "\\n")


def _engines():
    base = sys.modules.get("sqlalchemy.engine.base")
    return 0 if base is None else sum(isinstance(o, base.Engine) for o in gc.get_objects())


_parent = {}


def _before():
    _parent.update(pid=os.getpid(), threads=threading.active_count(), engines=_engines())


def _child():
    _write({"event": "fork", "pid": os.getpid(), "parent": dict(_parent)})


if _LOG:
    os.register_at_fork(before=_before, after_in_child=_child)
    with open("/proc/self/cmdline", "rb") as cmdline:
        argv = [a.decode("utf-8", "replace") for a in cmdline.read().split(b"\\0") if a]
    _write({"event": "start", "pid": os.getpid(), "ppid": os.getppid(), "argv": argv})
'''


@dataclass
class Started:
    """What the probe saw in every Python process of one command: how each came to be."""

    command: int
    """The command's process id."""
    forks: list[dict[str, Any]]
    """Every fork: the child's pid, and the parent's pid, threads and SQLAlchemy engines then."""
    starts: list[dict[str, Any]]
    """Every interpreter started: pid, ppid, argv."""

    def fork_servers(self) -> set[int]:
        return {s["pid"] for s in self.starts if any("multiprocessing.forkserver" in a for a in s["argv"])}

    def workers(self) -> list[tuple[str, int, int]]:
        """(how, pid, parent) of each worker: forked by a fork server, spawned, or forked by anyone else."""
        servers = self.fork_servers()
        out = [("forkserver" if f["parent"]["pid"] in servers else "fork", f["pid"], f["parent"]["pid"])
               for f in self.forks]
        out += [("spawn", s["pid"], s["ppid"]) for s in self.starts if "--multiprocessing-fork" in s["argv"]]
        return out

    def unsafe_forks(self) -> list[dict[str, Any]]:
        """Forks from the command itself or from a process with threads or a database engine."""
        return [f for f in self.forks if f["parent"]["pid"] == self.command or f["parent"]["threads"] > 1
                or f["parent"]["engines"] > 0]


def probe_env(folder: Path, env: Mapping[str, str | None]) -> tuple[dict[str, str], Path]:
    """``env`` with the probe in every Python process started under it (a ``sitecustomize`` on
    the path) and xlperf from this tree; the probe's log."""
    site = folder / "start-probe"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(PROBE, encoding="utf-8")
    log = folder / "start-probe.jsonl"
    log.unlink(missing_ok=True)
    merged = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    merged["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    merged[PROBE_ENV] = str(log)
    return merged, log


def started(log: Path, command: int) -> Started:
    entries = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []
    return Started(command, [e for e in entries if e["event"] == "fork"], [e for e in entries if e["event"] == "start"])
