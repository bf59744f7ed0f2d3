"""The one-paragraph Chinese summary of a roll-up, and the figures it states.

Figures count input files (清单): how many, accepted (with or without warnings), rejected (of
which unreadable or not a return), not checked because they are not spreadsheets (a Word
report sent along, a zip), superseded by a newer return of the same project; the units
of the roster without an accepted return (未报送); and the grades of the counted, accepted
returns (统计).
"""

from __future__ import annotations

from dataclasses import dataclass

from xlperf.findings import ACCEPTED, ACCEPTED_WITH_WARNINGS, REJECTED, STATUS_LABELS
from xlperf.rollup.records import IGNORED, RECORD_LABELS
from xlperf.rollup.tables import Tables

__all__ = ["Figures", "figures", "paragraph"]

MAX_NAMED = 10
"""Missing units named in the paragraph; the rest are in 未报送."""


@dataclass(frozen=True)
class Figures:
    files: int
    accepted: int
    with_warnings: int
    rejected: int
    unreadable: int
    ignored: int
    """Files of the inbox that are not spreadsheets (listed in 清单, not checked)."""
    superseded: int
    roster_units: int | None
    missing_units: tuple[str, ...]
    grades: tuple[tuple[str, int], ...]


def figures(tables: Tables) -> Figures:
    inv = tables.inventory
    status = inv["审核结果"].tolist()
    outcome = inv["汇总情况"].tolist()
    return Figures(
        files=len(inv),
        accepted=sum(s in (STATUS_LABELS[ACCEPTED], STATUS_LABELS[ACCEPTED_WITH_WARNINGS]) for s in status),
        with_warnings=sum(s == STATUS_LABELS[ACCEPTED_WITH_WARNINGS] for s in status),
        rejected=sum(s == STATUS_LABELS[REJECTED] for s in status),
        unreadable=sum(str(o).startswith("未汇总：无法作为报表读取") for o in outcome),
        ignored=sum(s == RECORD_LABELS[IGNORED] for s in status),
        superseded=sum(str(o).startswith("重复报送") for o in outcome),
        roster_units=len(tables.roster.units) if tables.roster else None,
        missing_units=tuple(tables.missing["单位名称"].tolist()) if tables.roster else (),
        grades=tuple((str(g), int(n)) for g, n in tables.stats.grades.itertuples(index=False, name=None)),
    )


def paragraph(tables: Tables) -> str:
    f = figures(tables)
    text = (f"本次共收到 {f.files} 个文件：通过 {f.accepted} 份（其中有提示 {f.with_warnings} 份），"
            f"退回 {f.rejected} 份")
    if f.unreadable:
        text += f"（其中 {f.unreadable} 个文件无法作为报表读取）"
    if f.ignored:
        text += f"，另有 {f.ignored} 个文件不是报表、未审核（原因见“清单”）"
    text += f"；{f.superseded} 份为重复报送，以最新一份为准。" if f.superseded else "；没有重复报送。"
    if f.roster_units is not None:
        if f.missing_units:
            named = "、".join(f.missing_units[:MAX_NAMED]) + ("等" if len(f.missing_units) > MAX_NAMED else "")
            text += (f"名单内 {f.roster_units} 个单位中，{len(f.missing_units)} 个单位没有通过的报表"
                     f"（未报送或被退回）：{named}。")
        else:
            text += f"名单内 {f.roster_units} 个单位均有通过的报表。"
    if any(n for _, n in f.grades):  # declarations carry no score: no grade line for them
        graded = "、".join(f"{g} {n} 份" for g, n in f.grades)
        text += f"已通过报表的评价等次：{graded}。"
    return text
