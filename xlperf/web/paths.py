"""Where the desk is mounted: every URL it writes starts with the root path.

Behind a reverse proxy that serves the desk under a sub-path (``xlperf serve --root-path
/jixiao``), uvicorn puts the sub-path in the scope's ``root_path`` and in front of ``path``. Routes
are matched on the path without it; links, form actions, redirects and static files are written
with it, so that the browser's next request reaches the proxy's location again.
"""

from __future__ import annotations

from starlette._utils import get_route_path
from starlette.requests import HTTPConnection


def root(conn: HTTPConnection) -> str:
    """The sub-path the desk is served under ("" at the top of a site), without a trailing slash."""
    value = conn.scope.get("app_root_path", conn.scope.get("root_path", ""))
    return str(value).rstrip("/")


def to(conn: HTTPConnection, path: str) -> str:
    """The URL of the desk's ``path`` (as the route table writes it, "/rounds/1") for the browser."""
    return root(conn) + path


def route_path(conn: HTTPConnection) -> str:
    """This request's path as the route table writes it (without the root path)."""
    return get_route_path(conn.scope) or "/"


def normal_root(value: str) -> str:
    """``--root-path`` as uvicorn wants it: "/jixiao/" and "jixiao" become "/jixiao"; "/" is ""."""
    value = value.strip().strip("/")
    return f"/{value}" if value else ""
