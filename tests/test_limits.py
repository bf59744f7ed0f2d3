"""xlperf.workers and xlperf.checks.exceeded: every file under a wall-time and a memory limit, the batch goes on.

The work functions below misbehave on one named file (sleep, allocate, die) and check the others
for real, so each test shows both the limit and that the rest of the batch is untouched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hostile_corpus as corpus
import pytest
from click.testing import CliRunner
from startmethod import forked_workers

from xlperf.checks import check_files as check_files_mod
from xlperf.checks.check_return import check_file
from xlperf.checks.exceeded import FILE_TOO_COMPLEX, WORKER_CRASHED
from xlperf.cli import main
from xlperf.findings import CheckedReturn
from xlperf.rollup import collect_returns
from xlperf.workers import pool as pool_mod
from xlperf.workers import run as run_mod
from xlperf.workers.limits import LimitError, Limits
from xlperf.workers.pool import QUEUE_DEPTH, WorkerPool
from xlperf.workers.run import in_order, run_limited

ROOT = Path(__file__).resolve().parent.parent


HANGING = "慢.hanging"


def misbehave(path: Path, **options: Any) -> CheckedReturn:
    """Hang on 慢.xlsx (saying so with the file :data:`HANGING` beside it), allocate 2 GiB on
    大.xlsx, die on 崩.xlsx; check anything else."""
    if path.name == "慢.xlsx":
        (path.parent / HANGING).touch()
        time.sleep(600)
    if path.name == "大.xlsx":
        hog = bytearray(2 << 30)
        return CheckedReturn(file=path, notes=[str(len(hog))])
    if path.name == "崩.xlsx":
        os._exit(3)
    return check_file(path, **options)


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("batch")
    good = corpus.good_return(folder / "良好_1.xlsx")
    paths = [good]
    for name in ("慢.xlsx", "良好_2.xlsx", "大.xlsx", "崩.xlsx", "良好_3.xlsx"):
        (folder / name).write_bytes(good.read_bytes())
        paths.append(folder / name)
    return paths


class EventClock:
    """Stands in for the ``time`` module of the limits' parent side (xlperf.workers.run and
    .pool): its clock stands still, so no file runs out of time by the wall clock however
    slow the machine; while the hanging file says it hangs, every reading leaps past the time
    limit, so its worker is stopped by time at the next look, however fast the machine. Killing
    that worker ends the leaping (the event is removed): the files after it run on a still clock
    again. One worker: the hanging file is then the only one in flight."""

    def __init__(self, event: Path) -> None:
        self.event = event
        self.now = 0.0

    def monotonic(self) -> float:
        if self.event.exists():
            self.now += 1e6
        return self.now

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@pytest.fixture
def clock(batch: list[Path], monkeypatch: pytest.MonkeyPatch) -> EventClock:
    event = batch[0].parent / HANGING
    event.unlink(missing_ok=True)
    fake = EventClock(event)
    monkeypatch.setattr(run_mod, "time", fake)
    monkeypatch.setattr(pool_mod, "time", fake)
    real_kill = pool_mod.Worker.kill

    def kill(worker: pool_mod.Worker) -> None:
        real_kill(worker)
        event.unlink(missing_ok=True)

    monkeypatch.setattr(pool_mod.Worker, "kill", kill)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)  # one worker where a command picks the number
    return fake


def outcome(checked: CheckedReturn) -> str:
    return checked.findings[0].code if checked.errors else checked.status


def test_time_memory_and_crash_each_end_as_one_finding(batch: list[Path], clock: EventClock) -> None:
    limits = Limits(seconds=3, memory_mb=512)
    results = dict(run_limited(batch, misbehave, lambda p, why, _: CheckedReturn(file=p, notes=[why]), limits, jobs=1))
    assert sorted(results) == list(range(len(batch)))  # every file exactly once
    why = {batch[i].name: r.notes[0] for i, r in results.items() if r.notes and r.notes[0] in ("time", "memory", "crash")}
    assert why == {"慢.xlsx": "time", "大.xlsx": "memory", "崩.xlsx": "crash"}
    good = [r for r in results.values() if r.file.name.startswith("良好")]
    assert len(good) == 3 and all(r.status == "accepted_with_warnings" for r in good)


def test_check_files_gives_findings_in_input_order(batch: list[Path], monkeypatch: pytest.MonkeyPatch,
                                                   clock: EventClock) -> None:
    forked_workers(monkeypatch)  # the workers see the patch
    monkeypatch.setattr(check_files_mod, "check_file", misbehave)
    checked = list(in_order(check_files_mod.check_files(batch, limits=Limits(seconds=3, memory_mb=512), jobs=1)))
    assert [c.file for c in checked] == batch
    assert [outcome(c) for c in checked] == [
        "accepted_with_warnings", FILE_TOO_COMPLEX, "accepted_with_warnings", FILE_TOO_COMPLEX, WORKER_CRASHED,
        "accepted_with_warnings"]
    slow = checked[1].findings[0]
    assert "慢.xlsx" in slow.message and "3 秒" in slow.message
    assert "512 MB" in checked[3].findings[0].message


def test_check_command_applies_the_limits(batch: list[Path], monkeypatch: pytest.MonkeyPatch,
                                         clock: EventClock) -> None:
    forked_workers(monkeypatch)
    monkeypatch.setattr(check_files_mod, "check_file", misbehave)
    result = CliRunner().invoke(main, ["check", *map(str, batch[:3]), "--file-seconds", "2"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("[")]
    assert len(lines) == 3 and "慢.xlsx" in lines[1] and "退回" in lines[1]
    assert f"错误 {FILE_TOO_COMPLEX}" in result.output and "2 秒" in result.output


def test_rollup_applies_the_same_limits(batch: list[Path], monkeypatch: pytest.MonkeyPatch,
                                       clock: EventClock) -> None:
    forked_workers(monkeypatch)
    monkeypatch.setattr(check_files_mod, "check_file", misbehave)
    records = collect_returns(batch, jobs=1, limits=Limits(seconds=3, memory_mb=512))
    assert [r.file for r in records] == batch
    assert [r.findings[0].code if r.errors else r.status for r in records] == [
        "accepted_with_warnings", FILE_TOO_COMPLEX, "accepted_with_warnings", FILE_TOO_COMPLEX, WORKER_CRASHED,
        "accepted_with_warnings"]


def test_limits_from_environment_and_options() -> None:
    assert Limits.from_env({}) == Limits(30.0, 1024)
    assert Limits.from_env({"XLPERF_FILE_SECONDS": "5", "XLPERF_FILE_MEMORY_MB": "300"}) == Limits(5.0, 300)
    assert Limits.from_env({"XLPERF_FILE_SECONDS": "5"}, seconds=9) == Limits(9, 1024)
    with pytest.raises(LimitError):
        Limits.from_env({"XLPERF_FILE_MEMORY_MB": "-1"})


HANG = """
import sys, time
from pathlib import Path
from xlperf.workers.limits import Limits
from xlperf.workers.run import run_limited

def hang(path):
    time.sleep(600)

if __name__ == "__main__":  # the fork server imports this module too (to find hang)
    results = run_limited([Path("x.xlsx")], hang, lambda p, why, _: why, Limits(seconds=600), jobs=1)
    import multiprocessing, threading
    def report():  # once the worker has started: under load that takes more than a second
        deadline = time.monotonic() + 120
        while not multiprocessing.active_children() and time.monotonic() < deadline:
            time.sleep(0.05)
        print(*[c.pid for c in multiprocessing.active_children()], flush=True)
    threading.Thread(target=report, daemon=True).start()
    next(results)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")
def test_workers_die_with_their_parent(tmp_path: Path) -> None:
    """Killed without a chance to clean up, the parent leaves no worker behind: a worker's parent
    is the fork server, which ends when the last process that uses it has gone."""
    script = tmp_path / "hang.py"
    script.write_text(HANG, encoding="utf-8")
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert parent.stdout is not None
    pids = [int(p) for p in parent.stdout.readline().split()]
    assert pids
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 60  # an event (every worker gone) awaited; a loaded machine is slow
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _size_or_die(path: Path) -> int:
    if path.name == "崩.xlsx":
        os._exit(3)
    return path.stat().st_size


def test_a_lazy_stream_is_taken_as_workers_have_room_and_a_dead_worker_is_replaced_once(
        batch: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The intake's pipeline relies on the first: files are prepared while earlier ones are
    checked. Workers started: the two asked for, and one in place of the worker that died."""
    files = [batch[0]] * 12 + [batch[4]] + [batch[2]] * 3  # 崩.xlsx kills its worker once
    taken: list[Path] = []

    def stream() -> Iterator[Path]:
        for path in files:
            taken.append(path)
            yield path

    started = 0
    worker_class = run_mod.Worker

    def counted_worker(*args: Any) -> Any:
        nonlocal started
        started += 1
        return worker_class(*args)

    monkeypatch.setattr(run_mod, "Worker", counted_worker)
    seen_when: list[int] = []
    results = {}
    for index, result in run_limited(stream(), _size_or_die, lambda p, why, _: why, Limits(seconds=20), jobs=2):
        seen_when.append(len(taken))
        results[index] = result
    assert sorted(results) == list(range(len(files)))  # every file exactly once
    assert results[12] == "crash" and {results[i] for i in range(12)} == {batch[0].stat().st_size}
    assert seen_when[0] <= 2 * QUEUE_DEPTH < len(files)  # not read ahead of the workers
    assert started == 3  # two workers, and the one that replaced the crashed worker


def _worker_identity(path: Path) -> tuple[int, int]:
    if path.name == "崩.xlsx":
        os._exit(3)
    return os.getpid(), os.getppid()


def test_a_worker_pool_keeps_its_workers_between_calls_and_drops_dead_ones(batch: list[Path]) -> None:
    """The desk's uploads: workers survive from one request to the next, are started by a fork
    server (not forked from the server process, whose files and locks they would inherit), and
    a worker that died is replaced, never handed out again."""
    pool = WorkerPool(size=2)
    limits = Limits(seconds=20)
    try:
        def run(paths: list[Path]) -> dict[int, Any]:
            return dict(run_limited(paths, _worker_identity, lambda p, why, _: why, limits, jobs=1, pool=pool))

        first = run([batch[0]])[0]
        assert first[1] != os.getpid()  # the fork server's child, not ours
        assert run([batch[2]])[0] == first  # the same worker, kept
        crashed = run([batch[4], batch[5]])  # 崩.xlsx kills it; a fresh worker checks the next file
        assert crashed[0] == "crash" and crashed[1][0] != first[0]
        assert run([batch[0]])[0] == crashed[1]  # the fresh one was kept, the dead one never again
        pool.close()
        assert pool.idle() == [] and run([batch[0]]) and pool.idle() == []  # closed: nothing kept any more
    finally:
        pool.close()


def _burn_then_report(path: Path) -> tuple[float, int]:
    """Spend CPU on 慢.xlsx; report the CPU spent so far and the CPU-time limit now in force."""
    import resource

    if path.name == "慢.xlsx":
        end = time.process_time() + 1.5
        while time.process_time() < end:
            pass
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, resource.getrlimit(resource.RLIMIT_CPU)[0]


def test_the_cpu_backstop_is_per_file_not_per_worker(batch: list[Path]) -> None:
    """A worker lives for a whole intake (or longer, in a pool): the CPU time it spent on earlier
    files must not count against the next one, or a long intake would lose a worker mid-way."""
    # A wall-time limit far above the 1.5 s of CPU burnt: on a loaded machine those take many
    # seconds of wall time, and the test is about the CPU-time backstop, not the wall limit.
    limits = Limits(seconds=600)
    results = dict(run_limited([batch[1], batch[0]], _burn_then_report, lambda p, why, _: why, limits, jobs=1))
    assert [type(results[0]), type(results[1])] == [tuple, tuple]  # neither file was stopped
    spent, soft = results[1]
    assert spent >= 1.5
    assert soft >= spent + 4 * limits.seconds + 59  # the whole allowance, on top of what was spent
