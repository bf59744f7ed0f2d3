"""The demo on bundled sample data: four blank templates and sample filled returns."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from xlperf.fill import fill_workbook
from xlperf.layout import builtin_layout
from xlperf.recalc import RecalcError, RecalcUnavailable, recalculate
from xlperf.spec import builtin_forms
from xlperf.template import write_template

SAMPLES_DIR = Path(__file__).parent / "samples"


def sample_values(form_id: str) -> dict[str, object]:
    """Seed-derived values of a filled return of ``form_id``."""
    values: dict[str, object] = json.loads((SAMPLES_DIR / f"{form_id}.json").read_text(encoding="utf-8"))
    return values


def run_demo(outdir: Path, recalc: bool = True) -> Iterator[str]:
    """Write the templates and a filled sample return of each form into ``outdir``."""
    templates = outdir / "templates"
    samples = outdir / "samples"
    for form_id in builtin_forms():
        path = write_template(builtin_layout(form_id), templates / f"{form_id}.xlsx")
        yield f"模板：{path}"
    with tempfile.TemporaryDirectory(prefix="xlperf-demo-") as tmp:
        filled = [
            fill_workbook(templates / f"{form_id}.xlsx", sample_values(form_id),
                          Path(tmp) / f"sample_{form_id}.xlsx")
            for form_id in builtin_forms()
        ]
        samples.mkdir(parents=True, exist_ok=True)
        if recalc:
            try:
                for done in recalculate(filled, samples).values():
                    yield f"样例报表（已由 LibreOffice 重算）：{done}"
                return
            except (RecalcUnavailable, RecalcError) as exc:
                yield f"未能重算样例报表（{exc}），以下文件打开时由 Excel/WPS 计算"
        for path in filled:
            target = samples / path.name
            shutil.copyfile(path, target)
            yield f"样例报表：{target}"
