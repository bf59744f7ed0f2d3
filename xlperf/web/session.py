"""Who is signed in: a random session token in the signed cookie, its row in the ledger.

The cookie (Starlette's signed session) holds the token and this browser's CSRF token; the ledger's
``desk_sessions`` table holds the token's digest, its expiry and its account
(:mod:`xlperf.ledger.accounts`). Every request looks the row up (once; the answer is kept in the
request's scope), so a session ends for good when its row goes: on 退出, when its account is
removed or disabled, and when its password is changed. Why rows and not a version number in the
cookie: a version would end every session of the account on one 退出, and local mode (no
account) would have nothing to count; a row ends exactly the session concerned, in every worker
process of ``xlperf serve --workers N`` at once, and a lookup by a unique digest costs a few
milliseconds (README: measured).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hmac
import secrets

from starlette.requests import HTTPConnection

from xlperf.ledger import Ledger
from xlperf.ledger.accounts import audit, end_session, find_session, start_session
from xlperf.web.users import STAFF, User

CSRF_FIELD = "csrf_token"
SESSION_FIELD = "sid"
SESSION_HOURS = 10
"""A working day; a clerk signs in again the next morning."""
_RESOLVED = "xlperf.user"
"""Where the request's scope keeps the user found for it."""


def local_user() -> User:
    """The person at this machine in local mode, named as the event log shows them."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return User(f"本机:{name}", STAFF)


def _ledger(conn: HTTPConnection) -> Ledger:
    ledger: Ledger = conn.app.state.ledger
    return ledger


def client_address(conn: HTTPConnection) -> str:
    return conn.client.host if conn.client else ""


def current_user(conn: HTTPConnection) -> User | None:
    """The user of this request's live session, or None (no session, or it has ended)."""
    if _RESOLVED not in conn.scope:
        conn.scope[_RESOLVED] = _look_up(conn)
    user: User | None = conn.scope[_RESOLVED]
    return user


def _look_up(conn: HTTPConnection) -> User | None:
    token = conn.session.get(SESSION_FIELD)
    if not isinstance(token, str) or not token:
        return None
    with _ledger(conn).session() as session:
        found = find_session(session, token)
    if found is None:
        return None
    desk_session, account = found
    if account is not None:  # the account's role as it is now, not as it was at sign-in
        return User(account.name, account.role, account.id)
    return User(desk_session.name, desk_session.role)


def sign_in(conn: HTTPConnection, user: User, note: str = "") -> None:
    """A new session for ``user``: whatever the browser held before is ended and dropped (no fixation)."""
    old = conn.session.get(SESSION_FIELD)
    token = secrets.token_urlsafe(32)
    with _ledger(conn).session() as session, session.begin():
        if isinstance(old, str) and old:
            end_session(session, old)
        start_session(session, token, user.name, user.role, user.id, dt.timedelta(hours=SESSION_HOURS))
        audit(session, "sign_in", user.name, actor=user.name, address=client_address(conn), note=note)
    conn.session.clear()
    conn.session[SESSION_FIELD] = token
    conn.session[CSRF_FIELD] = secrets.token_urlsafe(32)
    conn.scope[_RESOLVED] = user


def sign_out(conn: HTTPConnection) -> None:
    """End this browser's session in the ledger (the old cookie is worth nothing after) and clear it."""
    token = conn.session.get(SESSION_FIELD)
    user = current_user(conn)
    if isinstance(token, str) and token:
        with _ledger(conn).session() as session, session.begin():
            end_session(session, token)
            if user is not None:
                audit(session, "sign_out", user.name, actor=user.name, address=client_address(conn))
    conn.session.clear()
    conn.scope[_RESOLVED] = None


def csrf_token(request: HTTPConnection) -> str:
    token = request.session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session[CSRF_FIELD] = token
    return token


def same(a: object, b: object) -> bool:
    return isinstance(a, str) and isinstance(b, str) and bool(a) and hmac.compare_digest(a, b)
