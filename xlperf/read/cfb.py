"""OLE2 compound files: a legacy ``.xls`` or an encrypted OOXML package (Excel's "password to
open" wraps the zip in an OLE file with ``EncryptionInfo`` and ``EncryptedPackage`` streams). A
minimal reader of the compound-file directory tells them apart; every chain (FAT, mini FAT,
DIFAT) is walked with a bound (the number of sectors in the file) and a record of the sectors
seen, so a chain that loops is refused, never followed."""

from __future__ import annotations

import struct
from pathlib import Path

from xlperf.read.unsafe import FileKind, UnsafeFile, corrupt, encrypted, foreign, truncated

__all__ = ["inspect_ole"]

_FREE = 0xFFFFFFFF
_END = 0xFFFFFFFE


class _Truncated(Exception):
    pass


class _Cfb:
    """Just enough of [MS-CFB] to list stream names and read the head of one stream."""

    def __init__(self, data: bytes) -> None:
        if len(data) < 512:
            raise _Truncated
        self.data = data
        self.sector = 1 << struct.unpack_from("<H", data, 0x1E)[0]
        self.mini = 1 << struct.unpack_from("<H", data, 0x20)[0]
        if self.sector not in (512, 4096) or self.mini != 64:
            raise ValueError("扇区大小无效")
        n_fat, first_dir = struct.unpack_from("<II", data, 0x2C)
        self.cutoff, first_minifat, _, first_difat, n_difat = struct.unpack_from("<IIIII", data, 0x38)
        self.limit = len(data) // self.sector + 2  # no chain can be longer than the file
        fat_sectors = [s for s in struct.unpack_from("<109I", data, 0x4C) if s < _END]
        difat, per = first_difat, self.sector // 4 - 1
        for _ in range(min(n_difat, self.limit)):
            if difat >= _END:
                break
            entries = struct.unpack_from(f"<{per + 1}I", self.read_sector(difat))
            fat_sectors += [s for s in entries[:per] if s < _END]
            difat = entries[per]
        fat = b"".join(self.read_sector(s) for s in fat_sectors[: max(n_fat, 1)])
        self.fat = struct.unpack(f"<{len(fat) // 4}I", fat)
        self.entries = self.read_directory(first_dir)
        self.first_minifat = first_minifat

    def read_sector(self, n: int) -> bytes:
        start = (n + 1) * self.sector
        if start + self.sector > len(self.data):
            raise _Truncated
        return self.data[start : start + self.sector]

    def chain(self, start: int, limit: int | None = None) -> list[int]:
        """The sectors of the FAT chain from ``start`` (its first ``limit`` when given)."""
        return _walk(self.fat, start, self.limit if limit is None else min(limit, self.limit), "扇区链")

    def validate(self) -> None:
        """Walk every chain of the file once: a chain that loops, leaves the table, or shares a
        sector with another is refused (``ValueError``) before any reader follows it."""
        seen: set[int] = set()
        mini_seen: set[int] = set()
        minifat = self.minifat()
        for start in [self.first_minifat, *(e[2] for e in self.entries if e[1] == 5)]:
            _walk(self.fat, start, self.limit, "扇区链", seen)
        for _, kind, start, size in self.entries:
            if kind != 2 or size == 0:
                continue
            if size >= self.cutoff:
                _walk(self.fat, start, self.limit, "扇区链", seen)
            else:
                _walk(minifat, start, len(minifat) + 1, "短扇区链", mini_seen)

    def minifat(self) -> tuple[int, ...]:
        raw = b"".join(self.read_sector(s) for s in self.chain(self.first_minifat))
        return struct.unpack(f"<{len(raw) // 4}I", raw)

    def read_directory(self, first: int) -> list[tuple[str, int, int, int]]:
        """(name, type, start sector, size) of every directory entry."""
        entries = []
        for n in self.chain(first):
            sector = self.read_sector(n)
            for off in range(0, self.sector, 128):
                raw = sector[off : off + 128]
                length = struct.unpack_from("<H", raw, 0x40)[0]
                kind = raw[0x42]
                if kind == 0 or not 2 <= length <= 64:
                    continue
                entry_name = raw[: length - 2].decode("utf-16-le", "replace")
                start, size = struct.unpack_from("<IQ", raw, 0x74)
                if self.sector == 512:
                    size &= 0xFFFFFFFF
                entries.append((entry_name, kind, start, size))
        return entries

    def stream_head(self, name: str, n: int) -> bytes:
        """The first ``n`` bytes of stream ``name`` (b"" if there is none)."""
        entry = next((e for e in self.entries if e[1] == 2 and e[0] == name), None)
        if entry is None:
            return b""
        start, size = entry[2], entry[3]
        if size >= self.cutoff:
            sectors = self.chain(start, -(-n // self.sector))
            return b"".join(self.read_sector(s) for s in sectors)[: min(n, size)]
        # A small stream lives in the mini stream, itself stored in the root entry's chain.
        root = next((e for e in self.entries if e[1] == 5), None)
        if root is None:
            return b""
        minifat = self.minifat()
        ministream = b"".join(self.read_sector(s) for s in self.chain(root[2]))
        out = bytearray()
        for m in _walk(minifat, start, -(-min(n, size) // self.mini), "短扇区链"):
            piece = ministream[m * self.mini : (m + 1) * self.mini]
            if not piece:
                raise ValueError("短扇区链超出短流")
            out += piece
        return bytes(out[: min(n, size)])


def _walk(table: tuple[int, ...], start: int, limit: int, what: str, seen: set[int] | None = None) -> list[int]:
    """A sector chain through ``table`` from ``start``: at most ``limit`` sectors, each once.

    ``seen`` (shared across the chains of one file) refuses a sector claimed by two chains; a
    chain whose next entry is outside the table, or one it has visited, is refused."""
    out: list[int] = []
    own: set[int] = set()
    n = start
    while n < _END and len(out) < limit:
        if n >= len(table):
            raise ValueError(f"{what}无效")
        if n in own or (seen is not None and n in seen):
            raise ValueError(f"{what}循环或重叠")
        own.add(n)
        out.append(n)
        n = table[n]
    if seen is not None:
        if n < _END:
            raise ValueError(f"{what}过长")
        seen |= own
    return out


def inspect_ole(path: Path, data: bytes, suffix: str) -> FileKind:
    name = path.name
    try:
        cfb = _Cfb(data)
        cfb.validate()
        names = {e[0] for e in cfb.entries if e[1] == 2}
        if "EncryptionInfo" in names or "EncryptedPackage" in names:
            raise UnsafeFile("FILE_ENCRYPTED", encrypted(name), path)
        book = "Workbook" if "Workbook" in names else "Book" if "Book" in names else None
        if book is None:
            what = (
                "这是 Word 文档（.doc）" if "WordDocument" in names
                else "这是 PowerPoint 演示文稿（.ppt）" if "PowerPoint Document" in names
                else "OLE 复合文档中没有 Excel 工作簿"
            )
            raise UnsafeFile("FILE_FOREIGN", foreign(name, what), path)
        if _biffencrypted(cfb.stream_head(book, 512)):
            raise UnsafeFile("FILE_ENCRYPTED", encrypted(name), path)
    except _Truncated:
        raise UnsafeFile("FILE_TRUNCATED", truncated(name), path) from None
    except (struct.error, ValueError) as exc:
        raise UnsafeFile("FILE_CORRUPT", corrupt(name, f"OLE 复合文档结构无效：{exc}"), path) from None
    return FileKind("xls", suffix, len(data), data, {}, False)


def _biffencrypted(head: bytes) -> bool:
    """True when a BIFF workbook stream has a FILEPASS record right after BOF (MS-XLS 2.4.117)."""
    pos = 0
    for _ in range(4):  # BOF, then optionally WRITEPROTECT, then FILEPASS
        if pos + 4 > len(head):
            return False
        rtype, length = struct.unpack_from("<HH", head, pos)
        if rtype == 0x002F:
            return True
        pos += 4 + length
    return False
