"""``xlperf round new NAME --rectify EARLIER [--select grade,returned]``: the 整改 round of EARLIER
(called by ``round new``; the work is in :mod:`xlperf.ledger.rectify`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import click

from xlperf.cli.forms import form_argument

if TYPE_CHECKING:
    from xlperf.ledger import Ledger

__all__ = ["rectify_round"]


def rectify_round(ledger: Ledger, name: str, earlier_name: str, select: str, form_id: str | None,
                  year: int | None, deadline: dt.date | None, actor: str) -> list[str]:
    """``round new NAME --rectify EARLIER``: the 整改 round of EARLIER, its roster derived from
    EARLIER's units (no --roster); what to print once it is committed."""
    from xlperf.ledger import LedgerError, find_round
    from xlperf.ledger.rectify import SELECTIONS, open_rectify_round, parse_selection
    from xlperf.ledger.roundform import form_label

    try:
        selection = parse_selection(select)
    except LedgerError as exc:
        raise click.BadParameter(str(exc), param_hint="--select") from None
    form = form_argument(form_id) if form_id is not None else None
    with ledger.session() as session, session.begin():
        earlier = find_round(session, earlier_name)
        rnd, targets = open_rectify_round(session, name, earlier, selection, form=form, year=year,
                                          deadline=deadline, actor=actor)
        lines = [f"已新建整改任务“{rnd.name}”（承接“{earlier.name}”，{form_label(rnd)}，{rnd.year} 年）："
                 f"{'或'.join(SELECTIONS[s] for s in selection)}的项目 {len(targets)} 个，"
                 f"{len({t.unit.code for t in targets})} 个单位，问题 {sum(len(t.problems) for t in targets)} 项"
                 + (f"，截止 {rnd.deadline}" if rnd.deadline else "")]
    lines += [f"  {t.unit.code}  {t.unit.name}  {t.project or '（未填项目名称）'}  {'、'.join(t.why)}：问题 "
              f"{len(t.problems)} 项" for t in targets]
    lines.append(f"下一步：xlperf round rectify-forms {rnd.name} -o 整改表/  生成预填的整改表发给各单位")
    return lines
