"""Several processes on one ledger: two intakes at once stay consistent, and an intake killed
half-way (SIGKILL) loses nothing it recorded and finishes when run again. Real processes
(``python -m xlperf``), on one SQLite file and on a real PostgreSQL server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from gate import gated_env, wait_at_gate
from ledger_support import CLEAN, FORM, YEAR, LedgerDb, make_return, write_roster
from sqlalchemy import func, select

from xlperf.ledger.models import CURRENT, REPEAT, Event, Result, Submission

ROOT = Path(__file__).resolve().parent.parent
UNITS = ("东城区科技局", "西山县中小企业局", "南城区商务局", "北湖县工信局")


def xlperf(db: LedgerDb, *argv: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLPERF_SIGNING_KEY", None)
    return subprocess.Popen([sys.executable, "-m", "xlperf", "round", *db.args(), *argv], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


INBOXES = (("s", 24), ("a", 12), ("k", 40))
"""The inboxes the tests make (tag, files): the roster lists a project for each file."""


def make_inbox(folder: Path, n: int, tag: str) -> list[Path]:
    """``n`` returns spread over the units, each with its own project of the roster (so all of
    them count: a unit whose roster lists no projects has one return)."""
    assert (tag, n) in INBOXES
    return [make_return(folder / f"{tag}_{i:03d}.xlsx", UNITS[i % len(UNITS)], age=n - i,
                        project_name=f"项目{tag}{i:03d}", **CLEAN) for i in range(n)]


def new_round(db: LedgerDb, tmp_path: Path) -> None:
    lines = [f"{3001 + u},{name},市工业和信息化局,联系人,u{u}@example.gov.cn,项目{tag}{i:03d}"
             for tag, n in INBOXES for i in range(n) for u, name in enumerate(UNITS) if i % len(UNITS) == u]
    roster = write_roster(tmp_path, "单位代码,单位名称,主管部门,联系人,邮箱,项目名称\n" + "\n".join(lines) + "\n")
    proc = xlperf(db, "new", "r", "--form", FORM, "--year", str(YEAR), "--roster", str(roster))
    assert proc.wait(120) == 0, proc.communicate()


def assert_consistent(db: LedgerDb) -> list[Submission]:
    """Each receipt recorded once, each checked submission with its result, at most one current
    return per unit and project, every repeat pointing at an earlier submission, every file stored."""
    ledger = db.open()
    with ledger.session() as session:
        subs = list(session.scalars(select(Submission).order_by(Submission.id)))
        receipts = Counter((s.sha256, s.original_name, s.source, s.sender) for s in subs)
        assert max(receipts.values()) == 1
        current = Counter((s.unit_id, s.project_key) for s in subs if s.state == CURRENT)
        assert max(current.values(), default=1) == 1
        ids = {s.id for s in subs}
        for sub in subs:
            assert ledger.store.path(sub.sha256).is_file()
            if sub.state == REPEAT:
                assert sub.repeat_of in ids and sub.repeat_of < sub.id
            else:
                assert sub.result_id is not None and session.get(Result, sub.result_id) is not None
        checked = session.scalar(select(func.count()).select_from(Event).where(Event.kind == "checked"))
        assert checked == sum(1 for s in subs if s.state != REPEAT)
    ledger.close()
    return subs


def test_two_intakes_at_once(db: LedgerDb, tmp_path: Path) -> None:
    new_round(db, tmp_path)
    shared = make_inbox(tmp_path / "shared", 24, "s")
    a = make_inbox(tmp_path / "a", 12, "a")
    b = tmp_path / "b"
    b.mkdir()
    for path in shared[:6]:  # same content under other names: repeats, whoever comes second
        (b / f"copy_{path.name}").write_bytes(path.read_bytes())
    # Both take in the shared folder (same receipts: recorded once) plus a folder of their own.
    first = xlperf(db, "intake", "r", str(tmp_path / "shared"), str(tmp_path / "a"), "--sender", "x",
                   "--batch", "4", "--jobs", "1")
    second = xlperf(db, "intake", "r", str(tmp_path / "shared"), str(b), "--sender", "x", "--batch", "4", "--jobs", "1")
    for proc in (first, second):
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, (out, err)
        assert "Traceback" not in err
    subs = assert_consistent(db)
    states = Counter(s.state for s in subs)
    assert states == {CURRENT: len(shared) + len(a), REPEAT: 6}
    assert sorted(s.original_name for s in subs if s.state == CURRENT) == sorted(p.name for p in shared + a)


def test_killed_intake_is_resumed(db: LedgerDb, tmp_path: Path) -> None:
    new_round(db, tmp_path)
    inbox = make_inbox(tmp_path / "inbox", 40, "k")
    # The intake stops at k_008 (tests/gate.py) and is killed there: k_000..k_007 are checked,
    # k_008 and later are not, whatever the machine's speed.
    fifo = tmp_path / "gate"
    os.mkfifo(fifo)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("XLPERF_SIGNING_KEY", None)
    proc = subprocess.Popen([sys.executable, "-m", "xlperf", "round", *db.args(), "intake", "r", str(tmp_path / "inbox"),
                             "--batch", "2", "--jobs", "1"], env=gated_env(env, fifo, "k_008"), cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ledger = db.open()
    gate = wait_at_gate(fifo, proc)
    try:
        recorded = 0
        while recorded < 8:  # the batches before the gate are recorded by the intake's other thread
            assert proc.poll() is None
            time.sleep(0.05)
            with ledger.session() as session:
                recorded = session.scalar(select(func.count()).select_from(Submission)) or 0
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    finally:
        os.close(gate)
    with ledger.session() as session:
        before = session.scalar(select(func.count()).select_from(Submission)) or 0
    ledger.close()
    assert before == 8  # k_000..k_007: nothing at or after the gate
    assert_consistent(db)

    again = xlperf(db, "intake", "r", str(tmp_path / "inbox"), "--batch", "8")
    out, err = again.communicate(timeout=600)
    assert again.returncode == 0, (out, err)
    assert f"新登记 {len(inbox) - before}" in out and f"此前已登记 {before}" in out
    subs = assert_consistent(db)
    assert sorted(s.original_name for s in subs) == sorted(p.name for p in inbox)
