"""What a file becomes when checking it failed in xlperf itself (fail closed).

A check that raises, a reader that raises something other than its own refusal
(:class:`xlperf.read.ReadError`), an exception anywhere between a file and its result, or work
that raised in a worker process: each is xlperf's fault, not the unit's, and each makes the
return unacceptable, with one code on every path (``xlperf check``, the roll-up, every intake
route, revalidation, the desk, Dask): :data:`CHECK_FAILED`, an error. Its message tells the unit
that the check could not run and the bureau will look at the file, never to resave and resend
(nothing the unit does would help). The traceback goes to the operator through :mod:`logging`
(logger ``xlperf.checks``), with the file's name; the unit's message names no exception.
"""

from __future__ import annotations

import logging
from pathlib import Path

from xlperf.findings import Finding
from xlperf.findings.catalogue import finding
from xlperf.findings.text import shown_name

__all__ = ["CHECK_FAILED", "check_failed", "log"]

CHECK_FAILED = "CHECK_FAILED"
log = logging.getLogger("xlperf.checks")


def check_failed(path: Path, exc: BaseException | None = None, *, check: str = "", title: str = "",
                 detail: str = "") -> Finding:
    """The :data:`CHECK_FAILED` finding of ``path``, and the traceback of ``exc`` logged (``detail``:
    the exception as text where only that crossed a process; its traceback was logged there).
    ``check``, ``title``: the code and Chinese title of the one check that raised."""
    name = shown_name(path)
    where = f" check {check}" if check else ""
    if exc is not None:
        log.error("checking %s failed in xlperf%s", path, where, exc_info=exc)
    else:
        log.error("checking %s failed in xlperf%s: %s", path, where, detail)
    what = f"“{title}”这项检查" if title else "审核"
    return finding(CHECK_FAILED, f"审核程序出错，文件“{name}”的{what}未能完成，因此本报表暂不能通过。"
                                 "这不是报表本身的问题，无需重新报送：财政局将查看该文件后答复")
