"""Roll up 10,000 generated returns of 300 units; time it, measure memory, compare with openpyxl.

    python benchmarks/bench_rollup.py [--n 10000] [--runs 4] [--jobs 2] [--keep DIR]
    python benchmarks/bench_rollup.py --dask-workers 1,2        # the check stage on a local Dask cluster
    python benchmarks/bench_rollup.py --scheduler tcp://HOST:8786  # ... or on a running one

Start with ``--n 2000 --runs 1`` for a quick look; the goal is stated for ``--n 10000`` (4 runs:
the roll-up under 20 s and at least 20x serial openpyxl in 3 of them). On a machine shared with
other work, wall times swing with the load: the CPU seconds printed beside them are the steadier
figure, and the ratios (to openpyxl, to the floors) are measured in the same conditions.

How the inbox is made (fast, and honest about what the roll-up has to do):

1. One return per unit (``--units`` of them) with ``write_template(..., TemplateOptions(values=...,
   lock_prefilled=False))``: the sample values of a form with the unit's own name, 主管部门,
   budget, spending and judged scores drawn at random (5% spend more than was released: an
   error); forms mixed 60% 自评表, 15% 申报表, 15% 评价报告, 10% 绩效目标表. write_template writes
   the evaluator's results as cached values, as a calculated file would have.
2. Every file of the inbox is one of those returns with its project names changed: the project
   name carries a token in the shared strings, replaced by a number per copy, so the copies are
   ~33 different projects per unit (every tenth copy repeats the previous project: a
   resubmission, newer by modification time). Each file is a distinct workbook that is read,
   guarded, recomputed and checked in full. What is cached between files depends only on the
   form and its template, as it would for real returns (also ones re-saved by a spreadsheet
   program): the field map parsed from the hidden sheet's cells, the parsed workbook and
   relationship parts, rule expression trees, what the checks derive from the layout.

Then, in a child process per run (so that its memory is the roll-up's alone): ``rollup`` with
``--jobs`` workers (or on the Dask cluster), timed by stage; peak memory is ``ru_maxrss`` of that process and of its largest worker
(RUSAGE_SELF / RUSAGE_CHILDREN; their sum bounds what was resident at once from above only if
the workers are counted once each, so the bound printed is main + jobs x largest worker).
Finally the stages of ``check_file`` on a sample (guard, read, recompute, checks; CPU time of
this process) and openpyxl reading a sample of the same files (every cell of every sheet,
read-only), extrapolated to all; and the floors: xlsxwriter alone writing the summary's cells,
inflating the parts, python-calamine reading the values. With a Dask cluster, the scheduler's
cost per task is measured too (no-op tasks, one at a time and pipelined) and set against the
checking time of one batch.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pickle
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# Measure this checkout, also when the installed xlperf points elsewhere.
sys.path.insert(0, str(ROOT))

TOKEN = "#P#"
CALAMINE_FLOOR = "python-calamine, values only (Rust)"
FORMS = (("self_evaluation", 60), ("target_declaration", 15), ("evaluation_report", 15), ("target_table", 10))
DISTRICTS = ("东湖区", "西山县", "南城区", "北湖县", "清河区", "石桥镇", "云溪县", "长宁区", "平安县", "兴华区",
             "临江县", "安阳区", "新华县", "金水区", "明湖县", "高新区", "滨江区", "丰泽县", "凤凰区", "柳林县")
BUREAUS = ("科技局", "工信局", "商务局", "教育局", "农业农村局", "财政局", "卫健委", "民政局", "文旅局", "住建局",
           "交通局", "水利局", "应急局", "统计局", "人社局", "司法局", "林业局", "审计局", "体育局", "医保局")
DEPTS = ("市科学技术局", "市工业和信息化局", "市商务局", "市教育局", "市农业农村局", "市财政局", "市卫生健康委员会",
         "市民政局", "市文化和旅游局", "市住房和城乡建设局", "市交通运输局", "市水利局")


def unit_name(i: int) -> str:
    return DISTRICTS[i % len(DISTRICTS)] + BUREAUS[i // len(DISTRICTS) % len(BUREAUS)] + (
        f"{i // (len(DISTRICTS) * len(BUREAUS)) + 1}分局" if i >= len(DISTRICTS) * len(BUREAUS) else "")


def unit_values(form: str, i: int, rng: random.Random) -> dict[str, Any]:
    """A sample return of ``form`` made the unit's own: name, 主管部门, money and scores."""
    from xlperf.cli.demo import sample_values
    from xlperf.form.registry import builtin_layout
    from xlperf.form.roles import DEPT, PROJECT, UNIT

    layout = builtin_layout(form)
    fields = {f.key: f for f in layout.inputs()}
    values = sample_values(form)
    unit, dept = unit_name(i), DEPTS[i % len(DEPTS)]
    for key in list(values):
        fld = fields.get(key)
        role = fld.role if fld is not None else ""
        if role == UNIT:
            values[key] = unit
        elif role == PROJECT:
            values[key] = f"{values[key]}{TOKEN}"
        elif role == DEPT:
            values[key] = dept
        if fld is not None and fld.type == "date" and isinstance(values[key], str):
            values[key] = dt.date.fromisoformat(values[key])
        if fld is not None and key.endswith("_score") and fld.max:
            values[key] = round(rng.uniform(0.6, 1.0) * fld.max, 1)  # a judged score within its weight
    budget = round(rng.uniform(10, 200), 2)
    if form == "self_evaluation":
        released = round(budget * rng.uniform(0.5, 1.0), 2)
        spent = released * (rng.uniform(1.01, 1.2) if rng.random() < 0.05 else rng.uniform(0.3, 1.0))
        values.update(budget_city=budget, budget_other=0.0, released=released, spent_city=round(spent, 2))
    elif form == "target_declaration":
        values["fund_total"] = budget
    elif form == "evaluation_report":
        values["budget"] = budget
    else:
        values.update(p1_year_budget=budget * 10000, p1_total_budget=budget * 10000)
    return values


def make_units(units: int, out: Path, seed: int) -> list[Path]:
    from xlperf.excel.template import TemplateOptions, write_template
    from xlperf.form.registry import builtin_layout
    rng = random.Random(seed)
    weights = [w for _, w in FORMS]
    paths = []
    for i in range(units):
        form = rng.choices([f for f, _ in FORMS], weights)[0]
        values = unit_values(form, i, rng)
        path = out / f"u{i:03d}_{form}.xlsx"
        write_template(builtin_layout(form), path, TemplateOptions(values=values, lock_prefilled=False))
        paths.append(path)
    return paths


def with_project(src: Path, dst: Path, project: int) -> None:
    """Copy ``src`` with its project names numbered ``project`` (a distinct workbook)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "xl/sharedStrings.xml":
                data = data.replace(TOKEN.encode(), f"（第{project:02d}项）".encode())
            zout.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)


def make_inbox(n: int, units: Sequence[Path], out: Path, start: float) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    files = []
    for k in range(n):
        copy = k // len(units)
        project = copy - 1 if copy % 10 == 9 else copy  # every tenth copy resubmits the previous project
        src = units[k % len(units)]
        dst = out / f"{k:05d}_{src.stem}.xlsx"
        with_project(src, dst, project)
        os.utime(dst, (start + k, start + k))
        files.append(dst)
    return files


def write_roster(units: int, path: Path) -> None:
    lines = ["单位代码,单位名称,主管部门,联系人,邮箱"]
    for i in range(units + 10):  # ten units that never report
        name = unit_name(i) if i < units else f"未报送单位{i - units + 1:02d}"
        lines.append(f"{300000 + i},{name},{DEPTS[i % len(DEPTS)]},联系人{i},u{i}@example.gov.cn")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --------------------------------------------------------------------------- the measured run


def child(inbox: Path, output: Path, roster_path: Path, jobs: int, scheduler: str | None = None,
          floor: bool = True) -> dict[str, Any]:
    """The roll-up, stage by stage, in this (fresh) process.

    ``scheduler``: ``local:K`` starts a Dask LocalCluster of K single-threaded worker processes
    first (not timed), any other value is a scheduler's address; None: the local process pool."""
    t0 = time.perf_counter()
    from xlperf.checks.check_return import find_returns
    from xlperf.read.roster import read_roster
    from xlperf.rollup import build_tables, collect_records, paragraph, write_summary
    from xlperf.rollup.gcpause import cycle_collection_paused

    imported = time.perf_counter() - t0
    cluster, target, overhead = None, None, {}
    if scheduler is not None:
        from distributed import Client, LocalCluster

        if scheduler.startswith("local:"):
            cluster = LocalCluster(n_workers=int(scheduler[6:]), threads_per_worker=1, processes=True,
                                   dashboard_address=None, host="127.0.0.1")
            target = Client(cluster)
        else:
            target = Client(scheduler)
        overhead = task_overhead(target, len(find_returns([inbox])))  # not the roll-up's time
    t_start = time.perf_counter()
    files = find_returns([inbox])
    roster = read_roster(roster_path)
    t_find = time.perf_counter()
    records = collect_records(files, jobs=jobs, scheduler=target)
    t_collect = time.perf_counter()
    with cycle_collection_paused():  # as rollup() does
        tables = build_tables(records, roster)
        del records  # as rollup() does
        text = paragraph(tables)
        t_tables = time.perf_counter()
        write_summary(tables, output, text)
        t_write = time.perf_counter()
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    if target is not None:
        target.close()
    if cluster is not None:
        cluster.close()
    return {
        "files": len(files), "import": imported, "find+roster": t_find - t_start,
        "collect": t_collect - t_find, "tables": t_tables - t_collect, "write": t_write - t_tables,
        "total": imported + (t_write - t_start), "rollup": t_write - t_start,
        "rss_main_mib": me.ru_maxrss / 1024,
        "rss_worker_mib": kids.ru_maxrss / 1024, "cpu_main_s": me.ru_utime + me.ru_stime,
        "cpu_workers_s": kids.ru_utime + kids.ru_stime, "paragraph": text, "overhead": overhead,
        "rows": {"汇总": len(tables.projects), "指标明细": len(tables.indicators), "问题清单": len(tables.findings),
                 "未报送": len(tables.missing), "重复报送": len(tables.duplicates), "清单": len(tables.inventory)},
        "size_mib": output.stat().st_size / 2**20,
        # Measured last, so that the roll-up's own figures above are not touched by it.
        "xlsxwriter_floor_s": xlsxwriter_floor(tables, output.with_name("floor.xlsx")) if floor else None,
    }


def _noop(x: int) -> int:
    return x


def task_overhead(client: Any, files: int, n: int = 200) -> dict[str, float]:
    """The scheduler's cost per task in ms: a no-op task's round trip one at a time, and the
    time per task when ``n`` are in flight at once (what a batch of files pays on top of its work)."""
    from xlperf.rollup.distributed import batch_size

    client.submit(_noop, -1, pure=False).result()  # warm: the function is sent once
    start = time.perf_counter()
    for i in range(50):
        client.submit(_noop, i, pure=False).result()
    round_trip = (time.perf_counter() - start) / 50 * 1000
    start = time.perf_counter()
    client.gather(client.map(_noop, range(n), pure=False))
    threads = max(1, sum(client.nthreads().values()))
    pipelined = (time.perf_counter() - start) / n * 1000 * threads  # per task, per worker thread
    return {"round_trip_ms": round_trip, "pipelined_ms": pipelined, "threads": threads,
            "batch": batch_size(files, threads)}


def xlsxwriter_floor(tables: Any, path: Path) -> float:
    """Seconds xlsxwriter alone takes to write every cell of the summary's tables, nothing else.

    The same workbook mode as the roll-up (in memory, shared strings), the same cells, each by
    ``write_string`` or ``write_number``: no formats, widths, sorting, charts or checks. No
    roll-up that writes this workbook with xlsxwriter can take less."""
    import math

    import xlsxwriter

    frames = (tables.projects, tables.indicators, tables.findings, tables.missing, tables.duplicates,
              tables.inventory)
    start = time.perf_counter()
    wb = xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_numbers": False,
                                         "strings_to_urls": False})
    for i, frame in enumerate(frames):
        ws = wb.add_worksheet(f"s{i}")
        write_string, write_number = ws.write_string, ws.write_number
        for r, row in enumerate(frame.itertuples(index=False, name=None)):
            for c, value in enumerate(row):
                if type(value) is str:
                    write_string(r, c, value)
                elif type(value) in (int, float) and math.isfinite(value):
                    write_number(r, c, value)
    wb.close()
    seconds = time.perf_counter() - start
    path.unlink()
    return seconds


def per_file_ms(fn: Callable[[Any], Any], items: Sequence[Any]) -> float:
    """CPU milliseconds per item (steadier than wall time on a shared machine)."""
    start = time.process_time()
    for item in items:
        fn(item)
    return (time.process_time() - start) / len(items) * 1000


def stages(files: Sequence[Path]) -> dict[str, float]:
    """check_file's stages on ``files``, serially in this process, ms per file."""
    from xlperf.checks.check_return import check_file, check_return
    from xlperf.form.evaluate import evaluate
    from xlperf.form.registry import builtin_layout
    from xlperf.model.return_summary import summarised
    from xlperf.read import read_return
    from xlperf.read.guard import inspect_file

    returns = [read_return(p) for p in files]
    layouts = [builtin_layout(str(r.form_id)) for r in returns]
    inputs = [{f.key: r.values.get(f.key) for f in lay.inputs()} for r, lay in zip(returns, layouts, strict=True)]
    numeric = [{k: v for k, v in i.items() if not isinstance(v, dt.date)} for i in inputs]
    checked = [check_file(p) for p in files]
    records = [summarised(c).slim() for c in checked]
    return {
        "guard (inspect_file)": per_file_ms(inspect_file, files),
        "read (read_return, guard included)": per_file_ms(read_return, files),
        "recompute (evaluate)": per_file_ms(lambda i: evaluate(layouts[i], numeric[i]), range(len(files))),
        "checks (check_return, recompute included)": per_file_ms(check_return, returns),
        "check_file (all of the above)": per_file_ms(check_file, files),
        "summarised + slim (the roll-up's record)": per_file_ms(lambda c: summarised(c).slim(), checked),
        "encode (the ledger's JSON)": per_file_ms(lambda c: c.encode(), checked),
        "pickle CheckedReturn (bytes/file)": sum(len(pickle.dumps(c)) for c in checked) / len(checked),
        "pickle record (bytes/file)": sum(len(pickle.dumps(r)) for r in records) / len(records),
    }


def floor_ms(files: Sequence[Path]) -> dict[str, float]:
    """What reading alone costs, ms per file: inflating every part; python-calamine's values."""
    from bench_read import calamine_raw

    def inflate(path: Path) -> int:
        with zipfile.ZipFile(path) as zf:
            return sum(len(zf.read(info)) for info in zf.infolist())

    return {"inflate every part (zlib)": per_file_ms(inflate, files),
            CALAMINE_FLOOR: per_file_ms(calamine_raw, files)}


def openpyxl_ms(files: Sequence[Path]) -> float:
    import openpyxl

    def read(path: Path) -> int:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        n = sum(1 for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None)
        wb.close()
        return n

    return per_file_ms(read, files)


def run_child(args: argparse.Namespace, inbox: Path, work: Path, roster: Path, scheduler: str | None,
              floor: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, __file__, "--jobs", str(args.jobs), "--child", str(inbox), str(work / "summary.xlsx"),
           str(roster)]
    if scheduler is not None:
        cmd += ["--scheduler", scheduler]
    if not floor:
        cmd.append("--no-floor")
    run = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if run.returncode:
        sys.exit(f"the roll-up failed:\n{run.stderr}")
    result: dict[str, Any] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def spread(values: Sequence[float], fmt: str = "7.2f") -> str:
    low, high = min(values), max(values)
    return f"{low:{fmt}}" if len(values) == 1 else f"{low:{fmt}}-{high:{fmt}}".replace(" ", "")


def report_runs(label: str, runs: list[dict[str, Any]], workers: int, check_ms: float | None = None) -> None:
    r = runs[0]
    print(f"\nroll-up of {r['files']} returns {label}, {len(runs)} run(s), on {os.cpu_count()} cores "
          f"(load average {os.getloadavg()[0]:.1f}):")
    for stage in ("import", "find+roster", "collect", "tables", "write", "total"):
        print(f"  {stage:12s} {spread([x[stage] for x in runs]):>15s} s")
    print(f"  -> {spread([x['files'] / x['total'] for x in runs], '.0f')} returns/s; "
          f"under 20 s in {sum(x['total'] < 20 for x in runs)} of {len(runs)} runs (goal: 3 of 4)")
    print(f"  CPU: main {spread([x['cpu_main_s'] for x in runs], '.1f')} s, "
          + (f"local workers {spread([x['cpu_workers_s'] for x in runs], '.1f')} s" if workers
             else "cluster workers not counted here"))
    bound = max(x["rss_main_mib"] + workers * x["rss_worker_mib"] for x in runs)
    if workers:
        print(f"  peak RSS: main {max(x['rss_main_mib'] for x in runs):.0f} MiB, largest local worker "
              f"{max(x['rss_worker_mib'] for x in runs):.0f} MiB; at most {bound:.0f} MiB at once (goal < 1024 MiB)")
    else:
        print(f"  peak RSS of this machine's process: {max(x['rss_main_mib'] for x in runs):.0f} MiB")
    o = r.get("overhead") or {}
    if o:
        share = o["pipelined_ms"] / (o["batch"] * check_ms) if check_ms else None
        print(f"  Dask: {o['threads']} worker thread(s); scheduler cost per task {o['round_trip_ms']:.1f} ms one at "
              f"a time, {o['pipelined_ms']:.1f} ms per thread pipelined; batches of {o['batch']} files"
              + (f" = {share:.1%} of a batch's checking time" if share is not None else ""))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--n", type=int, default=10_000, help="returns in the inbox (default 10000)")
    parser.add_argument("--units", type=int, default=300, help="reporting units (default 300)")
    parser.add_argument("--jobs", type=int, default=2, help="local worker processes (default 2)")
    parser.add_argument("--runs", type=int, default=1, help="roll-ups to time (the goal is judged on 4)")
    parser.add_argument("--dask-workers", help="also roll up on a local Dask cluster of these many workers, "
                        "e.g. 1,2 (one thread each)")
    parser.add_argument("--scheduler", help="also roll up on the Dask cluster at this address")
    parser.add_argument("--sample", type=int, default=300, help="files for the stage and openpyxl timings")
    parser.add_argument("--seed", type=int, default=20240301)
    parser.add_argument("--keep", type=Path, help="make the inbox here and keep it (reused if present)")
    parser.add_argument("--child", nargs=3, metavar=("INBOX", "OUTPUT", "ROSTER"), help=argparse.SUPPRESS)
    parser.add_argument("--no-floor", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        inbox, output, roster = (Path(a) for a in args.child)
        print(json.dumps(child(inbox, output, roster, args.jobs, args.scheduler, not args.no_floor),
                         ensure_ascii=False))
        return 0

    work = args.keep or Path(tempfile.mkdtemp(prefix="xlperf-bench-rollup-"))
    try:
        inbox, roster = work / "inbox", work / "roster.csv"
        if not (inbox.is_dir() and len(list(inbox.iterdir())) == args.n):
            shutil.rmtree(inbox, ignore_errors=True)
            t0 = time.perf_counter()
            units = make_units(args.units, work / "units", args.seed)
            t1 = time.perf_counter()
            make_inbox(args.n, units, inbox, dt.datetime(2024, 3, 1).timestamp())
            write_roster(args.units, roster)
            print(f"made {args.units} unit returns in {t1 - t0:.1f} s and {args.n} inbox files in "
                  f"{time.perf_counter() - t1:.1f} s")
        runs = [run_child(args, inbox, work, roster, None, floor=i == 0) for i in range(max(1, args.runs))]
        report_runs(f"with --jobs {args.jobs} (local process pool)", runs, args.jobs)
        r = runs[0]
        print(f"  rows: {r['rows']}; workbook {r['size_mib']:.1f} MiB")
        print(f"  {r['paragraph']}")

        files = sorted(inbox.iterdir())
        rng = random.Random(args.seed)
        sample = sorted(rng.sample(files, min(args.sample, len(files))))
        print(f"\ncheck_file by stage, serially in one process, {len(sample)} sampled files (CPU time):")
        stage_ms = stages(sample)
        for label, value in stage_ms.items():
            unit = "" if "bytes" in label else " ms/file"
            print(f"  {label:45s} {value:8.2f}{unit}")
        clusters = [f"local:{k}" for k in (args.dask_workers or "").split(",") if k.strip()]
        clusters += [args.scheduler] if args.scheduler else []
        for scheduler in clusters:
            label = (f"on a local Dask cluster of {scheduler[6:]} worker(s)" if scheduler.startswith("local:")
                     else f"on the Dask cluster at {scheduler}")
            report_runs(label, [run_child(args, inbox, work, roster, scheduler, floor=False)], 0,
                        stage_ms["check_file (all of the above)"])
        ms = openpyxl_ms(sample)
        serial = ms * len(files) / 1000
        totals = [x["total"] for x in runs]
        print(f"\nopenpyxl (read-only, every cell) {ms:.2f} ms/file -> {serial:.0f} s for {len(files)} files serially, "
              f"{serial / args.jobs:.0f} s on {args.jobs} cores")
        print(f"roll-up vs openpyxl reading alone: {spread([serial / t for t in totals], '.1f')}x faster than serial "
              f"openpyxl (>= 20x in {sum(serial / t >= 20 for t in totals)} of {len(totals)} runs), "
              f"{spread([serial / args.jobs / t for t in totals], '.1f')}x than openpyxl on {args.jobs} cores")
        # On a shared machine wall time is mostly waiting: main's CPU (imports, tables, write, and the
        # pool's bookkeeping) plus the workers' CPU spread over the cores is what a quiet one would take.
        quiet = [x["cpu_main_s"] + x["cpu_workers_s"] / args.jobs for x in runs]
        print(f"from CPU seconds (main + workers / {args.jobs}, what a quiet machine would take): "
              f"{spread(quiet, '.1f')} s -> {spread([serial / q for q in quiet], '.1f')}x serial openpyxl")

        print("\nfloors on this machine (no roll-up that writes this workbook with xlsxwriter can beat them):")
        floor = r["xlsxwriter_floor_s"]
        print(f"  {'xlsxwriter alone writing the same cells':45s} {floor:8.2f} s "
              f"(the roll-up's write: {spread([x['write'] / floor for x in runs], '.2f')}x of it)")
        on_cores = {}  # seconds for every file of the inbox on --jobs cores
        for label, per_file in floor_ms(sample).items():
            on_cores[label] = per_file * len(files) / 1000 / args.jobs
            print(f"  {label:45s} {per_file:8.2f} ms/file -> {on_cores[label]:5.1f} s "
                  f"for {len(files)} files on {args.jobs} cores")
        check_s = stage_ms["check_file (all of the above)"] * len(files) / 1000 / args.jobs
        print(f"  {'check_file alone (the sample, extrapolated)':45s} {stage_ms['check_file (all of the above)']:8.2f} "
              f"ms/file -> {check_s:5.1f} s for {len(files)} files on {args.jobs} cores "
              f"(the roll-up's collect: {spread([x['collect'] / check_s for x in runs], '.2f')}x of it)")
        print(f"  import + calamine values + xlsxwriter alone = {r['import'] + on_cores[CALAMINE_FLOOR] + floor:.1f} s, before "
              f"any formula, defined name or check is read (goal 20 s; 20x openpyxl = {serial / 20:.1f} s)")
        print(f"  import + check_file on {args.jobs} cores + xlsxwriter alone = {r['import'] + check_s + floor:.1f} s")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
