"""What the signed session cookie holds: the user and the CSRF token of this browser."""

from __future__ import annotations

import getpass
import hmac
import secrets

from starlette.requests import HTTPConnection

from xlperf.web.users import STAFF, User

CSRF_FIELD = "csrf_token"


def local_user() -> User:
    """The person at this machine in local mode, named as the event log shows them."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return User(f"本机:{name}", STAFF)


def current_user(request: HTTPConnection) -> User | None:
    data = request.session.get("user")
    if not isinstance(data, dict):
        return None
    return User(str(data.get("name", "")), str(data.get("role", "")))


def sign_in(request: HTTPConnection, user: User) -> None:
    """A new session for ``user``: whatever the browser held before is dropped (no fixation)."""
    request.session.clear()
    request.session["user"] = {"name": user.name, "role": user.role}
    request.session[CSRF_FIELD] = secrets.token_urlsafe(32)


def csrf_token(request: HTTPConnection) -> str:
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def same(a: object, b: object) -> bool:
    return isinstance(a, str) and isinstance(b, str) and bool(a) and hmac.compare_digest(a, b)
