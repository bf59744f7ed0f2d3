"""Issue 20's done-when: an e-mailed return is hashed once, and reaches its reply with no temporary
report files, through one check function and one send loop.

A real mail intake (``xlperf round watch --once`` against Dovecot and aiosmtpd on loopback, the
room of tests/test_watch.py) with the lower layers patched to count what they are asked:
``hashlib.sha256`` (what bytes are hashed), the one check function
(:func:`xlperf.checks.check_files.check_files`) and the worker mechanism below it
(:func:`xlperf.workers.run.run_limited`, and who calls it), the one send loop
(:func:`xlperf.mail.outgo.send_all`) and every way :mod:`tempfile` makes a file or folder (and
which module asked).
"""

from __future__ import annotations

import hashlib
import inspect
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_watch import (  # noqa: F401  (the room fixture)
    CLEAN,
    Room,
    attachment_names,
    client_message,
    room,
)

from xlperf.checks import check_files as check_files_mod
from xlperf.mail import outgo
from xlperf.workers import run as worker_runs

TEMP_MAKERS = ("mkstemp", "mkdtemp", "NamedTemporaryFile", "TemporaryFile", "SpooledTemporaryFile",
               "TemporaryDirectory")


def _caller() -> str:
    """The module (outside this file and tempfile) that made the call being counted."""
    for frame in inspect.stack()[2:]:
        name = frame.frame.f_globals.get("__name__", "")
        if name not in (__name__, "tempfile", "contextlib"):
            return str(name)
    return ""


def _everywhere(monkeypatch: pytest.MonkeyPatch, real: Callable[..., Any], wrapper: Callable[..., Any]) -> None:
    """Replace ``real`` by ``wrapper`` in every xlperf module that holds it (imported by name)."""
    for name, module in list(sys.modules.items()):
        if name.startswith("xlperf") and module is not None:
            for attr, value in list(vars(module).items()):
                if value is real:
                    monkeypatch.setattr(module, attr, wrapper)


def test_an_emailed_return_is_hashed_once_checked_once_and_answered_without_temp_reports(
        room: Room, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    workbook = room.workbook("东城.xlsx", "东城区科技局", **CLEAN)
    room.deliver(client_message("dongcheng@example.gov.cn", "报送自评表", [("自评表_东城区科技局.xlsx", workbook)],
                                message_id="one-way@mail.example.gov.cn"))
    import xlperf.intake.watch  # noqa: F401  (every module of the path loaded, so that it is patched)

    hashed: list[bytes] = []
    real_sha256 = hashlib.sha256

    def counting_sha256(data: bytes = b"", **kwargs: Any) -> Any:
        hashed.append(bytes(data))
        digest = real_sha256(data, **kwargs)

        class Fed:  # update() counted too: a file hashed in pieces is hashed all the same
            def update(self, more: bytes) -> None:
                hashed.append(bytes(more))
                digest.update(more)

            def __getattr__(self, attr: str) -> Any:
                return getattr(digest, attr)
        return Fed()

    monkeypatch.setattr(hashlib, "sha256", counting_sha256)

    checks: list[list[str]] = []
    real_check_files = check_files_mod.check_files

    def counting_check_files(paths: Any, *args: Any, **kwargs: Any) -> Any:
        paths = list(paths)
        checks.append([p.name for p in paths])
        return real_check_files(paths, *args, **kwargs)

    _everywhere(monkeypatch, real_check_files, counting_check_files)

    limited_callers: list[str] = []
    real_run_limited = worker_runs.run_limited

    def counting_run_limited(*args: Any, **kwargs: Any) -> Any:
        limited_callers.append(_caller())
        return real_run_limited(*args, **kwargs)

    _everywhere(monkeypatch, real_run_limited, counting_run_limited)

    sends: list[tuple[int, str]] = []
    real_send_all = outgo.send_all

    def counting_send_all(outgoing: Any, *args: Any, **kwargs: Any) -> Any:
        outgoing = list(outgoing)
        sends.append((len(outgoing), _caller()))
        return real_send_all(outgoing, *args, **kwargs)

    _everywhere(monkeypatch, real_send_all, counting_send_all)

    temp_callers: list[tuple[str, str]] = []
    inside: list[str] = []
    for maker in TEMP_MAKERS:
        real_maker = getattr(tempfile, maker)

        def counting_maker(*args: Any, _maker: str = maker, _real: Any = real_maker, **kwargs: Any) -> Any:
            if not inside:  # TemporaryDirectory's own mkdtemp is not a second one
                temp_callers.append((_maker, _caller()))
            inside.append(_maker)
            try:
                return _real(*args, **kwargs)
            finally:
                inside.pop()

        monkeypatch.setattr(tempfile, maker, counting_maker)

    room.watch_once()

    replies = room.replies()
    assert list(replies) == ["<one-way@mail.example.gov.cn>"]
    reply = replies["<one-way@mail.example.gov.cn>"]
    assert str(reply["Subject"]).startswith("【通过（有提示）】")
    assert attachment_names(reply) == ["自评表_东城区科技局_批注.xlsx"]
    assert len(room.store.received) == 1

    assert hashed.count(workbook) == 1  # hashed once: by the store, when it was taken
    assert checks == [["自评表_东城区科技局.xlsx"]]  # one check function, once, for the one file
    assert limited_callers == ["xlperf.checks.check_files"]  # the workers are reached through it alone
    # One send loop (the watcher runs its outbox before and after taking: the first has nothing due)
    # and one reply sent through it.
    assert sends == [(0, "xlperf.intake.outbox"), (1, "xlperf.intake.outbox")]
    # Temporary files only where the file is taken (the store's atomic write, the attachment
    # under its own name for the checker): none while the reply's reports are made.
    # (multiprocessing's fork server makes a folder of its own for its socket: not xlperf's.)
    ours = sorted({(maker, caller) for maker, caller in temp_callers if caller.startswith("xlperf")})
    assert ours == [("TemporaryDirectory", "xlperf.intake.files"), ("mkstemp", "xlperf.ledger.store")]
    assert not any(Path(tempfile.gettempdir()).glob("xlperf-report*"))
