"""The send log: one JSON line per message sent or failed, kept in the report folder.

A unit's mail is due again only when one of its reports changed (a report is known by its JSON
file name and the SHA-256 of that file: re-checking an unchanged return writes the same JSON) or
the unit's address changed. A ``sending`` line is written and flushed when the SMTP transaction
begins, and the outcome right after it; a message whose last line is ``sending`` (the run was
killed) or ``uncertain`` (handed over, then no answer) may have arrived: it is never sent again
without ``--resend``, so a run that is interrupted never sends a message twice on the next run.

One run at a time: :func:`locked` holds an exclusive lock on ``.mail_log.lock`` in the report
folder for the whole run (filelock: ``flock`` on Linux and macOS, ``msvcrt.locking`` on Windows),
so a second ``xlperf mail`` on the same folder (which would read the same log and mail every
unit again) is refused with :class:`SendLogBusy`. The system drops the lock when the process
ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from pathlib import Path

from filelock import FileLock, Timeout

from xlperf.mail.outgo import ALREADY_SENT, FAILED, SENDING, SENT, UNCERTAIN, Outgoing
from xlperf.mail.reports import Report, UnitReports
from xlperf.mail.send import Clock, SendResult

LOG_NAME = "mail_log.jsonl"
LOCK_NAME = ".mail_log.lock"


class SendLogBusy(Exception):
    """Another run holds the send log of this report folder (message in Chinese)."""


@contextlib.contextmanager
def locked(report_dir: Path) -> Iterator[None]:
    """Hold the send log of ``report_dir`` for one run; raise :class:`SendLogBusy` if another has it."""
    lock = FileLock(report_dir / LOCK_NAME, timeout=0)  # a lock of its own: also refused in one process
    try:
        lock.acquire()
    except Timeout:
        raise SendLogBusy(f"另一个 xlperf mail 正在向 {report_dir} 中的报告发送邮件（发送记录 {LOG_NAME} 已被占用）："
                          "请等它结束后再运行，以免同一单位收到两封邮件") from None
    try:
        yield
    finally:
        lock.release()


@dataclass(frozen=True)
class LogEntry:
    time: str
    unit: str
    unit_code: str
    recipient: str
    reports: list[dict[str, str]]
    """``{"json": file name, "sha256": digest, "file": the return's file name}`` per report."""
    outcome: str
    """sent, failed, sending (the transaction began) or uncertain."""
    subject: str = ""
    message_id: str = ""
    tries: int = 0
    error: str = ""

    @staticmethod
    def report_refs(reports: Sequence[Report]) -> list[dict[str, str]]:
        return [{"json": r.json_name, "sha256": r.digest, "file": r.file_name} for r in reports]


@dataclass
class SendLog:
    path: Path
    entries: list[LogEntry] = field(default_factory=list)
    skipped_lines: int = 0
    """Lines that could not be read (e.g. cut short by a crash), ignored."""
    _open_line: bool = False

    @classmethod
    def open(cls, report_dir: Path) -> SendLog:
        log = cls(report_dir / LOG_NAME)
        if log.path.is_file():
            text = log.path.read_text(encoding="utf-8", errors="replace")
            log._open_line = bool(text) and not text.endswith("\n")
            for line in text.splitlines():
                if not line.strip():
                    continue
                try:
                    log.entries.append(LogEntry(**json.loads(line)))
                except (ValueError, TypeError):
                    log.skipped_lines += 1
        return log

    def was_sent(self, reports: Sequence[Report], recipient: str) -> bool:
        """Whether every one of ``reports``, as it is now, was sent to ``recipient``."""
        sent = {(ref.get("json"), ref.get("sha256"))
                for e in self.entries if e.outcome == SENT and e.recipient.casefold() == recipient.casefold()
                for ref in e.reports}
        return all((r.json_name, r.digest) in sent for r in reports)

    def uncertain(self, reports: Sequence[Report], recipient: str) -> bool:
        """Whether a message about ``reports`` to ``recipient`` may have arrived without a record
        of it: its last line is ``sending`` or ``uncertain``."""
        wanted = {(r.json_name, r.digest) for r in reports}
        last: dict[str, str] = {}
        for e in self.entries:
            if e.recipient.casefold() == recipient.casefold() and wanted & {(f.get("json"), f.get("sha256"))
                                                                            for f in e.reports}:
                last[e.message_id] = e.outcome
        return any(outcome in (SENDING, UNCERTAIN) for outcome in last.values())

    def append(self, entry: LogEntry) -> None:
        self.entries.append(entry)
        with self.path.open("a", encoding="utf-8") as handle:
            if self._open_line:  # a line cut short must not swallow this one
                handle.write("\n")
                self._open_line = False
            handle.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())


class LogRecorder:
    """The send loop's recorder for ``xlperf mail``: this log (one run at a time, see :func:`locked`)."""

    def __init__(self, log: SendLog, clock: Clock, *, resend: bool = False) -> None:
        self.log, self.clock, self.resend = log, clock, resend

    def claim(self, out: Outgoing) -> str | None:
        reports = self._group(out).reports
        recipient = ", ".join(out.recipients)
        if self.resend:
            return None
        if self.log.was_sent(reports, recipient):
            return ALREADY_SENT
        return UNCERTAIN if self.log.uncertain(reports, recipient) else None

    def started(self, out: Outgoing, message: EmailMessage) -> None:
        self._append(out, message, SENDING)

    def finished(self, out: Outgoing, message: EmailMessage | None, result: SendResult) -> None:
        outcome = SENT if result.ok else UNCERTAIN if result.uncertain else FAILED
        self._append(out, message, outcome, result.tries, result.error)

    def released(self, out: Outgoing, error: str) -> None:
        # A transaction may have begun before the server became unusable: close its line.
        self._append(out, None, FAILED, 0, error)

    @staticmethod
    def _group(out: Outgoing) -> UnitReports:
        group: UnitReports = out.item
        return group

    def _append(self, out: Outgoing, message: EmailMessage | None, outcome: str, tries: int = 0,
                error: str = "") -> None:
        unit = self._group(out).unit
        self.log.append(LogEntry(
            time=self.clock.now().isoformat(timespec="seconds"), unit=unit.name, unit_code=unit.code,
            recipient=", ".join(out.recipients), reports=LogEntry.report_refs(self._group(out).reports),
            outcome=outcome, subject=str(message["Subject"]) if message is not None else "",
            message_id=str(message["Message-ID"]) if message is not None else "", tries=tries, error=error))
