"""Check one return file: read it, recompute its scores, run every registered check.

Whatever goes wrong with one file becomes a finding on that file; nothing here raises, so a
batch always accounts for every input. What goes wrong in xlperf itself (a check or a reader that
raises) rejects the return (:mod:`xlperf.checks.failure`, fail closed).

Two optional inputs reach the checks through the :class:`Context`: ``key``, the signing key
(default :data:`xlperf.form.signkeys.FROM_ENV`: ``XLPERF_SIGNING_KEY`` / ``XLPERF_KEY_FILE`` when set,
so that every caller, e.g. the roll-up, verifies signatures once the bureau configures a key;
None: not verified), and ``against``, an index of accepted declarations (``check --against``).
A signed return checked without a key gets the note :data:`xlperf.form.signkeys.UNVERIFIED_NOTE`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from xlperf.checks import CHECKS, Context
from xlperf.checks.failure import check_failed
from xlperf.checks.signature import has_signature
from xlperf.checks.taint import unusable_values, usable_inputs, without_follow_ons
from xlperf.checks.types import text_dates
from xlperf.findings import CheckedReturn
from xlperf.findings.catalogue import finding
from xlperf.findings.text import has_surrogates, scrub
from xlperf.form.evaluate import evaluate
from xlperf.form.excelmath import RuleError
from xlperf.form.registry import builtin_forms, builtin_layout
from xlperf.form.signkeys import FROM_ENV, UNVERIFIED_NOTE, SigningKeyError, key_from_env
from xlperf.model.declarations import Declarations
from xlperf.model.projects import return_unit, return_year
from xlperf.read import ReadError, Return, Value, read_return
from xlperf.read.inbox import SPREADSHEET_SUFFIXES, find_returns
from xlperf.read.roster import Roster

__all__ = ["SPREADSHEET_SUFFIXES", "check_file", "check_return", "find_returns"]


def check_file(path: Path, key: Any = FROM_ENV, against: Declarations | None = None, *,
               roster: Roster | None = None, allow_unsigned: bool = False) -> CheckedReturn:
    """Check the return at ``path``; every problem, including an unreadable file, is a finding.

    ``key``: signing key bytes, None, or FROM_ENV; ``against``: declarations to compare targets with;
    ``roster``: units expected to report; ``allow_unsigned``: with a key, an unsigned return is
    only a warning (blank unsigned templates handed out on purpose). Every text of the result can
    be encoded (:mod:`xlperf.findings.text`); ``file`` stays the path as given."""
    return _encodable(_check_file(path, key, against, roster, allow_unsigned))


def _check_file(path: Path, key: Any, against: Declarations | None, roster: Roster | None,
                allow_unsigned: bool) -> CheckedReturn:
    try:
        ret = read_return(path)
    except ReadError as exc:
        return CheckedReturn(file=path, findings=[finding(exc.code, exc.message)])
    except MemoryError:
        raise  # over the memory limit: xlperf.checks.exceeded.exceeded_finding says so (FILE_TOO_COMPLEX)
    except Exception as exc:  # noqa: BLE001 - a reader's own fault: fail closed, the batch goes on
        return CheckedReturn(file=path, findings=[check_failed(path, exc)])
    if ret.form_id not in builtin_forms():
        return CheckedReturn(file=path, form=ret.form_id, form_version=ret.form_version, findings=[finding(
            "UNKNOWN_FORM", f"文件“{path.name}”标明的表单“{ret.form_id}”不是本系统的表单，请使用财政局下发的模板填报")])
    try:
        return check_return(ret, key, against, roster=roster, allow_unsigned=allow_unsigned)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 - xlperf's fault outside any one check: fail closed
        return CheckedReturn(file=path, form=ret.form_id, form_version=ret.form_version, findings=[check_failed(path, exc)])


def check_return(ret: Return, key: Any = FROM_ENV, against: Declarations | None = None, *,
                 roster: Roster | None = None, allow_unsigned: bool = False) -> CheckedReturn:
    layout = builtin_layout(str(ret.form_id))
    garbled = _replace_surrogates(ret)
    inputs: dict[str, Value] = {f.key: ret.values.get(f.key) for f in layout.inputs()}
    inputs.update(text_dates(layout, inputs))  # 2022.1.1 typed as text: the date (DATE_AS_TEXT says so)
    # Wrong-typed values and cells that moved feed no figure and no other check (checks.taint).
    unusable = unusable_values(layout, ret, inputs)
    inputs = usable_inputs(layout, inputs, unusable)
    checked = CheckedReturn(file=ret.path, form=ret.form_id, form_version=ret.form_version,
                      unit=return_unit(layout, inputs, ret.meta_unit),
                      year=return_year(layout, inputs, ret.meta_year), values=dict(inputs),
                      notes=list(ret.notes))
    numeric = {k: v for k, v in inputs.items() if not isinstance(v, dt.date)}  # dates feed no score
    try:
        recomputed = evaluate(layout, numeric)
    except RuleError as exc:
        checked.findings.append(finding("RECOMPUTE_FAILED", f"无法重算得分：{exc}"))
        return checked
    recomputed = {} if unusable.unmappable else {k: v for k, v in recomputed.items() if k not in unusable.tainted}
    checked.scores = recomputed
    signing_key = _signing_key(key, checked.notes)
    if signing_key is None and has_signature(ret):
        checked.notes.append(UNVERIFIED_NOTE)
    ctx = Context(ret=ret, layout=layout, inputs=inputs, recomputed=recomputed,
                  signing_key=signing_key, declarations=against, roster=roster,
                  allow_unsigned=allow_unsigned)
    for garbled_key in garbled:
        ctx.flag(garbled_key, f"“{ctx.place(garbled_key)[2]}”含有无法编码的字符（已替换为 \ufffd；可能是文件被其他工具改动过）：请检查该处文字后重新报送",
                 code=TEXT_UNENCODABLE)
    for check in CHECKS:
        ctx.current = check
        try:
            check.run(ctx)
        except Exception as exc:  # noqa: BLE001 - a faulty check must not hide the others; it rejects the return
            ctx.findings.append(check_failed(ret.path, exc, check=check.code, title=check.title))
    checked.findings = without_follow_ons(ctx.findings, unusable)
    return checked


TEXT_UNENCODABLE = "TEXT_UNENCODABLE"
"""A text cell holding a lone surrogate (an ``_xD800_``-style escape): replaced by U+FFFD."""


def _replace_surrogates(ret: Return) -> list[str]:
    """Replace lone surrogates in the return's text cells and values; the keys whose value had one."""
    texts = [v for v in ret.cells.values() if isinstance(v, str)]
    texts += [v for v in ret.values.values() if isinstance(v, str)]
    if not has_surrogates("".join(texts)):  # one encoding in C for the common case: none
        return []
    for ref, value in ret.cells.items():
        if isinstance(value, str) and has_surrogates(value):
            ret.cells[ref] = scrub(value)
    garbled = [k for k, v in ret.values.items() if isinstance(v, str) and has_surrogates(v)]
    for k in garbled:
        ret.values[k] = scrub(str(ret.values[k]))
    return garbled


def _encodable(checked: CheckedReturn) -> CheckedReturn:
    """``checked`` with lone surrogates replaced in its texts (a file name that is not UTF-8 is
    quoted in messages; a crafted cell's text may be quoted too)."""
    texts = [f.message + (f.expected or "") + (f.found or "") + f.label for f in checked.findings]
    texts += checked.notes + [v for v in checked.values.values() if isinstance(v, str)]
    texts += [checked.unit or "", checked.form or "", checked.form_version or ""]
    if not has_surrogates("".join(texts)):
        return checked
    checked.findings = [dataclasses.replace(
        f, message=scrub(f.message), label=scrub(f.label), expected=None if f.expected is None else scrub(f.expected),
        found=None if f.found is None else scrub(f.found)) for f in checked.findings]
    checked.notes = [scrub(n) for n in checked.notes]
    checked.values = {k: scrub(v) if isinstance(v, str) else v for k, v in checked.values.items()}
    checked.unit, checked.form, checked.form_version = (
        None if t is None else scrub(t) for t in (checked.unit, checked.form, checked.form_version))
    return checked


def _signing_key(key: Any, notes: list[str]) -> bytes | None:
    if key is not FROM_ENV:
        if isinstance(key, str):
            key = key.encode("utf-8")
        return key if isinstance(key, bytes) and key else None
    try:
        return key_from_env()
    except SigningKeyError as exc:
        notes.append(f"签名密钥配置有误（{exc}），签名未核验")
        return None

