"""The send log: one JSON line per message sent or failed, kept in the report folder.

A unit's mail is due again only when one of its reports changed (a report is known by its JSON
file name and the SHA-256 of that file: re-checking an unchanged return writes the same JSON) or
the unit's address changed. Each line is written and flushed to disk right after the attempt, so
a run that is interrupted never sends a message twice on the next run.

One run at a time: :func:`locked` holds an exclusive ``flock`` on ``.mail_log.lock`` in the report
folder for the whole run, so a second ``xlperf mail`` on the same folder (which would read the
same log and mail every unit again) is refused with :class:`SendLogBusy`. The kernel drops the
lock when the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from xlperf.mail.reports import Report

try:
    import fcntl
except ImportError:  # Windows: msvcrt's byte-range lock does the same job
    fcntl = None  # type: ignore[assignment]
    import msvcrt

LOG_NAME = "mail_log.jsonl"
LOCK_NAME = ".mail_log.lock"
SENT = "sent"
FAILED = "failed"


class SendLogBusy(Exception):
    """Another run holds the send log of this report folder (message in Chinese)."""


@contextlib.contextmanager
def locked(report_dir: Path) -> Iterator[None]:
    """Hold the send log of ``report_dir`` for one run; raise :class:`SendLogBusy` if another has it."""
    path = report_dir / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except (BlockingIOError, PermissionError):
            raise SendLogBusy(f"另一个 xlperf mail 正在向 {report_dir} 中的报告发送邮件（发送记录 {LOG_NAME} 已被占用）："
                              "请等它结束后再运行，以免同一单位收到两封邮件") from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


@dataclass(frozen=True)
class LogEntry:
    time: str
    unit: str
    unit_code: str
    recipient: str
    reports: list[dict[str, str]]
    """``{"json": file name, "sha256": digest, "file": the return's file name}`` per report."""
    outcome: str
    """sent or failed."""
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

    def append(self, entry: LogEntry) -> None:
        self.entries.append(entry)
        with self.path.open("a", encoding="utf-8") as handle:
            if self._open_line:  # a line cut short must not swallow this one
                handle.write("\n")
                self._open_line = False
            handle.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
