"""Every command line README documents is run here as a user types it (bash, in a folder holding
the files its examples name), or is listed in :data:`NOT_RUN` with the reason. The command lines
are found by parsing README's ``bash`` code blocks, so a command added to README without being
run or listed fails this test.

Each code block runs in its own ledger (``XLPERF_DB``), in the order written; the mail servers
are real (aiosmtpd, Dovecot on loopback), named by the config files README's examples use.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import openpyxl
import pytest
from ledger_support import CLEAN, make_return
from servers import Dovecot, SmtpStart

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"

NOT_RUN = {
    "pip install -e . && xlperf demo": "installs the package: what .ci/run does before the tests ("
                                       "`xlperf demo` is run on its own below)",
    "apt-get update && apt-get install -y libreoffice-calc-nogui fonts-noto-cjk python3-uno gnumeric poppler-utils "
    "postgresql dovecot-imapd chromium chromium-driver nginx systemd && pip install -e \".[test]\" && ruff check xlperf tests "
    "benchmarks && mypy && XLPERF_REQUIRE_ALL=1 pg_virtualenv -- pytest":
        "installs system packages and runs this suite: .ci/run does the same",
    "xlperf serve": "serves until stopped: tests/browser.py starts `xlperf serve` for every browser test",
    "xlperf rollup 收件箱/ -o 汇总.xlsx --roster 单位名单.csv --scheduler tcp://10.0.0.5:8786":
        "a scheduler on another machine: test_rollup.py runs this command against `dask scheduler` and "
        "`dask worker` processes on loopback",
    "xlperf rollup /mnt/shared/收件箱/ -o 汇总.xlsx --scheduler tcp://10.0.0.5:8786 --shared-folder /mnt/shared":
        "a scheduler and a share on other machines: test_rollup.py checks --shared-folder on a cluster",
    "xlperf mail 审核报告/ --roster 单位名单.csv --smtp smtp.example.gov.cn:465 --from "
    "\"绩效科 <jixiao@czj.example.gov.cn>\"": "the bureau's mail server: the same options are run against "
                                             "aiosmtpd by test_mail.py, and `--config mail.ini` below",
    "read -rs XLPERF_SMTP_PASSWORD && export XLPERF_SMTP_PASSWORD XLPERF_SMTP_USER=jixiao@czj.example.gov.cn":
        "reads a password from the terminal (test_mail.py sets these variables)",
    "xlperf round new 2024整改 --rectify 2024自评 --deadline 2025-09-30":
        "needs a project graded 中 or 差 or sent back with a note; the block's 2024自评 holds one return of its year, "
        "made CLEAN: test_rectify.py runs --rectify, --select and rectify-forms on SQLite and PostgreSQL",
    "xlperf round rectify-forms 2024整改 -o 整改表/": "writes the forms of the 整改 round above: test_rectify.py "
                                                    "opens them with openpyxl",
    "xlperf round mail 2024自评 --smtp … --from …": "\"…\" stands for a server and a sender: "
                                                    "test_ledger_mail.py runs round mail against aiosmtpd",
    "xlperf round issue 2025自评 --smtp … --from …": "\"…\" stands for a server and a sender: "
                                                     "test_round_chain.py runs round issue against aiosmtpd",
    "xlperf serve --host 0.0.0.0 --db postgresql+psycopg://…/xlperf --ssl-certfile cert.pem --ssl-keyfile key.pem":
        "serves until stopped; test_web_server_mode.py runs it with --workers 2, TLS and PostgreSQL",
    "xlperf serve --mail-config mail.ini": "serves until stopped; test_web_pages.py sends mail from the desk",
    "xlperf round watch 2024自评 --config xlperf.ini --interval 60": "watches until stopped: test_watch.py runs "
                                                                   "and kills a watcher with --interval",
    "XLPERF_STORE=/srv/xlperf/files xlperf serve --init --admin 李会计 --db postgresql+psycopg://xlperf@localhost/jixiao "
    "--forwarded-allow-ips 127.0.0.1 --root-path /jixiao/": "serves until stopped, on the bureau's database: "
                                                          "test_deploy_service.py runs --init on a real PostgreSQL",
    "useradd --system --home-dir /srv/xlperf xlperf": "adds a system user (root): the units name it",
    "xlperf service print --dir /etc/systemd/system": "writes into /etc (root): test_deploy_service.py writes the "
                                                      "units into a temporary folder and runs systemd-analyze verify",
    "systemctl daemon-reload && systemctl enable --now xlperf-desk.service xlperf-watch.service":
        "starts services under systemd (root, a running systemd)",
    "pip wheel --no-deps -w 安装包/ .": "builds a wheel: tests/test_package.py builds, downloads and installs "
                                      "exactly so, with no index reachable",
    "pip download -d 安装包/ 安装包/xlperf-0.1.0-py3-none-any.whl": "downloads from an index: tests/test_package.py",
    "pip install --no-index --find-links 安装包/ xlperf": "installs the package: tests/test_package.py, into a new venv",
    "xlperf restore 备份/台账.zip --db postgresql+psycopg://…/jixiao --store /srv/xlperf/files":
        "\"…\" stands for a server: test_backup.py restores an SQLite backup into PostgreSQL",
    **{f"python benchmarks/{name}": "a benchmark: minutes of measurement, run by hand (README's figures)"
       for name in ("bench_read.py", "bench_check.py", "bench_rollup.py", "bench_rollup.py --runs 4 --dask-workers 1,2",
                    "bench_write.py --keep DIR", "bench_ledger.py", "bench_desk.py", "bench_watch.py",
                    "bench_backup.py")},
}
"""Command lines not run here, with the reason (a line as README writes it, comment removed)."""

EXIT_CODES = {
    "xlperf check 收件箱/": 1,  # the demo's 西山 return is rejected
    "xlperf check 收件箱/ --report-dir 审核报告/": 1,
    "xlperf check 收件箱/ --json > 结果.json": 1,
    "xlperf check 收件箱/ --strict": 1,
    "xlperf round intake 2024自评 收件箱/": 1,
    # The demo's self-evaluations were not filled on the bureau's signed templates: rejected.
    "xlperf check 自评表/ --against 申报表/ --key-file 签名密钥.key": 1,
}
"""Exit codes other than 0 (1: a return was rejected)."""

OPTIONAL = re.compile(r" \[([^\]]+)\]")
ALTERNATIVES = re.compile(r"^(xlperf round) (\w+(?:\|\w+)+) (.*)$")


def readme_commands() -> list[list[str]]:
    """The command lines of each ``bash`` block of README (a trailing ``# comment`` removed)."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"^```bash\n(.*?)^```", text, re.S | re.M)
    return [[re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines()
             if line.strip() and not line.lstrip().startswith("#")] for block in blocks]


def as_run(line: str) -> list[str]:
    """The lines typed for one documented line: ``[--opt x]`` with the option, ``a|b|c`` once each."""
    line = OPTIONAL.sub(r" \1", line)
    match = ALTERNATIVES.match(line)
    if match:
        return [f"{match.group(1)} {word} {match.group(3)}" for word in match.group(2).split("|")]
    return [line]


def test_every_documented_command_is_run_or_listed() -> None:
    documented = [line for block in readme_commands() for line in block]
    assert len(documented) == len(set(documented)) + 1  # `xlperf serve` is documented twice
    assert set(NOT_RUN) <= set(documented), set(NOT_RUN) - set(documented)  # nothing stale listed
    assert set(EXIT_CODES) <= {typed for line in documented for typed in as_run(line)}


@pytest.fixture
def folder(tmp_path: Path, lo_recalc: Callable[..., dict[Path, Path]]) -> Path:
    """A folder with what README's examples name: 收件箱/ (the demo's returns), 单位名单.csv/.xlsx
    and 名单.csv (the demo's roster), 新名单.csv (less one unit), prefill.json, my_local_form.yaml, 申报表/ (a filled
    declaration), 自评表/ (the demo's self-evaluations); an ``xlperf`` on PATH that runs this tree."""
    from test_spec_errors import MINI

    from xlperf.cli.demo import SAMPLES_DIR

    work = tmp_path / "work"
    work.mkdir()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "xlperf").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m xlperf "$@"\n', encoding="utf-8")
    (bin_dir / "xlperf").chmod(0o755)
    (bin_dir / "python").symlink_to(sys.executable)
    roster = SAMPLES_DIR / "roster.csv"
    for name in ("单位名单.csv", "名单.csv"):
        shutil.copy(roster, work / name)
    # 新名单.csv (`round roster`): the same roster less its last unit, which leaves the round
    rows = roster.read_text(encoding="utf-8-sig").splitlines()
    (work / "新名单.csv").write_text("\n".join(rows[:-1]) + "\n", encoding="utf-8")
    book = openpyxl.Workbook()
    with open(roster, encoding="utf-8-sig", newline="") as f:
        for row in csv.reader(f):
            book.active.append(row)
    book.save(work / "单位名单.xlsx")
    (work / "prefill.json").write_text(json.dumps({"project_name": "中小企业公共服务平台运营经费"}, ensure_ascii=False),
                                       encoding="utf-8")
    (work / "my_local_form.yaml").write_text(MINI, encoding="utf-8")
    return work


def fill_declaration(folder: Path) -> None:
    """After ``template target_declaration ... -o 申报模板/``: 东湖区科技局 fills its signed
    template (the sample declaration's values, the prefilled cells left as issued) into 申报表/."""
    from xlperf.cli.demo import sample_values
    from xlperf.excel.fill import fill_workbook
    from xlperf.form.registry import builtin_layout
    [template] = [p for p in (folder / "申报模板").iterdir() if "东湖区科技局" in p.name]
    layout = builtin_layout("target_declaration")
    issued = openpyxl.load_workbook(template)

    def prefilled(key: str) -> bool:
        sheet, row, col = layout.address(key)
        return issued[sheet].cell(row + 1, col + 1).value not in (None, "")

    values = {k: v for k, v in sample_values("target_declaration").items()
              if k in {f.key for f in layout.inputs()} and not prefilled(k)}
    fill_workbook(template, values, folder / "申报表" / template.name)


def fill_monitoring(folder: Path) -> None:
    """After ``template performance_monitoring --from-returns 申报表/ -o 监控模板/``: the unit fills its
    prefilled template (the sample's execution, progress and footer; the locked cells left as
    issued) into 监控表/."""
    from xlperf.cli.demo import sample_values
    from xlperf.excel.fill import fill_workbook
    from xlperf.read import read_return

    [template] = list((folder / "监控模板").iterdir())
    issued = {k for k, v in read_return(template).values.items() if v not in (None, "")}
    values = {k: v for k, v in sample_values("performance_monitoring").items() if k not in issued}
    budget = float(read_return(template).values["budget_general"] or 0)
    values["exec_general"] = round(budget * 0.55, 2)  # ahead of the time progress, within the declared budget
    for key in issued:
        if key.endswith("_name") and key.startswith("ind_"):  # each declared indicator: progress and likelihood
            row = key.removesuffix("_name")
            values.update({f"{row}_progress": "按计划推进", f"{row}_likelihood": "确定能"})
    fill_workbook(template, values, folder / "监控表" / template.name)


def fill_own_form(folder: Path) -> None:
    """After ``template 本局表单/my_self_evaluation.yaml -o 我的自评表.xlsx``: a unit fills the bureau's
    own form (the sample self-evaluation's values: its keys are the copy's) into 已填报/."""
    from xlperf.cli.demo import sample_values
    from xlperf.excel.fill import fill_workbook

    fill_workbook(folder / "我的自评表.xlsx", sample_values("self_evaluation"), folder / "已填报" / "我的自评表.xlsx")


def submission_of(folder: Path, env: dict[str, str], unit: str) -> str:
    """The number of ``unit``'s current submission (README's example says 17)."""
    out = subprocess.run(["bash", "-c", "xlperf round status 2024自评 --json"], cwd=folder, env=env,
                         capture_output=True, text=True, timeout=300, check=True).stdout
    rows = json.loads(out)["rows"]
    found = [r["submission"] for r in rows if r["unit"] == unit and r.get("submission")]
    assert found, rows
    return str(found[0])


def test_readme_commands_run_as_documented(folder: Path, tmp_path: Path, smtp_server: SmtpStart,
                                           dovecot: Callable[..., Dovecot]) -> None:
    controller, store = smtp_server()
    imap = dovecot({"jixiao": "pw-收件"})
    (folder / "mail.ini").write_text(f"[smtp]\nhost = 127.0.0.1\nport = {controller.port}\ntls = none\n"
                                     "from = 财政局绩效科 <jixiao@czj.example.gov.cn>\n", encoding="utf-8")
    (folder / "xlperf.ini").write_text(
        f"[imap]\nhost = 127.0.0.1\nport = {imap.port}\ntls = none\nuser = jixiao\npassword = pw-收件\n"
        f"folder = INBOX\n[smtp]\nhost = 127.0.0.1\nport = {controller.port}\ntls = none\n"
        "from = 财政局绩效科 <jixiao@czj.example.gov.cn>\n", encoding="utf-8")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}", "PYTHONPATH": str(ROOT),
           "XLPERF_USER_PASSWORD": "绩效-口令-2026"}
    for name in ("XLPERF_SIGNING_KEY", "XLPERF_KEY_FILE", "XLPERF_SMTP_USER", "XLPERF_SMTP_PASSWORD", "XLPERF_DB"):
        env.pop(name, None)
    ran, failures = [], []
    for n, block in enumerate(readme_commands()):
        block_env = {**env, "XLPERF_DB": f"sqlite:///{folder / f'block{n}.db'}"}
        for line in block:
            if line in NOT_RUN:
                continue
            for typed in as_run(line):
                command = typed
                if " 2024自评 17 " in typed:  # the example's submission number: a real one of this ledger
                    command = typed.replace(" 17 ", f" {submission_of(folder, block_env, '东湖区科技局')} ")
                if typed.startswith("xlperf backup "):  # the ledger backed up: the demo's (its round and files)
                    for part in (folder / "output").glob("xlperf.db*"):  # with its -wal, if one is left
                        copy = shutil.copytree if part.is_dir() else shutil.copy
                        copy(part, folder / part.name.replace("xlperf.db", f"block{n}.db"))
                result = subprocess.run(["bash", "-c", command], cwd=folder, env=block_env, capture_output=True,
                                        text=True, timeout=600)
                ran.append(typed)
                expected = EXIT_CODES.get(typed, 0)
                if result.returncode != expected or "Traceback" in result.stderr:
                    failures.append(f"{typed}: exit {result.returncode} (expected {expected})\n"
                                    f"{result.stdout[-2000:]}{result.stderr[-2000:]}")
                if typed == "xlperf demo":  # its returns become the examples' 收件箱/ and 自评表/
                    shutil.copytree(folder / "output" / "returns", folder / "收件箱")
                    (folder / "自评表").mkdir()
                    for path in (folder / "收件箱").glob("自评表_*.xlsx"):
                        shutil.copy2(path, folder / "自评表" / path.name)
                    # and a 2024 return of 东湖区科技局 for the examples' round 2024自评 (the demo's are 2019)
                    make_return(folder / "收件箱" / "自评表_东湖区科技局_2024.xlsx", "东湖区科技局", year=2024, **CLEAN)
                if typed.startswith("xlperf template target_declaration --roster"):
                    fill_declaration(folder)
                if typed.startswith("xlperf template performance_monitoring --from-returns"):
                    fill_monitoring(folder)
                if typed.startswith("xlperf template 本局表单/my_self_evaluation.yaml"):
                    fill_own_form(folder)
    assert failures == [], "\n\n".join(failures)
    assert ran == [typed for block in readme_commands() for line in block if line not in NOT_RUN for typed in as_run(line)]
    assert len(ran) == 64  # 54 before, the four lines of 备份与恢复, `xlperf service print` (部署), the two monitoring lines of 年度循环, round new --from-round, round templates, round chain
    # Real mail: `round remind` to all 8 units of the watch block's 2024自评 (its mailbox was empty,
    # so none has sent anything), and `mail --config mail.ini --only-failed` to the 5 demo units
    # whose returns need changes.
    from xlperf.cli.demo import SAMPLES_DIR
    from xlperf.read.roster import read_roster

    mailed = sorted(r.rcpt_tos[0] for r in store.received)
    assert len(mailed) == 13, mailed
    assert set(mailed) == {u.email for u in read_roster(SAMPLES_DIR / "roster.csv").units}
