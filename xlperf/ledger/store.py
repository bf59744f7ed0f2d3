"""The file store: every received file kept unchanged, named by its SHA-256.

``<root>/ab/cdef…`` (the first two hex digits as a folder, so that no folder holds more than a
few hundred files of a 100,000-file store). A file is written to a temporary name in its folder,
flushed, then renamed into place, so a killed process never leaves a partial file under a
content name (no fsync per file: it cost more than checking the file; a killed process loses
nothing, and the database row that names a file is committed only after the file is in place);
a file already there is never written again (same name, same content), and xlperf
never deletes one.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

__all__ = ["FileStore", "sha256_of"]


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class FileStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._folders: set[str] = set()
        """Folders known to exist (made or found by this object): not made again for every file."""

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:]

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def put(self, data: bytes, sha256: str | None = None) -> str:
        """Keep ``data``; returns its SHA-256. Idempotent; safe against concurrent writers."""
        digest = sha256 or sha256_of(data)
        target = self.path(digest)
        if target.is_file():
            return digest
        try:
            fd, tmp = self._temporary(target.parent)
        except FileNotFoundError:  # a folder removed behind our back: made again
            self._folders.discard(target.parent.name)
            fd, tmp = self._temporary(target.parent)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.chmod(tmp, 0o444)  # by name: Windows has no fchmod before Python 3.13
            os.replace(tmp, target)  # same content under the same name: a race is harmless
        except BaseException as exc:
            Path(tmp).unlink(missing_ok=True)
            if isinstance(exc, OSError) and exc.filename is None:
                exc.filename = str(target)  # a full disk's error names no file: say which
            raise
        return digest

    def _temporary(self, folder: Path) -> tuple[int, str]:
        if folder.name not in self._folders:
            folder.mkdir(parents=True, exist_ok=True)
            self._folders.add(folder.name)
        return tempfile.mkstemp(dir=folder, prefix=".tmp-")

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()
