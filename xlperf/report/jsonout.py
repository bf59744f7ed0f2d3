"""The JSON of one checked return: ``CheckedReturn.to_dict()``, as UTF-8 text a person can read."""

from __future__ import annotations

import json
from pathlib import Path

from xlperf.findings import CheckedReturn
from xlperf.findings.text import scrub


def json_bytes(checked: CheckedReturn) -> bytes:
    """``checked.to_dict()`` as UTF-8 JSON (Chinese kept as is), ending in a newline."""
    # default=str: a value type to_dict() does not know must not cost the whole report.
    text = json.dumps(checked.to_dict(), ensure_ascii=False, indent=1, default=str, allow_nan=False)
    return (scrub(text) + "\n").encode("utf-8")


def write_json(checked: CheckedReturn, path: Path) -> Path:
    """Write ``checked.to_dict()`` to ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(json_bytes(checked))
    return path
