"""Files into a round: hash, store, check, record, in batches. The one way in: folder intake,
a desk upload and a mail's attachments all come here, and are treated by one rule
(:mod:`xlperf.intake.given`: zips unpacked and recorded, other files checked or not by name).

``intake_files(ledger, round, files, source, sender)`` takes ``(name, bytes or path)`` pairs
(folder intake gives paths; an upload or a mail attachment gives bytes) and returns one
:class:`xlperf.ledger.Outcome` per file recorded, in input order (a zip, then its members).
Every file is read and hashed once, here. Files go through three stages at once:

1. prepare a batch: read, SHA-256, keep in the file store (before any row names the file); look
   up which contents the round already has (those are not checked again); files given as bytes
   are written under their own name to a temporary folder for the checker;
2. check: one stream of worker processes for the whole intake, under the per-file limits
   (:func:`xlperf.checks.check_files.check_files`); it takes the next file as a worker has room,
   so batches are prepared while the earlier ones are checked, and no worker idles at the end
   of a batch;
3. record: a batch whose files are all checked goes, in input order, to a recording thread
   that writes it in one transaction with the round locked (:func:`xlperf.ledger.receive`),
   while the workers go on checking. No worker is forked from this process, which holds the
   database engine and that thread: they come from a fork server (:mod:`xlperf.workers.start`).

A batch is committed before the next is recorded, so an intake killed half-way keeps every
batch it finished, and running it again records only the rest (the finished files are
``known``). Two intakes at once each lock the round per batch; whichever records a content
second finds it and records a repeat (or nothing, when it is the very same receipt).
"""

from __future__ import annotations

import datetime as dt
import os
import queue
import tempfile
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from xlperf.checks.check_files import STORED, check_files
from xlperf.findings import CheckedReturn
from xlperf.intake.given import Given, Unpacker
from xlperf.ledger import Incoming, Ledger, Outcome, receive, round_view
from xlperf.ledger.models import Round
from xlperf.ledger.receive import KNOWN, RoundView, known_digests, receipts_by_name
from xlperf.ledger.round_checks import checkable_name, require_round_rules, round_check
from xlperf.read.inbox import find_inputs, not_a_file, not_a_return
from xlperf.read.saved import saved_time
from xlperf.workers.pool import WorkerPool

__all__ = ["BATCH", "Intake", "Received", "intake_files", "intake_paths"]

BATCH = 256
"""Files per transaction: big enough that recording costs little per file, small enough that a
kill costs little."""
QUEUED_BATCHES = 4
"""Checked batches waiting for the recording thread before the checking waits for it."""

ReceiptsByName = dict[tuple[str, int, dt.datetime | None], tuple[str, int]]
"""A round's receipts from one source and sender by (name, size, file time): (digest, submission)."""


@dataclass(frozen=True)
class Received:
    """A file recorded, as the mail's record lists it (the outcome at the same place says more)."""

    name: str
    sha256: str
    size: int
    within: str = ""
    """The zip it came out of (see :class:`xlperf.intake.given.Given`)."""
    path: str = ""
    archive: bool = False
    """A zip that was unpacked (its members follow it)."""


@dataclass
class Intake:
    outcomes: list[Outcome] = field(default_factory=list)
    files: list[Received] = field(default_factory=list)
    """What each outcome's file was, at the same place."""
    notes: list[str] = field(default_factory=list)
    """Zip members left out (macOS metadata, no name), as Chinese lines."""

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)


@dataclass
class _StoredFile:
    name: str
    sha256: str
    mtime: dt.datetime | None
    ignored: str | None
    size: int
    check: Path | None = None
    given: Given | None = None
    """The file to check (None: not checked: known, ignored, or a content the round has)."""
    unread: bool = False
    """Nothing could be read (a broken link, a FIFO): the digest is of no content."""
    saved: dt.datetime | None = None
    """When the workbook says it was saved (:func:`xlperf.read.saved.saved_time`): which version is newer."""


@dataclass
class _Batch:
    loaded: list[_StoredFile]
    fast: dict[int, int]
    """Files known by name, size and time (index → their submission): not read again."""
    tmp: tempfile.TemporaryDirectory[str] | None = None
    records: dict[int, CheckedReturn] = field(default_factory=dict)
    waiting: int = 0
    """Files of the batch still being checked."""


def intake_paths(ledger: Ledger, rnd: Round, paths: Iterable[Path], *, sender: str = "", actor: str = "",
                 jobs: int | None = None, progress: Callable[[int], None] | None = None,
                 batch: int = BATCH) -> Intake:
    """Folder intake: every file of ``paths`` (folders searched recursively, like ``check``),
    oldest first (modification time, then name), so a later version supersedes an earlier one."""
    found = find_inputs(paths)
    files = found.returns + [p for p, _ in found.others]
    stats = found.stats
    files.sort(key=lambda p: (stats[p].st_mtime_ns if p in stats else 0, p.name, str(p)))
    return intake_files(ledger, rnd, [(p.name, p) for p in files], source="folder", sender=sender, actor=actor,
                        jobs=jobs, progress=progress, batch=batch, stats=stats)


def intake_files(ledger: Ledger, rnd: Round, files: Iterable[tuple[str, bytes | Path]], *, source: str,
                 sender: str = "", actor: str = "", jobs: int | None = None,
                 progress: Callable[[int], None] | None = None, batch: int = BATCH,
                 stats: Mapping[Path, os.stat_result] | None = None, pool: WorkerPool | None = None,
                 cap: int | None = None, sender_units: frozenset[int] | None = None,
                 sent: dt.datetime | None = None) -> Intake:
    """Record ``files`` (``(original name, bytes or path)``) in round ``rnd``; outcomes in order.

    Zips are unpacked and every file is checked or not by the one rule of
    :mod:`xlperf.intake.given`; ``cap``: files the call may bring (a message, an upload).
    ``sender_units``: the roster units whose addresses the sender's is (mail); a return of
    another unit is held for staff. ``stats``: the stat of path contents already taken (a
    folder's listing), so a file is not asked twice. ``progress`` is called from the recording
    thread with the number of files just recorded. ``pool``: checking workers kept between
    intakes (the desk, the watcher). ``sent``: the Date (naive UTC) of the message that brought
    the files, evidence of their order (:mod:`xlperf.ledger.current`). Raises :class:`xlperf.ledger.round_checks.RoundNotReady` before
    taking anything when a rule of the round cannot be enforced in this process."""
    require_round_rules(rnd)
    unpacker = Unpacker(cap, stats or {})
    with ledger.session() as session:
        view = round_view(session, rnd)
        context = round_check(session, rnd)
        # What the round has from this source and sender, read once: a folder taken in again is
        # mostly files known by name, size and time, skipped on the listing's stat.
        seen = receipts_by_name(session, view.round.id, source, sender)
        session.expunge_all()
    prepared: deque[_Batch] = deque()
    """Batches in input order whose files are not all checked and recorded yet."""
    owners: dict[int, tuple[_Batch, int]] = {}
    """The checking stream's index of a file → its batch and place there."""

    def to_check() -> Iterator[Path]:
        index = 0  # the stream numbers the files it is given from 0
        for chunk in _chunks(unpacker.files(files), batch):
            prepared.append(current := _prepare(ledger, view, chunk, seen, stats or {}))
            for place, item in enumerate(current.loaded):
                if item.check is not None:
                    owners[index] = (current, place)
                    index += 1
                    yield item.check

    recorder = _Recorder(ledger, view, source, sender, actor, progress, sender_units, sent)
    try:
        for index, record in check_files(to_check(), context, keep=STORED, jobs=jobs, pool=pool):
            owner, place = owners.pop(index)
            owner.records[place] = record
            owner.waiting -= 1
            while prepared and prepared[0].waiting == 0:
                recorder.give(prepared.popleft())
        while prepared:  # batches with nothing to check, after the last file checked
            recorder.give(prepared.popleft())
    finally:
        outcomes = recorder.finish()
        for left in prepared:  # an error stopped the intake: no temporary folder stays behind
            if left.tmp is not None:
                left.tmp.cleanup()
    return Intake(outcomes, recorder.files, unpacker.notes)


class _Recorder:
    """The recording thread: records checked batches in the order given, one transaction each.

    An error stops the recording (the batches after it are not recorded, so none is recorded out
    of order) and is raised again by :meth:`give` and :meth:`finish` in the intake's thread."""

    def __init__(self, ledger: Ledger, view: RoundView, source: str, sender: str, actor: str,
                 progress: Callable[[int], None] | None, sender_units: frozenset[int] | None,
                 sent: dt.datetime | None = None) -> None:
        self.ledger, self.view, self.source, self.sender, self.actor = ledger, view, source, sender, actor
        self.progress, self.sender_units, self.sent = progress, sender_units, sent
        self.outcomes: list[Outcome] = []
        self.files: list[Received] = []
        self.error: BaseException | None = None
        self._queue: queue.Queue[_Batch | None] = queue.Queue(maxsize=QUEUED_BATCHES)
        self._thread = threading.Thread(target=self._run, name="xlperf-intake-record", daemon=True)
        self._thread.start()

    def give(self, batch: _Batch) -> None:
        if batch.tmp is not None:  # every file of it is checked: the copies are no longer needed
            batch.tmp.cleanup()
            batch.tmp = None
        self._raise()
        self._queue.put(batch)

    def finish(self) -> list[Outcome]:
        """Wait until every batch given is recorded; their outcomes in order."""
        self._queue.put(None)
        self._thread.join()
        self._raise()
        return self.outcomes

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while (batch := self._queue.get()) is not None:
            if self.error is not None:
                continue  # drained, not recorded: the intake's thread raises the error
            try:
                self.outcomes += _record(self.ledger, self.view, batch, self.source, self.sender, self.actor,
                                         self.sender_units, self.sent)
                self.files += [_received(item) for item in batch.loaded]
                if self.progress is not None:
                    self.progress(len(batch.loaded))
            except BaseException as exc:  # noqa: BLE001 - handed to the intake's thread, raised there
                self.error = exc


def _received(item: _StoredFile) -> Received:
    given = item.given
    if given is None:
        return Received(item.name, item.sha256, item.size)
    return Received(item.name, item.sha256, item.size, given.within, given.path, given.archive)


def _chunks(files: Iterable[Given], size: int) -> Iterable[list[Given]]:
    chunk: list[Given] = []
    for item in files:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _prepare(ledger: Ledger, view: RoundView, chunk: list[Given], seen: ReceiptsByName,
             stats: Mapping[Path, os.stat_result]) -> _Batch:
    """Read, hash and store a batch, and say which of its files are to be checked."""
    loaded: list[_StoredFile] = []
    fast: dict[int, int] = {}
    data: dict[int, bytes] = {}
    """Contents given as bytes that are to be checked: written to a temporary folder below."""
    for given in chunk:
        name, content = given.name, given.content
        mtime, ignored = None, given.ignored if given.ignored is not None else not_a_return(Path(name))
        if isinstance(content, Path):
            try:
                stat = stats.get(content) or content.stat()
                if not S_ISREG(stat.st_mode):  # a FIFO named like a return: reading it blocks for ever
                    loaded.append(_StoredFile(name, ledger.store.put(b""), None, not_a_file(stat.st_mode), 0, given=given,
                                          unread=True))
                    continue
                mtime = dt.datetime.fromtimestamp(stat.st_mtime)
                # The same file name, size and modification time as a receipt of this round from
                # the same source and sender: a folder taken in again. Not read nor hashed again.
                same = seen.get((name, stat.st_size, mtime))
                if same is not None:
                    fast[len(loaded)] = same[1]
                    loaded.append(_StoredFile(name, same[0], mtime, ignored, stat.st_size, given=given))
                    continue
                raw = content.read_bytes()
            except OSError as exc:  # a broken link, a vanished file: recorded with the reason
                loaded.append(_StoredFile(name, ledger.store.put(b""), mtime, f"无法读取文件（{exc.strerror or exc}）", 0,
                                      given=given, unread=True))
                continue
            check = content
        else:
            raw, check = content, None
            data[len(loaded)] = raw
        loaded.append(_StoredFile(name, ledger.store.put(raw), mtime, ignored, len(raw), check, given, saved=saved_time(raw)))
    fresh = [item.sha256 for i, item in enumerate(loaded) if i not in fast]
    if fresh:
        with ledger.session() as session:
            known = known_digests(session, view.round.id, fresh)
    else:
        known = set()
    batch = _Batch(loaded, fast)
    names: set[str] = set()
    for i, item in enumerate(loaded):
        if i in fast or item.ignored is not None or item.sha256 in known:
            item.check = None
        elif i in data:  # bytes: the checker reads a file, named as the unit named it
            batch.tmp = batch.tmp or tempfile.TemporaryDirectory(prefix="xlperf-intake-")
            item.check = _named_copy(ledger, Path(batch.tmp.name), item, data[i], names, i)
        batch.waiting += item.check is not None
    return batch


def _named_copy(ledger: Ledger, folder: Path, item: _StoredFile, data: bytes, names: set[str], index: int) -> Path:
    """The stored file under its original name in ``folder`` (:func:`checkable_name`; a folder of
    its own when the batch has that name twice): a hard link to the stored copy, written out
    where linking fails."""
    name = checkable_name(item.name)
    if name in names:
        folder = folder / str(index)
        folder.mkdir()
    names.add(name)
    target = folder / name
    try:
        os.link(ledger.store.path(item.sha256), target)
    except OSError:  # another file system, or links not allowed
        target.write_bytes(data)
    return target


def _record(ledger: Ledger, view: RoundView, batch: _Batch, source: str, sender: str, actor: str,
            sender_units: frozenset[int] | None, sent: dt.datetime | None = None) -> list[Outcome]:
    if len(batch.fast) == len(batch.loaded):
        # Every file is a receipt already recorded: nothing to write, no lock to take.
        return [Outcome(item.name, KNOWN, batch.fast[i]) for i, item in enumerate(batch.loaded)]
    items = [Incoming(name=item.name, sha256=item.sha256, size=item.size, source=source, sender=sender,
                      mtime=item.mtime, saved_at=item.saved, sent_at=sent, record=batch.records.get(i), ignored=item.ignored, unread=item.unread,
                      sender_units=sender_units)
             for i, item in enumerate(batch.loaded)]
    with ledger.session() as session, session.begin():
        return receive(session, view, items, actor=actor)
