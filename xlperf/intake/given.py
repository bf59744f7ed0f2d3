"""What a route hands in, as the files to record: one rule for every route (folder intake, a
desk upload, a mail's attachments), so that the same file gives the same ledger rows whichever
way it came.

- A file named ``*.zip`` is an archive. It is kept and recorded itself (not a return: its row is
  ``ignored`` and its reason says what became of it), and its members follow it, each a file of
  its own. A zip among the members is unpacked once more, the same way (units zip a folder that
  holds a zip); a zip inside that one is recorded with a reason, not unpacked. A zip that cannot
  be unpacked (a bomb, corrupt, encrypted, too many files, empty) is recorded with the reason,
  which the unit is told.
- Any other file is checked when it is named like a spreadsheet, else recorded as not a return
  with the reason (:func:`xlperf.read.inbox.not_a_return`); the guard says what a file named
  like a spreadsheet really is.
- ``cap``: files one call may bring (:data:`~xlperf.intake.archive.MAX_FILES` for a message or
  an upload; ``None`` for a folder, whose zips are capped one by one): a file beyond it is
  recorded and not checked, a zip whose members would pass it is refused whole.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from xlperf.intake.archive import MAX_FILES, is_zip_name, unpack_zip
from xlperf.read.guard import MAX_BYTES, MiB

__all__ = ["Given", "Unpacker"]

NESTED_TOO_DEEP = ("压缩包里的压缩包中又有压缩包，未解压（只解开一层嵌套）：请把报表直接放进一个压缩包，"
                   "或直接作为附件重新报送")
EMPTY_ZIP = "压缩包中没有文件，未收到报表：请把报表放进压缩包后重新报送"


@dataclass
class Given:
    """One file to record, as a route gave it or as it came out of a zip."""

    name: str
    content: bytes | Path
    ignored: str | None = None
    """Why it is recorded without a check (an archive, a refused zip, beyond the cap); None: the
    file's name decides (:func:`xlperf.read.inbox.not_a_return`)."""
    within: str = ""
    """The archive it came out of (``a.zip``, or ``a.zip/b.zip`` one level down); empty for a
    file handed in as it is."""
    path: str = ""
    """Its path inside that archive."""
    archive: bool = False
    """A zip that was unpacked: recorded, its members are what a unit is answered about."""


@dataclass
class Unpacker:
    """Turns what a route hands in into :class:`Given` files (see the module docstring), one
    file at a time (a folder of ten thousand files is not read at once). ``notes``: members left
    out of a zip (macOS metadata, no name), as Chinese lines for the record."""

    cap: int | None = None
    stats: Mapping[Path, os.stat_result] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    taken: int = 0
    """Files counted against ``cap`` so far."""
    _archive_start: int = 0
    """``taken`` when the zip being unpacked began (no ``cap``: each zip has the cap to itself,
    the zips inside it included)."""

    def files(self, handed: Iterable[tuple[str, bytes | Path]]) -> Iterator[Given]:
        for name, content in handed:
            if is_zip_name(name):
                yield from self._zip(name, content)
            elif self.cap is not None and self.taken >= self.cap:
                yield Given(name, content, ignored=self._beyond())
            else:
                self.taken += 1
                yield Given(name, content)

    def _beyond(self) -> str:
        return f"超过每封邮件或每次上传 {self.cap} 个文件的上限，此文件未审核：请分开重新报送"

    def _room(self) -> int:
        if self.cap is None:
            return max(0, MAX_FILES - (self.taken - self._archive_start))
        return max(0, self.cap - self.taken)

    def _zip(self, name: str, content: bytes | Path) -> Iterator[Given]:
        if isinstance(content, Path):
            try:
                stat = self.stats.get(content) or content.stat()
                if not S_ISREG(stat.st_mode) or stat.st_size > MAX_BYTES:
                    # Not read here: a FIFO would block; the recording says what it is.
                    yield Given(name, content, ignored=None if not S_ISREG(stat.st_mode) else
                                f"压缩包“{name}”大小 {stat.st_size / MiB:.1f} MB，超过上限 {MAX_BYTES / MiB:g} MB，未解压")
                    return
                data = content.read_bytes()
            except OSError:
                yield Given(name, content)  # the recording reads it again and records why it cannot
                return
        else:
            data = content
        self._archive_start = self.taken
        yield from self._unpack(name, data, "", 0)

    def _unpack(self, name: str, data: bytes, within: str, inflated: int, depth: int = 0,
                path: str = "") -> Iterator[Given]:
        unpacked = unpack_zip(name, data, self._room(), inflated)
        if unpacked.refused:
            yield Given(name, data, ignored=unpacked.refused, within=within, path=path)
            return
        if not unpacked.members:
            yield Given(name, data, ignored=EMPTY_ZIP, within=within, path=path)
        else:
            yield Given(name, data, ignored=f"压缩包，已解压其中的 {len(unpacked.members)} 个文件，逐个登记",
                        within=within, path=path, archive=True)
        self.notes += [f"{name} 中的 {path}：{why}" for path, why in unpacked.skipped]
        self.taken += len(unpacked.members)
        inner = f"{within}/{name}" if within else name
        for member in unpacked.members:
            if not is_zip_name(member.name):
                yield Given(member.name, member.data, within=inner, path=member.path)
            elif depth == 0:
                self.taken -= 1  # its members are counted instead
                yield from self._unpack(member.name, member.data, inner, unpacked.inflated, depth + 1, member.path)
            else:
                yield Given(member.name, member.data, ignored=NESTED_TOO_DEEP, within=inner, path=member.path)
