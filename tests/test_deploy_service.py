"""Running as a service: the systemd units ``xlperf service print`` writes for this install
(checked by systemd-analyze), and ``xlperf serve --init`` taking an empty PostgreSQL database to
a running server-mode desk with one staff account and its unit."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from browser import ROOT, START_TIMEOUT_S, read_line, stop
from click.testing import CliRunner
from deskclient import PASSWORD, csrf_of
from ledger_support import LedgerDb
from required import missing

from xlperf import __version__
from xlperf.cli import main

ROUND = "2019年度 自评"


def unit(description: str, env: list[str], command: str, restart: int, after: str, workdir: Path) -> str:
    lines = [f"# 由 xlperf service print 生成（xlperf {__version__}）", "[Unit]", f"Description={description}",
             f"After={after}", "Wants=network-online.target", "", "[Service]", "Type=simple", "User=xlperf",
             "Group=xlperf", f"WorkingDirectory={workdir}", *(f"Environment={e}" for e in env),
             "EnvironmentFile=-/etc/xlperf/xlperf.env", f"ExecStart={sys.executable} -m xlperf {command}",
             "Restart=on-failure", f"RestartSec={restart}", "NoNewPrivileges=yes", "PrivateTmp=yes",
             "ProtectSystem=full", "", "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)


def _print_args(tmp: Path, *more: str) -> list[str]:
    return ["--forms", str(tmp / "forms"), "service", "print", "--db", "sqlite:///ledger/xlperf.db", "--store",
            str(tmp / "store"), "--workers", "2", "--root-path", "jixiao/", "--forwarded-allow-ips", "127.0.0.1",
            "--mail-config", "mail.ini", "--round", ROUND, *more]


def test_units_name_this_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "forms").mkdir()
    result = CliRunner().invoke(main, _print_args(tmp_path))
    assert result.exit_code == 0, result.output
    env = [f"XLPERF_DB=sqlite:///{tmp_path}/ledger/xlperf.db", f"XLPERF_STORE={tmp_path}/store",
           f"XLPERF_FORMS={tmp_path}/forms"]
    desk = unit("xlperf 绩效报表收报台（xlperf serve）", env,
                "serve --host 127.0.0.1 --port 8750 --workers 2 --root-path /jixiao/ --forwarded-allow-ips 127.0.0.1 "
                f"--mail-config {tmp_path}/mail.ini", 5, "network-online.target", tmp_path)
    watch = unit(f"xlperf 邮箱收报：{ROUND}（xlperf round watch）", env,
                 f'round watch "{ROUND}" --config {tmp_path}/mail.ini', 30, "network-online.target", tmp_path)
    assert result.stdout == f"# ---- xlperf-desk.service\n{desk}\n# ---- xlperf-watch.service\n{watch}\n"


def test_a_password_stays_out_of_the_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XLPERF_FORMS", raising=False)
    result = CliRunner().invoke(main, ["service", "print", "--db", "postgresql+psycopg://xlperf:s3cret@db.local/jixiao",
                                       "--store", str(tmp_path / "files"), "--workers", "1", "--host", "0.0.0.0"])
    assert result.exit_code == 0, result.output
    assert "s3cret" not in result.stdout
    assert "Environment=XLPERF_DB=postgresql+psycopg://xlperf@db.local/jixiao\n" in result.stdout
    assert "After=network-online.target postgresql.service\n" in result.stdout
    assert result.stderr == ("数据库地址中的口令未写入服务单元（单元文件人人可读）：请写入 /etc/xlperf/xlperf.env（chmod 600），"
                             "如 PGPASSWORD=口令。\n")


def systemd_analyze() -> str:
    found = shutil.which("systemd-analyze")
    if found is None:
        missing("systemd-analyze", "apt-get install systemd")
    return found


def test_systemd_accepts_the_units(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    analyze = systemd_analyze()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "forms").mkdir()
    result = CliRunner().invoke(main, _print_args(tmp_path, "--dir", str(tmp_path / "units")))
    assert result.exit_code == 0, result.output
    units = sorted((tmp_path / "units").iterdir())
    assert [u.name for u in units] == ["xlperf-desk.service", "xlperf-watch.service"]
    checked = subprocess.run([analyze, "verify", "--man=no", *map(str, units)], capture_output=True, text=True,
                             timeout=120)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


def _unit_command(text: str) -> tuple[list[str], dict[str, str]]:
    """What systemd runs for a unit: ExecStart's words and the Environment= variables (% and $
    as the unit escapes them)."""
    env = dict(line.removeprefix("Environment=").replace("%%", "%").split("=", 1)
               for line in text.splitlines() if line.startswith("Environment="))
    [command] = [line.removeprefix("ExecStart=") for line in text.splitlines() if line.startswith("ExecStart=")]
    return shlex.split(command.replace("%%", "%").replace("$$", "$")), env


@pytest.mark.parametrize("db", ["postgresql"], indirect=True)
def test_init_takes_an_empty_database_to_a_running_desk(db: LedgerDb, tmp_path: Path) -> None:
    """``serve --init`` on an empty PostgreSQL database, then the desk as its unit starts it (as
    root, which these tests run as, --init stops after writing the unit, as systemd is to start
    the desk as its own user): the first account signs in."""
    units = tmp_path / "units"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XLPERF_USER_PASSWORD": PASSWORD, "XLPERF_STORE": str(db.store)}
    init = subprocess.run([sys.executable, "-m", "xlperf", "serve", "--init", "--admin", "张三", "--db", db.url,
                           "--units-dir", str(units), "--forwarded-allow-ips", "127.0.0.1", "--port", "0",
                           "--workers", "1"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    assert "已添加账户：张三（经办人员）" in init.stdout
    assert f"已写出服务单元：{units / 'xlperf-desk.service'}" in init.stdout
    written = (units / "xlperf-desk.service").read_text(encoding="utf-8")
    assert os.environ["PGPASSWORD"] not in written
    command, variables = _unit_command(written)
    assert command == [sys.executable, "-m", "xlperf", "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "1",
                       "--forwarded-allow-ips", "127.0.0.1"]
    assert variables["XLPERF_STORE"] == str(db.store)
    # The password comes from the private environment file under systemd; here from PGPASSWORD.
    process = subprocess.Popen(command, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT), **variables},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = read_line(process, lambda text: text.strip().startswith("http://"), START_TIMEOUT_S).strip()
        with httpx.Client(base_url=url) as client:
            form = client.get("/login")
            assert form.status_code == 200  # server mode (accounts) behind a proxy, although on loopback
            signed = client.post("/login", data={"name": "张三", "password": PASSWORD,
                                                 "csrf_token": csrf_of(form.text), "next": "/"})
            assert (signed.status_code, signed.headers["location"]) == (303, "/")
            assert "张三（经办人员）" in client.get("/rounds").text
    finally:
        stop(process)
    again = subprocess.run(init.args, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and "已有账户，未新建账户。" in again.stdout, again.stdout + again.stderr
