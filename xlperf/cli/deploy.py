"""Running the desk in a bureau: systemd units (``xlperf service print``), the proxy and log
options of ``xlperf serve``, and ``xlperf serve --init`` (schema, first account, units).

The units name this install's paths: the Python that runs xlperf, the ledger (its password never:
unit files are readable by everyone; it goes into the private environment file), the file store
and the forms folders. Both run as a dedicated system user and are restarted on failure.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from xlperf import __version__
from xlperf.ledger.oplog import LEVELS

if TYPE_CHECKING:
    from xlperf.ledger import Ledger

DESK_UNIT = "xlperf-desk.service"
WATCH_UNIT = "xlperf-watch.service"
ENV_FILE = "/etc/xlperf/xlperf.env"
"""Secrets for both units (mode 600, root's): XLPERF_SESSION_SECRET, PGPASSWORD, XLPERF_IMAP_PASSWORD …"""
UNITS_DIR = "/etc/systemd/system"
SERVICE_USER = "xlperf"
USER_PASSWORD_ENV = "XLPERF_USER_PASSWORD"

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def _stack(*options: Decorator) -> Decorator:
    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command
    return apply


proxy_options = _stack(
    click.option("--root-path", default="", metavar="/路径/",
                 help="反向代理把收报台放在子路径下时的路径，如 /jixiao/（代理须去掉该前缀再转发）。"),
    click.option("--forwarded-allow-ips", metavar="地址",
                 help="反向代理的地址（多个用逗号分隔）：只相信来自这些地址的 X-Forwarded-For / X-Forwarded-Proto；"
                      "给出时为服务器模式（即使监听本机地址），代理说明是 HTTPS 时登录 Cookie 只经 HTTPS 发送。"))
log_options = _stack(
    click.option("--log-level", type=click.Choice(LEVELS), default="info", show_default=True, help="日志级别。"),
    click.option("--log-file", type=click.Path(dir_okay=False),
                 help="日志文件（追加写入，logrotate 轮转后自动重新打开）；默认写到标准错误输出。"))
init_options = _stack(
    click.option("--init", is_flag=True,
                 help="首次部署：建立数据库表、创建第一个经办人员账户（--admin）、写出 systemd 服务单元（--units-dir），然后启动。"),
    click.option("--admin", metavar="姓名", help="--init 创建的经办人员（staff）账户；密码从环境变量 XLPERF_USER_PASSWORD 读取，未设置时提示输入。"),
    click.option("--units-dir", type=click.Path(file_okay=False),
                 help=f"--init 写出服务单元的文件夹（默认 {UNITS_DIR}）。"),
    click.option("--service-user", default=SERVICE_USER, show_default=True, help="服务单元中运行程序的系统用户。"))


@dataclass(frozen=True)
class Install:
    """What the units of this install name."""

    python: str
    db_url: str
    """Without its password."""
    store: Path
    forms: str
    user: str
    postgres: bool


def install_of(db: str | None, store: str | Path | None, user: str) -> tuple[Install, bool]:
    """This install's paths; and whether the ledger's URL had a password (left out of the units)."""
    from sqlalchemy.engine import make_url

    from xlperf.form.registry import forms_folders
    from xlperf.ledger.db import STORE_ENV, database_url, default_store

    url = make_url(database_url(db))
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        url = url.set(database=str(Path(str(url.database)).resolve()))  # the service starts elsewhere
    had_password = url.password is not None
    shown = url._replace(password=None).render_as_string(hide_password=False)  # set() ignores None
    chosen = store or os.environ.get(STORE_ENV) or default_store(shown)
    return Install(python=sys.executable, db_url=shown, store=Path(chosen).resolve(),
                   forms=os.pathsep.join(str(f.resolve()) for f in forms_folders()), user=user,
                   postgres=url.get_backend_name() == "postgresql"), had_password


def quote(arg: str, command: bool = True) -> str:
    """One word of ExecStart= (``command``) or one assignment of Environment= as systemd reads it:
    its own quoting, % doubled (a specifier otherwise), and $ doubled in a command line (a
    variable otherwise; Environment= expands none)."""
    arg = arg.replace("%", "%%")
    if command:
        arg = arg.replace("$", "$$")
    if arg and not any(c in arg for c in ' \t"\'\\;'):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _unit(install: Install, description: str, command: list[str], restart_sec: int) -> str:
    after = "network-online.target" + (" postgresql.service" if install.postgres else "")
    env = [f"XLPERF_DB={install.db_url}", f"XLPERF_STORE={install.store}"]
    if install.forms:
        env.append(f"XLPERF_FORMS={install.forms}")
    lines = [
        f"# 由 xlperf service print 生成（xlperf {__version__}）",
        "[Unit]",
        f"Description={description.replace('%', '%%')}",
        f"After={after}",
        "Wants=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={install.user}",
        f"Group={install.user}",
        "WorkingDirectory=" + str(install.store.parent).replace("%", "%%"),  # a path: never quoted
        *(f"Environment={quote(e, command=False)}" for e in env),
        f"EnvironmentFile=-{ENV_FILE}",
        "ExecStart=" + " ".join(quote(a) for a in [install.python, "-m", "xlperf", *command]),
        "Restart=on-failure",
        f"RestartSec={restart_sec}",
        "NoNewPrivileges=yes",
        "PrivateTmp=yes",
        "ProtectSystem=full",
        "",
        "[Install]",
        "WantedBy=multi-user.target",
        "",
    ]
    return "\n".join(lines)


def desk_unit(install: Install, serve: list[str]) -> str:
    return _unit(install, "xlperf 绩效报表收报台（xlperf serve）", ["serve", *serve], 5)


def watch_unit(install: Install, round_name: str, mail_config: str | None) -> str:
    command = ["round", "watch", round_name] + (["--config", str(Path(mail_config).resolve())] if mail_config else [])
    return _unit(install, f"xlperf 邮箱收报：{round_name}（xlperf round watch）", command, 30)


def serve_args(host: str, port: int, workers: int, root_path: str, forwarded_allow_ips: str | None,
               mail_config: str | None, log_level: str, log_file: str | None) -> list[str]:
    """The options of ``xlperf serve`` that the desk's unit repeats (the ledger is in its environment)."""
    args = ["--host", host, "--port", str(port), "--workers", str(workers)]
    if root_path:
        args += ["--root-path", root_path + "/"]
    if forwarded_allow_ips:
        args += ["--forwarded-allow-ips", forwarded_allow_ips]
    if mail_config:
        args += ["--mail-config", str(Path(mail_config).resolve())]
    if log_level != "info":
        args += ["--log-level", log_level]
    if log_file:
        args += ["--log-file", str(Path(log_file).resolve())]
    return args


def require_server_mode(host: str, forwarded_allow_ips: str | None) -> None:
    """A service is the bureau's desk, with accounts: on loopback only behind a proxy."""
    from xlperf.web.config import is_loopback

    if is_loopback(host) and not forwarded_allow_ips:
        raise click.UsageError(f"以服务运行的收报台须为服务器模式：在反向代理之后请给出 --forwarded-allow-ips 代理地址，"
                               f"否则请用 --host 给出本机在内网中的地址（现为 {host}，仅本机可访问）。")


PASSWORD_NOTE = (f"数据库地址中的口令未写入服务单元（单元文件人人可读）：请写入 {ENV_FILE}（chmod 600），"
                 "如 PGPASSWORD=口令。")


def write_units(units: dict[str, str], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in units.items():
        path = folder / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def first_run(db: str | None, admin: str | None, units_dir: str | None, user: str,
              open_ledger: Callable[[str | None], Ledger], actor: str, serve: list[str],
              host: str, forwarded_allow_ips: str | None) -> Ledger:
    """``xlperf serve --init``: the schema (opening migrates), the first staff account unless there
    is one, the desk's unit; the ledger, open, for the desk to start on."""
    from xlperf.web import add_user, has_users

    if not admin:
        raise click.UsageError("--init 需要 --admin 姓名：第一个经办人员账户。")
    require_server_mode(host, forwarded_allow_ips)
    folder = Path(units_dir or UNITS_DIR)
    probe = folder if folder.exists() else folder.parent
    if not os.access(probe, os.W_OK):
        raise click.ClickException(f"无法写入服务单元文件夹 {folder}：请以 root 运行，或用 --units-dir 指定可写的文件夹。")
    install, had_password = install_of(db, None, user)
    ledger = open_ledger(db)
    click.echo(f"数据库表已就绪：{ledger.shown_url}")
    if has_users(ledger):
        click.echo("已有账户，未新建账户。")
    else:
        password = os.environ.get(USER_PASSWORD_ENV) or click.prompt("密码", hide_input=True,
                                                                    confirmation_prompt="再次输入密码")
        created = add_user(ledger, admin, "staff", password, actor=actor)
        click.echo(f"已添加账户：{created.name}（{created.role_label}）")
    for path in write_units({DESK_UNIT: desk_unit(install, serve)}, folder):
        click.echo(f"已写出服务单元：{path}")
    if had_password:
        click.echo(PASSWORD_NOTE)
    click.echo(f"以服务运行：useradd --system {user}（如尚无此用户），然后 systemctl daemon-reload && "
               f"systemctl enable --now {DESK_UNIT}")
    return ledger


@click.group("service", help="以系统服务运行收报台和邮箱收报（systemd）。")
def service_group() -> None:
    pass


@service_group.command("print", help="按本机的安装路径写出 systemd 服务单元：收报台（xlperf serve，服务器模式）"
                       "和（给出 --round 时）邮箱收报（xlperf round watch）。默认显示；给出 --dir 时写入该文件夹。")
@click.option("--db", help="账本数据库（SQLAlchemy URL；也可用环境变量 XLPERF_DB）。")
@click.option("--store", type=click.Path(file_okay=False), help="原文件存档文件夹（也可用环境变量 XLPERF_STORE）。")
@click.option("--host", default="127.0.0.1", show_default=True, help="收报台监听地址。")
@click.option("--port", default=8750, show_default=True, type=click.IntRange(1, 65535), help="收报台端口。")
@click.option("--workers", type=click.IntRange(1, 64), default=os.cpu_count() or 1, show_default="CPU 核数",
              help="收报台工作进程数。")
@proxy_options
@click.option("--mail-config", type=click.Path(dir_okay=False), help="邮件配置文件（INI）：收报台的 --mail-config，邮箱收报的 --config。")
@log_options
@click.option("--round", "round_name", metavar="任务名", help="同时写出这个报送任务的邮箱收报服务单元。")
@click.option("--user", default=SERVICE_USER, show_default=True, help="运行服务的系统用户。")
@click.option("--dir", "folder", type=click.Path(file_okay=False), help="把单元文件写入此文件夹（如 /etc/systemd/system）。")
def print_command(db: str | None, store: str | None, host: str, port: int, workers: int, root_path: str,
                  forwarded_allow_ips: str | None, mail_config: str | None, log_level: str, log_file: str | None,
                  round_name: str | None, user: str, folder: str | None) -> None:
    from xlperf.web.paths import normal_root

    require_server_mode(host, forwarded_allow_ips)
    install, had_password = install_of(db, store, user)
    units = {DESK_UNIT: desk_unit(install, serve_args(host, port, workers, normal_root(root_path),
                                                      forwarded_allow_ips, mail_config, log_level, log_file))}
    if round_name:
        units[WATCH_UNIT] = watch_unit(install, round_name, mail_config)
    if folder:
        for path in write_units(units, Path(folder)):
            click.echo(f"已写出服务单元：{path}")
    else:
        for name, text in units.items():
            click.echo(f"# ---- {name}")
            click.echo(text)
    if had_password:
        click.echo(PASSWORD_NOTE, err=True)

