"""Rounds (报送任务) and their roster units; the event log."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from xlperf.form.registry import Known, known_forms
from xlperf.ledger.db import LedgerError, lock_round
from xlperf.ledger.models import Event, Round, Unit
from xlperf.read.roster import EMAIL_SEPARATORS, Roster, RosterUnit

__all__ = ["MAX_ROUND_NAME", "create_round", "find_round", "list_rounds", "log_event", "previous_round",
           "replace_roster", "roster_of", "round_name", "roster_unit", "same_form_rounds", "units_of"]

MAX_ROUND_NAME = 60
"""Characters in a round's name. A name is typed by staff and read everywhere: in mail subjects,
in the desk's headings, and in the names of downloads ("<name>_汇总.xlsx"); 60 Chinese characters
are 180 bytes in UTF-8, which leaves room for those additions under the 255-byte limit of a file
name on Linux and macOS file systems, and is twice the longest name a bureau writes
("2026年度市本级部门整体支出及项目支出绩效自评价（第二批）", 30)."""
_NOT_IN_NAMES = {"Cc", "Cf", "Zl", "Zp", "Co", "Cs", "Cn"}
"""Control, format (zero-width), line and paragraph separator, private and unassigned characters:
a name is one line of visible text, and two names that look alike must be alike."""


def round_name(text: str) -> str:
    """``text`` as a round's name (spaces around it dropped), or LedgerError saying what is wrong.
    One rule for ``xlperf round new`` and the desk's 新建报送任务."""
    name = text.strip()
    if not name:
        raise LedgerError("任务名称不能为空")
    if any(unicodedata.category(c) in _NOT_IN_NAMES for c in name):
        raise LedgerError("任务名称只能是一行文字：不能含换行、制表符或其他控制字符")
    if len(name) > MAX_ROUND_NAME:
        raise LedgerError(f"任务名称过长（{len(name)} 个字符）：不得超过 {MAX_ROUND_NAME} 个字符")
    return name


def create_round(session: Session, name: str, form: str | Known, year: int, roster: Roster, *,
                 deadline: dt.date | None = None, template_versions: tuple[str, ...] = (),
                 signatures_required: bool = False, actor: str = "", follows: Round | None = None,
                 follows_kind: str = "") -> Round:
    """A new round with the units of ``roster``; the caller commits. ``form``: a form id xlperf
    knows, or a spec read from a file; the round keeps the spec's text (:mod:`xlperf.ledger.roundform`).
    ``follows``: the earlier round this one follows, ``follows_kind`` how (models.FOLLOWS_*)."""
    name = round_name(name)
    if isinstance(form, str):
        if form not in known_forms():
            raise LedgerError(f"未知的表单“{form}”；可用：{'、'.join(known_forms())}")
        form = known_forms()[form]
    if session.scalar(select(Round.id).where(Round.name == name)) is not None:
        raise LedgerError(f"报送任务“{name}”已存在，请换一个名称（xlperf round list 列出已有任务）")
    rnd = Round(name=name, form=form.spec.form_id, form_spec=form.text, form_hash=form.digest, year=year, deadline=deadline,
                template_versions=json.dumps(list(template_versions)),
                signatures_required=signatures_required, roster_file=str(roster.path), created_by=actor,
                follows_id=follows.id if follows is not None else None,
                follows_kind=follows_kind if follows is not None else "")
    session.add(rnd)
    session.flush()
    session.add_all(Unit(round_id=rnd.id, code=u.code, name=u.name, dept=u.dept, contact=u.contact,
                         email="; ".join(u.addresses), row=u.row, projects=json.dumps(list(u.projects), ensure_ascii=False))
                    for u in roster.units)
    log_event(session, rnd.id, "created", actor=actor,
              note=f"表单“{form.spec.title}”版本 {form.spec.version}（规格 {form.digest}），年度 {year}，"
                   f"名单 {len(roster.units)} 个单位"
                   + (f"；承接任务“{follows.name}”" if follows is not None else ""))
    return rnd


def find_round(session: Session, name: str) -> Round:
    rnd = session.scalar(select(Round).where(Round.name == name))
    if rnd is None:
        known = session.scalars(select(Round.name).order_by(Round.id)).all()
        hint = f"已有：{'、'.join(known)}" if known else "还没有任何任务，请先用 xlperf round new 创建"
        raise LedgerError(f"没有名为“{name}”的报送任务（{hint}）")
    return rnd


def previous_round(session: Session, rnd: Round) -> Round | None:
    """Last year's round of ``rnd``'s form: the round of the same form whose year is one less
    (the newest made, when a bureau ran several), or None."""
    return session.scalar(select(Round).where(Round.form == rnd.form, Round.year == rnd.year - 1)
                          .order_by(Round.id.desc()).limit(1))


def same_form_rounds(session: Session, rnd: Round) -> list[Round]:
    """Every round of ``rnd``'s form, by year (then as made)."""
    return list(session.scalars(select(Round).where(Round.form == rnd.form).order_by(Round.year, Round.id)))


def list_rounds(session: Session) -> list[Round]:
    return list(session.scalars(select(Round).order_by(Round.id)))


def units_of(session: Session, round_id: int) -> list[Unit]:
    """The units the round's roster lists now."""
    return list(session.scalars(select(Unit).where(Unit.round_id == round_id, Unit.in_roster.is_(True))
                                .order_by(Unit.id)))


def replace_roster(session: Session, rnd: Round, roster: Roster, actor: str = "") -> list[str]:
    """Make ``roster`` the round's roster; the caller commits. Units are matched by code: a
    listed one is updated (name, department, contact, addresses, projects), a new one added, one
    no longer listed kept out of the roster (its row stays: its returns name it). What changed,
    one line each (Chinese); ``round revalidate`` then re-applies the rules to the returns."""
    lock_round(session, rnd.id)
    old = {u.code: u for u in session.scalars(select(Unit).where(Unit.round_id == rnd.id))}
    lines = []
    for u in roster.units:
        fields = dict(name=u.name, dept=u.dept, contact=u.contact, email="; ".join(u.addresses), row=u.row,
                      projects=json.dumps(list(u.projects), ensure_ascii=False), in_roster=True)
        unit = old.pop(u.code, None)
        if unit is None:
            session.add(Unit(round_id=rnd.id, code=u.code, **fields))
            lines.append(f"新增单位 {u.code} {u.name}")
            continue
        changed = [k for k, v in fields.items() if getattr(unit, k) != v and k != "row"]
        if changed:
            lines.append(f"{'重新列入' if not unit.in_roster else '更新'}单位 {u.code} {u.name}")
        for key, value in fields.items():
            setattr(unit, key, value)
    for unit in old.values():
        if unit.in_roster:
            unit.in_roster = False
            lines.append(f"移出名单 {unit.code} {unit.name}")
    rnd.roster_file = str(roster.path)
    log_event(session, rnd.id, "roster_changed", actor=actor, note="；".join(lines) or "名单无变化")
    return lines


def roster_of(rnd: Round, units: list[Unit]) -> Roster:
    """The round's roster as :class:`xlperf.read.roster.Roster` (what roll-up and mail take)."""
    return Roster(Path(rnd.roster_file or "roster"), tuple(roster_unit(u) for u in units))


def roster_unit(unit: Unit) -> RosterUnit:
    """A ledger unit as :class:`xlperf.read.roster.RosterUnit` (all its addresses: a unit may list
    several, kept as "a; b")."""
    emails = tuple(a for a in EMAIL_SEPARATORS.split(unit.email or "") if a)
    return RosterUnit(code=unit.code, name=unit.name, dept=unit.dept, contact=unit.contact,
                      email=emails[0] if emails else "", row=unit.row,
                      projects=tuple(json.loads(unit.projects or "[]")), emails=emails)


def log_event(session: Session, round_id: int, kind: str, *, submission_id: int | None = None,
              actor: str = "", note: str = "") -> Event:
    event = Event(**event_row(round_id, kind, submission_id=submission_id, actor=actor, note=note))
    session.add(event)
    return event


def event_row(round_id: int, kind: str, *, submission_id: int | None = None, actor: str = "",
              note: str = "") -> dict[str, Any]:
    """An event's columns, for :func:`log_event` and for :func:`log_events` (many at once)."""
    return {"round_id": round_id, "submission_id": submission_id, "kind": kind, "actor": actor, "note": note}


def log_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Append many events (:func:`event_row`) in one statement: no object per event."""
    if rows:
        session.execute(insert(Event), rows)
