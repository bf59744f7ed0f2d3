"""Workers are never forked from a process that holds a database engine or threads.

Each entry point that checks files runs as the real command (``python -m xlperf ...``) with a
probe in every Python process (:mod:`startmethod`): it records every fork with the forking
process's threads and SQLAlchemy engines at that moment, and every interpreter started. A
worker must come from the fork server (a fresh, single-threaded interpreter without an engine)
or be spawned; the command itself forks nothing. Before ``xlperf.workers.start``, ``check``,
``rollup``, ``round intake`` and ``round revalidate`` forked their workers from the command
(intake and revalidate with the ledger's engine, intake with its recording thread running).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from browser import serving
from click.testing import CliRunner
from ledger_support import CLEAN, make_return
from startmethod import PROBE_ENV, Started, probe_env, started
from test_intake_routes import http_upload, round_id
from test_watch import (  # noqa: F401  (the room fixture)
    BUREAU,
    PASSWORD,
    REJECTED,
    ROUND,
    Room,
    client_message,
    room,
)

from xlperf.cli import main
from xlperf.intake.imapconf import PASSWORD_ENV, USER_ENV
from xlperf.ledger.models import Submission
from xlperf.workers.start import START_ENV


def run(argv: list[str], probe: Path, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> tuple[Started, str]:
    """``python -m xlperf ARGV`` under the probe: what it saw, and the command's output."""
    process = subprocess.run([sys.executable, "-m", "xlperf", *argv], env=env, capture_output=True, text=True,
                             timeout=280)
    assert process.returncode in ok, (process.returncode, process.stdout, process.stderr)
    return started(probe, process_pid(probe, argv)), process.stdout


def process_pid(probe: Path, argv: list[str]) -> int:
    """The pid of the command (the process started with ``-m xlperf ARGV``)."""
    lines = [json.loads(line) for line in probe.read_text(encoding="utf-8").splitlines()]
    pids = [e["pid"] for e in lines if e["event"] == "start" and e["argv"][1:3] == ["-m", "xlperf"]
            and e["argv"][3:] == argv]
    assert len(pids) == 1, lines
    return pids[0]


def assert_safe(seen: Started, entry: str, method: str = "forkserver") -> None:
    assert seen.unsafe_forks() == [], f"{entry}: workers forked from a process with an engine or threads"
    workers = seen.workers()
    assert workers, f"{entry}: no worker started"
    assert {how for how, _, _ in workers} == {method}, (entry, workers)
    if method == "spawn":
        assert seen.forks == [] and all(parent == seen.command for _, _, parent in workers), (entry, seen)


@pytest.fixture()
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "inbox"
    make_return(folder / "自评表_东城区科技局.xlsx", "东城区科技局", **CLEAN)
    make_return(folder / "自评表_西山县中小企业局.xlsx", "西山县中小企业局", **REJECTED)
    return folder


def test_check_starts_workers_from_the_fork_server(inbox: Path, tmp_path: Path) -> None:
    env, probe = probe_env(tmp_path, {"XLPERF_SIGNING_KEY": None, "XLPERF_KEY_FILE": None})
    seen, out = run(["check", str(inbox)], probe, env, ok=(1,))
    assert_safe(seen, "check")
    assert "东城区科技局" in out and "西山县中小企业局" in out


def test_rollup_starts_workers_from_the_fork_server(inbox: Path, tmp_path: Path) -> None:
    env, probe = probe_env(tmp_path, {"XLPERF_SIGNING_KEY": None, "XLPERF_KEY_FILE": None})
    seen, _ = run(["rollup", str(inbox), "-o", str(tmp_path / "summary.xlsx")], probe, env, ok=(0, 1))
    assert_safe(seen, "rollup")
    assert (tmp_path / "summary.xlsx").stat().st_size > 0


def test_round_intake_starts_workers_from_the_fork_server(room: Room, inbox: Path, tmp_path: Path) -> None:  # noqa: F811
    env, probe = probe_env(tmp_path, room.env())
    seen, _ = run([*room.args(), "intake", ROUND, str(inbox)], probe, env, ok=(0, 1))
    assert_safe(seen, "round intake")
    assert seen.forks and all(f["parent"]["pid"] in seen.fork_servers() for f in seen.forks)


def test_round_revalidate_starts_workers_from_the_fork_server(room: Room, inbox: Path,  # noqa: F811
                                                              tmp_path: Path) -> None:
    room.run("intake", ROUND, str(inbox), ok=(0, 1))
    env, probe = probe_env(tmp_path, room.env())
    seen, out = run([*room.args(), "revalidate", ROUND], probe, env, ok=(0, 1))
    assert out.splitlines()[-1] == "已重新审核 2 份，结果变化 0 份。"
    assert_safe(seen, "round revalidate")


def test_round_watch_starts_workers_from_the_fork_server(room: Room, tmp_path: Path) -> None:  # noqa: F811
    data = room.workbook("南城.xlsx", "南城区商务局", **CLEAN)
    room.deliver(client_message("nancheng@example.gov.cn", "报表", [("自评表_南城区商务局.xlsx", data)],
                                message_id="start-1@m"))
    env, probe = probe_env(tmp_path, {**room.env(), USER_ENV: BUREAU, PASSWORD_ENV: PASSWORD})
    seen, _ = run([*room.args(), *room.watch_args("--once")], probe, env)
    assert_safe(seen, "round watch")
    assert [s.original_name for s in room.ledger_rows(Submission)] == ["自评表_南城区商务局.xlsx"]


def test_a_desk_upload_starts_workers_from_the_fork_server(room: Room, tmp_path: Path) -> None:  # noqa: F811
    env, probe = probe_env(tmp_path, {})
    with serving(room.db, room.files.parent, "--workers", "1",
                 env={"XLPERF_STORE": str(room.files), "PYTHONPATH": env["PYTHONPATH"],
                      PROBE_ENV: env[PROBE_ENV]}) as desk:
        response = http_upload(desk.url, round_id(room, ROUND),
                               [("自评表_北湖县工信局.xlsx", room.workbook("北湖.xlsx", "北湖县工信局", **CLEAN))])
        assert response.status_code == 200, response.text
        seen = started(probe, desk.process.pid)
    assert_safe(seen, "desk upload")
    assert [s.original_name for s in room.ledger_rows(Submission)] == ["自评表_北湖县工信局.xlsx"]


def test_a_batch_under_spawn_is_checked_as_under_the_fork_server(room: Room, tmp_path: Path) -> None:  # noqa: F811
    """Windows has no fork server: each worker is a fresh interpreter (``XLPERF_START_METHOD=spawn``
    forces it here). A real intake of a batch of returns gives the same outcomes."""
    folder = tmp_path / "batch"
    units = ["东城区科技局", "西山县中小企业局", "南城区商务局", "北湖县工信局"]
    for n, unit in enumerate(units):
        make_return(folder / f"自评表_{unit}.xlsx", unit, **(CLEAN if n % 2 == 0 else REJECTED))
    env, probe = probe_env(tmp_path, {**room.env(), START_ENV: "spawn"})
    seen, _ = run([*room.args(), "intake", ROUND, str(folder), "--jobs", "2"], probe, env, ok=(0, 1))
    assert_safe(seen, "round intake (spawn)", method="spawn")
    assert len(seen.workers()) == 2
    status = json.loads(room.run("status", ROUND, "--json").output)
    assert {r["unit"]: r["status"] for r in status["rows"] if r["unit"] in units} == {
        "东城区科技局": "通过（有提示）", "西山县中小企业局": "退回", "南城区商务局": "通过（有提示）",
        "北湖县工信局": "退回"}


def test_fork_is_not_offered(room: Room, inbox: Path) -> None:  # noqa: F811
    result = CliRunner().invoke(main, [*room.args(), "intake", ROUND, str(inbox)], env={START_ENV: "fork"})
    assert result.exit_code == 2
    assert "环境变量 XLPERF_START_METHOD='fork' 无效：应为 forkserver 或 spawn" in result.output
    assert room.ledger_rows(Submission) == []
