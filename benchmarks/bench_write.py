"""Write the roll-up's summary of 10,000 returns with each candidate writer, side by side.

    python benchmarks/bench_write.py [--keep DIR] [--n 10000] [--repeat 2]

The tables are the real ones: the inbox of ``bench_rollup.py`` (made in ``--keep DIR`` when
absent, reused when present) checked and tabulated once, then pickled to ``DIR/tables-N.pkl``.
Each candidate writes in a fresh child process (its own peak memory, no warm caches):

- ``xlsxwriter (today)``: :func:`xlperf.rollup.write_summary`, the whole workbook (7 sheets,
  formats, widths, filters, totals row, charts, print setup), in memory with shared strings;
- ``xlsxwriter constant_memory``: the same call with rows streamed to disk (what the roll-up
  does past ``IN_MEMORY_CELLS``);
- ``xlsxwriter cells only``: every table cell by ``write_string`` / ``write_number``, nothing
  else (the floor of any xlsxwriter roll-up);
- ``rvgsrust-xlsxwriter`` (Python bindings of rust_xlsxwriter), ``rustpy-xlsxwriter`` (the same
  crate, a data-frame API) and ``pyexcelerate``: the same cells, nothing else; they are installed
  only for this comparison (``pip install --target DIR``; ``--candidates DIR`` puts DIR on the
  path), and a candidate that is not importable is reported as such.

Then the golden comparison (openpyxl): every cell of the first ``--golden-rows`` rows of each
table sheet of a candidate's file, value and type, against today's workbook; and a probe of what
the summary needs beyond cells (a formula with its cached result: 汇总's totals row, read by
openpyxl with ``data_only=True`` and by readers that do not calculate).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SHEET_NAMES = ("汇总", "指标明细", "问题清单", "未报送", "重复报送", "清单")
TABLES = ("projects", "indicators", "findings", "missing", "duplicates", "inventory")


def frames(tables: Any) -> list[tuple[str, Any]]:
    return [(name, getattr(tables, attr)) for name, attr in zip(SHEET_NAMES, TABLES, strict=True)]


def plain(value: Any) -> Any:
    """The value as the summary writes it (text, finite number) or None (a blank)."""
    kind = type(value)
    if kind is str or kind is int or (kind is float and math.isfinite(value)):
        return value
    return None


def rows_of(df: Any) -> list[list[Any]]:
    return [list(df.columns)] + [[plain(v) for v in row] for row in df.itertuples(index=False, name=None)]


# --------------------------------------------------------------------------- the candidates


def xlsxwriter_today(tables: Any, text: str, path: Path) -> None:
    from xlperf.rollup import write_summary
    from xlperf.rollup.gcpause import cycle_collection_paused

    with cycle_collection_paused():  # as the roll-up commands write it
        write_summary(tables, path, text)


def xlsxwriter_constant_memory(tables: Any, text: str, path: Path) -> None:
    from xlperf.rollup import workbook, write_summary
    from xlperf.rollup.gcpause import cycle_collection_paused

    workbook.IN_MEMORY_CELLS = 0
    with cycle_collection_paused():
        write_summary(tables, path, text)


def xlsxwriter_cells(tables: Any, text: str, path: Path) -> None:
    import xlsxwriter

    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False})
    for name, df in frames(tables):
        ws = wb.add_worksheet(name)
        write_string, write_number = ws.write_string, ws.write_number
        for r, row in enumerate(rows_of(df)):
            for c, value in enumerate(row):
                if type(value) is str:
                    write_string(r, c, value)
                elif value is not None:
                    write_number(r, c, value)
    wb.close()


def rvgsrust_cells(tables: Any, text: str, path: Path) -> None:
    import rvgsrust_xlsxwriter

    wb = rvgsrust_xlsxwriter.Workbook(str(path))
    for name, df in frames(tables):
        ws = wb.add_worksheet(name)
        write = ws.write
        for r, row in enumerate(rows_of(df)):
            for c, value in enumerate(row):
                if value is not None:
                    write(r, c, value)
    wb.close()


def rustpy_cells(tables: Any, text: str, path: Path) -> None:
    import rustpy_xlsxwriter

    sheets = []
    for name, df in frames(tables):
        header, *body = rows_of(df)
        sheets.append((name, [dict(zip(header, row, strict=True)) for row in body]))
    rustpy_xlsxwriter.write_worksheets(sheets, str(path))


def pyexcelerate_cells(tables: Any, text: str, path: Path) -> None:
    import pyexcelerate

    wb = pyexcelerate.Workbook()
    for name, df in frames(tables):
        wb.new_sheet(name, data=rows_of(df))
    wb.save(str(path))


CANDIDATES: dict[str, Callable[[Any, str, Path], None]] = {
    "xlsxwriter (today)": xlsxwriter_today,
    "xlsxwriter constant_memory": xlsxwriter_constant_memory,
    "xlsxwriter cells only": xlsxwriter_cells,
    "rvgsrust-xlsxwriter cells only": rvgsrust_cells,
    "rustpy-xlsxwriter cells only": rustpy_cells,
    "pyexcelerate cells only": pyexcelerate_cells,
}
WHOLE = {"xlsxwriter (today)", "xlsxwriter constant_memory"}
"""Candidates that write the whole summary; the others write its cells only."""


def formula_probe(name: str, path: Path) -> str:
    """What openpyxl (data_only) reads from a SUBTOTAL written with its cached result, if the
    candidate can write one."""
    import openpyxl

    if name.startswith("xlsxwriter"):
        import xlsxwriter

        wb = xlsxwriter.Workbook(str(path))
        ws = wb.add_worksheet("a")
        ws.write_number(0, 0, 2.5)
        ws.write_formula(1, 0, "=SUBTOTAL(109,A1:A1)", None, 2.5)
        wb.close()
    elif name.startswith("rvgsrust"):
        import rvgsrust_xlsxwriter

        wb = rvgsrust_xlsxwriter.Workbook(str(path))
        ws = wb.add_worksheet("a")
        ws.write(0, 0, 2.5)
        ws.write_formula(1, 0, "=SUBTOTAL(109,A1:A1)")  # no argument for the cached result
        wb.close()
    else:
        return "no per-cell formula API"
    cached = openpyxl.load_workbook(path, data_only=True)["a"]["A2"].value
    return f"cached result read back: {cached!r} (expected 2.5)"


# --------------------------------------------------------------------------- running


def child(name: str, tables_path: Path, out: Path) -> dict[str, Any]:
    with tables_path.open("rb") as fh:
        tables, text = pickle.load(fh)
    start = time.perf_counter()
    cpu = time.process_time()
    CANDIDATES[name](tables, text, out)
    seconds, cpu_s = time.perf_counter() - start, time.process_time() - cpu
    probe = formula_probe(name, out.with_name(out.stem + "-probe.xlsx"))
    return {"seconds": seconds, "cpu_s": cpu_s, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "size_mib": out.stat().st_size / 2**20, "probe": probe}


def make_tables(work: Path, n: int, jobs: int) -> Path:
    import datetime as dt

    import bench_rollup as br

    pickled = work / f"tables-{n}.pkl"
    if pickled.exists():
        return pickled
    inbox, roster = work / "inbox", work / "roster.csv"
    if not (inbox.is_dir() and len(list(inbox.iterdir())) == n):
        units = br.make_units(300, work / "units", 20240301)
        br.make_inbox(n, units, inbox, dt.datetime(2024, 3, 1).timestamp())
        br.write_roster(300, roster)
    from xlperf.checks.check_return import find_returns
    from xlperf.read.roster import read_roster
    from xlperf.rollup import build_tables, collect_returns, paragraph

    tables = build_tables(collect_returns(find_returns([inbox]), jobs=jobs), read_roster(roster))
    with pickled.open("wb") as fh:
        pickle.dump((tables, paragraph(tables)), fh)
    return pickled


def golden(today: Path, other: Path, rows: int) -> str:
    """Differences in value or type, over the first ``rows`` rows of each table sheet."""
    import openpyxl

    a = openpyxl.load_workbook(today, read_only=True, data_only=True)
    b = openpyxl.load_workbook(other, read_only=True, data_only=True)
    diffs, cells, numeric_type = [], 0, 0
    for name in SHEET_NAMES:
        left = [r for r in a[name].iter_rows(max_row=rows, values_only=True)]
        right = [r for r in b[name].iter_rows(max_row=rows, values_only=True)] if name in b.sheetnames else []
        if name == "汇总" and len(left) > len(right):
            left = left[:len(right)]  # today's totals row: not among the cells-only candidates' cells
        for r, (x, y) in enumerate(zip(left, right, strict=False)):
            width = max(len(x), len(y))
            x, y = x + (None,) * (width - len(x)), y + (None,) * (width - len(y))
            for c, (u, v) in enumerate(zip(x, y, strict=True)):
                if isinstance(u, dt.datetime):
                    continue  # the cells-only candidates write no dates (nor formats to show them)
                cells += 1
                if u == v and type(u) is not type(v) and isinstance(u, int | float):
                    numeric_type += 1  # 2019 read back as 2019.0: the number's text in the XML differs
                elif u != v or type(u) is not type(v):
                    diffs.append(f"{name}!R{r + 1}C{c + 1}: {u!r} vs {v!r}")
        if len(left) != len(right):
            diffs.append(f"{name}: {len(left)} rows vs {len(right)}")
    a.close()
    b.close()
    return (f"{cells} cells compared (dates left out), {len(diffs)} differ in value, {numeric_type} only in "
            f"number type (int read back as float)" + (f"; first: {diffs[:3]}" if diffs else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", type=Path, help="bench_rollup's work folder (inbox made here if absent)")
    parser.add_argument("--n", type=int, default=10_000, help="returns in the inbox")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=2, help="runs per candidate (best and worst printed)")
    parser.add_argument("--golden-rows", type=int, default=3000)
    parser.add_argument("--candidates", type=Path, help="a folder the candidate packages were installed into "
                        "(pip install --target DIR rvgsrust-xlsxwriter rustpy-xlsxwriter pyexcelerate)")
    parser.add_argument("--only", action="append", choices=list(CANDIDATES), help="run only these")
    parser.add_argument("--reuse", action="store_true", help="compare the files written by an earlier run only")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.candidates:
        sys.path.append(str(args.candidates))
    if args.child:
        name, tables_path, out = args.child
        print(json.dumps(child(name, Path(tables_path), Path(out))))
        return 0

    work = args.keep or Path(tempfile.mkdtemp(prefix="xlperf-bench-write-"))
    work.mkdir(parents=True, exist_ok=True)
    tables_path = make_tables(work, args.n, args.jobs)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), str(args.candidates or ""), os.environ.get("PYTHONPATH")]))}
    print(f"writing the summary of {args.n} returns, {args.repeat} run(s) each, on {os.cpu_count()} cores "
          f"(load average now {os.getloadavg()[0]:.1f}: compare CPU seconds when the machine is shared)")
    outputs: dict[str, Path] = {}
    for name in args.only or CANDIDATES:
        out = work / f"write-{list(CANDIDATES).index(name)}.xlsx"
        if args.reuse:
            if out.exists():
                outputs[name] = out
            continue
        runs = []
        for _ in range(args.repeat):
            run = subprocess.run([sys.executable, __file__, "--child", name, str(tables_path), str(out)],
                                 capture_output=True, text=True, env=env)
            if run.returncode:
                last = (run.stderr.strip().splitlines() or ["?"])[-1]
                print(f"  {name:34s} failed: {last}")
                break
            runs.append(json.loads(run.stdout.strip().splitlines()[-1]))
        if not runs:
            continue
        outputs[name] = out
        wall = sorted(r["seconds"] for r in runs)
        cpu = sorted(r["cpu_s"] for r in runs)
        print(f"  {name:34s} {wall[0]:6.2f}-{wall[-1]:6.2f} s wall, {cpu[0]:6.2f}-{cpu[-1]:6.2f} s CPU, "
              f"peak {max(r['rss_mib'] for r in runs):5.0f} MiB, {runs[0]['size_mib']:.1f} MiB file"
              f"{'' if name in WHOLE else '  (cells only)'}")
        print(f"  {'':34s} formula probe: {runs[0]['probe']}")
    today = outputs.get("xlsxwriter (today)")
    if today is not None:
        print(f"\ngolden comparison with today's workbook (openpyxl, first {args.golden_rows} rows of each table sheet):")
        for name, out in outputs.items():
            if name != "xlsxwriter (today)":
                print(f"  {name:34s} {golden(today, out, args.golden_rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
