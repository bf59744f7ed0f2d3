"""Recalculate workbooks with LibreOffice headless, so their cached formula results are real.

xlsxwriter writes 0 as every formula's cached result and openpyxl drops cached results on save;
LibreOffice recalculates an .xlsx on load only when its profile says so. Each call therefore
starts soffice once, with a throwaway profile that sets ``OOXMLRecalcMode`` to 0 (always
recalculate), and converts all the files in that one run: starting soffice costs ~2 s, a small
file ~0.2 s more.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)
__all__ = ["RecalcError", "RecalcUnavailable", "check_names", "recalculate", "recalculate_or_copy", "soffice_path"]

_PROFILE_XCU = """\
<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" \
xmlns:xs="http://www.w3.org/2001/XMLSchema" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load">\
<prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

# Output formats: recalculated .xlsx, the .xls/.ods a unit might save from the template, and
# the PDF a printer would get (to check the print setup).
_FILTERS = {"xlsx": "xlsx:Calc MS Excel 2007 XML", "xls": "xls:MS Excel 97", "ods": "ods:calc8",
            "pdf": "pdf:calc_pdf_Export"}


class RecalcUnavailable(RuntimeError):
    """LibreOffice is not installed (no ``soffice`` on PATH)."""


class RecalcError(RuntimeError):
    """soffice ran but some files did not come out recalculated."""

    def __init__(self, message: str, failed: Sequence[Path] = ()) -> None:
        super().__init__(message)
        self.failed = tuple(failed)


def soffice_path() -> str | None:
    """The LibreOffice executable on PATH, or None."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def recalculate(files: Sequence[Path], outdir: Path, timeout: float = 600,
                fmt: str = "xlsx") -> dict[Path, Path]:
    """Recalculate ``files`` into ``outdir`` as ``fmt`` (xlsx, xls, ods or pdf) with one soffice run.

    Returns input → output path. Outputs keep the input's stem with the format's suffix, so two
    inputs with the same stem are refused (they would overwrite each other), as is writing over
    an input.
    """
    if fmt not in _FILTERS:
        raise ValueError(f"unknown output format {fmt!r}; one of {', '.join(_FILTERS)}")
    inputs = [Path(f) for f in files]
    if not inputs:
        return {}
    exe = soffice_path()
    if exe is None:
        raise RecalcUnavailable(
            "重算工作簿需要 LibreOffice，但找不到其程序 soffice；请安装 LibreOffice，如 apt-get install libreoffice-calc"
        )
    outdir = Path(outdir)
    outputs = {f: outdir / f"{f.stem}.{fmt}" for f in inputs}
    check_names(inputs, outputs)
    outdir.mkdir(parents=True, exist_ok=True)
    for out in outputs.values():
        # A stale output from an earlier run would pass for a fresh one.
        out.unlink(missing_ok=True)

    with tempfile.TemporaryDirectory(prefix="xlperf-lo-") as profile:
        user = Path(profile) / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(_PROFILE_XCU, encoding="utf-8")
        command = [
            exe,
            "--headless",
            "--norestore",
            "--nolockcheck",
            f"-env:UserInstallation={Path(profile).as_uri()}",
            "--convert-to",
            _FILTERS[fmt],
            "--outdir",
            str(outdir),
            *(str(f) for f in inputs),
        ]
        try:
            stderr = _run(command, timeout)
        except subprocess.TimeoutExpired:
            names = ", ".join(str(f) for f in inputs)
            raise RecalcError(f"LibreOffice 在 {timeout:g} 秒内未完成，未重算：{names}", inputs) from None

    failed = [f for f, out in outputs.items() if not out.is_file()]
    if failed:
        names = ", ".join(str(f) for f in failed)
        if stderr.strip():  # LibreOffice's own words (English) go to the log, not to the person
            logger.warning("soffice did not recalculate %s: %s", names, stderr.strip()[-500:])
        raise RecalcError(f"LibreOffice 未能重算：{names}", failed)
    return outputs


def check_names(inputs: Sequence[Path], outputs: dict[Path, Path]) -> None:
    """Refuse missing inputs, outputs that would overwrite each other, and an output onto its input."""
    missing = [str(f) for f in inputs if not f.is_file()]
    if missing:
        raise FileNotFoundError(f"no such file: {', '.join(missing)}")
    counts = Counter(out.name for out in outputs.values())
    clashes = sorted(name for name, n in counts.items() if n > 1)
    if clashes:
        raise ValueError(
            f"files would overwrite each other in the output folder: {', '.join(clashes)}; "
            "recalculate them in separate calls or rename them"
        )
    onto = [str(f) for f, out in outputs.items() if f.resolve() == out.resolve()]
    if onto:
        raise ValueError(f"output would overwrite its input: {', '.join(onto)}")


def _run(command: list[str], timeout: float) -> str:
    """Run soffice in its own process group, killing the whole group on timeout; its stderr."""
    # /usr/bin/soffice is a launcher script; the real soffice.bin is its child, so killing
    # only the launcher would leave LibreOffice running.
    proc = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        _, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if hasattr(os, "killpg"):
            os.killpg(proc.pid, signal.SIGKILL)
        else:  # Windows: no process groups to kill; the launcher at least
            proc.kill()
        proc.communicate()
        raise
    return stderr or ""


def recalculate_or_copy(files: Sequence[Path], outdir: Path, recalc: bool = True) -> str | None:
    """Recalculate ``files`` into ``outdir``, or copy them there as they are when not asked to or
    when LibreOffice cannot; returns None when recalculated, else why not (for a console)."""
    try:
        if recalc:
            recalculate(files, outdir)
            return None
        reason = "未要求重算"
    except (RecalcUnavailable, RecalcError) as exc:
        reason = str(exc)
    outdir.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copyfile(path, outdir / Path(path).name)
    return reason

