"""Reports of checked returns for a unit's clerk: an HTML page, an annotated workbook, JSON.

Reports render :class:`xlperf.findings.CheckedReturn`; they decide nothing about what is wrong.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, MutableSet
from dataclasses import dataclass
from pathlib import Path

from xlperf.findings import CheckedReturn
from xlperf.findings.text import scrub
from xlperf.report.annotate import annotated_bytes, write_annotated
from xlperf.report.html import render_html
from xlperf.report.jsonout import json_bytes, write_json

ANNOTATED_SUFFIX = "_批注.xlsx"


def unique_stem(path: Path, taken: MutableSet[str]) -> str:
    """A report name for ``path`` not yet in ``taken`` (compared without case), which it joins.

    Two inputs of one batch may share a name (same file in two folders): the second gets its
    folder's name in front, then a number if that is taken too, so no report overwrites another.
    A name that is not UTF-8 is shown with U+FFFD; one too long for the file system (255 bytes,
    with the longest report suffix) is cut and gets a digest of the whole name, so it stays unique.
    """
    seen = {t.casefold() for t in taken}
    own, folder = scrub(path.stem), scrub(path.parent.name)  # names that are not UTF-8: U+FFFD
    candidates = [_fit(own), _fit(f"{folder}_{own}") if folder else _fit(own)]
    stem = next((c for c in candidates if c.casefold() not in seen), None)
    n = 2
    while stem is None:
        if f"{candidates[-1]}_{n}".casefold() not in seen:
            stem = f"{candidates[-1]}_{n}"
        n += 1
    taken.add(stem)
    return stem


MAX_NAME_BYTES = 255
"""The longest file name ext4, XFS, NTFS and APFS allow (bytes of UTF-8 on Linux)."""
MAX_STEM_BYTES = MAX_NAME_BYTES - len(ANNOTATED_SUFFIX.encode()) - len(b"_9999")


def _fit(stem: str) -> str:
    """``stem`` if its reports' names fit :data:`MAX_NAME_BYTES`, else its head and a digest."""
    raw = stem.encode("utf-8")
    if len(raw) <= MAX_STEM_BYTES:
        return stem
    digest = "~" + hashlib.sha256(raw).hexdigest()[:10]
    head = raw[: MAX_STEM_BYTES - len(digest)].decode("utf-8", "ignore")  # whole characters only
    return head + digest


@dataclass(frozen=True)
class Rendered:
    """The three reports of one checked return, as bytes: what a mail attaches, a desk download
    sends and ``write_reports`` writes (nothing is written to disk to be read back)."""

    stem: str
    json: bytes
    html: bytes
    workbook: bytes | None
    """The annotated copy; None when the form is unknown."""

    @property
    def workbook_name(self) -> str:
        return f"{self.stem}{ANNOTATED_SUFFIX}"

    def files(self) -> dict[str, tuple[str, bytes]]:
        """Kind ("json", "html", "xlsx") → (file name, bytes)."""
        files = {"json": (f"{self.stem}.json", self.json), "html": (f"{self.stem}.html", self.html)}
        if self.workbook is not None:
            files["xlsx"] = (self.workbook_name, self.workbook)
        return files


def render_reports(checked: CheckedReturn, stem: str) -> Rendered:
    """The reports of ``checked``, named ``stem`` (see :func:`unique_stem`)."""
    workbook = annotated_bytes(checked)
    page = render_html(checked, annotated_name=f"{stem}{ANNOTATED_SUFFIX}" if workbook is not None else None)
    return Rendered(stem, json_bytes(checked), scrub(page).encode("utf-8"), workbook)


def write_reports(checked: CheckedReturn, outdir: Path, taken: MutableSet[str] | None = None) -> dict[str, Path]:
    """Write the reports of ``checked`` into ``outdir``: keys "html", "json" and "xlsx".

    ``<stem>.html``, ``<stem>.json`` and, when the form is known, ``<stem>_批注.xlsx`` (the
    annotated copy). Pass the same ``taken`` set for every return of a batch so that returns
    sharing a file name get distinct stems; re-running a batch overwrites the same files.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    rendered = render_reports(checked, unique_stem(checked.file, taken if taken is not None else set()))
    written: dict[str, Path] = {}
    for kind, (name, data) in rendered.files().items():
        path = outdir / name
        path.write_bytes(data)
        written[kind] = path
    return written


__all__ = ["ANNOTATED_SUFFIX", "Rendered", "annotated_bytes", "json_bytes", "render_html", "render_reports",
           "unique_stem", "write_annotated", "write_batch_reports", "write_json", "write_reports"]


def write_batch_reports(results: Iterable[CheckedReturn], outdir: Path) -> list[dict[str, Path]]:
    """The reports of every return of a batch, with distinct names for same-named files."""
    taken: set[str] = set()
    return [write_reports(checked, outdir, taken) for checked in results]
