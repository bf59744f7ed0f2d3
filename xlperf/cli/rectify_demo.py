"""The last step of the demo's chain: the 整改 round of its self-evaluation round. The round is
opened for the projects graded 中 or 差 or sent back with notes (``round new --rectify``), their
prefilled 整改 forms are written under ``<outdir>/整改表/``, one unit sends its form back with
some problems 已完成 and one 未完成 past its 完成时限 (``<outdir>/整改报送/``), and the round's
status shows them: open, closed, overdue."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from xlperf.cli.samples import sample_values
from xlperf.excel.fill import fill_workbook
from xlperf.form.spec import FormSpec
from xlperf.intake import intake_paths
from xlperf.ledger import Ledger, LedgerError, find_round, round_status
from xlperf.ledger.rectify import GRADE, RETURNED, fitted, open_rectify_round, tracked_table
from xlperf.ledger.rectify_forms import rectify_templates
from xlperf.ledger.rectify_status import rectify_status
from xlperf.ledger.roundform import round_spec

__all__ = ["run_rectify"]

FORMS_FOLDER, RETURNS_FOLDER = "整改表", "整改报送"


def run_rectify(ledger: Ledger, earlier: str, outdir: Path, *, name: str | None = None,
                today: dt.date | None = None) -> Iterator[str]:
    """Open the 整改 round of the round named ``earlier`` on ``ledger``, write its forms, take in one
    unit's 整改 form, print the status. ``name``: the 整改 round's name (default: from ``earlier``)."""
    today = today or dt.date.today()
    name = name or f"{earlier}整改"
    try:
        with ledger.session() as session, session.begin():
            rnd, targets = open_rectify_round(session, name, find_round(session, earlier), (GRADE, RETURNED),
                                              deadline=today + dt.timedelta(days=30), actor="demo")
    except LedgerError as exc:
        yield f"整改任务未新建：{exc}"
        return
    yield (f"整改任务“{rnd.name}”（承接“{earlier}”）：等次为中、差或被退回的项目 {len(targets)} 个，"
           f"问题 {sum(len(t.problems) for t in targets)} 项，截止 {rnd.deadline}")
    with ledger.session() as session:
        issued = rectify_templates(session, rnd, outdir / FORMS_FOLDER)
        spec = round_spec(rnd)
    assert spec is not None
    yield from issued.lines
    first = targets[0]
    rows = len(fitted(first.problems, tracked_table(spec).rows))
    form = issued.files[0]  # the forms are written in the order of the targets: the first one's
    sent = fill_workbook(form, _answers(spec, rows, today), outdir / RETURNS_FOLDER / form.name)
    yield f"{first.unit.name} 报送整改表（{rows} 个问题中最后一个未完成且已过完成时限）：{sent}"
    taken = intake_paths(ledger, rnd, [sent], sender="演示收件箱", actor="demo", jobs=1)
    yield from (o.line() for o in taken.outcomes)
    with ledger.session() as session:
        rnd = find_round(session, name)
        yield from round_status(session, rnd, today).lines()
        status = rectify_status(session, rnd, today)
        if status is not None:
            yield from status.lines()


def _answers(spec: FormSpec, rows: int, today: dt.date) -> dict[str, Any]:
    """The sample 整改 form's answers (its first problem row's, for every row): all 已完成 but the
    last, which is 未完成 with a 完成时限 already past."""
    tracked, table = spec.tracked_items, tracked_table(spec)
    assert tracked is not None
    done = next(c for c in table.columns if c.key == tracked.done)
    still_open = next(c for c in done.choices if c != tracked.closed)
    sample = sample_values(spec.form_id)
    first = table.row_key(1, "")
    row = {key[len(first):]: value for key, value in sample.items() if key.startswith(first)}
    header = {k: v for k, v in sample.items() if k in ("filler", "phone", "unit_head")}
    values: dict[str, Any] = {**header, "fill_date": dt.datetime(today.year, today.month, today.day)}
    for n in range(1, rows + 1):
        last = n == rows
        due = today - dt.timedelta(days=10) if last else today + dt.timedelta(days=20)
        for column, value in row.items():
            if column == tracked.item:
                continue  # prefilled and locked
            values[table.row_key(n, column)] = value
        values[table.row_key(n, tracked.due)] = dt.datetime(due.year, due.month, due.day)
        values[table.row_key(n, tracked.done)] = still_open if last else tracked.closed
    return values
