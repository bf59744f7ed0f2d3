"""Recording files received: repeats, held returns, supersession, results and findings as rows.

:func:`receive` is the one writer of new submissions (folder, upload and mail intake all end
here). It runs inside the caller's transaction with the round locked (:func:`lock_round`), so
two intakes at once see each other's files: what one recorded, the other finds as known.

What happens to a file (its :class:`Outcome` kind):

- ``known``: the same content, name, source and sender are already recorded in the round (a
  folder taken in again, an intake run again after it was killed): nothing new is written.
- ``repeat``: the same content (SHA-256), or the same values as a return of the unit under
  other bytes (an echo, a re-save), arrived before: linked to the first one; no new version.
- ``ignored``: not a spreadsheet (:func:`xlperf.read.inbox.not_a_return` says why).
- ``held``: checked, but not for this round (:func:`held_reason`: unreadable, another form or
  year or template version, a unit or project the roster lacks, the bureau's own file sent
  back), or its place is unclear (:mod:`xlperf.ledger.current`: older than the current return,
  no evidence of order, several it could replace). Kept with the reason for staff.
- ``current``: counts for its unit and project; the return it replaces
  (:func:`xlperf.ledger.current.replaced`) becomes ``superseded`` (kept, linked to the newer one).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from xlperf import __version__
from xlperf.findings import STATUS_LABELS, CheckedReturn
from xlperf.form.registry import builtin_forms
from xlperf.ledger.current import replaced
from xlperf.ledger.db import lock_round
from xlperf.ledger.models import (
    CURRENT,
    HELD,
    IGNORED,
    REPEAT,
    SOURCE_LABELS,
    STATE_LABELS,
    SUPERSEDED,
    FindingRow,
    Result,
    Round,
    StoredFile,
    Submission,
    Unit,
)
from xlperf.ledger.receipts import known_digests, known_receipts, receipts_by_name
from xlperf.ledger.roundcache import round_cached
from xlperf.ledger.rounds import event_row, log_events, units_of
from xlperf.model.summary_rows import projects_of
from xlperf.read.roster import normalise_name

__all__ = ["KNOWN", "Incoming", "Outcome", "RoundView", "bureau_file_reason", "held_reason", "known_digests",
           "known_receipts", "read_view", "receipts_by_name", "receive", "round_view", "store_result"]

KNOWN = "known"
KIND_LABELS = {**STATE_LABELS, KNOWN: "已登记过", CURRENT: "已登记"}
"""An intake outcome as shown: a state's label, but "registered" for a file recorded just now."""


@dataclass(frozen=True)
class Incoming:
    """A file to record: where it came from, its content digest and (unless known) its check."""

    name: str
    sha256: str
    size: int
    source: str
    """folder / upload / mail"""
    sender: str = ""
    mtime: dt.datetime | None = None
    saved_at: dt.datetime | None = None
    """When the workbook says it was saved (:func:`xlperf.read.saved.saved_time`), naive UTC."""
    sent_at: dt.datetime | None = None
    """The Date of the message that brought it, naive UTC (mail only)."""
    record: CheckedReturn | None = None
    """The check (slim, with its JSON encoded where it was checked); None when not checked."""
    ignored: str | None = None
    """Why the file is not a return (not checked); None for a spreadsheet."""
    unread: bool = False
    """Nothing of it could be read (a broken link, a FIFO): ``sha256`` is of no content, so it is
    no repeat of anything, only ignored with its reason."""
    sender_units: frozenset[int] | None = None
    """The units whose roster addresses the sender's is (mail); None where the sender is no
    address (folder, upload). A return of another unit is held for staff."""


@dataclass
class Outcome:
    name: str
    kind: str
    submission_id: int | None = None
    status: str = ""
    """The check's status label (通过 / 通过（有提示）/ 退回) when checked."""
    reason: str = ""
    unit: str = ""
    superseded: list[int] = field(default_factory=list)
    repeat_of: int | None = None

    def line(self) -> str:
        head = f"{KIND_LABELS[self.kind]}  {self.name}"
        if self.submission_id is not None:
            head += f"  #{self.submission_id}"
        if self.kind == CURRENT:
            head += f"  {self.unit}：{self.status}"
            if self.superseded:
                head += f"（取代 {'、'.join('#' + str(s) for s in self.superseded)}）"
        elif self.kind == REPEAT:
            head += f"：与 #{self.repeat_of} 内容相同，未重复审核"
        elif self.kind == KNOWN:
            head += "：此前已收到并登记"
        elif self.reason:
            head += f"：{self.reason}"
        return head


@dataclass
class RoundView:
    """What recording needs of a round, read once per intake (the roster does not change)."""

    round: Round
    by_name: dict[str, Unit]
    versions: tuple[str, ...]


def round_view(session: Session, rnd: Round) -> RoundView:
    """The round's view, read once per process (:func:`xlperf.ledger.roundcache.round_cached`): its units are
    detached from ``session``, so that no later commit of it expires what is kept."""

    def read() -> RoundView:
        view = read_view(session, rnd)
        for unit in view.by_name.values():
            session.expunge(unit)
        return view

    return round_cached("view", session, rnd, read)


def read_view(session: Session, rnd: Round) -> RoundView:
    """The round's view as the database has it now (revalidation: the roster may have changed)."""
    units = units_of(session, rnd.id)
    return RoundView(rnd, {normalise_name(u.name): u for u in units}, tuple(json.loads(rnd.template_versions or "[]")))


def receive(session: Session, view: RoundView, items: Sequence[Incoming], actor: str = "") -> list[Outcome]:
    """Record ``items`` in this order (oldest first); the caller's transaction commits them.

    Rows are written in three flushes per batch (submissions, results, the rest), not per file:
    the ids one step needs come from the flush before it."""
    rnd = view.round
    lock_round(session, rnd.id)
    earlier = known_receipts(session, rnd.id, list(dict.fromkeys(i.sha256 for i in items)))
    stored = set(session.scalars(select(StoredFile.sha256).where(
        StoredFile.sha256.in_({i.sha256 for i in items}))))
    sizes = {i.sha256: i.size for i in items if i.sha256 not in stored}
    if sizes:  # one statement, no object per row (as the events and findings below)
        session.execute(insert(StoredFile), [{"sha256": sha, "size": size} for sha, size in sizes.items()])
    units = {view.by_name[n].id for i in items if i.record and i.record.unit
             and (n := normalise_name(i.record.unit)) in view.by_name}
    current: dict[int | None, list[Submission]] = {}
    # Only the current returns a file of this batch may supersede: those of its units.
    for old in session.scalars(select(Submission).where(
            Submission.round_id == rnd.id, Submission.state == CURRENT, Submission.unit_id.in_(units))
            .order_by(Submission.id)):
        current.setdefault(old.unit_id, []).append(old)
    digests = {i.record.content_digest() for i in items if i.record} - {""}
    values: dict[tuple[int | None, str], Submission] = {}
    for old in session.scalars(select(Submission).where(
            Submission.round_id == rnd.id, Submission.content_digest.in_(digests), Submission.unit_id.in_(units),
            Submission.state.in_((CURRENT, SUPERSEDED, HELD))).order_by(Submission.id)):
        values.setdefault((old.unit_id, old.content_digest), old)

    steps = [_classify(view, item, earlier.setdefault(item.sha256, []), current, values) for item in items]
    session.add_all(step.sub for step in steps if step.sub is not None)
    session.flush()
    results = []
    for step in steps:
        if step.sub is None:
            continue
        sub = step.sub
        step.outcome.submission_id = sub.id
        if step.repeat_of is not None:
            sub.repeat_of = step.outcome.repeat_of = step.repeat_of.id
        for old in step.supersedes:
            old.superseded_by = sub.id
            step.outcome.superseded.append(old.id)
        if step.record is not None:
            results.append((sub, _result(sub, step.record), step.record))
    session.add_all(result for _, result, _ in results)
    session.flush()
    for sub, result, _ in results:
        sub.result_id = result.id
    events = [row for step in steps if step.sub is not None for row in _events(rnd.id, step, actor)]
    findings = []
    for sub, result, record in results:
        findings += _finding_rows(result, record)
        events.append(_checked(sub, result, actor))
    log_events(session, events)
    if findings:
        session.execute(insert(FindingRow), findings)
    return [step.outcome for step in steps]


@dataclass
class _Step:
    outcome: Outcome
    sub: Submission | None = None
    record: CheckedReturn | None = None
    repeat_of: Submission | None = None
    supersedes: list[Submission] = field(default_factory=list)
    note: str = ""


def _classify(view: RoundView, item: Incoming, before: list[Submission], current: dict[int | None, list[Submission]],
              values: dict[tuple[int | None, str], Submission]) -> _Step:
    """What ``item`` is, as a submission not yet written (``before``: the same content earlier)."""
    if any((s.original_name, s.source, s.sender) == (item.name, item.source, item.sender) for s in before):
        return _Step(Outcome(item.name, KNOWN, before[0].id))
    sub = Submission(round_id=view.round.id, sha256=item.sha256, size=item.size, original_name=item.name,
                     source=item.source, sender=item.sender, file_mtime=item.mtime, saved_at=item.saved_at,
                     sent_at=item.sent_at, state=HELD, reason="", decision_note="", unit_name="", project_key="",
                     projects="[]", content_digest="")
    first = before[0] if before else None
    before.append(sub)  # a second copy later in the same batch is then a repeat of this one
    if first is not None and not item.unread:
        sub.state, sub.result_id = REPEAT, first.result_id
        sub.unit_id, sub.unit_name, sub.form, sub.year = first.unit_id, first.unit_name, first.form, first.year
        sub.project_key, sub.projects = first.project_key, first.projects
        return _Step(Outcome(item.name, REPEAT, unit=first.unit_name), sub, repeat_of=first)
    if item.ignored is not None or item.record is None:
        sub.state, sub.reason = IGNORED, item.ignored or "未审核"
        return _Step(Outcome(item.name, IGNORED, reason=sub.reason), sub)
    record = item.record
    projects = _projects(record)
    sub.unit_name, sub.form, sub.year = record.unit or "", record.form, record.year
    sub.projects = json.dumps(projects, ensure_ascii=False)
    sub.project_key = _project_key(projects)
    unit = view.by_name.get(normalise_name(record.unit)) if record.unit else None
    sub.unit_id = unit.id if unit else None
    sub.content_digest = record.content_digest()
    same = values.get((sub.unit_id, sub.content_digest)) if sub.unit_id and sub.content_digest else None
    if same is not None and not bureau_file_reason(record):
        sub.state, sub.result_id, sub.unit_name = REPEAT, same.result_id, same.unit_name
        return _Step(Outcome(item.name, REPEAT, unit=same.unit_name), sub, repeat_of=same)
    sub.reason = held_reason(view, record, unit, projects) or _wrong_sender(item, unit)
    supersedes: list[Submission] = []
    if not sub.reason and unit is not None:
        supersedes, sub.reason = replaced(sub, current.get(unit.id, []), unit.projects)
    sub.state = HELD if sub.reason else CURRENT
    if sub.unit_id and sub.content_digest:
        values.setdefault((sub.unit_id, sub.content_digest), sub)
    step = _Step(Outcome(item.name, sub.state, status=STATUS_LABELS.get(record.status, record.status),
                         reason=sub.reason, unit=unit.name if unit else (record.unit or "")),
                 sub, record=record, note=f"{SOURCE_LABELS.get(item.source, item.source)} {item.sender}".strip(), supersedes=supersedes)
    if sub.state == CURRENT and unit is not None:
        for old in supersedes:
            old.state = SUPERSEDED
        current[unit.id] = [old for old in current.get(unit.id, []) if old not in supersedes] + [sub]
    return step


def _projects(record: CheckedReturn) -> list[str]:
    return [p.project for p in projects_of(record) if p.project]


def _project_key(projects: list[str]) -> str:
    """What a newer return must cover to supersede an older one of the same unit."""
    return "|".join(sorted({normalise_name(p) for p in projects}))


def _events(round_id: int, step: _Step, actor: str) -> list[dict[str, Any]]:
    sub = step.sub
    assert sub is not None
    if sub.state == REPEAT:
        return [event_row(round_id, "repeat", submission_id=sub.id, actor=actor, note=f"与 #{sub.repeat_of} 内容相同")]
    if sub.state == IGNORED:
        return [event_row(round_id, "ignored", submission_id=sub.id, actor=actor, note=sub.reason)]
    events = [event_row(round_id, "received", submission_id=sub.id, actor=actor, note=step.note)]
    if sub.state == HELD:
        events.append(event_row(round_id, "held", submission_id=sub.id, actor=actor, note=sub.reason))
    events += [event_row(round_id, "superseded", submission_id=old.id, actor=actor, note=f"由 #{sub.id} 取代")
               for old in step.supersedes]
    return events


def _result(sub: Submission, record: CheckedReturn) -> Result:
    return Result(submission_id=sub.id, status=record.status,
                  total_score=None if record.total_score is None else float(record.total_score),
                  grade=record.grade, errors=len(record.errors), warnings=len(record.warnings),
                  xlperf_version=__version__, form_version=record.form_version, checked_json=record.to_json())


def _finding_rows(result: Result, record: CheckedReturn) -> list[dict[str, Any]]:
    return [{"result_id": result.id, "code": f.code, "severity": f.severity, "sheet": f.sheet, "cell": f.cell,
             "field": f.field, "label": f.label, "message": f.message, "expected": f.expected, "found": f.found}
            for f in record.findings]


def _checked(sub: Submission, result: Result, actor: str) -> dict[str, Any]:
    return event_row(sub.round_id, "checked", submission_id=sub.id, actor=actor,
                     note=f"{STATUS_LABELS.get(result.status, result.status)}：错误 {result.errors}，提示 {result.warnings}")


def store_result(session: Session, sub: Submission, record: CheckedReturn, actor: str = "") -> Result:
    """A new result row (and its findings) for ``sub``, which then points at it (revalidation)."""
    result = _result(sub, record)
    session.add(result)
    session.flush()
    sub.result_id = result.id
    rows = _finding_rows(result, record)
    if rows:
        session.execute(insert(FindingRow), rows)
    log_events(session, [_checked(sub, result, actor)])
    return result


def _wrong_sender(item: Incoming, unit: Unit | None) -> str:
    """A return mailed from an address the roster gives to another unit is held: a From address
    is easily forged, and one unit must never replace another's return (README: 发件地址)."""
    if item.sender_units is None or unit is None or unit.id in item.sender_units:
        return ""
    return (f"发件地址 {item.sender} 不是名单中“{unit.name}”的邮箱：此报表暂存，待财政局工作人员核实，"
            "未计入该单位的报送；请由该单位名单中的邮箱报送")


def _form_title(form_id: str) -> str:
    """A form's title as people read it (its id stays in the JSON)."""
    spec = builtin_forms().get(form_id)
    return spec.title if spec is not None else form_id


BUREAU_FILES = {  # the bureau's own files sent back to it, by the finding that tells them: the reply's reason
    "ANNOTATED_COPY": "这是财政局发回的批注工作簿（审核意见），不是报表，未作为新版本登记：请在您报送的原文件中修改后重新报送，不要报送批注工作簿",
    "TEMPLATE_UNFILLED": "这是未填写的空白模板，不是报表，未作为新版本登记：请填写后重新报送",
}


def bureau_file_reason(record: CheckedReturn) -> str:
    """Why ``record`` is one of the bureau's own files (our annotated copy, a blank template); ""."""
    return next((BUREAU_FILES[f.code] for f in record.findings if f.code in BUREAU_FILES), "")


def held_reason(view: RoundView, record: CheckedReturn, unit: Unit | None, projects: list[str]) -> str:
    """Why a checked return is held for staff under the round's rules ("" when it is not)."""
    rnd = view.round
    if not record.form or not record.projects and not record.unit:
        first = next((f.message for f in record.findings if f.severity == "error"), "")
        return f"无法作为本任务的报表读取：{first}" if first else "无法作为本任务的报表读取"
    if own := bureau_file_reason(record):
        return own
    if record.form != rnd.form:
        return f"表单不符：本任务收“{_form_title(rnd.form)}”，此文件是“{_form_title(record.form)}”"
    if record.year is not None and record.year != rnd.year:
        return f"年度不符：本任务为 {rnd.year} 年，此文件填的是 {record.year} 年"
    if view.versions and record.form_version not in view.versions:
        return f"模板版本“{record.form_version}”不在本任务接受的版本（{'、'.join(view.versions)}）中，请用下发的模板重新填报"
    if rnd.signatures_required and any(f.code == "SIGNATURE_MISSING" for f in record.findings):
        return "本任务要求使用财政局下发的签名模板，此文件没有签名：请用下发的模板重新填报"
    if not record.unit:
        return "报表未填写单位名称，无法对应到名单中的单位"
    if unit is None:
        return f"单位“{record.unit}”不在本任务的名单中：请核对报表中的单位名称，或在名单中补充该单位"
    listed = {normalise_name(p) for p in json.loads(unit.projects or "[]")}
    if listed and not projects:  # it answers none of the unit's rows: it replaces none either
        return (f"报表未填写项目名称，无法对应到名单中该单位的项目（{'、'.join(json.loads(unit.projects))}）："
                "请填写项目名称后重新报送")
    if listed and not {normalise_name(p) for p in projects} <= listed:
        strays = "、".join(p for p in projects if normalise_name(p) not in listed)
        return f"项目“{strays}”不在名单中该单位的项目里"
    return ""
