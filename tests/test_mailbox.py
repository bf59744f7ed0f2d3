"""The IMAP side of the mail intake against a real Dovecot on loopback (see tests/servers.py):
listing, fetching without marking read, moving to 已处理 (created, modified UTF-7), the flag used
when MOVE is not used, TLS with certificate verification, a dropped connection, and the settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path

import pytest
from servers import Dovecot, make_certificate

from xlperf.intake.imapconf import (
    PASSWORD_ENV,
    USER_ENV,
    ImapConfig,
    imap_config,
    read_imap_section,
)
from xlperf.intake.mailbox import PROCESSED_FOLDER, PROCESSED_KEYWORD, Mailbox, MailboxError
from xlperf.mail.config import ConfigError

USER, PASSWORD = "czj", "收件-s3cret"
Start = Callable[..., Dovecot]


def message(n: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "donghu@example.gov.cn"
    msg["To"] = "czj@example.gov.cn"
    msg["Subject"] = f"报送 {n}"
    msg["Message-ID"] = f"<m{n}@example.gov.cn>"
    msg.set_content(f"第 {n} 封")
    return msg.as_bytes()


def config(server: Dovecot, **kwargs: object) -> ImapConfig:
    settings: dict[str, object] = {"host": "127.0.0.1", "port": server.port, "tls": "none", "username": USER,
                                   "password": PASSWORD, **kwargs}
    return ImapConfig(**settings)  # type: ignore[arg-type]


def test_waiting_messages_are_fetched_unread_and_moved_to_processed(dovecot: Start) -> None:
    server = dovecot({USER: PASSWORD})
    for n in range(3):
        server.append(USER, message(n))
    with Mailbox(config(server)) as box:
        assert box.moves
        waiting = box.waiting()
        assert [w.size for w in waiting] == [len(message(n).replace(b"\n", b"\r\n")) for n in range(3)]
        first = box.fetch(waiting[0].uid)
        assert first is not None and b"<m0@example.gov.cn>" in first
        box.mark_processed(waiting[0].uid)
        assert [w.uid for w in box.waiting()] == [w.uid for w in waiting[1:]]
        assert box.fetch(waiting[0].uid) is None  # gone from the watched folder
    assert PROCESSED_FOLDER in server.folders(USER)
    moved = server.messages(USER, PROCESSED_FOLDER)
    assert len(moved) == 1 and b"<m0@example.gov.cn>" in moved[0]
    assert len(server.messages(USER)) == 2
    client = server.imap(USER)
    client.select('"&XfJZBHQG-"', readonly=True)  # 已处理 in modified UTF-7, written independently
    _, flags = client.fetch("1", "(FLAGS)")
    client.logout()
    assert b"\\Seen" not in flags[0]  # the clerk still sees it unread


def test_message_delivered_during_the_session_is_seen_on_the_next_look(dovecot: Start) -> None:
    server = dovecot({USER: PASSWORD})
    with Mailbox(config(server)) as box:
        assert box.waiting() == []
        server.append(USER, message(7))  # delivered by another session while this one is open
        assert len(box.waiting()) == 1


def test_without_move_the_message_is_copied_and_flagged(dovecot: Start) -> None:
    server = dovecot({USER: PASSWORD})
    server.append(USER, message(1))
    server.append(USER, message(2))
    with Mailbox(config(server), use_move=False) as box:
        first, second = box.waiting()
        box.mark_processed(first.uid)
        assert box.waiting() == [second]
    with Mailbox(config(server), use_move=False) as box:  # a new session sees the flag too
        assert box.waiting() == [second]
    assert len(server.messages(USER)) == 2 and len(server.messages(USER, PROCESSED_FOLDER)) == 1
    client = server.imap(USER)
    client.select("INBOX", readonly=True)
    _, flags = client.fetch("1", "(FLAGS)")
    client.logout()
    assert PROCESSED_KEYWORD.encode() in flags[0]


def test_processed_folder_is_created_once(dovecot: Start) -> None:
    server = dovecot({USER: PASSWORD})
    for _ in range(2):
        with Mailbox(config(server)):
            pass
    assert server.folders(USER).count(PROCESSED_FOLDER) == 1


def test_dropped_connection_is_a_temporary_error_and_reconnecting_works(dovecot: Start) -> None:
    server = dovecot({USER: PASSWORD})
    server.append(USER, message(1))
    box = Mailbox(config(server))
    box.open()
    server.restart()  # every session is cut
    with pytest.raises(MailboxError) as raised:
        box.waiting()
    assert not raised.value.permanent and "127.0.0.1" in str(raised.value)
    box.close()
    box.open()
    assert len(box.waiting()) == 1
    box.close()
    server.stop()
    with pytest.raises(MailboxError) as raised:
        box.open()
    assert not raised.value.permanent


def test_wrong_password_and_missing_folder_are_permanent(dovecot: Start) -> None:
    server = dovecot({USER: PASSWORD})
    with pytest.raises(MailboxError) as raised:
        Mailbox(config(server, password="wrong")).open()
    assert raised.value.permanent and "用户名和密码" in str(raised.value)
    with pytest.raises(MailboxError) as raised:
        Mailbox(config(server, folder="报表")).open()
    assert raised.value.permanent and "报表" in str(raised.value)


@pytest.mark.parametrize("mode", ["ssl", "starttls"])
def test_tls_verifies_the_certificate(mode: str, dovecot: Start, tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    os.chmod(key, 0o644)  # Dovecot's master reads it as root; fine for a throwaway key
    server = dovecot({USER: PASSWORD}, cert=(cert, key))
    server.append(USER, message(1))
    port = server.ssl_port if mode == "ssl" else server.port
    with Mailbox(config(server, tls=mode, port=port, cafile=cert)) as box:
        assert len(box.waiting()) == 1
    with pytest.raises(MailboxError) as raised:  # the system's CAs do not know this certificate
        Mailbox(config(server, tls=mode, port=port)).open()
    assert raised.value.permanent and "证书" in str(raised.value)


def test_settings_come_from_options_environment_and_private_file(tmp_path: Path) -> None:
    env = {USER_ENV: "czj", PASSWORD_ENV: "pw"}
    cfg = imap_config("imap.example.gov.cn", None, None, {}, env)
    assert (cfg.host, cfg.port, cfg.tls, cfg.folder, cfg.username) == ("imap.example.gov.cn", 993, "ssl", "INBOX", "czj")
    assert imap_config("127.0.0.1:1143", "none", "报表", {}, env).folder == "报表"
    with pytest.raises(ConfigError, match="不是本机"):
        imap_config("imap.example.gov.cn", "none", None, {}, env)
    with pytest.raises(ConfigError, match=USER_ENV):
        imap_config("imap.example.gov.cn", None, None, {}, {})
    ini = tmp_path / "xlperf.ini"
    ini.write_text("[smtp]\nhost = smtp.example.gov.cn\n[imap]\nhost = imap.example.gov.cn\nport = 143\n"
                   "user = czj\npassword = pw\nfolder = 报表\n", encoding="utf-8")
    ini.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        read_imap_section(ini)
    ini.chmod(0o600)
    cfg = imap_config(None, None, None, read_imap_section(ini), {})
    assert (cfg.host, cfg.port, cfg.tls, cfg.folder, cfg.password) == ("imap.example.gov.cn", 143, "starttls", "报表", "pw")
    ini.write_text("[imap]\nhost = x\nfoler = INBOX\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="foler"):
        read_imap_section(ini)
