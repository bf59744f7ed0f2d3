"""Signature checks: a return must still be the template the finance bureau issued to the unit.

Run only when a signing key reaches the check (``ctx.signing_key``; see :mod:`xlperf.form.signature`):
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

from xlperf.checks.base import Check, Context
from xlperf.form.layout import FormLayout
from xlperf.form.signature import Difference, Verdict, fixed_changes, shown, verify

MAX_VALUE_FINDINGS = 10
"""Locked values named one by one; the rest are counted in the last finding."""
UNIT_KEYS = ("unit_name",)
"""Keys (also with a p<n>_ prefix) that hold the unit's name: a changed unit is reported there."""

_REISSUE = "请使用财政局下发给本单位的模板重新填报，不要撤销工作表保护或修改锁定的内容"

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
    return next((k for k in layout.cells if k in UNIT_KEYS or k.split("_", 1)[-1] in UNIT_KEYS), None)


def _flag_part(ctx: Context, d: Difference) -> None:
    if d.part == "unit":
        ctx.flag(_unit_key(ctx.layout), f"本模板是下发给“{shown(d.signed)}”的，文件中的填报单位已改为“{shown(d.found)}”"
                                        f"（签名不符）：{_REISSUE}", expected=shown(d.signed), found=shown(d.found))
    elif d.part == "year":
        ctx.flag("year" if "year" in ctx.layout.cells else None,
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
        values = [d for d in values if d.key and d.key.split("_", 1)[-1] not in UNIT_KEYS and d.key not in UNIT_KEYS]
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
             severity="warning" if ctx.allow_unsigned else None)


CHECKS: tuple[Check, ...] = (
    Check("SIGNATURE_MISMATCH", "error", "模板签名不符", signature_mismatch),
    Check("SIGNATURE_MISSING", "error", "模板没有签名", signature_missing),
)
