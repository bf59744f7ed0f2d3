"""What a received message holds: sender, Message-ID, subject, thread headers and attachments.

Parsed with the standard ``email`` package (``policy.default``) for the structure. Names and
subjects are decoded here from the raw header text, because Chinese mail clients send them in
every form there is and the package's own decoding loses some of them:

- RFC 2047 encoded words (``=?GBK?B?...?=``), also inside a quoted ``filename`` (not allowed by
  the RFC, but what Outlook and Foxmail send);
- RFC 2231 parameters (``filename*=GBK''%D7%D4...``), also split into continuations in the middle
  of a two-byte character (joined as octets before decoding, as the RFC says);
- raw 8-bit GBK or UTF-8 bytes in a header (no encoding at all);
- GB2312 as the label of text that is really GBK or GB18030: every GB charset is decoded as
  GB18030, their superset.

:func:`parse_message` never raises: what cannot be read ends in :attr:`ParsedMessage.problems`.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.utils import getaddresses, parseaddr, parsedate_to_datetime

__all__ = ["Attachment", "ParsedMessage", "decode_words", "parse_message"]

_GB = {"gb2312", "gbk", "x-gbk", "cp936", "ms936", "gb_2312-80", "euc-cn", "csgb2312", "chinese", "gb18030"}
_MSGID = re.compile(r"<[^<>\s]+>")
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f\\/:*?"<>|]')
MAX_NAME = 200
AUTO_SENDERS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply")


@dataclass(frozen=True)
class Attachment:
    name: str
    """Decoded, without any folder part, safe as a file name on Windows too."""
    data: bytes = field(repr=False)
    content_type: str = "application/octet-stream"


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str
    """``<...>`` as the sender's client wrote it; for a message without one, made from the
    SHA-256 of its bytes so that the same message is still known again."""
    digest: str
    """SHA-256 of the message's bytes."""
    sender: str
    """The From address (``""`` when there is none that can be read)."""
    sender_name: str = ""
    subject: str = ""
    date: dt.datetime | None = None
    in_reply_to: str = ""
    references: tuple[str, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    automatic: bool = False
    """An auto-reply, bounce or list mail (RFC 3834 Auto-Submitted, Precedence, a multipart/report,
    MAILER-DAEMON): never answered, or two robots would mail each other forever."""
    problems: tuple[str, ...] = ()
    """What could not be read, in Chinese for the clerk."""

    @property
    def thread(self) -> tuple[str, ...]:
        """The References of a reply to this message: its own, then its Message-ID (RFC 5322)."""
        refs = [r for r in self.references if r != self.message_id]
        return (*refs[-10:], self.message_id)  # the newest ten are enough to keep a thread


def parse_message(raw: bytes) -> ParsedMessage:
    """Everything of ``raw`` that the intake needs; never raises."""
    digest = hashlib.sha256(raw).hexdigest()
    fallback_id = f"<{digest}@xlperf.invalid>"
    try:
        msg = BytesParser(policy=policy.default).parsebytes(raw)
    except Exception as exc:  # noqa: BLE001 - a message no parser reads must still be recorded
        return ParsedMessage(fallback_id, digest, "", problems=(f"邮件无法解析（{type(exc).__name__}），已留待人工处理",))
    problems: list[str] = []
    headers = _raw_headers(msg)
    name, address = _sender(headers.get("from", ""))
    message_id = _first_id(headers.get("message-id", "")) or fallback_id
    attachments = _attachments(msg, problems)
    if msg.defects and not attachments:
        kinds = "、".join(sorted({type(d).__name__ for d in msg.defects}))
        problems.append(f"邮件结构有误（{kinds}），未找到可读取的附件")
    return ParsedMessage(
        message_id=message_id, digest=digest, sender=address, sender_name=name,
        subject=decode_words(headers.get("subject", "")).strip(),
        date=_date(headers.get("date", "")),
        in_reply_to=_first_id(headers.get("in-reply-to", "")),
        references=tuple(_MSGID.findall(headers.get("references", ""))),
        attachments=tuple(attachments), automatic=_automatic(msg, headers, address),
        problems=tuple(problems),
    )


def decode_words(raw: str) -> str:
    """A header text decoded: RFC 2047 encoded words and raw 8-bit bytes, GB charsets as GB18030."""
    text = _eight_bit(re.sub(r"\r?\n(?=[ \t])", "", raw))  # unfolded, 8-bit bytes decoded
    if "=?" not in text:
        return text
    try:
        chunks = decode_header(text)
    except Exception:  # noqa: BLE001 - a broken encoded word is left as it was written
        return text
    out = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        elif charset is None:  # text between encoded words, which decode_header escapes so
            out.append(chunk.decode("raw-unicode-escape"))
        else:
            out.append(_decode_bytes(chunk, charset))
    return "".join(out)


# -- headers ------------------------------------------------------------------------------------
def _raw_headers(part: Message) -> dict[str, str]:
    """The first raw value of each header by lower-case name (surrogate-escaped 8-bit kept)."""
    found: dict[str, str] = {}
    for key, value in part.raw_items():
        found.setdefault(key.lower(), str(value))
    return found


def _sender(raw: str) -> tuple[str, str]:
    try:
        pairs = getaddresses([raw])
    except Exception:  # noqa: BLE001
        pairs = [parseaddr(raw)]
    name, address = pairs[0] if pairs else ("", "")
    address = address.strip()
    if "@" not in address or not address.isascii() or any(c.isspace() for c in address):
        address = ""
    return decode_words(name).strip(), address


def _first_id(raw: str) -> str:
    match = _MSGID.search(raw)
    if match and match.group().isascii():
        return match.group()[:250]
    text = raw.strip()
    return f"<{text[:248]}>" if text and text.isascii() and " " not in text else ""


def _date(raw: str) -> dt.datetime | None:
    try:
        return parsedate_to_datetime(raw.strip()) if raw.strip() else None
    except (TypeError, ValueError, IndexError):
        return None


def _automatic(msg: EmailMessage, headers: dict[str, str], address: str) -> bool:
    if headers.get("auto-submitted", "no").strip().lower().split(";")[0] not in ("", "no"):
        return True
    if headers.get("precedence", "").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if any(k in headers for k in ("x-autoreply", "x-autorespond", "list-id")):
        return True
    if msg.get_content_type() == "multipart/report":
        return True
    return address.partition("@")[0].lower() in AUTO_SENDERS


# -- attachments --------------------------------------------------------------------------------
def _attachments(msg: EmailMessage, problems: list[str]) -> list[Attachment]:
    found: list[Attachment] = []
    for part in msg.walk():
        if part.is_multipart():
            continue  # also message/rfc822: walk() goes on into the forwarded message
        try:
            attachment = _attachment(part, len(found) + 1, problems)
        except Exception as exc:  # noqa: BLE001 - one bad part must not lose the others
            problems.append(f"邮件中有一个附件无法读取（{type(exc).__name__}）")
            continue
        if attachment is not None:
            found.append(attachment)
    return found


def _attachment(part: Message, number: int, problems: list[str]) -> Attachment | None:
    headers = _raw_headers(part)
    disposition = part.get_content_disposition()
    name = _param(headers.get("content-disposition", ""), "filename") or _param(headers.get("content-type", ""), "name")
    ctype = part.get_content_type()
    if name is None:
        if disposition != "attachment" and (part.get_content_maintype() in ("text", "multipart", "message")
                                            or "content-id" in headers):
            return None  # the body, or an image embedded in it (a signature logo)
    elif disposition == "inline" and "content-id" in headers and part.get_content_maintype() == "image":
        return None
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        data = b""
    safe = _safe_name(name) if name else ""
    if not safe:
        # No guess for octet-stream (".bin" would hide that the type is unknown).
        ext = "" if ctype == "application/octet-stream" else mimetypes.guess_extension(ctype) or ""
        safe = f"附件{number}{ext}"
    if part.defects:
        kinds = "、".join(sorted({type(d).__name__ for d in part.defects}))
        problems.append(f"附件“{safe}”的编码有误（{kinds}），内容可能不完整")
    return Attachment(safe, data, ctype)


def _param(raw: str, key: str) -> str | None:
    """Parameter ``key`` of a raw Content-Disposition / Content-Type value, decoded: RFC 2231
    (continuations joined as octets first), else RFC 2047 words or raw 8-bit text."""
    if not raw:
        return None
    holder = Message()  # compat32 keeps the raw text and joins RFC 2231 continuations as octets
    # Raw 8-bit text decoded first: compat32 would turn the surrogate escapes into U+FFFD.
    holder["X"] = _eight_bit(raw)
    value = holder.get_param(key, header="x")
    if value is None:
        return None
    if isinstance(value, tuple):
        charset, _, text = value
        try:
            octets = text.encode("latin-1", "surrogateescape")
        except UnicodeEncodeError:
            return text
        return _decode_bytes(octets, charset)
    return decode_words(str(value))


def _safe_name(name: str) -> str:
    base = re.split(r"[\\/]", name.strip())[-1]
    base = _UNSAFE_NAME.sub("_", base).strip(" .")
    if len(base) > MAX_NAME:
        stem, dot, ext = base.rpartition(".")
        base = (stem[:MAX_NAME - len(ext) - 1] + "." + ext) if dot and len(ext) < 10 else base[:MAX_NAME]
    return base


# -- charsets -----------------------------------------------------------------------------------
def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    label = charset.strip().strip('"').lower()
    if label in _GB:
        return "gb18030"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _decode_bytes(data: bytes, charset: str | None) -> str:
    codec = _codec(charset)
    tried = [c for c in (codec, "utf-8", "gb18030") if c]
    for name in dict.fromkeys(tried):
        try:
            return data.decode(name)
        except UnicodeDecodeError:
            continue
    return data.decode("gb18030", "replace")


def _eight_bit(text: str) -> str:
    """Text holding raw 8-bit bytes as surrogate escapes (what the parser does with them):
    decoded as UTF-8 if they are, else as GB18030 (what Chinese Windows clients send)."""
    if not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return _decode_bytes(text.encode("utf-8", "surrogateescape"), None)
