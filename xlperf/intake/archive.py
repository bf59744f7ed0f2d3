"""Zip attachments: unpacked in memory under the guard's limits for any file (size, member count,
inflated total, ratio), each member read in chunks against a running total because a zip's
declared sizes can lie.

Member names are stored without a UTF-8 flag by Windows' "send to compressed folder" and by
WinRAR on Chinese Windows: such names are GBK bytes, which :mod:`zipfile` shows as CP437. They
are decoded as UTF-8 when they are valid UTF-8 (some tools omit the flag), else as GB18030.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass, field

from xlperf.read.guard import MAX_BYTES, MiB, UnsafeFile, check_directory, read_member

__all__ = ["MAX_FILES", "Member", "Unpacked", "is_zip_name", "unpack_zip"]

MAX_FILES = 200
"""Files one message or one upload may bring, zip members included (and the members of one zip
taken from a folder). A unit's returns for one round are a handful (one per project); a
department sending for its units, a few dozen. Two hundred leaves room for any real sender,
while a flood (a 1 MB zip of 10,000 one-byte files once made 10,000 submissions, an 86 s pass
and a reply whose subject was 108,894 characters) is refused as a whole, with a reply saying
why, before anything of it is checked."""

_NOISE = ("__MACOSX/",)


@dataclass(frozen=True)
class Member:
    name: str
    """The member's file name (its folder inside the zip dropped), decoded."""
    path: str
    """Its whole path inside the zip, decoded (for the record)."""
    data: bytes = field(repr=False)


@dataclass(frozen=True)
class Unpacked:
    members: tuple[Member, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    """(path inside the zip, why it was left out) of members not taken."""
    refused: str = ""
    """Why the whole archive was not unpacked (Chinese, naming it); empty when it was."""
    code: str = ""
    """The guard's code for :attr:`refused` (ZIP_BOMB, FILE_ENCRYPTED, TOO_MANY_FILES, ...)."""
    inflated: int = 0
    """Bytes inflated (a nested zip's members count against the same limit as the outer's)."""


def is_zip_name(name: str) -> bool:
    """An archive by its name, on every route (an .xlsx is a zip too, and is a return): a file
    named .zip that is no zip is refused as corrupt, with the reason, not checked as a return."""
    return name.lower().endswith(".zip")


def unpack_zip(name: str, data: bytes, room: int = MAX_FILES, inflated: int = 0) -> Unpacked:
    """The members of the zip ``data`` (named ``name``), or why it was refused as a whole: among
    other reasons, when it holds more than ``room`` files. ``inflated``: bytes already inflated
    from the zip this one came out of (one limit for a zip and the zips inside it)."""
    if len(data) > MAX_BYTES:
        return Unpacked(refused=f"压缩包“{name}”大小 {len(data) / MiB:.1f} MB，超过上限 {MAX_BYTES / MiB:g} MB，未解压",
                        code="FILE_TOO_LARGE")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        return Unpacked(refused=f"压缩包“{name}”已损坏或不完整（{exc}），无法解压：请重新压缩后发送", code="FILE_CORRUPT")
    members: list[Member] = []
    skipped: list[tuple[str, str]] = []
    try:
        infos = zf.infolist()
        check_directory(infos, name, None)
        files = sum(1 for i in infos if not i.is_dir() and not member_name(i).startswith(_NOISE))
        if files > room:
            taken = f"，其中 {MAX_FILES - room} 个已被此前的文件占用" if room < MAX_FILES else ""
            return Unpacked(refused=f"压缩包“{name}”中有 {files} 个文件，超过上限（每封邮件、每次上传或每个压缩包"
                            f"最多 {MAX_FILES} 个文件{taken}），未解压、未审核：请分成每次不超过 {MAX_FILES} 个文件重新报送",
                            code="TOO_MANY_FILES")
        total = inflated
        for info in infos:
            path = member_name(info)
            if info.is_dir():
                continue
            content, total = read_member(zf, info, name, None, total)
            if path.startswith(_NOISE):
                skipped.append((path, "macOS 压缩时附带的元数据文件，已忽略"))
                continue
            base = path.rstrip("/").rsplit("/", 1)[-1]
            if not base:
                skipped.append((path, "文件名为空，已忽略"))
                continue
            members.append(Member(base, path, content))
    except UnsafeFile as exc:
        return Unpacked(refused=exc.message, code=exc.code)
    return Unpacked(tuple(members), tuple(skipped), inflated=total)


def member_name(info: zipfile.ZipInfo) -> str:
    """The member's path as its author typed it (see the module docstring); backslashes, which
    some Windows tools write, as slashes."""
    name = info.filename
    if not info.flag_bits & 0x800:
        try:
            raw = name.encode("cp437")
        except UnicodeEncodeError:
            raw = b""
        if raw:
            for codec in ("utf-8", "gb18030"):
                try:
                    name = raw.decode(codec)
                    break
                except UnicodeDecodeError:
                    continue
    return name.replace("\\", "/")
