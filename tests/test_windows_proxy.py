"""A clerk's Windows PC, tested by proxy (issue 25): workers spawned, xlperf without ``resource``
and ``fcntl``, a GBK console (:mod:`winenv`, :mod:`windows_proxy`).

Each test runs ``xlperf`` in a subprocess under that environment, and where a Linux run gives the
known answer, compares with it: the memory limit ends an oversized workbook with the same finding
whether the kernel (``RLIMIT_AS``) or the watchdog holds the worker to it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import hostile_corpus as corpus
import numpy
import pytest
from ledger_support import CLEAN, FORM, YEAR, make_return, write_roster
from sqlalchemy import select
from winenv import windows_env

from xlperf.checks.exceeded import FILE_TOO_COMPLEX
from xlperf.ledger import open_ledger
from xlperf.ledger.models import Submission

ROOT = Path(__file__).resolve().parent.parent
MiB = 1 << 20


def xlperf(*args: str, env: dict[str, str], cwd: Path | None = None) -> tuple[int, str, str]:
    """``xlperf`` in a subprocess: exit code, standard output and error decoded as the console's
    encoding (``PYTHONIOENCODING``) would show them."""
    env = {**env, "PYTHONPATH": str(ROOT)}
    encoding = env.get("PYTHONIOENCODING", "utf-8").partition(":")[0]
    done = subprocess.run([sys.executable, "-m", "xlperf", *args], env=env, cwd=cwd, capture_output=True,
                          timeout=280)
    return done.returncode, done.stdout.decode(encoding), done.stderr.decode(encoding, "replace")


def oversized(good: Path, dst: Path, mib: int = 100) -> Path:
    """``good`` with a custom XML part of ``mib`` MiB: within every bound of the guard (file size,
    inflated total, ratio about 30), so that only the memory limit stops its check (the guard
    holds the inflated part)."""
    parts = corpus.members(good)
    bits = numpy.random.default_rng(25).integers(0, 2, mib * MiB // 8)
    parts["customXml/item1.xml"] = b"<r>" + numpy.array([b"<v>0</v>", b"<v>1</v>"], dtype="S8")[bits].tobytes() + b"</r>"
    return corpus.write_zip(dst, parts)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("收件箱")
    good = corpus.good_return(folder / "东城区科技局.xlsx")
    oversized(good, folder / "超大工作簿.xlsx")
    return folder


def findings_by_file(stdout: str) -> dict[str, list[tuple[str, str]]]:
    doc = json.loads(stdout)
    return {Path(r["file"]).name: [(f["code"], f["message"]) for f in r["findings"] if f["severity"] == "error"]
            for r in doc["returns"]}


def test_the_memory_limit_holds_without_rlimits_with_the_rlimit_s_finding(inbox: Path, tmp_path: Path) -> None:
    args = ("check", str(inbox), "--json", "--file-memory", "64", "--file-seconds", "200")
    linux = xlperf(*args, env={k: v for k, v in os.environ.items()
                               if k not in ("PYTHONUSERBASE", "PYTHONIOENCODING", "XLPERF_START_METHOD")})
    windows = xlperf(*args, env=windows_env(tmp_path))
    assert linux[0] == windows[0] == 1, (linux[2], windows[2])
    expected = {"东城区科技局.xlsx": [],
                "超大工作簿.xlsx": [(FILE_TOO_COMPLEX, "文件“超大工作簿.xlsx”结构异常复杂，审核所需内存超过上限 64 MB，"
                                    "已停止审核（可能是损坏或恶意构造的文件）：请用 Excel 或 WPS 打开后另存为 .xlsx 再报送")]}
    assert findings_by_file(linux[1]) == expected
    assert findings_by_file(windows[1]) == expected


def test_a_return_s_text_beyond_gbk_prints_as_a_question_mark_on_a_gbk_console(tmp_path: Path) -> None:
    folder = tmp_path / "各单位报表"
    unit = "东城区科技局😀𠀀"  # an emoji and a rare character (CJK extension B): neither is in GBK
    make_return(folder / "东城区.xlsx", unit, **CLEAN)
    code, out, err = xlperf("check", str(folder), env=windows_env(tmp_path))
    assert "Traceback" not in err and code == 0, err  # a clean return: accepted
    line = next(line for line in out.splitlines() if line.startswith("["))
    assert f"东城区.xlsx  单位：东城区科技局??  表单：财政支出项目绩效自评表  年度：{YEAR}" in line


def test_round_intake_of_a_chinese_folder_on_windows_keeps_every_name(tmp_path: Path) -> None:
    env = windows_env(tmp_path)
    roster = write_roster(tmp_path / "名单")
    db = tmp_path / "台账 文件夹" / "绩效.db"
    db.parent.mkdir()
    assert xlperf("round", "--db", str(db), "new", "自评", "--form", FORM, "--year", str(YEAR),
                  "--roster", str(roster), env=env, cwd=tmp_path)[0] == 0
    inbox = tmp_path / "二〇二五年 收件箱" / "东城区"
    name = "东城区科技局（自评）😀.xlsx"
    make_return(inbox / name, "东城区科技局", **CLEAN)
    code, out, err = xlperf("round", "--db", str(db), "intake", "自评", str(inbox.parent), "--sender", "收件箱",
                            env=env, cwd=tmp_path)
    assert code == 0 and "Traceback" not in err, err
    assert "东城区科技局（自评）?.xlsx" in out and "东城区科技局：" in out
    assert out.splitlines()[-1].startswith("共 1 个文件：新登记 1，")
    ledger = open_ledger(str(db))
    with ledger.session() as session:
        stored: Any = session.scalars(select(Submission)).one()
        assert (stored.original_name, stored.unit_name) == (name, "东城区科技局")
        assert ledger.store.path(stored.sha256).read_bytes() == (inbox / name).read_bytes()


SPIN = """
import threading, time
import psutil
from xlperf.workers import pool
from xlperf.workers.limits import Limits

assert pool.resource is None  # the proxy: no rlimits for xlperf
pool._cpu_backstop(Limits(seconds=0.1))  # this file's ceiling: what was used, 0.4 s and a minute more
pool._file_cpu[:] = [pool._file_cpu[0] - 60]  # (less the minute: a test may not wait one)
looked = threading.Event()
threading.Thread(target=pool._watch_cpu, args=(psutil.Process(), looked, 0.05), daemon=True).start()
started = time.process_time()
while time.process_time() - started < 30:  # a file that spins in Python
    pass
print("still running")
"""


def test_without_rlimits_a_worker_that_spins_ends_itself_on_cpu_time(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-c", SPIN], env={**windows_env(tmp_path), "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, encoding="gbk", errors="replace", timeout=120)
    assert done.returncode == 1 and done.stdout == "", (done.stdout, done.stderr)
    assert re.search(r"worker \d+ ended: CPU time over \d+ s on one file", done.stderr), done.stderr
