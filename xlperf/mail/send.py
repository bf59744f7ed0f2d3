"""Sending over SMTP: one connection reused, a bounded rate, retries with exponential back-off on
temporary failures (4xx replies, dropped connections), permanent failures (5xx) reported at once.

A connection lost (or an answer later than the timeout) after the whole message was handed over
is not a temporary failure: the server may have stored it. Such a send is *uncertain* and never
tried again here; the caller records it for staff to confirm or resend (:data:`SendResult.uncertain`).

Time comes from a :class:`Clock` so that tests can run the rate limit and the back-off instantly.
"""

from __future__ import annotations

import base64
import datetime as dt
import re
import smtplib
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from types import TracebackType
from typing import Any, Protocol

from xlperf.mail.config import SmtpConfig

DEFAULT_RATE = 30
"""Messages per minute; many government mail servers throttle or block faster senders."""
DEFAULT_TRIES = 4
BACKOFF = 2.0
"""Seconds before the first retry; doubled for each further one, at most MAX_BACKOFF."""
MAX_BACKOFF = 60.0


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def sleep(self, seconds: float) -> None: ...

    def now(self) -> dt.datetime: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)

    def now(self) -> dt.datetime:
        return dt.datetime.now().astimezone()


class SendAborted(Exception):
    """The server cannot be used at all (login refused, TLS failed, unreachable): stop the run."""


@dataclass(frozen=True)
class SendResult:
    ok: bool
    tries: int
    error: str = ""
    """The last failure: Chinese, with the server's reply."""
    uncertain: bool = False
    """The message was handed over, then no answer came: the server may have stored it."""


UNCERTAIN_NOTE = "服务器可能已收到（邮件已全部交给服务器，但未收到确认）；为免重复不再自动发送，请人工核实后确认送达或重新发送"


class _Handover:
    """An SMTP connection that knows whether a message's data were all handed to the server
    (:meth:`smtplib.SMTP.data`, with a flag set between the data and the server's answer)."""

    handed_over = False

    def data(self, msg: Any) -> tuple[int, bytes]:
        conn: smtplib.SMTP = self  # type: ignore[assignment]
        self.handed_over = False
        conn.putcmd("data")
        code, reply = conn.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        data = msg.encode("ascii") if isinstance(msg, str) else bytes(msg)
        data = re.sub(rb"(?:\r\n|\n|\r(?!\n))", b"\r\n", data)
        data = re.sub(rb"(?m)^\.", b"..", data)
        if not data.endswith(b"\r\n"):
            data += b"\r\n"
        conn.send(data + b".\r\n")
        self.handed_over = True
        return conn.getreply()


class _Plain(_Handover, smtplib.SMTP):
    pass


class _Ssl(_Handover, smtplib.SMTP_SSL):
    pass


class Throttle:
    """At most ``per_minute`` starts a minute, spaced evenly (no bursts)."""

    def __init__(self, per_minute: int, clock: Clock) -> None:
        self.interval = 60.0 / per_minute
        self.clock = clock
        self._next: float | None = None

    def wait(self) -> None:
        now = self.clock.monotonic()
        if self._next is not None and now < self._next:
            self.clock.sleep(self._next - now)
            now = self._next
        self._next = now + self.interval


class _Temporary(Exception):
    """A failure worth retrying."""


class SmtpSender:
    """Sends messages through one SMTP server; use as a context manager (closes the connection)."""

    def __init__(self, config: SmtpConfig, *, rate: int = DEFAULT_RATE, tries: int = DEFAULT_TRIES,
                 clock: Clock | None = None) -> None:
        self.config = config
        self.tries = max(1, tries)
        self.clock = clock or SystemClock()
        self.throttle = Throttle(rate, self.clock)
        self._conn: smtplib.SMTP | None = None

    def __enter__(self) -> SmtpSender:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def send(self, message: EmailMessage, *, started: Callable[[], None] | None = None) -> SendResult:
        """Send ``message`` to its To and Cc addresses; raises SendAborted when no message can be
        sent. ``started`` is called when an SMTP transaction for it begins (after the rate-limit
        wait and the connection), before each attempt: nothing is handed over before it."""
        error = ""
        unreachable = False
        for attempt in range(1, self.tries + 1):
            if attempt > 1:
                self.clock.sleep(min(BACKOFF * 2 ** (attempt - 2), MAX_BACKOFF))
            self.throttle.wait()  # retries count against the rate too
            try:
                conn = self._connection()
            except _Temporary as exc:
                error, unreachable = str(exc), True
                continue
            unreachable = False
            if started is not None:
                started()
            if isinstance(conn, _Handover):
                conn.handed_over = False
            try:
                conn.send_message(message)
                return SendResult(True, attempt)
            except smtplib.SMTPRecipientsRefused as exc:
                codes = [code for code, _ in exc.recipients.values()]
                error = "收件人被拒绝：" + "；".join(f"{addr} {code} {_text(reply)}"
                                                    for addr, (code, reply) in exc.recipients.items())
                if not all(400 <= code < 500 for code in codes):
                    return SendResult(False, attempt, error)
            except smtplib.SMTPResponseException as exc:
                error = f"服务器拒绝：{exc.smtp_code} {_text(exc.smtp_error)}"
                if not 400 <= exc.smtp_code < 500:
                    return SendResult(False, attempt, error)
                if exc.smtp_code == 421:  # the server is closing this connection
                    self._drop()
            except smtplib.SMTPServerDisconnected as exc:
                error = f"连接中断：{exc}"
                self._drop()
                if isinstance(conn, _Handover) and conn.handed_over:
                    return SendResult(False, attempt, f"{error}；{UNCERTAIN_NOTE}", uncertain=True)
            except smtplib.SMTPException as exc:  # e.g. an address the server cannot take
                return SendResult(False, attempt, f"无法发送：{type(exc).__name__}: {exc}")
            except OSError as exc:
                error = f"连接中断：{type(exc).__name__}: {exc}"
                self._drop()
                if isinstance(conn, _Handover) and conn.handed_over:
                    return SendResult(False, attempt, f"{error}；{UNCERTAIN_NOTE}", uncertain=True)
        if unreachable:
            raise SendAborted(f"无法连接邮件服务器 {self.config.host}:{self.config.port}（已尝试 {self.tries} 次）：{error}")
        return SendResult(False, self.tries, error)

    def close(self) -> None:
        if self._conn is not None:
            try:
                self._conn.quit()
            except (smtplib.SMTPException, OSError):
                pass  # closing a connection the server already dropped
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except OSError:
                pass
        self._conn = None

    def _connection(self) -> smtplib.SMTP:
        """The open connection, or a new one: TLS as configured, then login."""
        if self._conn is not None:
            return self._conn
        cfg = self.config
        where = f"{cfg.host}:{cfg.port}"
        conn: smtplib.SMTP | None = None
        try:
            if cfg.tls == "ssl":
                conn = _Ssl(cfg.host, cfg.port, timeout=cfg.timeout, context=cfg.ssl_context())
            else:
                conn = _Plain(cfg.host, cfg.port, timeout=cfg.timeout)
            conn.ehlo()
            if cfg.tls == "starttls":
                if not conn.has_extn("starttls"):
                    raise SendAborted(f"邮件服务器 {where} 不支持 STARTTLS：请改用 --tls ssl 或核对端口")
                conn.starttls(context=cfg.ssl_context())
                conn.ehlo()
            if cfg.username and cfg.password:
                _login(conn, cfg.username, cfg.password)
        except SendAborted:
            _close(conn)
            raise
        except smtplib.SMTPAuthenticationError as exc:
            _close(conn)
            raise SendAborted(f"登录邮件服务器 {where} 失败（{exc.smtp_code} {_text(exc.smtp_error)}）："
                              "请核对用户名和密码") from None
        except smtplib.SMTPNotSupportedError as exc:
            _close(conn)
            raise SendAborted(f"邮件服务器 {where} 不支持所需功能（{exc}）：请核对加密方式和端口") from None
        except ssl.SSLError as exc:
            _close(conn)
            raise SendAborted(f"与邮件服务器 {where} 建立加密连接失败（{exc}）：请核对加密方式、端口和证书") from None
        except smtplib.SMTPResponseException as exc:
            _close(conn)
            message = f"邮件服务器 {where} 拒绝连接：{exc.smtp_code} {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:
                raise _Temporary(message) from None
            raise SendAborted(message) from None
        except OSError as exc:
            _close(conn)
            raise _Temporary(f"{type(exc).__name__}: {exc}") from None
        self._conn = conn
        return conn


def _login(conn: smtplib.SMTP, user: str, password: str) -> None:
    if (user + password).isascii():
        conn.login(user, password)
        return
    # smtplib encodes credentials as ASCII (a Chinese password raises UnicodeEncodeError);
    # AUTH PLAIN is UTF-8 by definition (RFC 4616), so send it ourselves.
    if not conn.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    if "PLAIN" not in conn.esmtp_features["auth"].upper().split():
        raise SendAborted("用户名或密码含非 ASCII 字符，只能用 AUTH PLAIN 登录，而服务器不支持 AUTH PLAIN")
    token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")).decode("ascii")
    code, reply = conn.docmd("AUTH", "PLAIN " + token)
    if code not in (235, 503):  # 503: already authenticated
        raise smtplib.SMTPAuthenticationError(code, reply)


def _close(conn: smtplib.SMTP | None) -> None:
    if conn is not None:
        try:
            conn.close()
        except OSError:
            pass


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
