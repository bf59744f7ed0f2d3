"""Long builds of the desk (the summary workbook, the templates zip) as background jobs.

A job runs in a thread of the server process; the page starts it with a POST, then polls its
status (htmx, every second) for a progress bar of n of N steps and, when done, a download link.
Finished files live in a temporary folder that the board owns (removed when the process ends).
A job is known only to the process that runs it: ``xlperf serve --workers N`` would need sticky
sessions for this, so the desk runs its builds with one worker's board per process.
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from starlette.exceptions import HTTPException

__all__ = ["Build", "Job", "JobBoard"]

RUNNING, DONE, FAILED = "running", "done", "failed"
KEEP = 20
"""Finished jobs kept per board: older ones (and their files) are dropped."""

Build = Callable[[Path, Callable[[int, int], None]], None]
"""Writes the job's file at the given path, reporting (steps done, steps in all)."""


@dataclass
class Job:
    id: str
    kind: str
    round_id: int
    file_name: str
    """The name the download is offered under."""
    path: Path
    done: int = 0
    total: int = 0
    state: str = RUNNING
    error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def step(self, done: int, total: int) -> None:
        with self.lock:
            self.done, self.total = done, total

    @property
    def finished(self) -> bool:
        return self.state != RUNNING


class JobBoard:
    """The jobs of one server process, by id (an unguessable token)."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="xlperf-desk-jobs-"))
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        weakref.finalize(self, shutil.rmtree, self.folder, True)

    def start(self, kind: str, round_id: int, file_name: str, suffix: str, build: Build) -> Job:
        job_id = secrets.token_urlsafe(16)
        job = Job(job_id, kind, round_id, file_name, self.folder / f"{job_id}{suffix}")
        with self._lock:
            self.jobs[job_id] = job
            self._forget_old()
        threading.Thread(target=self._run, args=(job, build), name=f"xlperf-{kind}-{job_id[:6]}",
                         daemon=True).start()
        return job

    def get(self, kind: str, round_id: int, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None or job.kind != kind or job.round_id != round_id:
            raise HTTPException(404, "没有这个生成任务（可能已过期或服务已重启），请重新生成。")
        return job

    def _run(self, job: Job, build: Build) -> None:
        try:
            build(job.path, job.step)
        except HTTPException as exc:
            job.error, job.state = str(exc.detail), FAILED
        except Exception as exc:  # noqa: BLE001 - the page must say what went wrong, not spin for ever
            job.error, job.state = f"{type(exc).__name__}: {exc}", FAILED
        else:
            job.state = DONE

    def _forget_old(self) -> None:
        finished = [j for j in self.jobs.values() if j.finished]
        for job in finished[:max(0, len(finished) - KEEP)]:
            del self.jobs[job.id]
            job.path.unlink(missing_ok=True)
