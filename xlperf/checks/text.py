"""Checks of free text: pasted HTML, and text that a spreadsheet would run as a formula.

Only fields where free text is valid are read (text, longtext, value, phone, open choice lists);
text in a number or date field is already a WRONG_TYPE.
"""

from __future__ import annotations

import re

from xlperf.checks.base import Check, Context
from xlperf.checks.fields import free_text_fields
from xlperf.form.operators import ASCII_ALIASES, OPERATORS

_HTML_TAG = re.compile(
    r"</?\s*(?:p|br|div|span|font|b|i|u|strong|em|table|tbody|tr|td|th|ul|ol|li|a|img|h[1-6]|section|article)"
    r"(?:\s[^<>]*)?/?\s*>", re.IGNORECASE)
_HTML_ENTITY = re.compile(r"&(?:nbsp|lt|gt|amp|quot|apos|ldquo|rdquo|mdash|#\d{2,5}|#x[0-9a-f]{2,4});",
                          re.IGNORECASE)

# A cell that starts with = + - @ and then a letter, digit or "(" is run as a formula by Excel
# and by programs that open an export of it (CSV injection), also after a tab or CR that an
# export turns into a new cell or line. Text that is only a phone number ("+86 ...") is not.
_FORMULA = re.compile(r"(?:^|[\t\r])[\t\r ]*([=+\-@][A-Za-z0-9(])")
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-()]+$")
_SHOWN = 40


def _excerpt(text: str, start: int) -> str:
    piece = text[start: start + _SHOWN].replace("\t", "\\t").replace("\r", "\\r").replace("\n", " ")
    return piece + ("…" if len(text) > start + _SHOWN else "")


def html_in_text(ctx: Context) -> None:
    for fld, text in free_text_fields(ctx):
        m = _HTML_TAG.search(text) or _HTML_ENTITY.search(text)
        if m:
            ctx.flag(fld.key,
                     f"“{fld.label}”含有网页格式代码“{m.group(0)}”（从网页或系统中复制粘贴带入）："
                     f"请删除这些代码，粘贴时用“选择性粘贴—只保留文本”粘贴为纯文本",
                     expected="纯文本", found=_excerpt(text, max(0, m.start() - 10)))


# An operator, a number and perhaps a unit: how seed 003 writes its targets.
_SIGNS = "|".join(re.escape(s) for s in sorted({*OPERATORS, *ASCII_ALIASES}, key=len, reverse=True))
_TARGET_LIKE = re.compile(rf"^({_SIGNS})\s*[-+]?[0-9０-９][0-9０-９.,，]*\s*[%％]?[^=()!|+\-*/^&:,;]{{0,6}}$")


def formula_text(ctx: Context) -> None:
    for fld, text in free_text_fields(ctx):
        m = _FORMULA.search(text)
        if not m or _PHONE_LIKE.match(text.strip()):
            continue
        if fld.type == "value" and _TARGET_LIKE.match(text.strip()):
            continue  # "=90%", "=2500家": a target written with its operator (rules.md), not a formula
        where = "开头" if not text[: m.start(1)].strip(" ") else "在制表符或回车之后"
        ctx.flag(fld.key,
                 f"“{fld.label}”的内容{where}是“{m.group(1)[0]}”（“{_excerpt(text, m.start(1))}”），"
                 f"会被电子表格当作公式执行：请改写为普通文字（如去掉开头的符号，或在前面加文字说明）",
                 expected="普通文字", found=_excerpt(text, m.start(1)))


CHECKS: tuple[Check, ...] = (
    Check("HTML_IN_TEXT", html_in_text),
    Check("FORMULA_TEXT", formula_text),
)
