"""Edit workbooks in LibreOffice through UNO, as a clerk's spreadsheet program would.

Run with the system Python that has ``uno`` (``/usr/bin/python3 uno_edit.py JOBS.json``); one
soffice process serves every job of the file. A job is a JSON object:

- ``src``, ``dst``: the workbook to open and where to save it (the suffix picks the format:
  .xlsx, .xls or .ods);
- ``insert``: ``[[sheet, row, count], ...]``: insert ``count`` empty rows before 0-based ``row``
  (LibreOffice moves the cells, merged areas, formulas and defined names below it, as Excel does);
- ``delete``: ``[[sheet, row, count], ...]``: delete rows;
- ``insert_cols``: ``[[sheet, col, count], ...]``;
- ``set``: ``[[sheet, row, col, value], ...]`` after the row edits (a number or a text);
- ``pin_names``: keep every defined name where it was (a tool that does not update names).

Sheet protection is lifted for the edits, as a clerk does to insert rows, and put back (with
the template's password) before saving. Prints one line per job.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.table import CellRangeAddress  # type: ignore[import-not-found]

FILTERS = {".xlsx": "Calc MS Excel 2007 XML", ".xls": "MS Excel 97", ".ods": "calc8"}


def prop(name: str, value: object) -> PropertyValue:
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def connect(pipe: str) -> object:
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
    for _ in range(120):
        try:
            ctx = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
            return ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        except Exception:  # noqa: BLE001 - soffice still starting
            time.sleep(0.25)
    raise RuntimeError("soffice did not start")


def run_job(desktop: object, job: dict) -> None:
    url = uno.systemPathToFileUrl(os.path.abspath(job["src"]))
    doc = desktop.loadComponentFromURL(url, "_blank", 0, (prop("Hidden", True),))
    try:
        sheets = doc.Sheets
        for i in range(sheets.Count):
            sheets.getByIndex(i).unprotect(job.get("password", "xlperf"))
        names = doc.NamedRanges
        pinned = {n: names.getByName(n).Content for n in names.ElementNames} if job.get("pin_names") else {}
        for sheet, row, count in job.get("insert", []):
            index = sheets.getByName(sheet).RangeAddress.Sheet
            sheets.getByName(sheet).insertCells(_rows(index, row, count), uno.Enum("com.sun.star.sheet.CellInsertMode", "ROWS"))
        for sheet, row, count in job.get("delete", []):
            index = sheets.getByName(sheet).RangeAddress.Sheet
            sheets.getByName(sheet).removeRange(_rows(index, row, count), uno.Enum("com.sun.star.sheet.CellDeleteMode", "ROWS"))
        for sheet, col, count in job.get("insert_cols", []):
            ws = sheets.getByName(sheet)
            ws.Columns.insertByIndex(col, count)
        for n, content in pinned.items():
            names.getByName(n).Content = content
        for sheet, row, col, value in job.get("set", []):
            cell = sheets.getByName(sheet).getCellByPosition(col, row)
            if isinstance(value, str):
                cell.String = value
            else:
                cell.Value = value
        for i in range(sheets.Count):
            sheets.getByIndex(i).protect(job.get("password", "xlperf"))
        dst = os.path.abspath(job["dst"])
        suffix = os.path.splitext(dst)[1].lower()
        doc.storeToURL(uno.systemPathToFileUrl(dst), (prop("FilterName", FILTERS[suffix]),))
    finally:
        doc.close(True)


def _rows(sheet: int, row: int, count: int) -> CellRangeAddress:
    a = CellRangeAddress()
    a.Sheet, a.StartColumn, a.EndColumn, a.StartRow, a.EndRow = sheet, 0, 1023, row, row + count - 1
    return a


def main() -> int:
    jobs = json.loads(open(sys.argv[1], encoding="utf-8").read())
    profile = tempfile.mkdtemp(prefix="xlperf-uno-")
    pipe = f"xlperf_uno_{os.getpid()}"
    soffice = shutil.which("soffice") or "soffice"
    proc = subprocess.Popen([soffice, "--headless", "--norestore", "--nolockcheck", "--invisible",
                             f"-env:UserInstallation=file://{profile}", f"--accept=pipe,name={pipe};urp;"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    failed = 0
    try:
        desktop = connect(pipe)
        for job in jobs:
            try:
                run_job(desktop, job)
                print("ok", job["dst"], flush=True)
            except Exception as exc:  # noqa: BLE001 - report and go on with the next job
                failed += 1
                print("failed", job["dst"], type(exc).__name__, exc, flush=True)
        try:
            desktop.terminate()
        except Exception:  # noqa: BLE001 - the bridge closes as soffice exits
            pass
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
