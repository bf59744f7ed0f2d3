"""Target operators and deviation thresholds: one definition for the forms, their conditional
formats (:mod:`xlperf.form.alerts`) and the checks.

A target is reached when the actual meets its operator: ≥ ＞ ＝ ("at least", positive) or ≤ ＜
("at most", reverse). The forms offer the full-width signs; clerks also type ASCII (>=) or words
(不少于, 以上), which :mod:`xlperf.model.values` reads through :data:`WRITTEN` and :data:`SUFFIXES`.
"""

from __future__ import annotations

OPERATORS = ("≥", "＞", "＝", "≤", "＜")
"""The operators as the forms print them (full width)."""
OPERATORS_TEXT = "、".join(OPERATORS[:-1]) + " 或 " + OPERATORS[-1]
QUALITATIVE = "定性"
"""The 指标性质 of a qualitative indicator (the 一体化 forms offer it beside the operators): its
score is typed by the unit inside the band of the level reached (:mod:`xlperf.form.rowrules`)."""
"""The operators as a message lists them: ≥、＞、＝、≤ 或 ＜."""
POSITIVE = ("≥", "＞", "＝")
"""Reached when the actual is at least the target."""
REVERSE = ("≤", "＜")
"""Reached when the actual is at most the target."""
STRICT = ("＞", "＜")
ASCII = {"≥": ">=", "＞": ">", "＝": "=", "≤": "<=", "＜": "<"}
"""Each operator as typed on a plain keyboard (what an Excel cell may hold instead)."""
ASCII_ALIASES = {**{a: op for op, a in ASCII.items()}, "==": "＝"}
"""ASCII spelling → the operator."""

POSITIVE_OPS = POSITIVE + tuple(ASCII[op] for op in POSITIVE)
REVERSE_OPS = REVERSE + tuple(ASCII[op] for op in REVERSE)
STRICT_OPS = tuple(x for op in STRICT for x in (op, ASCII[op]))
"""Operator cell values in either spelling (the conditional formats compare the cell as typed)."""

OVERSHOOT = 0.3
"""Beating a positive target by this fraction or more needs an explanation (rules.md [L]), in the
checks (DEVIATION_NO_REASON) and in the template's conditional format alike."""

WRITTEN: tuple[tuple[str, str], ...] = (
    (">=", "≥"), ("=>", "≥"), ("≧", "≥"), ("≥", "≥"), ("<=", "≤"), ("=<", "≤"), ("≦", "≤"),
    ("≤", "≤"), ("==", "＝"), (">", "＞"), ("<", "＜"), ("=", "＝"),
    ("大于或等于", "≥"), ("大于等于", "≥"), ("不低于", "≥"), ("不少于", "≥"), ("至少", "≥"),
    ("达到", "≥"), ("小于或等于", "≤"), ("小于等于", "≤"), ("不高于", "≤"), ("不超过", "≤"),
    ("不多于", "≤"), ("至多", "≤"), ("控制在", "≤"), ("大于", "＞"), ("高于", "＞"),
    ("超过", "＞"), ("多于", "＞"), ("小于", "＜"), ("低于", "＜"), ("少于", "＜"), ("等于", "＝"),
)
"""Ways a value may start with an operator, after NFKC folding (＞ is >): tried in order, so a
longer spelling comes before its prefix."""
SUFFIXES: tuple[tuple[str, str], ...] = (
    ("及以上", "≥"), ("以上", "≥"), ("及以下", "≤"), ("以下", "≤"), ("以内", "≤"),
)
"""Words after a number that give its operator (95%以上)."""
