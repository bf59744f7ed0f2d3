"""The prefilled 整改 forms of a 整改 round (``round rectify-forms NAME -o DIR``): one per unit and
project of its roster, with the header (year, unit, 主管部门 and code where the form has them,
project, its budget in the earlier return, in 万元), the earlier round's grade and score (the spec's ``tracked_items.grade`` / ``score``)
and one locked row per problem the round follows; signed when a key is configured."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from xlperf.cycle.issue import Issued, file_stem
from xlperf.excel.signed import write_signed_template
from xlperf.excel.template import DEFAULT_PASSWORD, TemplateOptions
from xlperf.findings import CheckedReturn
from xlperf.form.layout import FormLayout
from xlperf.form.registry import builtin_layout
from xlperf.form.roles import BUDGET, DEPT, PROJECT, UNIT_CODE
from xlperf.ledger.db import LedgerError
from xlperf.ledger.models import FOLLOWS_RECTIFY, RectifyItem, Result, Round, Submission
from xlperf.ledger.rectify import tracked_table
from xlperf.ledger.roundform import round_pinned
from xlperf.ledger.rounds import units_of
from xlperf.model.summary_rows import projects_of
from xlperf.read import read_return
from xlperf.read.roster import normalise_name

__all__ = ["rectify_templates"]


def rectify_templates(session: Session, rnd: Round, outdir: Path, *, password: str = DEFAULT_PASSWORD,
                      key: bytes | None = None, unit: str | None = None,
                      progress: Callable[[int, int], None] | None = None) -> Issued:
    """Write the 整改 forms of ``rnd`` into ``outdir``; LedgerError when it is not a 整改 round.
    ``unit`` (a roster code): that unit's only; ``progress`` hears (units done, units in all)."""
    if rnd.follows_kind != FOLLOWS_RECTIFY:
        raise LedgerError(f"报送任务“{rnd.name}”不是整改任务（xlperf round new 名称 --rectify 被评价的任务）")
    items: dict[tuple[int, str], list[RectifyItem]] = defaultdict(list)
    for item in session.scalars(select(RectifyItem).where(RectifyItem.round_id == rnd.id).order_by(RectifyItem.n)):
        items[(item.unit_id, item.project)].append(item)
    graded = {sid: (grade, score, checked_json) for sid, grade, score, checked_json in session.execute(
        select(Submission.id, Result.grade, Result.total_score, Result.checked_json)
        .join(Result, Result.id == Submission.result_id)
        .where(Submission.id.in_({i.source_id for rows in items.values() for i in rows if i.source_id})))}
    out = Issued()
    outdir.mkdir(parents=True, exist_ok=True)
    with round_pinned(rnd):  # the round's own spec, also where the signature reads the written form back
        layout = builtin_layout(rnd.form)
        _write(session, rnd, layout, items, graded, outdir, out, password, key, unit, progress)
    return out


def _write(session: Session, rnd: Round, layout: FormLayout, items: dict[tuple[int, str], list[RectifyItem]],
           graded: dict[int, tuple[str | None, float | None, str]], outdir: Path, out: Issued, password: str,
           key: bytes | None, only: str | None, progress: Callable[[int, int], None] | None) -> None:
    tracked = layout.spec.tracked_items
    assert tracked is not None
    table = tracked_table(layout.spec)
    units = [u for u in units_of(session, rnd.id) if only is None or u.code == only]
    for done, unit in enumerate(units, 1):
        for project in json.loads(unit.projects or "[]") or [""]:
            mine = items.get((unit.id, project), [])
            values: dict[str, Any] = {table.row_key(i.n, tracked.item): i.problem for i in mine}
            for role, value in ((UNIT_CODE, unit.code), (DEPT, unit.dept), (PROJECT, project)):
                if (field := layout.role_key(role)) is not None and value:
                    values[field] = value
            grade, score, earlier = graded.get(mine[0].source_id or 0, (None, None, "")) if mine else (None, None, "")
            budget = _budget(earlier, project)
            for field, value in ((tracked.grade, grade), (tracked.score, score), (layout.role_key(BUDGET), budget)):
                if field and value is not None:
                    values[field] = value
            path = out.target(outdir, [file_stem(layout), unit.name, project], unit.code)
            write_signed_template(layout, path, TemplateOptions(password=password, year=rnd.year, unit=unit.name,
                                                                values=values), key, read_back=read_return)
            out.files.append(path)
            about = f"，{project}" if project else ""
            out.lines.append(f"已生成 {path.name}（{unit.name}{about}，问题 {len(mine)} 项"
                             f"{'，已签名' if key is not None else ''}）")
        if progress is not None:
            progress(done, len(units))


def _budget(checked_json: str, project: str) -> float | None:
    """The project's budget (万元) in the earlier round's return, as its roll-up has it."""
    if not checked_json:
        return None
    rows = projects_of(CheckedReturn.from_json(checked_json, file=Path(""), summary_only=True))
    name = normalise_name(project)
    return next((p.budget for p in rows if normalise_name(p.project or "") == name), None)
