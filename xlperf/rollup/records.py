"""How the roll-up shows a return's outcome, and the returns it makes itself (no check ran).

A return is a :class:`xlperf.findings.CheckedReturn`; a worker process sends back only its slim
form (:meth:`~xlperf.findings.CheckedReturn.slim`, with the summary of
:func:`xlperf.model.return_summary.summarised`), not the hundreds of raw values a summary never
shows, so less is pickled, sent and held for ten thousand returns.
"""

from __future__ import annotations

from pathlib import Path

from xlperf.findings import IGNORED, STATUS_LABELS, CheckedReturn
from xlperf.findings.catalogue import finding

__all__ = ["IGNORED", "RECORD_LABELS", "failed_record", "ignored_record"]

RECORD_LABELS = {**STATUS_LABELS, IGNORED: "未审核"}


def failed_record(path: Path, size: int, mtime_ns: int, code: str, message: str) -> CheckedReturn:
    """A rejected return for a file the roll-up could not check at all."""
    return CheckedReturn(file=path, size=size, mtime_ns=mtime_ns, findings=[finding(code, message)])


def ignored_record(path: Path, size: int, mtime_ns: int, reason: str) -> CheckedReturn:
    """The record of a file that is not checked (:func:`xlperf.read.inbox.not_a_return` says why)."""
    return CheckedReturn(file=path, size=size, mtime_ns=mtime_ns, ignored=True, notes=[reason])
