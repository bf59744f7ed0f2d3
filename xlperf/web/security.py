"""HTTP hardening of the desk: security headers on every response, a bound on request bodies.

Both are plain ASGI middleware so that they wrap every route, static files and errors alike,
and never read a body into memory themselves.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# No request of any kind leaves for another origin: scripts, styles, images and fonts come from
# the package. No inline script or style either, so an injected tag could not run.
CSP = ("default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'; "
       "object-src 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    # The local-mode token is in the first URL; never send a URL to anyone in a Referer.
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
TOO_LARGE = "上传内容过大：单个请求不得超过 {mb} MB（与命令行审核对单个文件的限制相同）。"


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + HEADERS
                if not any(k == b"cache-control" for k, _ in message["headers"]):
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyLimit:
    """Refuse a request body over ``limit`` bytes with 413: by its Content-Length before reading,
    and by counting what arrives (a chunked body declares no length)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.limit):
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counting_receive() -> Message:
            # Raised inside the route that reads the body; the app's exception handling turns it
            # into the 413 page before any response has started.
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise HTTPException(413, self.message())
            return message

        await self.app(scope, counting_receive, send)

    def message(self) -> str:
        return TOO_LARGE.format(mb=self.limit // (1024 * 1024))

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = PlainTextResponse(self.message(), status_code=413,
                                     headers={"connection": "close"})
        await response(scope, receive, send)
