"""The year on the ledger, in the demo (``xlperf demo``): the cycle's returns taken into a chain of
rounds on the demo's ledger, then 结果应用.

1. a 目标申报 round takes in the cycle's declarations (``申报表/``): two accepted, one rejected;
2. a 运行监控 round made ``--from-round`` it takes in the monitoring returns (``监控表/``), checked
   against the accepted declarations with no ``--against``;
3. a 自评 round made ``--from-round`` the monitoring round takes in the self-evaluations
   (``自评表/``): 西山县中小企业局's, whose declared target the unit lowered, is found by the chain's
   automatic check (TARGET_CHANGED) and sent back; the unit puts the declared target back and
   sends it again, and it replaces the first;
4. 结果应用 of the self-evaluation round: ``结果应用.xlsx`` under the demo's folder;
5. the bureau's spot check sends 西山's corrected return back with a note, and the 整改 round of the
   self-evaluation round (:mod:`xlperf.cli.rectify_demo`) follows that project up.

The cycle (:mod:`xlperf.cli.cycle_demo`) made every file; the only new one is the corrected return.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Iterator
from pathlib import Path

import openpyxl

from xlperf.cli.cycle_demo import DECLARATIONS, TAMPERED, YEAR
from xlperf.cli.monitoring_demo import FORM as MONITORING_FORM
from xlperf.form.metasheet import NAME_PREFIX
from xlperf.ledger import Ledger
from xlperf.read.roster import Roster

__all__ = ["DECLARATION_FORM", "SELF_EVALUATION_FORM", "run_chain"]

DECLARATION_FORM, SELF_EVALUATION_FORM = "target_declaration", "self_evaluation"
"""The forms of the cycle's 申报表/ and 自评表/ (the chain's first and last round)."""
SPOT_CHECK_NOTE = "培训场次的佐证材料不全，请补充签到表和培训通知"
"""The bureau's note when its spot check sends a self-evaluation back (the 整改 round's problem)."""


def run_chain(outdir: Path, cycle: Path, roster: Roster) -> Iterator[str]:
    """The chain of rounds on ``outdir/xlperf.db`` from the cycle's folder ``cycle``."""
    from xlperf.cli.rectify_demo import run_rectify
    from xlperf.intake import intake_paths
    from xlperf.ledger import create_round, open_ledger, round_status
    from xlperf.ledger.decisions import decide
    from xlperf.ledger.models import FOLLOWS_CHAIN, RETURN
    from xlperf.ledger.results import grade_lines, write_round_results

    ledger = open_ledger(str(outdir / "xlperf.db"))
    stamp = f"{dt.datetime.now():%Y-%m-%d %H:%M:%S}"  # a new chain per run: the ledger keeps every earlier one
    stages = ((f"演示目标申报 {stamp}", DECLARATION_FORM, "绩效目标申报表", cycle / "申报表"),
              (f"演示运行监控 {stamp}", MONITORING_FORM, "绩效监控表", cycle / "监控表"),
              (f"演示年度自评 {stamp}", SELF_EVALUATION_FORM, "项目支出绩效自评表", cycle / "自评表"))
    yield "台账上的年度链条：目标申报 → 运行监控（承接目标申报）→ 自评（承接运行监控）→ 结果应用"
    try:
        earlier = None
        for name, form, title, folder in stages:
            with ledger.session() as session, session.begin():
                rnd = create_round(session, name, form, YEAR, roster, actor="demo",
                                   deadline=dt.date.today() + dt.timedelta(days=14),
                                   follows=earlier, follows_kind=FOLLOWS_CHAIN)
            follows = f"，承接“{earlier.name}”：报表自动与其已通过的申报表比对" if earlier is not None else ""
            yield f"报送任务“{name}”（{title}{follows}）"
            taken = intake_paths(ledger, rnd, [folder], sender="演示收件箱", actor="demo", jobs=1)
            for outcome in taken.outcomes:
                yield outcome.line()
                yield from _errors(ledger, outcome.submission_id)
            earlier = rnd
        assert earlier is not None
        (unit, (key, _lowered)), = TAMPERED.items()
        yield f"{unit}的自评表改低了申报的目标值，无须另行指定申报表，即被链条的自动比对发现并退回；改回申报的目标后重新报送："
        with tempfile.TemporaryDirectory(prefix="xlperf-demo-") as tmp:
            corrected = _restored(cycle / "自评表" / f"自评表_{unit}.xlsx", key, DECLARATIONS[unit][key],
                                  Path(tmp) / f"自评表_{unit}_改回申报目标.xlsx")
            again = intake_paths(ledger, earlier, [corrected], sender="演示收件箱", actor="demo", jobs=1)
        yield from (o.line() for o in again.outcomes)
        with ledger.session() as session:
            yield from round_status(session, earlier).lines()
            results = write_round_results(session, earlier, outdir / "结果应用.xlsx")
        yield f"结果应用（{len(results.rows)} 个项目）：{outdir / '结果应用.xlsx'}"
        yield from grade_lines(results)
        # The chain's last stage: the 整改 round of the projects graded 中 or 差 or sent back with
        # the bureau's notes. The demo's units all grade 优, so the bureau's spot check (抽查复核)
        # sends the corrected return back with a note, which the 整改 round then follows up.
        resent = again.outcomes[-1].submission_id
        assert resent is not None
        with ledger.session() as session, session.begin():
            decide(session, session.merge(earlier), resent, RETURN, SPOT_CHECK_NOTE, actor="demo")
        yield f"财政局抽查复核{unit}的自评表，退回并附意见：{SPOT_CHECK_NOTE}"
        yield from run_rectify(ledger, earlier.name, outdir / "整改")
    finally:
        ledger.close()


def _errors(ledger: Ledger, submission_id: int | None) -> Iterator[str]:
    """The errors the ledger recorded for a return, one line each (as ``xlperf check`` prints them)."""
    from xlperf.cli.console import finding_line
    from xlperf.ledger.models import Submission
    from xlperf.ledger.stored_results import submission_checked

    if submission_id is None:
        return
    with ledger.session() as session:
        sub = session.get(Submission, submission_id)
        checked = submission_checked(session, sub) if sub is not None else None
    yield from (finding_line(f) for f in (checked.errors if checked is not None else []))


def _restored(path: Path, key: str, value: object, output: Path) -> Path:
    """``path`` with the field ``key`` set back to ``value``, saved at ``output`` (as the unit's
    spreadsheet saves it again: later than the first, so it replaces it)."""
    wb = openpyxl.load_workbook(path)
    (sheet, ref), = wb.defined_names[NAME_PREFIX + key].destinations
    wb[sheet][ref.replace("$", "")].value = value
    for ws in wb.worksheets:  # corrected in the protected template, as the unit was asked to
        ws.protection.sheet = True
    wb.save(output)
    return output
