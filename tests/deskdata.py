"""Returns for the desk's tests: the demo's fictional units (xlperf/cli/demo.py), filled from the
templates and recalculated by LibreOffice when it is there, as a unit's Excel would save them."""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
from pathlib import Path

from ledger_support import set_saved

from xlperf.cli.demo import DEMO_RETURNS, DemoReturn
from xlperf.excel.fill import fill_workbook
from xlperf.excel.recalc import recalculate_or_copy, soffice_path
from xlperf.excel.template import write_template
from xlperf.form.registry import builtin_layout

REJECTED_UNIT = "西山县中小企业局"
"""Its demo return has 差 typed over the grade formula: rejected by the checks."""
CORRECTED_NAME = "自评表_西山县中小企业局_修改后.xlsx"


def corrected(demo: DemoReturn) -> DemoReturn:
    """The same unit's return with its mistakes put right (the sample's own values)."""
    return dataclasses.replace(demo, file=CORRECTED_NAME, changes={})


def make_returns(outdir: Path, extra: tuple[DemoReturn, ...] = ()) -> list[Path]:
    """The demo returns (and ``extra``) as files in ``outdir``."""
    wanted = list(DEMO_RETURNS) + list(extra)
    with tempfile.TemporaryDirectory(prefix="xlperf-desk-returns-") as tmp:
        templates = {form: write_template(builtin_layout(form), Path(tmp) / "t" / f"{form}.xlsx")
                     for form in {r.form for r in wanted}}
        filled = [fill_workbook(templates[r.form], r.values(), Path(tmp) / r.file) for r in wanted]
        # ``extra`` are later versions (a corrected return): saved later, as the unit's Excel
        # would record it, so that the ledger can tell the newer (a second is all openpyxl keeps).
        later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(minutes=1)
        for path in filled[len(DEMO_RETURNS):]:
            set_saved(path, later)
        recalculate_or_copy(filled, outdir, soffice_path() is not None)
    return [outdir / r.file for r in wanted]


def rejected_demo() -> DemoReturn:
    return next(r for r in DEMO_RETURNS if r.unit == REJECTED_UNIT)


def demo_year() -> int:
    """The year the demo's self-evaluations are filled for (a round must be of that year)."""
    return int(rejected_demo().values()["year"])
