"""Check files on a Dask distributed cluster: the roll-up's scale-out path (``--scheduler``).

For a province (100,000+ returns, several machines) the check stage runs on an existing Dask
cluster instead of this machine's process pool; everything after it (tables, workbook) stays
here. Each task is a *batch* of files, checked one after another by the same function as the local
pool (:func:`xlperf.checks.check_files.check_files`, on the worker's host), so the returns are the same.

- **Bytes, not paths.** The workers need not see this machine's disks: each file's bytes travel
  with its batch, and the worker writes them under the file's own name into a private temporary
  folder, checks that file (the guard, the per-file limits and every message see the same name,
  size and content) and removes it. The record is given back the original path, size and
  modification time. With ``shared_folder``, files under that folder are sent by path (every
  worker mounts it at the same place), the others still as bytes.
- **Batches** amortise the scheduler's cost per task (a round trip of a few milliseconds, see
  ``benchmarks/bench_rollup.py --scheduler``): :func:`batch_size` keeps it under 5% of the
  batch's checking time while leaving several batches per worker to balance the load.
- **Flat memory here.** At most a few batches per worker thread are in flight; a file's bytes
  are read when its batch is submitted and dropped when its records come back.
- **Limits.** The per-file limits of the local pool (:mod:`xlperf.workers`, resolved
  here) hold on the workers too. A Dask worker is a daemon process and may not start the
  limited workers itself, so it hands each batch to a host process of its own
  (:mod:`xlperf.workers.host`), which does; a file that hangs or bloats a reader on the
  cluster ends as ``FILE_TOO_COMPLEX``, as it would here.
- **Nothing lost.** A batch that fails as a whole (a worker that died on it, after Dask's own
  retries on other workers) is re-run one file per task, one task at a time: the file that kills
  a worker becomes ``WORKER_CRASHED``, the others are checked normally; any other failure of a file is
  ``CHECK_FAILED``, as in the local pool (:mod:`xlperf.checks.failure`).
- **The signing key** is resolved here (the environment of this machine, as ``check`` does) and
  sent with each batch, so workers verify signatures exactly as the local pool would; the
  cluster is trusted with it as it is trusted with the returns.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from xlperf.checks.check_files import SUMMARY, CheckContext, Keep, check_files, file_stat
from xlperf.checks.exceeded import WORKER_CRASHED
from xlperf.checks.failure import check_failed
from xlperf.findings import CheckedReturn
from xlperf.findings.text import shown_name
from xlperf.form.registry import Setting, adopt
from xlperf.form.registry import setting as forms_setting
from xlperf.form.signkeys import SigningKeyError, key_from_env
from xlperf.read.roster import Roster
from xlperf.rollup.collect import Progress
from xlperf.rollup.records import failed_record
from xlperf.workers.limits import Limits

__all__ = ["DEFAULT_FILE_SECONDS", "ClusterError", "batch_size", "collect_on_cluster"]

MIN_BATCH = 16
MAX_BATCH = 256
BATCHES_PER_THREAD = 4
"""Batches per worker thread over the whole run, so that a slow worker does not hold the tail."""
IN_FLIGHT_PER_THREAD = 3
TASK_OVERHEAD_S = 0.02
"""Scheduler cost of one task (submit, schedule, send, gather) per worker thread with tasks
pipelined, on loopback: ~20 ms measured on the 2-core machine under heavy load (a quiet
machine does better); a network between machines adds its round trip. Hence batches of at least
80 files of ~5 ms each."""
DEFAULT_FILE_SECONDS = 0.005
"""Checking time of one return on one core (``check_file``: 3.5-4.5 ms on a quiet machine)."""
OVERHEAD_SHARE = 0.05
CONNECT_TIMEOUT_S = 30


def batch_size(files: int, threads: int, task_overhead_s: float = TASK_OVERHEAD_S,
               file_seconds: float = DEFAULT_FILE_SECONDS) -> int:
    """Files per task: scheduling under :data:`OVERHEAD_SHARE` of a batch's time, and yet
    :data:`BATCHES_PER_THREAD` batches per thread when there are enough files."""
    floor = max(MIN_BATCH, -(-task_overhead_s // (OVERHEAD_SHARE * file_seconds)))
    balanced = files // max(1, threads * BATCHES_PER_THREAD)
    return int(max(1, min(MAX_BATCH, max(floor, balanced), files)))


class ClusterError(RuntimeError):
    """The cluster cannot be used: Dask is not installed, or no scheduler answers (Chinese)."""


@dataclass(frozen=True)
class _Item:
    """One file as sent to a worker: its bytes, or where a worker finds it in a shared folder."""

    path: Path
    """The path as given here; the record carries it."""
    size: int
    mtime_ns: int
    data: bytes | None
    shared: Path | None = None


def _check_batch(items: Sequence[_Item], context: CheckContext, roster: Roster | None, limits: Limits, keep: Keep,
                 check: Callable[[Path], CheckedReturn] | None = None,
                 forms: Setting | None = None) -> list[CheckedReturn]:
    """Runs on a worker: check the files of the batch, in order, under ``limits`` (by the
    worker's host: :mod:`xlperf.workers.host`); bytes in a private folder, each file under
    its own name (a folder each: two files of a batch may share a name)."""
    folder = Path(tempfile.mkdtemp(prefix="xlperf-batch-"))
    try:
        paths = []
        for n, item in enumerate(items):
            if item.shared is not None:
                paths.append(item.shared)
                continue
            local = folder / str(n) / item.path.name  # the same name: every message names the file as sent
            local.parent.mkdir()
            local.write_bytes(item.data or b"")
            paths.append(local)
        if forms is not None:
            adopt(forms)  # this batch's forms, handed on to the host and its workers
        records = [checked for _, checked in check_files(paths, replace(context, roster=roster), keep=keep,
                                                         limits=limits, work=check, hosted=True)]
        return [replace(record, file=item.path, size=item.size, mtime_ns=item.mtime_ns)
                for record, item in zip(records, items, strict=True)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _item(path: Path, shared: Path | None) -> _Item:
    size, mtime_ns = file_stat(path)
    if shared is not None:
        where = path.resolve()
        if where.is_relative_to(shared):
            return _Item(path, size, mtime_ns, None, where)
    try:
        data = path.read_bytes()
    except OSError:
        data = b""  # checked as an empty file: the worker's guard names it, as locally
    return _Item(path, size, mtime_ns, data)


def _lost(path: Path, exc: BaseException, crashed: bool) -> CheckedReturn:
    if not crashed:
        finding = check_failed(path, exc)
        return failed_record(path, *file_stat(path), finding.code, finding.message)
    return failed_record(path, *file_stat(path), WORKER_CRASHED,
                         f"集群审核进程在处理文件“{shown_name(path)}”时异常退出（文件可能损坏或过大）：请检查该文件后重新报送")


def collect_on_cluster(paths: Sequence[Path], scheduler: Any, shared_folder: Path | None = None,
                       progress: Progress | None = None, batch: int | None = None,
                       roster: Roster | None = None, limits: Limits | None = None,
                       context: CheckContext | None = None, keep: Keep = SUMMARY,
                       check: Callable[[Path], CheckedReturn] | None = None) -> list[CheckedReturn]:
    """Check ``paths`` on the Dask cluster at ``scheduler`` (``tcp://HOST:PORT``, or a
    ``distributed.Client``); one record per path, in input order, as
    :func:`xlperf.rollup.collect_returns` gives them. ``roster`` is sent to every worker once;
    ``limits`` (default: the environment's, as the local pool's) hold for every file.
    ``context``: what the check knows (the ledger's round, for ``round revalidate --scheduler``;
    default ``roster``), ``keep``: what comes back, as for
    :func:`xlperf.checks.check_files.check_files` (``check``: its ``work``, tests)."""
    try:
        from distributed import Client  # an optional dependency (extra "dask"), needed only here
    except ImportError:
        raise ClusterError("使用 --scheduler 需要安装 Dask：pip install 'xlperf[dask]'") from None
    context = context or CheckContext(roster=roster)
    if context.key is None and context.key_from_env:  # this machine's key, as a local check would
        try:
            context = replace(context, key=key_from_env(), key_from_env=False)
        except SigningKeyError as exc:
            raise ClusterError(f"签名密钥配置有误（{exc}）：请更正后再在集群上汇总") from None
    shared = shared_folder.resolve() if shared_folder is not None else None
    report = progress or (lambda n: None)
    with _client(scheduler, Client) as client:
        threads = max(1, sum(client.nthreads().values()))
        size = batch or batch_size(len(paths), threads)
        chunks = [list(range(i, min(i + size, len(paths)))) for i in range(0, len(paths), size)]
        results: list[CheckedReturn | None] = [None] * len(paths)
        # Arguments of every batch after its files; the roster is sent to every worker once (a
        # future, resolved by Dask), the rest of the context with each batch.
        units = client.scatter(context.roster, broadcast=True) if context.roster is not None else None
        extra = (replace(context, roster=None), units, limits or Limits.from_env(), keep, check,
                 forms_setting())  # this machine's forms
        suspects = _run(client, paths, chunks, shared, extra, threads * IN_FLIGHT_PER_THREAD, results, report)
        # One file per task and one task at a time: a worker that dies takes only the file that
        # killed it (Dask marks every task running on a dead worker as suspect).
        _run(client, paths, [[i] for i in suspects], shared, extra, 1, results, report, last=True)
    missing = [i for i, r in enumerate(results) if r is None]
    assert not missing, f"files without an outcome: {missing}"
    return [r for r in results if r is not None]


@contextlib.contextmanager
def _client(scheduler: Any, client_type: Any) -> Iterator[Any]:
    if isinstance(scheduler, client_type):
        yield scheduler
        return
    try:
        client = client_type(scheduler, set_as_default=False, timeout=CONNECT_TIMEOUT_S)
    except (OSError, ValueError) as exc:  # TimeoutError is an OSError; ValueError: a bad address
        raise ClusterError(f"无法连接 Dask 调度器 {scheduler}（{exc}）：请确认地址（如 tcp://10.0.0.5:8786）"
                           "和调度器已启动") from None
    with client:
        yield client


def _run(client: Any, paths: Sequence[Path], chunks: list[list[int]], shared: Path | None,
         extra: tuple[Any, ...], window: int, results: list[CheckedReturn | None],
         report: Progress, last: bool = False) -> list[int]:
    """Submit ``chunks`` with at most ``window`` in flight; return the files of failed chunks
    (``last``: file them as crashed or failed instead)."""
    from distributed import as_completed
    from distributed.scheduler import KilledWorker

    queue = iter(chunks)
    suspects: list[int] = []
    in_flight: dict[Any, list[int]] = {}

    def submit() -> Any:
        chunk = next(queue, None)
        if chunk is None:
            return None
        items = [_item(paths[i], shared) for i in chunk]
        future = client.submit(_check_batch, items, *extra, pure=False)
        in_flight[future] = chunk
        return future

    first = [f for f in (submit() for _ in range(window)) if f is not None]
    # The client's own loop: as_completed otherwise looks for a default client, and ours is made
    # with set_as_default=False (a scheduler address given on the command line has no other).
    pending = as_completed(first, loop=client.loop)
    for future in pending:
        chunk = in_flight.pop(future)
        try:
            records = future.result()
        except Exception as exc:  # noqa: BLE001 - a batch that fails is retried file by file
            if not last:
                suspects += chunk
            else:
                for i in chunk:
                    results[i] = _lost(paths[i], exc, isinstance(exc, KilledWorker))
                report(len(chunk))
        else:
            for i, record in zip(chunk, records, strict=True):
                results[i] = record
            report(len(chunk))
        future.release()
        nxt = submit()
        if nxt is not None:
            pending.add(nxt)
    return suspects
