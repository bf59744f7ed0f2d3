"""The operator's log: the desk (``xlperf serve``) and the mailbox watcher (``xlperf round watch``)
write one line per event in one format, to stderr or a file::

    2026-12-06 11:40:02 INFO 任务=2019年度项目支出绩效自评 报送=12 上传 自评表_东湖区科技局.xlsx：通过

time, level, round (任务), submission (报送; "-" when the event has none), what happened. A
traceback follows its line. The file is reopened when logrotate moves it (WatchedFileHandler).
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import sys
from collections.abc import Iterator
from pathlib import Path

LOGGER = "xlperf"
FORMAT = "%(asctime)s %(levelname)s 任务=%(round)s 报送=%(submission)s %(message)s"
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
LEVELS = ("debug", "info", "warning", "error")
NONE = "-"
_OURS = "xlperf_operator_log"
"""Marks the handler installed here, so that configuring again replaces it and nothing else."""


def fields(round_name: object = None, submission: object = None) -> dict[str, object]:
    """The ``extra`` of a log call naming a round and a submission (either may be None)."""
    return {"round": NONE if round_name in (None, "") else round_name,
            "submission": NONE if submission in (None, "") else submission}


class _Fields(logging.Filter):
    """Records from elsewhere (uvicorn, a library) have no round or submission: "-"."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in ("round", "submission"):
            if not hasattr(record, name):
                setattr(record, name, NONE)
        return True


def configure(level: str = "info", file: str | Path | None = None) -> logging.Handler:
    """Send xlperf's and uvicorn's log to stderr (or ``file``, appended) in :data:`FORMAT`, at
    ``level`` and above; replaces a handler this function installed before. Returns the handler."""
    handler: logging.Handler
    if file:
        handler = logging.handlers.WatchedFileHandler(file, encoding="utf-8")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT, TIME_FORMAT))
    handler.addFilter(_Fields())
    setattr(handler, _OURS, True)
    for name in (LOGGER, "uvicorn"):
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _OURS, False)]:
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(level.upper())
        logger.propagate = False
    return handler


@contextlib.contextmanager
def operator_log(level: str = "info", file: str | Path | None = None) -> Iterator[logging.Logger]:
    """:func:`configure` for the length of a command; the handler is removed (and a file closed) after."""
    handler = configure(level, file)
    try:
        yield logging.getLogger(LOGGER)
    finally:
        for name in (LOGGER, "uvicorn"):
            logging.getLogger(name).removeHandler(handler)
        handler.close()
