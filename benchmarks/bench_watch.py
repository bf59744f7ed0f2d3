"""Time from a message arriving in the mailbox to its reply being accepted by the SMTP server.

    python benchmarks/bench_watch.py [--messages 6] [--interval 5]

Starts Dovecot (as the tests do, tests/servers.py) and an aiosmtpd server on loopback, makes an
SQLite ledger with a round, and runs ``xlperf round watch --interval 5`` as its own process, as a
bureau would. After one warm-up message, each message (a real return: a template filled with the
sample values) is APPENDed at a random moment of the polling cycle; the clock stops when the SMTP
server has accepted the reply that answers it (In-Reply-To). Prints each time, then min, median
and max; the goal is under 10 s with --interval 5.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from ledger_support import CLEAN, FORM, YEAR, make_return, write_roster  # noqa: E402
from servers import Dovecot, LoopbackController  # noqa: E402

from xlperf.ledger import create_round, open_ledger  # noqa: E402
from xlperf.read.roster import read_roster  # noqa: E402

USER, PASSWORD = "czj", "bench-pw"


class Arrivals:
    """Notes when each reply arrives, by the Message-ID it answers."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = threading.Condition()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.changed:
            self.at[str(message["In-Reply-To"])] = time.monotonic()
            self.changed.notify_all()
        return "250 2.0.0 OK"

    def wait(self, message_id: str, timeout: float) -> float | None:
        with self.changed:
            self.changed.wait_for(lambda: message_id in self.at, timeout)
            return self.at.get(message_id)


def message(n: int, workbook: bytes) -> tuple[str, bytes]:
    msg = EmailMessage()
    msg["From"] = "张明 <dongcheng@example.gov.cn>"
    msg["To"] = "czj@example.gov.cn"
    msg["Subject"] = f"报送绩效自评表（第 {n} 次）"
    msg["Message-ID"] = message_id = f"<bench-{n}-{time.time_ns()}@example.gov.cn>"
    msg.set_content("请查收。")
    msg.add_attachment(workbook, maintype="application", subtype="octet-stream", filename=f"自评表_东城区科技局_{n}.xlsx")
    return message_id, msg.as_bytes()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=6)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="xlperf-bench-watch-"))
    imap = Dovecot({USER: PASSWORD})
    imap.start()
    arrivals = Arrivals()
    smtp = LoopbackController(arrivals)  # binds a port of the system's choosing
    smtp.start()
    db, store = work / "ledger.db", work / "files"
    ledger = open_ledger(str(db), store)
    with ledger.session() as session, session.begin():
        create_round(session, "bench", FORM, YEAR, read_roster(write_roster(work)))
    ledger.close()
    workbooks = [make_return(work / f"r{n}.xlsx", "东城区科技局", **{**CLEAN, "spent_city": 30 + n}).read_bytes()
                 for n in range(args.messages + 1)]
    env = {**os.environ, "XLPERF_IMAP_USER": USER, "XLPERF_IMAP_PASSWORD": PASSWORD,
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]), os.environ.get("PYTHONPATH", "")])}
    env.pop("XLPERF_SIGNING_KEY", None)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "xlperf", "round", "--db", str(db), "--store", str(store), "watch", "bench",
         "--imap", f"127.0.0.1:{imap.port}", "--tls", "none", "--interval", str(args.interval),
         "--smtp", f"127.0.0.1:{smtp.port}", "--smtp-tls", "none", "--from", "绩效科 <jixiao@czj.example.gov.cn>"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times: list[float] = []
    try:
        warm_id, raw = message(0, workbooks[0])  # the first message pays for imports and caches
        imap.append(USER, raw)
        if arrivals.wait(warm_id, 120) is None:
            print("warm-up message got no reply within 120 s")
            return 1
        for n in range(1, args.messages + 1):
            time.sleep(rng.uniform(0, args.interval))  # arrive anywhere in the polling cycle
            message_id, raw = message(n, workbooks[n])
            start = time.monotonic()
            imap.append(USER, raw)
            done = arrivals.wait(message_id, 60)
            if done is None:
                print(f"message {n}: no reply within 60 s")
                return 1
            times.append(done - start)
            print(f"message {n}: reply accepted {times[-1]:.2f} s after the APPEND")
    finally:
        watcher.terminate()
        watcher.wait(30)
        smtp.stop()
        imap.cleanup()
    print(f"arrival → reply accepted, --interval {args.interval:g}: min {min(times):.2f} s, "
          f"median {statistics.median(times):.2f} s, max {max(times):.2f} s (goal < 10 s)")
    return 0 if max(times) < 10 else 1


if __name__ == "__main__":
    sys.exit(main())
