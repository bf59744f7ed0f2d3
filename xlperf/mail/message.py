"""The one place where a message xlperf sends gets its headers: reports (``xlperf mail``, ``round
mail``), replies to a unit's mail and reminders are all made by :func:`new_message`.

Header text comes from rosters and returns (a unit's name, a contact typed with Alt+Enter, a file
name): :func:`header_text` turns line breaks and other control characters into spaces and
shortens it, and :func:`mailbox` refuses an address that is not one, with a Chinese message
naming it. So no roster cell or return can add a header, and one unit's bad data is an error for
that unit's message only (its caller records it and goes on with the others).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from typing import Protocol

from xlperf import __version__

__all__ = ["BadAddress", "Original", "addressees", "header_text", "mailbox", "name_list", "new_message",
           "recipients", "set_text"]

SUBJECT_CHARS = 160
"""A subject longer than this is cut (with "…"): clients show about 80 characters anyway."""
NAME_CHARS = 100
_CONTROL = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]+")
_ADDRESS = re.compile(r"[^@\s<>(),;:\"\[\]\\]+@[^@\s<>(),;:\"\[\]\\]+\.[^@\s<>(),;:\"\[\]\\]+")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,250}>")


class BadAddress(ValueError):
    """An address that cannot be written into a header (message in Chinese, naming it)."""


class Original(Protocol):
    """The message answered: a :class:`~xlperf.intake.mime.ParsedMessage`, or what the ledger
    kept of it."""

    @property
    def sender(self) -> str: ...

    @property
    def sender_name(self) -> str: ...

    @property
    def message_id(self) -> str: ...

    @property
    def thread(self) -> tuple[str, ...]: ...


class Addressed(Protocol):
    """A roster unit, as far as a message needs it."""

    @property
    def name(self) -> str: ...

    @property
    def contact(self) -> str: ...

    @property
    def addresses(self) -> tuple[str, ...] | list[str]: ...


def header_text(value: str, limit: int = NAME_CHARS) -> str:
    """``value`` as one line of at most ``limit`` characters: line breaks, tabs and other control
    characters become one space ("张明⏎李华" → "张明 李华")."""
    text = " ".join(_CONTROL.sub(" ", str(value)).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def name_list(names: Sequence[str], shown: int = 3) -> str:
    """"a、b、c等 12 个文件": a subject stays short however many files a message brought (the
    body lists every file)."""
    parts = [header_text(n, 60) for n in names[:shown]]
    more = f"等 {len(names)} 个文件" if len(names) > shown else ""
    return "、".join(parts) + more


def mailbox(name: str, address: str) -> Address:
    """``name <address>`` for a header; :class:`BadAddress` when ``address`` is not one."""
    addr = str(address).strip()
    if not _ADDRESS.fullmatch(addr) or not addr.isprintable():
        raise BadAddress(f"邮箱“{header_text(addr, 60)}”格式不正确，无法发送：请在单位名单中改正")
    try:
        return Address(display_name=header_text(name), addr_spec=addr)
    except (ValueError, IndexError, HeaderParseError) as exc:
        raise BadAddress(f"邮箱“{header_text(addr, 60)}”无法写入邮件（{exc}）：请在单位名单中改正") from None


def addressees(unit: Addressed, original: Original | None = None) -> tuple[list[Address], list[Address]]:
    """(To, Cc): the unit's roster addresses; for a reply, the sender of ``original``, and the
    unit's other roster addresses in copy."""
    contact = unit.contact or unit.name
    if original is None:
        return [mailbox(contact, a) for a in unit.addresses], []
    to = [mailbox(original.sender_name, original.sender)]
    cc = [mailbox(contact, a) for a in unit.addresses if a.casefold() != original.sender.casefold()]
    return to, cc


def new_message(*, subject: str, sender: str, to: Sequence[Address], now: dt.datetime,
                cc: Sequence[Address] = (), original: Original | None = None) -> EmailMessage:
    """A message with every header xlperf sends (body and attachments are the caller's).

    ``sender`` is the From header (``name <addr>`` or ``addr``, checked by
    :func:`xlperf.mail.sender_address`); ``now`` (aware) the Date. ``original``: the message
    answered (In-Reply-To and References, so the unit's client shows it in their thread).
    """
    if not to:
        raise BadAddress("没有收件人：请在单位名单中补充邮箱")
    msg = EmailMessage()
    msg["Subject"] = header_text(subject, SUBJECT_CHARS)
    msg["From"] = header_text(sender, 300)
    msg["To"] = list(to)
    if cc:
        msg["Cc"] = list(cc)
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = make_msgid(domain=_domain(sender))
    # RFC 3834: out-of-office replies to a mass mailing, or to an automatic answer, would only
    # flood the finance office.
    msg["Auto-Submitted"] = "auto-replied" if original is not None else "auto-generated"
    msg["X-Mailer"] = f"xlperf {__version__}"
    if original is not None:
        own = _MESSAGE_ID.findall(original.message_id or "")
        if own:
            msg["In-Reply-To"] = own[0]
        thread = [m for ref in original.thread for m in _MESSAGE_ID.findall(ref)]
        if thread:
            msg["References"] = " ".join(thread[-20:])
    return msg


def set_text(msg: EmailMessage, text: str) -> None:
    """The plain-text body, base64: Chinese in 8bit needs 8BITMIME on every relay."""
    msg.set_content(text, cte="base64")


def recipients(msg: EmailMessage) -> list[str]:
    """Every address a message goes to (To and Cc)."""
    return [a.addr_spec for key in ("To", "Cc") for header in msg.get_all(key, []) for a in header.addresses]


def _domain(sender: str) -> str:
    """The sender's domain for the Message-ID (make_msgid's default asks DNS for this host's name)."""
    address = parseaddr(sender)[1]
    domain = address.rpartition("@")[2]
    return domain if domain and _ADDRESS.fullmatch(f"x@{domain}") else "localhost"
