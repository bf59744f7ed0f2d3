"""The one table of indicator levels (一级 → 二级), as the frameworks print them.

A spec's 一级/二级 dropdowns name a framework here (``choices: {level1: {indicator_levels:
national, level: 1}}``) instead of listing the names again, and the indicator checks
(:mod:`xlperf.model.indicators`: which 二级 belong to which 一级) read the same table; so a
dropdown cannot offer what the checks refuse, nor lack what they accept. Names are kept as
printed (数量指标; Shanghai's 产出目标 beside 投入与管理); the checks compare them without the
指标/目标 suffix.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    """One indicator framework: its 一级, each with its 二级, as printed, and the output 一级."""

    title: str
    levels: tuple[tuple[str, tuple[str, ...]], ...]
    output: str
    """The 一级 (without 指标/目标) that must hold at least one indicator (产出)."""

    def names(self, level: int) -> tuple[str, ...]:
        """The dropdown of level 1 or 2: every name once, in the table's order."""
        if level == 1:
            return tuple(l1 for l1, _ in self.levels)
        return tuple(dict.fromkeys(l2 for _, l2s in self.levels for l2 in l2s))


FRAMEWORKS: dict[str, Framework] = {
    # National framework (rules.md; 成本指标 as a 一级 from 财预〔2021〕101号, whose 二级 are
    # 经济/社会/生态环境成本; the older 成本 二级 under 产出 stays valid, and under 成本 too).
    "national": Framework("全国通用指标体系（财预〔2021〕101号）", (
        ("产出指标", ("数量指标", "质量指标", "时效指标", "成本指标")),
        ("效益指标", ("经济效益指标", "社会效益指标", "生态效益指标", "可持续影响指标")),
        ("满意度指标", ("服务对象满意度指标",)),
        ("成本指标", ("经济成本指标", "社会成本指标", "生态环境成本指标", "成本指标")),
    ), output="产出"),
    # Shanghai's 目标表 as read from seed 003 (forms.md): 满意度 sits under 效果目标 there.
    "shanghai": Framework("上海市项目支出绩效目标表（2020）", (
        ("投入与管理", ("投入管理", "财务管理", "实施管理")),
        ("产出目标", ("数量", "质量", "时效", "成本")),
        ("效果目标", ("经济效益", "社会效益", "生态效益", "可持续影响", "满意度")),
        ("影响力目标", ("信息共享", "部门协助")),
    ), output="产出"),
}
"""Framework by the name a spec uses. The checks try them in this order (first whose 一级 hold
every 一级 a table offers)."""
