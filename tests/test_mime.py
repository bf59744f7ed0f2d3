"""What the mail intake reads from a message: attachment names and subjects in every encoding
Chinese mail clients use, zip attachments under the guard's limits, and malformed messages that
end as problems, never as exceptions. Messages are written byte by byte as those clients send
them (the email package would encode them its own way)."""

from __future__ import annotations

import base64
import io
import urllib.parse
import zipfile

import pytest

from xlperf.intake.archive import is_zip_name, member_name, unpack_zip
from xlperf.intake.mime import decode_words, parse_message

NAME = "自评表_东湖区科技局（镕）.xlsx"  # 镕 is GBK, not GB2312
SUBJECT = "报送2024年度绩效自评表（东湖区科技局）"


def raw_message(disposition: bytes, *, subject: bytes | None = None, body: bytes = b"UEsDBA==",
                extra: bytes = b"") -> bytes:
    subject = subject if subject is not None else b"=?GB2312?B?" + base64.b64encode(SUBJECT.encode("gb18030")) + b"?="
    return (b"From: =?GBK?B?" + base64.b64encode("张明".encode("gbk")) + b"?= <Donghu@Example.gov.cn>\r\n"
            b"To: czj@example.gov.cn\r\nSubject: " + subject + b"\r\nMessage-ID: <a1@mail.example.gov.cn>\r\n"
            b"In-Reply-To: <r0@czj>\r\nReferences: <r-1@czj>\r\n <r0@czj>\r\n" + extra +
            b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n"
            b"--XX\r\nContent-Type: text/plain; charset=GBK\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + base64.b64encode("请查收".encode("gbk")) + b"\r\n"
            b"--XX\r\nContent-Type: application/octet-stream\r\nContent-Disposition: " + disposition +
            b"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + body + b"\r\n--XX--\r\n")


GBK = NAME.encode("gb18030")
DISPOSITIONS = {
    "RFC 2047 in a quoted name (Outlook, Foxmail)":
        b'attachment; filename="=?GBK?B?' + base64.b64encode(GBK) + b'?="',
    "RFC 2047 labelled GB2312 holding GBK":
        b'attachment; filename="=?gb2312?B?' + base64.b64encode(GBK) + b'?="',
    "RFC 2047 split into two words mid-character":
        b'attachment; filename="=?GBK?B?' + base64.b64encode(GBK[:9]) + b'?= =?GBK?B?' + base64.b64encode(GBK[9:]) + b'?="',
    "RFC 2231 GBK":
        b"attachment; filename*=GBK''" + urllib.parse.quote(GBK).encode(),
    "RFC 2231 continuations cut inside a character":
        b"attachment;\r\n filename*0*=GB18030''" + urllib.parse.quote(GBK[:11]).encode() +
        b";\r\n filename*1*=" + urllib.parse.quote(GBK[11:]).encode(),
    "raw 8-bit GBK": b'attachment; filename="' + GBK + b'"',
    "raw 8-bit UTF-8": b'attachment; filename="' + NAME.encode() + b'"',
    "RFC 2231 UTF-8 (Gmail, the email package)":
        b"attachment; filename*=utf-8''" + urllib.parse.quote(NAME.encode()).encode(),
}


@pytest.mark.parametrize("disposition", DISPOSITIONS.values(), ids=DISPOSITIONS.keys())
def test_attachment_names_and_subjects_are_decoded(disposition: bytes) -> None:
    parsed = parse_message(raw_message(disposition))
    assert [a.name for a in parsed.attachments] == [NAME]
    assert parsed.attachments[0].data == b"PK\x03\x04"
    assert parsed.subject == SUBJECT
    assert (parsed.sender, parsed.sender_name) == ("Donghu@Example.gov.cn", "张明")
    assert parsed.message_id == "<a1@mail.example.gov.cn>" and parsed.in_reply_to == "<r0@czj>"
    assert parsed.thread == ("<r-1@czj>", "<r0@czj>", "<a1@mail.example.gov.cn>")
    assert parsed.problems == () and not parsed.automatic


def test_name_in_content_type_only_and_no_name_at_all() -> None:
    raw = raw_message(b"attachment").replace(
        b"Content-Type: application/octet-stream", b'Content-Type: application/vnd.ms-excel; name="=?GBK?B?'
        + base64.b64encode(GBK) + b'?="')
    assert [a.name for a in parse_message(raw).attachments] == [NAME]
    assert [a.name for a in parse_message(raw_message(b"attachment")).attachments] == ["附件1"]


def test_raw_subject_and_folder_parts_of_names() -> None:
    parsed = parse_message(raw_message(b'attachment; filename="C:\\\\Users\\\\a\\\\' + GBK + b'"',
                                       subject=SUBJECT.encode("gb18030")))
    assert parsed.subject == SUBJECT
    assert [a.name for a in parsed.attachments] == [NAME]


def test_embedded_signature_image_is_not_an_attachment() -> None:
    raw = raw_message(b'inline; filename="image001.png"').replace(
        b"Content-Type: application/octet-stream", b"Content-Type: image/png\r\nContent-ID: <logo>")
    assert parse_message(raw).attachments == ()


def test_forwarded_message_attachments_are_found() -> None:
    inner = raw_message(b"attachment; filename*=GBK''" + urllib.parse.quote(GBK).encode())
    outer = (b"From: a@example.gov.cn\r\nSubject: Fw\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=YY\r\n\r\n--YY\r\nContent-Type: text/plain\r\n\r\nfw\r\n"
             b"--YY\r\nContent-Type: message/rfc822\r\n\r\n" + inner + b"\r\n--YY--\r\n")
    assert [a.name for a in parse_message(outer).attachments] == [NAME]


@pytest.mark.parametrize("extra", [b"Auto-Submitted: auto-replied\r\n", b"Precedence: bulk\r\n",
                                   b"X-Autoreply: yes\r\n"])
def test_automatic_messages_are_recognised(extra: bytes) -> None:
    assert parse_message(raw_message(b"attachment", extra=extra)).automatic
    assert not parse_message(raw_message(b"attachment", extra=b"Auto-Submitted: no\r\n")).automatic


@pytest.mark.parametrize("raw", [
    b"",
    b"\x00\xff\xfe garbage",
    b"From: a@b.cn\r\nContent-Type: multipart/mixed\r\n\r\nno boundary at all",
    b"From: \r\nMessage-ID: \r\nDate: yesterday\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n--Q\r\n"
    b"Content-Disposition: attachment; filename*=x-unknown''%FF%FE\r\nContent-Transfer-Encoding: base64\r\n\r\n@@@\r\n",
    raw_message(b"attachment; filename=\"=?GBK?B?not-base64!?=\""),
])
def test_malformed_messages_never_raise(raw: bytes) -> None:
    parsed = parse_message(raw)
    assert parsed.message_id.startswith("<") and parsed.digest
    assert parse_message(raw).message_id == parsed.message_id  # the same message is known again
    for attachment in parsed.attachments:
        assert attachment.name and "/" not in attachment.name


def test_message_without_id_gets_one_from_its_content() -> None:
    raw = raw_message(b"attachment").replace(b"Message-ID: <a1@mail.example.gov.cn>\r\n", b"")
    parsed = parse_message(raw)
    assert parsed.message_id == f"<{parsed.digest}@xlperf.invalid>"
    assert parse_message(raw + b"x").message_id != parsed.message_id


def test_decode_words_keeps_plain_text() -> None:
    assert decode_words("报送 =?utf-8?b?" + base64.b64encode("自评表".encode()).decode() + "?= ok") == "报送 自评表 ok"
    assert decode_words("plain ascii") == "plain ascii"


# ---------------------------------------------------------------- zip attachments


def zip_bytes(members: dict[str, bytes], *, utf8_flag: bool) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    data = buffer.getvalue()
    if utf8_flag:
        return data
    # Rewrite as Windows' "send to compressed folder" does on Chinese Windows: GBK names, no flag.
    for name in members:
        data = data.replace(name.encode("utf-8"), name.encode("gbk").ljust(len(name.encode("utf-8")), b"_"))
    return data.replace(b"\x00\x08", b"\x00\x00")  # clear bit 11 of the general purpose flags


def test_zip_members_with_gbk_names_are_unpacked() -> None:
    data = zip_bytes({"报表/自评表.xlsx": b"PK-one", "报表/申报表.xlsx": b"PK-two"}, utf8_flag=False)
    assert is_zip_name("报表.ZIP") and not is_zip_name("自评表.xlsx")
    unpacked = unpack_zip("报表.zip", data)
    assert not unpacked.refused
    names = [(m.name, m.data) for m in unpacked.members]
    assert [(n.rstrip("_"), d) for n, d in names] == [("自评表.xlsx", b"PK-one"), ("申报表.xlsx", b"PK-two")]
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert all(not i.flag_bits & 0x800 for i in zf.infolist())
        assert member_name(zf.infolist()[0]).startswith("报表/自评表")


def test_zip_with_utf8_names_and_mac_metadata() -> None:
    unpacked = unpack_zip("r.zip", zip_bytes({"自评表.xlsx": b"a", "__MACOSX/._自评表.xlsx": b"b"}, utf8_flag=True))
    assert [m.name for m in unpacked.members] == ["自评表.xlsx"]
    assert [path for path, _ in unpacked.skipped] == ["__MACOSX/._自评表.xlsx"]


def test_zip_bomb_and_broken_zip_are_refused_with_the_reason() -> None:
    bomb = zip_bytes({"a.xlsx": b"\0" * (300 << 20)}, utf8_flag=True)
    unpacked = unpack_zip("炸弹.zip", bomb)
    assert unpacked.members == () and unpacked.code == "ZIP_BOMB" and "炸弹.zip" in unpacked.refused
    broken = unpack_zip("坏.zip", zip_bytes({"a.xlsx": b"x" * 1000}, utf8_flag=True)[:-30])
    assert broken.code == "FILE_CORRUPT" and "坏.zip" in broken.refused
