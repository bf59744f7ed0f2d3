"""The bundled sample data the demos fill returns from (``xlperf/samples``): one module below the
demos, so that each demo stage can use it without importing the demo that runs them all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

__all__ = ["SAMPLES_DIR", "sample_values"]

SAMPLES_DIR = Path(__file__).resolve().parent.parent / "samples"


def sample_values(form_id: str) -> dict[str, Any]:
    """Seed-derived values of a filled return of ``form_id``."""
    values: dict[str, Any] = json.loads((SAMPLES_DIR / f"{form_id}.json").read_text(encoding="utf-8"))
    return values
