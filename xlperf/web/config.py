"""How the desk is served: local (loopback, one token) or server (accounts), and its limits."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import secrets
from dataclasses import dataclass, field

from xlperf.read.guard import MAX_BYTES

CONFIG_ENV = "XLPERF_DESK_CONFIG"
"""How ``xlperf serve`` hands its settings (token and cookie secret included) to its worker
processes: the environment is readable only by the same user."""
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# One uploaded file may be as large as the guard lets any return be; the multipart framing of a
# request adds a little, so a request may carry that much more.
UPLOAD_OVERHEAD = 64 * 1024
MAX_UPLOAD = MAX_BYTES + UPLOAD_OVERHEAD


def is_loopback(host: str) -> bool:
    """True when ``host`` binds only this machine (nothing reachable from another one)."""
    if host in LOCAL_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class DeskConfig:
    """What one running desk needs to know.

    ``token`` is set in local mode only: whoever holds the URL printed at start may act.
    ``secret`` signs the session cookies; a fresh one per start unless given (server mode may
    keep sessions across restarts by setting XLPERF_SESSION_SECRET).
    """

    db_url: str
    host: str = "127.0.0.1"
    port: int = 8750
    token: str | None = None
    secret: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    max_upload: int = MAX_UPLOAD
    secure_cookies: bool | None = False
    """True: the session cookie is sent over HTTPS only; None: as the request came (behind a
    trusted proxy, https when its X-Forwarded-Proto says so)."""
    mail_config: str | None = None
    """An INI file with an [smtp] section (as ``xlperf mail --config``)."""
    smtp: str | None = None
    mail_from: str | None = None
    jobs_dir: str | None = None
    """Where background builds keep their state and files, shared by all worker processes
    (``xlperf serve`` makes and removes it); none: each process makes its own."""
    root_path: str = ""
    """The sub-path a reverse proxy serves the desk under ("/jixiao"; "" at the top of a site)."""
    forwarded_allow_ips: str | None = None
    """The proxy's addresses, whose X-Forwarded-For/-Proto are believed (none: no proxy, and
    such headers are ignored from anyone)."""
    log_level: str = "info"
    log_file: str | None = None
    """The operator's log (:mod:`xlperf.ledger.oplog`); none: stderr."""

    @property
    def local(self) -> bool:
        return self.token is not None

    @classmethod
    def for_host(cls, db_url: str, host: str, port: int, secret: str | None = None,
                 secure_cookies: bool | None = None, mail_config: str | None = None,
                 smtp: str | None = None, mail_from: str | None = None, root_path: str = "",
                 forwarded_allow_ips: str | None = None) -> DeskConfig:
        """Local mode with a new token on loopback, server mode (accounts, Secure cookies) otherwise.

        Behind a reverse proxy (``forwarded_allow_ips`` given) the desk is reached by others through
        the proxy even when it listens on loopback: server mode, and the cookie is Secure when the
        proxy says the browser came by https (a proxy that serves plain http inside the
        intranet still lets people sign in).
        """
        proxied = bool(forwarded_allow_ips)
        local = is_loopback(host) and not proxied
        if secure_cookies is None:
            secure_cookies = None if proxied else not local
        return cls(db_url=db_url, host=host, port=port,
                   token=secrets.token_urlsafe(24) if local else None,
                   secret=secret or secrets.token_urlsafe(32), secure_cookies=secure_cookies,
                   mail_config=mail_config, smtp=smtp, mail_from=mail_from, root_path=root_path,
                   forwarded_allow_ips=forwarded_allow_ips)

    def start_url(self) -> str:
        """The URL to open: with the token in local mode (as notebook servers print it)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        base = f"http://{host}:{self.port}/"
        return f"{base}?token={self.token}" if self.token else base

    def to_environment(self) -> None:
        os.environ[CONFIG_ENV] = json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_environment(cls) -> DeskConfig:
        return cls(**json.loads(os.environ[CONFIG_ENV]))
