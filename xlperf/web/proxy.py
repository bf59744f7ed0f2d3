"""The session cookie behind a reverse proxy: Secure when the browser came by https.

uvicorn's ProxyHeadersMiddleware (``xlperf serve --forwarded-allow-ips``) sets the request's
scheme from X-Forwarded-Proto when, and only when, the request comes from the proxy's address.
Starlette's SessionMiddleware fixes its cookie flags when it is made, so there are two of them
here, one per scheme, over the same application and the same signing secret.
"""

from __future__ import annotations

from typing import Any

from starlette.middleware.sessions import SessionMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send


class Sessions:
    """Signed session cookies on ``path`` (SameSite=Strict, HttpOnly): Secure always (``secure``
    True), never (False), or as the request's scheme is (None)."""

    def __init__(self, app: ASGIApp, secure: bool | None, secret_key: str, session_cookie: str, max_age: int,
                 path: str) -> None:
        options: dict[str, Any] = {"secret_key": secret_key, "session_cookie": session_cookie, "max_age": max_age,
                                   "path": path, "same_site": "strict"}
        self.plain = SessionMiddleware(app, https_only=bool(secure), **options)
        self.secure = SessionMiddleware(app, https_only=True, **options)
        self.follow_scheme = secure is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        https = self.follow_scheme and scope.get("scheme") in ("https", "wss")
        await (self.secure if https else self.plain)(scope, receive, send)
