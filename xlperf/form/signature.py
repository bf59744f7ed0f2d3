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

The signature is computed from the template *as read back* by :func:`xlperf.read.read_return`
(:func:`write_signed_template` writes the template, reads it, signs, and writes it again with
the signature rows), so signing and checking share one code path and cannot drift apart.

Values are canonical text: numbers with 15 significant digits (what spreadsheets keep), dates
ISO, text stripped with line ends unified. Files without formulas (.xls/.ods saved from the
template) cannot show formula text: for them the signed formula digest is taken as stored and
the check says so elsewhere (``FORMULAS_UNVERIFIED``).

The key: ``--key-file`` on the command line, else ``XLPERF_SIGNING_KEY`` (the secret itself),
else ``XLPERF_KEY_FILE`` (a file holding it). ``python -m xlperf.form.signature`` prints a new random
key. Without a key nothing is signed, and ``check`` notes that signatures were not verified.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from xlsxwriter.utility import xl_rowcol_to_cell

from xlperf.excel.template import TemplateOptions, write_template
from xlperf.form.formulas import normalise_formula
from xlperf.form.layout import FormLayout
from xlperf.read import Return, Value, read_return

__all__ = [
    "FROM_ENV", "KEY_ENV", "KEY_FILE_ENV", "UNVERIFIED_NOTE", "Difference", "SigningKeyError",
    "Verdict", "generate_key", "has_signature", "key_from_env", "load_key", "signature_rows",
    "verify", "write_signed_template",
]

KEY_ENV = "XLPERF_SIGNING_KEY"
KEY_FILE_ENV = "XLPERF_KEY_FILE"
SCHEME = "xlperf-hmac-sha256-1"
SIGNATURE_ROW = "signature"
KEY_ID_ROW = "signature_key_id"
SIGNED_ROW = "signed"
MIN_KEY_BYTES = 16
"""Shorter secrets are refused: a signature is only as strong as its key."""
UNSIGNED_STYLES = ("note",)
"""Fixed cells left out of the signature: units write the signing date into these."""

UNVERIFIED_NOTE = (f"本报表带有财政局签名，但未配置签名密钥（环境变量 {KEY_ENV} 或 {KEY_FILE_ENV}，"
                   "或 --key-file），签名未核验")


class _FromEnv:
    def __repr__(self) -> str:
        return "FROM_ENV"


FROM_ENV: Any = _FromEnv()
"""Default of ``key`` arguments: take the key from the environment (:func:`key_from_env`)."""


class SigningKeyError(ValueError):
    """A configured key that cannot be used; the message is Chinese and says what to do."""


# -- keys -------------------------------------------------------------------------------------
def generate_key() -> str:
    """A new random key (64 hex digits) for a key file or ``XLPERF_SIGNING_KEY``."""
    return secrets.token_hex(32)


def _checked(secret: bytes, where: str) -> bytes:
    secret = secret.strip()
    if not secret:
        raise SigningKeyError(f"{where}是空的：请写入签名密钥（可用 python -m xlperf.form.signature 生成）")
    if len(secret) < MIN_KEY_BYTES:
        raise SigningKeyError(f"{where}太短（{len(secret)} 字节，至少 {MIN_KEY_BYTES} 字节）："
                              "请使用 python -m xlperf.form.signature 生成的密钥")
    return secret


@lru_cache(maxsize=8)
def _read_key_file(path: str, mtime_ns: int) -> bytes:
    # Cached by modification time: a batch checks thousands of returns with one key.
    return _checked(Path(path).read_bytes(), f"密钥文件“{path}”")


def load_key(key_file: Path | None = None, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The signing key: ``key_file``, else ``XLPERF_SIGNING_KEY``, else ``XLPERF_KEY_FILE``; or None.

    Raises :class:`SigningKeyError` for a configured key that cannot be used (missing file,
    empty or short key): a misconfigured key must not silently turn verification off."""
    env = os.environ if environ is None else environ
    if key_file is None:
        secret = env.get(KEY_ENV)
        if secret is not None and secret.strip():
            return _checked(secret.encode("utf-8"), f"环境变量 {KEY_ENV}")
        named = env.get(KEY_FILE_ENV, "").strip()
        if not named:
            return None
        key_file = Path(named)
    try:
        return _read_key_file(str(key_file), key_file.stat().st_mtime_ns)
    except OSError as exc:
        raise SigningKeyError(f"无法读取密钥文件“{key_file}”（{exc.strerror or exc}）：请检查路径和权限") from None


def key_from_env() -> bytes | None:
    """:func:`load_key` from the environment only."""
    return load_key(None)


def key_id(key: bytes) -> str:
    """A short fingerprint of a key (an HMAC of a fixed text: it reveals nothing of the key)."""
    return hmac.new(key, b"xlperf signing key id", hashlib.sha256).hexdigest()[:12]


# -- the signed content -----------------------------------------------------------------------
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


def _squeeze(value: object) -> str:
    # Fixed texts as compared by the tamper checks: whitespace (wrapping) means nothing.
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
                yield sheet.name, xl_rowcol_to_cell(placed.row, placed.col), _squeeze(expected)


def _texts_digest(ret: Return, layout: FormLayout) -> str:
    return _digest(f"{s}!{a1}={_squeeze(ret.cells.get((s, a1)))}" for s, a1, _ in fixed_cells(layout))


def _formulas_digest(ret: Return, layout: FormLayout) -> str | None:
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


def signed_content(ret: Return, layout: FormLayout, keys: Iterable[str],
                   stored_formulas: object = None) -> dict[str, Any]:
    """What is signed, recomputed from a return as read; ``keys`` are the locked input keys."""
    formulas = _formulas_digest(ret, layout)
    return {
        "scheme": SCHEME,
        "form": ret.meta.get("form_id", ""),
        "version": ret.meta.get("form_version", ""),
        "year": ret.meta.get("year", ""),
        "unit": ret.meta.get("unit", ""),
        "values": {key: _canon(ret.values.get(key)) for key in sorted(set(keys))},
        "texts": _texts_digest(ret, layout),
        "formulas": formulas if formulas is not None else stored_formulas,
    }


def _serialise(content: Mapping[str, Any]) -> bytes:
    return json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")


def _mac(key: bytes, content: Mapping[str, Any]) -> str:
    return hmac.new(key, _serialise(content), hashlib.sha256).hexdigest()


def locked_keys(ret: Return, layout: FormLayout) -> list[str]:
    """Input keys holding a value in a freshly written template: exactly the prefilled ones."""
    return sorted(f.key for f in layout.inputs() if _canon(ret.values.get(f.key)) is not None)


def signature_rows(ret: Return, layout: FormLayout, key: bytes) -> list[tuple[str, str]]:
    """The ``_xlperf`` rows that sign the freshly written template ``ret``."""
    content = signed_content(ret, layout, locked_keys(ret, layout))
    return [(SIGNATURE_ROW, _mac(key, content)), (KEY_ID_ROW, key_id(key)),
            (SIGNED_ROW, _serialise(content).decode("utf-8"))]


def write_signed_template(layout: FormLayout, path: Path, options: TemplateOptions | None = None,
                          key: bytes | None = None) -> Path:
    """Write a template; with a key, sign what it locks (written, read back, signed, rewritten)."""
    options = options or TemplateOptions()
    write_template(layout, path, options)
    if key is None:
        return path
    rows = signature_rows(read_return(path), layout, key)
    return write_template(layout, path, replace(options, meta=[*options.meta, *rows]))


# -- verifying --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Difference:
    """One part of the signed content that differs from what was signed."""

    part: str
    """``unit``, ``year``, ``form``, ``version``, ``value`` (then ``key``), ``texts`` or ``formulas``."""
    signed: str | None
    found: str | None
    key: str | None = None


@dataclass(frozen=True)
class Verdict:
    status: str
    """``unsigned``, ``valid`` or ``invalid``."""
    other_key: bool = False
    """Signed with another key (the key ids differ and the signed content does not verify)."""
    meta_altered: bool = False
    """The signature rows themselves were edited (the stored content does not verify)."""
    differences: list[Difference] = field(default_factory=list)


def has_signature(ret: Return) -> bool:
    return bool(ret.meta.get(SIGNATURE_ROW, "").strip())


def verify(ret: Return, layout: FormLayout, key: bytes) -> Verdict:
    """Recompute the signature of ``ret`` with ``key``; on a mismatch, say what differs."""
    signature = ret.meta.get(SIGNATURE_ROW, "").strip().lower()
    if not signature:
        return Verdict("unsigned")
    try:
        stored = json.loads(ret.meta.get(SIGNED_ROW, ""))
    except ValueError:
        stored = None
    if not _well_formed(stored):
        return Verdict("invalid", meta_altered=True)
    content = signed_content(ret, layout, stored["values"], stored.get("formulas"))
    if hmac.compare_digest(_mac(key, content), signature):
        return Verdict("valid")
    if not hmac.compare_digest(_mac(key, stored), signature):
        other = ret.meta.get(KEY_ID_ROW, "").strip() not in ("", key_id(key))
        return Verdict("invalid", other_key=other, meta_altered=not other)
    return Verdict("invalid", differences=_differences(stored, content))


def _well_formed(stored: object) -> bool:
    """Whether the ``signed`` row parsed into content of the shape :func:`signed_content` makes."""
    if not isinstance(stored, dict) or not isinstance(stored.get("values"), dict):
        return False
    values = stored["values"]
    return (all(isinstance(k, str) and (v is None or isinstance(v, str)) for k, v in values.items())
            and all(isinstance(stored.get(p), str | None) for p in ("form", "version", "year", "unit", "texts", "formulas")))


def _differences(signed: Mapping[str, Any], found: Mapping[str, Any]) -> list[Difference]:
    out = [Difference(part, signed.get(part), found.get(part))
           for part in ("form", "version", "year", "unit") if signed.get(part) != found.get(part)]
    values, now = signed["values"], found["values"]
    out += [Difference("value", values[k], now.get(k), k) for k in sorted(values) if values[k] != now.get(k)]
    out += [Difference(part, None, None) for part in ("texts", "formulas") if signed.get(part) != found.get(part)]
    return out


def expected_fixed(layout: FormLayout) -> dict[tuple[str, str], str]:
    """Every signed fixed cell's text as the form prints it (squeezed), by (sheet, A1)."""
    return {(s, a1): text for s, a1, text in fixed_cells(layout)}


def fixed_changes(ret: Return, layout: FormLayout) -> list[tuple[str, str, str, str]]:
    """(sheet, A1, form's text, file's text) of fixed cells that differ from the form."""
    return [(s, a1, text, _squeeze(ret.cells.get((s, a1)))) for (s, a1), text in expected_fixed(layout).items()
            if _squeeze(ret.cells.get((s, a1))) != text]


def shown(value: Value | str | None) -> str:
    return "空白" if value in (None, "") else str(value)


if __name__ == "__main__":  # pragma: no cover - prints a key for a key file
    print(generate_key())
