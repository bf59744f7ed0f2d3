"""Signature checks: a return must still be the template the finance bureau issued to the unit.

What is signed is :mod:`xlperf.form.signature`'s; this module verifies it on a return as read
(:func:`verify`). The checks run only when a signing key reaches them (``ctx.signing_key``):
without one, nothing is reported here and the checker notes on each signed return that its
signature was not verified. With a key:

- ``SIGNATURE_MISMATCH`` (error): the signature does not match what the file holds. When the
  stored signed content is authentic, one finding per difference, at its cell: the unit (the
  template was issued to another unit), a locked prefilled value, or the form's fixed texts,
  weights or formulas (at the first cell that differs from the form). Otherwise one finding: the
  signature rows were edited, or the template was signed with another key.
- ``SIGNATURE_MISSING`` (error): the return carries no signature (made from an unsigned
  template, or the signature rows were deleted: a unit could otherwise strip the signature of
  another unit's file, change the locked unit name and have it counted as its own). A warning
  only when unsigned templates were handed out on purpose (``check --allow-unsigned``).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from xlperf.checks.base import Check, Context
from xlperf.form.layout import FormLayout
from xlperf.form.roles import UNIT, YEAR
from xlperf.form.signature import (
    KEY_ID_ROW,
    SIGNATURE_ROW,
    SIGNED_ROW,
    expected_fixed,
    mac,
    signed_content,
    squeeze,
)
from xlperf.form.signkeys import key_id
from xlperf.model.values import or_blank as shown
from xlperf.read import Return

MAX_VALUE_FINDINGS = 10
"""Locked values named one by one; the rest are counted in the last finding."""

_REISSUE = "请使用财政局下发给本单位的模板重新填报，不要撤销工作表保护或修改锁定的内容"


# -- verifying the signature ------------------------------------------------------------------
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
    if hmac.compare_digest(mac(key, content), signature):
        return Verdict("valid")
    if not hmac.compare_digest(mac(key, stored), signature):
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


def fixed_changes(ret: Return, layout: FormLayout) -> list[tuple[str, str, str, str]]:
    """(sheet, A1, form's text, file's text) of fixed cells that differ from the form."""
    return [(s, a1, text, squeeze(ret.cells.get((s, a1)))) for (s, a1), text in expected_fixed(layout).items()
            if squeeze(ret.cells.get((s, a1))) != text]


_VERDICTS: list[tuple[Context, Verdict | None]] = []


def _verdict(ctx: Context) -> Verdict | None:
    """The return's verdict, computed once per return (both checks ask)."""
    if _VERDICTS and _VERDICTS[0][0] is ctx:
        return _VERDICTS[0][1]
    verdict = verify(ctx.ret, ctx.layout, ctx.signing_key) if ctx.signing_key is not None else None
    _VERDICTS[:] = [(ctx, verdict)]
    return verdict


def _form_place(layout: FormLayout) -> tuple[str, str]:
    return (layout.sheets[0].name, "A1") if layout.sheets else ("", "")


def _unit_key(layout: FormLayout) -> str | None:
    """The (first) field holding the unit's name: a changed unit is reported there."""
    return next(iter(layout.role_keys(UNIT)), None)


def _flag_part(ctx: Context, d: Difference) -> None:
    if d.part == "unit":
        ctx.flag(_unit_key(ctx.layout), f"本模板是下发给“{shown(d.signed)}”的，文件中的填报单位已改为“{shown(d.found)}”"
                                        f"（签名不符）：{_REISSUE}", expected=shown(d.signed), found=shown(d.found))
    elif d.part == "year":
        ctx.flag(ctx.layout.role_key(YEAR),
                 f"本模板下发时的年度为 {shown(d.signed)}，文件中已改为 {shown(d.found)}（签名不符）：{_REISSUE}",
                 expected=shown(d.signed), found=shown(d.found), sheet=_form_place(ctx.layout)[0])
    else:
        sheet, cell = _form_place(ctx.layout)
        ctx.flag(None, f"模板的表单信息（{d.part}）在下发后被改动（签名不符）：{_REISSUE}",
                 expected=shown(d.signed), found=shown(d.found), sheet=sheet, cell=cell)


def _flag_value(ctx: Context, d: Difference) -> None:
    assert d.key is not None
    label = ctx.place(d.key)[2]
    ctx.flag(d.key if d.key in ctx.layout.cells else None,
             f"“{label}”是财政局预填并锁定的内容，下发时为 {shown(d.signed)}，文件中为 {shown(d.found)}（签名不符）：{_REISSUE}",
             expected=shown(d.signed), found=shown(d.found))


def _flag_fixed(ctx: Context, part: str) -> None:
    what = "标签、标题或分值" if part == "texts" else "计算公式"
    changes = fixed_changes(ctx.ret, ctx.layout) if part == "texts" else []
    if changes:
        sheet, cell, expected, found = changes[0]
        more = f"等 {len(changes)} 处" if len(changes) > 1 else ""
        ctx.flag(None, f"模板中锁定的{what}在下发后被改动（{sheet} {cell}{more}，签名不符）：{_REISSUE}",
                 expected=expected, found=found or "空白", sheet=sheet, cell=cell)
        return
    sheet, cell = _form_place(ctx.layout)
    ctx.flag(None, f"模板中锁定的{what}在下发后被改动（签名不符）：{_REISSUE}",
             expected="与下发的模板一致", found="已改动", sheet=sheet, cell=cell)


def signature_mismatch(ctx: Context) -> None:
    verdict = _verdict(ctx)
    if verdict is None or verdict.status != "invalid":
        return
    sheet, cell = _form_place(ctx.layout)
    if verdict.other_key:
        ctx.flag(None, "本模板的签名不是用财政局现行的签名密钥签发的（可能是往年或其他地区的模板）：请使用财政局本次下发给本单位的模板重新填报",
                 expected="现行密钥签发", found="其他密钥签发", sheet=sheet, cell=cell)
        return
    if verdict.meta_altered or not verdict.differences:
        ctx.flag(None, f"隐藏的 _xlperf 工作表中的签名信息被改动，无法确认模板来源（签名不符）：{_REISSUE}",
                 expected="签名有效", found="签名不符", sheet=sheet, cell=cell)
        return
    values = [d for d in verdict.differences if d.part == "value"]
    # The unit's name cell is reported with the unit itself, not twice.
    if any(d.part == "unit" for d in verdict.differences):
        unit_keys = set(ctx.layout.role_keys(UNIT))
        values = [d for d in values if d.key and d.key not in unit_keys]
    for d in verdict.differences:
        if d.part in ("form", "version", "year", "unit"):
            _flag_part(ctx, d)
        elif d.part in ("texts", "formulas"):
            _flag_fixed(ctx, d.part)
    for d in values[:MAX_VALUE_FINDINGS]:
        _flag_value(ctx, d)
    if len(values) > MAX_VALUE_FINDINGS:
        ctx.flag(None, f"另有 {len(values) - MAX_VALUE_FINDINGS} 项预填锁定的内容被改动（签名不符）：{_REISSUE}",
                 expected="与下发的模板一致", found="已改动", sheet=sheet, cell=cell)


def signature_missing(ctx: Context) -> None:
    verdict = _verdict(ctx)
    if verdict is None or verdict.status != "unsigned":
        return
    sheet, cell = _form_place(ctx.layout)
    ctx.flag(None, "本报表没有财政局的模板签名（不是用本次下发的模板填报，或签名被删除），无法确认模板来源和锁定内容："
                   "请使用财政局下发给本单位的模板填报；如确为下发的模板，请联系财政局核实",
             expected="有签名", found="无签名", sheet=sheet, cell=cell,
             code=SIGNATURE_NOT_REQUIRED if ctx.allow_unsigned else None)


SIGNATURE_NOT_REQUIRED = "SIGNATURE_NOT_REQUIRED"
"""An unsigned return where the round allows unsigned templates (``allow_unsigned``): a warning."""

CHECKS: tuple[Check, ...] = (
    Check("SIGNATURE_MISMATCH", signature_mismatch),
    Check("SIGNATURE_MISSING", signature_missing),
)
