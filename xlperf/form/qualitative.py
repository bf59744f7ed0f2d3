"""The levels a qualitative indicator can reach and the band of scores each allows (10号文 [N]):
达成年度指标 [0.8w, w]; 部分达成年度指标并具有一定效果 [0.6w, 0.8w); 未达成年度指标且效果较差
[0, 0.6w).

One definition for the scorecards' 定性 rows (:mod:`xlperf.form.rules`), the unit-set indicator
rows of the 一体化 forms (:mod:`xlperf.form.rowrules`, where the level is written short: 达成,
部分达成, 未达成) and the checks.
"""

from __future__ import annotations

from decimal import Decimal

from xlperf.form.excelmath import RuleError
from xlperf.form.rulekind import decimal_of

LEVELS: dict[str, tuple[Decimal, Decimal, bool]] = {
    "达成年度指标": (Decimal("0.8"), Decimal("1"), True),
    "部分达成年度指标并具有一定效果": (Decimal("0.6"), Decimal("0.8"), False),
    "未达成年度指标且效果较差": (Decimal("0"), Decimal("0.6"), False),
}
"""level → (low, high) as fractions of the weight, and whether high is inside the band."""
SHORT_LEVELS: dict[str, str] = {
    "达成": "达成年度指标",
    "部分达成": "部分达成年度指标并具有一定效果",
    "未达成": "未达成年度指标且效果较差",
}
"""The levels as the 一体化 forms write them (达成 / 部分达成 / 未达成) → the level."""
REACHED = "达成年度指标"
"""The one level at which the target counts as reached (no 未完成原因 needed)."""


def qualitative_levels() -> tuple[str, ...]:
    """The levels a qualitative indicator can be given, best first."""
    return tuple(LEVELS)


def level_of(value: object) -> str | None:
    """The level a cell names (long or short form, spaces around ignored); None for anything else."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text if text in LEVELS else SHORT_LEVELS.get(text)


def qualitative_band(level: str, w: float) -> tuple[Decimal, Decimal, bool]:
    """(low, high, high_inclusive) of the scores a level (long or short form) allows under weight ``w``."""
    name = level_of(level)
    if name is None:
        raise RuleError(f"unknown qualitative level {level!r}")
    low, high, inclusive = LEVELS[name]
    return low * decimal_of(w), high * decimal_of(w), inclusive
