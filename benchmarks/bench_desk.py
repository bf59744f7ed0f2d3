"""The web desk: the dashboard of a 10,000-return round, and uploading returns through the page
against ``xlperf round intake`` on the same files.

    python benchmarks/bench_desk.py [--returns 10000] [--uploads 1000] [--batch 32] [--parallel 3]

Dashboard: a round of ``--returns`` roster units, each with a current return recorded through the
ledger's own :func:`xlperf.ledger.receive` (what intake records), from real checks of a few
generated returns (bench_rollup's generator) given each unit's name; the files themselves are not
needed to draw the page. Timed through the whole ASGI stack (middleware, session, template) with
Starlette's test client: the first page, a search, a status filter and a sort by score; wall
and CPU time (the machine may be shared).

Upload: ``--uploads`` generated returns (bench_rollup's inbox), taken in once by
:func:`xlperf.intake.intake_paths` (the command's function) into one ledger, and once posted to a
running ``xlperf serve`` (real HTTP on loopback) into another, as the page's script posts them:
``--batch`` files a request, ``--parallel`` requests in flight. Goals: dashboard under 300 ms;
upload at no less than 80% of intake's rate.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import hashlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

YEAR = 2019  # the year of the bundled sample values the generated returns start from


def _ledger(path: Path):  # type: ignore[no-untyped-def]
    from xlperf.ledger import open_ledger

    return open_ledger(f"sqlite:///{path}")


def _round(ledger, name: str, roster_path: Path):  # type: ignore[no-untyped-def]
    from xlperf.ledger import create_round
    from xlperf.read.roster import read_roster

    with ledger.session() as session, session.begin():
        rnd = create_round(session, name, "self_evaluation", YEAR, read_roster(roster_path), actor="bench")
        session.flush()
        session.expunge(rnd)
    return rnd


def fill_round(work: Path, n: int) -> tuple[object, int]:
    """A ledger with one round of ``n`` units, every unit with a current checked return."""
    if (work / "dashboard.db").exists():
        return _ledger(work / "dashboard.db"), 1
    work.mkdir(parents=True, exist_ok=True)
    from bench_rollup import make_units, unit_name

    from xlperf.checks.check_files import STORED, check_one
    from xlperf.ledger import Incoming, receive, round_view

    units = [p for p in make_units(60, work / "units", 7) if "self_evaluation" in p.name][:20]
    samples = [check_one(p, keep=STORED) for p in units]
    roster = work / "roster.csv"
    roster.write_text("单位代码,单位名称,主管部门,联系人,邮箱\n" + "".join(
        f"{500000 + i},{unit_name(i)},市财政局,联系人{i},u{i}@example.gov.cn\n" for i in range(n)), encoding="utf-8")
    ledger = _ledger(work / "dashboard.db")
    rnd = _round(ledger, "万份报表", roster)
    with ledger.session() as session:
        view = round_view(session, session.merge(rnd, load=False))
        session.expunge_all()
    for start in range(0, n, 1000):
        items = []
        for i in range(start, min(n, start + 1000)):
            record = dataclasses.replace(samples[i % len(samples)], unit=unit_name(i), file=Path(f"{i:05d}.xlsx"))
            digest = hashlib.sha256(f"return {i}".encode()).hexdigest()
            items.append(Incoming(name=f"自评表_{unit_name(i)}.xlsx", sha256=digest, size=20_000, source="folder",
                                  sender="bench", record=record))
        with ledger.session() as session, session.begin():
            view.round = session.merge(view.round, load=False)
            receive(session, view, items, actor="bench")
    return ledger, rnd.id  # type: ignore[attr-defined]


def time_dashboard(ledger, round_id: int, repeat: int) -> dict[str, tuple[float, float]]:  # type: ignore[no-untyped-def]
    from starlette.testclient import TestClient

    from xlperf.web import DeskConfig, create_app

    config = DeskConfig.for_host(ledger.url, "127.0.0.1", 8750)
    app = create_app(config, ledger)
    client = TestClient(app)
    client.get(f"/?token={config.token}")
    cold, cold_cpu = [], []
    for _ in range(repeat):
        app.state.status_cache.clear()  # as after any change to the round
        t0, c0 = time.perf_counter(), time.process_time()
        assert client.get(f"/rounds/{round_id}").status_code == 200
        cold.append(time.perf_counter() - t0)
        cold_cpu.append(time.process_time() - c0)
    timings = {"dashboard, round just changed": (statistics.median(cold) * 1000, statistics.median(cold_cpu) * 1000)}
    views = {"dashboard, unchanged": f"/rounds/{round_id}", "search": f"/rounds/{round_id}/rows?q=东湖区",
             "filter 退回": f"/rounds/{round_id}/rows?status=退回",
             "sort by score, page 100": f"/rounds/{round_id}/rows?sort=total&dir=desc&page=100"}
    for label, url in views.items():
        assert client.get(url).status_code == 200
        runs, cpu = [], []
        for _ in range(repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            response = client.get(url)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
            assert response.status_code == 200
        timings[label] = (statistics.median(runs) * 1000, statistics.median(cpu) * 1000)
    return timings


def make_uploads(work: Path, n: int) -> tuple[list[Path], Path]:
    from bench_rollup import make_inbox, make_units, write_roster

    units = make_units(100, work / "u", 11)
    files = make_inbox(n, units, work / "inbox", time.time() - n)
    write_roster(100, work / "roster.csv")
    return files, work / "roster.csv"


def time_intake(work: Path, files: Sequence[Path], roster: Path) -> float:
    from xlperf.intake import intake_paths

    ledger = _ledger(work / f"intake-{time.time_ns()}.db")
    rnd = _round(ledger, "命令行收报", roster)
    t0 = time.perf_counter()
    result = intake_paths(ledger, rnd, [files[0].parent])
    elapsed = time.perf_counter() - t0
    assert len(result.outcomes) == len(files)
    return elapsed


def time_upload(work: Path, files: Sequence[Path], roster: Path, batch: int, parallel: int) -> float:
    import httpx

    db = work / f"upload-{batch}-{parallel}-{time.time_ns()}.db"
    ledger = _ledger(db)
    rnd = _round(ledger, "网页收报", roster)
    ledger.close()
    # --port 0: the desk binds a port of the system's choosing before it prints its URL.
    server = subprocess.Popen([sys.executable, "-m", "xlperf", "serve", "--db", f"sqlite:///{db}", "--port", "0"],
                              cwd=work, env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        url = next(line.strip() for line in server.stdout if "?token=" in line)  # type: ignore[union-attr]
        port = int(url.split("/?")[0].rsplit(":", 1)[1])
        with httpx.Client(follow_redirects=True, timeout=600) as client:
            page = client.get(url.replace("/?", f"/rounds/{rnd.id}/upload?"))  # type: ignore[attr-defined]
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
            batches = [files[i:i + batch] for i in range(0, len(files), batch)]

            def post(group: Sequence[Path]) -> int:
                sent = [("files", (p.name, p.read_bytes(), "application/octet-stream")) for p in group]
                response = client.post(f"http://127.0.0.1:{port}/rounds/{rnd.id}/upload", files=sent,  # type: ignore[attr-defined]
                                       headers={"x-csrf-token": token, "accept": "application/json"})
                response.raise_for_status()
                return len(response.json()["results"])

            t0 = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
                done = sum(pool.map(post, batches))
            elapsed = time.perf_counter() - t0
        assert done == len(files), done
        return elapsed
    finally:
        server.terminate()
        server.wait(10)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--returns", type=int, default=10_000)
    parser.add_argument("--uploads", type=int, default=1_000)
    parser.add_argument("--batch", type=int, nargs="+", default=[32])
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--skip-dashboard", action="store_true")
    parser.add_argument("--skip-upload", action="store_true")
    parser.add_argument("--keep", type=Path, help="work here and keep the ledgers (the round is reused if present)")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="xlperf-bench-desk-"))
    try:
        if not args.skip_dashboard:
            t0 = time.perf_counter()
            ledger, round_id = fill_round(work / "dash", args.returns)
            print(f"round of {args.returns} returns recorded in {time.perf_counter() - t0:.1f} s")
            # CPU time too (the whole process: the test client runs the app in a thread of this
            # one): on a shared machine the wall time also counts the waits for a core.
            for label, (ms, cpu) in time_dashboard(ledger, round_id, args.repeat).items():
                print(f"  {label:<30} {ms:7.1f} ms, CPU {cpu:7.1f} ms (medians of {args.repeat}; goal < 300 ms)")
        if not args.skip_upload:
            files, roster = make_uploads(work / "up", args.uploads)
            intake = time_intake(work / "up", files, roster)
            print(f"round intake of {len(files)} returns: {intake:.1f} s ({len(files) / intake:.1f} files/s)")
            for batch in args.batch:
                upload = time_upload(work / "up", files, roster, batch, args.parallel)
                print(f"upload through the page, {batch} files a request, {args.parallel} in flight: {upload:.1f} s "
                      f"({len(files) / upload:.1f} files/s, {intake / upload:.0%} of intake's rate; goal >= 80%)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
