"""Whose return is this: the unit named in the file name against the unit inside.

Templates issued per unit are named after it (``自评表_东湖区科技局.xlsx``). A file whose name
names another roster unit than the one filled in (a unit's file renamed after another, or
another unit's file sent under one's own name) is counted for the unit inside, so the desk must
hear of it: ``FILE_NAME_UNIT_MISMATCH`` (warning) names both. Run only with a roster
(``check --roster``): without one, a file name cannot be told from a project's name.
"""

from __future__ import annotations

from xlperf.checks.base import Check, Context
from xlperf.form.roles import UNIT
from xlperf.read.roster import Roster, RosterUnit, normalise_name


def _unit_inside(ctx: Context) -> tuple[str | None, str]:
    """(field key, unit name) of the return: its unit field (role ``unit``; on the first project
    sheet of a form with one sheet per project), else the template's meta unit."""
    key = ctx.layout.role_key(UNIT, ctx.layout.project_prefixes()[0])
    value = ctx.inputs.get(key) if key else None
    if key and isinstance(value, str) and value.strip():
        return key, value.strip()
    return key, (ctx.ret.meta_unit or "").strip()


def units_named(file_stem: str, roster: Roster) -> list[RosterUnit]:
    """Roster units whose name the file name holds; a name inside a longer matched one (科技局
    in 东湖区科技局) does not count."""
    found = {normalise_name(u.name): u for u in roster.named_in(file_stem)}
    return [u for name, u in found.items() if not any(name != other and name in other for other in found)]


def file_name_unit_mismatch(ctx: Context) -> None:
    if ctx.roster is None:
        return
    named = units_named(ctx.ret.path.stem, ctx.roster)
    if not named:
        return
    key, inside = _unit_inside(ctx)
    if inside and any(normalise_name(u.name) == normalise_name(inside) for u in named):
        return
    names = "、".join(f"“{u.name}”" for u in named)
    shown = f"“{inside}”" if inside else "（空白）"
    ctx.flag(key, f"文件名“{ctx.ret.path.name}”写的是{names}，但表内的填报单位是{shown}：本报表将计入{shown}。"
                  "请核实这是哪个单位的报表：是本单位的报表请把文件改为本单位名称，不要报送其他单位的文件",
             expected=named[0].name, found=inside or "空白")


CHECKS: tuple[Check, ...] = (
    Check("FILE_NAME_UNIT_MISMATCH", file_name_unit_mismatch),
)
