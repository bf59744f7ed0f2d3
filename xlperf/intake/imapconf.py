"""IMAP settings: server, TLS and folder from the command line or the ``[imap]`` section of the
private config file (the same file as ``[smtp]``, under the same rule: a file holding a password
must be private), credentials only from the environment or that file, never options.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from xlperf.mail.config import (
    ConfigError,
    config_cafile,
    read_section,
    server_endpoint,
    verified_context,
)

USER_ENV = "XLPERF_IMAP_USER"
PASSWORD_ENV = "XLPERF_IMAP_PASSWORD"
SECTION = "imap"
KEYS = ("host", "port", "tls", "user", "password", "cafile", "folder")
"""Keys of the config file's [imap] section; any other is refused, so a typo is not ignored."""
DEFAULT_PORTS = {"ssl": 993, "starttls": 143, "none": 143}
DEFAULT_FOLDER = "INBOX"

__all__ = ["DEFAULT_FOLDER", "PASSWORD_ENV", "USER_ENV", "ImapConfig", "imap_config", "read_imap_section"]


@dataclass(frozen=True)
class ImapConfig:
    host: str
    port: int
    tls: str
    """ssl (implicit TLS, port 993), starttls or none (loopback only)."""
    username: str
    password: str = field(repr=False)
    folder: str = DEFAULT_FOLDER
    """The folder watched; a Chinese name is fine (imapclient writes modified UTF-7)."""
    cafile: Path | None = None
    timeout: float = 30.0

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the server's certificate and host name."""
        return verified_context(self.cafile)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


def read_imap_section(path: Path) -> dict[str, str]:
    """The config file's [imap] section; empty when it has none (the command line and the
    environment may give everything)."""
    return read_section(path, SECTION, KEYS, required=False)


def imap_config(imap: str | None, tls: str | None, folder: str | None, settings: Mapping[str, str],
                environ: Mapping[str, str]) -> ImapConfig:
    """Settings from ``--imap HOST[:PORT]``, ``--tls`` and ``--folder`` (before the config
    file's), the credentials from ``environ`` (before the config file's)."""
    host, port, mode = server_endpoint(
        imap, tls, settings, missing="未指定收件服务器：请用 --imap 主机[:端口]，或在配置文件 [imap] 节写 host",
        default_mode=lambda port: "starttls" if port == 143 else "ssl", instead="ssl 或 starttls")
    username = environ.get(USER_ENV) or settings.get("user") or ""
    password = environ.get(PASSWORD_ENV) or settings.get("password") or ""
    if not username or not password:
        raise ConfigError(f"缺少收件邮箱的用户名或密码：请设置环境变量 {USER_ENV} 和 {PASSWORD_ENV}，"
                          "或在配置文件 [imap] 节写 user 和 password（该文件须仅本人可读，chmod 600）")
    chosen = (folder or settings.get("folder") or DEFAULT_FOLDER).strip()
    return ImapConfig(host, port or DEFAULT_PORTS[mode], mode, username, password, chosen, config_cafile(settings))
