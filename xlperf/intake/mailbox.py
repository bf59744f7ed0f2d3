"""The watched IMAP folder: which messages wait, their bytes, and marking one processed.

A message is processed once its records are committed in the ledger; it is then moved to the
folder ``已处理`` (created when missing, under the server's personal namespace; imapclient writes
the name in modified UTF-7), or, on a server without MOVE (RFC 6851), copied there and given the
keyword ``$XlperfProcessed`` so the next pass leaves it. The ledger also knows every message by
Message-ID and content, so a crash between the commit and the move never processes it twice.

Messages are fetched with ``BODY.PEEK[]``: the clerk still sees them unread in a mail client.
Every server error becomes :class:`MailboxError`: ``permanent`` when trying again cannot help
(login refused, certificate not trusted), else the watcher reconnects on its next pass.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError

from xlperf.intake.imapconf import ImapConfig

PROCESSED_FOLDER = "已处理"
PROCESSED_KEYWORD = "$XlperfProcessed"
MAX_MESSAGE = 100 << 20
"""Bytes of a message fetched at most: base64 makes a 50 MB attachment (the guard's limit for
any file) about 68 MB; anything larger is recorded from its header alone."""

__all__ = ["MAX_MESSAGE", "PROCESSED_FOLDER", "PROCESSED_KEYWORD", "Mailbox", "MailboxError", "Waiting"]


class MailboxError(Exception):
    """The mailbox cannot be used now (Chinese message naming the server)."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class Waiting:
    uid: int
    size: int
    """RFC822.SIZE as the server states it."""


class Mailbox:
    """One IMAP session on the watched folder; a context manager (logs out on exit)."""

    def __init__(self, config: ImapConfig, *, processed: str = PROCESSED_FOLDER, use_move: bool | None = None,
                 connect: Callable[..., IMAPClient] = IMAPClient) -> None:
        """``use_move`` forces (True) or forbids (False) MOVE; by default the server's capability
        decides. ``connect`` makes the client (the class itself, unless a test wraps it)."""
        self.config = config
        self.processed_name = processed
        self._use_move = use_move
        self._connect = connect
        self._client: IMAPClient | None = None
        self.processed = processed
        self.moves = False

    def __enter__(self) -> Mailbox:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise MailboxError("尚未连接收件服务器")
        return self._client

    def open(self) -> None:
        """Connect (TLS as configured, certificate verified), log in, make sure the processed
        folder exists and select the watched folder."""
        cfg = self.config
        with self._errors("连接"):
            client = self._connect(cfg.host, cfg.port, ssl=cfg.tls == "ssl",
                                   ssl_context=cfg.ssl_context() if cfg.tls == "ssl" else None,
                                   timeout=cfg.timeout)
            self._client = client
            if cfg.tls == "starttls":
                if not client.has_capability("STARTTLS"):
                    raise MailboxError(f"收件服务器 {cfg.where} 不支持 STARTTLS：请改用 --tls ssl 或核对端口",
                                       permanent=True)
                client.starttls(cfg.ssl_context())
            if (cfg.username + cfg.password).isascii():
                client.login(cfg.username, cfg.password)
            else:  # LOGIN quotes ASCII only; AUTHENTICATE PLAIN is UTF-8 (RFC 4616)
                client.plain_login(cfg.username, cfg.password)
            self.moves = client.has_capability("MOVE") if self._use_move is None else self._use_move
            self.processed = self._processed_folder(client)
            if self.processed == cfg.folder:
                raise MailboxError(f"监视的文件夹不能是“{self.processed_name}”本身：请另选 --folder", permanent=True)
            if not client.folder_exists(cfg.folder):
                raise MailboxError(f"收件服务器 {cfg.where} 上没有文件夹“{cfg.folder}”：请核对 --folder", permanent=True)
            client.select_folder(cfg.folder)

    def close(self) -> None:
        """Log out; a session the server already dropped is just closed."""
        client = self._client
        if client is None:
            return
        try:
            client.logout()
            self._client = None
        except (IMAPClientError, OSError):
            self._abandon()

    def _abandon(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.shutdown()
            except (IMAPClientError, OSError):
                pass

    def waiting(self) -> list[Waiting]:
        """Messages of the watched folder not yet processed, oldest (lowest UID) first."""
        with self._errors("查询新邮件"):
            # NOOP first: a server need not show messages delivered since the last command of
            # this session until it is asked to sync (Dovecot answers SEARCH from its old view).
            self.client.noop()
            uids = sorted(self.client.search(["NOT", "KEYWORD", PROCESSED_KEYWORD]))
            if not uids:
                return []
            sizes = self.client.fetch(uids, ["RFC822.SIZE"])
        return [Waiting(uid, int(sizes[uid].get(b"RFC822.SIZE", 0))) for uid in uids if uid in sizes]

    def fetch(self, uid: int, *, header_only: bool = False) -> bytes | None:
        """The message's bytes (only its header when ``header_only``); None when it has gone
        (moved or deleted by a clerk meanwhile)."""
        key = b"BODY[HEADER]" if header_only else b"BODY[]"
        with self._errors("读取邮件"):
            found = self.client.fetch([uid], ["BODY.PEEK[HEADER]" if header_only else "BODY.PEEK[]"])
        data = found.get(uid, {}).get(key)
        return bytes(data) if data is not None else None

    def mark_processed(self, uid: int) -> None:
        """Move the message to the processed folder, or copy it there and flag it."""
        with self._errors("移动邮件"):
            if self.moves:
                self.client.move([uid], self.processed)
            else:
                self.client.copy([uid], self.processed)
                self.client.add_flags([uid], [PROCESSED_KEYWORD], silent=True)

    def _processed_folder(self, client: IMAPClient) -> str:
        """The processed folder's full name, created (and subscribed) when missing; under the
        personal namespace's prefix where the server has one (``INBOX.`` on some servers)."""
        name = self.processed_name
        try:
            personal = client.namespace().personal
        except IMAPClientError:
            personal = None
        if personal:
            prefix = _text(personal[0][0])
            if prefix and not name.startswith(prefix):
                name = prefix + name
        if not client.folder_exists(name):
            client.create_folder(name)
            try:
                client.subscribe_folder(name)  # so that mail clients show it
            except IMAPClientError:
                pass
        return name

    @contextmanager
    def _errors(self, doing: str) -> Iterator[None]:
        where = self.config.where
        try:
            yield
        except MailboxError:
            raise
        except LoginError as exc:
            raise MailboxError(f"登录收件服务器 {where} 失败（{_text(exc)}）：请核对用户名和密码", permanent=True) from None
        except ssl.SSLCertVerificationError as exc:
            raise MailboxError(f"收件服务器 {where} 的证书未通过验证（{exc.verify_message}）："
                               "请核对主机名，或在配置文件 [imap] 节用 cafile 指定单位自建 CA 的证书",
                               permanent=True) from None
        except (TimeoutError, IMAPClientError, OSError, EOFError) as exc:
            # Dropped connections, timeouts, a server restart, BYE: the next pass reconnects.
            self._abandon()
            raise MailboxError(f"{doing}时与收件服务器 {where} 的连接出错（{type(exc).__name__}: {_text(exc)}）") from None


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)
