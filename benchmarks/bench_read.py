"""Time ``read_return`` against python-calamine's raw read of the same files.

    python benchmarks/bench_read.py [--n 2000] [--variants 40] [--form self_evaluation] [--keep DIR]

Makes ``--variants`` distinct returns of one form (random inputs of every field type: long and
short texts, blanks, a few texts typed into number cells), half of them recalculated by
LibreOffice when it is installed (shared strings and cached results, like a file saved by a
spreadsheet program) and half as openpyxl leaves them (inline strings, no cached results); then
copies them to ``--n`` files and times, over all files:

- calamine: ``CalamineWorkbook.from_path`` and every sheet's ``to_python()`` (the floor: values
  of every cell, no formulas, no defined names);
- guard: ``inspect_file`` alone (magic bytes, bounded inflating of every member);
- read_return: guard + workbook, names, shared strings, every sheet's values and formulas, the
  field map, values by key.

The goal is read_return within 3x of calamine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from xlperf.excel.fill import fill_workbook
from xlperf.form.registry import builtin_layout
from xlperf.form.spec import Field
from xlperf.read import read_return
from xlperf.read.guard import inspect_file

ROOT = Path(__file__).resolve().parent.parent
WORDS = ("项目", "资金", "绩效", "目标", "完成", "按计划", "服务", "企业", "满意度", "年度", "管理",
         "维护", "建设", "质量", "效益", "社会", "群众", "培训", "平台", "运营")


def text(rng: random.Random, longest: int) -> str:
    return "".join(rng.choice(WORDS) for _ in range(rng.randint(1, longest)))


def value_for(rng: random.Random, fld: Field) -> Any:
    t = fld.type
    if rng.random() < 0.1:
        return None  # left blank
    if t == "choice":
        return rng.choice(fld.choices)
    if t in ("amount", "number"):
        if rng.random() < 0.03:
            return "约" + str(rng.randint(1, 99)) + "万元"  # text typed into a number cell
        low = fld.min if fld.min is not None else 0.0
        high = fld.max if fld.max is not None else 5000.0
        return round(rng.uniform(low, high), 2)
    if t == "percent":
        return round(rng.uniform(0, 1.2), 4)
    if t == "integer":
        return rng.randint(0, 500)
    if t == "year":
        return rng.randint(2018, 2026)
    if t == "date":
        return (dt.date(2018, 1, 1) + dt.timedelta(days=rng.randint(0, 3000))).isoformat()
    if t == "phone":
        return f"0354-{rng.randint(1000000, 9999999)}"
    if t == "value":
        return rng.choice((round(rng.uniform(0, 100), 1), 1, "≥95%", "规范", "有效", text(rng, 3)))
    if t == "longtext":
        return text(rng, 60)
    return text(rng, 6)


def make_variants(form: str, count: int, out: Path, seed: int) -> list[Path]:
    rng = random.Random(seed)
    layout = builtin_layout(form)
    template = ROOT / "templates_xlsx" / f"{form}.xlsx"
    paths = []
    for i in range(count):
        values = {f.key: value_for(rng, f) for f in layout.inputs()}
        values = {k: v for k, v in values.items() if v is not None}
        paths.append(fill_workbook(template, values, out / "filled" / f"{form}_{i:03d}.xlsx"))
    return paths


def recalculated(paths: Sequence[Path], out: Path) -> list[Path]:
    try:
        from xlperf.excel.recalc import RecalcUnavailable, recalculate
    except ImportError:
        return []
    try:
        return list(recalculate(list(paths), out / "recalc").values())
    except RecalcUnavailable:
        return []


def calamine_raw(path: Path) -> int:
    wb = CalamineWorkbook.from_path(str(path))
    n = 0
    for name in wb.sheet_names:
        n += len(wb.get_sheet_by_name(name).to_python())
    return n


def guard_only(path: Path) -> int:
    return len(inspect_file(path).parts)


def reader(path: Path) -> int:
    return len(read_return(path).cells)


def timed(fn: Callable[[Path], int], files: Sequence[Path], repeat: int) -> float:
    """Best of ``repeat`` passes over all files, in ms per file."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for path in files:
            fn(path)
        best = min(best, time.perf_counter() - start)
    return best / len(files) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000, help="files to read (default 2000)")
    parser.add_argument("--variants", type=int, default=40, help="distinct returns (default 40)")
    parser.add_argument("--form", default="self_evaluation")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--keep", type=Path, help="write the files here and keep them")
    args = parser.parse_args(argv)

    work = args.keep or Path(tempfile.mkdtemp(prefix="xlperf-bench-"))
    try:
        t0 = time.perf_counter()
        filled = make_variants(args.form, args.variants, work, args.seed)
        recalc = recalculated(filled[: len(filled) // 2], work)
        variants = recalc + filled[len(recalc):] if recalc else filled
        files = []
        (work / "returns").mkdir(parents=True, exist_ok=True)
        for i in range(args.n):
            src = variants[i % len(variants)]
            dst = work / "returns" / f"{i:05d}_{src.name}"
            shutil.copyfile(src, dst)
            files.append(dst)
        sizes = [p.stat().st_size for p in variants]
        print(f"{args.n} returns of {args.form} from {len(variants)} variants "
              f"({len(recalc)} recalculated by LibreOffice, {len(variants) - len(recalc)} openpyxl-filled), "
              f"median {statistics.median(sizes) / 1024:.0f} KiB; made in {time.perf_counter() - t0:.1f} s")
        cells = reader(files[0])
        print(f"non-empty cells per return: ~{cells}")

        floor = timed(calamine_raw, files, args.repeat)
        guard = timed(guard_only, files, args.repeat)
        ours = timed(reader, files, args.repeat)
        print(f"{'python-calamine raw read (all cells)':40s} {floor:6.2f} ms/file")
        print(f"{'inspect_file (guard only)':40s} {guard:6.2f} ms/file")
        print(f"{'read_return':40s} {ours:6.2f} ms/file")
        print(f"{'ratio read_return / calamine':40s} {ours / floor:6.2f}x  (goal <= 3x)")
        for label, group in (("recalculated", recalc), ("openpyxl-filled", filled[len(recalc):])):
            chosen = [f for f in files if any(f.name.endswith(v.name) for v in group)]
            if recalc and chosen:
                a = timed(calamine_raw, chosen, args.repeat)
                b = timed(reader, chosen, args.repeat)
                print(f"  {label:20s} calamine {a:5.2f}  read_return {b:5.2f} ms/file  ({b / a:.2f}x)")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
