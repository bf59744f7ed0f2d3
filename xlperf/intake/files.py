"""Files into a round: hash, store, check, record, in batches.

``intake_files(ledger, round, files, source, sender)`` takes ``(name, bytes or path)`` pairs
(folder intake gives paths; an upload or a mail attachment gives bytes) and returns one
:class:`xlperf.ledger.Outcome` per file, in input order. Per batch of files:

1. read, SHA-256, keep in the file store (before any row names the file);
2. look up which contents the round already has: those are not checked again;
3. check the others in one process pool kept for the whole intake (files given as bytes are
   first written under their own name to a temporary folder); while a batch is checked, the
   previous one is recorded, so the database's work hides behind the checking;
4. record the batch in one transaction with the round locked (:func:`xlperf.ledger.receive`).

A batch is committed before the next but one is read, so an intake killed half-way keeps every
batch it finished, and running it again records only the rest (the finished files are
``known``). Two intakes at once each lock the round per batch; whichever records a content
second finds it and records a repeat (or nothing, when it is the very same receipt).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from xlperf.ledger import Incoming, Ledger, Outcome, receive, round_view
from xlperf.ledger.checking import Checker, Pending
from xlperf.ledger.models import Round
from xlperf.ledger.receive import KNOWN, RoundView, known_digests, receipts_by_name
from xlperf.read.inbox import find_inputs, not_a_return

__all__ = ["BATCH", "Intake", "intake_files", "intake_paths"]

BATCH = 256
"""Files per transaction: big enough that the pool stays busy, small enough that a kill costs little."""


@dataclass
class Intake:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)


@dataclass
class _Loaded:
    name: str
    data: bytes
    sha256: str
    mtime: dt.datetime | None
    ignored: str | None
    content: bytes | Path
    size: int


@dataclass
class _Batch:
    loaded: list[_Loaded]
    to_check: list[int]
    pending: Pending | None
    tmp: tempfile.TemporaryDirectory[str] | None
    fast: dict[int, int]
    """Files known by name, size and time (index → their submission): not read again."""


def intake_paths(ledger: Ledger, rnd: Round, paths: Iterable[Path], *, sender: str = "", actor: str = "",
                 jobs: int | None = None, progress: Callable[[int], None] | None = None,
                 batch: int = BATCH) -> Intake:
    """Folder intake: every file of ``paths`` (folders searched recursively, like ``check``),
    oldest first (modification time, then name), so a later version supersedes an earlier one."""
    found = find_inputs(paths)
    files = found.returns + [p for p, _ in found.others]
    files.sort(key=lambda p: (_mtime_ns(p), p.name, str(p)))
    return intake_files(ledger, rnd, [(p.name, p) for p in files], source="folder", sender=sender, actor=actor,
                        jobs=jobs, progress=progress, check_names=True, batch=batch)


def intake_files(ledger: Ledger, rnd: Round, files: Iterable[tuple[str, bytes | Path]], *, source: str,
                 sender: str = "", actor: str = "", jobs: int | None = None,
                 progress: Callable[[int], None] | None = None, check_names: bool = False,
                 batch: int = BATCH) -> Intake:
    """Record ``files`` (``(original name, bytes or path)``) in round ``rnd``; outcomes in order.

    ``check_names``: a file named like a spreadsheet is checked, any other is recorded as not a
    return (:func:`xlperf.read.inbox.not_a_return`); otherwise (a file handed in on purpose,
    e.g. uploaded) every file is checked and the guard says what it really is."""
    intake = Intake()
    with ledger.session() as session:
        view = round_view(session, rnd)
        session.expunge_all()
    previous: _Batch | None = None
    with Checker(jobs) as checker:
        for chunk in _chunks(files, batch):
            current = _start(ledger, view, checker, chunk, check_names, source, sender)
            if previous is not None:
                intake.outcomes += _record(ledger, view, previous, source, sender, actor, progress)
            previous = current
        if previous is not None:
            intake.outcomes += _record(ledger, view, previous, source, sender, actor, progress)
    return intake


def _chunks(files: Iterable[tuple[str, bytes | Path]], size: int) -> Iterable[list[tuple[str, bytes | Path]]]:
    chunk: list[tuple[str, bytes | Path]] = []
    for item in files:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _start(ledger: Ledger, view: RoundView, checker: Checker, chunk: list[tuple[str, bytes | Path]],
           check_names: bool, source: str, sender: str) -> _Batch:
    """Read, hash and store a batch, and start checking the files the round does not have yet."""
    with ledger.session() as session:
        seen = receipts_by_name(session, view.round.id, source, sender, [name for name, _ in chunk])
    loaded: list[_Loaded] = []
    fast: dict[int, int] = {}
    for name, content in chunk:
        mtime, ignored = None, not_a_return(Path(name)) if check_names else None
        if isinstance(content, Path):
            try:
                stat = content.stat()
                mtime = dt.datetime.fromtimestamp(stat.st_mtime)
                # The same file name, size and modification time as a receipt of this round from
                # the same source and sender: a folder taken in again. Not read nor hashed again.
                same = seen.get((name, stat.st_size, mtime))
                if same is not None:
                    fast[len(loaded)] = same[1]
                    loaded.append(_Loaded(name, b"", same[0], mtime, ignored, content, stat.st_size))
                    continue
                data = content.read_bytes()
            except OSError as exc:  # a broken link, a vanished file: recorded with the reason
                data, ignored = b"", f"无法读取文件（{exc.strerror or exc}）"
        else:
            data = content
        loaded.append(_Loaded(name, data, ledger.store.put(data), mtime, ignored, content, len(data)))
    with ledger.session() as session:
        known = known_digests(session, view.round.id, [item.sha256 for item in loaded])
    to_check = [i for i, item in enumerate(loaded) if item.ignored is None and item.sha256 not in known]
    if not to_check:
        return _Batch(loaded, [], None, None, fast)
    tmp = None
    paths = []
    for i in to_check:
        item = loaded[i]
        if isinstance(item.content, Path):
            paths.append(item.content)
        else:  # bytes: the checker reads a file, named as the unit named it
            tmp = tmp or tempfile.TemporaryDirectory(prefix="xlperf-intake-")
            folder = Path(tmp.name) / str(i)
            folder.mkdir()
            target = folder / (Path(item.name).name or "file")
            target.write_bytes(item.data)
            paths.append(target)
    return _Batch(loaded, to_check, checker.submit(paths), tmp, fast)


def _record(ledger: Ledger, view: RoundView, batch: _Batch, source: str, sender: str, actor: str,
            progress: Callable[[int], None] | None) -> list[Outcome]:
    try:
        records = dict(zip(batch.to_check, batch.pending.result() if batch.pending else [], strict=True))
    finally:
        if batch.tmp is not None:
            batch.tmp.cleanup()
    items = [Incoming(name=item.name, sha256=item.sha256, size=item.size, source=source, sender=sender,
                      mtime=item.mtime, record=records.get(i), ignored=item.ignored)
             for i, item in enumerate(batch.loaded)]
    if len(batch.fast) == len(batch.loaded):
        # Every file is a receipt already recorded: nothing to write, no lock to take.
        outcomes = [Outcome(item.name, KNOWN, batch.fast[i]) for i, item in enumerate(batch.loaded)]
    else:
        with ledger.session() as session, session.begin():
            outcomes = receive(session, view, items, actor=actor)
    if progress is not None:
        progress(len(items))
    return outcomes


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
