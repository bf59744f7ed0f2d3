"""The one send loop: ``xlperf mail``, ``round mail``, ``round remind`` and the watcher's replies
all send through :func:`send_all`, and differ only in the :class:`Recorder` they pass (the send
log file of a report folder, or rows of the ledger).

For each message, in order:

1. :meth:`Recorder.claim` takes it, keyed on exactly the recipients it will go to and what it
   says (:func:`send_key`); a message another run has taken, sent, or left uncertain is not sent;
2. it is built (an exception building one unit's message is that message's failure, never the
   run's);
3. it is checked to go to exactly the claimed recipients;
4. :meth:`Recorder.started` marks it as being sent when the SMTP transaction begins: after the
   rate-limit wait and the connection, so a run killed while waiting leaves it unsent and due;
5. :meth:`Recorder.finished` records sent, failed (tried again later) or uncertain (handed
   over, then no answer: never sent again automatically; staff confirm or resend).

When the server cannot be used at all (:class:`SendAborted`) the message is released unsent
and the rest are not tried: they wait for the next run.

:data:`SEND_LABELS` are the words for what became of a message, everywhere a person reads them.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Protocol

from xlperf.mail.message import header_text, recipients
from xlperf.mail.send import SendAborted, SendResult, SmtpSender

__all__ = ["ALREADY_SENT", "BUSY", "CLAIMED", "CONFIRMED", "DUE", "FAILED", "NOT_DUE", "NOT_SENT", "SEND_LABELS", "SENDING",
           "SENT", "UNCERTAIN", "WRITTEN", "Outcome", "Outgoing", "Recorder", "SendRun", "send_all", "send_key",
           "write_all"]

SENT = "sent"
FAILED = "failed"
UNCERTAIN = "uncertain"
CONFIRMED = "confirmed"
"""Uncertain, then confirmed by staff as received."""
SENDING = "sending"
CLAIMED = "claimed"
"""Taken by a run that has not yet begun its SMTP transaction."""
DUE = "due"
NOT_SENT = "not_sent"
"""The run stopped before this message (the server cannot be used)."""
ALREADY_SENT = "already_sent"
NOT_DUE = "not_due"
WRITTEN = "written"
BUSY = "busy"
"""Another run has taken this message and is sending it."""
SEND_LABELS = {SENT: "已发送", FAILED: "发送失败", UNCERTAIN: "待确认", CONFIRMED: "已送达", SENDING: "正在发送",
               CLAIMED: "正在发送", DUE: "待发送", NOT_SENT: "未发送", ALREADY_SENT: "已发送过", NOT_DUE: "无需发送", WRITTEN: "已写出",
               BUSY: "另一进程正在发送"}
"""What became of a message, in the same words in the CLI, the desk and the send records."""
FAILURES = (FAILED, NOT_SENT, UNCERTAIN)


def send_key(kind: str, to: Sequence[str], content: object) -> str:
    """What a recorder deduplicates on: the kind of message, exactly the recipients (without case
    or order) and what it says (any JSON-able value)."""
    raw = json.dumps([kind, sorted({a.strip().casefold() for a in to}), content], ensure_ascii=False,
                     sort_keys=True, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Outgoing:
    """One message to send: who it goes to, how to build it, and the caller's own record of it."""

    key: str
    recipients: tuple[str, ...]
    build: Callable[[], EmailMessage]
    item: Any = None
    """The caller's: passed back in the :class:`Outcome` and to the recorder."""
    label: str = ""
    """Who it is for, as a person reads it (a unit's name)."""


@dataclass(frozen=True)
class Outcome:
    outgoing: Outgoing
    action: str
    """One of the keys of :data:`SEND_LABELS`."""
    detail: str = ""
    message: EmailMessage | None = None
    path: Path | None = None
    tries: int = 0

    @property
    def label(self) -> str:
        return SEND_LABELS[self.action]


class Recorder(Protocol):
    def claim(self, out: Outgoing) -> str | None:
        """Take ``out`` for this run: None when taken, else why not (ALREADY_SENT, BUSY, UNCERTAIN)."""

    def started(self, out: Outgoing, message: EmailMessage) -> None:
        """The SMTP transaction for ``message`` begins."""

    def finished(self, out: Outgoing, message: EmailMessage | None, result: SendResult) -> None:
        """Sent, failed or uncertain (``result``); ``message`` is None when it could not be built."""

    def released(self, out: Outgoing, error: str) -> None:
        """Nothing was handed over (the server cannot be used): ``out`` is due again."""


@dataclass
class SendRun:
    outcomes: list[Outcome] = field(default_factory=list)
    aborted: str = ""


def _build(out: Outgoing) -> tuple[EmailMessage | None, str]:
    try:
        message = out.build()
    except Exception as exc:  # noqa: BLE001 - one unit's data must not stop the others' mail
        return None, f"未能生成邮件（{type(exc).__name__}: {header_text(str(exc), 200)}）"
    to = sorted(a.casefold() for a in recipients(message))
    if to != sorted({a.strip().casefold() for a in out.recipients}):
        return None, f"未能生成邮件（收件人 {', '.join(to)} 与登记的 {', '.join(out.recipients)} 不符）"
    return message, ""


def send_all(outgoing: Iterable[Outgoing], smtp: SmtpSender, recorder: Recorder,
             progress: Callable[[Outcome], None] | None = None) -> SendRun:
    """Send each of ``outgoing`` once, recorded by ``recorder``."""
    run = SendRun()

    def done(outcome: Outcome) -> None:
        run.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)

    pending = list(outgoing)
    for n, out in enumerate(pending):
        refused = recorder.claim(out)
        if refused is not None:
            done(Outcome(out, refused))
            continue
        message, error = _build(out)
        if message is None:
            recorder.finished(out, None, SendResult(False, 0, error))
            done(Outcome(out, FAILED, error))
            continue
        try:
            result = smtp.send(message, started=functools.partial(recorder.started, out, message))
        except SendAborted as exc:
            run.aborted = str(exc)
            recorder.released(out, str(exc))
            for rest in pending[n:]:
                done(Outcome(rest, NOT_SENT, str(exc)))
            break
        recorder.finished(out, message, result)
        action = SENT if result.ok else UNCERTAIN if result.uncertain else FAILED
        detail = (f"第 {result.tries} 次尝试成功" if result.tries > 1 else "") if result.ok else result.error
        done(Outcome(out, action, detail, message, tries=result.tries))
    return run


def write_all(outgoing: Iterable[Outgoing], folder: Path | None, name_of: Callable[[Outgoing], str],
              progress: Callable[[Outcome], None] | None = None) -> SendRun:
    """A dry run: each message built and written to ``folder`` as ``name_of(out)`` (.eml), or only
    built when ``folder`` is None (the desk's preview); nothing sent, nothing recorded. A message
    that cannot be built is that unit's failure only."""
    run = SendRun()
    for out in outgoing:
        message, error = _build(out)
        if message is None:
            outcome = Outcome(out, FAILED, error)
        else:
            try:
                data = message.as_bytes()
            except Exception as exc:  # noqa: BLE001 - one unit's data must not stop the others
                outcome = Outcome(out, FAILED, f"未能生成邮件（{type(exc).__name__}: {header_text(str(exc), 200)}）")
            else:
                path = folder / name_of(out) if folder is not None else None
                if path is not None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_bytes(data)
                outcome = Outcome(out, WRITTEN, message=message, path=path)
        run.outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return run
