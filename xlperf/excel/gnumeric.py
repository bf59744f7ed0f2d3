"""Recalculate and re-save workbooks with Gnumeric's ``ssconvert``: a second spreadsheet engine.

LibreOffice (:mod:`xlperf.excel.recalc`) is the reference engine; Gnumeric is another program a
unit may save a return with, and it writes formulas its own way (decimal constants as
``0.899999999999999999978``). ``ssconvert`` converts one file per run but starts in ~0.3 s, so
the files of one call are converted by a few runs side by side.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from xlperf.excel.recalc import RecalcError, RecalcUnavailable, check_names

logger = logging.getLogger(__name__)

__all__ = ["gnumeric_convert", "ssconvert_path"]

EXPORTERS = {
    "xlsx": "Gnumeric_Excel:xlsx2",
    "xls": "Gnumeric_Excel:excel_biff8",
    "ods": "Gnumeric_OpenCalc:odf",
    "pdf": "Gnumeric_pdf:pdf_assistant",
}
PARALLEL = max(1, min(4, os.cpu_count() or 1))


def ssconvert_path() -> str | None:
    """Gnumeric's converter on PATH, or None."""
    return shutil.which("ssconvert")


def gnumeric_convert(files: Sequence[Path], outdir: Path, fmt: str = "xlsx", recalc: bool = True,
                     timeout: float = 120) -> dict[Path, Path]:
    """Open each of ``files`` in Gnumeric, recalculate it (``recalc``) and save it into ``outdir``
    as ``fmt`` (xlsx, xls, ods or pdf); returns input → output path, names as
    :func:`xlperf.excel.recalc.recalculate` gives them."""
    if fmt not in EXPORTERS:
        raise ValueError(f"unknown output format {fmt!r}; one of {', '.join(EXPORTERS)}")
    inputs = [Path(f) for f in files]
    if not inputs:
        return {}
    exe = ssconvert_path()
    if exe is None:
        raise RecalcUnavailable("此处需要 Gnumeric，但找不到其程序 ssconvert；请安装，如 apt-get install gnumeric")
    outdir = Path(outdir)
    outputs = {f: outdir / f"{f.stem}.{fmt}" for f in inputs}
    check_names(inputs, outputs)
    outdir.mkdir(parents=True, exist_ok=True)

    def convert(item: tuple[Path, Path]) -> str:
        source, out = item
        out.unlink(missing_ok=True)
        command = [exe, *(["--recalc"] if recalc else []), "-T", EXPORTERS[fmt], str(source), str(out)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return f"{source}：ssconvert 在 {timeout:g} 秒内未完成"
        if done.returncode != 0 or not out.is_file():
            logger.warning("ssconvert did not convert %s: %s", source, done.stderr.strip()[-300:])
            return f"{source}：ssconvert 未能转换"
        return ""

    with ThreadPoolExecutor(PARALLEL) as pool:
        problems = [p for p in pool.map(convert, outputs.items()) if p]
    if problems:
        failed = [f for f, out in outputs.items() if not out.is_file()]
        raise RecalcError("Gnumeric 未能转换：" + "；".join(problems), failed)
    return outputs
