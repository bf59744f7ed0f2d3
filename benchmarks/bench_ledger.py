"""The ledger's speed: intake vs ``xlperf check`` on the same files, re-intake with new files,
the round's roll-up from the ledger, and the status of a 10,000-unit round.

    python benchmarks/bench_ledger.py [--n 2000] [--units 300] [--status-units 10000] [--keep DIR] [--intake-only]

``--keep DIR`` keeps the returns made (and reuses them when DIR already has them: making 10,000
takes minutes); ``--intake-only`` measures check, intake and re-intake, not roll-up and status.

Returns are made as ``bench_rollup.py`` makes them (real returns of four forms, one per unit,
copied with their project names numbered, every tenth copy a resubmission). Each command runs
as a user runs it (``python -m xlperf ...`` in a fresh process, output to /dev/null), on a fresh
SQLite ledger. The status round is filled by recording a checked return under 10,000 unit names
directly (no checking: the status, not the intake, is measured there).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_rollup import make_inbox, make_units, unit_name, write_roster  # noqa: E402

ROUND = "基准"


def xlperf(*argv: str) -> float:
    """Seconds ``python -m xlperf ARGV`` took (its output to /dev/null)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLPERF_SIGNING_KEY", None)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "xlperf", *argv], env=env, cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"xlperf {' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return took


def rollup_vs_cells(db: Path, out: Path, runs: int) -> list[str]:
    """The round's roll-up from the ledger in this process (records, tables, write; CPU seconds)
    against xlsxwriter alone writing the same tables' cells (``bench_rollup.xlsxwriter_floor``),
    alternately ``runs`` times: the issue's goal is the ratio within 1.1. The command line's
    start-up (imports, opening the ledger) is measured by ``round list`` above, not here."""
    from bench_rollup import xlsxwriter_floor

    from xlperf.ledger import open_ledger
    from xlperf.ledger.rounds import find_round, roster_of, units_of
    from xlperf.ledger.summary import round_records
    from xlperf.rollup import build_tables, paragraph, write_summary

    ledger = open_ledger(f"sqlite:///{db}")
    ratios, lines = [], []
    for _ in range(runs):
        cpu = time.process_time()
        with ledger.sessions() as session:
            rnd = find_round(session, ROUND)
            records = round_records(session, rnd)
            roster = roster_of(rnd, units_of(session, rnd.id))
        tables = build_tables(records, roster, rnd.form, count_rejected=False)
        write_summary(tables, out, paragraph(tables))
        ours = time.process_time() - cpu
        cpu = time.process_time()
        xlsxwriter_floor(tables, out.with_name("cells.xlsx"))
        cells = time.process_time() - cpu
        ratios.append(ours / cells)
        lines.append(f"  in process: records + tables + write {ours:.2f} s CPU, xlsxwriter alone writing the "
                     f"same cells {cells:.2f} s: {ours / cells:.2f} x")
    lines.append(f"round roll-up from the ledger / xlsxwriter alone: {min(ratios):.2f}-{max(ratios):.2f} x "
                 f"over {runs} runs (goal ≤ 1.1; {len(records)} returns)")
    ledger.engine.dispose()
    return lines


def status_round(work: Path, units: int) -> tuple[float, float]:
    """(seconds to fill, seconds for round_status) of a round of ``units`` units, each with a return."""
    from xlperf.checks.check_files import STORED, check_one
    from xlperf.checks.check_return import check_file
    from xlperf.ledger import Incoming, create_round, open_ledger, receive, round_status, round_view
    from xlperf.read.roster import read_roster

    roster = work / "status_roster.csv"
    lines = ["单位代码,单位名称,主管部门"] + [f"{500000 + i},{unit_name(i)},主管部门{i % 40}" for i in range(units)]
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    sample = next((work / "units").glob("*self_evaluation.xlsx"))
    record = check_one(sample, keep=STORED)
    assert check_file(sample).form == "self_evaluation"
    ledger = open_ledger(str(work / "status.db"))
    with ledger.session() as session, session.begin():
        rnd = create_round(session, "状态", "self_evaluation", int(record.year or 2019), read_roster(roster))
    with ledger.session() as session:
        view = round_view(session, rnd)
        session.expunge_all()
    t0 = time.perf_counter()
    for start in range(0, units, 1000):
        items = []
        for i in range(start, min(start + 1000, units)):
            mine = dataclasses.replace(record, unit=unit_name(i),
                                       projects=tuple(p._replace(unit=unit_name(i)) for p in record.projects))
            items.append(Incoming(name=f"{i}.xlsx", sha256=f"{i:064x}", size=1, source="folder", record=mine))
        with ledger.session() as session, session.begin():
            receive(session, view, items)
    filled = time.perf_counter() - t0
    t0 = time.perf_counter()
    with ledger.session() as session:
        status = round_status(session, rnd)
    took = time.perf_counter() - t0
    assert len(status.rows) == units and status.counts()["未报送"] == 0, status.progress()
    ledger.close()
    return filled, took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="returns to take in")
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--status-units", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (its returns are reused)")
    parser.add_argument("--intake-only", action="store_true", help="skip the roll-up and the status round")
    parser.add_argument("--runs", type=int, default=3, help="in-process roll-ups timed against xlsxwriter alone")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-ledger-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} (the machine is shared)")
        inbox, held_back, roster = work / "inbox", work / "held_back", work / "roster.csv"
        made = work / "made"
        if made.exists() and made.read_text() == f"{args.n} {args.units}":
            for path in inbox.glob("new_*"):  # a kept folder: its inbox as it was before the re-intake
                path.rename(held_back / path.name)
            print(f"reusing the {args.n} returns in {work}")
        else:
            t0 = time.perf_counter()
            for old in (inbox, held_back, work / "extra", work / "units"):
                shutil.rmtree(old, ignore_errors=True)
            units = make_units(args.units, work / "units", seed=7)
            make_inbox(args.n, units, inbox, time.time() - 10 * args.n)
            more = make_inbox(args.n + 100, units, work / "extra", time.time())[args.n:]  # 100 files the inbox lacks
            held_back.mkdir()
            for path in more:
                path.rename(held_back / f"new_{path.name}")
            write_roster(args.units, roster)
            made.write_text(f"{args.n} {args.units}")
            print(f"made {args.n} returns (+{len(more)} for the re-intake) in {time.perf_counter() - t0:.1f} s")
        new_files = sorted(held_back.iterdir())
        for db_file in work.glob("*.db*"):  # every run starts from empty ledgers and file stores
            if db_file.is_dir():
                shutil.rmtree(db_file)
            else:
                db_file.unlink()

        check = xlperf("check", str(inbox))
        print(f"xlperf check            {args.n:>6} files  {check:7.1f} s  ({args.n / check:.0f} files/s)")
        db = work / "ledger.db"
        xlperf("round", "--db", str(db), "new", ROUND, "--form", "self_evaluation", "--year", "2019",
               "--roster", str(roster))
        intake = xlperf("round", "--db", str(db), "intake", ROUND, str(inbox))
        print(f"xlperf round intake     {args.n:>6} files  {intake:7.1f} s  ({args.n / intake:.0f} files/s)  "
              f"{intake / check:.2f} x check (goal ≤ 1.3)")
        for path in new_files:
            path.rename(inbox / path.name)
        again = xlperf("round", "--db", str(db), "intake", ROUND, str(inbox))
        print(f"re-intake, {len(new_files)} new of {args.n + len(new_files):>6}  {again:7.1f} s  (goal < 3 s)")
        startup = xlperf("round", "--db", str(db), "list")
        print(f"  of which start-up (imports, opening the ledger: xlperf round list): {startup:.1f} s")
        if args.intake_only:
            return
        rollup = xlperf("round", "--db", str(db), "rollup", ROUND, "-o", str(work / "round.xlsx"))
        print(f"xlperf round rollup     {args.n:>6} files  {rollup:7.1f} s  (no file re-read)")
        for line in rollup_vs_cells(db, work / "inproc.xlsx", args.runs):
            print(line)
        size = db.stat().st_size + sum(p.stat().st_size for p in db.parent.glob("ledger.db-*"))
        print(f"ledger size: {size / 2**20:.1f} MiB database")
        filled, took = status_round(work, args.status_units)
        print(f"status of a {args.status_units}-unit round: {took:.2f} s in process (goal < 1 s); "
              f"recording {args.status_units} results directly took {filled:.1f} s")
        cli = xlperf("round", "--db", str(work / "status.db"), "status", "状态")
        print(f"xlperf round status (whole command, start-up included): {cli:.2f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
