"""Files into a round: hash, store, check, record, in batches.

``intake_files(ledger, round, files, source, sender)`` takes ``(name, bytes or path)`` pairs
(folder intake gives paths; an upload or a mail attachment gives bytes) and returns one
:class:`xlperf.ledger.Outcome` per file, in input order. Per batch of files:

1. read, SHA-256, keep in the file store (before any row names the file);
2. look up which contents the round already has: those are not checked again;
3. check the others (the roll-up's process pool, crash-isolated), files given as bytes first
   written under their own name to a temporary folder;
4. record the batch in one transaction with the round locked (:func:`xlperf.ledger.receive`).

A batch is committed before the next is read, so an intake killed half-way keeps every batch
it finished, and running it again records only the rest (the finished files are ``known``).
Two intakes at once each lock the round per batch; whichever records a content second finds it
and records a repeat (or nothing, when it is the very same receipt).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from xlperf.ledger import Incoming, Ledger, Outcome, receive, round_view, sha256_of
from xlperf.ledger.checking import check_many
from xlperf.ledger.models import Round
from xlperf.ledger.receive import RoundView, known_receipts
from xlperf.read.inbox import find_inputs, not_a_return
from xlperf.rollup.records import ReturnRecord

__all__ = ["BATCH", "Intake", "intake_files", "intake_paths"]

BATCH = 256
"""Files per transaction: big enough that the pool stays busy, small enough that a kill costs little."""

Source = tuple[str, "bytes | Path"]


@dataclass
class Intake:
    outcomes: list[Outcome] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(1 for o in self.outcomes if o.kind == kind)


def intake_paths(ledger: Ledger, rnd: Round, paths: Iterable[Path], *, sender: str = "", actor: str = "",
                 jobs: int | None = None, progress: Callable[[int], None] | None = None) -> Intake:
    """Folder intake: every file of ``paths`` (folders searched recursively, like ``check``),
    oldest first (modification time, then name), so a later version supersedes an earlier one."""
    found = find_inputs(paths)
    files = found.returns + [p for p, _ in found.others]
    files.sort(key=lambda p: (_mtime_ns(p), p.name, str(p)))
    named = [(p.name, p) for p in files]
    return intake_files(ledger, rnd, named, source="folder", sender=sender, actor=actor, jobs=jobs,
                        progress=progress, check_names=True)


def intake_files(ledger: Ledger, rnd: Round, files: Iterable[tuple[str, bytes | Path]], *, source: str,
                 sender: str = "", actor: str = "", jobs: int | None = None,
                 progress: Callable[[int], None] | None = None, check_names: bool = False) -> Intake:
    """Record ``files`` (``(original name, bytes or path)``) in round ``rnd``; outcomes in order.

    ``check_names``: a file named like a spreadsheet is checked, any other is recorded as not a
    return (:func:`xlperf.read.inbox.not_a_return`); otherwise (a file handed in on purpose,
    e.g. uploaded) every file is checked and the guard says what it really is."""
    intake = Intake()
    with ledger.session() as session:
        view = round_view(session, rnd)
        session.expunge_all()
    batch: list[tuple[str, bytes | Path]] = []
    for item in files:
        batch.append(item)
        if len(batch) >= BATCH:
            intake.outcomes += _batch(ledger, view, batch, source, sender, actor, jobs, progress, check_names)
            batch = []
    if batch:
        intake.outcomes += _batch(ledger, view, batch, source, sender, actor, jobs, progress, check_names)
    return intake


def _batch(ledger: Ledger, view: RoundView, batch: list[tuple[str, bytes | Path]], source: str, sender: str,
           actor: str, jobs: int | None, progress: Callable[[int], None] | None,
           check_names: bool) -> list[Outcome]:
    rnd_id = view.round.id
    loaded: list[tuple[str, bytes, str, dt.datetime | None, str | None, bytes | Path]] = []
    for name, content in batch:
        mtime = None
        if isinstance(content, Path):
            try:
                data = content.read_bytes()
                mtime = dt.datetime.fromtimestamp(content.stat().st_mtime)
            except OSError as exc:  # a broken link, a vanished file: recorded with the reason
                data = b""
                ledger.store.put(data)
                loaded.append((name, data, sha256_of(data), mtime, f"无法读取文件（{exc.strerror or exc}）", content))
                continue
        else:
            data = content
        digest = ledger.store.put(data)
        ignored = not_a_return(Path(name)) if check_names else None
        loaded.append((name, data, digest, mtime, ignored, content))
    with ledger.session() as session:
        known = known_receipts(session, rnd_id, [d for _, _, d, _, _, _ in loaded])
    to_check = [i for i, (_, _, digest, _, ignored, _) in enumerate(loaded)
                if ignored is None and digest not in known]
    records: dict[int, ReturnRecord] = {}
    if to_check:
        with tempfile.TemporaryDirectory(prefix="xlperf-intake-") as tmp:
            paths = []
            for i in to_check:
                name, data, _, _, _, content = loaded[i]
                if isinstance(content, Path):
                    paths.append(content)
                else:  # bytes: the checker reads a file, named as the unit named it
                    folder = Path(tmp) / str(i)
                    folder.mkdir()
                    target = folder / (Path(name).name or "file")
                    target.write_bytes(data)
                    paths.append(target)
            for i, record in zip(to_check, check_many(paths, jobs=jobs), strict=True):
                records[i] = record
    if progress is not None:
        progress(len(batch))
    items = [Incoming(name=name, sha256=digest, size=len(data), source=source, sender=sender, mtime=mtime,
                      record=records.get(i), ignored=ignored)
             for i, (name, data, digest, mtime, ignored, _) in enumerate(loaded)]
    with ledger.session() as session, session.begin():
        return receive(session, view, items, actor=actor)


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
