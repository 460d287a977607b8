"""The security headers of every answer (the web console's pages and the API alike), as pure ASGI middleware
so a streamed change's events pass through untouched.

The console runs only its own scripts and styles from this unit (no inline script or style, no eval), may not
be framed, and is HTTPS only (HSTS). An API answer may hold a secret (a session's CSRF token, a new API token,
a backup), so none is kept by a cache; the console's own files may be kept but are checked again each time.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "manifest-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
ALWAYS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "strict-transport-security": "max-age=31536000",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
}
NO_STORE = "no-store"
REVALIDATE = "no-cache"  # the console's files: kept, but asked again (ETag) so an upgrade is seen at once


def cache_rule(path: str) -> str:
    return REVALIDATE if path.startswith("/static/") else NO_STORE


class SecurityHeaders:
    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cache = cache_rule(scope.get("path", ""))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", []) if k.decode().lower() not in ALWAYS]
                if not any(k.decode().lower() == "cache-control" for k, _ in headers) or cache == NO_STORE:
                    headers = [(k, v) for k, v in headers if k.decode().lower() != "cache-control"]
                    headers.append((b"cache-control", cache.encode()))
                headers += [(k.encode(), v.encode()) for k, v in ALWAYS.items()]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)
