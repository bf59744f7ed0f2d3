"""``xlperf mail``: group the reports by unit, match the roster, send (or write .eml) one message
per unit, and keep the send log.

Which units get a message:

- a unit's returns are found by the unit name in each report, matched with :meth:`Roster.find`;
  reports of units not in the roster, of roster units without an e-mail address, and of returns
  whose unit could not be read are listed and skipped;
- a unit already sent exactly these reports (same JSON content, same address, see
  :mod:`xlperf.mail.sendlog`) is skipped unless ``resend``;
- ``only_failed``: only units with at least one return rejected (退回) or accepted with
  warnings (通过（有提示）), i.e. units that have something to do; their message still covers all their
  returns, so the clerk sees the whole picture. (Sends that failed are not "sent" in the log:
  every run tries them again without any flag.)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from xlperf.findings import ACCEPTED
from xlperf.mail.compose import compose
from xlperf.mail.config import SmtpConfig
from xlperf.mail.message import header_text
from xlperf.mail.outgo import (
    ALREADY_SENT,
    FAILED,
    FAILURES,
    NOT_DUE,
    SEND_LABELS,
    SENT,
    UNCERTAIN,
    WRITTEN,
    Outcome,
    Outgoing,
    send_all,
    send_key,
    write_all,
)
from xlperf.mail.reports import OUTCOME_LABELS, Report, UnitReports, load_reports, worst_status
from xlperf.mail.send import DEFAULT_RATE, Clock, SmtpSender, SystemClock
from xlperf.mail.sendlog import LogRecorder, SendLog, locked
from xlperf.read.roster import Roster, RosterUnit, normalise_name

# What happened to a unit's mail: the words of :data:`xlperf.mail.outgo.SEND_LABELS`.
DONE_SENT, DONE_WRITTEN, SEND_FAILED = SENT, WRITTEN, FAILED
ACTION_LABELS = SEND_LABELS

# Why reports could not be mailed.
NOT_IN_ROSTER = "not_in_roster"
NO_EMAIL = "no_email"
NO_UNIT = "no_unit"
UNMATCHED_LABELS = {NOT_IN_ROSTER: "不在单位名单中", NO_EMAIL: "名单中没有邮箱", NO_UNIT: "报表未能识别单位"}
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f]')


@dataclass(frozen=True)
class Unmatched:
    """Reports that cannot be mailed: ``reason`` is one of NOT_IN_ROSTER, NO_EMAIL, NO_UNIT."""

    name: str
    reports: list[Report]
    reason: str
    row: int = 0

    def line(self) -> str:
        files = "、".join(r.file_name for r in self.reports)
        if self.reason == NOT_IN_ROSTER:
            return f"不在单位名单中：{self.name}（{files}）——请核对报表中的单位名称，或在名单中补充该单位"
        if self.reason == NO_EMAIL:
            return f"名单中没有邮箱：{self.name}（名单第 {self.row} 行；{files}）——请在名单中补充邮箱"
        return f"报表未能识别单位：{files}——请核对报表的填报单位"


@dataclass(frozen=True)
class UnitResult:
    unit: RosterUnit
    reports: list[Report]
    action: str
    detail: str = ""
    path: Path | None = None
    message: EmailMessage | None = None
    """The message built (a preview or a dry run)."""

    def line(self) -> str:
        who = f"{header_text(self.unit.name)} <{', '.join(self.unit.addresses)}>"
        outcome = OUTCOME_LABELS[worst_status(self.reports)] if self.reports else "—"
        head = f"{ACTION_LABELS[self.action]}  {who}：{outcome}（{len(self.reports)} 份报表）"
        if self.action == DONE_WRITTEN:
            return f"{head} → {self.path}" if self.path is not None else head
        if self.action == ALREADY_SENT:
            return f"{head}，报表未变，跳过（重新发送请加 --resend）"
        if self.action == NOT_DUE:
            return f"{head}，全部通过（--only-failed）"
        if self.action == UNCERTAIN and not self.detail:
            return f"{head}，上次发送时服务器可能已收到：请核实；确认未收到的请加 --resend 重新发送"
        return f"{head}，{self.detail}" if self.detail else head

    @classmethod
    def of(cls, outcome: Outcome) -> UnitResult:
        group: UnitReports = outcome.outgoing.item
        return cls(group.unit, group.reports, outcome.action, outcome.detail, outcome.path, outcome.message)

    @classmethod
    def of_refusal(cls, out: Outgoing, action: str) -> UnitResult:
        group: UnitReports = out.item
        return cls(group.unit, group.reports, action)


@dataclass
class MailRun:
    results: list[UnitResult] = field(default_factory=list)
    unmatched: list[Unmatched] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    aborted: str = ""

    @property
    def failed(self) -> bool:
        """Some due message was neither sent nor written."""
        return any(r.action in FAILURES for r in self.results)

    def count(self, action: str) -> int:
        return sum(1 for r in self.results if r.action == action)

    def summary(self) -> str:
        parts = [f"{ACTION_LABELS[a]} {self.count(a)}" for a in ACTION_LABELS if self.count(a)]
        line = f"共 {len(self.results)} 个单位" + (f"：{'，'.join(parts)}" if parts else "")
        if self.unmatched:
            reasons = [f"{label} {n}" for reason, label in UNMATCHED_LABELS.items()
                       if (n := sum(1 for u in self.unmatched if u.reason == reason))]
            line += f"；另有 {len(self.unmatched)} 个单位无法投递（{'，'.join(reasons)}）"
        return line


def group_by_unit(reports: Sequence[Report], roster: Roster) -> tuple[list[UnitReports], list[Unmatched]]:
    """Reports by roster unit (in roster order), and those that cannot be mailed."""
    by_code: dict[str, list[Report]] = {}
    stray: dict[str, tuple[str, list[Report]]] = {}
    nameless: list[Report] = []
    for report in reports:
        if not report.unit:
            nameless.append(report)
            continue
        unit = roster.find(report.unit)
        if unit is None:
            stray.setdefault(normalise_name(report.unit), (report.unit, []))[1].append(report)
        else:
            by_code.setdefault(unit.code, []).append(report)
    groups: list[UnitReports] = []
    unmatched: list[Unmatched] = []
    for unit in roster.units:
        if unit.code not in by_code:
            continue
        if unit.email:
            groups.append(UnitReports(unit, by_code[unit.code]))
        else:
            unmatched.append(Unmatched(unit.name, by_code[unit.code], NO_EMAIL, unit.row))
    unmatched += [Unmatched(name, found, NOT_IN_ROSTER) for name, found in stray.values()]
    if nameless:
        unmatched.append(Unmatched("", nameless, NO_UNIT))
    return groups, unmatched


def run_mail(report_dir: Path, roster: Roster, *, sender: str, smtp: SmtpConfig | None = None,
             dry_run: Path | None = None, only_failed: bool = False, resend: bool = False,
             rate: int = DEFAULT_RATE, clock: Clock | None = None,
             progress: Callable[[UnitResult], None] | None = None) -> MailRun:
    """Mail the reports of ``report_dir`` to the units of ``roster``: through ``smtp``, or, with
    ``dry_run``, as .eml files in that folder (nothing sent, nothing logged)."""
    if (smtp is None) == (dry_run is None):
        raise ValueError("exactly one of smtp and dry_run")
    if dry_run is not None:  # nothing sent, nothing logged: no lock needed
        return _run_mail(report_dir, roster, sender, smtp, dry_run, only_failed, resend, rate, clock, progress)
    with locked(report_dir):  # raises SendLogBusy while another run sends from this folder
        return _run_mail(report_dir, roster, sender, smtp, dry_run, only_failed, resend, rate, clock, progress)


def _run_mail(report_dir: Path, roster: Roster, sender: str, smtp: SmtpConfig | None, dry_run: Path | None,
              only_failed: bool, resend: bool, rate: int, clock: Clock | None,
              progress: Callable[[UnitResult], None] | None) -> MailRun:
    clock = clock or SystemClock()
    reports, problems = load_reports(report_dir)
    groups, unmatched = group_by_unit(reports, roster)
    run = MailRun(unmatched=unmatched, problems=problems)
    log = SendLog.open(report_dir)
    if log.skipped_lines:
        run.problems.append(f"发送记录 {log.path.name} 有 {log.skipped_lines} 行无法读取，已忽略")

    def record(result: UnitResult) -> None:
        run.results.append(result)
        if progress is not None:
            progress(result)

    due: list[Outgoing] = []
    for group in groups:
        if only_failed and worst_status(group.reports) == ACCEPTED:
            record(UnitResult(group.unit, group.reports, NOT_DUE))
        else:
            due.append(unit_message(group, sender, clock))
    if dry_run is not None:
        write_all(due, dry_run, lambda out: eml_name(out.item.unit), lambda o: record(UnitResult.of(o)))
    elif due and smtp is not None:
        with SmtpSender(smtp, rate=rate, clock=clock) as smtp_sender:
            sent = send_all(due, smtp_sender, LogRecorder(log, clock, resend=resend), lambda o: record(UnitResult.of(o)))
        run.aborted = sent.aborted
    return run


def unit_message(group: UnitReports, sender: str, clock: Clock, kind: str = "report",
                 shown: object = None) -> Outgoing:
    """The message telling ``group.unit`` about its reports, keyed on exactly the addresses it
    goes to and what it reports (``shown``: the caller's account of it; else the reports' JSON)."""
    unit = group.unit
    to = tuple(unit.addresses)
    content = shown if shown is not None else sorted((r.json_name, r.digest) for r in group.reports)
    return Outgoing(send_key(kind, to, content), to, lambda: compose(unit, group.reports, sender, clock.now()),
                    item=group, label=unit.name)


def eml_name(unit: RosterUnit) -> str:
    """``<code>_<unit name>.eml``, safe on Windows too."""
    return _UNSAFE.sub("_", f"{unit.code}_{unit.name}".strip())[:120] + ".eml"
