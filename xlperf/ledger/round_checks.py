"""Checking files of a round: the round's context and rules, and files under their given names.

Every file of a round is checked by :func:`xlperf.checks.check_files.check_files` (the one way
files are checked) with the round's :class:`~xlperf.checks.check_files.CheckContext`
(:func:`round_check`: roster, signing key), keeping :data:`~xlperf.checks.check_files.STORED`:
the worker sends back the return's slim form with the JSON the ledger stores, encoded there, so
the main process only writes rows. :func:`require_round_rules` refuses a round whose rules this
process cannot enforce; :func:`checkable_name` and :func:`materialised` give the checker files
under the names units gave them.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from xlperf.checks.check_files import STORED, CheckContext, CheckWork
from xlperf.findings import CheckedReturn
from xlperf.form.signkeys import SigningKeyError, key_from_env
from xlperf.ledger.chaincheck import declarations_version, round_declarations
from xlperf.ledger.models import Round
from xlperf.ledger.roundcache import round_cached, round_version
from xlperf.ledger.roundform import round_form
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.ledger.store import FileStore
from xlperf.rollup.collect import Progress, collect_returns
from xlperf.workers.limits import Limits
from xlperf.workers.pool import WorkerPool

__all__ = ["MAX_NAME_BYTES", "RoundNotReady", "check_many", "checkable_name", "materialised",
           "require_round_rules", "round_check", "workers"]


class RoundNotReady(Exception):
    """This process lacks what a round's rules need (Chinese message saying what to set)."""


def require_round_rules(rnd: Round) -> None:
    """Raise :class:`RoundNotReady` unless every rule of ``rnd`` can be enforced here. Every
    route into a round (folder intake, a desk upload, the mailbox watcher) calls it before it
    takes a file: a round that requires signatures needs the signing key, without which the
    checker only notes that a signature was not verified and an unsigned return would pass."""
    if not rnd.signatures_required:
        return
    try:
        key = key_from_env()
    except SigningKeyError as exc:
        raise RoundNotReady(f"签名密钥配置有误：{exc}") from None
    if key is None:
        raise RoundNotReady(f"报送任务“{rnd.name}”要求签名：请先设置 XLPERF_SIGNING_KEY 或 XLPERF_KEY_FILE，"
                            "以便核验每份报表的签名；未设置时不收取此任务的报表")


def round_check(session: Session, rnd: Round) -> CheckContext:
    """The context of checking a file of ``rnd``: the spec it keeps, its roster and, for a round
    that follows a declaring round, that round's accepted declarations, the targets every route
    into the round compares with (:mod:`xlperf.ledger.chaincheck`); read once per process while the
    round and those declarations are unchanged (:func:`xlperf.ledger.roundcache.round_version`,
    :func:`xlperf.ledger.chaincheck.declarations_version`, which also tell kept workers of an older
    roster or declarations apart) and, when the round requires signatures, the signing
    key read here (:func:`require_round_rules`): a fork server started before the key was set
    has no key in its environment."""
    declared = declarations_version(session, rnd)
    version = (*round_version(session, rnd.id), *declared)
    context = round_cached("check", session, rnd, lambda: CheckContext(
        form=round_form(rnd), roster=roster_of(rnd, units_of(session, rnd.id)), version=version,
        declarations=round_declarations(session, rnd) if declared else None), depends=declared)
    return replace(context, key=key_from_env(), key_from_env=False) if rnd.signatures_required else context


def check_many(paths: Sequence[Path], jobs: int | None = None, progress: Progress | None = None,
               context: CheckContext | None = None, scheduler: Any = None) -> list[CheckedReturn]:
    """The returns of ``paths`` in order, as the ledger keeps them (every core by default; one
    process for a handful of files). ``scheduler``: check on that Dask cluster instead
    (``tcp://HOST:PORT`` or a client; the files' bytes travel with the tasks, see
    :mod:`xlperf.rollup.distributed`), same returns."""
    if scheduler is not None:
        from xlperf.rollup.distributed import collect_on_cluster

        return collect_on_cluster(paths, scheduler, progress=progress, context=context, keep=STORED)
    if len(paths) < 8:
        jobs = 1
    return collect_returns(paths, jobs=jobs, progress=progress, context=context, keep=STORED)


def workers(pool: WorkerPool, count: int, context: CheckContext) -> None:
    """Start ``count`` checking workers of a round's ``context`` into ``pool`` ahead of need (the
    desk at start-up: the first upload then does not wait for a worker to start and load the forms)."""
    pool.prestart(CheckWork(context, STORED), Limits.from_env(), count)


MAX_NAME_BYTES = 200
"""A file name's length in bytes as written for the checker: file systems allow 255, and a
Chinese character takes three."""


def checkable_name(name: str) -> str:
    """``name`` (as a unit gave it: a mail attachment, a zip member, an upload) as a file name
    the checker can be given: its last part, without NUL, shortened to :data:`MAX_NAME_BYTES`
    keeping its extension (the checker tells formats apart by it); ``file`` when nothing is left."""
    base = Path(name.replace("\x00", "")).name
    if base in ("", ".", ".."):
        return "file"
    if len(base.encode()) <= MAX_NAME_BYTES:
        return base
    stem, suffix = os.path.splitext(base)
    if len(suffix.encode()) > 16:
        stem, suffix = base, ""
    kept = stem.encode()[:MAX_NAME_BYTES - len(suffix.encode())].decode("utf-8", "ignore")
    return (kept or "file") + suffix


@contextmanager
def materialised(store: FileStore, files: Sequence[tuple[str, str]]) -> Iterator[list[Path]]:
    """Stored files ``(sha256, original name)`` under their original names in a temporary folder
    (the checker names the file in its findings and tells formats apart by the name's ending)."""
    with tempfile.TemporaryDirectory(prefix="xlperf-ledger-") as tmp:
        paths = []
        for n, (sha, name) in enumerate(files):
            folder = Path(tmp) / str(n)
            folder.mkdir()
            target = folder / checkable_name(name)
            try:
                os.link(store.path(sha), target)  # no copy: same file system, read only
            except OSError:
                shutil.copyfile(store.path(sha), target)
            paths.append(target)
        yield paths
