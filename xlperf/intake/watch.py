"""``round watch``: the mailbox loop. Each pass:

1. (re)connect to the IMAP server when not connected;
2. send the replies still due from earlier passes (a failed one is retried here);
3. for each waiting message, oldest first: fetch it (only its header when it is larger than
   :data:`~xlperf.intake.mailbox.MAX_MESSAGE`), take it into the ledger
   (:func:`~xlperf.intake.mailtake.take_message`, committed), then move it to 已处理, then send its
   replies at once (a unit waits minutes at most, not a whole interval).

A pass takes :data:`MAX_MESSAGES` messages at most (``max_messages``): a flood of mail (a mail
bomb, a mailing list) then cannot keep a pass going for hours while the replies and the pass's
own summary wait; the rest follow in the next pass, at once rather than after the interval.
Every message is its own transaction, so no transaction outlives one message either.

A dropped connection or a server restart ends the pass; the next pass reconnects. A message that
cannot be taken in (a bug, a database error) is logged, left in the folder and tried on the next
pass, :data:`MAX_FAILURES` times at most in one run, so one bad message never stops the others.
Files are checked by workers started by a fork server (:class:`~xlperf.workers.pool.WorkerPool`,
as the desk's), never forked from the watcher itself, which holds the database engine and, while
an intake records, a second thread. Time and sleeping come from a :class:`~xlperf.mail.send.Clock`; ``stop`` is polled between
messages and while waiting, so SIGTERM ends the watcher between two messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xlperf.intake.imapconf import ImapConfig
from xlperf.intake.mailbox import MAX_MESSAGE, Mailbox, MailboxError, Waiting
from xlperf.intake.mailtake import MailIntake, take_message
from xlperf.intake.mime import parse_message
from xlperf.intake.outbox import ReplySent, mark_uncertain, send_due
from xlperf.ledger import Ledger, workerpreload
from xlperf.ledger.models import MAIL_HELD, Round
from xlperf.ledger.round_checks import require_round_rules
from xlperf.ledger.rounds import roster_of, units_of
from xlperf.mail import Clock, SmtpConfig, SmtpSender, SystemClock
from xlperf.mail.send import DEFAULT_RATE
from xlperf.workers.pool import WorkerPool

__all__ = ["MAX_FAILURES", "MAX_MESSAGES", "PassResult", "Watcher"]

MAX_FAILURES = 3
MAX_MESSAGES = 200
"""Messages one pass takes at most, by default (see the module's docstring)."""
MiB = 1 << 20


@dataclass
class PassResult:
    taken: int = 0
    held: int = 0
    replies: list[ReplySent] = field(default_factory=list)
    error: str = ""
    """Why the pass ended early (the connection); empty when it went through."""
    left: int = 0
    """Messages still waiting because the pass reached its cap (``max_messages``)."""


class Watcher:
    """Watches one folder for one round; ``log`` receives one Chinese line per event, or
    ``log_event`` (when given) the line, whether it is a failure, and the submissions it recorded
    (the operator's log of ``xlperf round watch`` names them)."""

    def __init__(self, ledger: Ledger, rnd: Round, imap: ImapConfig, *, smtp: SmtpConfig | None, sender: str,
                 reply: bool = True, rate: int = DEFAULT_RATE, clock: Clock | None = None,
                 log: Callable[[str], None] = print, actor: str = "",
                 log_event: Callable[[str, bool, tuple[int, ...]], None] | None = None,
                 mailbox: Callable[[ImapConfig], Mailbox] = Mailbox, max_message: int = MAX_MESSAGE,
                 max_messages: int = MAX_MESSAGES) -> None:
        if reply and smtp is None:
            raise ValueError("replies need an SMTP server")
        if max_messages < 1:
            raise ValueError("a pass must take at least one message")
        require_round_rules(rnd)  # before anything is taken: the watcher refuses to start
        self.ledger, self.round, self.imap = ledger, rnd, imap
        self.smtp, self.sender, self.reply, self.rate = smtp, sender, reply, rate
        self.clock = clock or SystemClock()
        self.log, self.actor = log, actor
        self.log_event = log_event or (lambda line, _failed, _submissions: log(line))
        self._make_box = mailbox
        self.max_message, self.max_messages = max_message, max_messages
        self.box: Mailbox | None = None
        self.failures: dict[int, int] = {}
        self.checkers = WorkerPool(preload=[workerpreload.__name__])
        with ledger.session() as session:
            self.roster = roster_of(rnd, units_of(session, rnd.id))
        uncertain = mark_uncertain(ledger, rnd)
        if uncertain:
            self.log_event(f"有 {uncertain} 封回复在上次中断时正在发送，可能已送达：不再重发，请人工核实（见台账 replies 表）",
                           False, ())

    def run(self, *, once: bool = False, interval: float = 60.0,
            stop: Callable[[], bool] = lambda: False) -> PassResult:
        """Passes until ``stop()`` (or one pass with ``once``); the last pass's result. A
        permanent mailbox error (login refused, certificate) is raised: trying again cannot help."""
        try:
            while True:
                last = self.one_pass(stop)
                if once or stop():
                    return last
                if last.left and not last.error:
                    continue  # a flood: the next pass at once, its replies go out as it takes them
                deadline = self.clock.monotonic() + interval
                while not stop() and self.clock.monotonic() < deadline:
                    self.clock.sleep(min(0.2, deadline - self.clock.monotonic()))
                if stop():
                    return last
        finally:
            self.close()

    def close(self) -> None:
        """Log out of the mailbox and stop the idle checking workers."""
        self._disconnect()
        self.checkers.close()

    def _disconnect(self) -> None:
        if self.box is not None:
            self.box.close()
            self.box = None

    def one_pass(self, stop: Callable[[], bool] = lambda: False) -> PassResult:
        result = PassResult()
        sender: SmtpSender | None = SmtpSender(self.smtp, rate=self.rate, clock=self.clock) if self.reply and self.smtp else None
        senders = [sender] if sender is not None else []
        try:
            if sender is not None:
                result.replies += self._send(sender, None)
                if any(item.aborted for item in result.replies):
                    sender = None  # the SMTP server is out: the replies wait for the next pass
            box = self._connected()
            waiting_now = [w for w in box.waiting() if self.failures.get(w.uid, 0) < MAX_FAILURES]
            result.left = max(0, len(waiting_now) - self.max_messages)
            if result.left:
                self.log_event(f"收件箱中有 {len(waiting_now)} 封待处理的邮件，本遍只处理最早的 {self.max_messages} 封"
                               f"（每遍上限），其余 {result.left} 封下一遍继续", False, ())
            for waiting in waiting_now[:self.max_messages]:
                if stop():
                    break
                taken = self._take(box, waiting)
                if taken is None:
                    continue
                if taken.state == MAIL_HELD:
                    result.held += 1
                else:
                    result.taken += 1
                if sender is not None and taken.replies:
                    sent = self._send(sender, {taken.mail_id})
                    result.replies += sent
                    if any(item.aborted for item in sent):
                        sender = None  # the SMTP server is out: the replies wait for the next pass
        except MailboxError as exc:
            if exc.permanent:
                raise
            result.error = str(exc)
            self.log_event(f"{exc}；稍后重新连接", True, ())
            self._disconnect()
        finally:
            for opened in senders:
                opened.close()
        return result

    def _connected(self) -> Mailbox:
        if self.box is None:
            box = self._make_box(self.imap)
            box.open()
            self.box = box
            self.log_event(f"已连接收件服务器 {self.imap.where}，监视文件夹“{self.imap.folder}”，"
                           f"已处理的邮件移至“{box.processed}”", False, ())
        return self.box

    def _take(self, box: Mailbox, waiting: Waiting) -> MailIntake | None:
        """Take one message in, then move it; None when it went away or failed (logged)."""
        too_large = ""
        if waiting.size > self.max_message:
            too_large = (f"邮件大小 {waiting.size / MiB:.1f} MB，超过上限 {self.max_message / MiB:.1f} MB，"
                         "只登记了邮件头，附件未下载：请让单位压缩或分开发送")
        raw = box.fetch(waiting.uid, header_only=bool(too_large))
        if raw is None:
            return None
        try:
            parsed = parse_message(raw)
            taken = take_message(self.ledger, self.round, self.roster, parsed, reply=self.reply,
                                 too_large=too_large, actor=self.actor, now=self.clock.now(), pool=self.checkers)
        except Exception as exc:  # noqa: BLE001 - one message must not stop the watcher; it stays for the next pass
            count = self.failures[waiting.uid] = self.failures.get(waiting.uid, 0) + 1
            self.log_event(f"处理邮件（UID {waiting.uid}）出错（{type(exc).__name__}: {exc}），留在收件箱"
                     + ("，下一轮重试" if count < MAX_FAILURES else "，本次运行不再尝试，请人工处理"), True, ())
            return None
        box.mark_processed(waiting.uid)
        self.log_event(self._line(parsed.sender, parsed.subject, taken), False,
                       tuple(o.submission_id for o in taken.outcomes if o.submission_id is not None))
        return taken

    def _send(self, sender: SmtpSender, mail_ids: set[int] | None) -> list[ReplySent]:
        sent = send_due(self.ledger, self.round, sender, self.sender, self.clock.now, actor=self.actor,
                        mail_ids=mail_ids)
        for item in sent:
            self.log_event(item.line(), False, ())
        return sent

    @staticmethod
    def _line(address: str, subject: str, taken: MailIntake) -> str:
        head = f"{address or '（无发件人）'}「{subject or '（无主题）'}」"
        if not taken.new:
            return f"{head}：此前已登记，仅移入已处理"
        if taken.state == MAIL_HELD:
            return f"{head}：暂存待人工处理——{taken.reason}"
        files = "；".join(o.line() for o in taken.outcomes)
        return f"{head}：{files}"
