"""Long builds of the desk (the summary workbook, the templates zip) as background jobs.

A job runs in a thread of the server process that took the request; the page starts it with a
POST, then polls its status (htmx, every second) for a progress bar of n of N steps and, when
done, a download link. A job's state is a small JSON file beside its output in the board's
folder, so that with ``xlperf serve --workers N`` any worker answers the poll and the download:
``serve`` makes one temporary folder for all its workers and removes it when it stops; a desk
made without one gets its own (removed when the process ends).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import tempfile
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from starlette.exceptions import HTTPException

from xlperf.ledger.storage_errors import storage_problem

__all__ = ["Build", "Job", "JobBoard"]

RUNNING, DONE, FAILED = "running", "done", "failed"
KEEP_SECONDS = 24 * 3600
"""Finished jobs (and their files) older than this are removed when a new job starts."""
_JOB_ID = re.compile(r"[A-Za-z0-9_-]{16,64}")
NOT_FOUND = "没有这个生成任务（可能已过期或服务已重启），请重新生成。"

Build = Callable[[Path, Callable[[int, int], None]], None]
"""Writes the job's file at the given path, reporting (steps done, steps in all)."""


@dataclass
class Job:
    id: str
    kind: str
    round_id: int
    file_name: str
    """The name the download is offered under."""
    suffix: str
    done: int = 0
    total: int = 0
    state: str = RUNNING
    error: str = ""


class JobBoard:
    """The jobs of a desk, by id (an unguessable token), kept in ``folder``."""

    def __init__(self, folder: Path | None = None) -> None:
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="xlperf-desk-jobs-"))
            weakref.finalize(self, shutil.rmtree, folder, True)
        self.folder = folder

    def start(self, kind: str, round_id: int, file_name: str, suffix: str, build: Build) -> Job:
        self._forget_old()
        job = Job(secrets.token_urlsafe(24), kind, round_id, file_name, suffix)
        self._save(job)
        threading.Thread(target=self._run, args=(job, build), name=f"xlperf-{kind}-{job.id[:6]}",
                         daemon=True).start()
        return job

    def get(self, kind: str, round_id: int, job_id: str) -> Job:
        """The job ``job_id`` of that kind and round, or 404 (the id is checked before any file is read)."""
        if not _JOB_ID.fullmatch(job_id):
            raise HTTPException(404, NOT_FOUND)
        try:
            job = Job(**json.loads((self.folder / f"{job_id}.json").read_text(encoding="utf-8")))
        except (OSError, ValueError, TypeError):
            raise HTTPException(404, NOT_FOUND) from None
        if job.kind != kind or job.round_id != round_id:
            raise HTTPException(404, NOT_FOUND)
        return job

    def output(self, job: Job) -> Path:
        return self.folder / f"{job.id}{job.suffix}"

    def _run(self, job: Job, build: Build) -> None:
        def step(done: int, total: int) -> None:
            job.done, job.total = done, total
            self._save(job)

        try:
            build(self.output(job), step)
        except HTTPException as exc:
            job.error, job.state = str(exc.detail), FAILED
        except Exception as exc:  # noqa: BLE001 - the page must say what went wrong, not spin for ever
            problem = storage_problem(exc)
            job.error = problem.message() if problem is not None else f"{type(exc).__name__}: {exc}"
            job.state = FAILED
        else:
            job.state = DONE
        self._save(job)

    def _save(self, job: Job) -> None:
        """Write the state whole (a poll from another worker never reads half of it)."""
        target = self.folder / f"{job.id}.json"
        partial = target.with_suffix(".part")
        partial.write_text(json.dumps(asdict(job), ensure_ascii=False), encoding="utf-8")
        os.replace(partial, target)

    def _forget_old(self) -> None:
        cutoff = time.time() - KEEP_SECONDS
        for path in self.folder.iterdir():
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
            except OSError:
                pass  # another worker removed it first
