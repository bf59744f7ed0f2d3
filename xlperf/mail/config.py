"""SMTP settings: server and TLS from the command line or a config file, credentials only from
the environment or the config file (a password on the command line would sit in the shell
history and in every process listing)."""

from __future__ import annotations

import configparser
import ipaddress
import os
import ssl
import stat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path

TLS_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"starttls": 587, "ssl": 465, "none": 25}
USER_ENV = "XLPERF_SMTP_USER"
PASSWORD_ENV = "XLPERF_SMTP_PASSWORD"
SECTION = "smtp"
KEYS = ("host", "port", "tls", "user", "password", "from", "cafile")
"""Keys of the config file's [smtp] section; any other is refused, so a typo is not ignored."""
DRY_RUN_SENDER = "xlperf@example.invalid"
"""From address of --dry-run messages when none is given: they are previews, never sent."""


class ConfigError(Exception):
    """Settings that cannot be used (Chinese message); the command line exits with 2."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    tls: str
    """starttls, ssl (implicit TLS, e.g. port 465) or none (loopback only)."""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    cafile: Path | None = None
    """Extra CA certificates to trust (a bureau's own CA); the system's are trusted as well."""
    timeout: float = 30.0

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the server's certificate and host name."""
        return verified_context(self.cafile)


def verified_context(cafile: Path | None) -> ssl.SSLContext:
    """A TLS context that verifies the server's certificate and host name against the system's
    CAs and, when given, ``cafile`` (a bureau's own CA)."""
    context = ssl.create_default_context()
    if cafile is not None:
        context.load_verify_locations(cafile=str(cafile))
    return context


def read_config_file(path: Path) -> dict[str, str]:
    """The [smtp] section of the INI file at ``path`` (see :func:`read_section`)."""
    return read_section(path, SECTION, KEYS)


def read_section(path: Path, section: str, keys: tuple[str, ...], *, required: bool = True) -> dict[str, str]:
    """The ``[section]`` of the INI file at ``path``; any key not in ``keys`` is refused. A missing
    section is an error when ``required``, else empty.

    A file holding a password must not be readable or writable by group or others (like ssh's
    private keys): refused with the chmod that fixes it.
    """
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with path.open(encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ConfigError(f"配置文件 {path} 无法读取（{type(exc).__name__}: {exc}）") from None
    if not parser.has_section(section):
        if not required:
            return {}
        raise ConfigError(f"配置文件 {path} 缺少 [{section}] 节：请按 README 中的示例填写")
    settings = dict(parser.items(section))
    unknown = sorted(set(settings) - set(keys))
    if unknown:
        raise ConfigError(f"配置文件 {path} 的 [{section}] 节有无法识别的项 {', '.join(unknown)}："
                          f"可用的项为 {', '.join(keys)}")
    if settings.get("password") and os.name == "posix":
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise ConfigError(f"配置文件 {path} 含有密码，但其他用户也能读写（权限 {mode:o}）："
                              f"请执行 chmod 600 {path}")
    return settings


def smtp_config(smtp: str | None, tls: str | None, settings: Mapping[str, str],
                environ: Mapping[str, str]) -> SmtpConfig:
    """Settings from ``--smtp HOST:PORT`` and ``--tls`` (before the config file's), and the
    credentials from ``environ`` (before the config file's)."""
    host, port, mode = server_endpoint(
        smtp, tls, settings, missing="未指定邮件服务器：请用 --smtp 主机:端口，或在配置文件 [smtp] 节写 host",
        default_mode=lambda port: "ssl" if port == 465 else "starttls", instead="starttls 或 ssl")
    username = environ.get(USER_ENV) or settings.get("user") or None
    password = environ.get(PASSWORD_ENV) or settings.get("password") or None
    if bool(username) != bool(password):
        raise ConfigError(f"邮件服务器的用户名和密码须同时提供：请设置环境变量 {USER_ENV} 和 {PASSWORD_ENV}，"
                          "或在配置文件 [smtp] 节写 user 和 password")
    return SmtpConfig(host, port or DEFAULT_PORTS[mode], mode, username, password, config_cafile(settings))


def server_endpoint(address: str | None, tls: str | None, settings: Mapping[str, str], *, missing: str,
                    default_mode: Callable[[int | None], str], instead: str) -> tuple[str, int | None, str]:
    """(host, port or None, TLS mode) of a mail server (SMTP or IMAP): ``HOST[:PORT]`` and
    ``--tls`` given on the command line before the config file's; ``missing``: the message when
    there is no host; ``default_mode``: the mode a port implies; ``instead``: the modes to
    suggest when ``none`` is asked for a server not on this machine."""
    host, port = parse_hostport(address) if address else (settings.get("host", "").strip(), None)
    if not host:
        raise ConfigError(missing)
    if port is None and settings.get("port"):
        port = parse_port(settings["port"])
    mode = (tls or settings.get("tls") or default_mode(port)).strip().lower()
    if mode not in TLS_MODES:
        raise ConfigError(f"加密方式“{mode}”无法识别：应为 {' / '.join(TLS_MODES)}")
    # Without TLS the password, every report and every return cross the network in clear: only
    # for testing against a server on this machine.
    if mode == "none" and not is_loopback(host):
        raise ConfigError(f"不加密（--tls none）只可用于本机测试服务器，{host} 不是本机：请使用 {instead}")
    return host, port, mode


def config_cafile(settings: Mapping[str, str]) -> Path | None:
    """The config file's ``cafile`` (a private CA for a server on the intranet), which must exist."""
    cafile = Path(settings["cafile"]).expanduser() if settings.get("cafile") else None
    if cafile is not None and not cafile.is_file():
        raise ConfigError(f"配置文件中的 cafile {cafile} 不存在")
    return cafile


def sender_address(value: str | None, settings: Mapping[str, str], *, dry_run: bool) -> str:
    """The From header: ``--from``, else the config file's ``from``; a dry run may have neither."""
    text = (value or settings.get("from") or "").strip()
    if not text:
        if dry_run:
            return DRY_RUN_SENDER
        raise ConfigError("未指定发件人：请用 --from 地址，或在配置文件 [smtp] 节写 from")
    address = parseaddr(text)[1]
    if "@" not in address or " " in address:
        raise ConfigError(f"发件人“{text}”不是有效的电子邮箱地址：可写作 name@example.gov.cn 或 "
                          "\"绩效科 <name@example.gov.cn>\"")
    return text


def parse_hostport(text: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]:port`` or ``v6``."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, parse_port(rest[1:]) if rest.startswith(":") else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host.strip(), parse_port(port)
    return text, None


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine, without asking DNS (a name could resolve elsewhere)."""
    if host.lower() in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_port(text: str) -> int:
    """A TCP port number (1–65535); ConfigError otherwise."""
    try:
        port = int(text.strip())
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"端口“{text}”无效：应为 1–65535 的整数")
    return port
