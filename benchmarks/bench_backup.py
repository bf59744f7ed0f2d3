"""What a backup and a restore take: ``xlperf backup``, ``xlperf restore`` (into a new SQLite file,
and into PostgreSQL when PGHOST etc. name a server, e.g. under ``pg_virtualenv -t``) and
``xlperf verify`` on a round of N returns taken in from a folder.

    python benchmarks/bench_backup.py [--n 2000] [--units 300] [--keep DIR]

Returns are made as ``bench_rollup.py`` makes them (``--keep DIR`` keeps and reuses them). Each
command runs as a user runs it (``python -m xlperf ...`` in a fresh process).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_rollup import make_inbox, make_units, write_roster  # noqa: E402

ROUND = "基准"


def xlperf(*argv: str) -> float:
    """Seconds ``python -m xlperf ARGV`` took."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for name in ("XLPERF_SIGNING_KEY", "XLPERF_DB", "XLPERF_STORE"):
        env.pop(name, None)
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "xlperf", *argv], env=env, cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - t0
    if done.returncode not in (0, 1):
        raise SystemExit(f"xlperf {' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return took


def postgres_url() -> str | None:
    """A fresh schema on the server PGHOST etc. name, as a URL (None: no server configured)."""
    if not all(os.environ.get(v) for v in ("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD", "PGDATABASE")):
        return None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import URL

    env, schema = os.environ, f"bench_{uuid.uuid4().hex[:12]}"
    url = URL.create("postgresql+psycopg", username=env["PGUSER"], password=env["PGPASSWORD"],
                     database=env["PGDATABASE"], query={"host": env["PGHOST"], "port": env["PGPORT"],
                                                        "options": f"-csearch_path={schema}"})
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return url.render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="returns to take in")
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (its returns are reused)")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-backup-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        print(f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.2f} (the machine is shared)")
        inbox, roster, made = work / "inbox", work / "roster.csv", work / "made"
        if not (made.exists() and made.read_text() == f"{args.n} {args.units}"):
            shutil.rmtree(inbox, ignore_errors=True)
            make_inbox(args.n, make_units(args.units, work / "units", seed=7), inbox, time.time() - 10 * args.n)
            write_roster(args.units, roster)
            made.write_text(f"{args.n} {args.units}")
        for old in work.glob("*.db*"):
            shutil.rmtree(old) if old.is_dir() else old.unlink()
        for old in work.glob("*.zip"):
            old.unlink()
        db = work / "ledger.db"
        xlperf("round", "--db", str(db), "new", ROUND, "--form", "self_evaluation", "--year", "2019",
               "--roster", str(roster))
        intake = xlperf("round", "--db", str(db), "intake", ROUND, str(inbox))
        archive = work / "backup.zip"
        backup = xlperf("backup", "-o", str(archive), "--db", str(db))
        stored = sum(p.stat().st_size for p in (work / "ledger.db.files").rglob("*") if p.is_file())
        print(f"{args.n} returns: intake {intake:.1f} s; ledger {db.stat().st_size / 1e6:.1f} MB, "
              f"store {stored / 1e6:.1f} MB; archive {archive.stat().st_size / 1e6:.1f} MB")
        print(f"xlperf backup                {backup:7.1f} s")
        restore = xlperf("restore", str(archive), "--db", str(work / "restored.db"))
        print(f"xlperf restore → SQLite      {restore:7.1f} s")
        verify = xlperf("verify", "--db", str(work / "restored.db"))
        print(f"xlperf verify (restored)     {verify:7.1f} s")
        url = postgres_url()
        if url:
            pg = xlperf("restore", str(archive), "--db", url, "--store", str(work / "pg.db.files"))
            print(f"xlperf restore → PostgreSQL  {pg:7.1f} s")
        start = xlperf("round", "--db", str(db), "list")
        print(f"  (start-up of a command: xlperf round list {start:.1f} s)")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
