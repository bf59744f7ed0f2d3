"""Check many generated returns and time each stage.

    python benchmarks/bench_check.py [--n 2000] [--variants 40] [--form self_evaluation] [--reports 100]

Makes returns as bench_read.py does (random inputs, half recalculated by LibreOffice), copies
them to ``--n`` files and times, per file: guard, read (guard included), recompute (the Python
evaluator), the checks, and the whole ``check_file``; then writes the reports (HTML, annotated
workbook, JSON) of ``--reports`` returns. Prints returns per second for the check.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench_read import make_variants, recalculated

from xlperf.checks.check_return import check_file, check_return
from xlperf.form.evaluate import evaluate
from xlperf.form.registry import builtin_layout
from xlperf.read import read_return
from xlperf.read.guard import inspect_file
from xlperf.report import write_batch_reports


def per_file_ms(fn: Callable[[Path], Any], files: Sequence[Path]) -> float:
    start = time.perf_counter()
    for path in files:
        fn(path)
    return (time.perf_counter() - start) / len(files) * 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--variants", type=int, default=40)
    parser.add_argument("--form", default="self_evaluation")
    parser.add_argument("--reports", type=int, default=100, help="returns to write reports for")
    parser.add_argument("--seed", type=int, default=20240101)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="xlperf-bench-check-"))
    try:
        filled = make_variants(args.form, args.variants, work, args.seed)
        recalc = recalculated(filled[: len(filled) // 2], work)
        variants = recalc + filled[len(recalc):] if recalc else filled
        (work / "returns").mkdir()
        files = []
        for i in range(args.n):
            src = variants[i % len(variants)]
            files.append(Path(shutil.copyfile(src, work / "returns" / f"{i:05d}_{src.name}")))
        layout = builtin_layout(args.form)
        returns = [read_return(p) for p in files[:200]]
        inputs = [{f.key: r.values.get(f.key) for f in layout.inputs()} for r in returns]
        stages = {
            "guard (inspect_file)": per_file_ms(inspect_file, files),
            "read (read_return, guard included)": per_file_ms(read_return, files),
            "recompute (evaluate)": per_file_ms(lambda v: evaluate(layout, v), inputs),
            "checks (check_return, recompute included)": per_file_ms(check_return, returns),
        }
        total = per_file_ms(check_file, files)
        checked = [check_file(p) for p in files[: args.reports]]
        out = work / "reports"
        start = time.perf_counter()
        write_batch_reports(checked, out)
        reports = (time.perf_counter() - start) / max(1, len(checked)) * 1000
        print(f"{args.n} returns of {args.form} ({len(recalc)} of {len(variants)} variants recalculated by LibreOffice)")
        for label, ms in stages.items():
            print(f"  {label:45s} {ms:7.2f} ms/file")
        print(f"  {'check_file (all of the above)':45s} {total:7.2f} ms/file  -> {1000 / total:.0f} returns/s")
        print(f"  {'reports (HTML + annotated workbook + JSON)':45s} {reports:7.2f} ms/file")
        findings = sum(len(c.findings) for c in checked)
        print(f"  findings in the first {len(checked)} returns: {findings}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
