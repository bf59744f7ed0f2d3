"""Regenerate the committed blank templates in templates_xlsx/ from the specs."""

from __future__ import annotations

from pathlib import Path

from xlperf.excel.template import write_template
from xlperf.form.registry import builtin_forms, builtin_layout

TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "templates_xlsx"


def regenerate(directory: Path = TEMPLATES_DIR) -> list[Path]:
    return [write_template(builtin_layout(f), directory / f"{f}.xlsx") for f in builtin_forms()]


if __name__ == "__main__":
    for path in regenerate():
        print(path)
