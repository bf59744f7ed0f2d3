"""Write a signed template: written, read back, signed, written again with the signature rows.

What is signed is computed from the template *as read back* (:mod:`xlperf.form.signature`), so
signing and checking share one code path. Reading sits above this layer, so the caller passes
the reader (``read_back=xlperf.read.read_return``) rather than this module importing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from xlperf.excel.template import TemplateOptions, write_template
from xlperf.form.layout import FormLayout
from xlperf.form.signature import ReadBack, signature_rows


def write_signed_template(layout: FormLayout, path: Path, options: TemplateOptions | None = None,
                          key: bytes | None = None, *, read_back: Callable[[Path], ReadBack]) -> Path:
    """Write a template; with a key, sign what it locks (written, read back, signed, rewritten)."""
    options = options or TemplateOptions()
    write_template(layout, path, options)
    if key is None:
        return path
    rows = signature_rows(read_back(path), layout, key)
    return write_template(layout, path, replace(options, meta=[*options.meta, *rows]))
