"""``xlperf serve`` and ``xlperf user``: the web desk and its accounts (thin commands)."""

from __future__ import annotations

import dataclasses
import functools
import getpass
import os
import socket
import sys
import tempfile
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from xlperf.cli.commands import main
from xlperf.cli.deploy import (
    USER_PASSWORD_ENV,
    first_run,
    init_options,
    log_options,
    proxy_options,
    serve_args,
    service_group,
)
from xlperf.form.registry import folders_to_environment

if TYPE_CHECKING:
    from xlperf.ledger import Ledger

SESSION_SECRET_ENV = "XLPERF_SESSION_SECRET"
DB_OPTION_HELP = "账本数据库（SQLAlchemy URL；也可用环境变量 XLPERF_DB；默认当前文件夹的 xlperf.db）。"


def _account_errors(command: Callable[..., None]) -> Callable[..., None]:
    """An account that cannot be changed as asked (exit 1), and a full or read-only ledger said
    in words (exit 2, naming the ``--db`` the command was given)."""

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> None:
        from xlperf.web.users import UserError

        try:
            command(*args, **kwargs)
        except UserError as exc:
            raise click.ClickException(str(exc)) from None
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            from xlperf.cli.storage import storage_error

            error = storage_error(exc, db=kwargs.get("db"))
            if error is None:
                raise
            raise error from None
    return run


def _ledger(db: str | None) -> Ledger:
    from xlperf.ledger import LedgerError, open_ledger

    try:
        return open_ledger(db)
    except LedgerError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("serve", help="启动收报台网页（默认仅本机可访问，启动时显示带访问令牌的链接）。"
              "--host 为非本机地址时为服务器模式：必须先用 xlperf user add 创建账户。")
@click.option("--db", help=DB_OPTION_HELP)
@click.option("--host", default="127.0.0.1", show_default=True, help="监听地址。")
@click.option("--port", default=8750, show_default=True, type=click.IntRange(0, 65535),
              help="端口（0：由系统选一个空闲端口，启动时显示）。")
@click.option("--workers", type=click.IntRange(1, 64), default=os.cpu_count() or 1, show_default="CPU 核数",
              help="工作进程数：同时上传的报表由多个进程并行审核。")
@click.option("--mail-config", type=click.Path(exists=True, dir_okay=False),
              help="邮件配置文件（INI，[smtp] 节，同 xlperf mail --config），用于“邮件”页发送审核结果。")
@click.option("--smtp", metavar="主机:端口", help="邮件服务器（也可写在 --mail-config 中）。")
@click.option("--mail-from", metavar="地址", help="发件人（也可写在 --mail-config 中）。")
@click.option("--ssl-certfile", type=click.Path(exists=True, dir_okay=False), help="服务器模式的 TLS 证书（PEM）。")
@click.option("--ssl-keyfile", type=click.Path(exists=True, dir_okay=False), help="服务器模式的 TLS 私钥（PEM）。")
@proxy_options
@log_options
@init_options
def serve_command(db: str | None, host: str, port: int, workers: int, mail_config: str | None, smtp: str | None,
                  mail_from: str | None, ssl_certfile: str | None, ssl_keyfile: str | None, root_path: str,
                  forwarded_allow_ips: str | None, log_level: str, log_file: str | None, init: bool,
                  admin: str | None, units_dir: str | None, service_user: str) -> None:
    import uvicorn

    from xlperf.ledger.oplog import configure
    from xlperf.web import DeskConfig, create_app, has_users
    from xlperf.web.paths import normal_root

    root_path = normal_root(root_path)
    if init:
        ledger = first_run(db, admin, units_dir, service_user, _ledger, _cli_actor(),
                           serve_args(host, port, workers, root_path, forwarded_allow_ips, mail_config, log_level, log_file),
                           host, forwarded_allow_ips)
        if getattr(os, "geteuid", lambda: -1)() == 0:  # the desk never runs as root; systemd starts it as its user
            click.echo("以 root 运行：不在前台启动收报台，请按上面的说明以服务启动。")
            return
    else:
        ledger = _ledger(db)
    config = DeskConfig.for_host(ledger.url, host, port, secret=os.environ.get(SESSION_SECRET_ENV),
                                 mail_config=mail_config, smtp=smtp, mail_from=mail_from, root_path=root_path,
                                 forwarded_allow_ips=forwarded_allow_ips)
    config = dataclasses.replace(config, log_level=log_level, log_file=log_file)
    if not config.local and not has_users(ledger):
        raise click.ClickException(
            f"服务器模式（--host {host}）需要账户：请先用 xlperf user add 姓名 --role staff 创建至少一个账户"
            "（或用 xlperf serve --init --admin 姓名 一步完成）。")
    # Bound here, then handed to uvicorn (--fd): the URL printed names the port really held, also
    # with --port 0 (the system's choice: nothing else can take it between choosing and binding).
    listener = _listen(host, port)
    port = listener.getsockname()[1]
    config = dataclasses.replace(config, port=port)
    if config.local:
        click.echo("收报台仅本机可访问。请在浏览器中打开：")
    elif forwarded_allow_ips:
        click.echo(f"收报台以服务器模式监听 {host}:{port}，经反向代理（{forwarded_allow_ips}）访问"
                   f"{'，路径 ' + root_path + '/' if root_path else ''}；请用账户登录。")
    else:
        click.echo(f"收报台以服务器模式监听 {host}:{port}，请用账户登录。")
        if not ssl_certfile:
            click.echo("注意：登录 Cookie 只经 HTTPS 发送；请在前面配置 HTTPS 反向代理，或给出 --ssl-certfile/--ssl-keyfile。")
    click.echo(f"    {config.start_url()}")
    sys.stdout.flush()
    configure(log_level, log_file)
    # Forwarded headers are believed from the proxy's addresses only, and not at all without
    # --forwarded-allow-ips (uvicorn would otherwise believe 127.0.0.1: any local process).
    options = {"fd": listener.fileno(), "log_level": log_level, "log_config": None, "ssl_certfile": ssl_certfile,
               "ssl_keyfile": ssl_keyfile, "server_header": False, "root_path": root_path,
               "proxy_headers": bool(forwarded_allow_ips), "forwarded_allow_ips": forwarded_allow_ips or None}
    # One folder for the background builds of every worker process, removed when serving stops.
    with tempfile.TemporaryDirectory(prefix="xlperf-desk-jobs-") as jobs_dir:
        config = dataclasses.replace(config, jobs_dir=jobs_dir)
        if workers == 1:
            uvicorn.run(create_app(config, ledger), **options)  # type: ignore[arg-type]
            return
        ledger.close()
        config.to_environment()
        folders_to_environment()  # --forms, for uvicorn's worker processes
        uvicorn.run("xlperf.web.app:app_from_environment", factory=True, workers=workers, **options)  # type: ignore[arg-type]


def _listen(host: str, port: int) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        listener = socket.create_server((host, port), family=family, backlog=2048)
    except OSError as exc:
        raise click.ClickException(f"无法在 {host}:{port} 上监听（{exc.strerror or exc}）：请换一个端口（--port）") from None
    listener.set_inheritable(True)  # the worker processes of --workers serve it too
    return listener


@main.group("user", help="收报台账户（服务器模式）。")
def user_group() -> None:
    pass


@user_group.command("add", help=f"添加账户：staff 可办理，auditor 只读。密码从环境变量 {USER_PASSWORD_ENV} 读取，未设置时提示输入。")
@click.argument("name")
@click.option("--role", type=click.Choice(["staff", "auditor"]), required=True, help="角色。")
@click.option("--db", help=DB_OPTION_HELP)
@_account_errors
def user_add_command(name: str, role: str, db: str | None) -> None:
    from xlperf.web import add_user

    password = os.environ.get(USER_PASSWORD_ENV) or click.prompt("密码", hide_input=True,
                                                                confirmation_prompt="再次输入密码")
    user = add_user(_ledger(db), name, role, password, actor=_cli_actor())
    click.echo(f"已添加账户：{user.name}（{user.role_label}）")


def _cli_actor() -> str:
    """Who changed an account from the command line, as the account log names them."""
    try:
        return f"命令行:{getpass.getuser()}"
    except (KeyError, OSError):
        return "命令行"


def _ended(count: int) -> str:
    return f"，已结束其 {count} 个登录会话" if count else ""


@user_group.command("list", help="列出账户：角色、是否停用、创建时间、当前登录会话数。")
@click.option("--db", help=DB_OPTION_HELP)
@_account_errors
def user_list_command(db: str | None) -> None:
    from xlperf.ledger.models import local
    from xlperf.web.users import list_users

    accounts = list_users(_ledger(db))
    if not accounts:
        click.echo("还没有账户（xlperf user add 添加）。")
    for account in accounts:
        state = "已停用" if account.disabled else "可用"
        created = local(account.created_at).strftime("%Y-%m-%d %H:%M")
        click.echo(f"{account.name}  {account.role_label}  {state}  创建于 {created}  登录会话 {account.sessions} 个")


@user_group.command("remove", help="删除账户：该账户立即不能再登录，已登录的会话立即结束。")
@click.argument("name")
@click.option("--db", help=DB_OPTION_HELP)
@_account_errors
def user_remove_command(name: str, db: str | None) -> None:
    from xlperf.web.users import remove_user

    ended = remove_user(_ledger(db), name, actor=_cli_actor())
    click.echo(f"已删除账户：{name.strip()}{_ended(ended)}")


@user_group.command("passwd", help=f"修改账户密码：该账户已登录的会话全部结束，须用新密码重新登录。"
                    f"新密码从环境变量 {USER_PASSWORD_ENV} 读取，未设置时提示输入。")
@click.argument("name")
@click.option("--db", help=DB_OPTION_HELP)
@_account_errors
def user_passwd_command(name: str, db: str | None) -> None:
    from xlperf.web.users import set_password

    password = os.environ.get(USER_PASSWORD_ENV) or click.prompt("新密码", hide_input=True,
                                                                confirmation_prompt="再次输入新密码")
    ended = set_password(_ledger(db), name, password, actor=_cli_actor())
    click.echo(f"已修改账户 {name.strip()} 的密码{_ended(ended)}")


def _switch_command(disabled: bool, help_text: str) -> click.Command:
    @click.command(help=help_text)
    @click.argument("name")
    @click.option("--db", help=DB_OPTION_HELP)
    @_account_errors
    def command(name: str, db: str | None) -> None:
        from xlperf.web.users import set_disabled

        ended = set_disabled(_ledger(db), name, disabled, actor=_cli_actor())
        click.echo(f"已停用账户：{name.strip()}{_ended(ended)}" if disabled else f"已启用账户：{name.strip()}")
    return command


user_group.add_command(_switch_command(True, "停用账户：不能再登录，已登录的会话立即结束（账户保留，可用 xlperf user enable 恢复）。"),
                       "disable")
user_group.add_command(_switch_command(False, "恢复已停用的账户。"), "enable")


main.add_command(service_group)
