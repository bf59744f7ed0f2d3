"""A real nginx on loopback in front of the desk: its own configuration, pid file, logs and
temporary folders in a test's folder (``nginx -p PREFIX -c CONF``; nothing of root's is used).

:func:`proxy` serves the desk under a sub-path, as a bureau's reverse proxy does: the prefix is
taken off before the request is passed on (uvicorn adds the desk's ``--root-path`` back), the
proxy connects from 127.0.0.2 (so that the desk can tell the proxy from anyone else on the
machine), and one more location says the browser came by https.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from required import missing

PROXY_ADDRESS = "127.0.0.2"
"""Where nginx connects to the desk from (``proxy_bind``): the address the desk trusts."""
START_TIMEOUT_S = 30


def nginx_path() -> str:
    found = shutil.which("nginx")
    if found is None:
        missing("nginx", "apt-get install nginx")
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _location(prefix: str, upstream: str, proto: str) -> str:
    return f"""
    location {prefix} {{
      proxy_pass {upstream};
      proxy_bind {PROXY_ADDRESS};
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto {proto};
    }}"""


def config(folder: Path, port: int, sub_path: str, desk_port: int) -> str:
    upstream = f"http://127.0.0.1:{desk_port}/"
    # As root, nginx's workers would otherwise run as nobody, who cannot enter the test's folder.
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    temp = "\n".join(f"  {kind}_temp_path {folder / kind};" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""{user}
worker_processes 1;
daemon off;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;
events {{ worker_connections 64; }}
http {{
  access_log {folder / 'access.log'};
{temp}
  client_max_body_size 50m;
  server {{
    listen 127.0.0.1:{port};
{_location(sub_path, upstream, "$scheme")}
{_location("/https" + sub_path, upstream, "https")}
  }}
}}
"""


@contextlib.contextmanager
def proxy(folder: Path, sub_path: str, desk_port: int) -> Iterator[str]:
    """nginx in front of the desk at ``desk_port``; yields its base URL (``http://127.0.0.1:PORT``)."""
    binary = nginx_path()
    folder.mkdir(parents=True, exist_ok=True)
    for attempt in range(5):  # a port found free may be taken before nginx binds it
        port = free_port()
        conf = folder / "nginx.conf"
        conf.write_text(config(folder, port, sub_path, desk_port), encoding="utf-8")
        process = subprocess.Popen([binary, "-p", str(folder), "-c", str(conf)],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if _listening(port, process):
            break
        process.wait(10)
        if attempt == 4:
            raise AssertionError("nginx did not start:\n" + (folder / "error.log").read_text(errors="replace"))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _listening(port: int, process: subprocess.Popen[str]) -> bool:
    end = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < end:
        if process.poll() is not None:
            return False
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
        time.sleep(0.1)
    process.kill()
    return False
