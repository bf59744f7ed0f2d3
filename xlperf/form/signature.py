"""Signatures of issued templates: an HMAC-SHA256 over what the finance bureau locked.

A template issued to a unit carries, in its hidden ``_xlperf`` sheet, a signature over a
canonical serialisation of:

- the form id, version, and the ``year`` and ``unit`` meta rows (who the template was issued to);
- every prefilled (locked) input value, by key: unit and project names, budget, declared
  indicators and targets (the keys are listed in the signed content itself);
- the fixed content of the form as the file holds it: a SHA-256 digest of every fixed cell
  (titles, labels, headers, weights; the ``note`` cells are left out because units write the
  signing date there) and a digest of every formula's text, normalised as
  :func:`xlperf.form.formulas.normalise_formula` does, so that a re-save by Excel, WPS or
  LibreOffice (``$``, sheet quotes, ``_xlfn.``) changes nothing.

Rows written (see :func:`signature_rows`): ``signature`` (hex HMAC), ``signature_key_id`` (a
short fingerprint, so that a template signed with another key, e.g. last year's, is told apart
from an altered one) and ``signed`` (the signed content as canonical JSON: it is what the file
showed when issued, not secret, and lets ``check`` say which locked value changed).

This module says what is signed, of a workbook *as read back* (:class:`ReadBack`, which
:class:`xlperf.read.Return` is): :func:`xlperf.excel.signed.write_signed_template` writes the
template, reads it, signs, and writes it again with the signature rows;
:func:`xlperf.checks.signature.verify` recomputes the same content from a return. Signing and
checking share this one code path and cannot drift apart.

Values are canonical text: numbers with 15 significant digits (what spreadsheets keep), dates
ISO, text stripped with line ends unified. Files without formulas (.xls/.ods saved from the
template) cannot show formula text: for them the signed formula digest is taken as stored and
the check says so elsewhere (``FORMULAS_UNVERIFIED``).

The key is :mod:`xlperf.form.signkeys`'s business; ``python -m xlperf.form.signature`` prints a
new random key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.form.formulas import normalise_formula
from xlperf.form.layout import FormLayout
from xlperf.form.metasheet import FORM_ID, FORM_VERSION, UNIT, YEAR
from xlperf.form.signkeys import key_id
from xlperf.form.signkeys import main as keys_main

__all__ = [
    "KEY_ID_ROW", "SCHEME", "SIGNATURE_ROW", "SIGNED_ROW", "ReadBack", "expected_fixed", "fixed_cells",
    "locked_keys", "mac", "signature_rows", "signed_content", "squeeze",
]

SCHEME = "xlperf-hmac-sha256-1"
SIGNATURE_ROW = "signature"
KEY_ID_ROW = "signature_key_id"
SIGNED_ROW = "signed"
UNSIGNED_STYLES = ("note",)
"""Fixed cells left out of the signature: units write the signing date into these."""


class ReadBack(Protocol):
    """What signing needs of a workbook as read (:class:`xlperf.read.Return` is one)."""

    @property
    def file_kind(self) -> str: ...
    @property
    def meta(self) -> Mapping[str, str]: ...
    @property
    def values(self) -> Mapping[str, object]: ...
    @property
    def cells(self) -> Mapping[tuple[str, str], object]: ...
    @property
    def cell_formulas(self) -> Mapping[tuple[str, str], str]: ...


def _canon(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | float):
        text = format(float(value), ".15g")
        return "0" if text == "-0" else text
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    text = str(value).replace("\r\n", "\n").strip()
    return text or None


def squeeze(value: object) -> str:
    """A fixed text as compared here and by the tamper checks: whitespace (wrapping) means nothing."""
    if isinstance(value, str):
        return "".join(value.split())
    return _canon(value) or ""


def _digest(items: Iterable[str]) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(item.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def fixed_cells(layout: FormLayout) -> Iterable[tuple[str, str, str]]:
    """(sheet, A1, expected text) of every signed fixed cell, in layout order."""
    for sheet in layout.sheets:
        for placed in sheet.cells:
            if placed.field is None and placed.calc is None and placed.style not in UNSIGNED_STYLES:
                expected = placed.number if placed.number is not None else placed.text
                yield sheet.name, xl_rowcol_to_cell(placed.row, placed.col), squeeze(expected)


def expected_fixed(layout: FormLayout) -> dict[tuple[str, str], str]:
    """Every signed fixed cell's text as the form prints it (squeezed), by (sheet, A1)."""
    return {(s, a1): text for s, a1, text in fixed_cells(layout)}


def _texts_digest(ret: ReadBack, layout: FormLayout) -> str:
    return _digest(f"{s}!{a1}={squeeze(ret.cells.get((s, a1)))}" for s, a1, _ in fixed_cells(layout))


def _formulas_digest(ret: ReadBack, layout: FormLayout) -> str | None:
    """Digest of every formula as the file holds it; None when the format keeps no formulas."""
    if ret.file_kind != "xlsx":
        return None
    items = []
    for sheet in layout.sheets:
        for placed in sheet.cells:
            if placed.calc is None:
                continue
            a1 = xl_rowcol_to_cell(placed.row, placed.col)
            text = ret.cell_formulas.get((sheet.name, a1))
            items.append(f"{sheet.name}!{a1}={normalise_formula(text, sheet.name) if text else ''}")
    return _digest(items)


def signed_content(ret: ReadBack, layout: FormLayout, keys: Iterable[str],
                   stored_formulas: object = None) -> dict[str, Any]:
    """What is signed, recomputed from a return as read; ``keys`` are the locked input keys."""
    formulas = _formulas_digest(ret, layout)
    return {
        "scheme": SCHEME,
        "form": ret.meta.get(FORM_ID, ""),
        "version": ret.meta.get(FORM_VERSION, ""),
        "year": ret.meta.get(YEAR, ""),
        "unit": ret.meta.get(UNIT, ""),
        "values": {key: _canon(ret.values.get(key)) for key in sorted(set(keys))},
        "texts": _texts_digest(ret, layout),
        "formulas": formulas if formulas is not None else stored_formulas,
    }


def _serialise(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def mac(key: bytes, content: Mapping[str, Any]) -> str:
    return hmac.new(key, _serialise(content), hashlib.sha256).hexdigest()


def locked_keys(ret: ReadBack, layout: FormLayout) -> list[str]:
    """Input keys holding a value in a freshly written template: exactly the prefilled ones."""
    return sorted(f.key for f in layout.inputs() if _canon(ret.values.get(f.key)) is not None)


def signature_rows(ret: ReadBack, layout: FormLayout, key: bytes) -> list[tuple[str, str]]:
    """The ``_xlperf`` rows that sign the freshly written template ``ret``."""
    content = signed_content(ret, layout, locked_keys(ret, layout))
    return [(SIGNATURE_ROW, mac(key, content)), (KEY_ID_ROW, key_id(key)),
            (SIGNED_ROW, _serialise(content).decode("utf-8"))]


if __name__ == "__main__":  # pragma: no cover - the older spelling of python -m xlperf.form.signkeys
    raise SystemExit(keys_main())
