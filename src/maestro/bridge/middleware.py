"""Security headers on every answer of the bridge (its cap on request bodies is
:class:`maestro.serving.BodyLimitMiddleware`, shared with the box's web app)."""

from __future__ import annotations

import logging

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("maestro.bridge")

#: No script at all; forms only to ourselves and, because browsers apply
#: form-action to the redirect that follows the confirm form, to Spotify's accounts.
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' {accounts}; "
    "frame-ancestors 'none'; base-uri 'none'"
)
#: Over https only (behind a proxy: ``--proxy-headers`` and X-Forwarded-Proto): a browser that once
#: reached the bridge safely never again lets a network downgrade it to http.
HSTS = (b"strict-transport-security", b"max-age=63072000")
HEADERS = [
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, accounts_origin: str = "https://accounts.spotify.com") -> None:
        self.app = app
        csp = CSP.format(accounts=accounts_origin).encode()
        self.headers = [(b"content-security-policy", csp), *HEADERS]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        headers = [*self.headers, HSTS] if scope.get("scheme") == "https" else self.headers

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                names = {name for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *(h for h in headers if h[0] not in names),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            log.info("a client went away in the middle of its request")  # nobody is left to answer
        except Exception:
            # Answered here, not by Starlette's outermost error page, so a 500 carries the headers too.
            log.exception("the bridge failed on a request")
            if not started:
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 500,
                        "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                    }
                )
                await send({"type": "http.response.body", "body": b"Something went wrong. Try again."})
